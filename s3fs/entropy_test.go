package s3fs

import (
	"strings"
	"testing"
)

func TestEntropyStableChars(t *testing.T) {
	e := Entropy{Key: "_entropy_", Length: 6}
	a, b := e.Chars([]byte("job/op/0/1")), e.Chars([]byte("job/op/0/1"))
	if a != b || len(a) != 6 {
		t.Fatalf("Chars not stable or wrong length: %q %q", a, b)
	}
	if c := e.Chars([]byte("job/op/1/1")); c == a {
		t.Fatalf("different seeds gave the same characters %q", c)
	}
	for _, c := range a {
		if !strings.ContainsRune(alphanumeric, c) {
			t.Fatalf("non-alphanumeric %q in %q", c, a)
		}
	}
	got, err := e.ResolveWith("s3://b/_entropy_/ckpt/j/shared", a)
	if err != nil || got != "s3://b/"+a+"/ckpt/j/shared" {
		t.Fatalf("ResolveWith = %q, %v", got, err)
	}
	if got, _ := e.ResolveWith("hdfs://nn/_entropy_/x", a); got != "hdfs://nn/_entropy_/x" {
		t.Fatalf("ResolveWith touched a non-S3 URI: %q", got)
	}
}

func TestEntropyIsInjected(t *testing.T) {
	e := Entropy{Key: "_entropy_", Length: 4}
	tmpl := "s3://b/_entropy_/ckpt/j/shared"
	inj, err := e.Resolve(tmpl, true)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		uri  string
		want bool
	}{
		{inj, true},
		{"s3://b/aB3x/ckpt/j/shared", true},
		{"s3://b/aB3/ckpt/j/shared", false},      // too short
		{"s3://b/aB-x/ckpt/j/shared", false},     // not alphanumeric
		{"s3://b/aB3x/ckpt/j2/shared", false},    // another job
		{"s3://b/ckpt/j/shared", false},          // marker removed
		{"s3://other/aB3x/ckpt/j/shared", false}, // another bucket
	} {
		if got := e.IsInjected(tmpl, c.uri); got != c.want {
			t.Errorf("IsInjected(%q) = %v, want %v", c.uri, got, c.want)
		}
	}
	if (Entropy{}).IsInjected(tmpl, inj) || e.IsInjected("s3://b/ckpt", "s3://b/ckpt") {
		t.Error("IsInjected without a key or a marker in the template")
	}
	if !e.Active(tmpl) || e.Active("s3://b/ckpt") || e.Active("file:///_entropy_/x") || (Entropy{}).Active(tmpl) {
		t.Error("Active wrong")
	}
}

func TestEntropyFromConfig(t *testing.T) {
	e, err := EntropyFromConfig(map[string]string{KeyEntropyKey: "_e_", KeyEntropyLength: "7"})
	if err != nil || e.Key != "_e_" || e.Length != 7 {
		t.Fatalf("got %+v, %v", e, err)
	}
	if e, err := EntropyFromConfig(map[string]string{KeyEntropyKey: "_e_"}); err != nil || e.Length != DefaultEntropyLength {
		t.Fatalf("default length: %+v, %v", e, err)
	}
	for _, bad := range []map[string]string{
		{KeyEntropyKey: "a/b"},
		{KeyEntropyKey: "_e_", KeyEntropyLength: "x"},
		{KeyEntropyKey: "_e_", KeyEntropyLength: "0"},
		{KeyEntropyKey: "_e_", KeyEntropyLength: "65"},
	} {
		if _, err := EntropyFromConfig(bad); err == nil || !strings.Contains(err.Error(), "s3.entropy") {
			t.Errorf("%v: want an error naming the key, got %v", bad, err)
		}
	}
}

package configs

import (
	"reflect"
	"strings"
	"testing"
)

// The fuzz targets check that no input makes the loaders or parsers panic, and that whatever
// they accept is consistent. Run one with e.g.
//   go test ./configs -run '^$' -fuzz FuzzParseYAML -fuzztime 30s

func FuzzParseYAML(f *testing.F) {
	f.Add(sampleYAML)
	f.Add("a:\n  b:\n    c: [1, 2]\n")
	f.Add("x: &a [1]\ny: *a\n")
	f.Add("pipeline.global-job-parameters: {a: b}\n")
	f.Add("- 1\n")
	f.Add("? [a]\n: b\n")
	f.Add("a: 1\n---\nb: 2\n")
	f.Add("<<: {a: 1}\n")
	f.Add("\t: :\n")
	f.Fuzz(func(t *testing.T, doc string) {
		entries, err := ParseYAML([]byte(doc), "fuzz.yaml")
		if err != nil {
			if !strings.Contains(err.Error(), "fuzz.yaml") {
				t.Fatalf("error does not name the file: %v", err)
			}
		}
		seen := map[string]bool{}
		for _, e := range entries {
			if e.Key == "" {
				t.Fatalf("empty key from %q", doc)
			}
			if seen[e.Key] {
				t.Fatalf("duplicate key %q from %q", e.Key, doc)
			}
			seen[e.Key] = true
			if e.Origin.Kind != OriginFile || e.Origin.Line < 1 {
				t.Fatalf("bad origin %v", e.Origin)
			}
		}
		// Applying the entries must not panic either.
		c := New()
		for _, e := range entries {
			_ = c.Set(e.Key, e.Value, e.Origin)
		}
		_ = c.Entries()
	})
}

func FuzzParseFlat(f *testing.F) {
	f.Add(sampleFlat)
	f.Add("a: b\n# c\n\nd:\n")
	f.Add("key:value\n")
	f.Add(": x\n")
	f.Add("a: b # c: d\n")
	f.Fuzz(func(t *testing.T, doc string) {
		entries, _ := ParseFlat([]byte(doc), FileOrigin("fuzz.conf", 0))
		lines := strings.Split(doc, "\n")
		for _, e := range entries {
			if e.Key == "" || e.Value == "" {
				t.Fatalf("empty key or value: %+v", e)
			}
			if e.Origin.Line < 1 || e.Origin.Line > len(lines) {
				t.Fatalf("line %d out of range", e.Origin.Line)
			}
			if strings.Contains(e.Key, "#") || strings.Contains(e.Value, "#") {
				t.Fatalf("comment not stripped: %+v", e)
			}
			if !strings.Contains(lines[e.Origin.Line-1], e.Key) {
				t.Fatalf("entry %+v not on its line %q", e, lines[e.Origin.Line-1])
			}
		}
		c := New()
		for _, e := range entries {
			_ = c.Set(e.Key, e.Value, e.Origin)
		}
	})
}

func FuzzValueParsers(f *testing.F) {
	for _, s := range []string{"100 ms", "1g", "a;'b;c'", `k:v,"x:y":z`, "true", "9999999999999999999d", "µs", "'"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if d, err := ParseDuration(s); err == nil {
			if d < 0 {
				t.Fatalf("negative duration from %q", s)
			}
			if back, err := ParseDuration(FormatDuration(d)); err != nil || back != d {
				t.Fatalf("duration round trip %q -> %v -> %v, %v", s, d, back, err)
			}
		}
		if m, err := ParseMemorySize(s); err == nil {
			if m < 0 {
				t.Fatalf("negative size from %q", s)
			}
			if back, err := ParseMemorySize(FormatMemorySize(m)); err != nil || back != m {
				t.Fatalf("memory round trip %q -> %v -> %v, %v", s, m, back, err)
			}
		}
		if l, err := SplitList(s, ';'); err == nil {
			back, err := SplitList(FormatList(l, ';'), ';')
			if err != nil || (len(l) > 0 && !reflect.DeepEqual(back, l)) {
				t.Fatalf("list round trip %q -> %q -> %q, %v", s, l, back, err)
			}
		}
		if m, err := ParseMap(s); err == nil {
			back, err := ParseMap(FormatMap(m))
			if err != nil || !reflect.DeepEqual(back, m) {
				t.Fatalf("map round trip %q -> %v -> %v, %v", s, m, back, err)
			}
		}
	})
}

package security

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestVLongKnownEncodings(t *testing.T) {
	cases := []struct {
		v    int64
		want []byte
	}{
		{0, []byte{0x00}},
		{1, []byte{0x01}},
		{127, []byte{0x7f}},
		{-1, []byte{0xff}},
		{-112, []byte{0x90}},
		{128, []byte{0x8f, 0x80}},
		{255, []byte{0x8f, 0xff}},
		{256, []byte{0x8e, 0x01, 0x00}},
		{-113, []byte{0x87, 0x70}}, // one's complement 112, marker -121
		{-257, []byte{0x86, 0x01, 0x00}},
		{1 << 40, []byte{0x8a, 0x01, 0, 0, 0, 0, 0}},
		{-1 << 63, []byte{0x80, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}},
		{1<<63 - 1, []byte{0x88, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}},
	}
	for _, c := range cases {
		got := AppendVLong(nil, c.v)
		if !bytes.Equal(got, c.want) {
			t.Errorf("AppendVLong(%d) = % x, want % x", c.v, got, c.want)
		}
		v, n, err := ReadVLong(append(c.want, 0x55))
		if err != nil || v != c.v || n != len(c.want) {
			t.Errorf("ReadVLong(% x) = %d, %d, %v; want %d, %d", c.want, v, n, err, c.v, len(c.want))
		}
	}
}

func TestVLongTruncated(t *testing.T) {
	for _, b := range [][]byte{nil, {0x8e, 0x01}, {0x80}} {
		if _, _, err := ReadVLong(b); !errors.Is(err, ErrTruncated) {
			t.Errorf("ReadVLong(% x) err = %v, want ErrTruncated", b, err)
		}
	}
}

// handBuiltWritable is a version-0 token storage stream built byte by byte, as
// Credentials.writeTokenStorageToStream would write it for one AMRMToken (empty alias and service)
// and one secret.
func handBuiltWritable() []byte {
	b := []byte("HDTS")
	b = append(b, 0)          // version WRITABLE
	b = append(b, 1)          // one token
	b = append(b, 0)          // alias "" (Text: VInt length 0)
	b = append(b, 3, 1, 2, 3) // identifier
	b = append(b, 2, 9, 8)    // password
	b = append(b, 16)         // kind length
	b = append(b, "YARN_AM_RM_TOKEN"...)
	b = append(b, 0)      // service ""
	b = append(b, 1)      // one secret
	b = append(b, 1, 'k') // alias "k"
	b = append(b, 2, 0xaa, 0xbb)
	return b
}

func TestParseHandBuiltWritable(t *testing.T) {
	c, err := Unmarshal(handBuiltWritable())
	if err != nil {
		t.Fatal(err)
	}
	tok, ok := c.FindByKind(KindAMRMToken)
	if !ok {
		t.Fatal("AMRM token not found by kind")
	}
	if !bytes.Equal(tok.Identifier, []byte{1, 2, 3}) || !bytes.Equal(tok.Password, []byte{9, 8}) || tok.Service != "" {
		t.Fatalf("token = %+v", tok)
	}
	if _, ok := c.Token(""); !ok {
		t.Fatal("token not found under empty alias")
	}
	if k, ok := c.Secret("k"); !ok || !bytes.Equal(k, []byte{0xaa, 0xbb}) {
		t.Fatalf("secret = % x, %v", k, ok)
	}
	// Re-encoding gives the same bytes.
	if got := c.MarshalContainerTokens(); !bytes.Equal(got, handBuiltWritable()) {
		t.Fatalf("re-encoded\n% x\nwant\n% x", got, handBuiltWritable())
	}
}

func sampleCredentials() *Credentials {
	c := &Credentials{}
	c.AddToken("", Token{Identifier: []byte{1, 2, 3}, Password: []byte("pw"), Kind: KindAMRMToken})
	c.AddToken("hdfs://nn:8020", Token{Identifier: bytes.Repeat([]byte{7}, 300), Password: []byte("p2"), Kind: KindHDFSDelegation, Service: "10.0.0.1:8020"})
	c.AddSecret("s1", []byte("secret"))
	return c
}

func TestRoundTripBothFormats(t *testing.T) {
	for _, f := range []Format{FormatWritable, FormatProtobuf} {
		b, err := sampleCredentials().Marshal(f)
		if err != nil {
			t.Fatal(err)
		}
		if b[4] != byte(f) {
			t.Fatalf("version byte %d, want %d", b[4], f)
		}
		c, err := Unmarshal(b)
		if err != nil {
			t.Fatalf("format %d: %v", f, err)
		}
		if len(c.Tokens()) != 2 {
			t.Fatalf("format %d: %d tokens", f, len(c.Tokens()))
		}
		tok, ok := c.Find(KindHDFSDelegation, "10.0.0.1:8020")
		if !ok || len(tok.Identifier) != 300 || string(tok.Password) != "p2" {
			t.Fatalf("format %d: delegation token %+v %v", f, tok, ok)
		}
		if s, _ := c.Secret("s1"); string(s) != "secret" {
			t.Fatalf("format %d: secret %q", f, s)
		}
		again, _ := c.Marshal(f)
		if !bytes.Equal(again, b) {
			t.Fatalf("format %d: not stable across round trip", f)
		}
	}
}

func TestProtobufFormatIsDelimitedCredentialsProto(t *testing.T) {
	c := &Credentials{}
	c.AddToken("a", Token{Identifier: []byte{1}, Password: []byte{2}, Kind: "K", Service: "S"})
	b, _ := c.Marshal(FormatProtobuf)
	// CredentialsProto{tokens:[{alias:"a", token:{identifier:[1], password:[2], kind:"K", service:"S"}}]}
	token := []byte{0x0a, 1, 1, 0x12, 1, 2, 0x1a, 1, 'K', 0x22, 1, 'S'}
	kv := append([]byte{0x0a, 1, 'a', 0x12, byte(len(token))}, token...)
	body := append([]byte{0x0a, byte(len(kv))}, kv...)
	want := append([]byte("HDTS\x01"), byte(len(body)))
	want = append(want, body...)
	if !bytes.Equal(b, want) {
		t.Fatalf("got  % x\nwant % x", b, want)
	}
}

func TestUnmarshalErrors(t *testing.T) {
	good := handBuiltWritable()
	cases := map[string][]byte{
		"empty":         nil,
		"bad magic":     []byte("HDTX\x00\x00\x00"),
		"bad version":   []byte("HDTS\x07"),
		"truncated":     good[:len(good)-3],
		"huge count":    []byte("HDTS\x00\x8c\x7f\xff\xff\xff"),
		"negative len":  []byte("HDTS\x00\x01\xff"),
		"proto too big": []byte("HDTS\x01\x7f\x0a"),
	}
	for name, b := range cases {
		if _, err := Unmarshal(b); !errors.Is(err, ErrBadTokenStorage) {
			t.Errorf("%s: err = %v, want ErrBadTokenStorage", name, err)
		}
	}
}

func TestRemoveKindAndMerge(t *testing.T) {
	c := sampleCredentials()
	if n := c.RemoveKind(KindAMRMToken); n != 1 {
		t.Fatalf("removed %d", n)
	}
	if _, ok := c.FindByKind(KindAMRMToken); ok {
		t.Fatal("AMRM token still there")
	}
	d := c.Clone()
	d.AddToken("x", Token{Kind: "X"})
	if _, ok := c.Token("x"); ok {
		t.Fatal("Clone shares state")
	}
	c.Merge(d)
	if len(c.Tokens()) != 2 {
		t.Fatalf("after merge %d tokens", len(c.Tokens()))
	}
	if !c.RemoveToken("x") || c.RemoveToken("x") {
		t.Fatal("RemoveToken")
	}
}

func TestFileAndEnvironment(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "container_tokens")
	if err := sampleCredentials().WriteFile(path, FormatWritable); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("stat %v %v", st, err)
	}
	t.Setenv(TokenFileEnvVariable, "")
	if _, err := FromEnvironment(); !errors.Is(err, ErrNoTokenFile) {
		t.Fatalf("err = %v", err)
	}
	t.Setenv(TokenFileEnvVariable, path)
	c, err := FromEnvironment()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := c.FindByKind(KindAMRMToken); !ok {
		t.Fatal("AMRM token missing")
	}
	t.Setenv(TokenFileEnvVariable, filepath.Join(dir, "missing"))
	if _, err := FromEnvironment(); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file err = %v", err)
	}
}

func TestReadWritableToken(t *testing.T) {
	tok := Token{Identifier: []byte("id"), Password: []byte("pw"), Kind: KindNMToken, Service: "host:1"}
	b := AppendToken(nil, tok)
	got, n, err := ReadWritableToken(append(b, 0xff))
	if err != nil || n != len(b) || got.Service != "host:1" || string(got.Identifier) != "id" {
		t.Fatalf("%+v %d %v", got, n, err)
	}
	p, err := TokenFromProto(tok.Proto())
	if err != nil || p.Kind != KindNMToken {
		t.Fatalf("%+v %v", p, err)
	}
	if _, err := TokenFromProto(nil); err == nil {
		t.Fatal("nil proto accepted")
	}
}

func FuzzUnmarshal(f *testing.F) {
	f.Add(handBuiltWritable())
	b, _ := sampleCredentials().Marshal(FormatProtobuf)
	f.Add(b)
	b, _ = sampleCredentials().Marshal(FormatWritable)
	f.Add(b)
	f.Add([]byte("HDTS\x00\x8c\x7f\xff\xff\xff"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Unmarshal(data)
		if err != nil {
			return
		}
		// Whatever parses must re-encode and parse again to the same tokens.
		for _, f := range []Format{FormatWritable, FormatProtobuf} {
			out, err := c.Marshal(f)
			if err != nil {
				t.Fatal(err)
			}
			c2, err := Unmarshal(out)
			if err != nil {
				t.Fatalf("re-parse format %d: %v", f, err)
			}
			if len(c2.Tokens()) != len(c.Tokens()) {
				t.Fatalf("token count changed: %d -> %d", len(c.Tokens()), len(c2.Tokens()))
			}
		}
	})
}

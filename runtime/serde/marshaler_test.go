package serde

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strings"
	"testing"
)

// blob marshals itself as its text repeated; used to cross the one-byte length prefix.
type blob struct {
	text string
	rep  int
}

func (b blob) MarshalBinary() ([]byte, error) {
	if b.rep < 0 {
		return nil, errors.New("negative repeat")
	}
	return []byte(fmt.Sprintf("%d:%s", b.rep, strings.Repeat(b.text, b.rep))), nil
}

func (b *blob) UnmarshalBinary(data []byte) error {
	var rep int
	k := strings.IndexByte(string(data), ':')
	if k < 0 {
		return errors.New("no colon")
	}
	if _, err := fmt.Sscan(string(data[:k]), &rep); err != nil {
		return err
	}
	body := string(data[k+1:])
	if rep == 0 {
		*b = blob{}
		return nil
	}
	b.rep, b.text = rep, body[:len(body)/rep]
	return nil
}

func TestMarshalerTypes(t *testing.T) {
	type Conn struct {
		Src, Dst netip.Addr
		Net      netip.Prefix
		AP       netip.AddrPort
		U        url.URL
		B        blob
		Port     uint16
	}
	u, _ := url.Parse("https://user:pw@example.com:8443/p/a?q=1#frag")
	v := Conn{
		Src:  netip.MustParseAddr("10.1.2.3"),
		Dst:  netip.MustParseAddr("fe80::1%eth0"),
		Net:  netip.MustParsePrefix("192.168.0.0/16"),
		AP:   netip.MustParseAddrPort("[::1]:80"),
		U:    *u,
		B:    blob{text: "xyz", rep: 100}, // 303+ bytes: a two-byte length prefix
		Port: 443,
	}
	c := MustFor[Conn]()
	b := c.Append([]byte("pre"), v)[3:]
	got, n, err := c.Decode(b)
	if err != nil || n != len(b) {
		t.Fatalf("decode: %d/%d, %v", n, len(b), err)
	}
	// netip.Addr compares its zone through interned handles: a structural codec would break ==.
	if got.Src != v.Src || got.Dst != v.Dst || got.Net != v.Net || got.AP != v.AP || !got.Src.Is4() {
		t.Fatalf("netip values differ: %v %v %v %v", got.Src, got.Dst, got.Net, got.AP)
	}
	if got.U.String() != u.String() || got.B != v.B || got.Port != 443 {
		t.Fatalf("url/blob/port differ: %v %+v %d", got.U.String(), got.B, got.Port)
	}
	if m, err := EncodedLen(c, b); err != nil || m != n {
		t.Fatalf("EncodedLen = %d, %v", m, err)
	}
	for k := 0; k < len(b); k++ {
		if _, _, err := c.Decode(b[:k]); err == nil {
			t.Fatalf("prefix of %d bytes decoded", k)
		}
	}
	// Golden: netip.Addr writes uvarint(len) ‖ AppendBinary bytes.
	if got := fmt.Sprintf("%x", MustFor[netip.Addr]().Append(nil, netip.MustParseAddr("1.2.3.4"))); got != "0401020304" {
		t.Errorf("netip.Addr wire %s", got)
	}
	// A payload its UnmarshalBinary rejects is ErrMalformed.
	bad := append(AppendUvarint(nil, 3), "abc"...)
	if _, _, err := MustFor[blob]().Decode(bad); !errors.Is(err, ErrMalformed) {
		t.Errorf("bad payload: %v", err)
	}
	// A value that cannot marshal itself panics (Append has no error result).
	func() {
		defer func() {
			if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "negative repeat") {
				t.Errorf("marshal failure: recover() = %v", r)
			}
		}()
		MustFor[blob]().Append(nil, blob{rep: -1})
	}()
}

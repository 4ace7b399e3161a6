package security

import (
	"errors"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
)

func TestDelegationIdentifierWritable(t *testing.T) {
	in := DelegationTokenIdentifier{Owner: "alice@EXAMPLE.COM", Renewer: "yarn", RealUser: "",
		IssueDate: time.UnixMilli(1700000000123), MaxDate: time.UnixMilli(1700604800123), SequenceNumber: 42, MasterKeyID: 7}
	b := EncodeWritableDelegationTokenIdentifier(in)
	// Hand check of the layout: version 0, then Text "alice@EXAMPLE.COM".
	if b[0] != 0 || b[1] != 17 || string(b[2:19]) != "alice@EXAMPLE.COM" {
		t.Fatalf("% x", b[:20])
	}
	out, err := DecodeDelegationTokenIdentifier(b)
	if err != nil {
		t.Fatal(err)
	}
	if out.Owner != in.Owner || out.Renewer != "yarn" || !out.IssueDate.Equal(in.IssueDate) || !out.MaxDate.Equal(in.MaxDate) ||
		out.SequenceNumber != 42 || out.MasterKeyID != 7 {
		t.Fatalf("%+v", out)
	}
	for i := 1; i < len(b); i++ {
		if _, err := DecodeDelegationTokenIdentifier(b[:i]); !errors.Is(err, ErrBadIdentifier) {
			t.Fatalf("truncated at %d: %v", i, err)
		}
	}
}

func TestDelegationIdentifierProto(t *testing.T) {
	var b []byte
	b = protowire.AppendTag(b, 1, protowire.BytesType)
	b = protowire.AppendString(b, "bob")
	b = protowire.AppendTag(b, 2, protowire.BytesType)
	b = protowire.AppendString(b, "rm")
	b = protowire.AppendTag(b, 5, protowire.VarintType)
	b = protowire.AppendVarint(b, 1700000000000)
	b = protowire.AppendTag(b, 6, protowire.VarintType)
	b = protowire.AppendVarint(b, 3)
	id, err := DecodeDelegationTokenIdentifier(b)
	if err != nil {
		t.Fatal(err)
	}
	if id.Owner != "bob" || id.Renewer != "rm" || id.MaxDate.UnixMilli() != 1700000000000 || id.SequenceNumber != 3 {
		t.Fatalf("%+v", id)
	}
	if _, err := DecodeDelegationTokenIdentifier(nil); !errors.Is(err, ErrBadIdentifier) {
		t.Fatal(err)
	}
	if _, err := DecodeDelegationTokenIdentifier([]byte{0x0a, 0x05, 'x'}); !errors.Is(err, ErrBadIdentifier) {
		t.Fatal(err)
	}
}

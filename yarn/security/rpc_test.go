package security

import (
	"context"
	"errors"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// wireCaller answers with raw protobuf bytes, decoding them into the response as a server
// would, and records the request bytes.
type wireCaller struct {
	method string
	req    []byte
	answer []byte
	err    error
}

func (w *wireCaller) Call(_ context.Context, method string, req, resp proto.Message) error {
	w.method = method
	b, err := proto.Marshal(req)
	if err != nil {
		return err
	}
	w.req = b
	if w.err != nil {
		return w.err
	}
	return proto.Unmarshal(w.answer, resp)
}

func TestGetDelegationTokenWire(t *testing.T) {
	// GetDelegationTokenResponseProto{token(1) = TokenProto{identifier 1, password 2, kind 3, service 4}}
	var tok []byte
	tok = protowire.AppendTag(tok, 1, protowire.BytesType)
	tok = protowire.AppendBytes(tok, []byte{0, 5, 'a', 'l', 'i', 'c', 'e'})
	tok = protowire.AppendTag(tok, 2, protowire.BytesType)
	tok = protowire.AppendBytes(tok, []byte("secret"))
	tok = protowire.AppendTag(tok, 3, protowire.BytesType)
	tok = protowire.AppendString(tok, KindHDFSDelegation)
	tok = protowire.AppendTag(tok, 4, protowire.BytesType)
	tok = protowire.AppendString(tok, "127.0.0.1:8020")
	var answer []byte
	answer = protowire.AppendTag(answer, 1, protowire.BytesType)
	answer = protowire.AppendBytes(answer, tok)

	c := &wireCaller{answer: answer}
	got, err := GetDelegationToken(context.Background(), c, "rm/localhost@EXAMPLE.COM")
	if err != nil {
		t.Fatal(err)
	}
	if c.method != "getDelegationToken" {
		t.Errorf("method %q", c.method)
	}
	// Request: field 1 (renewer), length-delimited.
	num, typ, n := protowire.ConsumeTag(c.req)
	if num != 1 || typ != protowire.BytesType {
		t.Fatalf("request tag %d/%d", num, typ)
	}
	if r, _ := protowire.ConsumeString(c.req[n:]); r != "rm/localhost@EXAMPLE.COM" {
		t.Errorf("renewer %q", r)
	}
	if got.Kind != KindHDFSDelegation || got.Service != "127.0.0.1:8020" || string(got.Password) != "secret" || len(got.Identifier) != 7 {
		t.Errorf("token %+v", got)
	}
}

func TestGetDelegationTokenErrors(t *testing.T) {
	if _, err := GetDelegationToken(context.Background(), &wireCaller{}, "rm"); err == nil || !strings.Contains(err.Error(), "no token") {
		t.Errorf("empty answer: %v", err)
	}
	boom := errors.New("AccessControlException: delegation token can be issued only with kerberos")
	if _, err := GetDelegationToken(context.Background(), &wireCaller{err: boom}, "rm"); !errors.Is(err, boom) {
		t.Errorf("remote error not wrapped: %v", err)
	}
	if _, err := GetDelegationToken(context.Background(), nil, "rm"); err == nil {
		t.Error("nil caller accepted")
	}
}

package ipc

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	hadoopproto "github.com/flink-go/flink-go/yarn/internal/proto/hadoop"
	"github.com/flink-go/flink-go/yarn/ipc/internal/digestmd5"
	"github.com/flink-go/flink-go/yarn/security"
)

// scriptedPeer replays server messages and records what the client sent.
type scriptedPeer struct {
	replies []*hadoopproto.RpcSaslProto
	sent    []*hadoopproto.RpcSaslProto
	// onSend computes a reply from the client's message when set.
	onSend func(*hadoopproto.RpcSaslProto) *hadoopproto.RpcSaslProto
}

func (p *scriptedPeer) sendSASL(m *hadoopproto.RpcSaslProto) error {
	// Round-trip through the wire encoding, as the server would see it.
	b, err := proto.Marshal(m)
	if err != nil {
		return err
	}
	got := &hadoopproto.RpcSaslProto{}
	if err := proto.Unmarshal(b, got); err != nil {
		return err
	}
	p.sent = append(p.sent, got)
	if p.onSend != nil {
		if r := p.onSend(got); r != nil {
			p.replies = append(p.replies, r)
		}
	}
	return nil
}

func (p *scriptedPeer) recvSASL() (*hadoopproto.RpcSaslProto, error) {
	if len(p.replies) == 0 {
		return nil, errors.New("script exhausted")
	}
	r := p.replies[0]
	p.replies = p.replies[1:]
	return r, nil
}

func state(s hadoopproto.RpcSaslProto_SaslState) *hadoopproto.RpcSaslProto_SaslState { return s.Enum() }

// TestDigestExchangeKnownNonce drives the SASL state machine with a fixed nonce and cnonce and
// checks every message against values computed independently by the digestmd5 server.
func TestDigestExchangeKnownNonce(t *testing.T) {
	tok := security.Token{Identifier: []byte("ident-bytes"), Password: []byte("pass-bytes"), Kind: security.KindNMToken}
	srv := &digestmd5.Server{Realm: "default", ServerID: "default", Nonce: "fixed-nonce", Lookup: func(u string) (string, error) {
		if u != base64.StdEncoding.EncodeToString(tok.Identifier) {
			return "", errors.New("bad user")
		}
		return base64.StdEncoding.EncodeToString(tok.Password), nil
	}}
	challenge, _ := srv.Challenge()
	offered := &hadoopproto.RpcSaslProto_SaslAuth{Method: proto.String("TOKEN"), Mechanism: proto.String("DIGEST-MD5"),
		Protocol: proto.String(""), ServerId: proto.String("default"), Challenge: challenge}
	kerb := &hadoopproto.RpcSaslProto_SaslAuth{Method: proto.String("KERBEROS"), Mechanism: proto.String("GSSAPI"), Protocol: proto.String("nm"), ServerId: proto.String("h")}
	peer := &scriptedPeer{replies: []*hadoopproto.RpcSaslProto{{State: state(hadoopproto.RpcSaslProto_NEGOTIATE), Auths: []*hadoopproto.RpcSaslProto_SaslAuth{offered, kerb}}}}
	peer.onSend = func(m *hadoopproto.RpcSaslProto) *hadoopproto.RpcSaslProto {
		if m.GetState() != hadoopproto.RpcSaslProto_INITIATE {
			return nil
		}
		final, err := srv.Verify(m.GetToken())
		if err != nil {
			t.Fatalf("server rejected the response: %v", err)
		}
		return &hadoopproto.RpcSaslProto{State: state(hadoopproto.RpcSaslProto_SUCCESS), Token: final}
	}
	mech := &digestMechanism{token: tok, qops: []string{"auth"}}
	res, err := negotiateSASL(peer, mech)
	if err != nil {
		t.Fatal(err)
	}
	if res.simple || res.layer != nil || res.auth.GetMethod() != "TOKEN" {
		t.Fatalf("%+v", res)
	}
	if len(peer.sent) != 2 || peer.sent[0].GetState() != hadoopproto.RpcSaslProto_NEGOTIATE {
		t.Fatalf("sent %v", peer.sent)
	}
	init := peer.sent[1]
	want := proto.Clone(offered).(*hadoopproto.RpcSaslProto_SaslAuth)
	want.Challenge = nil
	if len(init.GetAuths()) != 1 || !proto.Equal(init.GetAuths()[0], want) {
		t.Fatalf("INITIATE must echo the offered auth without its challenge: %v", init.GetAuths())
	}
	if init.GetAuths()[0].Protocol == nil {
		t.Fatal("empty protocol must stay explicitly set")
	}
	if !strings.Contains(string(init.GetToken()), `digest-uri="/default"`) || !strings.Contains(string(init.GetToken()), `nonce="fixed-nonce"`) {
		t.Fatalf("token %s", init.GetToken())
	}
}

func TestDigestExchangeBadRspauth(t *testing.T) {
	tok := security.Token{Identifier: []byte("i"), Password: []byte("p")}
	challenge := []byte(`realm="default",nonce="n",qop="auth",charset=utf-8,algorithm=md5-sess`)
	peer := &scriptedPeer{replies: []*hadoopproto.RpcSaslProto{
		{State: state(hadoopproto.RpcSaslProto_NEGOTIATE), Auths: []*hadoopproto.RpcSaslProto_SaslAuth{{Method: proto.String("TOKEN"), Mechanism: proto.String("DIGEST-MD5"), Protocol: proto.String(""), ServerId: proto.String("default"), Challenge: challenge}}},
		{State: state(hadoopproto.RpcSaslProto_SUCCESS), Token: []byte("rspauth=0123456789abcdef0123456789abcdef")},
	}}
	_, err := negotiateSASL(peer, &digestMechanism{token: tok})
	if !errors.Is(err, ErrPermission) {
		t.Fatalf("a server that cannot prove the password must be rejected: %v", err)
	}
}

func TestNegotiateEdgeCases(t *testing.T) {
	tok := security.Token{Identifier: []byte("i"), Password: []byte("p")}
	// SIMPLE-only server.
	peer := &scriptedPeer{replies: []*hadoopproto.RpcSaslProto{{State: state(hadoopproto.RpcSaslProto_SUCCESS)}}}
	res, err := negotiateSASL(peer, &digestMechanism{token: tok})
	if err != nil || !res.simple {
		t.Fatalf("%v %v", res, err)
	}
	// Server offers only Kerberos to a token client.
	peer = &scriptedPeer{replies: []*hadoopproto.RpcSaslProto{{State: state(hadoopproto.RpcSaslProto_NEGOTIATE),
		Auths: []*hadoopproto.RpcSaslProto_SaslAuth{{Method: proto.String("KERBEROS"), Mechanism: proto.String("GSSAPI")}}}}}
	if _, err := negotiateSASL(peer, &digestMechanism{token: tok}); !errors.Is(err, ErrSASL) || !strings.Contains(err.Error(), "KERBEROS/GSSAPI") {
		t.Fatalf("%v", err)
	}
	// SUCCESS before the client answered the challenge.
	peer = &scriptedPeer{replies: []*hadoopproto.RpcSaslProto{
		{State: state(hadoopproto.RpcSaslProto_NEGOTIATE), Auths: []*hadoopproto.RpcSaslProto_SaslAuth{{Method: proto.String("TOKEN"), Mechanism: proto.String("DIGEST-MD5")}}},
		{State: state(hadoopproto.RpcSaslProto_SUCCESS)},
	}}
	if _, err := negotiateSASL(peer, &digestMechanism{token: tok}); !errors.Is(err, ErrSASL) || !strings.Contains(err.Error(), "out of sync") {
		t.Fatalf("%v", err)
	}
	// Unexpected state.
	peer = &scriptedPeer{replies: []*hadoopproto.RpcSaslProto{{State: state(hadoopproto.RpcSaslProto_WRAP)}}}
	if _, err := negotiateSASL(peer, &digestMechanism{token: tok}); !errors.Is(err, ErrSASL) {
		t.Fatalf("%v", err)
	}
}

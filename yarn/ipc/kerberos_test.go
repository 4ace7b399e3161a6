package ipc

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/gssapi"
	"github.com/jcmturner/gokrb5/v8/iana/etypeID"
	"github.com/jcmturner/gokrb5/v8/iana/keyusage"
	"github.com/jcmturner/gokrb5/v8/types"
	"google.golang.org/protobuf/proto"

	hadoopproto "github.com/flink-go/flink-go/yarn/internal/proto/hadoop"
)

func testKey() types.EncryptionKey {
	return types.EncryptionKey{KeyType: etypeID.AES256_CTS_HMAC_SHA1_96, KeyValue: bytes.Repeat([]byte{0x42}, 32)}
}

// acceptorWrap builds the wrap token a Java GSSAPI acceptor sends (acceptor flag set, not sealed).
func acceptorWrap(t *testing.T, key types.EncryptionKey, payload []byte) []byte {
	t.Helper()
	wt := gssapi.WrapToken{Flags: 0x01, EC: 12, Payload: payload}
	if err := wt.SetCheckSum(key, keyusage.GSSAPI_ACCEPTOR_SEAL); err != nil {
		t.Fatal(err)
	}
	b, err := wt.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func verifyInitiatorWrap(t *testing.T, key types.EncryptionKey, tok []byte) []byte {
	t.Helper()
	var wt gssapi.WrapToken
	if err := wt.Unmarshal(tok, false); err != nil {
		t.Fatal(err)
	}
	if ok, err := wt.Verify(key, keyusage.GSSAPI_INITIATOR_SEAL); !ok || err != nil {
		t.Fatalf("client wrap token does not verify: %v", err)
	}
	return wt.Payload
}

func TestGSSAPISecurityLayerNegotiation(t *testing.T) {
	key := testKey()
	// Server offers none|integrity|privacy with a 64 KiB buffer.
	offer := acceptorWrap(t, key, []byte{0x07, 0x01, 0x00, 0x00})

	m := &kerberosMechanism{cfg: &Config{Protection: []Protection{ProtectionAuthentication}}, key: key}
	if err := m.finish(nil); !errors.Is(err, ErrSASL) {
		t.Fatalf("finish before the layer: %v", err)
	}
	// A non-wrap token (AP-REP of mutual authentication) gets an empty response.
	if resp, err := m.step([]byte{0x6f, 0x81, 0x90, 0x30}); err != nil || resp != nil {
		t.Fatalf("%x %v", resp, err)
	}
	reply, err := m.step(offer)
	if err != nil {
		t.Fatal(err)
	}
	if got := verifyInitiatorWrap(t, key, reply); !bytes.Equal(got, []byte{0x01, 0, 0, 0}) {
		t.Fatalf("reply payload % x", got)
	}
	if err := m.finish(nil); err != nil {
		t.Fatal(err)
	}
	if l, err := m.layer(); l != nil || err != nil {
		t.Fatalf("auth must not wrap: %v %v", l, err)
	}
	if _, err := m.step(offer); !errors.Is(err, ErrSASL) {
		t.Fatalf("second offer: %v", err)
	}

	// Integrity: the client echoes the buffer size and wraps later packets.
	m = &kerberosMechanism{cfg: &Config{Protection: []Protection{ProtectionIntegrity}}, key: key}
	reply, err = m.step(offer)
	if err != nil {
		t.Fatal(err)
	}
	if got := verifyInitiatorWrap(t, key, reply); !bytes.Equal(got, []byte{0x02, 0x01, 0, 0}) {
		t.Fatalf("reply payload % x", got)
	}
	l, err := m.layer()
	if err != nil || l == nil {
		t.Fatal(l, err)
	}
	w, err := l.Wrap([]byte("packet"))
	if err != nil {
		t.Fatal(err)
	}
	if got := verifyInitiatorWrap(t, key, w); string(got) != "packet" {
		t.Fatalf("%q", got)
	}
	got, err := l.Unwrap(acceptorWrap(t, key, []byte("response")))
	if err != nil || string(got) != "response" {
		t.Fatalf("%q %v", got, err)
	}

	// A tampered offer fails verification.
	bad := append([]byte{}, offer...)
	bad[len(bad)-1] ^= 1
	m = &kerberosMechanism{cfg: &Config{}, key: key}
	if _, err := m.step(bad); !errors.Is(err, ErrPermission) {
		t.Fatalf("tampered: %v", err)
	}
}

func TestChooseGSSLayer(t *testing.T) {
	if reply, bit, err := ChooseGSSLayer([]byte{4, 0, 0xff, 0xff}, []string{"auth-conf", "auth-int", "auth"}); err != nil || bit != 4 || !bytes.Equal(reply, []byte{4, 0, 0xff, 0xff}) {
		t.Fatalf("privacy-only: % x %d %v", reply, bit, err)
	}
	if _, _, err := ChooseGSSLayer([]byte{4, 0, 0, 0}, []string{"auth-int", "auth"}); !errors.Is(err, ErrSASL) {
		t.Fatalf("privacy-only server, client without privacy: %v", err)
	}
	if _, _, err := ChooseGSSLayer([]byte{1, 0, 0}, []string{"auth"}); !errors.Is(err, ErrSASL) {
		t.Fatalf("short offer: %v", err)
	}
	if _, _, err := ChooseGSSLayer([]byte{2, 0, 0, 0}, []string{"auth"}); !errors.Is(err, ErrSASL) {
		t.Fatalf("no common layer: %v", err)
	}
	reply, bit, err := ChooseGSSLayer([]byte{3, 0, 0x10, 0}, []string{"auth-conf", "auth-int", "auth"})
	if err != nil || bit != 2 || !bytes.Equal(reply, []byte{2, 0, 0x10, 0}) {
		t.Fatalf("% x %d %v", reply, bit, err)
	}
}

func TestServicePrincipal(t *testing.T) {
	svc, inst, spn, err := ServicePrincipal("rm/_HOST@EXAMPLE.COM", "RM1.Example.com")
	if err != nil || svc != "rm" || inst != "rm1.example.com" || spn != "rm/rm1.example.com" {
		t.Fatal(svc, inst, spn, err)
	}
	_, _, spn, _ = ServicePrincipal("nm/fixed.host@R", "other")
	if spn != "nm/fixed.host" {
		t.Fatal(spn)
	}
	for _, bad := range []string{"", "rm", "rm/", "/h@R", "a/b/c@R"} {
		if _, _, _, err := ServicePrincipal(bad, "h"); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestKerberosChecksAdvertisedPrincipal(t *testing.T) {
	m := &kerberosMechanism{cfg: &Config{ServerPrincipal: "rm/_HOST@EXAMPLE.COM", Kerberos: &KerberosConfig{}}, host: "RM1.example.com"}
	auth := &hadoopproto.RpcSaslProto_SaslAuth{Method: proto.String("KERBEROS"), Mechanism: proto.String("GSSAPI"),
		Protocol: proto.String("nn"), ServerId: proto.String("rm1.example.com")}
	if got := m.selectAuth([]*hadoopproto.RpcSaslProto_SaslAuth{
		{Method: proto.String("TOKEN"), Mechanism: proto.String("DIGEST-MD5")}, auth}); got != auth {
		t.Fatal("KERBEROS auth not selected")
	}
	if _, err := m.start(auth); !errors.Is(err, ErrSASL) || !strings.Contains(err.Error(), "server advertises principal nn/") {
		t.Fatalf("service mismatch: %v", err)
	}
}

// acceptorSeal builds a sealed wrap token as a Java acceptor does, optionally rotated by rrc.
func acceptorSeal(t *testing.T, key types.EncryptionKey, msg []byte, seq uint64, rrc int) []byte {
	t.Helper()
	et, err := crypto.GetEtype(key.KeyType)
	if err != nil {
		t.Fatal(err)
	}
	hdr := []byte{0x05, 0x04, gssFlagSentByAcceptor | gssFlagSealed, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, byte(seq)}
	_, ct, err := et.EncryptMessage(key.KeyValue, append(append([]byte{}, msg...), hdr...), keyusage.GSSAPI_ACCEPTOR_SEAL)
	if err != nil {
		t.Fatal(err)
	}
	if rrc > 0 { // rotate right
		r := rrc % len(ct)
		ct = append(ct[len(ct)-r:], ct[:len(ct)-r]...)
		hdr[6], hdr[7] = byte(rrc>>8), byte(rrc)
	}
	return append(hdr, ct...)
}

func TestKerberosPrivacyLayer(t *testing.T) {
	key := testKey()
	m := &kerberosMechanism{cfg: &Config{Protection: []Protection{ProtectionPrivacy}}, key: key}
	reply, err := m.step(acceptorWrap(t, key, []byte{0x07, 0x01, 0x00, 0x00}))
	if err != nil {
		t.Fatal(err)
	}
	if got := verifyInitiatorWrap(t, key, reply); !bytes.Equal(got, []byte{0x04, 0x01, 0, 0}) {
		t.Fatalf("reply payload % x", got)
	}
	l, err := m.layer()
	if err != nil || l == nil {
		t.Fatal(l, err)
	}
	// The client's sealed token decrypts with the initiator key usage and carries its header copy.
	w, err := l.Wrap([]byte("secret packet"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(w, []byte("secret packet")) || w[2] != gssFlagSealed {
		t.Fatalf("not sealed: % x", w[:16])
	}
	et, _ := crypto.GetEtype(key.KeyType)
	plain, err := et.DecryptMessage(key.KeyValue, w[16:], keyusage.GSSAPI_INITIATOR_SEAL)
	if err != nil || string(plain[:len(plain)-16]) != "secret packet" || !bytes.Equal(plain[len(plain)-16:], w[:16]) {
		t.Fatalf("%q %v", plain, err)
	}
	// Server tokens, with and without rotation.
	for _, rrc := range []int{0, 28, 1000} {
		got, err := l.Unwrap(acceptorSeal(t, key, []byte("reply"), 1, rrc))
		if err != nil || string(got) != "reply" {
			t.Fatalf("rrc %d: %q %v", rrc, got, err)
		}
	}
	bad := acceptorSeal(t, key, []byte("reply"), 1, 0)
	bad[len(bad)-3] ^= 1
	if _, err := l.Unwrap(bad); !errors.Is(err, ErrPermission) {
		t.Fatalf("tampered: %v", err)
	}
	short := acceptorSeal(t, key, []byte("reply"), 1, 0)[:20]
	if _, err := l.Unwrap(short); !errors.Is(err, ErrSASL) {
		t.Fatalf("short: %v", err)
	}
}

func TestKerberosHostCanonicalization(t *testing.T) {
	defer func(a, h func(string) ([]string, error)) { lookupAddr, lookupHost = a, h }(lookupAddr, lookupHost)
	lookupHost = func(h string) ([]string, error) {
		if h == "rm1" {
			return []string{"10.0.0.1"}, nil
		}
		return nil, errors.New("no such host")
	}
	lookupAddr = func(a string) ([]string, error) {
		if a == "10.0.0.1" {
			return []string{"rm1.example.com."}, nil
		}
		return nil, errors.New("no PTR")
	}
	auth := func(serverID string) *hadoopproto.RpcSaslProto_SaslAuth {
		return &hadoopproto.RpcSaslProto_SaslAuth{Method: proto.String("KERBEROS"), Mechanism: proto.String("GSSAPI"),
			Protocol: proto.String("rm"), ServerId: proto.String(serverID)}
	}
	cfg := &Config{ServerPrincipal: "rm/_HOST@EXAMPLE.COM", Kerberos: &KerberosConfig{Krb5ConfPath: "/nonexistent/krb5.conf"}}
	// The advertised name is the canonical name of a short name or of an IP: accepted, so the
	// mechanism goes on to the Kerberos login (which fails here on the missing krb5.conf).
	for _, dialled := range []string{"rm1", "10.0.0.1"} {
		m := &kerberosMechanism{cfg: cfg, host: dialled}
		if _, err := m.start(auth("rm1.example.com")); err == nil || errors.Is(err, ErrSASL) || !strings.Contains(err.Error(), "krb5.conf") {
			t.Fatalf("%s: %v", dialled, err)
		}
	}
	// A server claiming some other host is refused before any ticket is requested.
	m := &kerberosMechanism{cfg: cfg, host: "rm1"}
	if _, err := m.start(auth("evil.example.com")); !errors.Is(err, ErrSASL) || !strings.Contains(err.Error(), "canonical") {
		t.Fatalf("err = %v", err)
	}
}

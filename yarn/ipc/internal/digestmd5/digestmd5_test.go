package digestmd5

import (
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// RFC 2831 §4, example 1 (IMAP): user chris, password secret.
const (
	rfcChallenge = `realm="elwood.innosoft.com",nonce="OA6MG9tEQGm2hh",qop="auth",algorithm=md5-sess,charset=utf-8`
	rfcResponse  = "d388dad90d4bbd760a152321f2143af7"
	rfcRspauth   = "ea40f60335c427b5527b84dbabcdfffd"
)

func TestRFC2831Example(t *testing.T) {
	c := &Client{Username: "chris", Password: "secret", Protocol: "imap", ServerID: "elwood.innosoft.com", CNonce: "OA6MHXh6VqTrRk"}
	resp, err := c.Respond([]byte(rfcChallenge))
	if err != nil {
		t.Fatal(err)
	}
	d, err := ParseDirectives(resp)
	if err != nil {
		t.Fatal(err)
	}
	if got := d["response"][0]; got != rfcResponse {
		t.Fatalf("response = %s, want %s (full: %s)", got, rfcResponse, resp)
	}
	for k, v := range map[string]string{"username": "chris", "realm": "elwood.innosoft.com", "nonce": "OA6MG9tEQGm2hh",
		"cnonce": "OA6MHXh6VqTrRk", "nc": "00000001", "qop": "auth", "digest-uri": "imap/elwood.innosoft.com", "charset": "utf-8"} {
		if d[k][0] != v {
			t.Errorf("%s = %q, want %q", k, d[k][0], v)
		}
	}
	if err := c.Verify([]byte("rspauth=" + rfcRspauth)); err != nil {
		t.Fatal(err)
	}
	if !c.Complete() {
		t.Fatal("not complete")
	}
	if l, err := c.SecurityLayer(); err != nil || l != nil {
		t.Fatalf("auth must have no layer: %v %v", l, err)
	}
}

func TestRspauthMismatchRejected(t *testing.T) {
	c := &Client{Username: "chris", Password: "secret", Protocol: "imap", ServerID: "elwood.innosoft.com", CNonce: "OA6MHXh6VqTrRk"}
	if _, err := c.Respond([]byte(rfcChallenge)); err != nil {
		t.Fatal(err)
	}
	if err := c.Verify([]byte("rspauth=00000000000000000000000000000000")); !errors.Is(err, ErrAuthFailed) {
		t.Fatalf("err = %v", err)
	}
	if err := c.Verify([]byte("foo=bar")); !errors.Is(err, ErrProtocol) {
		t.Fatalf("err = %v", err)
	}
}

// hadoopStyle computes the expected response for a Hadoop TOKEN exchange independently, straight
// from RFC 2831's formulas.
func hadoopStyle(user, pass, nonce, cnonce, qop string) string {
	h := func(s string) []byte { x := md5.Sum([]byte(s)); return x[:] }
	hx := func(s string) string { return hex.EncodeToString(h(s)) }
	a1 := string(h(user+":default:"+pass)) + ":" + nonce + ":" + cnonce
	a2 := "AUTHENTICATE:/default"
	return hx(hx(a1) + ":" + nonce + ":00000001:" + cnonce + ":" + qop + ":" + hx(a2))
}

func TestHadoopTokenExchange(t *testing.T) {
	ident := base64.StdEncoding.EncodeToString([]byte{0x0a, 0x0c, 1, 2, 3})
	pass := base64.StdEncoding.EncodeToString([]byte("token-password-bytes"))
	srv := &Server{Realm: "default", ServerID: "default", Nonce: "n0nce+/=", Lookup: func(u string) (string, error) {
		if u != ident {
			return "", fmt.Errorf("unknown %q", u)
		}
		return pass, nil
	}}
	ch, err := srv.Challenge()
	if err != nil {
		t.Fatal(err)
	}
	cl := &Client{Username: ident, Password: pass, ServerID: "default", CNonce: "cn0nce"}
	resp, err := cl.Respond(ch)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(resp), `digest-uri="/default"`) {
		t.Fatalf("digest-uri missing: %s", resp)
	}
	d, _ := ParseDirectives(resp)
	if want := hadoopStyle(ident, pass, "n0nce+/=", "cn0nce", "auth"); d["response"][0] != want {
		t.Fatalf("response %s, independent computation %s", d["response"][0], want)
	}
	final, err := srv.Verify(resp)
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.Verify(final); err != nil {
		t.Fatal(err)
	}
	if srv.Username() != ident {
		t.Fatal(srv.Username())
	}

	// A wrong password is rejected by the server.
	bad := &Client{Username: ident, Password: "wrong", ServerID: "default"}
	ch, _ = srv.Challenge()
	resp, _ = bad.Respond(ch)
	if _, err := srv.Verify(resp); !errors.Is(err, ErrAuthFailed) {
		t.Fatalf("err = %v", err)
	}
}

func TestSecurityLayers(t *testing.T) {
	for _, qop := range []string{QOPAuthInt, QOPAuthConf} {
		t.Run(qop, func(t *testing.T) {
			srv := &Server{Realm: "default", ServerID: "default", QOPs: []string{QOPAuthConf, QOPAuthInt, QOPAuth},
				Lookup: func(string) (string, error) { return "pw", nil }}
			ch, _ := srv.Challenge()
			cl := &Client{Username: "u", Password: "pw", ServerID: "default", QOPs: []string{qop}}
			resp, err := cl.Respond(ch)
			if err != nil {
				t.Fatal(err)
			}
			final, err := srv.Verify(resp)
			if err != nil {
				t.Fatal(err)
			}
			if err := cl.Verify(final); err != nil {
				t.Fatal(err)
			}
			cLayer, err := cl.SecurityLayer()
			if err != nil || cLayer == nil {
				t.Fatal(cLayer, err)
			}
			sLayer, err := srv.SecurityLayer()
			if err != nil || sLayer == nil {
				t.Fatal(sLayer, err)
			}
			for i := 0; i < 3; i++ {
				msg := []byte(fmt.Sprintf("hello %d", i))
				w := cLayer.Wrap(msg)
				if qop == QOPAuthConf && bytes.Contains(w, msg) {
					t.Fatal("privacy left plaintext visible")
				}
				if qop == QOPAuthInt && !bytes.HasPrefix(w, msg) {
					t.Fatal("integrity must keep the plaintext")
				}
				got, err := sLayer.Unwrap(w)
				if err != nil || !bytes.Equal(got, msg) {
					t.Fatalf("server unwrap %q %v", got, err)
				}
				back, err := cLayer.Unwrap(sLayer.Wrap(got))
				if err != nil || !bytes.Equal(back, msg) {
					t.Fatalf("client unwrap %q %v", back, err)
				}
			}
			// Tampering and replays fail.
			w := cLayer.Wrap([]byte("x"))
			w[0] ^= 1
			if _, err := sLayer.Unwrap(w); !errors.Is(err, ErrAuthFailed) {
				t.Fatalf("tampered: %v", err)
			}
			if _, err := sLayer.Unwrap([]byte("short")); !errors.Is(err, ErrProtocol) {
				t.Fatalf("short: %v", err)
			}
		})
	}
}

func TestIntegrityKnownVector(t *testing.T) {
	// Independent computation of the first auth-int wrap: HMAC-MD5(Kic, seq0 || msg)[:10].
	ha1 := SessionKey("u", "default", "pw", "n", "c", "")
	l, err := newSecurityLayer(ha1, QOPAuthInt, "", true, DefaultMaxBuf)
	if err != nil {
		t.Fatal(err)
	}
	kic := md5.Sum(append(append([]byte{}, ha1...), "Digest session key to client-to-server signing key magic constant"...))
	w := l.Wrap([]byte("abc"))
	if len(w) != 3+10+6 || !bytes.Equal(w[len(w)-6:], []byte{0, 1, 0, 0, 0, 0}) {
		t.Fatalf("% x", w)
	}
	if !bytes.Equal(w[3:13], mac(kic[:], 0, []byte("abc"))) {
		t.Fatal("mac mismatch")
	}
}

func TestParseChallengeErrors(t *testing.T) {
	for _, c := range []string{
		`realm="x",qop="auth",algorithm=md5-sess`, // no nonce
		`nonce="a",algorithm=md5`,                 // wrong algorithm
		`nonce="a,algorithm=md5-sess`,             // unterminated quote
		`nonce="a",nonce="b",algorithm=md5-sess`,  // duplicate
		`nonce="a",algorithm=md5-sess,maxbuf=-1`,  // bad maxbuf
		`justaword`,                               // no value
	} {
		if _, err := ParseChallenge([]byte(c)); !errors.Is(err, ErrProtocol) {
			t.Errorf("%s: %v", c, err)
		}
	}
	cl := &Client{Username: "u", Password: "p", QOPs: []string{QOPAuth}}
	if _, err := cl.Respond([]byte(`nonce="a",qop="auth-conf",cipher="3des",algorithm=md5-sess`)); !errors.Is(err, ErrProtocol) {
		t.Fatalf("qop mismatch: %v", err)
	}
	cl = &Client{Username: "u", Password: "p", QOPs: []string{QOPAuthConf}}
	if _, err := cl.Respond([]byte(`nonce="a",qop="auth-conf",cipher="3des",algorithm=md5-sess`)); !errors.Is(err, ErrProtocol) {
		t.Fatalf("cipher mismatch: %v", err)
	}
}

func FuzzParseChallenge(f *testing.F) {
	f.Add([]byte(rfcChallenge))
	f.Add([]byte(`realm="a\"b",nonce="x",qop="auth,auth-int",algorithm=md5-sess`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c := &Client{Username: "u", Password: "p", QOPs: []string{QOPAuthConf, QOPAuthInt, QOPAuth}}
		_, _ = c.Respond(b)
		_ = c.Verify(b)
		l := &SecurityLayer{sendKi: []byte("k"), recvKi: []byte("k")}
		_, _ = l.Unwrap(b)
	})
}

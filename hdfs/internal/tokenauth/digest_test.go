package tokenauth

import (
	"strings"
	"testing"
)

// The worked example of RFC 2831 section 4.
func TestDigestRFC2831Example(t *testing.T) {
	d := &digestClient{username: "chris", password: "secret", digestURI: "imap/elwood.innosoft.com", cnonce: "OA6MHXh6VqTrRk"}
	resp, err := d.respond([]byte(`realm="elwood.innosoft.com",nonce="OA6MG9tEQGm2hh",qop="auth",algorithm=md5-sess,charset=utf-8`))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(resp), "response=d388dad90d4bbd760a152321f2143af7") {
		t.Errorf("response = %s", resp)
	}
	for _, want := range []string{`username="chris"`, `realm="elwood.innosoft.com"`, `nc=00000001`, `qop=auth`, `digest-uri="imap/elwood.innosoft.com"`, "charset=utf-8"} {
		if !strings.Contains(string(resp), want) {
			t.Errorf("response lacks %s: %s", want, resp)
		}
	}
	if err := d.verify([]byte("rspauth=ea40f60335c427b5527b84dbabcdfffd")); err != nil {
		t.Errorf("verify: %v", err)
	}
	if err := d.verify([]byte("rspauth=00000000000000000000000000000000")); err == nil {
		t.Error("a wrong rspauth verified")
	}
	if err := d.verify([]byte("nothing")); err == nil {
		t.Error("a final message without rspauth verified")
	}
}

func TestDigestRefusesIntegrityOnlyServers(t *testing.T) {
	d := newDigestClient([]byte{1, 2}, []byte{3}, "", "default")
	_, err := d.respond([]byte(`realm="default",nonce="n",qop="auth-int,auth-conf",charset=utf-8,algorithm=md5-sess`))
	if err == nil || !strings.Contains(err.Error(), "hadoop.rpc.protection") {
		t.Errorf("err = %v", err)
	}
	if d.digestURI != "/default" || d.username != "AQI=" || d.password != "Aw==" {
		t.Errorf("client = %+v", d)
	}
}

func TestParseChallengeErrors(t *testing.T) {
	for _, bad := range []string{
		``,
		`realm="x"`,                   // no nonce
		`nonce="n",algorithm=md5`,     // wrong algorithm
		`nonce="n,algorithm=md5-sess`, // unterminated quote
		`nonce`,                       // no '='
	} {
		if _, err := parseChallenge([]byte(bad)); err == nil {
			t.Errorf("parseChallenge(%q) accepted", bad)
		}
	}
	c, err := parseChallenge([]byte(`realm="a\"b",nonce="n",algorithm=md5-sess`))
	if err != nil || c.realm != `a"b` || len(c.qop) != 1 || c.qop[0] != "auth" {
		t.Errorf("escaped realm / default qop: %+v, %v", c, err)
	}
}

func TestSASLRoundTrip(t *testing.T) {
	p, s := "", "default"
	in := saslMsg{state: stateInitiate, token: []byte("tok"), auths: []saslAuth{{method: "TOKEN", mechanism: "DIGEST-MD5", protocol: &p, serverID: &s}}}
	var buf strings.Builder
	if err := writeSASL(&buf, in); err != nil {
		t.Fatal(err)
	}
	// writeSASL produces a request header; rewrite it as a response frame by
	// decoding the body directly.
	raw := []byte(buf.String())[4:]
	_, rest, err := delimited(raw)
	if err != nil {
		t.Fatal(err)
	}
	body, _, err := delimited(rest)
	if err != nil {
		t.Fatal(err)
	}
	out, err := parseSASL(body)
	if err != nil {
		t.Fatal(err)
	}
	a := out.auths[0]
	if out.state != stateInitiate || string(out.token) != "tok" || a.method != "TOKEN" || a.protocol == nil || *a.protocol != "" || a.serverID == nil || *a.serverID != "default" || a.challenge != nil {
		t.Errorf("round trip = %+v / %+v", out, a)
	}
}

// Package digestmd5 implements the SASL DIGEST-MD5 mechanism (RFC 2831) as Hadoop uses it for TOKEN
// authentication: challenge parsing, the client response, verification of the server's rspauth,
// the server side (for test servers), and the integrity (auth-int) and RC4 privacy (auth-conf)
// security layers. Everything here is pure computation; no I/O.
package digestmd5

import (
	"crypto/md5"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Quality-of-protection values.
const (
	QOPAuth     = "auth"      // authentication only (hadoop.rpc.protection=authentication)
	QOPAuthInt  = "auth-int"  // integrity (hadoop.rpc.protection=integrity)
	QOPAuthConf = "auth-conf" // privacy (hadoop.rpc.protection=privacy)
)

// DefaultMaxBuf is the default maximum buffer size of the security layer.
const DefaultMaxBuf = 65536

// ErrProtocol reports a DIGEST-MD5 message that violates RFC 2831 or does not match this exchange.
var ErrProtocol = errors.New("DIGEST-MD5 protocol error")

// ErrAuthFailed reports that the peer did not prove knowledge of the shared secret.
var ErrAuthFailed = errors.New("DIGEST-MD5 authentication failed")

// ParseDirectives parses a comma-separated list of name=value directives, where a value is a token
// or a quoted string with backslash escapes. A name may repeat (e.g. realm); values are collected in
// order.
func ParseDirectives(b []byte) (map[string][]string, error) {
	s := string(b)
	out := map[string][]string{}
	i := 0
	for {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == ',' || s[i] == '\r' || s[i] == '\n') {
			i++
		}
		if i >= len(s) {
			return out, nil
		}
		start := i
		for i < len(s) && s[i] != '=' && s[i] != ',' {
			i++
		}
		if i >= len(s) || s[i] != '=' {
			return nil, fmt.Errorf("%w: directive %q has no value", ErrProtocol, strings.TrimSpace(s[start:i]))
		}
		name := strings.ToLower(strings.TrimSpace(s[start:i]))
		if name == "" {
			return nil, fmt.Errorf("%w: empty directive name at offset %d", ErrProtocol, start)
		}
		i++ // '='
		for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
			i++
		}
		var val strings.Builder
		if i < len(s) && s[i] == '"' {
			i++
			closed := false
			for i < len(s) {
				c := s[i]
				if c == '\\' && i+1 < len(s) {
					val.WriteByte(s[i+1])
					i += 2
					continue
				}
				if c == '"' {
					closed = true
					i++
					break
				}
				val.WriteByte(c)
				i++
			}
			if !closed {
				return nil, fmt.Errorf("%w: unterminated quoted value of %q", ErrProtocol, name)
			}
		} else {
			vs := i
			for i < len(s) && s[i] != ',' {
				i++
			}
			val.WriteString(strings.TrimSpace(s[vs:i]))
		}
		out[name] = append(out[name], val.String())
	}
}

// Challenge is a parsed server challenge (RFC 2831 §2.1.1).
type Challenge struct {
	Realms    []string
	Nonce     string
	QOPs      []string
	Ciphers   []string
	Charset   string
	Algorithm string
	MaxBuf    int
}

// ParseChallenge parses and validates a digest-challenge.
func ParseChallenge(b []byte) (*Challenge, error) {
	d, err := ParseDirectives(b)
	if err != nil {
		return nil, err
	}
	one := func(name string) (string, error) {
		v := d[name]
		if len(v) > 1 {
			return "", fmt.Errorf("%w: directive %q appears %d times", ErrProtocol, name, len(v))
		}
		if len(v) == 0 {
			return "", nil
		}
		return v[0], nil
	}
	c := &Challenge{Realms: d["realm"], MaxBuf: DefaultMaxBuf}
	if c.Nonce, err = one("nonce"); err != nil {
		return nil, err
	}
	if c.Nonce == "" {
		return nil, fmt.Errorf("%w: challenge has no nonce", ErrProtocol)
	}
	if c.Algorithm, err = one("algorithm"); err != nil {
		return nil, err
	}
	if c.Algorithm != "md5-sess" {
		return nil, fmt.Errorf("%w: challenge algorithm %q, want md5-sess", ErrProtocol, c.Algorithm)
	}
	if c.Charset, err = one("charset"); err != nil {
		return nil, err
	}
	qop, err := one("qop")
	if err != nil {
		return nil, err
	}
	if qop == "" {
		c.QOPs = []string{QOPAuth}
	} else {
		c.QOPs = splitList(qop)
	}
	if ciphers, err := one("cipher"); err != nil {
		return nil, err
	} else if ciphers != "" {
		c.Ciphers = splitList(ciphers)
	}
	if mb, err := one("maxbuf"); err != nil {
		return nil, err
	} else if mb != "" {
		n, err := strconv.Atoi(mb)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("%w: bad maxbuf %q", ErrProtocol, mb)
		}
		c.MaxBuf = n
	}
	return c, nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func md5sum(parts ...string) []byte {
	h := md5.New()
	for _, p := range parts {
		h.Write([]byte(p))
	}
	return h.Sum(nil)
}

func hexmd5(parts ...string) string { return hex.EncodeToString(md5sum(parts...)) }

// SessionKey computes H(A1) for md5-sess: MD5( MD5(user:realm:password) ":" nonce ":" cnonce [":" authzid] ).
func SessionKey(username, realm, password, nonce, cnonce, authzid string) []byte {
	inner := md5sum(username, ":", realm, ":", password)
	parts := []string{string(inner), ":", nonce, ":", cnonce}
	if authzid != "" {
		parts = append(parts, ":", authzid)
	}
	return md5sum(parts...)
}

// ResponseValue computes the 32-hex-digit response (client) or rspauth (server, when server is true)
// value for a session key H(A1).
func ResponseValue(ha1 []byte, nonce, nc, cnonce, qop, digestURI string, server bool) string {
	a2 := "AUTHENTICATE:" + digestURI
	if server {
		a2 = ":" + digestURI
	}
	if qop == QOPAuthInt || qop == QOPAuthConf {
		a2 += ":00000000000000000000000000000000"
	}
	return hexmd5(hex.EncodeToString(ha1), ":", nonce, ":", nc, ":", cnonce, ":", qop, ":", hexmd5(a2))
}

// quote renders a quoted-string value.
func quote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`)
	return `"` + r.Replace(s) + `"`
}

// Client is the client side of one DIGEST-MD5 exchange.
type Client struct {
	// Username and Password are the credentials; for Hadoop tokens they are the standard Base64 of
	// the token identifier and of the token password.
	Username, Password string
	// Protocol and ServerID form the digest-uri "protocol/serverId"; Hadoop TOKEN auth uses "" and
	// "default", giving "/default".
	Protocol, ServerID string
	// QOPs lists acceptable qualities of protection, preferred first. Empty means [auth].
	QOPs []string
	// CNonce overrides the random client nonce (tests only).
	CNonce string

	ha1       []byte
	nonce     string
	cnonce    string
	qop       string
	cipher    string
	digestURI string
	maxBuf    int
	responded bool
	complete  bool
}

// Respond evaluates the server's challenge and returns the digest-response.
func (c *Client) Respond(challenge []byte) ([]byte, error) {
	if c.responded {
		return nil, fmt.Errorf("%w: second challenge in one exchange", ErrProtocol)
	}
	ch, err := ParseChallenge(challenge)
	if err != nil {
		return nil, err
	}
	prefs := c.QOPs
	if len(prefs) == 0 {
		prefs = []string{QOPAuth}
	}
	for _, q := range prefs {
		if slices.Contains(ch.QOPs, q) {
			c.qop = q
			break
		}
	}
	if c.qop == "" {
		return nil, fmt.Errorf("%w: server offers qop %v, client accepts %v (check hadoop.rpc.protection)", ErrProtocol, ch.QOPs, prefs)
	}
	if c.qop == QOPAuthConf {
		for _, want := range []string{"rc4", "rc4-56", "rc4-40"} {
			if slices.Contains(ch.Ciphers, want) {
				c.cipher = want
				break
			}
		}
		if c.cipher == "" {
			return nil, fmt.Errorf("%w: privacy (auth-conf) needs cipher rc4, rc4-56 or rc4-40; server offers %v", ErrProtocol, ch.Ciphers)
		}
	}
	realm := ""
	if len(ch.Realms) > 0 {
		realm = ch.Realms[0]
	}
	c.cnonce = c.CNonce
	if c.cnonce == "" {
		var rnd [24]byte
		if _, err := rand.Read(rnd[:]); err != nil {
			return nil, fmt.Errorf("generating cnonce: %w", err)
		}
		c.cnonce = base64.StdEncoding.EncodeToString(rnd[:])
	}
	c.nonce = ch.Nonce
	c.maxBuf = ch.MaxBuf
	c.digestURI = c.Protocol + "/" + c.ServerID
	const nc = "00000001"
	c.ha1 = SessionKey(c.Username, realm, c.Password, c.nonce, c.cnonce, "")
	resp := ResponseValue(c.ha1, c.nonce, nc, c.cnonce, c.qop, c.digestURI, false)

	var b strings.Builder
	if strings.EqualFold(ch.Charset, "utf-8") {
		b.WriteString("charset=utf-8,")
	}
	fmt.Fprintf(&b, "username=%s,realm=%s,nonce=%s,nc=%s,cnonce=%s,digest-uri=%s,maxbuf=%d,response=%s,qop=%s",
		quote(c.Username), quote(realm), quote(c.nonce), nc, quote(c.cnonce), quote(c.digestURI), DefaultMaxBuf, resp, c.qop)
	if c.cipher != "" {
		fmt.Fprintf(&b, ",cipher=%s", quote(c.cipher))
	}
	c.responded = true
	return []byte(b.String()), nil
}

// Verify checks the server's final message ("rspauth=...") and completes the exchange.
func (c *Client) Verify(final []byte) error {
	if !c.responded {
		return fmt.Errorf("%w: server finished before the client responded", ErrProtocol)
	}
	d, err := ParseDirectives(final)
	if err != nil {
		return err
	}
	got := d["rspauth"]
	if len(got) != 1 {
		return fmt.Errorf("%w: server's final message has no rspauth (is the server really checking the token?)", ErrProtocol)
	}
	want := ResponseValue(c.ha1, c.nonce, "00000001", c.cnonce, c.qop, c.digestURI, true)
	if subtle.ConstantTimeCompare([]byte(got[0]), []byte(want)) != 1 {
		return fmt.Errorf("%w: server's rspauth does not match (server does not know the token password)", ErrAuthFailed)
	}
	c.complete = true
	return nil
}

// Complete reports whether the exchange finished and the server was verified.
func (c *Client) Complete() bool { return c.complete }

// QOP returns the negotiated quality of protection (after Respond).
func (c *Client) QOP() string { return c.qop }

// SecurityLayer returns the wrapper for the negotiated QOP, or nil for auth (no wrapping).
func (c *Client) SecurityLayer() (*SecurityLayer, error) {
	if !c.complete {
		return nil, fmt.Errorf("%w: exchange not complete", ErrProtocol)
	}
	return newSecurityLayer(c.ha1, c.qop, c.cipher, true, c.maxBuf)
}

// Package tokenauth authenticates a Hadoop IPC connection with a token
// (delegation token) over SASL DIGEST-MD5 (RFC 2831), the way Hadoop's
// SaslRpcClient does for AuthMethod TOKEN. It speaks only the handshake:
// the preamble, NEGOTIATE, INITIATE and the final SUCCESS. The caller then
// continues the connection (connection context, calls) itself.
//
// All three qualities of protection are supported: auth (hadoop.rpc.protection
// = authentication), auth-int (integrity) and auth-conf (privacy, with the RC4
// ciphers). With integrity or privacy the server wraps its responses, and
// Layer unwraps them; like Hadoop's server, which processes plain requests
// even on a wrapped connection, requests are sent as they are (colinmarc
// does the same for Kerberos).
package tokenauth

import (
	"crypto/md5"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// challenge holds the directives of a DIGEST-MD5 server challenge.
type challenge struct {
	realm     string
	nonce     string
	qop       []string
	ciphers   []string
	charset   string
	algorithm string
}

// parseChallenge parses `key=value` / `key="value"` pairs separated by commas.
func parseChallenge(b []byte) (challenge, error) {
	var c challenge
	s := string(b)
	for len(s) > 0 {
		s = strings.TrimLeft(s, " \t,")
		if s == "" {
			break
		}
		eq := strings.IndexByte(s, '=')
		if eq <= 0 {
			return c, fmt.Errorf("digest-md5: malformed challenge near %q", s)
		}
		key := strings.ToLower(strings.TrimSpace(s[:eq]))
		s = s[eq+1:]
		var val string
		if strings.HasPrefix(s, `"`) {
			var sb strings.Builder
			i := 1
			for ; i < len(s); i++ {
				if s[i] == '\\' && i+1 < len(s) {
					i++
					sb.WriteByte(s[i])
					continue
				}
				if s[i] == '"' {
					break
				}
				sb.WriteByte(s[i])
			}
			if i >= len(s) {
				return c, errors.New("digest-md5: unterminated quoted value in challenge")
			}
			val, s = sb.String(), s[i+1:]
		} else {
			end := strings.IndexByte(s, ',')
			if end < 0 {
				end = len(s)
			}
			val, s = strings.TrimSpace(s[:end]), s[end:]
		}
		switch key {
		case "realm":
			c.realm = val
		case "nonce":
			c.nonce = val
		case "qop":
			for _, q := range strings.Split(val, ",") {
				c.qop = append(c.qop, strings.TrimSpace(q))
			}
		case "cipher":
			for _, x := range strings.Split(val, ",") {
				c.ciphers = append(c.ciphers, strings.TrimSpace(x))
			}
		case "charset":
			c.charset = val
		case "algorithm":
			c.algorithm = val
		}
	}
	if c.nonce == "" {
		return c, errors.New("digest-md5: challenge has no nonce")
	}
	if c.algorithm != "md5-sess" {
		return c, fmt.Errorf("digest-md5: challenge algorithm %q, want md5-sess", c.algorithm)
	}
	if len(c.qop) == 0 {
		c.qop = []string{"auth"} // RFC 2831 default
	}
	return c, nil
}

// digestClient computes the client side of one DIGEST-MD5 authentication.
type digestClient struct {
	username, password string // base64 of the token identifier and password
	digestURI          string // protocol + "/" + serverId, "/default" for Hadoop tokens
	cnonce             string
	ch                 challenge
	a1                 []byte
	qop                string // chosen: auth, auth-int or auth-conf
	cipher             string // chosen for auth-conf
}

// newDigestClient prepares a client for a Hadoop token.
func newDigestClient(identifier, password []byte, protocol, serverID string) *digestClient {
	return &digestClient{
		username:  base64.StdEncoding.EncodeToString(identifier),
		password:  base64.StdEncoding.EncodeToString(password),
		digestURI: protocol + "/" + serverID,
	}
}

// rc4KeyLen maps the RC4 ciphers this client speaks to the number of H(A1)
// bytes their sealing keys use (RFC 2831 2.4).
var rc4KeyLen = map[string]int{"rc4": 16, "rc4-56": 7, "rc4-40": 5}

// respond answers a server challenge with the digest-response. It picks the
// strongest quality of protection the server offers (auth-conf with an RC4
// cipher, then auth-int, then auth), as Hadoop clients take what the server's
// hadoop.rpc.protection demands.
func (d *digestClient) respond(chal []byte) ([]byte, error) {
	ch, err := parseChallenge(chal)
	if err != nil {
		return nil, err
	}
	offered := map[string]bool{}
	for _, q := range ch.qop {
		offered[q] = true
	}
	switch {
	case offered["auth-conf"] && d.pickCipher(ch.ciphers):
		d.qop = "auth-conf"
	case offered["auth-int"]:
		d.qop = "auth-int"
	case offered["auth"]:
		d.qop = "auth"
	default:
		return nil, fmt.Errorf("digest-md5: the server offers qop %v and ciphers %v; supported: auth, auth-int, auth-conf with rc4", ch.qop, ch.ciphers)
	}
	d.ch = ch
	if d.cnonce == "" {
		var raw [16]byte
		if _, err := rand.Read(raw[:]); err != nil {
			return nil, fmt.Errorf("digest-md5: cnonce: %w", err)
		}
		d.cnonce = base64.StdEncoding.EncodeToString(raw[:])
	}
	userHash := md5.Sum([]byte(d.username + ":" + ch.realm + ":" + d.password))
	d.a1 = append(userHash[:], []byte(":"+ch.nonce+":"+d.cnonce)...)
	resp := d.responseValue("AUTHENTICATE:" + d.digestURI + d.a2Suffix())

	var b strings.Builder
	if ch.charset == "utf-8" {
		b.WriteString("charset=utf-8,")
	}
	fmt.Fprintf(&b, `username="%s",realm="%s",nonce="%s",nc=00000001,cnonce="%s",digest-uri="%s",maxbuf=65536,response=%s,qop=%s`,
		quote(d.username), quote(ch.realm), quote(ch.nonce), quote(d.cnonce), quote(d.digestURI), resp, d.qop)
	if d.qop == "auth-conf" {
		fmt.Fprintf(&b, ",cipher=%s", d.cipher)
	}
	return []byte(b.String()), nil
}

func (d *digestClient) pickCipher(offered []string) bool {
	for _, want := range []string{"rc4", "rc4-56", "rc4-40"} {
		for _, c := range offered {
			if c == want {
				d.cipher = want
				return true
			}
		}
	}
	return false
}

// a2Suffix is what A2 carries beyond the digest-uri for integrity and privacy.
func (d *digestClient) a2Suffix() string {
	if d.qop == "auth-int" || d.qop == "auth-conf" {
		return ":00000000000000000000000000000000"
	}
	return ""
}

// verify checks the server's final "rspauth=..." (mutual authentication).
func (d *digestClient) verify(final []byte) error {
	s := strings.TrimSpace(string(final))
	if !strings.HasPrefix(s, "rspauth=") {
		return fmt.Errorf("digest-md5: server's final message %q has no rspauth", s)
	}
	want := d.responseValue(":" + d.digestURI + d.a2Suffix())
	if strings.Trim(strings.TrimPrefix(s, "rspauth="), `"`) != want {
		return errors.New("digest-md5: the server's rspauth does not match: it does not know the token password")
	}
	return nil
}

func (d *digestClient) responseValue(a2 string) string {
	ha1 := md5.Sum(d.a1)
	ha2 := md5.Sum([]byte(a2))
	kd := hex.EncodeToString(ha1[:]) + ":" + d.ch.nonce + ":00000001:" + d.cnonce + ":" + d.qop + ":" + hex.EncodeToString(ha2[:])
	sum := md5.Sum([]byte(kd))
	return hex.EncodeToString(sum[:])
}

func quote(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s)
}

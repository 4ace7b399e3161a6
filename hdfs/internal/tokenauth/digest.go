// Package tokenauth authenticates a Hadoop IPC connection with a token
// (delegation token) over SASL DIGEST-MD5 (RFC 2831), the way Hadoop's
// SaslRpcClient does for AuthMethod TOKEN. It speaks only the handshake:
// the preamble, NEGOTIATE, INITIATE and the final SUCCESS. The caller then
// continues the connection (connection context, calls) itself.
//
// Only the "auth" quality of protection is supported (hadoop.rpc.protection
// = authentication, Hadoop's default); a server that insists on integrity or
// privacy is refused with a clear error.
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
}

// newDigestClient prepares a client for a Hadoop token.
func newDigestClient(identifier, password []byte, protocol, serverID string) *digestClient {
	return &digestClient{
		username:  base64.StdEncoding.EncodeToString(identifier),
		password:  base64.StdEncoding.EncodeToString(password),
		digestURI: protocol + "/" + serverID,
	}
}

// respond answers a server challenge with the digest-response.
func (d *digestClient) respond(chal []byte) ([]byte, error) {
	ch, err := parseChallenge(chal)
	if err != nil {
		return nil, err
	}
	hasAuth := false
	for _, q := range ch.qop {
		if q == "auth" {
			hasAuth = true
		}
	}
	if !hasAuth {
		return nil, fmt.Errorf("digest-md5: the server requires qop %v (hadoop.rpc.protection integrity/privacy), only authentication is supported for token logins", ch.qop)
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
	resp := d.responseValue("AUTHENTICATE:" + d.digestURI)

	var b strings.Builder
	if ch.charset == "utf-8" {
		b.WriteString("charset=utf-8,")
	}
	fmt.Fprintf(&b, `username="%s",realm="%s",nonce="%s",nc=00000001,cnonce="%s",digest-uri="%s",maxbuf=65536,response=%s,qop=auth`,
		quote(d.username), quote(ch.realm), quote(ch.nonce), quote(d.cnonce), quote(d.digestURI), resp)
	return []byte(b.String()), nil
}

// verify checks the server's final "rspauth=..." (mutual authentication).
func (d *digestClient) verify(final []byte) error {
	s := strings.TrimSpace(string(final))
	if !strings.HasPrefix(s, "rspauth=") {
		return fmt.Errorf("digest-md5: server's final message %q has no rspauth", s)
	}
	want := d.responseValue(":" + d.digestURI)
	if strings.Trim(strings.TrimPrefix(s, "rspauth="), `"`) != want {
		return errors.New("digest-md5: the server's rspauth does not match: it does not know the token password")
	}
	return nil
}

func (d *digestClient) responseValue(a2 string) string {
	ha1 := md5.Sum(d.a1)
	ha2 := md5.Sum([]byte(a2))
	kd := hex.EncodeToString(ha1[:]) + ":" + d.ch.nonce + ":00000001:" + d.cnonce + ":auth:" + hex.EncodeToString(ha2[:])
	sum := md5.Sum([]byte(kd))
	return hex.EncodeToString(sum[:])
}

func quote(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s)
}

package digestmd5

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
)

// Server is the server side of one DIGEST-MD5 exchange. flink-go only needs it for in-process test
// servers, but it follows RFC 2831 and checks what a Hadoop server checks.
type Server struct {
	// Realm is sent in the challenge; Hadoop uses "default".
	Realm string
	// Protocol and ServerID form the expected digest-uri.
	Protocol, ServerID string
	// QOPs are offered in the challenge, e.g. [auth] or [auth-conf, auth-int, auth].
	QOPs []string
	// Nonce overrides the random nonce (tests only).
	Nonce string
	// Lookup returns the password for a username or an error if it is unknown.
	Lookup func(username string) (string, error)

	nonce    string
	ha1      []byte
	qop      string
	cipher   string
	username string
}

// Challenge returns the initial digest-challenge.
func (s *Server) Challenge() ([]byte, error) {
	s.nonce = s.Nonce
	if s.nonce == "" {
		var rnd [24]byte
		if _, err := rand.Read(rnd[:]); err != nil {
			return nil, fmt.Errorf("generating nonce: %w", err)
		}
		s.nonce = base64.StdEncoding.EncodeToString(rnd[:])
	}
	qops := s.QOPs
	if len(qops) == 0 {
		qops = []string{QOPAuth}
	}
	c := fmt.Sprintf("realm=%s,nonce=%s,qop=%s,charset=utf-8", quote(s.Realm), quote(s.nonce), quote(strings.Join(qops, ",")))
	if slices.Contains(qops, QOPAuthConf) {
		c += `,cipher="rc4,rc4-56,rc4-40"`
	}
	return []byte(c + ",algorithm=md5-sess"), nil
}

// Verify checks a digest-response and returns the server's final message (rspauth=...).
func (s *Server) Verify(response []byte) ([]byte, error) {
	d, err := ParseDirectives(response)
	if err != nil {
		return nil, err
	}
	get := func(name string) string {
		if v := d[name]; len(v) == 1 {
			return v[0]
		}
		return ""
	}
	if get("nonce") != s.nonce {
		return nil, fmt.Errorf("%w: response nonce does not match the challenge", ErrProtocol)
	}
	if get("nc") != "00000001" {
		return nil, fmt.Errorf("%w: nonce count %q, want 00000001", ErrProtocol, get("nc"))
	}
	if want := s.Protocol + "/" + s.ServerID; get("digest-uri") != want {
		return nil, fmt.Errorf("%w: digest-uri %q, want %q", ErrProtocol, get("digest-uri"), want)
	}
	qop := get("qop")
	if qop == "" {
		qop = QOPAuth
	}
	offered := s.QOPs
	if len(offered) == 0 {
		offered = []string{QOPAuth}
	}
	if !slices.Contains(offered, qop) {
		return nil, fmt.Errorf("%w: client chose qop %q, not offered", ErrProtocol, qop)
	}
	if get("realm") != s.Realm {
		return nil, fmt.Errorf("%w: realm %q, want %q", ErrProtocol, get("realm"), s.Realm)
	}
	user := get("username")
	if s.Lookup == nil {
		return nil, fmt.Errorf("%w: no password lookup configured", ErrAuthFailed)
	}
	pw, err := s.Lookup(user)
	if err != nil {
		return nil, fmt.Errorf("%w: unknown user: %w", ErrAuthFailed, err)
	}
	cnonce := get("cnonce")
	ha1 := SessionKey(user, s.Realm, pw, s.nonce, cnonce, get("authzid"))
	want := ResponseValue(ha1, s.nonce, "00000001", cnonce, qop, get("digest-uri"), false)
	if subtle.ConstantTimeCompare([]byte(want), []byte(get("response"))) != 1 {
		return nil, fmt.Errorf("%w: wrong response digest (bad token password?)", ErrAuthFailed)
	}
	s.ha1, s.qop, s.cipher, s.username = ha1, qop, get("cipher"), user
	return []byte("rspauth=" + ResponseValue(ha1, s.nonce, "00000001", cnonce, qop, get("digest-uri"), true)), nil
}

// Username returns the authenticated username (after Verify).
func (s *Server) Username() string { return s.username }

// QOP returns the negotiated quality of protection (after Verify).
func (s *Server) QOP() string { return s.qop }

// SecurityLayer returns the server's wrapper for the negotiated QOP, or nil for auth.
func (s *Server) SecurityLayer() (*SecurityLayer, error) {
	if s.ha1 == nil {
		return nil, fmt.Errorf("%w: exchange not complete", ErrProtocol)
	}
	return newSecurityLayer(s.ha1, s.qop, s.cipher, false, DefaultMaxBuf)
}

package tokenauth

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/rc4" //nolint:staticcheck // DIGEST-MD5 auth-conf is defined with RC4 (RFC 2831 2.4); Hadoop negotiates it.
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Layer unwraps what the server sends once integrity (auth-int) or privacy
// (auth-conf) was negotiated: RFC 2831 sections 2.3 and 2.4, server-to-client
// direction. It is not safe for concurrent use (one reader per connection).
type Layer struct {
	qop     string
	macKey  []byte      // Kis
	cipher  *rc4.Cipher // for auth-conf, keyed with Kcs; a stream across messages
	nextSeq uint32
}

const (
	magicServerSign = "Digest session key to server-to-client signing key magic constant"
	magicServerSeal = "Digest H(A1) to server-to-client sealing key magic constant"
)

// layer builds the security layer for the negotiated qop; nil for "auth".
func (d *digestClient) layer() (*Layer, error) {
	if d.qop == "auth" {
		return nil, nil
	}
	ha1 := md5.Sum(d.a1)
	kis := md5.Sum(append(ha1[:], magicServerSign...))
	l := &Layer{qop: d.qop, macKey: kis[:]}
	if d.qop == "auth-conf" {
		n, ok := rc4KeyLen[d.cipher]
		if !ok {
			return nil, fmt.Errorf("digest-md5: cipher %q not supported", d.cipher)
		}
		kcs := md5.Sum(append(append([]byte{}, ha1[:n]...), magicServerSeal...))
		c, err := rc4.NewCipher(kcs[:])
		if err != nil {
			return nil, fmt.Errorf("digest-md5: %w", err)
		}
		l.cipher = c
	}
	return l, nil
}

// QOP is the negotiated quality of protection ("auth-int" or "auth-conf").
func (l *Layer) QOP() string { return l.qop }

// Unwrap checks (and for auth-conf decrypts) one wrapped message from the
// server and returns its payload.
func (l *Layer) Unwrap(tok []byte) ([]byte, error) {
	// Both layouts end in msgType (2 bytes, 1) and the sequence number (4 bytes).
	if len(tok) < 16 {
		return nil, fmt.Errorf("digest-md5: wrapped message of %d bytes is too short", len(tok))
	}
	body, trailer := tok[:len(tok)-6], tok[len(tok)-6:]
	if binary.BigEndian.Uint16(trailer[:2]) != 1 {
		return nil, errors.New("digest-md5: wrapped message has a bad message type")
	}
	seq := binary.BigEndian.Uint32(trailer[2:])
	if seq != l.nextSeq {
		return nil, fmt.Errorf("digest-md5: sequence number %d, want %d (message lost or replayed)", seq, l.nextSeq)
	}
	if l.cipher != nil {
		plain := make([]byte, len(body))
		l.cipher.XORKeyStream(plain, body)
		body = plain
	}
	if len(body) < 10 {
		return nil, errors.New("digest-md5: wrapped message has no MAC")
	}
	msg, mac := body[:len(body)-10], body[len(body)-10:]
	h := hmac.New(md5.New, l.macKey)
	h.Write(trailer[2:])
	h.Write(msg)
	if !hmac.Equal(h.Sum(nil)[:10], mac) {
		return nil, errors.New("digest-md5: wrapped message fails its integrity check")
	}
	l.nextSeq++
	return msg, nil
}

// Reader returns a reader of the plain byte stream inside the server's
// wrapped frames on r: each frame is an RPC response for call id -33 carrying
// an RpcSaslProto in state WRAP, whose token unwraps to an ordinary
// length-prefixed RPC response.
func (l *Layer) Reader(r io.Reader) io.Reader { return &unwrapReader{l: l, r: r} }

type unwrapReader struct {
	l   *Layer
	r   io.Reader
	buf []byte
}

func (u *unwrapReader) Read(p []byte) (int, error) {
	for len(u.buf) == 0 {
		m, err := readSASL(u.r)
		if err != nil {
			return 0, err
		}
		if m.state != stateWrap {
			return 0, fmt.Errorf("digest-md5: expected a WRAP message from the server, got state %d", m.state)
		}
		if u.buf, err = u.l.Unwrap(m.token); err != nil {
			return 0, err
		}
	}
	n := copy(p, u.buf)
	u.buf = u.buf[n:]
	return n, nil
}

package digestmd5

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/rc4"
	"encoding/binary"
	"fmt"
)

// Key-derivation magic strings (RFC 2831 §2.3 and §2.4).
const (
	magicClientSign = "Digest session key to client-to-server signing key magic constant"
	magicServerSign = "Digest session key to server-to-client signing key magic constant"
	magicClientSeal = "Digest H(A1) to client-to-server sealing key magic constant"
	magicServerSeal = "Digest H(A1) to server-to-client sealing key magic constant"
)

// SecurityLayer wraps and unwraps messages after an auth-int or auth-conf exchange. Wrap and Unwrap
// keep separate state (sequence numbers, RC4 streams), so one goroutine may wrap while another
// unwraps; each direction itself must be used by one goroutine at a time.
type SecurityLayer struct {
	qop              string
	sendKi, recvKi   []byte
	sendRC4, recvRC4 *rc4.Cipher
	sendSeq, recvSeq uint32
	// MaxBuf is the peer's maximum receive buffer: wrapped messages should not exceed it.
	MaxBuf int
}

func newSecurityLayer(ha1 []byte, qop, cipher string, client bool, maxBuf int) (*SecurityLayer, error) {
	if qop == QOPAuth {
		return nil, nil
	}
	kic := md5.Sum(append(append([]byte{}, ha1...), magicClientSign...))
	kis := md5.Sum(append(append([]byte{}, ha1...), magicServerSign...))
	l := &SecurityLayer{qop: qop, MaxBuf: maxBuf}
	if client {
		l.sendKi, l.recvKi = kic[:], kis[:]
	} else {
		l.sendKi, l.recvKi = kis[:], kic[:]
	}
	if qop == QOPAuthConf {
		n := 16
		switch cipher {
		case "rc4":
		case "rc4-56":
			n = 7
		case "rc4-40":
			n = 5
		default:
			return nil, fmt.Errorf("%w: unsupported cipher %q", ErrProtocol, cipher)
		}
		kcc := md5.Sum(append(append([]byte{}, ha1[:n]...), magicClientSeal...))
		kcs := md5.Sum(append(append([]byte{}, ha1[:n]...), magicServerSeal...))
		cc, err := rc4.NewCipher(kcc[:])
		if err != nil {
			return nil, fmt.Errorf("rc4 key: %w", err)
		}
		cs, err := rc4.NewCipher(kcs[:])
		if err != nil {
			return nil, fmt.Errorf("rc4 key: %w", err)
		}
		if client {
			l.sendRC4, l.recvRC4 = cc, cs
		} else {
			l.sendRC4, l.recvRC4 = cs, cc
		}
	} else if qop != QOPAuthInt {
		return nil, fmt.Errorf("%w: unknown qop %q", ErrProtocol, qop)
	}
	return l, nil
}

// QOP returns the layer's quality of protection.
func (l *SecurityLayer) QOP() string { return l.qop }

func mac(key []byte, seq uint32, msg []byte) []byte {
	h := hmac.New(md5.New, key)
	var s [4]byte
	binary.BigEndian.PutUint32(s[:], seq)
	h.Write(s[:])
	h.Write(msg)
	return h.Sum(nil)[:10]
}

// Wrap protects msg: msg|MAC (auth-int) or RC4(msg|MAC) (auth-conf), followed by the message type
// 0x0001 and the 4-byte sequence number.
func (l *SecurityLayer) Wrap(msg []byte) []byte {
	m := mac(l.sendKi, l.sendSeq, msg)
	out := make([]byte, 0, len(msg)+16)
	out = append(out, msg...)
	out = append(out, m...)
	if l.sendRC4 != nil {
		l.sendRC4.XORKeyStream(out, out)
	}
	out = append(out, 0, 1)
	out = binary.BigEndian.AppendUint32(out, l.sendSeq)
	l.sendSeq++
	return out
}

// Unwrap verifies and strips the protection added by the peer's Wrap.
func (l *SecurityLayer) Unwrap(tok []byte) ([]byte, error) {
	if len(tok) < 16 {
		return nil, fmt.Errorf("%w: wrapped message of %d bytes is shorter than its 16-byte trailer", ErrProtocol, len(tok))
	}
	if tok[len(tok)-6] != 0 || tok[len(tok)-5] != 1 {
		return nil, fmt.Errorf("%w: wrapped message type %x, want 0001", ErrProtocol, tok[len(tok)-6:len(tok)-4])
	}
	seq := binary.BigEndian.Uint32(tok[len(tok)-4:])
	if seq != l.recvSeq {
		return nil, fmt.Errorf("%w: sequence number %d, want %d (message lost or replayed)", ErrAuthFailed, seq, l.recvSeq)
	}
	body := append([]byte{}, tok[:len(tok)-6]...)
	if l.recvRC4 != nil {
		l.recvRC4.XORKeyStream(body, body)
	}
	msg, got := body[:len(body)-10], body[len(body)-10:]
	if !hmac.Equal(got, mac(l.recvKi, seq, msg)) {
		return nil, fmt.Errorf("%w: message integrity check failed", ErrAuthFailed)
	}
	l.recvSeq++
	return msg, nil
}

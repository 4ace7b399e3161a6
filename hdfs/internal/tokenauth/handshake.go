package tokenauth

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
)

// Preamble is what a Hadoop IPC client writes first: "hrpc", version 9,
// service class 0, auth protocol. A SIMPLE client's auth byte is 0x00.
var (
	PreambleSimple = []byte{'h', 'r', 'p', 'c', 9, 0, 0x00}
	preambleSASL   = []byte{'h', 'r', 'p', 'c', 9, 0, 0xDF}
)

// SASL states (RpcSaslProto.SaslState).
const (
	stateSuccess   = 0
	stateNegotiate = 1
	stateInitiate  = 2
	stateChallenge = 3
	stateResponse  = 4
	stateWrap      = 5
)

const saslCallID = -33

// saslAuth is RpcSaslProto.SaslAuth with field presence kept: the server
// compares the auth the client echoes with protobuf equality, so a field it
// set to "" must come back set to "".
type saslAuth struct {
	method, mechanism  string
	protocol, serverID *string
	challenge          []byte
}

type saslMsg struct {
	state int
	token []byte
	auths []saslAuth
}

// Handshake authenticates conn with the token (identifier, password): it
// writes the SASL preamble and runs the TOKEN/DIGEST-MD5 exchange. On success
// the server expects the connection context next; the returned Layer is nil
// for qop auth, else it must unwrap everything the server sends from now on.
// deadline bounds the whole exchange (zero: none).
func Handshake(conn net.Conn, identifier, password []byte, deadline time.Time) (*Layer, error) {
	dc, err := handshake(conn, identifier, password, deadline)
	if err != nil {
		return nil, err
	}
	return dc.layer()
}

func handshake(conn net.Conn, identifier, password []byte, deadline time.Time) (*digestClient, error) {
	if !deadline.IsZero() {
		if err := conn.SetDeadline(deadline); err != nil {
			return nil, err
		}
		defer conn.SetDeadline(time.Time{})
	}
	r := bufio.NewReader(conn)
	if _, err := conn.Write(preambleSASL); err != nil {
		return nil, fmt.Errorf("token auth: write preamble: %w", err)
	}
	if err := writeSASL(conn, saslMsg{state: stateNegotiate}); err != nil {
		return nil, err
	}
	neg, err := readSASL(r)
	if err != nil {
		return nil, err
	}
	if neg.state == stateSuccess {
		return nil, errors.New("token auth: the server accepts SIMPLE only and answered NEGOTIATE with SUCCESS: no token needed (is security off?)")
	}
	if neg.state != stateNegotiate {
		return nil, fmt.Errorf("token auth: server answered NEGOTIATE with state %d", neg.state)
	}
	var chosen *saslAuth
	var offered []string
	for i := range neg.auths {
		a := &neg.auths[i]
		offered = append(offered, a.method+"/"+a.mechanism)
		if a.method == "TOKEN" && a.mechanism == "DIGEST-MD5" && chosen == nil {
			chosen = a
		}
	}
	if chosen == nil {
		return nil, fmt.Errorf("token auth: the server offers %v, not TOKEN/DIGEST-MD5", offered)
	}
	dc := newDigestClient(identifier, password, deref(chosen.protocol), deref(chosen.serverID))
	chal := chosen.challenge
	if len(chal) == 0 {
		return nil, errors.New("token auth: the server's TOKEN offer carries no DIGEST-MD5 challenge")
	}
	resp, err := dc.respond(chal)
	if err != nil {
		return nil, err
	}
	echo := *chosen
	echo.challenge = nil
	if err := writeSASL(conn, saslMsg{state: stateInitiate, token: resp, auths: []saslAuth{echo}}); err != nil {
		return nil, err
	}
	for {
		m, err := readSASL(r)
		if err != nil {
			return nil, err
		}
		switch m.state {
		case stateSuccess:
			if err := dc.verify(m.token); err != nil {
				return nil, err
			}
			if r.Buffered() > 0 {
				return nil, errors.New("token auth: unexpected bytes after SASL SUCCESS")
			}
			return dc, nil
		case stateChallenge:
			return nil, errors.New("token auth: unexpected second DIGEST-MD5 challenge")
		default:
			return nil, fmt.Errorf("token auth: unexpected SASL state %d", m.state)
		}
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// writeSASL frames [int32 len][delimited RpcRequestHeaderProto][delimited RpcSaslProto].
func writeSASL(w io.Writer, m saslMsg) error {
	var hdr []byte
	hdr = protowire.AppendTag(hdr, 1, protowire.VarintType) // rpcKind
	hdr = protowire.AppendVarint(hdr, 2)                    // RPC_PROTOCOL_BUFFER
	hdr = protowire.AppendTag(hdr, 2, protowire.VarintType) // rpcOp
	hdr = protowire.AppendVarint(hdr, 0)                    // RPC_FINAL_PACKET
	hdr = protowire.AppendTag(hdr, 3, protowire.VarintType) // callId (sint32)
	hdr = protowire.AppendVarint(hdr, protowire.EncodeZigZag(saslCallID))
	hdr = protowire.AppendTag(hdr, 4, protowire.BytesType) // clientId: empty
	hdr = protowire.AppendBytes(hdr, nil)
	hdr = protowire.AppendTag(hdr, 5, protowire.VarintType) // retryCount (sint32) -1
	hdr = protowire.AppendVarint(hdr, protowire.EncodeZigZag(-1))

	var body []byte
	body = protowire.AppendTag(body, 2, protowire.VarintType)
	body = protowire.AppendVarint(body, uint64(m.state))
	if m.token != nil {
		body = protowire.AppendTag(body, 3, protowire.BytesType)
		body = protowire.AppendBytes(body, m.token)
	}
	for _, a := range m.auths {
		var ab []byte
		ab = protowire.AppendTag(ab, 1, protowire.BytesType)
		ab = protowire.AppendString(ab, a.method)
		ab = protowire.AppendTag(ab, 2, protowire.BytesType)
		ab = protowire.AppendString(ab, a.mechanism)
		if a.protocol != nil {
			ab = protowire.AppendTag(ab, 3, protowire.BytesType)
			ab = protowire.AppendString(ab, *a.protocol)
		}
		if a.serverID != nil {
			ab = protowire.AppendTag(ab, 4, protowire.BytesType)
			ab = protowire.AppendString(ab, *a.serverID)
		}
		if a.challenge != nil {
			ab = protowire.AppendTag(ab, 5, protowire.BytesType)
			ab = protowire.AppendBytes(ab, a.challenge)
		}
		body = protowire.AppendTag(body, 4, protowire.BytesType)
		body = protowire.AppendBytes(body, ab)
	}

	var pkt []byte
	pkt = protowire.AppendVarint(pkt, uint64(len(hdr)))
	pkt = append(pkt, hdr...)
	pkt = protowire.AppendVarint(pkt, uint64(len(body)))
	pkt = append(pkt, body...)
	frame := binary.BigEndian.AppendUint32(nil, uint32(len(pkt)))
	if _, err := w.Write(append(frame, pkt...)); err != nil {
		return fmt.Errorf("token auth: write SASL message: %w", err)
	}
	return nil
}

// maxFrame bounds a SASL response frame (they are a few hundred bytes).
const maxFrame = 1 << 20

// readSASL reads one framed response and decodes its RpcSaslProto; an ERROR
// or FATAL header becomes an error carrying the server's exception.
func readSASL(r io.Reader) (saslMsg, error) {
	var lenBuf [4]byte
	if _, err := io.ReadFull(r, lenBuf[:]); err != nil {
		return saslMsg{}, fmt.Errorf("token auth: read SASL response (the server closed the connection: wrong token or not a Hadoop IPC port?): %w", err)
	}
	n := binary.BigEndian.Uint32(lenBuf[:])
	if n == 0 || n > maxFrame {
		return saslMsg{}, fmt.Errorf("token auth: SASL response frame of %d bytes", n)
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(r, buf); err != nil {
		return saslMsg{}, fmt.Errorf("token auth: read SASL response: %w", err)
	}
	hdr, rest, err := delimited(buf)
	if err != nil {
		return saslMsg{}, err
	}
	status, exc, msg, callID, err := parseResponseHeader(hdr)
	if err != nil {
		return saslMsg{}, err
	}
	if status != 0 {
		return saslMsg{}, fmt.Errorf("token auth: the server refused the token: %s: %s", exc, msg)
	}
	if int32(callID) != saslCallID {
		return saslMsg{}, fmt.Errorf("token auth: response for call %d during SASL", int32(callID))
	}
	body, _, err := delimited(rest)
	if err != nil {
		return saslMsg{}, err
	}
	return parseSASL(body)
}

func delimited(b []byte) (msg, rest []byte, err error) {
	l, n := protowire.ConsumeVarint(b)
	if n < 0 || uint64(len(b)-n) < l {
		return nil, nil, errors.New("token auth: truncated message in SASL response")
	}
	return b[n : n+int(l)], b[n+int(l):], nil
}

func parseResponseHeader(b []byte) (status uint64, exc, msg string, callID uint64, err error) {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return 0, "", "", 0, errors.New("token auth: bad response header")
		}
		b = b[n:]
		switch {
		case num == 1 && typ == protowire.VarintType:
			callID, n = protowire.ConsumeVarint(b)
		case num == 2 && typ == protowire.VarintType:
			status, n = protowire.ConsumeVarint(b)
		case num == 4 && typ == protowire.BytesType:
			exc, n = protowire.ConsumeString(b)
		case num == 5 && typ == protowire.BytesType:
			msg, n = protowire.ConsumeString(b)
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return 0, "", "", 0, errors.New("token auth: bad response header field")
		}
		b = b[n:]
	}
	return status, exc, msg, callID, nil
}

func parseSASL(b []byte) (saslMsg, error) {
	var m saslMsg
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return m, errors.New("token auth: bad RpcSaslProto")
		}
		b = b[n:]
		switch {
		case num == 2 && typ == protowire.VarintType:
			var v uint64
			v, n = protowire.ConsumeVarint(b)
			m.state = int(v)
		case num == 3 && typ == protowire.BytesType:
			var v []byte
			v, n = protowire.ConsumeBytes(b)
			m.token = append([]byte{}, v...)
		case num == 4 && typ == protowire.BytesType:
			var v []byte
			v, n = protowire.ConsumeBytes(b)
			if n >= 0 {
				a, err := parseAuth(v)
				if err != nil {
					return m, err
				}
				m.auths = append(m.auths, a)
			}
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return m, errors.New("token auth: bad RpcSaslProto field")
		}
		b = b[n:]
	}
	return m, nil
}

func parseAuth(b []byte) (saslAuth, error) {
	var a saslAuth
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return a, errors.New("token auth: bad SaslAuth")
		}
		b = b[n:]
		if typ != protowire.BytesType {
			n = protowire.ConsumeFieldValue(num, typ, b)
		} else {
			var v []byte
			v, n = protowire.ConsumeBytes(b)
			s := string(v)
			switch num {
			case 1:
				a.method = s
			case 2:
				a.mechanism = s
			case 3:
				a.protocol = &s
			case 4:
				a.serverID = &s
			case 5:
				a.challenge = append([]byte{}, v...)
			}
		}
		if n < 0 {
			return a, errors.New("token auth: bad SaslAuth field")
		}
		b = b[n:]
	}
	return a, nil
}

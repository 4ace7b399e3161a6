// Package ipctest is an in-process fake Hadoop IPC server for tests: it speaks the real wire
// protocol (preamble, SASL SIMPLE and TOKEN/DIGEST-MD5 with auth, auth-int and auth-conf, the
// connection context, multiplexed calls answered out of order, pings) and dispatches calls to
// handlers registered per method. It checks what a Hadoop server checks (rpcOp and rpcKind present,
// the context before calls, no user in the context with TOKEN auth) and answers violations with
// FATAL errors like Hadoop does.
package ipctest

import (
	"bufio"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"

	"google.golang.org/protobuf/proto"

	hadoopproto "github.com/flink-go/flink-go/yarn/internal/proto/hadoop"
	"github.com/flink-go/flink-go/yarn/ipc/internal/digestmd5"
	"github.com/flink-go/flink-go/yarn/ipc/internal/wire"
)

// Auth selects what the server accepts.
type Auth int

const (
	// AuthSimple accepts only the NONE auth byte (SIMPLE without SASL).
	AuthSimple Auth = iota
	// AuthToken accepts only SASL TOKEN/DIGEST-MD5 (like the RM scheduler and NM ports).
	AuthToken
	// AuthSimpleSASL accepts SASL but only offers SIMPLE: NEGOTIATE gets SUCCESS.
	AuthSimpleSASL
)

// Options configures a Server.
type Options struct {
	// Auth selects the accepted authentication.
	Auth Auth
	// Protocol is the protocol name served; calls for other protocols fail with
	// RpcNoSuchProtocolException. Empty accepts any.
	Protocol string
	// Password returns the token password for a token identifier (AuthToken).
	Password func(identifier []byte) ([]byte, error)
	// QOPs are offered in the DIGEST-MD5 challenge; empty means [auth].
	QOPs []string
	// NoInitialChallenge omits the challenge from the NEGOTIATE reply, forcing a CHALLENGE round.
	NoInitialChallenge bool
}

// Call is one incoming call.
type Call struct {
	Method   string
	Protocol string
	CallID   int32
	// User is the authenticated user: the context's effective user for SIMPLE, or the token
	// identifier (decoded) for TOKEN.
	User string
	// TokenIdentifier is the raw token identifier for TOKEN connections.
	TokenIdentifier []byte
	body            []byte
	clientID        []byte
}

// Decode unmarshals the request body.
func (c *Call) Decode(m proto.Message) error { return proto.Unmarshal(c.body, m) }

// Handler answers a call. Returning an *Exception sends it as an RPC error.
type Handler func(call *Call) (proto.Message, error)

// Exception is an error a handler returns to send a Java exception to the client.
type Exception struct {
	Class   string
	Message string
	// Fatal closes the connection after the reply (status FATAL).
	Fatal bool
}

// Error returns "class: message".
func (e *Exception) Error() string { return e.Class + ": " + e.Message }

// Server is a fake Hadoop IPC server listening on a loopback port.
type Server struct {
	// Addr is host:port to dial.
	Addr string

	opts     Options
	ln       net.Listener
	mu       sync.Mutex
	handlers map[string]Handler
	conns    map[net.Conn]struct{}
	contexts []*hadoopproto.IpcConnectionContextProto
	wg       sync.WaitGroup

	standby     atomic.Bool
	pings       atomic.Int64
	accepted    atomic.Int64
	calls       atomic.Int64
	wrappedRecv atomic.Int64
}

// New starts a server on 127.0.0.1 with a random port.
func New(opts Options) (*Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("ipctest: listen: %w", err)
	}
	s := &Server{Addr: ln.Addr().String(), opts: opts, ln: ln, handlers: map[string]Handler{}, conns: map[net.Conn]struct{}{}}
	s.wg.Add(1)
	go s.acceptLoop()
	return s, nil
}

// Handle registers the handler for method.
func (s *Server) Handle(method string, h Handler) {
	s.mu.Lock()
	s.handlers[method] = h
	s.mu.Unlock()
}

// SetStandby makes every call fail with org.apache.hadoop.ipc.StandbyException.
func (s *Server) SetStandby(v bool) { s.standby.Store(v) }

// Pings returns how many pings (call id -4) arrived.
func (s *Server) Pings() int64 { return s.pings.Load() }

// Accepted returns how many connections were accepted.
func (s *Server) Accepted() int64 { return s.accepted.Load() }

// Calls returns how many calls were dispatched.
func (s *Server) Calls() int64 { return s.calls.Load() }

// WrappedPackets returns how many SASL WRAP packets arrived after negotiation.
func (s *Server) WrappedPackets() int64 { return s.wrappedRecv.Load() }

// Contexts returns the connection contexts received so far.
func (s *Server) Contexts() []*hadoopproto.IpcConnectionContextProto {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*hadoopproto.IpcConnectionContextProto(nil), s.contexts...)
}

// DropConnections closes every client connection (the listener stays open).
func (s *Server) DropConnections() {
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
}

// Close stops the server and waits for its goroutines.
func (s *Server) Close() {
	s.ln.Close()
	s.DropConnections()
	s.wg.Wait()
}

func (s *Server) acceptLoop() {
	defer s.wg.Done()
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.accepted.Add(1)
		s.mu.Lock()
		s.conns[nc] = struct{}{}
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			sc := &serverConn{s: s, nc: nc, br: bufio.NewReader(nc)}
			sc.serve()
			nc.Close()
			sc.calls.Wait()
			s.mu.Lock()
			delete(s.conns, nc)
			s.mu.Unlock()
		}()
	}
}

type serverConn struct {
	s     *Server
	nc    net.Conn
	br    *bufio.Reader
	in    io.Reader
	wmu   sync.Mutex
	layer *digestmd5.SecurityLayer
	calls sync.WaitGroup

	user    string
	tokenID []byte
	context bool
}

var errClosed = errors.New("closed")

func (c *serverConn) serve() {
	pre := make([]byte, 7)
	if _, err := io.ReadFull(c.br, pre); err != nil {
		return
	}
	if string(pre[:4]) != "hrpc" || pre[4] != wire.RPCVersion {
		c.fatal(wire.CallIDAuthFailed, hadoopproto.RpcResponseHeaderProto_FATAL_VERSION_MISMATCH, "org.apache.hadoop.ipc.RPC$VersionMismatch", "bad preamble")
		return
	}
	c.in = c.br
	switch pre[6] {
	case wire.AuthNone:
		if c.s.opts.Auth == AuthToken {
			c.fatal(wire.CallIDAuthFailed, hadoopproto.RpcResponseHeaderProto_FATAL_UNAUTHORIZED,
				"org.apache.hadoop.security.AccessControlException", "SIMPLE authentication is not enabled.  Available:[TOKEN]")
			return
		}
	case wire.AuthSASL:
		if c.s.opts.Auth == AuthSimple {
			c.fatal(wire.CallIDAuthFailed, hadoopproto.RpcResponseHeaderProto_FATAL_UNAUTHORIZED,
				"org.apache.hadoop.security.AccessControlException", "SASL not enabled")
			return
		}
		if err := c.sasl(); err != nil {
			return
		}
	default:
		return
	}
	for {
		frame, err := wire.ReadFrame(c.in, 64<<20)
		if err != nil {
			return
		}
		if err := c.packet(frame); err != nil {
			return
		}
	}
}

// packet handles one plain packet body.
func (c *serverConn) packet(frame []byte) error {
	hdr, parts, err := wire.ParseRequest(frame)
	if err != nil {
		c.fatal(wire.CallIDInvalid, hadoopproto.RpcResponseHeaderProto_FATAL_DESERIALIZING_REQUEST, "java.io.IOException", err.Error())
		return err
	}
	if hdr.RpcOp == nil || hdr.GetRpcOp() != hadoopproto.RpcRequestHeaderProto_RPC_FINAL_PACKET || hdr.RpcKind == nil {
		c.fatal(hdr.GetCallId(), hadoopproto.RpcResponseHeaderProto_FATAL_INVALID_RPC_HEADER, "org.apache.hadoop.ipc.IpcException", "No rpc op or kind in rpcRequestHeader")
		return errClosed
	}
	id := hdr.GetCallId()
	switch {
	case id == wire.CallIDPing:
		c.s.pings.Add(1)
		return nil
	case id == wire.CallIDConnContext:
		if c.context {
			c.fatal(id, hadoopproto.RpcResponseHeaderProto_FATAL_INVALID_RPC_HEADER, "org.apache.hadoop.ipc.IpcException", "Connection context already processed")
			return errClosed
		}
		ctx := &hadoopproto.IpcConnectionContextProto{}
		if len(parts) != 1 || proto.Unmarshal(parts[0], ctx) != nil {
			c.fatal(id, hadoopproto.RpcResponseHeaderProto_FATAL_DESERIALIZING_REQUEST, "java.io.IOException", "bad connection context")
			return errClosed
		}
		if c.tokenID != nil && ctx.GetUserInfo().GetEffectiveUser() != "" {
			c.fatal(wire.CallIDAuthFailed, hadoopproto.RpcResponseHeaderProto_FATAL_UNAUTHORIZED, "org.apache.hadoop.security.AccessControlException",
				"Authenticated user ("+c.user+") doesn't match what the client claims to be ("+ctx.GetUserInfo().GetEffectiveUser()+")")
			return errClosed
		}
		if c.tokenID == nil {
			c.user = ctx.GetUserInfo().GetEffectiveUser()
		}
		c.s.mu.Lock()
		c.s.contexts = append(c.s.contexts, ctx)
		c.s.mu.Unlock()
		c.context = true
		return nil
	case id < 0:
		c.fatal(id, hadoopproto.RpcResponseHeaderProto_FATAL_INVALID_RPC_HEADER, "org.apache.hadoop.ipc.IpcException", fmt.Sprintf("Unknown out of band call #%d", id))
		return errClosed
	}
	if !c.context {
		c.fatal(id, hadoopproto.RpcResponseHeaderProto_FATAL_INVALID_RPC_HEADER, "org.apache.hadoop.ipc.IpcException", "Connection context not established")
		return errClosed
	}
	if len(hdr.GetClientId()) != wire.ClientIDLength {
		c.fatal(id, hadoopproto.RpcResponseHeaderProto_FATAL_INVALID_RPC_HEADER, "org.apache.hadoop.ipc.IpcException", "ClientId must be a UUID - that is 16 octets")
		return errClosed
	}
	clientID := hdr.GetClientId()
	if len(parts) != 2 {
		c.fatal(id, hadoopproto.RpcResponseHeaderProto_FATAL_DESERIALIZING_REQUEST, "java.io.IOException", "want RequestHeaderProto and a request")
		return errClosed
	}
	rh := &hadoopproto.RequestHeaderProto{}
	if err := proto.Unmarshal(parts[0], rh); err != nil {
		c.fatal(id, hadoopproto.RpcResponseHeaderProto_FATAL_DESERIALIZING_REQUEST, "java.io.IOException", err.Error())
		return errClosed
	}
	call := &Call{Method: rh.GetMethodName(), Protocol: rh.GetDeclaringClassProtocolName(), CallID: id, User: c.user, TokenIdentifier: c.tokenID, body: parts[1], clientID: clientID}
	c.s.calls.Add(1)
	c.calls.Add(1)
	go func() {
		defer c.calls.Done()
		c.dispatch(call, rh.GetClientProtocolVersion())
	}()
	return nil
}

func (c *serverConn) dispatch(call *Call, version uint64) {
	switch {
	case c.s.opts.Protocol != "" && call.Protocol != c.s.opts.Protocol:
		c.reply(call, nil, &Exception{Class: "org.apache.hadoop.ipc.RpcNoSuchProtocolException", Message: "Unknown protocol: " + call.Protocol},
			hadoopproto.RpcResponseHeaderProto_ERROR_NO_SUCH_PROTOCOL)
		return
	case version != 1:
		c.reply(call, nil, &Exception{Class: "org.apache.hadoop.ipc.RPC$VersionMismatch", Message: fmt.Sprintf("version %d", version)},
			hadoopproto.RpcResponseHeaderProto_ERROR_RPC_VERSION_MISMATCH)
		return
	case c.s.standby.Load():
		c.reply(call, nil, &Exception{Class: "org.apache.hadoop.ipc.StandbyException", Message: "Operation category READ is not supported in state standby"},
			hadoopproto.RpcResponseHeaderProto_ERROR_APPLICATION)
		return
	}
	c.s.mu.Lock()
	h := c.s.handlers[call.Method]
	c.s.mu.Unlock()
	if h == nil {
		c.reply(call, nil, &Exception{Class: "org.apache.hadoop.ipc.RpcNoSuchMethodException", Message: "Unknown method " + call.Method},
			hadoopproto.RpcResponseHeaderProto_ERROR_NO_SUCH_METHOD)
		return
	}
	resp, err := h(call)
	var ex *Exception
	if err != nil && !errors.As(err, &ex) {
		ex = &Exception{Class: "java.io.IOException", Message: err.Error()}
	}
	c.reply(call, resp, ex, hadoopproto.RpcResponseHeaderProto_ERROR_APPLICATION)
}

func (c *serverConn) reply(call *Call, resp proto.Message, ex *Exception, code hadoopproto.RpcResponseHeaderProto_RpcErrorCodeProto) {
	hdr := &hadoopproto.RpcResponseHeaderProto{
		CallId:              proto.Uint32(uint32(call.CallID)),
		Status:              hadoopproto.RpcResponseHeaderProto_SUCCESS.Enum(),
		ServerIpcVersionNum: proto.Uint32(wire.RPCVersion),
		ClientId:            call.clientID,
	}
	msgs := []proto.Message{hdr}
	if ex != nil {
		hdr.Status = hadoopproto.RpcResponseHeaderProto_ERROR.Enum()
		if ex.Fatal {
			hdr.Status = hadoopproto.RpcResponseHeaderProto_FATAL.Enum()
			code = hadoopproto.RpcResponseHeaderProto_FATAL_UNKNOWN
		}
		hdr.ExceptionClassName = proto.String(ex.Class)
		hdr.ErrorMsg = proto.String(ex.Message)
		hdr.ErrorDetail = code.Enum()
	} else if resp != nil {
		msgs = append(msgs, resp)
	} else {
		msgs = append(msgs, &hadoopproto.CancelDelegationTokenResponseProto{}) // an empty message
	}
	c.send(msgs...)
	if ex != nil && ex.Fatal {
		c.nc.Close()
	}
}

func (c *serverConn) fatal(id int32, code hadoopproto.RpcResponseHeaderProto_RpcErrorCodeProto, class, msg string) {
	c.send(&hadoopproto.RpcResponseHeaderProto{
		CallId:             proto.Uint32(uint32(id)),
		Status:             hadoopproto.RpcResponseHeaderProto_FATAL.Enum(),
		ExceptionClassName: proto.String(class),
		ErrorMsg:           proto.String(msg),
		ErrorDetail:        code.Enum(),
	})
}

// send writes one packet, SASL-wrapped when a security layer is active.
func (c *serverConn) send(msgs ...proto.Message) {
	pkt, err := wire.BuildPacket(msgs...)
	if err != nil {
		return
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.layer != nil {
		tok := c.layer.Wrap(pkt)
		pkt, err = wire.BuildPacket(saslHeader(), &hadoopproto.RpcSaslProto{State: hadoopproto.RpcSaslProto_WRAP.Enum(), Token: tok})
		if err != nil {
			return
		}
	}
	_, _ = c.nc.Write(pkt)
}

func saslHeader() *hadoopproto.RpcResponseHeaderProto {
	id := int32(wire.CallIDSASL)
	return &hadoopproto.RpcResponseHeaderProto{
		CallId: proto.Uint32(uint32(id)),
		Status: hadoopproto.RpcResponseHeaderProto_SUCCESS.Enum(),
	}
}

func (c *serverConn) readSASL() (*hadoopproto.RpcSaslProto, error) {
	frame, err := wire.ReadFrame(c.br, 1<<20)
	if err != nil {
		return nil, err
	}
	hdr, parts, err := wire.ParseRequest(frame)
	if err != nil {
		return nil, err
	}
	if hdr.GetCallId() != wire.CallIDSASL || len(parts) != 1 {
		c.fatal(wire.CallIDAuthFailed, hadoopproto.RpcResponseHeaderProto_FATAL_UNAUTHORIZED, "org.apache.hadoop.security.AccessControlException",
			fmt.Sprintf("expected SASL packet, got call id %d", hdr.GetCallId()))
		return nil, errClosed
	}
	m := &hadoopproto.RpcSaslProto{}
	if err := proto.Unmarshal(parts[0], m); err != nil {
		return nil, err
	}
	return m, nil
}

func (c *serverConn) sendSASL(m *hadoopproto.RpcSaslProto) {
	c.send(saslHeader(), m)
}

func (c *serverConn) authFailed(msg string) error {
	c.fatal(wire.CallIDAuthFailed, hadoopproto.RpcResponseHeaderProto_FATAL_UNAUTHORIZED, "javax.security.sasl.SaslException", msg)
	return errClosed
}

// sasl runs the server side of the negotiation (Server.processSaslMessage).
func (c *serverConn) sasl() error {
	m, err := c.readSASL()
	if err != nil {
		return err
	}
	if m.GetState() != hadoopproto.RpcSaslProto_NEGOTIATE {
		return c.authFailed("expected NEGOTIATE, got " + m.GetState().String())
	}
	if c.s.opts.Auth == AuthSimpleSASL {
		c.sendSASL(&hadoopproto.RpcSaslProto{State: hadoopproto.RpcSaslProto_SUCCESS.Enum()})
		return nil
	}
	dm := &digestmd5.Server{Realm: "default", ServerID: "default", QOPs: c.s.opts.QOPs, Lookup: func(u string) (string, error) {
		id, err := base64.StdEncoding.DecodeString(u)
		if err != nil {
			return "", err
		}
		if c.s.opts.Password == nil {
			return "", errors.New("no password function")
		}
		pw, err := c.s.opts.Password(id)
		if err != nil {
			return "", err
		}
		return base64.StdEncoding.EncodeToString(pw), nil
	}}
	offered := &hadoopproto.RpcSaslProto_SaslAuth{Method: proto.String("TOKEN"), Mechanism: proto.String("DIGEST-MD5"), Protocol: proto.String(""), ServerId: proto.String("default")}
	challenge, err := dm.Challenge()
	if err != nil {
		return err
	}
	neg := proto.Clone(offered).(*hadoopproto.RpcSaslProto_SaslAuth)
	if !c.s.opts.NoInitialChallenge {
		neg.Challenge = challenge
	}
	c.sendSASL(&hadoopproto.RpcSaslProto{State: hadoopproto.RpcSaslProto_NEGOTIATE.Enum(), Auths: []*hadoopproto.RpcSaslProto_SaslAuth{neg}})

	m, err = c.readSASL()
	if err != nil {
		return err
	}
	if m.GetState() != hadoopproto.RpcSaslProto_INITIATE || len(m.GetAuths()) != 1 || !proto.Equal(m.GetAuths()[0], offered) {
		return c.authFailed("Client mechanism is malformed or not offered")
	}
	token := m.GetToken()
	if len(token) == 0 {
		c.sendSASL(&hadoopproto.RpcSaslProto{State: hadoopproto.RpcSaslProto_CHALLENGE.Enum(), Token: challenge})
		if m, err = c.readSASL(); err != nil {
			return err
		}
		if m.GetState() != hadoopproto.RpcSaslProto_RESPONSE {
			return c.authFailed("expected RESPONSE")
		}
		token = m.GetToken()
	}
	final, err := dm.Verify(token)
	if err != nil {
		return c.authFailed("DIGEST-MD5: digest response format violation. Mismatched response. " + err.Error())
	}
	id, _ := base64.StdEncoding.DecodeString(dm.Username())
	c.tokenID = id
	c.user = string(id)
	c.sendSASL(&hadoopproto.RpcSaslProto{State: hadoopproto.RpcSaslProto_SUCCESS.Enum(), Token: final})
	layer, err := dm.SecurityLayer()
	if err != nil {
		return err
	}
	if layer != nil {
		c.wmu.Lock()
		c.layer = layer
		c.wmu.Unlock()
		c.in = &unwrapRequests{c: c}
	}
	return nil
}

// unwrapRequests turns incoming SASL WRAP packets back into the plain request stream.
type unwrapRequests struct {
	c   *serverConn
	buf []byte
}

func (u *unwrapRequests) Read(p []byte) (int, error) {
	for len(u.buf) == 0 {
		m, err := u.c.readSASL()
		if err != nil {
			return 0, err
		}
		if m.GetState() != hadoopproto.RpcSaslProto_WRAP {
			return 0, fmt.Errorf("expected WRAP, got %s", m.GetState())
		}
		u.c.s.wrappedRecv.Add(1)
		if len(m.GetToken()) > digestmd5.DefaultMaxBuf {
			return 0, fmt.Errorf("wrapped token of %d bytes exceeds the %d-byte maxbuf", len(m.GetToken()), digestmd5.DefaultMaxBuf)
		}
		if u.buf, err = u.c.layer.Unwrap(m.GetToken()); err != nil {
			return 0, err
		}
	}
	n := copy(p, u.buf)
	u.buf = u.buf[n:]
	return n, nil
}

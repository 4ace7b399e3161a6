package ipc

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"google.golang.org/protobuf/proto"

	hadoopproto "github.com/flink-go/flink-go/yarn/internal/proto/hadoop"
	"github.com/flink-go/flink-go/yarn/ipc/internal/wire"
)

// callResult is what the reader goroutine hands to a waiting call.
type callResult struct {
	resp *wire.Response
	err  error
}

// conn is one authenticated Hadoop IPC connection. Calls are multiplexed by call id: writers
// serialize on wmu, and a single reader goroutine dispatches responses to the waiting calls.
type conn struct {
	addr     string
	cfg      *Config
	nc       net.Conn
	br       *bufio.Reader
	in       io.Reader // the plain response stream (unwrapped when a security layer is active)
	layer    securityLayer
	clientID []byte
	log      zerolog.Logger

	wmu       sync.Mutex
	lastWrite atomic.Int64 // unix nanoseconds of the last packet written

	mu      sync.Mutex
	pending map[int32]chan callResult
	nextID  int32
	err     error // why the connection closed; nil while open

	done       chan struct{} // closed when the connection is closed
	readerDone chan struct{}
	pingerDone chan struct{}
}

// dialConn connects to addr, performs the preamble, the SASL exchange (mech may be nil for
// SIMPLE) and sends the connection context.
func dialConn(ctx context.Context, addr string, cfg *Config, mech saslMechanism) (*conn, error) {
	hctx, cancel := context.WithTimeout(ctx, cfg.ConnectTimeout)
	defer cancel()
	var nc net.Conn
	var err error
	if cfg.Dialer != nil {
		nc, err = cfg.Dialer(hctx, "tcp", addr)
	} else {
		var d net.Dialer
		nc, err = d.DialContext(hctx, "tcp", addr)
	}
	if err != nil {
		return nil, fmt.Errorf("dialling: %w", err)
	}
	clientID := make([]byte, wire.ClientIDLength)
	if _, err := rand.Read(clientID); err != nil {
		nc.Close()
		return nil, fmt.Errorf("generating client id: %w", err)
	}
	c := &conn{
		addr:       addr,
		cfg:        cfg,
		nc:         nc,
		br:         bufio.NewReaderSize(nc, 64<<10),
		clientID:   clientID,
		log:        cfg.Logger.With().Str("addr", addr).Str("protocol", cfg.Protocol).Logger(),
		pending:    map[int32]chan callResult{},
		done:       make(chan struct{}),
		readerDone: make(chan struct{}),
		pingerDone: make(chan struct{}),
	}
	c.in = c.br
	// The handshake is synchronous; bound it by the connect timeout and abort it on cancellation.
	if dl, ok := hctx.Deadline(); ok {
		_ = nc.SetDeadline(dl)
	}
	stop := context.AfterFunc(hctx, func() { _ = nc.SetDeadline(time.Unix(1, 0)) })
	err = c.handshake(mech)
	stopped := stop()
	if err == nil && !stopped {
		err = hctx.Err() // the deadline was forced; the connection is unusable
	}
	if err != nil {
		nc.Close()
		if ctxErr := hctx.Err(); ctxErr != nil && !errors.Is(err, ctxErr) {
			var re *RemoteError
			if !errors.As(err, &re) {
				err = fmt.Errorf("%w (handshake aborted: %w)", err, ctxErr)
			}
		}
		return nil, err
	}
	_ = nc.SetDeadline(time.Time{})
	c.lastWrite.Store(time.Now().UnixNano())
	go c.readLoop()
	go c.pingLoop()
	c.log.Debug().Msg("hadoop ipc connection established")
	return c, nil
}

// handshake writes the preamble, runs SASL and sends the connection context:
//
//	"hrpc" 9 0 auth | [SASL packets, call id -33] | [RpcRequestHeader callId -3][IpcConnectionContextProto]
func (c *conn) handshake(mech saslMechanism) error {
	auth := byte(wire.AuthNone)
	if mech != nil {
		auth = wire.AuthSASL
	}
	if _, err := c.nc.Write(wire.Preamble(auth)); err != nil {
		return fmt.Errorf("writing connection preamble: %w", err)
	}
	simple := mech == nil
	if mech != nil {
		res, err := negotiateSASL(c, mech)
		if err != nil {
			return err
		}
		simple = res.simple
		if res.layer != nil {
			c.layer = res.layer
			c.in = &unwrapReader{src: c.br, layer: res.layer, max: c.cfg.MaxResponseSize}
		}
		c.log.Debug().Bool("simple", res.simple).Bool("wrapped", res.layer != nil).Msg("SASL negotiation complete")
	}
	ctx := &hadoopproto.IpcConnectionContextProto{Protocol: proto.String(c.cfg.Protocol)}
	if ui := c.userInfo(simple); ui != nil {
		ctx.UserInfo = ui
	}
	pkt, err := wire.BuildPacket(wire.RequestHeader(wire.CallIDConnContext, c.clientID, wire.RetryCountInvalid), ctx)
	if err != nil {
		return err
	}
	if _, err := c.writePacket(pkt); err != nil {
		if re := c.serverReason(); re != nil {
			return re
		}
		return fmt.Errorf("writing connection context: %w", err)
	}
	return nil
}

// fatalReplyGrace is how long a failed write waits for the server's FATAL reply.
const fatalReplyGrace = 500 * time.Millisecond

// serverReason reads a FATAL reply the server may have sent before closing the connection during
// the handshake; it returns nil when there is none.
func (c *conn) serverReason() error {
	_ = c.nc.SetReadDeadline(time.Now().Add(fatalReplyGrace))
	frame, err := wire.ReadFrame(c.br, c.cfg.MaxResponseSize)
	if err != nil {
		return nil
	}
	resp, err := wire.ParseResponse(frame)
	if err != nil || resp.Header.GetStatus() == hadoopproto.RpcResponseHeaderProto_SUCCESS {
		return nil
	}
	return newRemoteError(resp.Header, "", c.cfg.Protocol, c.addr)
}

// userInfo returns the connection context's user (ProtoUtil.makeIpcConnectionContext): the user
// for SIMPLE, the principal (or proxied user) for Kerberos, nothing for TOKEN.
func (c *conn) userInfo(simple bool) *hadoopproto.UserInformationProto {
	switch {
	case c.cfg.Auth == AuthSimple || (simple && c.cfg.User != ""):
		ui := &hadoopproto.UserInformationProto{EffectiveUser: proto.String(c.cfg.User)}
		if c.cfg.RealUser != "" {
			ui.RealUser = proto.String(c.cfg.RealUser)
		}
		return ui
	case c.cfg.Auth == AuthKerberos:
		principal := c.cfg.Kerberos.principalName()
		if c.cfg.User != "" && c.cfg.User != principal {
			return &hadoopproto.UserInformationProto{EffectiveUser: proto.String(c.cfg.User), RealUser: proto.String(principal)}
		}
		return &hadoopproto.UserInformationProto{EffectiveUser: proto.String(principal)}
	}
	return nil
}

// sendSASL writes a SASL packet: [RpcRequestHeader callId -33, empty clientId, retry -1][RpcSaslProto].
func (c *conn) sendSASL(msg *hadoopproto.RpcSaslProto) error {
	pkt, err := wire.BuildPacket(wire.RequestHeader(wire.CallIDSASL, []byte{}, wire.RetryCountInvalid), msg)
	if err != nil {
		return err
	}
	if _, err := c.nc.Write(pkt); err != nil {
		return fmt.Errorf("writing SASL %s: %w", msg.GetState(), err)
	}
	return nil
}

// recvSASL reads the server's next SASL message; a FATAL reply (call id -1, e.g. bad token)
// becomes a *RemoteError.
func (c *conn) recvSASL() (*hadoopproto.RpcSaslProto, error) {
	frame, err := wire.ReadFrame(c.br, c.cfg.MaxResponseSize)
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("server closed the connection during SASL negotiation (wrong port or auth method?): %w", err)
		}
		return nil, fmt.Errorf("reading SASL reply: %w", err)
	}
	resp, err := wire.ParseResponse(frame)
	if err != nil {
		return nil, err
	}
	if resp.Header.GetStatus() != hadoopproto.RpcResponseHeaderProto_SUCCESS {
		return nil, newRemoteError(resp.Header, "", c.cfg.Protocol, c.addr)
	}
	if resp.CallID() != wire.CallIDSASL {
		return nil, fmt.Errorf("%w: expected a SASL reply (call id -33), got call id %d", ErrSASL, resp.CallID())
	}
	msg := &hadoopproto.RpcSaslProto{}
	if err := proto.Unmarshal(resp.Body, msg); err != nil {
		return nil, fmt.Errorf("%w: decoding RpcSaslProto: %w", wire.ErrMalformedResponse, err)
	}
	return msg, nil
}

// writePacket writes one framed packet, SASL-wrapping it when a security layer is active:
// [hdr callId -33][RpcSaslProto{WRAP, token: wrap(packet)}]. It returns the bytes written.
func (c *conn) writePacket(pkt []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	out := pkt
	if c.layer != nil {
		var err error
		if out, err = wrapPackets(c.layer, pkt); err != nil {
			return 0, err
		}
	}
	_ = c.nc.SetWriteDeadline(time.Now().Add(c.cfg.WriteTimeout))
	n, err := c.nc.Write(out)
	c.lastWrite.Store(time.Now().UnixNano())
	return n, err
}

// wrapPackets SASL-wraps pkt into one or more WRAP packets, each carrying at most the layer's
// maximum raw size; the server reassembles the plain stream from consecutive tokens.
func wrapPackets(layer securityLayer, pkt []byte) ([]byte, error) {
	limit := layer.maxRawSize()
	if limit <= 0 {
		limit = len(pkt)
	}
	var out []byte
	for len(pkt) > 0 {
		n := min(limit, len(pkt))
		tok, err := layer.Wrap(pkt[:n])
		if err != nil {
			return nil, err
		}
		wrapped, err := wire.BuildPacket(wire.RequestHeader(wire.CallIDSASL, []byte{}, wire.RetryCountInvalid),
			&hadoopproto.RpcSaslProto{State: hadoopproto.RpcSaslProto_WRAP.Enum(), Token: tok})
		if err != nil {
			return nil, err
		}
		out = append(out, wrapped...)
		pkt = pkt[n:]
	}
	return out, nil
}

// call sends one request and waits for its response. Cancelling ctx abandons the call (a late
// response is dropped by the reader) without harming the connection.
func (c *conn) call(ctx context.Context, method string, req, resp proto.Message) error {
	if err := ctx.Err(); err != nil {
		return &errNotSent{fmt.Errorf("hadoop rpc %s: %w", method, err)}
	}
	c.mu.Lock()
	if c.err != nil {
		err := c.err
		c.mu.Unlock()
		return &errNotSent{err}
	}
	id := c.nextID
	c.nextID++
	if c.nextID < 0 {
		c.nextID = 0
	}
	ch := make(chan callResult, 1)
	c.pending[id] = ch
	c.mu.Unlock()

	pkt, err := wire.BuildPacket(wire.RequestHeader(id, c.clientID, 0), &hadoopproto.RequestHeaderProto{
		MethodName:                 proto.String(method),
		DeclaringClassProtocolName: proto.String(c.cfg.Protocol),
		ClientProtocolVersion:      proto.Uint64(c.cfg.ProtocolVersion),
	}, req)
	if err != nil {
		c.forget(id)
		return fmt.Errorf("hadoop rpc %s: encoding request (missing required field?): %w", method, err)
	}
	if n, err := c.writePacket(pkt); err != nil {
		c.forget(id)
		// The server may have sent a FATAL reply (e.g. "SIMPLE authentication is not enabled")
		// and closed the socket; give the reader a moment to deliver it so the caller sees the
		// server's reason rather than a broken pipe.
		select {
		case <-c.readerDone:
		case <-time.After(fatalReplyGrace):
		}
		c.mu.Lock()
		cerr := c.err
		c.mu.Unlock()
		var re *RemoteError
		if errors.As(cerr, &re) {
			return cerr
		}
		werr := fmt.Errorf("hadoop rpc %s to %s: writing request: %w", method, c.addr, err)
		c.closeWithError(fmt.Errorf("%w: %w", ErrConnectionLost, werr))
		if n == 0 {
			return &errNotSent{werr}
		}
		return fmt.Errorf("%w: %w", ErrConnectionLost, werr)
	}
	select {
	case r := <-ch:
		if r.err != nil {
			return r.err
		}
		return c.decode(method, r.resp, resp)
	case <-ctx.Done():
		c.forget(id)
		return fmt.Errorf("hadoop rpc %s to %s: %w", method, c.addr, ctx.Err())
	}
}

func (c *conn) decode(method string, r *wire.Response, resp proto.Message) error {
	if r.Header.GetStatus() != hadoopproto.RpcResponseHeaderProto_SUCCESS {
		return newRemoteError(r.Header, method, c.cfg.Protocol, c.addr)
	}
	if resp == nil {
		return nil
	}
	if err := proto.Unmarshal(r.Body, resp); err != nil {
		return fmt.Errorf("hadoop rpc %s to %s: decoding %s: %w", method, c.addr, resp.ProtoReflect().Descriptor().FullName(), err)
	}
	return nil
}

func (c *conn) forget(id int32) {
	c.mu.Lock()
	delete(c.pending, id)
	c.mu.Unlock()
}

// readLoop reads responses until the connection fails and hands each to its call.
func (c *conn) readLoop() {
	defer close(c.readerDone)
	for {
		frame, err := wire.ReadFrame(c.in, c.cfg.MaxResponseSize)
		if err != nil {
			c.closeWithError(fmt.Errorf("%w: reading from %s: %w", ErrConnectionLost, c.addr, err))
			return
		}
		resp, err := wire.ParseResponse(frame)
		if err != nil {
			c.closeWithError(fmt.Errorf("%w: from %s: %w", ErrConnectionLost, c.addr, err))
			return
		}
		if cid := resp.Header.GetClientId(); len(cid) > 0 && !bytes.Equal(cid, c.clientID) {
			c.closeWithError(fmt.Errorf("%w: %s answered with another client's id", ErrConnectionLost, c.addr))
			return
		}
		id := resp.CallID()
		fatal := resp.Header.GetStatus() == hadoopproto.RpcResponseHeaderProto_FATAL
		if id >= 0 {
			c.mu.Lock()
			ch, ok := c.pending[id]
			delete(c.pending, id)
			c.mu.Unlock()
			if fatal {
				// Close first, so no call started after this one returns can pick the
				// connection up.
				c.closeWithError(fmt.Errorf("%w: %w", ErrConnectionLost, newRemoteError(resp.Header, "", c.cfg.Protocol, c.addr)))
			}
			if ok {
				ch <- callResult{resp: resp}
			} else {
				c.log.Debug().Int32("call_id", id).Msg("dropping response to an abandoned call")
			}
			if fatal {
				return
			}
			continue
		}
		if resp.Header.GetStatus() != hadoopproto.RpcResponseHeaderProto_SUCCESS {
			// Connection-level failure (call id -1: authorization failed, -2: invalid call id).
			re := newRemoteError(resp.Header, "", c.cfg.Protocol, c.addr)
			c.log.Warn().Err(re).Int32("call_id", id).Msg("hadoop server rejected the connection")
			c.closeWithError(re)
			return
		}
		c.log.Debug().Int32("call_id", id).Msg("ignoring out-of-band response")
	}
}

// pingLoop sends a ping (call id -4, no body; the server does not answer) whenever nothing has
// been written for PingInterval, so the server does not drop the idle connection.
func (c *conn) pingLoop() {
	defer close(c.pingerDone)
	if c.cfg.PingInterval < 0 {
		return
	}
	t := time.NewTimer(c.cfg.PingInterval)
	defer t.Stop()
	for {
		select {
		case <-c.done:
			return
		case <-t.C:
		}
		idle := time.Since(time.Unix(0, c.lastWrite.Load()))
		if idle >= c.cfg.PingInterval {
			pkt, err := wire.BuildPacket(wire.RequestHeader(wire.CallIDPing, c.clientID, wire.RetryCountInvalid))
			if err == nil {
				if _, err = c.writePacket(pkt); err != nil {
					c.closeWithError(fmt.Errorf("%w: ping to %s: %w", ErrConnectionLost, c.addr, err))
					return
				}
			}
			idle = 0
		}
		t.Reset(c.cfg.PingInterval - idle)
	}
}

// closeWithError closes the connection once and fails every pending call with err.
func (c *conn) closeWithError(err error) {
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return
	}
	c.err = err
	pending := c.pending
	c.pending = map[int32]chan callResult{}
	close(c.done)
	c.mu.Unlock()
	_ = c.nc.Close()
	for _, ch := range pending {
		ch <- callResult{err: err}
	}
	if !errors.Is(err, ErrClosed) {
		c.log.Debug().Err(err).Msg("hadoop ipc connection closed")
	}
}

// alive reports whether the connection is still open.
func (c *conn) alive() bool {
	select {
	case <-c.done:
		return false
	default:
		return true
	}
}

// close closes the connection and waits for its goroutines to end.
func (c *conn) close() {
	c.closeWithError(ErrClosed)
	<-c.readerDone
	<-c.pingerDone
}

// unwrapReader turns the stream of SASL WRAP packets into the plain response stream
// ([len][RpcResponseHeader][body]...), which the server wrapped as a whole.
type unwrapReader struct {
	src   io.Reader
	layer securityLayer
	max   int
	buf   []byte
}

func (u *unwrapReader) Read(p []byte) (int, error) {
	for len(u.buf) == 0 {
		frame, err := wire.ReadFrame(u.src, u.max)
		if err != nil {
			return 0, err
		}
		resp, err := wire.ParseResponse(frame)
		if err != nil {
			return 0, err
		}
		if resp.CallID() != wire.CallIDSASL {
			// Not wrapped (e.g. a FATAL error sent before wrapping); pass the frame through as is.
			u.buf = append(u.buf[:0], 0, 0, 0, 0)
			u.buf[0], u.buf[1], u.buf[2], u.buf[3] = byte(len(frame)>>24), byte(len(frame)>>16), byte(len(frame)>>8), byte(len(frame))
			u.buf = append(u.buf, frame...)
			break
		}
		msg := &hadoopproto.RpcSaslProto{}
		if err := proto.Unmarshal(resp.Body, msg); err != nil {
			return 0, fmt.Errorf("%w: decoding wrapped RpcSaslProto: %w", wire.ErrMalformedResponse, err)
		}
		if msg.GetState() != hadoopproto.RpcSaslProto_WRAP {
			return 0, fmt.Errorf("%w: server sent SASL %s instead of WRAP", ErrSASL, msg.GetState())
		}
		if u.buf, err = u.layer.Unwrap(msg.GetToken()); err != nil {
			return 0, err
		}
	}
	n := copy(p, u.buf)
	u.buf = u.buf[n:]
	return n, nil
}

// Package ipc is a Hadoop IPC client: the "hrpc" connection preamble, SASL authentication (SIMPLE,
// TOKEN with DIGEST-MD5, KERBEROS with GSSAPI), the connection context, and protobuf calls
// multiplexed by call id over one connection, with reconnection and ResourceManager HA failover.
//
// A Client is bound to one protocol and identity:
//
//	c, err := ipc.Dial(ctx, ipc.Config{
//		Addresses: []string{"rm1:8032", "rm2:8032"},
//		Protocol:  ipc.ProtocolApplicationClient,
//		User:      "alice",
//	})
//	...
//	err = c.Call(ctx, "getClusterMetrics", &req, &resp)
//
// Remote failures are *RemoteError values that unwrap to sentinels such as ErrStandby or
// ErrApplicationNotFound; use errors.Is and errors.As.
package ipc

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/flink-go/flink-go/yarn/security"
)

// Client is a Hadoop IPC client for one protocol, identity and server (or HA server set). It is
// safe for concurrent use; concurrent calls share one connection.
type Client struct {
	cfg Config

	dialSem chan struct{} // one dialler at a time
	// closing is cancelled by Close, aborting dials and backoffs in progress.
	closing     context.Context
	stopClosing context.CancelFunc

	mu      sync.Mutex
	conn    *conn
	addrIdx int
	token   *security.Token
	closed  bool
}

// Dial validates cfg and connects to the first reachable address.
func Dial(ctx context.Context, cfg Config) (*Client, error) {
	c, err := NewClient(cfg)
	if err != nil {
		return nil, err
	}
	if _, err := c.connection(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// NewClient validates cfg and returns a client that connects on its first call.
func NewClient(cfg Config) (*Client, error) {
	ncfg, err := cfg.normalize()
	if err != nil {
		return nil, err
	}
	c := &Client{cfg: ncfg, dialSem: make(chan struct{}, 1)}
	c.closing, c.stopClosing = context.WithCancel(context.Background())
	if ncfg.Token != nil {
		t := *ncfg.Token
		c.token = &t
	}
	return c, nil
}

// SetToken replaces the token used for new connections (e.g. a rolled-over AMRMToken). The current
// connection stays authenticated with the old token until it closes.
func (c *Client) SetToken(t security.Token) {
	c.mu.Lock()
	c.token = &t
	c.mu.Unlock()
}

// RemoteAddr returns the address of the current (or next) server.
func (c *Client) RemoteAddr() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cfg.Addresses[c.addrIdx]
}

// Call invokes method with req and decodes the reply into resp (which may be nil for void
// methods). On a connection that broke before the request was sent, it reconnects and retries; on
// StandbyException it fails over to the next address; on RetriableException or
// ServerTooBusyException it retries after a backoff (up to ConnectRounds times). A call whose
// connection breaks after the request was sent returns an error wrapping ErrConnectionLost and is
// not retried, because the server may have executed it; callers may retry idempotent methods.
func (c *Client) Call(ctx context.Context, method string, req, resp proto.Message) error {
	if req == nil {
		return fmt.Errorf("hadoop rpc %s: nil request", method)
	}
	if _, ok := ctx.Deadline(); !ok && c.cfg.CallTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.cfg.CallTimeout)
		defer cancel()
	}
	failovers, resends, retries := 0, 0, 0
	for {
		cn, err := c.connection(ctx)
		if err != nil {
			return err
		}
		err = cn.call(ctx, method, req, resp)
		if err == nil {
			return nil
		}
		var notSent *errNotSent
		switch {
		case errors.Is(err, ErrStandby) && failovers < c.cfg.MaxFailovers:
			failovers++
			c.cfg.Logger.Info().Str("addr", cn.addr).Str("method", method).Msg("server is standby, failing over")
			c.failover(cn)
			if len(c.cfg.Addresses) == 1 {
				// Single address: wait before asking the (restarting) server again.
				if err := sleepCtx(ctx, c.backoff(failovers-1)); err != nil {
					return err
				}
			}
		case errors.Is(err, ErrRetriable) && retries < c.cfg.ConnectRounds:
			// RetriableException / ServerTooBusyException: the server did not run the call.
			retries++
			c.cfg.Logger.Debug().Str("addr", cn.addr).Str("method", method).Err(err).Msg("server asked to retry")
			if err := sleepCtx(ctx, c.backoff(retries-1)); err != nil {
				return err
			}
		case errors.As(err, &notSent) && ctx.Err() == nil && resends < 3 && !permanent(notSent.err):
			resends++
			c.drop(cn)
		default:
			if errors.As(err, &notSent) {
				return notSent.err
			}
			return err
		}
	}
}

// Close closes the connection; calls in flight fail with ErrClosed.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	cn := c.conn
	c.conn = nil
	c.mu.Unlock()
	c.stopClosing()
	if cn != nil {
		cn.close()
	}
	// Wait for a dial in progress to finish so its connection is closed too.
	c.dialSem <- struct{}{}
	<-c.dialSem
	return nil
}

// drop forgets cn if it is the current connection.
func (c *Client) drop(cn *conn) {
	c.mu.Lock()
	if c.conn == cn {
		c.conn = nil
	}
	c.mu.Unlock()
	cn.close()
}

// failover drops cn and moves to the next address.
func (c *Client) failover(cn *conn) {
	c.mu.Lock()
	if c.conn == cn {
		c.conn = nil
		c.addrIdx = (c.addrIdx + 1) % len(c.cfg.Addresses)
	}
	c.mu.Unlock()
	cn.close()
}

// connection returns the live connection or dials a new one, trying every address in turn for
// ConnectRounds rounds with exponential backoff between rounds.
func (c *Client) connection(ctx context.Context) (*conn, error) {
	if cn, err := c.current(); cn != nil || err != nil {
		return cn, err
	}
	select {
	case c.dialSem <- struct{}{}:
	case <-ctx.Done():
		return nil, &errNotSent{fmt.Errorf("waiting to connect: %w", ctx.Err())}
	}
	defer func() { <-c.dialSem }()
	// Close aborts the dial.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(c.closing, cancel)()
	if cn, err := c.current(); cn != nil || err != nil {
		return cn, err
	}
	attempts := map[string]error{}
	var last error
	n := len(c.cfg.Addresses)
	for round := 0; round < c.cfg.ConnectRounds; round++ {
		if round > 0 {
			if err := sleepCtx(ctx, c.backoff(round-1)); err != nil {
				break
			}
		}
		c.mu.Lock()
		start := c.addrIdx
		tok := c.token
		c.mu.Unlock()
		for i := 0; i < n; i++ {
			idx := (start + i) % n
			addr := c.cfg.Addresses[idx]
			cn, err := dialConn(ctx, addr, &c.cfg, c.mechanism(addr, tok))
			if err == nil {
				c.mu.Lock()
				if c.closed {
					c.mu.Unlock()
					cn.close()
					return nil, ErrClosed
				}
				c.conn, c.addrIdx = cn, idx
				c.mu.Unlock()
				return cn, nil
			}
			c.cfg.Logger.Warn().Err(err).Str("addr", addr).Int("round", round).Msg("hadoop ipc connect failed")
			attempts[addr], last = err, err
			if permanent(err) {
				hint := authHint(c.cfg.Auth)
				var re *RemoteError
				if errors.As(err, &re) && re.hint() != "" {
					hint = "" // the remote error carries its own hint
				}
				return nil, &ConnectError{Protocol: c.cfg.Protocol, Attempts: attempts, Hint: hint, last: err}
			}
			if ctx.Err() != nil {
				break
			}
		}
		if ctx.Err() != nil {
			break
		}
	}
	if ctx.Err() != nil && last == nil {
		last = ctx.Err()
	}
	return nil, &ConnectError{Protocol: c.cfg.Protocol, Attempts: attempts, Hint: c.cfg.AddressHint, last: last}
}

func (c *Client) current() (*conn, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, ErrClosed
	}
	if c.conn != nil && c.conn.alive() {
		return c.conn, nil
	}
	if c.conn != nil {
		old := c.conn
		c.conn = nil
		go old.close() // reap its goroutines; it is already closed
	}
	return nil, nil
}

func (c *Client) mechanism(addr string, tok *security.Token) saslMechanism {
	switch c.cfg.Auth {
	case AuthToken:
		return &digestMechanism{token: *tok, qops: c.cfg.qops()}
	case AuthKerberos:
		return &kerberosMechanism{cfg: &c.cfg, host: hostOf(addr)}
	}
	return nil
}

func (c *Client) backoff(round int) time.Duration {
	d := c.cfg.RetryBackoff
	for i := 0; i < round && d < c.cfg.MaxRetryBackoff; i++ {
		d *= 2
	}
	return min(d, c.cfg.MaxRetryBackoff)
}

// permanent reports errors that retrying another address will not fix (bad credentials,
// misconfiguration).
func permanent(err error) bool {
	var re *RemoteError
	if errors.As(err, &re) {
		return !errors.Is(err, ErrStandby) && !errors.Is(err, ErrRetriable)
	}
	return errors.Is(err, ErrSASL)
}

func authHint(a AuthMethod) string {
	switch a {
	case AuthToken:
		return "authentication failed: is the token for this server and still valid?"
	case AuthKerberos:
		return "authentication failed: check the Kerberos login and the server principal"
	}
	return "authentication failed: does the server require Kerberos or a token?"
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

package network

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/flink-go/flink-go/runtime/netutil"
)

// keepAlive detects a peer that vanished without closing its connection (host down, network
// partition) within about 30 s: probes after 15 s idle, every 5 s, 3 unanswered.
var keepAlive = net.KeepAliveConfig{Enable: true, Idle: 15 * time.Second, Interval: 5 * time.Second, Count: 3}

// ErrEnvironmentClosed is the cause reported after Environment.Close.
var ErrEnvironmentClosed = errors.New("network: environment closed")

// Environment is the per-process data plane: one buffer budget, one TCP data server, the
// registry of produced partitions, and the outgoing connections (one per remote process,
// multiplexing all channels to it).
type Environment struct {
	cfg    Config
	log    zerolog.Logger
	global *globalPool
	ln     net.Listener
	addr   string

	mu         sync.Mutex
	partitions map[PartitionID]*ResultPartition
	clients    map[string]*clientConn
	servers    map[*serverConn]struct{}
	closed     bool

	nextReceiver atomic.Uint64
	wg           sync.WaitGroup
}

// NewEnvironment validates cfg, starts the data server on cfg.BindAddress and returns the
// environment.
func NewEnvironment(cfg Config) (*Environment, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	ln, err := netutil.ListenAddr(cfg.BindAddress)
	if err != nil {
		return nil, fmt.Errorf("network: listening for data connections on %q (address in use or not local?): %w", cfg.BindAddress, err)
	}
	addr, err := advertisedAddr(ln.Addr(), cfg.ExternalHost)
	if err != nil {
		ln.Close()
		return nil, err
	}
	e := &Environment{
		cfg:        cfg,
		log:        cfg.Logger.With().Str("component", "network").Str("addr", ln.Addr().String()).Logger(),
		global:     newGlobalPool(cfg.SegmentSize, cfg.TotalBuffers),
		ln:         ln,
		addr:       addr,
		partitions: make(map[PartitionID]*ResultPartition),
		clients:    make(map[string]*clientConn),
		servers:    make(map[*serverConn]struct{}),
	}
	e.wg.Add(1)
	go e.acceptLoop()
	e.log.Debug().Int("segment_size", cfg.SegmentSize).Int("total_buffers", cfg.TotalBuffers).Msg("data server started")
	return e, nil
}

// Addr returns the data address other processes connect to (host:port).
func (e *Environment) Addr() string { return e.addr }

// Config returns the effective configuration (defaults filled in).
func (e *Environment) Config() Config { return e.cfg }

// BufferStats returns a snapshot of the buffer budget.
func (e *Environment) BufferStats() BufferStats { return e.global.stats() }

// CreatePartition registers the output of one producer subtask with n subpartitions (one per
// consumer subtask). Consumers, local or remote, request subpartitions by (id, index).
func (e *Environment) CreatePartition(id PartitionID, n int) (*ResultPartition, error) {
	return e.CreatePartitionContext(context.Background(), id, n)
}

// CreatePartitionContext is CreatePartition with a context: when ctx is done the partition is
// released (a blocked writer returns an error).
func (e *Environment) CreatePartitionContext(ctx context.Context, id PartitionID, n int) (*ResultPartition, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil, ErrEnvironmentClosed
	}
	if _, ok := e.partitions[id]; ok {
		return nil, fmt.Errorf("network: partition %s already registered (duplicate attempt number?)", id)
	}
	p, err := newResultPartition(e, ctx, id, n)
	if err != nil {
		return nil, err
	}
	e.partitions[id] = p
	return p, nil
}

func (e *Environment) lookupPartition(id PartitionID) *ResultPartition {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.partitions[id]
}

// lookupPartitionState is lookupPartition that also reports whether the environment is closed.
func (e *Environment) lookupPartitionState(id PartitionID) (*ResultPartition, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.partitions[id], e.closed
}

func (e *Environment) unregisterPartition(p *ResultPartition) {
	e.mu.Lock()
	if e.partitions[p.id] == p {
		delete(e.partitions, p.id)
	}
	e.mu.Unlock()
}

// CreateInputGate creates one logical input of a consumer subtask: channel i reads
// specs[i].Subpartition of specs[i].Partition at specs[i].Addr. Exclusive receive buffers of
// remote channels are reserved now (an error if the budget is exhausted); partitions are requested
// in the background, retried while not yet registered, and failures surface on the reader.
func (e *Environment) CreateInputGate(ctx context.Context, specs []ChannelSpec) (*InputGate, error) {
	if len(specs) == 0 {
		return nil, errors.New("network: an input gate needs at least one channel")
	}
	g := &InputGate{
		env:    e,
		specs:  append([]ChannelSpec(nil), specs...),
		chans:  make([]inputChannel, len(specs)),
		queued: make([]bool, len(specs)),
		notify: make(chan struct{}, 1),
	}
	nRemote := 0
	for _, s := range specs {
		if !e.isLocal(s.Addr) {
			nRemote++
		}
	}
	var exclusive []*Buffer
	if nRemote > 0 {
		var err error
		exclusive, err = e.global.takeN(nRemote*e.cfg.BuffersPerChannel, fmt.Sprintf("input gate with %d remote channels", nRemote))
		if err != nil {
			return nil, err
		}
		g.floating = &floatingPool{global: e.global, max: e.cfg.FloatingBuffersPerGate}
	}
	deadline := time.Now().Add(e.cfg.PartitionRequestTimeout)
	var remotes []*remoteChannel
	for i, s := range specs {
		if e.isLocal(s.Addr) {
			g.chans[i] = &localChannel{g: g, idx: i}
			continue
		}
		cc, err := e.clientConn(ctx, s.Addr, g)
		if err != nil {
			for _, b := range exclusive {
				e.global.put(b)
			}
			exclusive = nil
			g.Close()
			return nil, err
		}
		bpc := e.cfg.BuffersPerChannel
		rc := &remoteChannel{g: g, idx: i, cc: cc, id: e.nextReceiver.Add(1), exclusive: bpc, deadline: deadline, backoff: initialBackoff}
		rc.free = exclusive[:bpc:bpc]
		exclusive = exclusive[bpc:]
		for _, b := range rc.free {
			b.owner = rc
		}
		g.chans[i] = rc
		remotes = append(remotes, rc)
	}
	for _, c := range g.chans {
		if lc, ok := c.(*localChannel); ok {
			lc.request(deadline, initialBackoff)
		}
	}
	for _, rc := range remotes {
		rc.cc.request(rc)
	}
	return g, nil
}

func (e *Environment) isLocal(addr string) bool {
	return addr == "" || addr == e.addr || addr == e.ln.Addr().String()
}

// advertisedAddr is the address other processes dial to reach listener address la.
func advertisedAddr(la net.Addr, externalHost string) (string, error) {
	host, port, err := net.SplitHostPort(la.String())
	if err != nil {
		return "", fmt.Errorf("network: listener address %q: %w", la, err)
	}
	switch {
	case externalHost != "":
		host = externalHost
	case net.ParseIP(host) != nil && net.ParseIP(host).IsUnspecified():
		h, err := os.Hostname()
		if err != nil {
			return "", fmt.Errorf("network: bound to wildcard %s and no ExternalHost set; host name unknown: %w", la, err)
		}
		host = h
	}
	return net.JoinHostPort(host, port), nil
}

// Close releases every partition, closes all connections and the data server, and waits for
// the environment's goroutines.
func (e *Environment) Close() error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	parts := make([]*ResultPartition, 0, len(e.partitions))
	for _, p := range e.partitions {
		parts = append(parts, p)
	}
	clients := make([]*clientConn, 0, len(e.clients))
	for _, c := range e.clients {
		clients = append(clients, c)
	}
	servers := make([]*serverConn, 0, len(e.servers))
	for s := range e.servers {
		servers = append(servers, s)
	}
	e.mu.Unlock()
	err := e.ln.Close()
	for _, p := range parts {
		p.release(ErrEnvironmentClosed)
	}
	for _, c := range clients {
		c.shutdown(ErrEnvironmentClosed)
	}
	for _, s := range servers {
		s.conn.Close()
	}
	e.wg.Wait()
	e.log.Debug().Msg("data server stopped")
	return err
}

func (e *Environment) acceptLoop() {
	defer e.wg.Done()
	for {
		conn, err := e.ln.Accept()
		if err != nil {
			e.mu.Lock()
			closed := e.closed
			e.mu.Unlock()
			if !closed {
				e.log.Error().Err(err).Msg("accepting data connections failed; data server stopped")
			}
			return
		}
		if tc, ok := conn.(*net.TCPConn); ok {
			_ = tc.SetKeepAliveConfig(keepAlive) // best effort: detection of vanished peers
		}
		sc := newServerConn(e, conn)
		e.mu.Lock()
		if e.closed {
			e.mu.Unlock()
			conn.Close()
			continue
		}
		e.servers[sc] = struct{}{}
		e.wg.Add(2)
		e.mu.Unlock()
		go sc.readLoop()
		go sc.writeLoop()
	}
}

func (e *Environment) removeServer(sc *serverConn) {
	e.mu.Lock()
	delete(e.servers, sc)
	e.mu.Unlock()
}

// clientConn returns the shared connection to addr, dialing it if needed, with a reference
// held by gate g.
func (e *Environment) clientConn(ctx context.Context, addr string, g *InputGate) (*clientConn, error) {
	for _, cc := range g.conns {
		if cc.addr == addr {
			return cc, nil
		}
	}
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil, ErrEnvironmentClosed
	}
	if cc, ok := e.clients[addr]; ok && !cc.isClosed() {
		cc.refs++
		e.mu.Unlock()
		g.conns = append(g.conns, cc)
		return cc, nil
	}
	e.mu.Unlock()
	cc, err := dialClientConn(ctx, e, addr)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	if other, ok := e.clients[addr]; ok && !other.isClosed() {
		// Lost a race with another gate: use the existing connection.
		other.refs++
		e.mu.Unlock()
		cc.shutdown(nil)
		g.conns = append(g.conns, other)
		return other, nil
	}
	if e.closed {
		e.mu.Unlock()
		cc.shutdown(ErrEnvironmentClosed)
		return nil, ErrEnvironmentClosed
	}
	cc.refs = 1
	e.clients[addr] = cc
	e.mu.Unlock()
	g.conns = append(g.conns, cc)
	return cc, nil
}

// releaseClientConn drops a gate's reference; the last one closes the connection.
func (e *Environment) releaseClientConn(cc *clientConn) {
	e.mu.Lock()
	cc.refs--
	last := cc.refs <= 0
	if last && e.clients[cc.addr] == cc {
		delete(e.clients, cc.addr)
	}
	e.mu.Unlock()
	if last {
		cc.closeGracefully()
	}
}

func (e *Environment) forgetClientConn(cc *clientConn) {
	e.mu.Lock()
	if e.clients[cc.addr] == cc {
		delete(e.clients, cc.addr)
	}
	e.mu.Unlock()
}

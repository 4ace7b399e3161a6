package network

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// clientConn is the one connection of this process to a remote producer process. It carries
// the requests, credits and buffers of every remote channel to that process.
type clientConn struct {
	env  *Environment
	addr string
	conn net.Conn
	log  zerolog.Logger

	mu       sync.Mutex
	chans    map[uint64]*remoteChannel
	requests []*remoteChannel
	cancels  []uint64
	credits  []*remoteChannel
	refs     int // guarded by env.mu
	closing  bool
	closed   bool
	signal   chan struct{} // capacity 1
	done     chan struct{}
}

func dialClientConn(ctx context.Context, e *Environment, addr string) (*clientConn, error) {
	d := net.Dialer{Timeout: 10 * time.Second, KeepAliveConfig: keepAlive}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("network: connecting to producer data address %s (TaskManager down or address unreachable?): %w", addr, err)
	}
	if _, err := conn.Write(protocolMagic[:]); err != nil {
		conn.Close()
		return nil, fmt.Errorf("network: handshake with %s: %w", addr, err)
	}
	cc := &clientConn{
		env:    e,
		addr:   addr,
		conn:   conn,
		log:    e.log.With().Str("peer", addr).Str("side", "client").Logger(),
		chans:  make(map[uint64]*remoteChannel),
		signal: make(chan struct{}, 1),
		done:   make(chan struct{}),
	}
	e.wg.Add(2)
	go cc.readLoop()
	go cc.writeLoop()
	return cc, nil
}

func (cc *clientConn) isClosed() bool {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	return cc.closed || cc.closing
}

func (cc *clientConn) wake() {
	select {
	case cc.signal <- struct{}{}:
	default:
	}
}

// request queues a PartitionRequest for c.
func (cc *clientConn) request(c *remoteChannel) {
	cc.mu.Lock()
	if cc.closed {
		cc.mu.Unlock()
		c.fail(fmt.Errorf("network: connection to %s closed", cc.addr))
		return
	}
	cc.chans[c.id] = c
	cc.requests = append(cc.requests, c)
	cc.mu.Unlock()
	cc.wake()
}

// announce queues an AddCredit for c.
func (cc *clientConn) announce(c *remoteChannel) {
	cc.mu.Lock()
	if !c.creditQueued && !cc.closed {
		c.creditQueued = true
		cc.credits = append(cc.credits, c)
	}
	cc.mu.Unlock()
	cc.wake()
}

// cancel forgets c and tells the producer.
func (cc *clientConn) cancel(c *remoteChannel, send bool) {
	cc.mu.Lock()
	delete(cc.chans, c.id)
	if send && !cc.closed {
		cc.cancels = append(cc.cancels, c.id)
	}
	cc.mu.Unlock()
	cc.wake()
}

// closeGracefully sends CloseRequest after pending frames and closes the connection.
func (cc *clientConn) closeGracefully() {
	cc.mu.Lock()
	cc.closing = true
	cc.mu.Unlock()
	cc.wake()
}

// shutdown closes the connection now, failing its channels with cause (if not nil).
func (cc *clientConn) shutdown(cause error) {
	cc.mu.Lock()
	if cc.closed {
		cc.mu.Unlock()
		return
	}
	cc.closed = true
	chans := cc.chans
	cc.chans = map[uint64]*remoteChannel{}
	cc.mu.Unlock()
	close(cc.done)
	cc.conn.Close()
	cc.env.forgetClientConn(cc)
	if cause != nil {
		for _, c := range chans {
			c.connectionLost(cause)
		}
	}
}

func (cc *clientConn) writeLoop() {
	defer cc.env.wg.Done()
	bw := bufio.NewWriterSize(cc.conn, 4<<10)
	fw := &frameWriter{w: bw}
	var spareReqs, spareCredits []*remoteChannel
	var spareCancels []uint64
	for {
		cc.mu.Lock()
		if cc.closed {
			cc.mu.Unlock()
			return
		}
		reqs, cancels, credits, closing := cc.requests, cc.cancels, cc.credits, cc.closing
		// Swap in the spare slices so steady-state credit announcements do not allocate.
		cc.requests, cc.cancels, cc.credits = spareReqs[:0], spareCancels[:0], spareCredits[:0]
		for _, c := range credits {
			c.creditQueued = false
		}
		cc.mu.Unlock()
		var err error
		for _, c := range reqs {
			if credit, ok := c.initialCredit(); ok && err == nil {
				err = fw.partitionRequest(c.id, c.spec().Partition, c.spec().Subpartition, credit)
			}
		}
		for _, c := range credits {
			if n := c.takeUnannounced(); n > 0 && err == nil {
				err = fw.addCredit(c.id, n)
			}
		}
		for _, id := range cancels {
			if err == nil {
				err = fw.cancel(id)
			}
		}
		if closing && err == nil {
			err = fw.close()
		}
		if err == nil && bw.Buffered() > 0 {
			err = bw.Flush()
		}
		if err != nil {
			cc.shutdown(fmt.Errorf("network: writing to producer %s: %w", cc.addr, err))
			return
		}
		if closing {
			cc.shutdown(nil)
			return
		}
		worked := len(reqs)+len(cancels)+len(credits) > 0
		clear(reqs)
		clear(credits)
		spareReqs, spareCancels, spareCredits = reqs, cancels, credits
		if worked {
			continue
		}
		select {
		case <-cc.signal:
		case <-cc.done:
		}
	}
}

func (cc *clientConn) readLoop() {
	defer cc.env.wg.Done()
	err := cc.receive()
	cc.mu.Lock()
	expected := cc.closed || cc.closing
	cc.mu.Unlock()
	if expected {
		cc.shutdown(nil)
		return
	}
	if err == nil || errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	cc.log.Warn().Err(err).Msg("data connection to producer lost")
	cc.shutdown(fmt.Errorf("network: connection to producer %s lost (producer process failed?): %w", cc.addr, err))
}

func (cc *clientConn) receive() error {
	// A small read buffer: large data reads bypass it and land in the segment directly.
	fr := newFrameReader(bufio.NewReaderSize(cc.conn, 4<<10), cc.env.cfg.SegmentSize)
	for {
		f, err := fr.next()
		if err != nil {
			return err
		}
		switch f.typ {
		case msgBufferResponse:
			cc.mu.Lock()
			c := cc.chans[f.receiver]
			cc.mu.Unlock()
			if c == nil {
				if err := fr.discard(f.dataLen); err != nil {
					return err
				}
				continue
			}
			if err := c.onBuffer(f, fr); err != nil {
				return err
			}
		case msgBacklog:
			cc.mu.Lock()
			c := cc.chans[f.receiver]
			cc.mu.Unlock()
			if c != nil {
				c.onBacklog(f.backlog)
			}
		case msgError:
			if f.receiver == 0 {
				return fmt.Errorf("producer reported: %s", f.msg)
			}
			cc.mu.Lock()
			c := cc.chans[f.receiver]
			cc.mu.Unlock()
			if c == nil {
				continue
			}
			if f.code == errCodePartitionNotFound {
				c.retryRequest()
			} else {
				c.fail(errors.New(f.msg))
			}
		default:
			return fmt.Errorf("%w: unexpected frame type %d from a server", errMalformed, f.typ)
		}
	}
}

// remoteChannel receives one subpartition over a clientConn with credit-based flow control.
type remoteChannel struct {
	g   *InputGate
	idx int
	cc  *clientConn
	id  uint64

	mu          sync.Mutex
	recv        []*Buffer // received, not yet polled
	head        int
	free        []*Buffer // empty receive buffers (each one is a credit, announced or pending)
	exclusive   int       // exclusive buffers owned (BuffersPerChannel)
	unannounced int
	backlog     int // last backlog reported by the producer
	nextSeq     uint32
	eop         bool
	released    bool
	deadline    time.Time
	backoff     time.Duration
	timer       *time.Timer

	creditQueued    bool // guarded by cc.mu
	waitingFloating bool // guarded by g.floating.mu
}

func (c *remoteChannel) spec() ChannelSpec { return c.g.specs[c.idx] }

func (c *remoteChannel) fail(err error) { c.g.fail(c.g.channelErr(c.idx, err)) }

// connectionLost fails the channel unless it already received EndOfPartition: a producer
// process may exit once its consumers have all its data.
func (c *remoteChannel) connectionLost(err error) {
	c.mu.Lock()
	done := c.eop || c.released
	c.mu.Unlock()
	if !done {
		c.fail(err)
	}
}

// initialCredit is the credit of a (re)sent PartitionRequest: every free buffer.
func (c *remoteChannel) initialCredit() (int, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.released {
		return 0, false
	}
	c.unannounced = 0
	return len(c.free), true
}

func (c *remoteChannel) takeUnannounced() int {
	c.mu.Lock()
	n := c.unannounced
	c.unannounced = 0
	if c.released || c.eop {
		n = 0
	}
	c.mu.Unlock()
	return n
}

// retryRequest re-sends the PartitionRequest after a backoff, or fails after the deadline.
func (c *remoteChannel) retryRequest() {
	c.mu.Lock()
	if c.released {
		c.mu.Unlock()
		return
	}
	if time.Now().After(c.deadline) {
		c.mu.Unlock()
		c.g.fail(c.g.notFoundErr(c.idx))
		return
	}
	d := c.backoff
	c.backoff = nextBackoff(d)
	c.timer = time.AfterFunc(d, func() {
		c.mu.Lock()
		released := c.released
		c.mu.Unlock()
		if !released {
			c.cc.request(c)
		}
	})
	c.mu.Unlock()
}

// onBuffer reads a BufferResponse's data into a free buffer (the producer had credit for it).
func (c *remoteChannel) onBuffer(f frame, fr *frameReader) error {
	c.mu.Lock()
	if c.released {
		c.mu.Unlock()
		return fr.discard(f.dataLen)
	}
	if f.seq != c.nextSeq {
		c.mu.Unlock()
		return fmt.Errorf("%w: channel %d expected buffer %d, got %d", errMalformed, c.idx, c.nextSeq, f.seq)
	}
	n := len(c.free)
	if n == 0 {
		c.mu.Unlock()
		return fmt.Errorf("%w: buffer for channel %d without credit", errMalformed, c.idx)
	}
	b := c.free[n-1]
	c.free[n-1] = nil
	c.free = c.free[:n-1]
	c.nextSeq++
	c.mu.Unlock()
	if f.dataLen > cap(b.seg) {
		b.Recycle()
		return fmt.Errorf("%w: %d-byte buffer exceeds the segment size %d (SegmentSize differs between processes?)", errMalformed, f.dataLen, cap(b.seg))
	}
	b.seg = b.seg[:f.dataLen]
	if err := fr.readData(b.seg); err != nil {
		b.Recycle()
		return err
	}
	b.kind = f.kind
	c.mu.Lock()
	if c.released {
		c.mu.Unlock()
		b.Recycle()
		return nil
	}
	c.recv = append(c.recv, b)
	if f.kind == kindEOP {
		c.eop = true
	}
	c.mu.Unlock()
	c.g.notifyAvailable(c.idx)
	c.onBacklog(f.backlog)
	return nil
}

// onBacklog records the producer's backlog and borrows floating buffers (each one a credit) for
// the part not covered by the channel's free buffers.
func (c *remoteChannel) onBacklog(backlog int) {
	c.mu.Lock()
	if c.released || c.eop {
		c.mu.Unlock()
		return
	}
	c.backlog = backlog
	need := backlog - len(c.free)
	c.mu.Unlock()
	if need > 0 && c.g.floating != nil {
		got := false
		for ; need > 0; need-- {
			fb := c.g.floating.tryTake(c)
			if fb == nil {
				break
			}
			c.mu.Lock()
			if c.released || c.eop {
				c.mu.Unlock()
				fb.Recycle()
				break
			}
			c.free = append(c.free, fb)
			c.unannounced++
			c.mu.Unlock()
			got = true
		}
		if got {
			c.cc.announce(c)
		}
	}
}

// offerFloating gives a floating buffer to a channel that asked for one.
func (c *remoteChannel) offerFloating(b *Buffer) bool {
	c.mu.Lock()
	if c.released || c.eop || c.backlog <= len(c.free) {
		c.mu.Unlock()
		return false
	}
	c.free = append(c.free, b)
	c.unannounced++
	c.mu.Unlock()
	c.cc.announce(c)
	return true
}

// recycle takes back an exclusive buffer: one more credit for the producer.
func (c *remoteChannel) recycle(b *Buffer) {
	b.kind = kindData
	c.mu.Lock()
	if c.released {
		c.mu.Unlock() // forgiven at release: drop it
		return
	}
	b.owner = c
	c.free = append(c.free, b)
	if c.eop {
		c.mu.Unlock()
		return
	}
	c.unannounced++
	c.mu.Unlock()
	c.cc.announce(c)
}

func (c *remoteChannel) poll() (*Buffer, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.head == len(c.recv) {
		return nil, false, nil
	}
	b := c.recv[c.head]
	c.recv[c.head] = nil
	c.head++
	if c.head == len(c.recv) {
		c.recv = c.recv[:0]
		c.head = 0
	}
	return b, c.head < len(c.recv), nil
}

func (c *remoteChannel) release() {
	c.mu.Lock()
	if c.released {
		c.mu.Unlock()
		return
	}
	c.released = true
	if c.timer != nil {
		c.timer.Stop()
	}
	drop := append(c.recv[c.head:], c.free...)
	c.recv, c.head, c.free = nil, 0, nil
	eop := c.eop
	c.mu.Unlock()
	returned := 0
	for _, b := range drop {
		if b.owner == c {
			b.owner = nil
			c.g.env.global.put(b)
			returned++
		} else {
			b.Recycle()
		}
	}
	// Exclusive buffers held elsewhere (by the reader, or being filled by the connection) are
	// dropped when recycled; forgive them now so the budget does not depend on that.
	c.g.env.global.forgive(c.exclusive - returned)
	c.cc.cancel(c, !eop)
}

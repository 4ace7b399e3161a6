package network

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"sync"

	"github.com/rs/zerolog"
)

// serverConn serves one consumer process: it attaches remote views to local subpartitions and
// sends their buffers as credit allows. One goroutine reads requests, one writes buffers.
type serverConn struct {
	env  *Environment
	conn net.Conn
	log  zerolog.Logger

	mu        sync.Mutex
	views     map[uint64]*remoteView
	ready     []*remoteView // views with data and credit, round robin, from readyHead
	readyHead int
	errs      []pendingError
	backlogs  []*remoteView // views to send a backlog announcement for
	closed    bool
	signal    chan struct{} // capacity 1
	done      chan struct{}
}

type pendingError struct {
	receiver uint64
	code     byte
	msg      string
}

// remoteView is a consumer's subscription to one subpartition. Fields are guarded by sc.mu,
// except seq which only the writer goroutine touches.
type remoteView struct {
	sc        *serverConn
	id        uint64
	sub       *subpartition
	credit    int
	queued    bool
	finished  bool // EndOfPartition sent
	released  bool // cancelled or failed
	announced bool // backlog announced since the credit ran out
	seq       uint32
}

func newServerConn(e *Environment, conn net.Conn) *serverConn {
	return &serverConn{
		env:    e,
		conn:   conn,
		log:    e.log.With().Str("peer", conn.RemoteAddr().String()).Str("side", "server").Logger(),
		views:  make(map[uint64]*remoteView),
		signal: make(chan struct{}, 1),
		done:   make(chan struct{}),
	}
}

func (sc *serverConn) wake() {
	select {
	case sc.signal <- struct{}{}:
	default:
	}
}

func (v *remoteView) notifyDataAvailable() {
	sc := v.sc
	sc.mu.Lock()
	if !v.finished && !v.released && !sc.closed {
		if v.credit > 0 {
			if !v.queued {
				v.queued = true
				sc.ready = append(sc.ready, v)
			}
		} else if !v.announced {
			// No credit: tell the consumer about the backlog so it can lend floating buffers.
			v.announced = true
			sc.backlogs = append(sc.backlogs, v)
		}
	}
	sc.mu.Unlock()
	sc.wake()
}

func (v *remoteView) notifyError(err error) {
	sc := v.sc
	sc.mu.Lock()
	if v.released || v.finished || sc.closed {
		sc.mu.Unlock()
		return
	}
	v.released = true
	delete(sc.views, v.id)
	sc.errs = append(sc.errs, pendingError{receiver: v.id, code: errCodeGeneric, msg: "producer failed: " + err.Error()})
	sc.mu.Unlock()
	sc.wake()
}

func (sc *serverConn) queueError(receiver uint64, code byte, msg string) {
	sc.mu.Lock()
	sc.errs = append(sc.errs, pendingError{receiver: receiver, code: code, msg: msg})
	sc.mu.Unlock()
	sc.wake()
}

// readLoop handles requests until the connection ends, then tears it down.
func (sc *serverConn) readLoop() {
	defer sc.env.wg.Done()
	err := sc.serve()
	sc.teardown(err)
}

func (sc *serverConn) serve() error {
	br := bufio.NewReaderSize(sc.conn, 16<<10)
	var magic [4]byte
	if _, err := io.ReadFull(br, magic[:]); err != nil {
		return fmt.Errorf("reading handshake: %w", err)
	}
	if magic != protocolMagic {
		return fmt.Errorf("%w: bad handshake %q (not a flink-go data client, or version mismatch)", errMalformed, magic[:])
	}
	fr := newFrameReader(br, 0)
	for {
		f, err := fr.next()
		if err != nil {
			return err
		}
		switch f.typ {
		case msgPartitionRequest:
			sc.onPartitionRequest(f)
		case msgAddCredit:
			sc.mu.Lock()
			if v := sc.views[f.receiver]; v != nil {
				v.credit += f.credit
				v.announced = false
				if !v.queued && !v.finished && !v.released {
					v.queued = true
					sc.ready = append(sc.ready, v)
				}
			}
			sc.mu.Unlock()
			sc.wake()
		case msgCancel:
			sc.mu.Lock()
			v := sc.views[f.receiver]
			if v != nil {
				delete(sc.views, f.receiver)
				v.released = true
			}
			sc.mu.Unlock()
			if v != nil {
				sc.cancelView(v, "cancelled by the consumer")
			}
		case msgClose:
			return nil
		default:
			return fmt.Errorf("%w: unexpected frame type %d from a client", errMalformed, f.typ)
		}
	}
}

func (sc *serverConn) onPartitionRequest(f frame) {
	p := sc.env.lookupPartition(f.partition)
	if p == nil {
		sc.queueError(f.receiver, errCodePartitionNotFound, "partition "+f.partition.String()+" not registered at "+sc.env.addr)
		return
	}
	if f.subpartition >= len(p.subs) {
		sc.queueError(f.receiver, errCodeGeneric, fmt.Sprintf("subpartition %d out of range, partition %s has %d", f.subpartition, p.id, len(p.subs)))
		return
	}
	v := &remoteView{sc: sc, id: f.receiver, sub: p.subs[f.subpartition], credit: f.credit}
	sc.mu.Lock()
	if sc.closed {
		sc.mu.Unlock()
		return
	}
	if _, dup := sc.views[f.receiver]; dup {
		sc.mu.Unlock()
		sc.queueError(f.receiver, errCodeGeneric, fmt.Sprintf("duplicate receiver id %d", f.receiver))
		return
	}
	sc.views[f.receiver] = v
	sc.mu.Unlock()
	if err := v.sub.attach(v); err != nil {
		sc.mu.Lock()
		delete(sc.views, f.receiver)
		sc.mu.Unlock()
		sc.queueError(f.receiver, errCodeGeneric, err.Error())
		return
	}
	sc.log.Debug().Str("partition", p.id.String()).Int("subpartition", f.subpartition).Uint64("receiver", f.receiver).Msg("partition requested")
}

// cancelView fails the producer's partition unless the subpartition was fully consumed: a
// consumer that goes away before the end means the job is failing over.
func (sc *serverConn) cancelView(v *remoteView, why string) {
	s := v.sub
	s.mu.Lock()
	done := s.consumed || s.err != nil
	s.mu.Unlock()
	if !done {
		s.p.release(fmt.Errorf("network: consumer of subpartition %d of %s at %s %s", s.index, s.p.id, sc.conn.RemoteAddr(), why))
	}
}

func (sc *serverConn) teardown(err error) {
	sc.mu.Lock()
	sc.closed = true
	views := sc.views
	sc.views = map[uint64]*remoteView{}
	sc.ready, sc.readyHead = nil, 0
	sc.mu.Unlock()
	close(sc.done)
	sc.conn.Close()
	sc.env.removeServer(sc)
	if err != nil && !errors.Is(err, net.ErrClosed) && !errors.Is(err, io.EOF) {
		sc.log.Warn().Err(err).Msg("data connection from consumer failed")
	}
	for _, v := range views {
		if !v.finished && !v.released {
			sc.cancelView(v, "lost its connection")
		}
	}
}

// writeLoop sends queued errors and buffers, flushing when it runs out of work.
func (sc *serverConn) writeLoop() {
	defer sc.env.wg.Done()
	bw := bufio.NewWriterSize(sc.conn, 64<<10)
	fw := &frameWriter{w: bw, conn: sc.conn}
	segSize := sc.env.cfg.SegmentSize
	var batch []*Buffer
	var spareBacklogs []*remoteView
	fail := func(err error) {
		sc.log.Debug().Err(err).Msg("writing to consumer failed")
		sc.conn.Close()
	}
	for {
		sc.mu.Lock()
		if sc.closed {
			sc.mu.Unlock()
			return
		}
		if len(sc.errs) > 0 {
			errs := sc.errs
			sc.errs = nil
			sc.mu.Unlock()
			for _, e := range errs {
				if err := fw.errorResponse(e.receiver, e.code, e.msg); err != nil {
					fail(err)
					return
				}
			}
			continue
		}
		if len(sc.backlogs) > 0 {
			bls := sc.backlogs
			sc.backlogs = spareBacklogs[:0]
			sc.mu.Unlock()
			for i, v := range bls {
				bls[i] = nil
				if n := v.sub.backlog(); n > 0 {
					if err := fw.backlogAnnouncement(v.id, n); err != nil {
						fail(err)
						return
					}
				}
			}
			spareBacklogs = bls
			continue
		}
		var v *remoteView
		for sc.readyHead < len(sc.ready) {
			v = sc.ready[sc.readyHead]
			sc.ready[sc.readyHead] = nil
			sc.readyHead++
			if sc.readyHead == len(sc.ready) {
				sc.ready, sc.readyHead = sc.ready[:0], 0
			}
			v.queued = false
			if v.credit > 0 && !v.finished && !v.released {
				break
			}
			v = nil
		}
		sc.mu.Unlock()
		if v == nil {
			if bw.Buffered() > 0 {
				if err := bw.Flush(); err != nil {
					fail(err)
					return
				}
				continue
			}
			select {
			case <-sc.signal:
			case <-sc.done:
			}
			continue
		}
		b, backlog, err := v.sub.poll(false, math.MaxInt)
		if err != nil || b == nil {
			continue // failures reach the consumer through notifyError
		}
		kind := b.kind
		// Coalesce small queued data buffers (e.g. flushed by a short buffer timeout) into one
		// frame: the consumer sees one byte stream per channel, and it costs one credit.
		batch = append(batch[:0], b)
		if kind == kindData {
			for total := len(b.seg); backlog > 0 && total < segSize; {
				nb, bl, _ := v.sub.poll(true, segSize-total)
				if nb == nil {
					break
				}
				batch = append(batch, nb)
				total += len(nb.seg)
				backlog = bl
			}
		}
		err = fw.bufferResponseParts(v.id, v.seq, backlog, kind, batch)
		v.seq++
		for i, x := range batch {
			x.Recycle()
			batch[i] = nil
		}
		if err != nil {
			fail(err)
			return
		}
		sc.mu.Lock()
		v.credit--
		if kind == kindEOP {
			v.finished = true
			delete(sc.views, v.id)
		} else if backlog > 0 && v.credit > 0 && !v.queued && !v.released {
			v.queued = true
			sc.ready = append(sc.ready, v)
		}
		sc.mu.Unlock()
	}
}

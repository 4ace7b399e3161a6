package network

import (
	"encoding/binary"
	"fmt"
	"time"
)

// RecordWriter writes length-prefixed records into the subpartitions of a ResultPartition.
//
// Emit, EmitBytes, Broadcast, EmitEvent, BroadcastEvent, Flush and Close must be called from one
// goroutine (the producing task). The output flusher and Release run concurrently with them; the
// per-record path takes no lock: it publishes the write position with one atomic store.
type RecordWriter struct {
	p *ResultPartition
}

// NewRecordWriter returns the writer of p. A partition has one writer; several RecordWriter
// values for the same partition share its state (and the single-goroutine rule).
func NewRecordWriter(p *ResultPartition) *RecordWriter {
	return &RecordWriter{p: p}
}

// Partition returns the partition written by w.
func (w *RecordWriter) Partition() *ResultPartition { return w.p }

// slack is the margin kept free beyond the largest record seen before encoding in place.
const slack = binary.MaxVarintLen64

// check returns why the writer cannot write, or nil.
func (p *ResultPartition) check() error {
	if p.released.Load() {
		return p.cause
	}
	if p.closed {
		return ErrWriterClosed
	}
	return nil
}

func (p *ResultPartition) subErr(sub int) error {
	return fmt.Errorf("network: subpartition %d out of range [0, %d) in partition %s", sub, len(p.cur), p.id)
}

// Emit appends one record to subpartition sub. encode appends the record's bytes to dst and
// returns the result (it must not call the writer); dst is the free tail of the current buffer
// when the record very likely fits (zero copy), else a reusable scratch slice. Records larger
// than a buffer span buffers. Emit blocks while the partition's buffer share is exhausted
// (backpressure) and returns an error once the partition is released or the writer closed.
func (w *RecordWriter) Emit(sub int, encode func(dst []byte) []byte) error {
	p := w.p
	if err := p.check(); err != nil {
		return err
	}
	if uint(sub) >= uint(len(p.cur)) {
		return p.subErr(sub)
	}
	if bb := p.cur[sub]; bb != nil {
		start := bb.wpos
		mem := bb.mem
		if len(mem)-start > p.maxRec+slack {
			dst := mem[start+1 : start+1 : len(mem)]
			out := encode(dst)
			n := len(out)
			if n == 0 || (cap(out) == cap(dst) && &out[:1][0] == &dst[:1][0]) {
				// Encoded in place after a one-byte length reservation.
				if n > p.maxRec {
					p.maxRec = n
				}
				if n < 0x80 {
					mem[start] = byte(n)
					bb.wpos = start + 1 + n
				} else if vl := uvarintLen(n); start+vl+n <= len(mem) {
					copy(mem[start+vl:start+vl+n], mem[start+1:start+1+n])
					binary.PutUvarint(mem[start:], uint64(n))
					bb.wpos = start + vl + n
				} else {
					// Cannot happen while n <= maxRec, kept for safety: copy out and span.
					p.scratch = append(p.scratch[:0], mem[start+1:start+1+n]...)
					return p.appendRecord(sub, p.scratch)
				}
				bb.committed.Store(int64(bb.wpos))
				if bb.wpos == len(mem) {
					p.finishCur(sub)
				}
				if p.flushAlways {
					p.subs[sub].requestFlush()
				}
				return nil
			}
			// encode outgrew the buffer and reallocated: out holds the record.
			if n > p.maxRec {
				p.maxRec = n
			}
			if cap(out) <= cap(dst) {
				// out may alias the buffer's free tail (encode returned a sub-slice): copy it
				// out of the way before the length prefix is written there.
				p.scratch = append(p.scratch[:0], out...)
				out = p.scratch
			}
			return p.appendRecord(sub, out)
		}
	}
	out := encode(p.scratch[:0])
	if cap(out) > cap(p.scratch) {
		p.scratch = out[:0]
	}
	if len(out) > p.maxRec {
		p.maxRec = len(out)
	}
	return p.appendRecord(sub, out)
}

// EmitBytes appends rec as one record to subpartition sub (rec is copied).
func (w *RecordWriter) EmitBytes(sub int, rec []byte) error {
	p := w.p
	if err := p.check(); err != nil {
		return err
	}
	if uint(sub) >= uint(len(p.cur)) {
		return p.subErr(sub)
	}
	return p.appendRecord(sub, rec)
}

// Broadcast appends the same record to every subpartition (encoded once).
func (w *RecordWriter) Broadcast(encode func(dst []byte) []byte) error {
	p := w.p
	if err := p.check(); err != nil {
		return err
	}
	out := encode(p.scratch[:0])
	if cap(out) > cap(p.scratch) {
		p.scratch = out[:0]
	}
	for sub := range p.cur {
		if err := p.appendRecord(sub, out); err != nil {
			return err
		}
	}
	return nil
}

// appendRecord writes the length prefix and rec into sub's builders, spanning as needed, and
// publishes the result.
func (p *ResultPartition) appendRecord(sub int, rec []byte) error {
	if bb := p.cur[sub]; bb != nil {
		// Fast path: prefix and record fit.
		start := bb.wpos
		if n := len(rec); n < 0x80 && len(bb.mem)-start > n {
			bb.mem[start] = byte(n)
			copy(bb.mem[start+1:], rec)
			bb.wpos = start + 1 + n
			bb.committed.Store(int64(bb.wpos))
			if bb.wpos == len(bb.mem) {
				p.finishCur(sub)
			}
			if p.flushAlways {
				p.subs[sub].requestFlush()
			}
			return nil
		}
	}
	var hdr [binary.MaxVarintLen64]byte
	hn := binary.PutUvarint(hdr[:], uint64(len(rec)))
	if err := p.appendBytes(sub, hdr[:hn]); err != nil {
		return err
	}
	if err := p.appendBytes(sub, rec); err != nil {
		return err
	}
	if bb := p.cur[sub]; bb != nil {
		bb.committed.Store(int64(bb.wpos))
	}
	if p.flushAlways {
		p.subs[sub].requestFlush()
	}
	return nil
}

// appendBytes copies data into sub's builders, finishing full ones.
func (p *ResultPartition) appendBytes(sub int, data []byte) error {
	for len(data) > 0 {
		bb := p.cur[sub]
		if bb == nil {
			var err error
			if bb, err = p.newCur(sub); err != nil {
				return err
			}
		}
		n := copy(bb.mem[bb.wpos:], data)
		bb.wpos += n
		data = data[n:]
		if bb.wpos == len(bb.mem) {
			p.finishCur(sub)
		}
	}
	return nil
}

// newCur starts a new builder for sub, waiting for a buffer when the partition's share is
// exhausted (backpressure).
func (p *ResultPartition) newCur(sub int) (*builder, error) {
	b, err := p.pool.tryRequest()
	if err == nil && b == nil {
		start := time.Now()
		b, err = p.pool.request()
		p.bpNanos.Add(int64(time.Since(start)))
	}
	if err == nil && p.released.Load() {
		b.Recycle()
		err = p.cause
	}
	if err != nil {
		return nil, fmt.Errorf("network: writing partition %s: %w", p.id, err)
	}
	bb := newBuilder(b)
	if err := p.subs[sub].addBuilder(bb); err != nil {
		bb.unref()
		bb.unref()
		return nil, fmt.Errorf("network: writing partition %s: %w", p.id, err)
	}
	p.cur[sub] = bb
	return bb, nil
}

// finishCur publishes and completes sub's current builder.
func (p *ResultPartition) finishCur(sub int) {
	bb := p.cur[sub]
	if bb == nil {
		return
	}
	p.cur[sub] = nil
	bb.committed.Store(int64(bb.wpos))
	p.subs[sub].finishBuilder(bb)
}

// maxEventSize is the largest event accepted: it must fit one receive buffer on the consumer.
func (p *ResultPartition) maxEventSize() int { return p.env.cfg.SegmentSize }

// BroadcastEvent completes every subpartition's current buffer and then appends the event to
// each, so it travels in order after all records emitted before it. ev is copied.
func (w *RecordWriter) BroadcastEvent(ev []byte) error {
	p := w.p
	if len(ev) > p.maxEventSize() {
		return fmt.Errorf("network: event of %d bytes exceeds the segment size %d", len(ev), p.maxEventSize())
	}
	if err := p.check(); err != nil {
		return err
	}
	for sub := range p.cur {
		if err := p.addEvent(sub, ev, kindEvent); err != nil {
			return err
		}
	}
	return nil
}

// EmitEvent completes subpartition sub's current buffer and appends the event to it.
func (w *RecordWriter) EmitEvent(sub int, ev []byte) error {
	p := w.p
	if len(ev) > p.maxEventSize() {
		return fmt.Errorf("network: event of %d bytes exceeds the segment size %d", len(ev), p.maxEventSize())
	}
	if err := p.check(); err != nil {
		return err
	}
	if uint(sub) >= uint(len(p.cur)) {
		return p.subErr(sub)
	}
	return p.addEvent(sub, ev, kindEvent)
}

func (p *ResultPartition) addEvent(sub int, ev []byte, kind bufKind) error {
	p.finishCur(sub)
	seg := make([]byte, len(ev))
	copy(seg, ev)
	return p.subs[sub].addEvent(&Buffer{seg: seg, kind: kind})
}

// Flush makes everything written so far available to the consumers now (the partially filled
// buffers keep being filled).
func (w *RecordWriter) Flush() error {
	p := w.p
	if err := p.check(); err != nil {
		return err
	}
	for _, s := range p.subs {
		s.requestFlush()
	}
	return nil
}

// Close completes every buffer and appends EndOfPartition to every subpartition. Later calls
// return ErrWriterClosed (Close itself returns nil again). The partition is released once every
// consumer has read to the end.
func (w *RecordWriter) Close() error {
	p := w.p
	if p.closed && !p.released.Load() {
		return nil
	}
	if err := p.check(); err != nil {
		return err
	}
	p.closed = true
	p.stopFlushLoop()
	for sub := range p.cur {
		if err := p.addEvent(sub, nil, kindEOP); err != nil {
			return err
		}
	}
	return nil
}

func uvarintLen(n int) int {
	l := 1
	for n >= 0x80 {
		n >>= 7
		l++
	}
	return l
}

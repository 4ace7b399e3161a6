package network

import (
	"encoding/binary"
	"fmt"
	"time"
)

// RecordWriter writes length-prefixed records into the subpartitions of a ResultPartition.
//
// Emit, EmitBytes, Broadcast, BroadcastEvent, Flush and Close must be called from one goroutine
// (the producing task); the output flusher and Release may run concurrently with them.
type RecordWriter struct {
	p *ResultPartition
}

// NewRecordWriter returns the writer of p. A partition has one writer; several RecordWriter
// values for the same partition share its state.
func NewRecordWriter(p *ResultPartition) *RecordWriter {
	return &RecordWriter{p: p}
}

// Partition returns the partition written by w.
func (w *RecordWriter) Partition() *ResultPartition { return w.p }

// slack is the margin kept free beyond the largest record seen before encoding in place.
const slack = binary.MaxVarintLen64

// Emit appends one record to subpartition sub. encode appends the record's bytes to dst and
// returns the result (it must not call the writer); dst is the free tail of the current buffer when the record very likely
// fits (zero copy), else a reusable scratch slice. Records larger than a buffer span buffers.
// Emit blocks while the partition's buffer share is exhausted (backpressure) and returns an
// error once the partition is released or the writer closed.
func (w *RecordWriter) Emit(sub int, encode func(dst []byte) []byte) error {
	p := w.p
	p.wmu.Lock()
	// A deferred unlock keeps the partition usable (Release, flusher) if encode panics.
	defer p.wmu.Unlock()
	if p.werr != nil {
		return p.werr
	}
	if uint(sub) >= uint(len(p.cur)) {
		return fmt.Errorf("network: subpartition %d out of range [0, %d) in partition %s", sub, len(p.cur), p.id)
	}
	if b := p.cur[sub]; b != nil {
		start := len(b.seg)
		seg := b.seg[:cap(b.seg)]
		if len(seg)-start > p.maxRec+slack {
			dst := seg[start+1 : start+1 : cap(seg)]
			out := encode(dst)
			n := len(out)
			if n == 0 || (cap(out) == cap(dst) && &out[:1][0] == &dst[:1][0]) {
				// Encoded in place after a one-byte length reservation.
				if n > p.maxRec {
					p.maxRec = n
				}
				if n < 0x80 {
					seg[start] = byte(n)
					b.seg = seg[:start+1+n]
				} else if vl := uvarintLen(n); start+vl+n <= cap(seg) {
					copy(seg[start+vl:start+vl+n], seg[start+1:start+1+n])
					binary.PutUvarint(seg[start:], uint64(n))
					b.seg = seg[:start+vl+n]
				} else {
					// Cannot happen while n <= maxRec, kept for safety: copy out and span.
					p.scratch = append(p.scratch[:0], seg[start+1:start+1+n]...)
					return p.appendRecordLocked(sub, p.scratch)
				}
				if p.flushAlways || len(b.seg) == cap(b.seg) {
					return p.finishLocked(sub)
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
			return p.appendRecordLocked(sub, out)
		}
	}
	out := encode(p.scratch[:0])
	if cap(out) > cap(p.scratch) {
		p.scratch = out[:0]
	}
	if len(out) > p.maxRec {
		p.maxRec = len(out)
	}
	return p.appendRecordLocked(sub, out)
}

// EmitBytes appends rec as one record to subpartition sub (rec is copied).
func (w *RecordWriter) EmitBytes(sub int, rec []byte) error {
	p := w.p
	p.wmu.Lock()
	if p.werr != nil {
		err := p.werr
		p.wmu.Unlock()
		return err
	}
	if uint(sub) >= uint(len(p.cur)) {
		p.wmu.Unlock()
		return fmt.Errorf("network: subpartition %d out of range [0, %d) in partition %s", sub, len(p.cur), p.id)
	}
	err := p.appendRecordLocked(sub, rec)
	p.wmu.Unlock()
	return err
}

// Broadcast appends the same record to every subpartition (encoded once).
func (w *RecordWriter) Broadcast(encode func(dst []byte) []byte) error {
	p := w.p
	p.wmu.Lock()
	defer p.wmu.Unlock()
	if p.werr != nil {
		return p.werr
	}
	out := encode(p.scratch[:0])
	if cap(out) > cap(p.scratch) {
		p.scratch = out[:0]
	}
	for sub := range p.cur {
		if err := p.appendRecordLocked(sub, out); err != nil {
			return err
		}
	}
	return nil
}

// appendRecordLocked writes the length prefix and rec into sub's buffers, spanning buffers as
// needed. Caller holds wmu; it may be released while waiting for a buffer.
func (p *ResultPartition) appendRecordLocked(sub int, rec []byte) error {
	if b := p.cur[sub]; b != nil {
		// Fast path: prefix and record fit.
		start := len(b.seg)
		if n := len(rec); n < 0x80 && cap(b.seg)-start > n {
			b.seg = b.seg[:start+1+n]
			b.seg[start] = byte(n)
			copy(b.seg[start+1:], rec)
			if p.flushAlways || len(b.seg) == cap(b.seg) {
				return p.finishLocked(sub)
			}
			return nil
		}
	}
	var hdr [binary.MaxVarintLen64]byte
	hn := binary.PutUvarint(hdr[:], uint64(len(rec)))
	if err := p.appendBytesLocked(sub, hdr[:hn]); err != nil {
		return err
	}
	if err := p.appendBytesLocked(sub, rec); err != nil {
		return err
	}
	if p.flushAlways {
		return p.finishLocked(sub)
	}
	return nil
}

// appendBytesLocked copies data into sub's buffers, finishing full ones.
func (p *ResultPartition) appendBytesLocked(sub int, data []byte) error {
	for len(data) > 0 {
		b := p.cur[sub]
		if b == nil {
			nb, err := p.newBufferLocked()
			if err != nil {
				return err
			}
			p.cur[sub] = nb
			b = nb
		}
		l := len(b.seg)
		n := copy(b.seg[l:cap(b.seg)], data)
		b.seg = b.seg[:l+n]
		data = data[n:]
		if len(b.seg) == cap(b.seg) {
			if err := p.finishLocked(sub); err != nil {
				return err
			}
		}
	}
	return nil
}

// newBufferLocked takes a buffer from the partition's pool, waiting with wmu released when the
// share is exhausted (backpressure).
func (p *ResultPartition) newBufferLocked() (*Buffer, error) {
	b, err := p.pool.tryRequest()
	if err != nil {
		return nil, fmt.Errorf("network: writing partition %s: %w", p.id, err)
	}
	if b != nil {
		return b, nil
	}
	p.wmu.Unlock()
	start := time.Now()
	b, err = p.pool.request()
	p.bpNanos.Add(int64(time.Since(start)))
	p.wmu.Lock()
	if err == nil && p.werr != nil {
		b.Recycle()
		err = p.werr
	}
	if err != nil {
		return nil, fmt.Errorf("network: writing partition %s: %w", p.id, err)
	}
	return b, nil
}

// maxEventSize is the largest event accepted: it must fit one receive buffer on the consumer.
func (p *ResultPartition) maxEventSize() int { return p.env.cfg.SegmentSize }

// BroadcastEvent flushes every subpartition and then appends the event to each, so it travels
// in order after all records emitted before it. ev is copied.
func (w *RecordWriter) BroadcastEvent(ev []byte) error {
	p := w.p
	if len(ev) > p.maxEventSize() {
		return fmt.Errorf("network: event of %d bytes exceeds the segment size %d", len(ev), p.maxEventSize())
	}
	p.wmu.Lock()
	defer p.wmu.Unlock()
	if p.werr != nil {
		return p.werr
	}
	for sub := range p.cur {
		if err := p.addEventLocked(sub, ev, kindEvent); err != nil {
			return err
		}
	}
	return nil
}

// EmitEvent flushes subpartition sub and appends the event to it.
func (w *RecordWriter) EmitEvent(sub int, ev []byte) error {
	p := w.p
	if len(ev) > p.maxEventSize() {
		return fmt.Errorf("network: event of %d bytes exceeds the segment size %d", len(ev), p.maxEventSize())
	}
	p.wmu.Lock()
	defer p.wmu.Unlock()
	if p.werr != nil {
		return p.werr
	}
	if uint(sub) >= uint(len(p.cur)) {
		return fmt.Errorf("network: subpartition %d out of range [0, %d) in partition %s", sub, len(p.cur), p.id)
	}
	return p.addEventLocked(sub, ev, kindEvent)
}

func (p *ResultPartition) addEventLocked(sub int, ev []byte, kind bufKind) error {
	if err := p.finishLocked(sub); err != nil {
		return err
	}
	seg := make([]byte, len(ev))
	copy(seg, ev)
	return p.subs[sub].add(&Buffer{seg: seg, kind: kind})
}

// Flush hands on every partially filled buffer now.
func (w *RecordWriter) Flush() error {
	p := w.p
	p.wmu.Lock()
	defer p.wmu.Unlock()
	if p.werr != nil {
		return p.werr
	}
	for sub := range p.cur {
		if err := p.finishLocked(sub); err != nil {
			return err
		}
	}
	return nil
}

// Close flushes and appends EndOfPartition to every subpartition. Later calls return
// ErrWriterClosed. The partition is released once every consumer has read to the end.
func (w *RecordWriter) Close() error {
	p := w.p
	p.stopFlushLoop()
	p.wmu.Lock()
	defer p.wmu.Unlock()
	if p.werr != nil {
		if p.werr == ErrWriterClosed {
			return nil
		}
		return p.werr
	}
	for sub := range p.cur {
		if err := p.addEventLocked(sub, nil, kindEOP); err != nil {
			p.werr = err
			return err
		}
	}
	p.werr = ErrWriterClosed
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

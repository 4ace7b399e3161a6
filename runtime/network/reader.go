package network

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
)

// MaxRecordSize caps the length prefix a reader accepts; a larger one means a corrupt stream.
const MaxRecordSize = 1 << 30

// chanState is the per-channel deserializer state of a RecordReader.
type chanState struct {
	buf *Buffer // data buffer being parsed (nil if none)
	pos int

	// A record spanning buffers is assembled in partial.
	assembling bool
	lenBuf     [binary.MaxVarintLen64]byte
	lenN       int  // bytes of a split length prefix collected so far
	haveLen    bool // the length prefix is complete
	need       int  // body bytes still missing
	partial    []byte

	eof bool
}

// RecordReader reassembles the records of an InputGate's channels. It is used by one goroutine.
type RecordReader struct {
	g        *InputGate
	st       []chanState
	blocked  []bool
	nBlocked int
	cur      int     // channel whose buffer is being parsed, -1 if none
	resume   []int   // channels holding a partly parsed buffer, interrupted by Block
	hold     *Buffer // event buffer returned by the previous Next
	eofs     int
	onEOP    func(ch int)
}

// NewRecordReader returns the reader of g. A gate has one reader.
func NewRecordReader(g *InputGate) *RecordReader {
	r := &RecordReader{
		g:       g,
		st:      make([]chanState, len(g.chans)),
		blocked: make([]bool, len(g.chans)),
		cur:     -1,
	}
	g.reader = r
	return r
}

// SetEndOfPartitionHandler registers f to be called (inside Next, on the reader's goroutine)
// when channel ch delivered EndOfPartition, e.g. to stop waiting for its watermarks. Next then
// returns (ch, nil, nil, nil) right after f, so the caller can act on the ended channel (such as
// completing a barrier alignment that waited for it) before Next blocks again.
func (r *RecordReader) SetEndOfPartitionHandler(f func(ch int)) { r.onEOP = f }

// Finished reports whether channel ch delivered EndOfPartition.
func (r *RecordReader) Finished(ch int) bool { return r.st[ch].eof }

// Block stops delivering from channel ch (barrier alignment). Its data stays queued, in order,
// and backpressures its producer once the channel's buffers are used up.
func (r *RecordReader) Block(ch int) {
	if ch < 0 || ch >= len(r.blocked) || r.blocked[ch] {
		return
	}
	r.blocked[ch] = true
	r.nBlocked++
}

// IsBlocked reports whether channel ch is blocked.
func (r *RecordReader) IsBlocked(ch int) bool { return r.blocked[ch] }

// UnblockAll resumes every blocked channel.
func (r *RecordReader) UnblockAll() {
	if r.nBlocked == 0 {
		return
	}
	for i := range r.blocked {
		r.blocked[i] = false
	}
	r.nBlocked = 0
}

// Next returns the next record (rec != nil, valid until the next call) or event (ev != nil,
// valid until the next call) of any non-blocked channel, with its channel index. It returns
// io.EOF once every channel delivered EndOfPartition, blocks while nothing is available and
// returns ctx.Err() when ctx is done. With an end-of-partition handler set, it also returns
// (ch, nil, nil, nil) after channel ch ended.
func (r *RecordReader) Next(ctx context.Context) (channel int, rec []byte, ev []byte, err error) {
	// Fast path: the next short record lies wholly in the buffer being parsed.
	if c := r.cur; c >= 0 && r.nBlocked == 0 && r.hold == nil && !r.g.closedFlag.Load() {
		if st := &r.st[c]; !st.assembling {
			buf, pos := st.buf.seg, st.pos
			if pos < len(buf) {
				if x := buf[pos]; x < 0x80 {
					if end := pos + 1 + int(x); end <= len(buf) {
						st.pos = end
						return c, buf[pos+1 : end : end], nil, nil
					}
				}
			}
		}
	}
	return r.next(ctx)
}

func (r *RecordReader) next(ctx context.Context) (channel int, rec []byte, ev []byte, err error) {
	if r.hold != nil {
		r.hold.Recycle()
		r.hold = nil
	}
	if r.g.closedFlag.Load() {
		r.releaseBuffers()
		return -1, nil, nil, ErrGateClosed
	}
	for {
		if c := r.cur; c >= 0 {
			if r.nBlocked > 0 && r.blocked[c] {
				r.resume = append(r.resume, c)
				r.cur = -1
				continue
			}
			st := &r.st[c]
			rec, err := r.parse(c, st)
			if err != nil {
				return c, nil, nil, err
			}
			if rec != nil {
				return c, rec, nil, nil
			}
			r.cur = -1
		}
		if len(r.resume) > 0 && r.pickResume() {
			continue
		}
		var blocked []bool
		if r.nBlocked > 0 {
			blocked = r.blocked
		}
		c, b, err := r.g.pollNext(blocked)
		if err != nil {
			return -1, nil, nil, err
		}
		if b == nil {
			if r.eofs == len(r.st) {
				return -1, nil, nil, io.EOF
			}
			if err := r.g.wait(ctx); err != nil {
				return -1, nil, nil, err
			}
			continue
		}
		st := &r.st[c]
		switch b.kind {
		case kindData:
			st.buf, st.pos = b, 0
			r.cur = c
		case kindEvent:
			if st.assembling {
				b.Recycle()
				return c, nil, nil, fmt.Errorf("network: corrupt stream on input channel %d: event inside a record spanning buffers", c)
			}
			r.hold = b
			ev := b.seg
			if ev == nil {
				ev = []byte{}
			}
			return c, nil, ev, nil
		case kindEOP:
			b.Recycle()
			if st.eof {
				continue
			}
			st.eof = true
			r.eofs++
			if st.assembling {
				return c, nil, nil, fmt.Errorf("network: input channel %d ended inside a record (truncated stream)", c)
			}
			if r.onEOP != nil {
				r.onEOP(c)
				// Return to the caller before waiting again: an ended channel may be what a
				// barrier alignment waits for, and the other channels may all be blocked.
				return c, nil, nil, nil
			}
		}
	}
}

// pickResume continues the first unblocked channel with a partly parsed buffer.
func (r *RecordReader) pickResume() bool {
	for i, c := range r.resume {
		if r.blocked[c] {
			continue
		}
		copy(r.resume[i:], r.resume[i+1:])
		r.resume = r.resume[:len(r.resume)-1]
		if r.st[c].buf != nil {
			r.cur = c
			return true
		}
		return r.pickResume()
	}
	return false
}

// parse returns the next complete record of st's buffer, or nil once the buffer is exhausted
// (it is then recycled).
func (r *RecordReader) parse(c int, st *chanState) ([]byte, error) {
	buf := st.buf.seg
	pos := st.pos
	if !st.assembling {
		if pos < len(buf) {
			x := buf[pos]
			if x < 0x80 {
				if end := pos + 1 + int(x); end <= len(buf) {
					st.pos = end
					return buf[pos+1 : end : end], nil
				}
				st.assembling, st.haveLen, st.need = true, true, int(x)
				st.partial = append(st.partial[:0], buf[pos+1:]...)
				st.need -= len(buf) - pos - 1
			} else {
				v, k := binary.Uvarint(buf[pos:])
				switch {
				case k < 0 || v > MaxRecordSize:
					return nil, fmt.Errorf("network: corrupt stream on input channel %d: record length prefix out of range", c)
				case k > 0:
					n := int(v)
					if end := pos + k + n; end <= len(buf) {
						st.pos = end
						return buf[pos+k : end : end], nil
					}
					st.assembling, st.haveLen, st.need = true, true, n
					st.partial = append(st.partial[:0], buf[pos+k:]...)
					st.need -= len(buf) - pos - k
				default: // the prefix itself is split
					st.assembling, st.haveLen = true, false
					st.lenN = copy(st.lenBuf[:], buf[pos:])
				}
			}
		}
		st.pos = len(buf)
		r.recycleCur(st)
		return nil, nil
	}
	// Continue a record spanning buffers.
	for !st.haveLen && pos < len(buf) {
		if st.lenN == len(st.lenBuf) {
			return nil, fmt.Errorf("network: corrupt stream on input channel %d: record length prefix too long", c)
		}
		st.lenBuf[st.lenN] = buf[pos]
		st.lenN++
		pos++
		if v, k := binary.Uvarint(st.lenBuf[:st.lenN]); k > 0 {
			if v > MaxRecordSize {
				return nil, fmt.Errorf("network: corrupt stream on input channel %d: record length prefix out of range", c)
			}
			st.haveLen, st.need = true, int(v)
			st.partial = st.partial[:0]
		} else if k < 0 {
			return nil, fmt.Errorf("network: corrupt stream on input channel %d: record length prefix overflows", c)
		}
	}
	if st.haveLen {
		n := st.need
		if avail := len(buf) - pos; avail < n {
			n = avail
		}
		st.partial = append(st.partial, buf[pos:pos+n]...)
		pos += n
		st.need -= n
		if st.need == 0 {
			st.assembling, st.haveLen, st.lenN = false, false, 0
			st.pos = pos
			rec := st.partial
			if rec == nil {
				rec = []byte{}
			}
			return rec, nil
		}
	}
	st.pos = len(buf)
	r.recycleCur(st)
	return nil, nil
}

func (r *RecordReader) recycleCur(st *chanState) {
	st.buf.Recycle()
	st.buf = nil
	st.pos = 0
}

// releaseBuffers recycles every buffer the reader holds (gate close).
func (r *RecordReader) releaseBuffers() {
	if r.hold != nil {
		r.hold.Recycle()
		r.hold = nil
	}
	for i := range r.st {
		if b := r.st[i].buf; b != nil {
			b.Recycle()
			r.st[i].buf = nil
		}
	}
	r.cur = -1
	r.resume = nil
}

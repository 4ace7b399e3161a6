package network

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
)

// Wire protocol (see docs/network.md for the full description and diagram).
//
// A connection starts with the client's 4-byte magic "FGN1". Then both directions carry frames:
//
//	+----------------+---------+---------------------------+
//	| length (u32 BE)| type u8 | payload (length-1 bytes)  |
//	+----------------+---------+---------------------------+
//
// length counts the type byte and the payload.
const (
	msgPartitionRequest byte = 1 // client -> server
	msgBufferResponse   byte = 2 // server -> client
	msgAddCredit        byte = 3 // client -> server
	msgCancel           byte = 4 // client -> server
	msgError            byte = 5 // server -> client
	msgClose            byte = 6 // client -> server
	msgBacklog          byte = 7 // server -> client: backlog of a channel without credit
)

// Error codes of ErrorResponse.
const (
	errCodeGeneric           byte = 1
	errCodePartitionNotFound byte = 2
)

var protocolMagic = [4]byte{'F', 'G', 'N', '1'}

const (
	bufferResponseHeader = 8 + 4 + 4 + 1 // receiver, seq, backlog, kind
	maxControlPayload    = 64 << 10
	maxStringLen         = 16 << 10
)

// errMalformed is the cause of every frame decoding error.
var errMalformed = errors.New("network: malformed frame")

// frame is a decoded frame header plus control payload. For BufferResponse the data (dataLen
// bytes) is left on the stream for the caller.
type frame struct {
	typ      byte
	receiver uint64

	// PartitionRequest
	partition    PartitionID
	subpartition int
	credit       int // PartitionRequest: initial credit; AddCredit: credit

	// BufferResponse
	seq     uint32
	backlog int
	kind    bufKind
	dataLen int

	// ErrorResponse
	code byte
	msg  string
}

// frameReader decodes frames from a stream. Lengths are checked before anything is allocated.
type frameReader struct {
	r       *bufio.Reader
	maxData int
	scratch []byte
}

func newFrameReader(r *bufio.Reader, maxData int) *frameReader {
	return &frameReader{r: r, maxData: maxData}
}

// next reads the next frame header (and payload, except BufferResponse data).
func (fr *frameReader) next() (frame, error) {
	var hdr [5]byte
	if _, err := io.ReadFull(fr.r, hdr[:]); err != nil {
		return frame{}, err
	}
	length := binary.BigEndian.Uint32(hdr[:4])
	f := frame{typ: hdr[4]}
	if length < 1 {
		return f, fmt.Errorf("%w: zero length", errMalformed)
	}
	plen := int64(length) - 1
	if f.typ == msgBufferResponse {
		if plen < bufferResponseHeader || plen-bufferResponseHeader > int64(fr.maxData) {
			return f, fmt.Errorf("%w: buffer response of %d bytes (segment size mismatch between processes?)", errMalformed, plen)
		}
		var h [bufferResponseHeader]byte
		if _, err := io.ReadFull(fr.r, h[:]); err != nil {
			return f, unexpectedEOF(err)
		}
		f.receiver = binary.BigEndian.Uint64(h[0:])
		f.seq = binary.BigEndian.Uint32(h[8:])
		backlog := binary.BigEndian.Uint32(h[12:])
		if backlog > 1<<30 {
			return f, fmt.Errorf("%w: backlog %d", errMalformed, backlog)
		}
		f.backlog = int(backlog)
		f.kind = bufKind(h[16])
		if f.kind > kindEOP {
			return f, fmt.Errorf("%w: buffer kind %d", errMalformed, h[16])
		}
		f.dataLen = int(plen - bufferResponseHeader)
		return f, nil
	}
	if plen > maxControlPayload {
		return f, fmt.Errorf("%w: control frame type %d of %d bytes", errMalformed, f.typ, plen)
	}
	if cap(fr.scratch) < int(plen) {
		fr.scratch = make([]byte, plen)
	}
	p := fr.scratch[:plen]
	if _, err := io.ReadFull(fr.r, p); err != nil {
		return f, unexpectedEOF(err)
	}
	if err := parseControl(&f, p); err != nil {
		return f, err
	}
	return f, nil
}

func unexpectedEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// readData reads a BufferResponse's data into dst (len(dst) == f.dataLen).
func (fr *frameReader) readData(dst []byte) error {
	_, err := io.ReadFull(fr.r, dst)
	return unexpectedEOF(err)
}

// discard skips n bytes of data.
func (fr *frameReader) discard(n int) error {
	_, err := fr.r.Discard(n)
	return unexpectedEOF(err)
}

// payloadReader is a bounds-checked cursor over a control payload.
type payloadReader struct {
	p   []byte
	err error
}

func (pr *payloadReader) take(n int) []byte {
	if pr.err != nil {
		return nil
	}
	if n > len(pr.p) {
		pr.err = fmt.Errorf("%w: payload truncated", errMalformed)
		return nil
	}
	b := pr.p[:n]
	pr.p = pr.p[n:]
	return b
}

func (pr *payloadReader) u8() byte {
	if b := pr.take(1); b != nil {
		return b[0]
	}
	return 0
}

func (pr *payloadReader) u32() uint32 {
	if b := pr.take(4); b != nil {
		return binary.BigEndian.Uint32(b)
	}
	return 0
}

func (pr *payloadReader) u64() uint64 {
	if b := pr.take(8); b != nil {
		return binary.BigEndian.Uint64(b)
	}
	return 0
}

func (pr *payloadReader) str() string {
	b := pr.take(2)
	if b == nil {
		return ""
	}
	n := int(binary.BigEndian.Uint16(b))
	if n > maxStringLen {
		pr.err = fmt.Errorf("%w: string of %d bytes", errMalformed, n)
		return ""
	}
	return string(pr.take(n))
}

// int31 reads a u32 that must fit a non-negative int32.
func (pr *payloadReader) int31(what string) int {
	v := pr.u32()
	if v > 1<<31-1 && pr.err == nil {
		pr.err = fmt.Errorf("%w: %s %d out of range", errMalformed, what, v)
	}
	return int(v)
}

func parseControl(f *frame, p []byte) error {
	pr := payloadReader{p: p}
	switch f.typ {
	case msgPartitionRequest:
		f.receiver = pr.u64()
		f.subpartition = pr.int31("subpartition")
		f.credit = pr.int31("credit")
		f.partition.Subtask = pr.int31("subtask")
		f.partition.Attempt = pr.int31("attempt")
		f.partition.Job = pr.str()
		f.partition.Vertex = pr.str()
	case msgAddCredit:
		f.receiver = pr.u64()
		f.credit = pr.int31("credit")
	case msgCancel:
		f.receiver = pr.u64()
	case msgError:
		f.receiver = pr.u64()
		f.code = pr.u8()
		f.msg = pr.str()
	case msgBacklog:
		f.receiver = pr.u64()
		f.backlog = pr.int31("backlog")
	case msgClose:
	default:
		return fmt.Errorf("%w: unknown frame type %d", errMalformed, f.typ)
	}
	if pr.err != nil {
		return pr.err
	}
	if len(pr.p) != 0 {
		return fmt.Errorf("%w: %d trailing bytes in frame type %d", errMalformed, len(pr.p), f.typ)
	}
	return nil
}

// frameWriter encodes frames into a buffered writer; with conn set, large data frames are written
// to conn directly (after flushing w).
type frameWriter struct {
	w    *bufio.Writer
	conn net.Conn
	tmp  []byte
	vec  net.Buffers
}

func (fw *frameWriter) begin(typ byte) {
	fw.tmp = append(fw.tmp[:0], 0, 0, 0, 0, typ)
}

func (fw *frameWriter) u8(v byte)    { fw.tmp = append(fw.tmp, v) }
func (fw *frameWriter) u32(v uint32) { fw.tmp = binary.BigEndian.AppendUint32(fw.tmp, v) }
func (fw *frameWriter) u64(v uint64) { fw.tmp = binary.BigEndian.AppendUint64(fw.tmp, v) }
func (fw *frameWriter) str(s string) {
	if len(s) > maxStringLen {
		s = s[:maxStringLen]
	}
	fw.tmp = binary.BigEndian.AppendUint16(fw.tmp, uint16(len(s)))
	fw.tmp = append(fw.tmp, s...)
}

// end writes the frame, with extra bytes of payload appended after the encoded part.
func (fw *frameWriter) end(extra []byte) error {
	binary.BigEndian.PutUint32(fw.tmp[:4], uint32(len(fw.tmp)-4+len(extra)))
	if _, err := fw.w.Write(fw.tmp); err != nil {
		return err
	}
	if len(extra) > 0 {
		if _, err := fw.w.Write(extra); err != nil {
			return err
		}
	}
	return nil
}

func (fw *frameWriter) partitionRequest(receiver uint64, id PartitionID, sub, credit int) error {
	fw.begin(msgPartitionRequest)
	fw.u64(receiver)
	fw.u32(uint32(sub))
	fw.u32(uint32(credit))
	fw.u32(uint32(id.Subtask))
	fw.u32(uint32(id.Attempt))
	fw.str(id.Job)
	fw.str(id.Vertex)
	return fw.end(nil)
}

func (fw *frameWriter) bufferResponse(receiver uint64, seq uint32, backlog int, kind bufKind, data []byte) error {
	fw.begin(msgBufferResponse)
	fw.u64(receiver)
	fw.u32(seq)
	fw.u32(uint32(backlog))
	fw.u8(byte(kind))
	return fw.end(data)
}

// directWriteMin is the frame size from which data bypasses the bufio buffer (one writev of
// header and segments instead of copying them into the buffer first).
const directWriteMin = 8 << 10

// bufferResponseParts writes one BufferResponse whose data is the concatenation of parts.
func (fw *frameWriter) bufferResponseParts(receiver uint64, seq uint32, backlog int, kind bufKind, parts []*Buffer) error {
	n := 0
	for _, b := range parts {
		n += len(b.seg)
	}
	fw.begin(msgBufferResponse)
	fw.u64(receiver)
	fw.u32(seq)
	fw.u32(uint32(backlog))
	fw.u8(byte(kind))
	binary.BigEndian.PutUint32(fw.tmp[:4], uint32(len(fw.tmp)-4+n))
	if fw.conn != nil && n >= directWriteMin {
		if err := fw.w.Flush(); err != nil {
			return err
		}
		fw.vec = append(fw.vec[:0], fw.tmp)
		for _, b := range parts {
			fw.vec = append(fw.vec, b.seg)
		}
		bufs := fw.vec // WriteTo consumes its receiver; keep fw.vec's backing array
		_, err := bufs.WriteTo(fw.conn)
		clear(fw.vec)
		return err
	}
	if _, err := fw.w.Write(fw.tmp); err != nil {
		return err
	}
	for _, b := range parts {
		if _, err := fw.w.Write(b.seg); err != nil {
			return err
		}
	}
	return nil
}

func (fw *frameWriter) addCredit(receiver uint64, credit int) error {
	fw.begin(msgAddCredit)
	fw.u64(receiver)
	fw.u32(uint32(credit))
	return fw.end(nil)
}

func (fw *frameWriter) cancel(receiver uint64) error {
	fw.begin(msgCancel)
	fw.u64(receiver)
	return fw.end(nil)
}

func (fw *frameWriter) errorResponse(receiver uint64, code byte, msg string) error {
	fw.begin(msgError)
	fw.u64(receiver)
	fw.u8(code)
	fw.str(msg)
	return fw.end(nil)
}

func (fw *frameWriter) backlogAnnouncement(receiver uint64, backlog int) error {
	fw.begin(msgBacklog)
	fw.u64(receiver)
	fw.u32(uint32(backlog))
	return fw.end(nil)
}

func (fw *frameWriter) close() error {
	fw.begin(msgClose)
	return fw.end(nil)
}

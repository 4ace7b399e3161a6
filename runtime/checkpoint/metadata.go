package checkpoint

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"sort"

	"github.com/flink-go/flink-go/runtime/serde"
)

// Metadata format constants (docs/formats/checkpoint.md).
const (
	// MetadataMagic starts every _metadata file: "FGCK".
	MetadataMagic uint32 = 0x4647434B
	// MetadataVersion is the newest format version this package writes and
	// reads. Version 2 adds absolute file URIs (entropy-injected files);
	// MarshalMetadata writes the lowest version that can express a
	// checkpoint, so checkpoints without absolute paths stay version 1,
	// byte for byte.
	MetadataVersion uint32 = 2
	// MetadataVersionV1 is the first format version: relative paths only.
	MetadataVersionV1 uint32 = 1
	// MaxMetadataSize bounds what the reader accepts (and so what it
	// allocates).
	MaxMetadataSize = 256 << 20

	headerLen    = 8
	trailerLen   = 4
	maxStringLen = 4096
)

// Sentinel causes of metadata errors; test with errors.Is.
var (
	ErrBadMagic           = errors.New("wrong magic number: not a flink-go checkpoint metadata file")
	ErrUnsupportedVersion = errors.New("unsupported metadata format version (written by a newer flink-go?)")
	ErrChecksum           = errors.New("CRC32-C checksum mismatch: the file is corrupted")
	ErrTruncated          = errors.New("the file is truncated (partially written or cut off)")
	ErrCorrupt            = errors.New("malformed metadata content")
	ErrTooLarge           = errors.New("metadata file exceeds the size limit")
)

// MetadataError is a metadata file that could not be read or written: Path
// names the file, Err the cause (wrapping one of the sentinels above or an
// fs error).
type MetadataError struct {
	Path string
	Err  error
}

func (e *MetadataError) Error() string {
	return fmt.Sprintf("checkpoint metadata %s: %v", e.Path, e.Err)
}

func (e *MetadataError) Unwrap() error { return e.Err }

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// MarshalMetadata encodes c: in format version 1 when every file path is
// relative, else in version 2 (absolute URIs flagged, see
// docs/formats/checkpoint.md). It validates c first, so a checkpoint that
// could not be read back is never written.
func MarshalMetadata(c *Completed) ([]byte, error) {
	if err := validateCompleted(c); err != nil {
		return nil, err
	}
	version := MetadataVersionV1
	if hasAbsolutePaths(c) {
		version = MetadataVersion
	}
	b := make([]byte, headerLen, 256)
	binary.BigEndian.PutUint32(b[0:], MetadataMagic)
	binary.BigEndian.PutUint32(b[4:], version)
	b = appendString(b, c.JobID)
	b = binary.AppendUvarint(b, uint64(c.ID))
	b = binary.AppendVarint(b, c.Timestamp)
	b = binary.AppendVarint(b, c.CompletedAt)
	b = append(b, byte(c.Kind))
	b = binary.AppendUvarint(b, uint64(len(c.Operators)))
	for _, op := range c.Operators {
		b = appendString(b, op.OperatorID)
		b = binary.AppendUvarint(b, uint64(op.Parallelism))
		b = binary.AppendUvarint(b, uint64(op.MaxParallelism))
		b = binary.AppendUvarint(b, uint64(len(op.Subtasks)))
		for _, st := range op.Subtasks {
			b = binary.AppendUvarint(b, uint64(st.Subtask))
			b = binary.AppendUvarint(b, uint64(len(st.Keyed)))
			for _, k := range st.Keyed {
				b = binary.AppendUvarint(b, uint64(k.KeyGroups.Start))
				b = binary.AppendUvarint(b, uint64(k.KeyGroups.End))
				b = appendString(b, k.Format)
				b = appendFiles(b, k.Files)
				b = binary.AppendUvarint(b, uint64(len(k.Offsets)))
				prev := int64(0)
				for _, o := range k.Offsets {
					b = binary.AppendUvarint(b, uint64(o-prev)) // ascending: deltas
					prev = o
				}
			}
			b = appendFiles(b, st.Files)
			if st.SourceReader == nil {
				b = append(b, 0)
			} else {
				b = append(b, 1)
				b = appendBytes(b, st.SourceReader)
			}
			b = binary.AppendUvarint(b, uint64(len(st.Committables)))
			for _, cm := range st.Committables {
				b = appendBytes(b, cm)
			}
		}
	}
	if len(b)+trailerLen > MaxMetadataSize {
		return nil, fmt.Errorf("checkpoint %d: %w (%d bytes; keep large state in files, not inline)", c.ID, ErrTooLarge, len(b))
	}
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b, castagnoli)), nil
}

// File flags in the metadata.
const (
	flagShared   byte = 1 // bit 0: shared file
	flagAbsolute byte = 2 // bit 1 (version 2): the path is an absolute URI
)

// hasAbsolutePaths reports whether c references a file by absolute URI.
func hasAbsolutePaths(c *Completed) bool {
	abs := false
	c.eachFile(func(f StateFile) { abs = abs || IsAbsolutePath(f.Path) })
	return abs
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendBytes(b, p []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(p)))
	return append(b, p...)
}

func appendFiles(b []byte, fs []StateFile) []byte {
	b = binary.AppendUvarint(b, uint64(len(fs)))
	for _, f := range fs {
		b = appendString(b, f.Path)
		b = binary.AppendUvarint(b, uint64(f.Size))
		var flags byte
		if f.Shared {
			flags |= flagShared
		}
		if IsAbsolutePath(f.Path) {
			flags |= flagAbsolute
		}
		b = append(b, flags)
	}
	return b
}

// UnmarshalMetadata decodes a _metadata file's bytes. Errors wrap ErrBadMagic,
// ErrUnsupportedVersion, ErrChecksum, ErrTruncated, ErrCorrupt or ErrTooLarge.
// It never panics and allocates at most in proportion to len(data).
// ExternalPath is left empty.
func UnmarshalMetadata(data []byte) (*Completed, error) {
	if len(data) > MaxMetadataSize {
		return nil, fmt.Errorf("%w (%d bytes, limit %d)", ErrTooLarge, len(data), MaxMetadataSize)
	}
	if len(data) < 4 {
		return nil, fmt.Errorf("%w: %d bytes, shorter than the header", ErrTruncated, len(data))
	}
	if m := binary.BigEndian.Uint32(data); m != MetadataMagic {
		return nil, fmt.Errorf("%w (found %#08x, want %#08x)", ErrBadMagic, m, MetadataMagic)
	}
	if len(data) < headerLen+trailerLen {
		return nil, fmt.Errorf("%w: %d bytes, shorter than header and checksum", ErrTruncated, len(data))
	}
	version := binary.BigEndian.Uint32(data[4:])
	if version != MetadataVersionV1 && version != MetadataVersion {
		return nil, fmt.Errorf("%w: version %d, this build reads versions %d to %d", ErrUnsupportedVersion, version, MetadataVersionV1, MetadataVersion)
	}
	body := data[:len(data)-trailerLen]
	want := binary.BigEndian.Uint32(data[len(data)-trailerLen:])
	c, perr := decodeBody(body[headerLen:], version)
	if got := crc32.Checksum(body, castagnoli); got != want {
		if errors.Is(perr, ErrTruncated) {
			// The body ends early: the file was cut off, and its last four bytes
			// are not a checksum.
			return nil, perr
		}
		return nil, fmt.Errorf("%w (stored %#08x, computed %#08x)", ErrChecksum, want, got)
	}
	if perr != nil {
		return nil, perr
	}
	if err := validateCompleted(c); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	if version == MetadataVersion && !hasAbsolutePaths(c) {
		// Writers use the lowest version that fits, so every checkpoint has
		// exactly one encoding.
		return nil, fmt.Errorf("%w: version %d file without absolute file URIs (must be written as version %d)", ErrCorrupt, version, MetadataVersionV1)
	}
	return c, nil
}

// decoder reads the body; the first error sticks.
type decoder struct {
	b       []byte
	err     error
	version uint32
}

func (d *decoder) fail(err error) {
	if d.err == nil {
		d.err = err
	}
}

func (d *decoder) uvarint(what string) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n == 0 {
		d.fail(fmt.Errorf("%w: reading %s", ErrTruncated, what))
		return 0
	}
	if n < 0 {
		d.fail(fmt.Errorf("%w: %s overflows 64 bits", ErrCorrupt, what))
		return 0
	}
	if n > 1 && d.b[n-1] == 0 {
		d.fail(fmt.Errorf("%w: %s has a non-minimal varint encoding", ErrCorrupt, what))
		return 0
	}
	d.b = d.b[n:]
	return v
}

// varint reads a zig-zag encoded signed varint (binary.AppendVarint): the unsigned varint
// with the same checks, then the sign taken from its lowest bit.
func (d *decoder) varint(what string) int64 {
	u := d.uvarint(what)
	v := int64(u >> 1)
	if u&1 != 0 {
		v = ^v
	}
	return v
}

// intv reads a uvarint that must fit [0, max] (max fits an int on every
// platform).
func (d *decoder) intv(what string, max int) int {
	return int(d.int64v(what, int64(max)))
}

// int64v reads a uvarint that must fit [0, max].
func (d *decoder) int64v(what string, max int64) int64 {
	v := d.uvarint(what)
	if d.err == nil && v > uint64(max) {
		d.fail(fmt.Errorf("%w: %s %d exceeds %d", ErrCorrupt, what, v, max))
		return 0
	}
	return int64(v)
}

// count reads an element count; every element takes at least minSize bytes,
// so a count larger than the rest of the input is corrupt or truncated.
func (d *decoder) count(what string, minSize int) int {
	v := d.uvarint(what)
	if d.err == nil && v > uint64(len(d.b)/minSize) {
		d.fail(fmt.Errorf("%w: %s %d does not fit in the %d remaining bytes", ErrTruncated, what, v, len(d.b)))
		return 0
	}
	return int(v)
}

func (d *decoder) byte1(what string) byte {
	if d.err != nil {
		return 0
	}
	if len(d.b) == 0 {
		d.fail(fmt.Errorf("%w: reading %s", ErrTruncated, what))
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *decoder) bytes(what string, max int) []byte {
	n := d.uvarint(what + " length")
	if d.err != nil {
		return nil
	}
	if n > uint64(max) {
		d.fail(fmt.Errorf("%w: %s of %d bytes exceeds %d", ErrCorrupt, what, n, max))
		return nil
	}
	if n > uint64(len(d.b)) {
		d.fail(fmt.Errorf("%w: %s of %d bytes, %d remain", ErrTruncated, what, n, len(d.b)))
		return nil
	}
	out := make([]byte, n)
	copy(out, d.b)
	d.b = d.b[n:]
	return out
}

func (d *decoder) str(what string) string { return string(d.bytes(what, maxStringLen)) }

func (d *decoder) files(what string) []StateFile {
	n := d.count(what+" count", 3)
	if n == 0 {
		return nil
	}
	out := make([]StateFile, 0, n)
	for i := 0; i < n && d.err == nil; i++ {
		var f StateFile
		f.Path = d.str(what + " path")
		f.Size = d.int64v(what+" size", 1<<62)
		flags := d.byte1(what + " flags")
		known := flagShared
		if d.version >= MetadataVersion {
			known |= flagAbsolute
		}
		if flags&^known != 0 {
			d.fail(fmt.Errorf("%w: %s %q has unknown flags %#x (format version %d)", ErrCorrupt, what, f.Path, flags, d.version))
		}
		if d.err == nil && (flags&flagAbsolute != 0) != IsAbsolutePath(f.Path) {
			d.fail(fmt.Errorf("%w: %s %q: the absolute-URI flag disagrees with the path", ErrCorrupt, what, f.Path))
		}
		f.Shared = flags&flagShared != 0
		out = append(out, f)
	}
	return out
}

func decodeBody(b []byte, version uint32) (*Completed, error) {
	d := &decoder{b: b, version: version}
	c := &Completed{}
	c.JobID = d.str("job id")
	c.ID = d.int64v("checkpoint id", 1<<62)
	c.Timestamp = d.varint("timestamp")
	c.CompletedAt = d.varint("completion timestamp")
	kind := d.byte1("kind")
	if d.err == nil && kind > byte(SavepointStopDrain) {
		d.fail(fmt.Errorf("%w: unknown checkpoint kind %d", ErrCorrupt, kind))
	}
	c.Kind = SavepointKind(kind)
	c.Savepoint = c.Kind != SavepointNone
	nops := d.count("operator count", 4)
	for i := 0; i < nops && d.err == nil; i++ {
		op := &OperatorState{}
		op.OperatorID = d.str("operator id")
		op.Parallelism = d.intv("parallelism", serde.UpperBoundMaxParallelism)
		op.MaxParallelism = d.intv("max parallelism", serde.UpperBoundMaxParallelism)
		nst := d.count("subtask count", 5)
		for j := 0; j < nst && d.err == nil; j++ {
			var st SubtaskState
			st.Subtask = d.intv("subtask index", serde.UpperBoundMaxParallelism)
			nk := d.count("keyed state count", 5)
			for k := 0; k < nk && d.err == nil; k++ {
				var ks KeyedState
				ks.KeyGroups.Start = d.intv("key group start", serde.UpperBoundMaxParallelism)
				ks.KeyGroups.End = d.intv("key group end", serde.UpperBoundMaxParallelism)
				ks.Format = d.str("state format")
				ks.Files = d.files("keyed state file")
				no := d.count("key-group offset count", 1)
				if no > 0 {
					ks.Offsets = make([]int64, 0, no)
				}
				prev := int64(0)
				for o := 0; o < no && d.err == nil; o++ {
					delta := d.int64v("key-group offset", 1<<62)
					if prev+delta < prev {
						d.fail(fmt.Errorf("%w: key-group offsets overflow", ErrCorrupt))
					}
					prev += delta
					ks.Offsets = append(ks.Offsets, prev)
				}
				st.Keyed = append(st.Keyed, ks)
			}
			st.Files = d.files("operator state file")
			switch d.byte1("source reader flag") {
			case 0:
			case 1:
				st.SourceReader = d.bytes("source reader snapshot", MaxMetadataSize)
			default:
				d.fail(fmt.Errorf("%w: bad source reader flag", ErrCorrupt))
			}
			nc := d.count("committable count", 1)
			for k := 0; k < nc && d.err == nil; k++ {
				st.Committables = append(st.Committables, d.bytes("committable", MaxMetadataSize))
			}
			op.Subtasks = append(op.Subtasks, st)
		}
		c.Operators = append(c.Operators, op)
	}
	if d.err != nil {
		return nil, d.err
	}
	if len(d.b) != 0 {
		return nil, fmt.Errorf("%w: %d unexpected bytes after the last operator", ErrCorrupt, len(d.b))
	}
	return c, nil
}

// validateCompleted checks the invariants the format relies on.
func validateCompleted(c *Completed) error {
	if c == nil {
		return errors.New("nil checkpoint")
	}
	if c.ID < 1 {
		return fmt.Errorf("checkpoint id %d: want >= 1", c.ID)
	}
	if len(c.JobID) > maxStringLen {
		return fmt.Errorf("job id of %d bytes is too long", len(c.JobID))
	}
	if c.Kind < SavepointNone || c.Kind > SavepointStopDrain {
		return fmt.Errorf("unknown checkpoint kind %d", c.Kind)
	}
	if c.Savepoint != (c.Kind != SavepointNone) {
		return fmt.Errorf("checkpoint %d: Savepoint=%v disagrees with kind %v", c.ID, c.Savepoint, c.Kind)
	}
	if !sort.SliceIsSorted(c.Operators, func(i, j int) bool { return c.Operators[i].OperatorID < c.Operators[j].OperatorID }) {
		return fmt.Errorf("checkpoint %d: operators not sorted by id", c.ID)
	}
	for i, op := range c.Operators {
		if op == nil {
			return fmt.Errorf("checkpoint %d: nil operator", c.ID)
		}
		if op.OperatorID == "" || len(op.OperatorID) > maxStringLen {
			return fmt.Errorf("checkpoint %d: operator id %q is empty or too long", c.ID, op.OperatorID)
		}
		if i > 0 && c.Operators[i-1].OperatorID == op.OperatorID {
			return fmt.Errorf("checkpoint %d: operator %s appears twice", c.ID, op.OperatorID)
		}
		if err := serde.CheckParallelism(op.MaxParallelism, op.Parallelism); err != nil {
			return fmt.Errorf("checkpoint %d: operator %s: %w", c.ID, op.OperatorID, err)
		}
		prev := -1
		for _, st := range op.Subtasks {
			if st.Subtask <= prev || st.Subtask >= op.Parallelism {
				return fmt.Errorf("checkpoint %d: operator %s: subtask %d out of order or outside parallelism %d", c.ID, op.OperatorID, st.Subtask, op.Parallelism)
			}
			prev = st.Subtask
			for _, k := range st.Keyed {
				if err := validateKeyed(k, op.MaxParallelism, c.Savepoint); err != nil {
					return fmt.Errorf("checkpoint %d: operator %s subtask %d: %w", c.ID, op.OperatorID, st.Subtask, err)
				}
			}
			for _, f := range st.Files {
				if err := validateFile(f, c.Savepoint); err != nil {
					return fmt.Errorf("checkpoint %d: operator %s subtask %d: %w", c.ID, op.OperatorID, st.Subtask, err)
				}
			}
		}
	}
	return nil
}

package checkpoint

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"hash/crc32"
	"reflect"
	"testing"

	"github.com/flink-go/flink-go/runtime/serde"
)

// fixture is a checkpoint using every feature of the format.
func fixture() *Completed {
	return &Completed{
		JobID: "a1b2c3d4e5f60718293a4b5c6d7e8f90", ID: 42, Timestamp: 1767225600123, CompletedAt: 1767225601456,
		Operators: []*OperatorState{
			{OperatorID: "op-map", Parallelism: 2, MaxParallelism: 128, Subtasks: []SubtaskState{
				{Subtask: 0, Keyed: []KeyedState{{KeyGroups: serde.KeyGroupRange{Start: 0, End: 3}, Format: "heap-v1",
					Files: []StateFile{{Path: "op-map-0.kg", Size: 4096}}, Offsets: []int64{0, 100, 100, 3000}}}},
				{Subtask: 1, Keyed: []KeyedState{{KeyGroups: serde.KeyGroupRange{Start: 64, End: 127}, Format: "pebble-v1",
					Files: []StateFile{{Path: "MANIFEST-1", Size: 77}, {Path: "000012.sst", Size: 1 << 40, Shared: true}}}},
					Files: []StateFile{{Path: "op-map-1.op", Size: 9}}},
			}},
			{OperatorID: "op-print", Parallelism: 2, MaxParallelism: 128},
			{OperatorID: "op-sink", Parallelism: 1, MaxParallelism: 1, Subtasks: []SubtaskState{
				{Subtask: 0, Committables: [][]byte{[]byte("txn-1"), {}}},
			}},
			{OperatorID: "op-src", Parallelism: 3, MaxParallelism: 4, Subtasks: []SubtaskState{
				{Subtask: 0, SourceReader: []byte("split=a offset=10")},
				{Subtask: 2, SourceReader: []byte{}}, // a reader with no splits: empty, not absent
			}},
		},
	}
}

func TestMetadataRoundTrip(t *testing.T) {
	for _, c := range []*Completed{
		fixture(),
		{ID: 1, Kind: SavepointStopDrain, Savepoint: true},
		{JobID: "j", ID: 1 << 60, Timestamp: -5, Kind: SavepointPlain, Savepoint: true},
	} {
		data, err := MarshalMetadata(c)
		if err != nil {
			t.Fatal(err)
		}
		got, err := UnmarshalMetadata(data)
		if err != nil {
			t.Fatalf("checkpoint %d: %v", c.ID, err)
		}
		if !reflect.DeepEqual(got, c) {
			t.Fatalf("round trip:\n got %+v\nwant %+v", got, c)
		}
	}
	c, _ := UnmarshalMetadata(mustMarshal(t, fixture()))
	if c.Operator("op-src").Subtasks[1].SourceReader == nil || c.Operator("op-src").Subtasks[0].SourceReader == nil {
		t.Error("empty source reader snapshot decoded as absent")
	}
}

func mustMarshal(t testing.TB, c *Completed) []byte {
	t.Helper()
	b, err := MarshalMetadata(c)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestMetadataGolden pins version 1 byte for byte (docs/formats/checkpoint.md
// shows the same example).
func TestMetadataGolden(t *testing.T) {
	c := &Completed{JobID: "j1", ID: 3, Timestamp: 1000, CompletedAt: 1500, Operators: []*OperatorState{
		{OperatorID: "op", Parallelism: 1, MaxParallelism: 2, Subtasks: []SubtaskState{{Subtask: 0,
			Keyed: []KeyedState{{KeyGroups: serde.KeyGroupRange{Start: 0, End: 1}, Format: "h",
				Files: []StateFile{{Path: "f", Size: 300}}, Offsets: []int64{0, 200}}},
			SourceReader: []byte("r"), Committables: [][]byte{[]byte("c")}}}}}}
	data := mustMarshal(t, c)
	body := "46474 34b" + "00000001" + // magic "FGCK", version 1
		"026a31" + // job id "j1"
		"03" + "d00f" + "b817" + // id 3, timestamp 1000, completed 1500 (zig-zag varints)
		"00" + // kind: checkpoint
		"01" + "026f70" + "01" + "02" + // 1 operator "op", parallelism 1, max parallelism 2
		"01" + "00" + // 1 subtask: index 0
		"01" + "00" + "01" + "0168" + // 1 keyed handle: key groups 0..1, format "h"
		"01" + "0166" + "ac02" + "00" + // 1 file "f", 300 bytes, flags 0
		"02" + "00" + "c801" + // 2 offsets: 0, +200
		"00" + // no operator state files
		"01" + "0172" + // source reader present: "r"
		"01" + "0163" // 1 committable: "c"
	want, err := hex.DecodeString(stripSpaces(body))
	if err != nil {
		t.Fatal(err)
	}
	want = binary.BigEndian.AppendUint32(want, crc32.Checksum(want, crc32.MakeTable(crc32.Castagnoli)))
	if !bytes.Equal(data, want) {
		t.Fatalf("encoding changed:\n got %x\nwant %x", data, want)
	}
}

func stripSpaces(s string) string { return string(bytes.ReplaceAll([]byte(s), []byte(" "), nil)) }

func TestMetadataErrors(t *testing.T) {
	good := mustMarshal(t, fixture())
	withCRC := func(b []byte) []byte {
		b = append([]byte(nil), b[:len(b)-4]...)
		return binary.BigEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
	}
	badVersion := append([]byte(nil), good...)
	binary.BigEndian.PutUint32(badVersion[4:], MetadataVersion+1)
	flipped := append([]byte(nil), good...)
	flipped[len(flipped)/2] ^= 0x40
	trailing := withCRC(append(append([]byte(nil), good[:len(good)-4]...), 0, 0, 0, 0, 0))
	cases := []struct {
		name string
		data []byte
		want error
	}{
		{"empty", nil, ErrTruncated},
		{"short", []byte("FG"), ErrTruncated},
		{"wrong magic", append([]byte("PK\x03\x04"), good[4:]...), ErrBadMagic},
		{"header only", good[:8], ErrTruncated},
		{"wrong version", badVersion, ErrUnsupportedVersion},
		{"bit flip", flipped, ErrChecksum},
		{"cut in the middle", good[:len(good)/2], ErrTruncated},
		{"checksum missing", good[:len(good)-4], ErrTruncated},
		{"trailing bytes with valid checksum", trailing, ErrCorrupt},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := UnmarshalMetadata(tc.data)
			if !errors.Is(err, tc.want) || c != nil {
				t.Fatalf("got %v, %v; want %v", c, err, tc.want)
			}
		})
	}
	// Every truncation and every single-byte corruption is detected.
	for n := 0; n < len(good); n++ {
		if _, err := UnmarshalMetadata(good[:n]); err == nil {
			t.Fatalf("truncated to %d bytes accepted", n)
		}
	}
	for i := range good {
		b := append([]byte(nil), good...)
		b[i] ^= 0x01
		if _, err := UnmarshalMetadata(b); err == nil {
			t.Fatalf("corrupted byte %d accepted", i)
		}
	}
}

// Semantically invalid content with a valid checksum is rejected as corrupt.
func TestMetadataInvalidContent(t *testing.T) {
	mutate := []struct {
		name string
		f    func(c *Completed)
	}{
		{"unsorted operators", func(c *Completed) { c.Operators[0], c.Operators[1] = c.Operators[1], c.Operators[0] }},
		{"subtask beyond parallelism", func(c *Completed) { c.Operators[3].Subtasks[1].Subtask = 3 }},
		{"parallelism above max", func(c *Completed) { c.Operators[3].Parallelism = 5 }},
		{"escaping path", func(c *Completed) { c.Operators[0].Subtasks[1].Files[0].Path = "../x" }},
		{"shared file in savepoint", func(c *Completed) { c.Kind, c.Savepoint = SavepointPlain, true }},
		{"key groups beyond max parallelism", func(c *Completed) { c.Operators[0].Subtasks[1].Keyed[0].KeyGroups.End = 128 }},
	}
	for _, m := range mutate {
		t.Run(m.name, func(t *testing.T) {
			c := fixture()
			m.f(c)
			if _, err := MarshalMetadata(c); err == nil {
				t.Fatal("MarshalMetadata accepted invalid checkpoint")
			}
			// Bypass the writer's validation: encode a valid twin and patch the bytes is
			// format-specific; instead check the reader's validator directly.
			if err := validateCompleted(c); err == nil {
				t.Fatal("validator accepted invalid checkpoint")
			}
		})
	}
	// An unknown kind byte with a valid checksum.
	data := mustMarshal(t, &Completed{JobID: "j", ID: 1})
	data[8+2+1+1+1] = 9 // header, job id "j", id, timestamp 0, completedAt 0 -> kind
	data = append(data[:len(data)-4:len(data)-4], 0, 0, 0, 0)
	binary.BigEndian.PutUint32(data[len(data)-4:], crc32.Checksum(data[:len(data)-4], castagnoli))
	if _, err := UnmarshalMetadata(data); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("unknown kind: %v", err)
	}
}

// Huge counts in a small file do not allocate: they are rejected before.
func TestMetadataBoundedAllocation(t *testing.T) {
	b := binary.BigEndian.AppendUint32(nil, MetadataMagic)
	b = binary.BigEndian.AppendUint32(b, MetadataVersion)
	b = append(b, 0, 1, 0, 0, 0)            // job "", id 1, ts 0, completed 0, kind 0
	b = binary.AppendUvarint(b, 1<<62)      // operator count
	b = binary.BigEndian.AppendUint32(b, 0) // placeholder checksum
	binary.BigEndian.PutUint32(b[len(b)-4:], crc32.Checksum(b[:len(b)-4], castagnoli))
	allocs := testing.AllocsPerRun(10, func() {
		if _, err := UnmarshalMetadata(b); err == nil {
			t.Fatal("accepted")
		}
	})
	if allocs > 20 {
		t.Errorf("%v allocations for a 20-byte file", allocs)
	}
}

func FuzzUnmarshalMetadata(f *testing.F) {
	f.Add(mustMarshal(f, fixture()))
	f.Add(mustMarshal(f, &Completed{ID: 1}))
	f.Add(mustMarshal(f, entropyFixture()))
	f.Add([]byte("FGCK\x00\x00\x00\x01"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := UnmarshalMetadata(data)
		if err != nil {
			if c != nil {
				t.Fatal("non-nil checkpoint with an error")
			}
			return
		}
		// Whatever decodes re-encodes to the same bytes.
		again, err := MarshalMetadata(c)
		if err != nil {
			t.Fatalf("decoded checkpoint does not re-encode: %v", err)
		}
		if !bytes.Equal(again, data) {
			t.Fatalf("re-encoding differs")
		}
	})
}

package state

import (
	"bytes"
	"errors"
	"testing"

	"github.com/flink-go/flink-go/runtime/serde"
)

// TestWalkSnapshotStream: the streaming walker visits what the in-memory one does and reports
// truncation, trailing data and a wrong checksum as ErrCorruptSnapshot.
func TestWalkSnapshotStream(t *testing.T) {
	b := NewKeyedBackend(128, serde.KeyGroupRangeFor(128, 1, 0))
	b.SetKeyLength(keyLen)
	fill(t, b, 200)
	data, err := b.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	count := func(walk func(v snapVisitor) error) (int, int, error) {
		vals, timers := 0, 0
		err := walk(snapVisitor{
			value: func(int, int, []byte, []byte) error { vals++; return nil },
			timer: func(int, byte, int64, []byte, []byte) error { timers++; return nil },
		})
		return vals, timers, err
	}
	v, tm, err := count(func(v snapVisitor) error { return walkSnapshotStream(bytes.NewReader(data), int64(len(data)), v) })
	if err != nil || v != 400 || tm != 200 {
		t.Fatalf("stream: %d values, %d timers, %v", v, tm, err)
	}
	for name, c := range map[string]struct {
		data []byte
		size int64
	}{
		"truncated":      {data[:len(data)-10], int64(len(data))},
		"longer":         {append(append([]byte(nil), data...), 1, 2), int64(len(data))},
		"size too small": {data, int64(len(data) - 3)},
		"bad checksum":   {append(append([]byte(nil), data[:len(data)-1]...), data[len(data)-1]^1), int64(len(data))},
	} {
		_, _, err := count(func(v snapVisitor) error { return walkSnapshotStream(bytes.NewReader(c.data), c.size, v) })
		if !errors.Is(err, ErrCorruptSnapshot) {
			t.Errorf("%s: %v, want ErrCorruptSnapshot", name, err)
		}
	}
}

func FuzzWalkSnapshotStream(f *testing.F) {
	b := NewKeyedBackend(128, serde.KeyGroupRangeFor(128, 1, 0))
	b.SetKeyLength(keyLen)
	fill(&testing.T{}, b, 3)
	s, _ := b.Snapshot()
	f.Add(s)
	f.Fuzz(func(t *testing.T, data []byte) {
		_ = walkSnapshotStream(bytes.NewReader(data), int64(len(data)), snapVisitor{
			names: func([]string) error { return nil },
			value: func(int, int, []byte, []byte) error { return nil },
			timer: func(int, byte, int64, []byte, []byte) error { return nil },
		})
	})
}

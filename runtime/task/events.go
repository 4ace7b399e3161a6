package task

import (
	"encoding/binary"
	"fmt"
)

// Task-level events travel as network events (never inside data buffers):
//
//	+--------+-----------------------------+
//	| type u8| payload                     |
//	+--------+-----------------------------+
//	  1 watermark          int64 big-endian timestamp (ms)
//	  2 watermark status   u8: 0 active, 1 idle
//	  3 checkpoint barrier int64 checkpoint id, int64 timestamp, u8 flags (bit0 savepoint)
const (
	evWatermark       byte = 1
	evWatermarkStatus byte = 2
	evBarrier         byte = 3
)

func encodeWatermark(wm int64) []byte {
	b := make([]byte, 9)
	b[0] = evWatermark
	binary.BigEndian.PutUint64(b[1:], uint64(wm))
	return b
}

func encodeWatermarkStatus(idle bool) []byte {
	b := []byte{evWatermarkStatus, 0}
	if idle {
		b[1] = 1
	}
	return b
}

type event struct {
	kind      byte
	watermark int64
	idle      bool
	barrier   barrier
}

func decodeEvent(b []byte) (event, error) {
	if len(b) == 0 {
		return event{}, fmt.Errorf("empty task event")
	}
	switch b[0] {
	case evWatermark:
		if len(b) != 9 {
			return event{}, fmt.Errorf("watermark event has %d bytes, want 9", len(b))
		}
		return event{kind: evWatermark, watermark: int64(binary.BigEndian.Uint64(b[1:]))}, nil
	case evWatermarkStatus:
		if len(b) != 2 {
			return event{}, fmt.Errorf("watermark status event has %d bytes, want 2", len(b))
		}
		return event{kind: evWatermarkStatus, idle: b[1] == 1}, nil
	case evBarrier:
		if len(b) < 20 || len(b) != 20+int(binary.BigEndian.Uint16(b[18:])) {
			return event{}, fmt.Errorf("malformed barrier event (%d bytes)", len(b))
		}
		return event{kind: evBarrier, barrier: barrier{id: int64(binary.BigEndian.Uint64(b[1:])), ts: int64(binary.BigEndian.Uint64(b[9:])),
			savepoint: b[17]&1 == 1, dir: string(b[20:])}}, nil
	default:
		return event{}, fmt.Errorf("unknown task event type %d", b[0])
	}
}

// valve combines the watermarks of all input channels: the task's watermark is the minimum
// over active (non-idle) channels, and only ever increases. A channel that ended counts as
// having the maximum watermark.
type valve struct {
	wms     []int64
	idle    []bool
	current int64
	allIdle bool
}

func newValve(n int, min int64) *valve {
	v := &valve{wms: make([]int64, n), idle: make([]bool, n), current: min}
	for i := range v.wms {
		v.wms[i] = min
	}
	return v
}

// watermark records wm from channel ch and returns the new combined watermark if it advanced.
func (v *valve) watermark(ch int, wm int64) (int64, bool) {
	if wm > v.wms[ch] {
		v.wms[ch] = wm
	}
	v.idle[ch] = false
	return v.recompute()
}

func (v *valve) status(ch int, idle bool) (int64, bool) {
	v.idle[ch] = idle
	return v.recompute()
}

func (v *valve) recompute() (int64, bool) {
	min := int64(0)
	found := false
	for i, w := range v.wms {
		if v.idle[i] {
			continue
		}
		if !found || w < min {
			min, found = w, true
		}
	}
	v.allIdle = !found
	if found && min > v.current {
		v.current = min
		return min, true
	}
	if !found {
		// Every channel is idle: as Flink's StatusWatermarkValve, advance to the highest watermark
		// any channel reached, so results held back by the last active channel come out.
		max := v.current
		for _, w := range v.wms {
			if w > max {
				max = w
			}
		}
		if max > v.current {
			v.current = max
			return max, true
		}
	}
	return v.current, false
}

package stream

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/flink-go/flink-go/runtime/op"
	"github.com/flink-go/flink-go/runtime/serde"
	"github.com/flink-go/flink-go/runtime/state"
	"github.com/flink-go/flink-go/runtime/task"
)

// TimeWindow is the half-open interval [Start, End) in epoch milliseconds.
type TimeWindow struct{ Start, End int64 }

// MaxTimestamp is the largest timestamp in the window (End-1): results carry it.
func (w TimeWindow) MaxTimestamp() int64 { return w.End - 1 }

func (w TimeWindow) String() string { return fmt.Sprintf("[%d, %d)", w.Start, w.End) }

func (w TimeWindow) appendNS(dst []byte) []byte {
	dst = binary.BigEndian.AppendUint64(dst, uint64(w.Start))
	return binary.BigEndian.AppendUint64(dst, uint64(w.End))
}

func decodeWindow(ns string) TimeWindow {
	b := []byte(ns)
	return TimeWindow{Start: int64(binary.BigEndian.Uint64(b)), End: int64(binary.BigEndian.Uint64(b[8:]))}
}

// WindowAssigner assigns records to time windows.
type WindowAssigner struct {
	size, slide, offset, gap int64
	eventTime                bool
	desc                     string
}

func windowStart(ts, offset, size int64) int64 {
	r := (ts - offset + size) % size
	if r < 0 {
		r += size
	}
	return ts - r
}

func (a WindowAssigner) assign(ts int64, dst []TimeWindow) []TimeWindow {
	dst = dst[:0]
	switch {
	case a.gap > 0:
		return append(dst, TimeWindow{ts, ts + a.gap})
	case a.slide > 0 && a.slide != a.size:
		last := windowStart(ts, a.offset, a.slide)
		for start := last; start > ts-a.size; start -= a.slide {
			dst = append(dst, TimeWindow{start, start + a.size})
		}
		return dst
	default:
		start := windowStart(ts, a.offset, a.size)
		return append(dst, TimeWindow{start, start + a.size})
	}
}

func (a WindowAssigner) String() string { return a.desc }

// TumblingEventTimeWindows assigns each record to one window of the given size, aligned to the
// epoch (plus offset, if given).
func TumblingEventTimeWindows(size time.Duration, offset ...time.Duration) WindowAssigner {
	a := WindowAssigner{size: size.Milliseconds(), slide: size.Milliseconds(), eventTime: true, desc: "TumblingEventTimeWindows(" + size.String() + ")"}
	if len(offset) > 0 {
		a.offset = offset[0].Milliseconds()
	}
	return a
}

// SlidingEventTimeWindows assigns each record to size/slide overlapping windows.
func SlidingEventTimeWindows(size, slide time.Duration) WindowAssigner {
	return WindowAssigner{size: size.Milliseconds(), slide: slide.Milliseconds(), eventTime: true, desc: "SlidingEventTimeWindows(" + size.String() + ", " + slide.String() + ")"}
}

// EventTimeSessionWindows groups a key's records into sessions separated by gaps of inactivity.
func EventTimeSessionWindows(gap time.Duration) WindowAssigner {
	return WindowAssigner{gap: gap.Milliseconds(), eventTime: true, desc: "EventTimeSessionWindows(" + gap.String() + ")"}
}

// TumblingProcessingTimeWindows is TumblingEventTimeWindows on processing time.
func TumblingProcessingTimeWindows(size time.Duration) WindowAssigner {
	a := TumblingEventTimeWindows(size)
	a.eventTime, a.desc = false, "TumblingProcessingTimeWindows("+size.String()+")"
	return a
}

// SlidingProcessingTimeWindows is SlidingEventTimeWindows on processing time.
func SlidingProcessingTimeWindows(size, slide time.Duration) WindowAssigner {
	a := SlidingEventTimeWindows(size, slide)
	a.eventTime, a.desc = false, "SlidingProcessingTimeWindows("+size.String()+", "+slide.String()+")"
	return a
}

// ProcessingTimeSessionWindows is EventTimeSessionWindows on processing time.
func ProcessingTimeSessionWindows(gap time.Duration) WindowAssigner {
	a := EventTimeSessionWindows(gap)
	a.eventTime, a.desc = false, "ProcessingTimeSessionWindows("+gap.String()+")"
	return a
}

// WindowedStream is a keyed stream grouped into windows.
type WindowedStream[K comparable, T any] struct {
	ks       *KeyedStream[K, T]
	assigner WindowAssigner
	lateness int64
	lateTag  string
}

// Window groups the keyed stream into windows.
func (ks *KeyedStream[K, T]) Window(a WindowAssigner) *WindowedStream[K, T] {
	if a.size <= 0 && a.gap <= 0 {
		ks.s.env.fail(fmt.Errorf("window assigner %s needs a positive size or gap", a))
	}
	return &WindowedStream[K, T]{ks: ks, assigner: a}
}

// AllowedLateness keeps window state for d after the window's end, so late records update and
// re-fire the window.
func (ws *WindowedStream[K, T]) AllowedLateness(d time.Duration) *WindowedStream[K, T] {
	ws.lateness = d.Milliseconds()
	return ws
}

// SideOutputLateData sends records that arrive after their windows were purged to tag.
func (ws *WindowedStream[K, T]) SideOutputLateData(tag OutputTag[T]) *WindowedStream[K, T] {
	ws.lateTag = tag.id
	return ws
}

// AggregateFunction incrementally aggregates a window's records.
type AggregateFunction[T, A, R any] interface {
	CreateAccumulator() A
	Add(v T, acc A) A
	GetResult(acc A) R
	Merge(a, b A) A
}

// Reduce emits, per key and window, the reduction of the window's records.
func (ws *WindowedStream[K, T]) Reduce(fn func(a, b T) T) *DataStream[T] {
	return addWindowOp[K, T, T, T](ws, "windowReduce",
		func(acc T, has bool, v T) T {
			if !has {
				return v
			}
			return fn(acc, v)
		}, fn,
		func(_ K, _ TimeWindow, acc T, out Collector[T]) error { out.Collect(acc); return nil })
}

// Aggregate emits, per key and window, the aggregate's result.
func Aggregate[K comparable, T, A, R any](ws *WindowedStream[K, T], agg AggregateFunction[T, A, R]) *DataStream[R] {
	return AggregateWindow(ws, agg, func(_ K, _ TimeWindow, r R, out Collector[R]) error { out.Collect(r); return nil })
}

// AggregateWindow aggregates incrementally and hands the result with its key and window to fn.
func AggregateWindow[K comparable, T, A, R, O any](ws *WindowedStream[K, T], agg AggregateFunction[T, A, R],
	fn func(key K, w TimeWindow, result R, out Collector[O]) error) *DataStream[O] {
	return addWindowOp[K, T, A, O](ws, "windowAggregate",
		func(acc A, has bool, v T) A {
			if !has {
				acc = agg.CreateAccumulator()
			}
			return agg.Add(v, acc)
		}, agg.Merge,
		func(k K, w TimeWindow, acc A, out Collector[O]) error { return fn(k, w, agg.GetResult(acc), out) })
}

// ProcessWindow hands all records of a window (buffered in state) to fn when the window fires.
func ProcessWindow[K comparable, T, O any](ws *WindowedStream[K, T], fn func(key K, w TimeWindow, records []T, out Collector[O]) error) *DataStream[O] {
	return addWindowOp[K, T, []T, O](ws, "windowProcess",
		func(acc []T, _ bool, v T) []T { return append(acc, v) },
		func(a, b []T) []T { return append(append([]T(nil), a...), b...) },
		fn)
}

func addWindowOp[K comparable, T, A, O any](ws *WindowedStream[K, T], typeName string,
	add func(acc A, has bool, v T) A, merge func(a, b A) A,
	emit func(key K, w TimeWindow, acc A, out Collector[O]) error) *DataStream[O] {
	ac, err := serde.For[A]()
	if err != nil {
		ws.ks.s.env.fail(fmt.Errorf("window accumulator: %w", err))
	}
	name := fmt.Sprintf("Window(%s)", ws.assigner)
	return addOneInput(ws.ks.s, typeName+"("+ws.assigner.desc+")", name, true, ws.ks.in,
		func(ctx *task.OperatorContext, out op.Output[O], sides map[string]any) (task.Instance, error) {
			w := &windowOp[K, T, A, O]{keyedBase: newKeyedBase(ctx, ws.ks.keyCodec), keyFn: ws.ks.keyFn, assigner: ws.assigner,
				lateness: ws.lateness, add: add, merge: merge, emit: emit, col: tsCollector[O]{out: out}, name: name}
			if ws.lateTag != "" {
				if lo, ok := sides[ws.lateTag]; ok {
					w.lateOut = lo.(op.Output[T])
				}
			}
			var err error
			if w.accs, err = state.GetTable(w.backend, "window-contents", ac); err != nil {
				return nil, err
			}
			if ws.assigner.gap > 0 {
				wc, err := serde.For[[]TimeWindow]()
				if err != nil {
					return nil, err
				}
				if w.sessions, err = state.GetTable(w.backend, "session-windows", wc); err != nil {
					return nil, err
				}
			}
			w.onTimer = w.timer
			return w, nil
		})
}

type windowOp[K comparable, T, A, O any] struct {
	keyedBase[K]
	keyFn    func(T) K
	assigner WindowAssigner
	lateness int64
	add      func(acc A, has bool, v T) A
	merge    func(a, b A) A
	emit     func(key K, w TimeWindow, acc A, out Collector[O]) error
	accs     *state.Table[A]
	sessions *state.Table[[]TimeWindow]
	lateOut  op.Output[T]
	col      tsCollector[O]
	windows  []TimeWindow
	ns       []byte
	name     string
	// LateRecordsDropped counts records that arrived after their windows were purged and had
	// no side output to go to.
	LateRecordsDropped int64
}

func (w *windowOp[K, T, A, O]) Open() error   { return w.open() }
func (w *windowOp[K, T, A, O]) Finish() error { return nil }
func (w *windowOp[K, T, A, O]) Close() error  { return nil }
func (w *windowOp[K, T, A, O]) Input(int) any { return op.Input[T](w) }

func (w *windowOp[K, T, A, O]) cleanupTime(win TimeWindow) int64 {
	if !w.assigner.eventTime {
		return win.MaxTimestamp()
	}
	t := win.MaxTimestamp() + w.lateness
	if t < win.MaxTimestamp() { // overflow
		return op.MaxWatermark
	}
	return t
}

func (w *windowOp[K, T, A, O]) isLate(win TimeWindow) bool {
	return w.assigner.eventTime && w.cleanupTime(win) <= w.watermark
}

func (w *windowOp[K, T, A, O]) registerTimers(win TimeWindow) {
	w.ns = win.appendNS(w.ns[:0])
	if w.assigner.eventTime {
		if win.MaxTimestamp() > w.watermark { // else it fired at once (EventTimeTrigger.onElement)
			w.registerEventTimer(win.MaxTimestamp(), w.ns)
		}
		if c := w.cleanupTime(win); c != win.MaxTimestamp() {
			w.registerEventTimer(c, w.ns)
		}
	} else {
		w.registerProcTimer(win.MaxTimestamp(), w.ns)
	}
}

func (w *windowOp[K, T, A, O]) deleteTimers(win TimeWindow) {
	ns := win.appendNS(nil)
	if w.assigner.eventTime {
		w.deleteEventTimer(win.MaxTimestamp(), ns)
		w.deleteEventTimer(w.cleanupTime(win), ns)
	} else {
		w.deleteProcTimer(win.MaxTimestamp(), ns)
	}
}

func (w *windowOp[K, T, A, O]) ProcessElement(v T, ts int64) {
	w.setKey(w.keyFn(v))
	t := ts
	if w.assigner.eventTime {
		if ts == op.NoTimestamp {
			op.Fail(fmt.Errorf("%s: a record has no event-time timestamp: give the source a WatermarkStrategy with a timestamp assigner, or use processing-time windows", w.name))
		}
	} else {
		t = w.ctx.ProcessingTime()
	}
	w.windows = w.assigner.assign(t, w.windows)
	if w.sessions != nil {
		w.windows[0] = w.mergeSession(w.windows[0])
	}
	skipped := true
	for _, win := range w.windows {
		if w.isLate(win) {
			continue
		}
		skipped = false
		w.ns = win.appendNS(w.ns[:0])
		acc, has := w.accs.Get(w.ns)
		acc = w.add(acc, has, v)
		w.accs.Put(w.ns, acc)
		if w.assigner.eventTime && win.MaxTimestamp() <= w.watermark {
			w.fire(win, acc) // late but within allowed lateness: fire again with the update
		}
		w.registerTimers(win)
	}
	if skipped {
		if w.sessions != nil {
			w.retireSession(w.windows[0])
		}
		if w.lateOut != nil {
			w.lateOut.Collect(v, ts)
		} else {
			w.LateRecordsDropped++
		}
	}
}

// mergeSession merges the new session window with the key's overlapping sessions (moving their
// contents) and returns the window the record belongs to.
func (w *windowOp[K, T, A, O]) mergeSession(nw TimeWindow) TimeWindow {
	list, _ := w.sessions.Get(nil)
	merged := nw
	var keep []TimeWindow
	var absorbed []TimeWindow
	for _, s := range list {
		if s.Start <= merged.End && merged.Start <= s.End { // intersects (touching windows merge, as Flink)
			absorbed = append(absorbed, s)
			if s.Start < merged.Start {
				merged.Start = s.Start
			}
			if s.End > merged.End {
				merged.End = s.End
			}
		} else {
			keep = append(keep, s)
		}
	}
	// A window absorbed later may extend the merged window to touch earlier kept ones.
	for changed := true; changed; {
		changed = false
		for i := 0; i < len(keep); i++ {
			s := keep[i]
			if s.Start <= merged.End && merged.Start <= s.End {
				absorbed = append(absorbed, s)
				merged.Start, merged.End = min(merged.Start, s.Start), max(merged.End, s.End)
				keep = append(keep[:i], keep[i+1:]...)
				changed = true
				i--
			}
		}
	}
	if len(absorbed) > 0 {
		var acc A
		has := false
		for _, s := range absorbed {
			ns := s.appendNS(nil)
			if a, ok := w.accs.Get(ns); ok {
				if has {
					acc = w.merge(acc, a)
				} else {
					acc, has = a, true
				}
				w.accs.Delete(ns)
			}
			w.deleteTimers(s)
		}
		if has {
			w.accs.Put(merged.appendNS(nil), acc)
		}
	}
	keep = append(keep, merged)
	w.sessions.Put(nil, keep)
	return merged
}

func (w *windowOp[K, T, A, O]) retireSession(win TimeWindow) {
	list, _ := w.sessions.Get(nil)
	out := list[:0]
	for _, s := range list {
		if s != win {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		w.sessions.Delete(nil)
	} else {
		w.sessions.Put(nil, out)
	}
}

func (w *windowOp[K, T, A, O]) fire(win TimeWindow, acc A) {
	w.col.ts = win.MaxTimestamp()
	if err := w.emit(w.curKey, win, acc, &w.col); err != nil {
		op.Fail(fmt.Errorf("%s: window function: %w", w.name, err))
	}
}

func (w *windowOp[K, T, A, O]) timer(t state.Timer, eventTime bool) {
	win := decodeWindow(t.Namespace)
	if eventTime != w.assigner.eventTime {
		return
	}
	if t.Timestamp == win.MaxTimestamp() {
		if acc, ok := w.accs.Get([]byte(t.Namespace)); ok {
			w.fire(win, acc)
		}
	}
	if t.Timestamp == w.cleanupTime(win) {
		w.accs.Delete([]byte(t.Namespace))
		if w.sessions != nil {
			w.retireSession(win)
		}
	}
}

func (w *windowOp[K, T, A, O]) ProcessWatermark(wm int64) {
	w.advanceWatermark(wm)
	w.ctx.Watermarks.EmitWatermark(wm)
}

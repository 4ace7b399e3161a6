package network

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// topology: producers partitions of `subs` subpartitions each, consumer gate c reads
// subpartition c of every producer.
type topology struct {
	prodEnv, consEnv *Environment
	writers          []*RecordWriter
	gates            []*InputGate
}

func buildTopology(t *testing.T, prodEnv, consEnv *Environment, vertex string, producers, consumers int) *topology {
	t.Helper()
	tp := &topology{prodEnv: prodEnv, consEnv: consEnv}
	for p := 0; p < producers; p++ {
		rp, err := prodEnv.CreatePartition(pid(vertex, p), consumers)
		if err != nil {
			t.Fatalf("CreatePartition: %v", err)
		}
		tp.writers = append(tp.writers, NewRecordWriter(rp))
	}
	for c := 0; c < consumers; c++ {
		specs := make([]ChannelSpec, producers)
		for p := range specs {
			specs[p] = ChannelSpec{Partition: pid(vertex, p), Subpartition: c, Addr: prodEnv.Addr()}
		}
		g, err := consEnv.CreateInputGate(context.Background(), specs)
		if err != nil {
			t.Fatalf("CreateInputGate: %v", err)
		}
		t.Cleanup(func() { g.Close() })
		tp.gates = append(tp.gates, g)
	}
	return tp
}

// script writes a deterministic mix of records (small, medium, larger than a segment) and events
// to every subpartition, and returns what consumer c must see from producer p.
func script(w *RecordWriter, producer, consumers, n int) (map[int][]item, error) {
	want := map[int][]item{}
	sizes := []int{0, 1, 16, 64, 127, 128, 300, 4000, 4097, 10000, 70000}
	for i := 0; i < n; i++ {
		for c := 0; c < consumers; c++ {
			rec := record(producer, i, sizes[(i+c)%len(sizes)])
			var err error
			if i%2 == 0 {
				err = w.EmitBytes(c, rec)
			} else {
				err = w.Emit(c, func(dst []byte) []byte { return append(dst, rec...) })
			}
			if err != nil {
				return nil, err
			}
			want[c] = append(want[c], item{ch: producer, rec: rec})
		}
		if i%97 == 0 {
			ev := []byte(fmt.Sprintf("wm-%d-%d", producer, i))
			if err := w.BroadcastEvent(ev); err != nil {
				return nil, err
			}
			for c := 0; c < consumers; c++ {
				want[c] = append(want[c], item{ch: producer, ev: ev})
			}
		}
	}
	return want, w.Close()
}

func sameItems(t *testing.T, label string, got, want []item) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: got %d items, want %d", label, len(got), len(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.ch != w.ch || !bytes.Equal(g.rec, w.rec) || !bytes.Equal(g.ev, w.ev) || (g.ev == nil) != (w.ev == nil) {
			t.Fatalf("%s: item %d = %v, want %v", label, i, g, w)
		}
	}
}

// runTopology runs producers concurrently and checks every consumer's per-channel sequence.
func runTopology(t *testing.T, tp *topology, n int) [][]item {
	t.Helper()
	consumers := len(tp.gates)
	wants := make([]map[int][]item, len(tp.writers))
	errs := make(chan error, len(tp.writers))
	for p, w := range tp.writers {
		go func() {
			want, err := script(w, p, consumers, n)
			wants[p] = want
			errs <- err
		}()
	}
	results := make([][]item, consumers)
	var wg sync.WaitGroup
	for c, g := range tp.gates {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[c] = readAll(t, NewRecordReader(g), 30*time.Second)
		}()
	}
	for range tp.writers {
		if err := <-errs; err != nil {
			t.Fatalf("producer: %v", err)
		}
	}
	wg.Wait()
	for c := range tp.gates {
		byCh := perChannel(results[c])
		for p := range tp.writers {
			sameItems(t, fmt.Sprintf("consumer %d channel %d", c, p), byCh[p], wants[p][c])
		}
	}
	return results
}

func TestLocalOrderingSpanningEventsEOF(t *testing.T) {
	e := newTestEnv(t, testConfig())
	tp := buildTopology(t, e, e, "src", 1, 1)
	runTopology(t, tp, 500)
}

func TestRemoteOrderingSpanningEventsEOF(t *testing.T) {
	prod := newTestEnv(t, testConfig())
	cons := newTestEnv(t, testConfig())
	tp := buildTopology(t, prod, cons, "src", 1, 1)
	runTopology(t, tp, 500)
}

// Several producers and consumers between two processes share one TCP connection.
func TestRemoteManyChannelsOneConnection(t *testing.T) {
	prod := newTestEnv(t, testConfig())
	cons := newTestEnv(t, testConfig())
	tp := buildTopology(t, prod, cons, "map", 3, 4)
	check := func() {
		t.Helper()
		deadline := time.Now().Add(2 * time.Second)
		for {
			cons.mu.Lock()
			nClients := len(cons.clients)
			cons.mu.Unlock()
			prod.mu.Lock()
			nServers := len(prod.servers) // registered by the accept loop, asynchronously
			prod.mu.Unlock()
			if nClients == 1 && nServers == 1 {
				return
			}
			if nClients > 1 || nServers > 1 || time.Now().After(deadline) {
				t.Fatalf("connections: %d client, %d server; want 1 and 1", nClients, nServers)
			}
			time.Sleep(time.Millisecond)
		}
	}
	check()
	runTopology(t, tp, 200)
	check()
}

// Local and remote delivery give the same per-channel sequences.
func TestLocalRemoteEquivalence(t *testing.T) {
	run := func(remote bool) [][]item {
		prod := newTestEnv(t, testConfig())
		cons := prod
		if remote {
			cons = newTestEnv(t, testConfig())
		}
		tp := buildTopology(t, prod, cons, "v", 2, 2)
		res := runTopology(t, tp, 300)
		for i := range res {
			res[i] = flatten(perChannel(res[i]), 2)
		}
		return res
	}
	local, remote := run(false), run(true)
	for c := range local {
		sameItems(t, fmt.Sprintf("consumer %d", c), remote[c], local[c])
	}
}

func flatten(m map[int][]item, n int) []item {
	var out []item
	for i := 0; i < n; i++ {
		out = append(out, m[i]...)
	}
	return out
}

// Records of every size, with tiny segments, so length prefixes and bodies split everywhere.
func TestSpanningTinySegments(t *testing.T) {
	for _, remote := range []bool{false, true} {
		t.Run(fmt.Sprintf("remote=%v", remote), func(t *testing.T) {
			cfg := Config{SegmentSize: 64, TotalBuffers: 256, BufferTimeout: -1}
			prod := newTestEnv(t, cfg)
			cons := prod
			if remote {
				cons = newTestEnv(t, cfg)
			}
			tp := buildTopology(t, prod, cons, "tiny", 1, 1)
			w := tp.writers[0]
			var want []item
			go func() {
				for n := 0; n < 400; n++ {
					rec := record(0, n, n)
					if err := w.Emit(0, func(dst []byte) []byte { return append(dst, rec...) }); err != nil {
						t.Errorf("Emit: %v", err)
						return
					}
				}
				w.Close()
			}()
			for n := 0; n < 400; n++ {
				want = append(want, item{rec: record(0, n, n)})
			}
			got := readAll(t, NewRecordReader(tp.gates[0]), 20*time.Second)
			sameItems(t, "tiny", got, want)
		})
	}
}

func TestBlockUnblock(t *testing.T) {
	for _, remote := range []bool{false, true} {
		t.Run(fmt.Sprintf("remote=%v", remote), func(t *testing.T) {
			cfg := testConfig()
			cfg.SegmentSize = 256
			prod := newTestEnv(t, cfg)
			cons := prod
			if remote {
				cons = newTestEnv(t, cfg)
			}
			tp := buildTopology(t, prod, cons, "blk", 2, 1)
			const n = 2000
			for p, w := range tp.writers {
				go func() {
					for i := 0; i < n; i++ {
						if i == 10+p*1000 {
							w.BroadcastEvent([]byte("barrier"))
						}
						if err := w.EmitBytes(0, record(p, i, 24)); err != nil {
							t.Errorf("emit: %v", err)
							return
						}
					}
					w.Close()
				}()
			}
			r := NewRecordReader(tp.gates[0])
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			next := [2]int{}
			barriers := 0
			afterBlock := 0
			eof := false
			for !eof {
				ch, rec, ev, err := r.Next(ctx)
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				if ev != nil {
					if string(ev) != "barrier" {
						t.Fatalf("event %q", ev)
					}
					barriers++
					if barriers == 1 {
						r.Block(ch)
					} else {
						r.UnblockAll()
					}
					continue
				}
				if r.IsBlocked(ch) {
					t.Fatalf("record from blocked channel %d", ch)
				}
				if barriers == 1 {
					afterBlock++
				}
				if !bytes.Equal(rec, record(ch, next[ch], 24)) {
					t.Fatalf("channel %d record %d out of order", ch, next[ch])
				}
				next[ch]++
			}
			if next != [2]int{n, n} || barriers != 2 {
				t.Fatalf("got %v records, %d barriers", next, barriers)
			}
			if afterBlock == 0 {
				t.Fatalf("no records delivered from the unblocked channel while aligning")
			}
		})
	}
}

// A reader that stops reading backpressures the producer, and the buffer budget holds.
func TestBackpressureMemoryBounded(t *testing.T) {
	for _, remote := range []bool{false, true} {
		t.Run(fmt.Sprintf("remote=%v", remote), func(t *testing.T) {
			cfg := Config{SegmentSize: 32 << 10, TotalBuffers: 64, BufferTimeout: -1}
			var base runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&base)
			prod := newTestEnv(t, cfg)
			cons := prod
			if remote {
				cons = newTestEnv(t, cfg)
			}
			tp := buildTopology(t, prod, cons, "bp", 1, 1)
			w := tp.writers[0]
			var emitted atomic.Int64
			rec := make([]byte, 1000)
			const total = 200_000 // 200 MB, far beyond the 2 MiB budget
			done := make(chan error, 1)
			go func() {
				for i := 0; i < total; i++ {
					if err := w.EmitBytes(0, rec); err != nil {
						done <- err
						return
					}
					emitted.Add(1)
				}
				done <- w.Close()
			}()
			// Wait until the producer stalls.
			var last int64 = -1
			for {
				time.Sleep(50 * time.Millisecond)
				cur := emitted.Load()
				if cur == last {
					break
				}
				last = cur
			}
			if last >= total || last == 0 {
				t.Fatalf("producer emitted %d records: not backpressured", last)
			}
			budget := cfg.TotalBuffers * cfg.SegmentSize
			if inFlight := int(last) * 1001; inFlight > budget*2 {
				t.Fatalf("%d bytes written before blocking, budget %d bytes per environment", inFlight, budget)
			}
			for _, e := range []*Environment{prod, cons} {
				if st := e.BufferStats(); st.Created > st.Total {
					t.Fatalf("created %d segments, budget %d", st.Created, st.Total)
				}
			}
			// The heap holds at most the budgets of both environments plus small constants
			// (connection buffers, goroutine stacks), although 200 MB are waiting to be written.
			var ms runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&ms)
			grown := int64(ms.HeapAlloc) - int64(base.HeapAlloc)
			limit := int64(2*budget + 2<<20)
			t.Logf("heap grew %d KiB with a %d KiB budget per environment", grown>>10, budget>>10)
			if grown > limit {
				t.Fatalf("heap grew by %d bytes, limit %d", grown, limit)
			}
			// Now drain everything and check the producer completes.
			r := NewRecordReader(tp.gates[0])
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			n := 0
			for {
				_, got, _, err := r.Next(ctx)
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				if len(got) != len(rec) {
					t.Fatalf("record %d has %d bytes", n, len(got))
				}
				n++
			}
			if err := <-done; err != nil || n != total {
				t.Fatalf("producer err %v, consumer read %d of %d", err, n, total)
			}
			st := w.Partition().Stats()
			if st.Backpressured < 50*time.Millisecond || st.Bytes < total*1000 {
				t.Fatalf("stats %+v: expected backpressure and all bytes counted", st)
			}
			if gs := tp.gates[0].Stats(); gs.Bytes != st.Bytes || gs.Buffers != st.Buffers {
				t.Fatalf("gate stats %+v, partition stats %+v", gs, st)
			}
			for _, e := range []*Environment{prod, cons} {
				if st := e.BufferStats(); st.Created > st.Total {
					t.Fatalf("created %d segments, budget %d", st.Created, st.Total)
				}
			}
		})
	}
}

// A slow (stopped) consumer on a shared connection does not stall other channels on it.
func TestSlowConsumerDoesNotBlockConnection(t *testing.T) {
	cfg := Config{SegmentSize: 1024, TotalBuffers: 256, BufferTimeout: -1, FloatingBuffersPerGate: 2}
	prod := newTestEnv(t, cfg)
	cons := newTestEnv(t, cfg)
	slow := buildTopology(t, prod, cons, "slow", 1, 1)
	fast := buildTopology(t, prod, cons, "fast", 1, 1)
	cons.mu.Lock()
	if len(cons.clients) != 1 {
		t.Fatalf("want one shared connection, have %d", len(cons.clients))
	}
	cons.mu.Unlock()
	slowBlocked := make(chan error, 1)
	go func() {
		for i := 0; i < 100_000; i++ {
			if err := slow.writers[0].EmitBytes(0, record(0, i, 100)); err != nil {
				slowBlocked <- err
				return
			}
		}
		slowBlocked <- errors.New("slow producer was never backpressured")
	}()
	time.Sleep(100 * time.Millisecond)
	go func() {
		for i := 0; i < 20_000; i++ {
			if err := fast.writers[0].EmitBytes(0, record(1, i, 100)); err != nil {
				t.Errorf("fast emit: %v", err)
				return
			}
		}
		fast.writers[0].Close()
	}()
	got := readAll(t, NewRecordReader(fast.gates[0]), 20*time.Second)
	if len(got) != 20_000 {
		t.Fatalf("fast consumer got %d records", len(got))
	}
	select {
	case err := <-slowBlocked:
		t.Fatalf("slow producer finished: %v", err)
	default:
	}
	// Closing the stalled consumer fails its producer promptly instead of hanging it.
	slow.gates[0].Close()
	select {
	case err := <-slowBlocked:
		if err == nil {
			t.Fatal("nil error")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("blocked producer not woken after its consumer went away")
	}
}

func TestBufferTimeoutLatency(t *testing.T) {
	for _, remote := range []bool{false, true} {
		t.Run(fmt.Sprintf("remote=%v", remote), func(t *testing.T) {
			cfg := testConfig()
			cfg.BufferTimeout = 5 * time.Millisecond
			prod := newTestEnv(t, cfg)
			cons := prod
			if remote {
				cons = newTestEnv(t, cfg)
			}
			tp := buildTopology(t, prod, cons, "lat", 1, 1)
			r := NewRecordReader(tp.gates[0])
			ctx := context.Background()
			var worst time.Duration
			for i := 0; i < 20; i++ {
				start := time.Now()
				if err := tp.writers[0].EmitBytes(0, []byte("ping")); err != nil {
					t.Fatal(err)
				}
				c, cancel := context.WithTimeout(ctx, time.Second)
				_, rec, _, err := r.Next(c)
				cancel()
				if err != nil || string(rec) != "ping" {
					t.Fatalf("Next: %q %v", rec, err)
				}
				if d := time.Since(start); d > worst {
					worst = d
				}
			}
			if worst > 100*time.Millisecond {
				t.Fatalf("worst latency %v with a 5ms buffer timeout", worst)
			}
			t.Logf("worst latency %v", worst)
		})
	}
}

func TestNoTimeoutHoldsUntilFlush(t *testing.T) {
	cfg := testConfig()
	cfg.BufferTimeout = -1
	e := newTestEnv(t, cfg)
	tp := buildTopology(t, e, e, "hold", 1, 1)
	w := tp.writers[0]
	if err := w.EmitBytes(0, []byte("x")); err != nil {
		t.Fatal(err)
	}
	r := NewRecordReader(tp.gates[0])
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	_, _, _, err := r.Next(ctx)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("record delivered before a flush: %v", err)
	}
	w.Flush()
	ctx, cancel = context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if _, rec, _, err := r.Next(ctx); err != nil || string(rec) != "x" {
		t.Fatalf("after Flush: %q %v", rec, err)
	}
}

func TestFlushEveryRecordWithZeroTimeout(t *testing.T) {
	cfg := testConfig()
	cfg.BufferTimeout = 0
	e := newTestEnv(t, cfg)
	tp := buildTopology(t, e, e, "zero", 1, 1)
	r := NewRecordReader(tp.gates[0])
	for i := 0; i < 100; i++ {
		tp.writers[0].Emit(0, func(dst []byte) []byte { return append(dst, byte(i)) })
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, rec, _, err := r.Next(ctx)
		cancel()
		if err != nil || len(rec) != 1 || rec[0] != byte(i) {
			t.Fatalf("record %d: %v %v", i, rec, err)
		}
	}
}

func TestReleaseWakesBlockedWriter(t *testing.T) {
	cfg := Config{SegmentSize: 1024, TotalBuffers: 16, BufferTimeout: -1}
	e := newTestEnv(t, cfg)
	rp, err := e.CreatePartition(pid("rel", 0), 1)
	if err != nil {
		t.Fatal(err)
	}
	w := NewRecordWriter(rp)
	done := make(chan error, 1)
	go func() {
		for {
			if err := w.EmitBytes(0, make([]byte, 500)); err != nil {
				done <- err
				return
			}
		}
	}()
	time.Sleep(50 * time.Millisecond)
	select {
	case err := <-done:
		t.Fatalf("writer not blocked: %v", err)
	default:
	}
	rp.Release()
	select {
	case err := <-done:
		if !errors.Is(err, ErrPartitionReleased) {
			t.Fatalf("err = %v, want ErrPartitionReleased", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Release did not wake the blocked writer")
	}
	if st := e.BufferStats(); st.Available != st.Total {
		t.Fatalf("buffers not returned after Release: %+v", st)
	}
}

func TestPartitionContextCancelWakesWriter(t *testing.T) {
	cfg := Config{SegmentSize: 1024, TotalBuffers: 16, BufferTimeout: -1}
	e := newTestEnv(t, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	rp, err := e.CreatePartitionContext(ctx, pid("ctx", 0), 1)
	if err != nil {
		t.Fatal(err)
	}
	w := NewRecordWriter(rp)
	done := make(chan error, 1)
	go func() {
		for {
			if err := w.EmitBytes(0, make([]byte, 500)); err != nil {
				done <- err
				return
			}
		}
	}()
	time.Sleep(30 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("cancel did not wake the blocked writer")
	}
}

func TestPartitionNotFoundRetryThenSuccess(t *testing.T) {
	for _, remote := range []bool{false, true} {
		t.Run(fmt.Sprintf("remote=%v", remote), func(t *testing.T) {
			cfg := testConfig()
			cfg.PartitionRequestTimeout = 2 * time.Second
			prod := newTestEnv(t, cfg)
			cons := prod
			if remote {
				cons = newTestEnv(t, cfg)
			}
			g, err := cons.CreateInputGate(context.Background(), []ChannelSpec{{Partition: pid("late", 0), Addr: prod.Addr()}})
			if err != nil {
				t.Fatal(err)
			}
			defer g.Close()
			time.Sleep(150 * time.Millisecond)
			rp, err := prod.CreatePartition(pid("late", 0), 1)
			if err != nil {
				t.Fatal(err)
			}
			w := NewRecordWriter(rp)
			w.EmitBytes(0, []byte("hello"))
			w.Close()
			got := readAll(t, NewRecordReader(g), 5*time.Second)
			if len(got) != 1 || string(got[0].rec) != "hello" {
				t.Fatalf("got %v", got)
			}
		})
	}
}

func TestPartitionNotFoundFails(t *testing.T) {
	for _, remote := range []bool{false, true} {
		t.Run(fmt.Sprintf("remote=%v", remote), func(t *testing.T) {
			cfg := testConfig()
			cfg.PartitionRequestTimeout = 300 * time.Millisecond
			prod := newTestEnv(t, cfg)
			cons := prod
			if remote {
				cons = newTestEnv(t, cfg)
			}
			g, err := cons.CreateInputGate(context.Background(), []ChannelSpec{{Partition: pid("never", 3), Subpartition: 1, Addr: prod.Addr()}})
			if err != nil {
				t.Fatal(err)
			}
			defer g.Close()
			start := time.Now()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_, _, _, err = NewRecordReader(g).Next(ctx)
			if !errors.Is(err, ErrPartitionNotFound) {
				t.Fatalf("err = %v, want ErrPartitionNotFound", err)
			}
			mustContain(t, err, "job/never/3/0", prod.Addr(), "subpartition 1")
			if d := time.Since(start); d < 250*time.Millisecond || d > 3*time.Second {
				t.Fatalf("failed after %v, timeout 300ms", d)
			}
		})
	}
}

// A failing producer makes its remote consumer fail promptly.
func TestProducerFailureReachesConsumer(t *testing.T) {
	for _, how := range []string{"release", "process-exit"} {
		t.Run(how, func(t *testing.T) {
			prod, err := NewEnvironment(testConfig())
			if err != nil {
				t.Fatal(err)
			}
			defer prod.Close()
			cons := newTestEnv(t, testConfig())
			tp := buildTopology(t, prod, cons, "pf", 1, 1)
			w := tp.writers[0]
			w.EmitBytes(0, []byte("a"))
			w.Flush()
			r := NewRecordReader(tp.gates[0])
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if _, rec, _, err := r.Next(ctx); err != nil || string(rec) != "a" {
				t.Fatalf("first record: %q %v", rec, err)
			}
			start := time.Now()
			if how == "release" {
				w.Partition().Release()
			} else {
				prod.Close()
			}
			_, _, _, err = r.Next(ctx)
			if err == nil || errors.Is(err, io.EOF) || errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("consumer got %v, want a producer failure", err)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Fatalf("failure seen after %v", d)
			}
			t.Logf("consumer error: %v", err)
		})
	}
}

// A consumer that goes away (gate closed or process gone) fails its blocked producer.
func TestConsumerFailureReachesProducer(t *testing.T) {
	for _, how := range []string{"local-close", "remote-close", "remote-process-exit"} {
		t.Run(how, func(t *testing.T) {
			cfg := Config{SegmentSize: 1024, TotalBuffers: 64, BufferTimeout: -1}
			prod := newTestEnv(t, cfg)
			cons := prod
			if how != "local-close" {
				c, err := NewEnvironment(cfg)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				cons = c
			}
			tp := buildTopology(t, prod, cons, "cf", 1, 1)
			done := make(chan error, 1)
			go func() {
				for {
					if err := tp.writers[0].EmitBytes(0, make([]byte, 300)); err != nil {
						done <- err
						return
					}
				}
			}()
			time.Sleep(100 * time.Millisecond)
			if how == "remote-process-exit" {
				cons.Close()
			} else {
				tp.gates[0].Close()
			}
			select {
			case err := <-done:
				t.Logf("producer error: %v", err)
			case <-time.After(3 * time.Second):
				t.Fatal("producer still blocked after its consumer went away")
			}
		})
	}
}

func TestNoGoroutineLeaks(t *testing.T) {
	base := runtimeNumGoroutine()
	func() {
		prod, err := NewEnvironment(testConfig())
		if err != nil {
			t.Fatal(err)
		}
		cons, err := NewEnvironment(testConfig())
		if err != nil {
			t.Fatal(err)
		}
		tp := buildTopology(t, prod, cons, "leak", 2, 2)
		local := buildTopology(t, prod, prod, "leak-local", 1, 1)
		runTopology(t, tp, 50)
		runTopology(t, local, 50)
		for _, g := range append(tp.gates, local.gates...) {
			g.Close()
		}
		prod.Close()
		cons.Close()
	}()
	waitGoroutines(t, base)
}

func TestGateCloseReturnsBuffers(t *testing.T) {
	prod := newTestEnv(t, testConfig())
	cons := newTestEnv(t, testConfig())
	tp := buildTopology(t, prod, cons, "ret", 2, 1)
	runTopology(t, tp, 50)
	tp.gates[0].Close()
	deadline := time.Now().Add(2 * time.Second)
	for _, e := range []*Environment{prod, cons} {
		for {
			st := e.BufferStats()
			if st.Available == st.Total {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: buffers not returned: %+v", e.Addr(), st)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
}

func TestBadInput(t *testing.T) {
	if _, err := NewEnvironment(Config{SegmentSize: 3}); err == nil {
		t.Fatal("tiny segment accepted")
	}
	e := newTestEnv(t, Config{TotalBuffers: 8, SegmentSize: 1024})
	if _, err := e.CreatePartition(pid("x", 0), 0); err == nil {
		t.Fatal("zero subpartitions accepted")
	}
	rp, err := e.CreatePartition(pid("x", 0), 2)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.CreatePartition(pid("x", 0), 2); err == nil {
		t.Fatal("duplicate partition accepted")
	}
	if _, err := e.CreatePartition(pid("big", 0), 100); err == nil {
		t.Fatal("partition beyond the budget accepted")
	} else {
		mustContain(t, err, "insufficient network buffers")
	}
	w := NewRecordWriter(rp)
	if err := w.EmitBytes(5, nil); err == nil {
		t.Fatal("out-of-range subpartition accepted")
	}
	if err := w.Emit(-1, func(d []byte) []byte { return d }); err == nil {
		t.Fatal("negative subpartition accepted")
	}
	if err := w.BroadcastEvent(make([]byte, 2000)); err == nil {
		t.Fatal("oversized event accepted")
	}
	if _, err := e.CreateInputGate(context.Background(), nil); err == nil {
		t.Fatal("empty gate accepted")
	}
	if _, err := e.CreateInputGate(context.Background(), []ChannelSpec{{Partition: pid("y", 0), Addr: "127.0.0.1:1"}}); err == nil {
		t.Fatal("unreachable producer accepted")
	}
	w.Close()
	if err := w.EmitBytes(0, nil); !errors.Is(err, ErrWriterClosed) {
		t.Fatalf("emit after close: %v", err)
	}
}

// Steady-state Emit and Next allocate nothing.
func TestHotPathAllocationFree(t *testing.T) {
	cfg := testConfig()
	cfg.SegmentSize = 32 << 10
	cfg.BufferTimeout = -1
	e := newTestEnv(t, cfg)
	tp := buildTopology(t, e, e, "alloc", 1, 1)
	w := tp.writers[0]
	r := NewRecordReader(tp.gates[0])
	ctx := context.Background()
	payload := []byte("0123456789abcdef0123456789abcdef")
	enc := func(dst []byte) []byte { return append(dst, payload...) }
	step := func() {
		for i := 0; i < 1000; i++ {
			w.Emit(0, enc)
		}
		w.Flush()
		for i := 0; i < 1000; i++ {
			if _, rec, _, err := r.Next(ctx); err != nil || len(rec) != len(payload) {
				t.Fatalf("Next: %v", err)
			}
		}
	}
	step()
	if a := testing.AllocsPerRun(20, step); a > 2 {
		t.Fatalf("%.1f allocations per 1000 records", a)
	}
}

// A producer process may exit once its remote consumers received everything: the consumer still
// reads all queued data and sees io.EOF, not an error.
func TestProducerExitAfterEndOfPartition(t *testing.T) {
	cfg := testConfig()
	prod, err := NewEnvironment(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cons := newTestEnv(t, cfg)
	tp := buildTopology(t, prod, cons, "exit", 1, 1)
	for i := 0; i < 3; i++ {
		tp.writers[0].EmitBytes(0, record(0, i, 100))
	}
	tp.writers[0].Close()
	g := tp.gates[0]
	// Wait until EndOfPartition arrived at the consumer, unread.
	rc := g.chans[0].(*remoteChannel)
	deadline := time.Now().Add(3 * time.Second)
	for {
		rc.mu.Lock()
		eop := rc.eop
		rc.mu.Unlock()
		if eop {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("EndOfPartition never arrived")
		}
		time.Sleep(time.Millisecond)
	}
	prod.Close()
	time.Sleep(50 * time.Millisecond)
	got := readAll(t, NewRecordReader(g), 3*time.Second)
	if len(got) != 3 {
		t.Fatalf("got %d records", len(got))
	}
}

func TestBadChannelSpecs(t *testing.T) {
	for _, remote := range []bool{false, true} {
		t.Run(fmt.Sprintf("remote=%v", remote), func(t *testing.T) {
			prod := newTestEnv(t, testConfig())
			cons := prod
			if remote {
				cons = newTestEnv(t, testConfig())
			}
			if _, err := prod.CreatePartition(pid("spec", 0), 2); err != nil {
				t.Fatal(err)
			}
			read := func(specs ...ChannelSpec) error {
				g, err := cons.CreateInputGate(context.Background(), specs)
				if err != nil {
					return err
				}
				defer g.Close()
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				defer cancel()
				_, _, _, err = NewRecordReader(g).Next(ctx)
				return err
			}
			err := read(ChannelSpec{Partition: pid("spec", 0), Subpartition: 7, Addr: prod.Addr()})
			mustContain(t, err, "out of range")
			err = read(ChannelSpec{Partition: pid("spec", 0), Subpartition: 1, Addr: prod.Addr()},
				ChannelSpec{Partition: pid("spec", 0), Subpartition: 1, Addr: prod.Addr()})
			mustContain(t, err, "already has a consumer")
		})
	}
}

// Encoders that return something other than dst with appended bytes still work.
func TestEmitOddEncoders(t *testing.T) {
	e := newTestEnv(t, testConfig())
	tp := buildTopology(t, e, e, "odd", 1, 1)
	w := tp.writers[0]
	fixed := []byte("constant")
	encs := []func([]byte) []byte{
		func(dst []byte) []byte { return nil },
		func(dst []byte) []byte { return fixed },
		func(dst []byte) []byte { return append(dst, "xxhello"...)[2:] },
		func(dst []byte) []byte { return append(dst, make([]byte, 9000)...) },
	}
	wantLens := []int{0, 8, 5, 9000}
	go func() {
		for i := 0; i < 40; i++ {
			w.Emit(0, encs[i%len(encs)])
		}
		w.Close()
	}()
	got := readAll(t, NewRecordReader(tp.gates[0]), 5*time.Second)
	if len(got) != 40 {
		t.Fatalf("got %d records", len(got))
	}
	for i, it := range got {
		if len(it.rec) != wantLens[i%4] {
			t.Fatalf("record %d has %d bytes, want %d", i, len(it.rec), wantLens[i%4])
		}
		if i%4 == 2 && string(it.rec) != "hello" {
			t.Fatalf("record %d = %q", i, it.rec)
		}
	}
}

func TestAdvertisedAddress(t *testing.T) {
	e := newTestEnv(t, Config{BindAddress: "0.0.0.0:0", ExternalHost: "127.0.0.1"})
	if !strings.HasPrefix(e.Addr(), "127.0.0.1:") {
		t.Fatalf("Addr() = %q", e.Addr())
	}
	cons := newTestEnv(t, testConfig())
	tp := buildTopology(t, e, cons, "adv", 1, 1)
	runTopology(t, tp, 5)
	w := newTestEnv(t, Config{BindAddress: "0.0.0.0:0"})
	if h, _, _ := net.SplitHostPort(w.Addr()); h == "0.0.0.0" || h == "::" || h == "" {
		t.Fatalf("wildcard advertised: %q", w.Addr())
	}
}

// With a backlog the remote channel borrows floating buffers beyond its exclusive ones; without
// floating buffers it still works on exclusive credit alone.
func TestFloatingBuffers(t *testing.T) {
	for _, floating := range []int{4, -1} {
		t.Run(fmt.Sprintf("floating=%d", floating), func(t *testing.T) {
			cfg := Config{SegmentSize: 1024, TotalBuffers: 128, BufferTimeout: -1, FloatingBuffersPerGate: floating}
			prod := newTestEnv(t, cfg)
			cons := newTestEnv(t, cfg)
			tp := buildTopology(t, prod, cons, "float", 1, 1)
			go func() {
				for i := 0; i < 5000; i++ {
					tp.writers[0].EmitBytes(0, record(0, i, 200))
				}
				tp.writers[0].Close()
			}()
			g := tp.gates[0]
			deadline := time.Now().Add(3 * time.Second)
			for {
				g.floating.mu.Lock()
				owned := g.floating.owned
				g.floating.mu.Unlock()
				rc := g.chans[0].(*remoteChannel)
				rc.mu.Lock()
				queued := len(rc.recv) - rc.head
				rc.mu.Unlock()
				want := cfg.BuffersPerChannel + 2
				if floating < 0 {
					want = 2
				}
				if owned == max(floating, 0) && queued >= want {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("floating owned %d, queued %d", owned, queued)
				}
				time.Sleep(5 * time.Millisecond)
			}
			got := readAll(t, NewRecordReader(g), 10*time.Second)
			if len(got) != 5000 {
				t.Fatalf("got %d", len(got))
			}
		})
	}
}

// Broadcast and EmitEvent, read with the buffer-level InputGate.Next.
func TestBroadcastEmitEventGateNext(t *testing.T) {
	e := newTestEnv(t, testConfig())
	rp, err := e.CreatePartition(pid("bc", 0), 3)
	if err != nil {
		t.Fatal(err)
	}
	if rp.NumSubpartitions() != 3 || rp.ID() != pid("bc", 0) {
		t.Fatal("partition accessors")
	}
	w := NewRecordWriter(rp)
	var gates []*InputGate
	for c := 0; c < 3; c++ {
		g, err := e.CreateInputGate(context.Background(), []ChannelSpec{{Partition: pid("bc", 0), Subpartition: c, Addr: e.Addr()}})
		if err != nil {
			t.Fatal(err)
		}
		defer g.Close()
		if g.NumChannels() != 1 || g.Spec(0).Subpartition != c {
			t.Fatal("gate accessors")
		}
		gates = append(gates, g)
	}
	if err := w.Broadcast(func(dst []byte) []byte { return append(dst, "all"...) }); err != nil {
		t.Fatal(err)
	}
	if err := w.EmitEvent(1, []byte("only-1")); err != nil {
		t.Fatal(err)
	}
	if err := w.EmitEvent(3, nil); err == nil {
		t.Fatal("EmitEvent out of range accepted")
	}
	w.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for c, g := range gates {
		var got []string
		for {
			be, err := g.Next(ctx)
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case be.EndOfPartition:
				got = append(got, "EOP")
			case be.Event != nil:
				got = append(got, "ev:"+string(be.Event))
			default:
				got = append(got, fmt.Sprintf("data:%q", be.Data))
			}
			be.Recycle()
			if be.EndOfPartition {
				break
			}
		}
		want := `data:"\x03all" EOP`
		if c == 1 {
			want = `data:"\x03all" ev:only-1 EOP`
		}
		if s := strings.Join(got, " "); s != want {
			t.Fatalf("consumer %d: %s, want %s", c, s, want)
		}
	}
}

// Records flushed one by one travel batched when the consumer lags (a flush hands on everything
// committed; the server coalesces queued slices into one frame), spanning records included.
func TestRemoteCoalescesSmallBuffers(t *testing.T) {
	cfg := Config{SegmentSize: 1024, TotalBuffers: 256, BufferTimeout: 0}
	prod := newTestEnv(t, cfg)
	cons := newTestEnv(t, cfg)
	tp := buildTopology(t, prod, cons, "coal", 1, 1)
	w := tp.writers[0]
	const n = 3000
	done := make(chan error, 1)
	go func() {
		for i := 0; i < n; i++ {
			if err := w.EmitBytes(0, record(0, i, i%1500)); err != nil {
				done <- err
				return
			}
		}
		done <- w.Close()
	}()
	time.Sleep(50 * time.Millisecond) // let a backlog build up
	got := readAll(t, NewRecordReader(tp.gates[0]), 20*time.Second)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if len(got) != n {
		t.Fatalf("got %d records", len(got))
	}
	for i, it := range got {
		if !bytes.Equal(it.rec, record(0, i, i%1500)) {
			t.Fatalf("record %d differs", i)
		}
	}
	ps, gs := w.Partition().Stats(), tp.gates[0].Stats()
	if ps.Bytes != gs.Bytes {
		t.Fatalf("bytes: produced %d, received %d", ps.Bytes, gs.Bytes)
	}
	if gs.Buffers > ps.Buffers || gs.Buffers >= n {
		t.Fatalf("no batching: %d records, %d buffers produced, %d frames received", n, ps.Buffers, gs.Buffers)
	}
	t.Logf("%d records flushed one by one, sent as %d buffers in %d frames", n, ps.Buffers, gs.Buffers)
}

// A panicking encoder (user codec) leaves the partition releasable.
func TestEncodePanicLeavesPartitionUsable(t *testing.T) {
	e := newTestEnv(t, testConfig())
	rp, err := e.CreatePartition(pid("panic", 0), 1)
	if err != nil {
		t.Fatal(err)
	}
	w := NewRecordWriter(rp)
	func() {
		defer func() { recover() }()
		w.Emit(0, func(dst []byte) []byte { panic("codec bug") })
	}()
	done := make(chan struct{})
	go func() { rp.Release(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Fatal("Release hung after a panicking encoder")
	}
}

// Close from another goroutine while the reader is blocked in Next or holds a buffer: no race,
// Next returns ErrGateClosed, and the buffer budgets of both sides are whole again.
func TestConcurrentGateClose(t *testing.T) {
	for _, remote := range []bool{false, true} {
		t.Run(fmt.Sprintf("remote=%v", remote), func(t *testing.T) {
			cfg := Config{SegmentSize: 1024, TotalBuffers: 64, BufferTimeout: time.Millisecond}
			prod := newTestEnv(t, cfg)
			cons := prod
			if remote {
				cons = newTestEnv(t, cfg)
			}
			tp := buildTopology(t, prod, cons, "cc", 2, 1)
			for _, w := range tp.writers {
				go func() {
					for i := 0; ; i++ {
						if err := w.EmitBytes(0, record(0, i, 100)); err != nil {
							return
						}
					}
				}()
			}
			r := NewRecordReader(tp.gates[0])
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			for i := 0; i < 25; i++ { // the reader now holds a partly parsed buffer
				if _, _, _, err := r.Next(ctx); err != nil {
					t.Fatal(err)
				}
			}
			errc := make(chan error, 1)
			go func() {
				for {
					if _, _, _, err := r.Next(ctx); err != nil {
						errc <- err
						return
					}
				}
			}()
			time.Sleep(20 * time.Millisecond)
			tp.gates[0].Close()
			if err := <-errc; !errors.Is(err, ErrGateClosed) {
				t.Fatalf("Next after concurrent Close: %v", err)
			}
			for _, e := range []*Environment{prod, cons} {
				deadline := time.Now().Add(3 * time.Second)
				for {
					st := e.BufferStats()
					if st.Available == st.Total {
						break
					}
					if time.Now().After(deadline) {
						t.Fatalf("budget not whole after close: %+v", st)
					}
					time.Sleep(5 * time.Millisecond)
				}
			}
		})
	}
}

// A producer whose channel ran out of credit announces a new backlog, and the consumer lends it
// floating buffers although it reads nothing.
func TestBacklogAnnouncement(t *testing.T) {
	cfg := Config{SegmentSize: 256, TotalBuffers: 64, BufferTimeout: -1, BuffersPerChannel: 1, FloatingBuffersPerGate: 4}
	prod := newTestEnv(t, cfg)
	cons := newTestEnv(t, cfg)
	tp := buildTopology(t, prod, cons, "announce", 1, 1)
	w := tp.writers[0]
	rc := tp.gates[0].chans[0].(*remoteChannel)
	received := func() int {
		rc.mu.Lock()
		defer rc.mu.Unlock()
		return len(rc.recv) - rc.head
	}
	waitFor := func(n int) {
		t.Helper()
		deadline := time.Now().Add(3 * time.Second)
		for received() < n {
			if time.Now().After(deadline) {
				t.Fatalf("consumer holds %d buffers, want %d", received(), n)
			}
			time.Sleep(time.Millisecond)
		}
	}
	// One full buffer: sent with the only exclusive credit, backlog 0.
	w.EmitBytes(0, make([]byte, 250))
	w.Flush()
	waitFor(1)
	// Three more: no credit left, so only a backlog announcement can bring floating credit.
	for i := 0; i < 3; i++ {
		w.EmitBytes(0, make([]byte, 250))
		w.Flush()
	}
	waitFor(4)
}

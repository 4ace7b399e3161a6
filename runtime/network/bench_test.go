package network

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"syscall"
	"testing"
	"time"
)

// cpuTime returns the process's user+system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchThroughput moves b.N records of size n from one producer to one consumer.
func benchThroughput(b *testing.B, remote bool, n int) {
	cfg := Config{SegmentSize: 32 << 10, TotalBuffers: 1024, BufferTimeout: 100 * time.Millisecond}
	prod := newTestEnv(b, cfg)
	cons := prod
	if remote {
		cons = newTestEnv(b, cfg)
	}
	rp, err := prod.CreatePartition(pid(fmt.Sprintf("bench-%d", b.N), 0), 1)
	if err != nil {
		b.Fatal(err)
	}
	g, err := cons.CreateInputGate(context.Background(), []ChannelSpec{{Partition: rp.ID(), Addr: prod.Addr()}})
	if err != nil {
		b.Fatal(err)
	}
	defer g.Close()
	w := NewRecordWriter(rp)
	r := NewRecordReader(g)
	payload := make([]byte, n)
	for i := range payload {
		payload[i] = byte(i)
	}
	b.SetBytes(int64(n))
	b.ReportAllocs()
	b.ResetTimer()
	start, cpu0 := time.Now(), cpuTime()
	go func() {
		enc := func(dst []byte) []byte { return append(dst, payload...) }
		for i := 0; i < b.N; i++ {
			if err := w.Emit(0, enc); err != nil {
				b.Error(err)
				return
			}
		}
		w.Close()
	}()
	ctx := context.Background()
	got := 0
	for {
		_, rec, _, err := r.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			b.Fatal(err)
		}
		if len(rec) != n {
			b.Fatalf("record of %d bytes", len(rec))
		}
		got++
	}
	el, cpu := time.Since(start), cpuTime()-cpu0
	if got != b.N {
		b.Fatalf("got %d of %d", got, b.N)
	}
	b.ReportMetric(float64(b.N)/el.Seconds(), "records/s")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/record")
}

func BenchmarkThroughput(b *testing.B) {
	for _, remote := range []bool{false, true} {
		for _, n := range []int{16, 64} {
			name := fmt.Sprintf("local/%dB", n)
			if remote {
				name = fmt.Sprintf("remote/%dB", n)
			}
			b.Run(name, func(b *testing.B) { benchThroughput(b, remote, n) })
		}
	}
}

// BenchmarkEmit measures the producer's per-record cost alone (local consumer drained by
// recycling whole buffers via the low-level gate API).
func BenchmarkEmit(b *testing.B) {
	cfg := Config{SegmentSize: 32 << 10, TotalBuffers: 256, BufferTimeout: 100 * time.Millisecond}
	e := newTestEnv(b, cfg)
	rp, _ := e.CreatePartition(pid("emit", b.N), 1)
	g, _ := e.CreateInputGate(context.Background(), []ChannelSpec{{Partition: rp.ID(), Addr: e.Addr()}})
	defer g.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			be, err := g.Next(context.Background())
			if err != nil {
				return
			}
			eop := be.EndOfPartition
			be.Recycle()
			if eop {
				return
			}
		}
	}()
	w := NewRecordWriter(rp)
	payload := make([]byte, 32)
	enc := func(dst []byte) []byte { return append(dst, payload...) }
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		w.Emit(0, enc)
	}
	w.Close()
	<-done
}

// BenchmarkLatency: a steady stream of 10k records/s with BufferTimeout 5 ms; reports the
// median and p99 producer-to-consumer latency.
func BenchmarkLatency(b *testing.B) {
	for _, remote := range []bool{false, true} {
		b.Run(map[bool]string{false: "local", true: "remote"}[remote], func(b *testing.B) {
			cfg := Config{SegmentSize: 32 << 10, TotalBuffers: 256, BufferTimeout: 5 * time.Millisecond}
			prod := newTestEnv(b, cfg)
			cons := prod
			if remote {
				cons = newTestEnv(b, cfg)
			}
			rp, _ := prod.CreatePartition(pid("lat", b.N), 1)
			g, err := cons.CreateInputGate(context.Background(), []ChannelSpec{{Partition: rp.ID(), Addr: prod.Addr()}})
			if err != nil {
				b.Fatal(err)
			}
			defer g.Close()
			w := NewRecordWriter(rp)
			r := NewRecordReader(g)
			n := b.N
			if n < 200 {
				n = 200
			}
			b.ResetTimer()
			go func() {
				t := time.NewTicker(100 * time.Microsecond)
				defer t.Stop()
				for i := 0; i < n; i++ {
					<-t.C
					w.Emit(0, func(dst []byte) []byte {
						return binary.LittleEndian.AppendUint64(dst, uint64(time.Now().UnixNano()))
					})
				}
				w.Close()
			}()
			lat := make([]time.Duration, 0, n)
			for {
				_, rec, _, err := r.Next(context.Background())
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Duration(time.Now().UnixNano()-int64(binary.LittleEndian.Uint64(rec))))
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
		})
	}
}

// BenchmarkShuffle: 4 producers × 4 consumers in another process, records spread over every
// consumer (an all-to-all keyed exchange, 16 channels on one connection).
func BenchmarkShuffle(b *testing.B) {
	const par = 4
	cfg := Config{SegmentSize: 32 << 10, TotalBuffers: 1024, BufferTimeout: 100 * time.Millisecond}
	prod := newTestEnv(b, cfg)
	cons := newTestEnv(b, cfg)
	vertex := fmt.Sprintf("shuffle-%d", b.N)
	var writers []*RecordWriter
	for p := 0; p < par; p++ {
		rp, err := prod.CreatePartition(pid(vertex, p), par)
		if err != nil {
			b.Fatal(err)
		}
		writers = append(writers, NewRecordWriter(rp))
	}
	var readers []*RecordReader
	for c := 0; c < par; c++ {
		specs := make([]ChannelSpec, par)
		for p := range specs {
			specs[p] = ChannelSpec{Partition: pid(vertex, p), Subpartition: c, Addr: prod.Addr()}
		}
		g, err := cons.CreateInputGate(context.Background(), specs)
		if err != nil {
			b.Fatal(err)
		}
		defer g.Close()
		readers = append(readers, NewRecordReader(g))
	}
	payload := make([]byte, 32)
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	b.ResetTimer()
	start, cpu0 := time.Now(), cpuTime()
	per := b.N / par
	for p, w := range writers {
		go func() {
			enc := func(dst []byte) []byte { return append(dst, payload...) }
			n := per
			if p == 0 {
				n += b.N % par
			}
			for i := 0; i < n; i++ {
				w.Emit(i%par, enc)
			}
			w.Close()
		}()
	}
	counts := make(chan int, par)
	for _, r := range readers {
		go func() {
			n := 0
			for {
				_, _, _, err := r.Next(context.Background())
				if err != nil {
					break
				}
				n++
			}
			counts <- n
		}()
	}
	total := 0
	for range readers {
		total += <-counts
	}
	el, cpu := time.Since(start), cpuTime()-cpu0
	if total != b.N {
		b.Fatalf("received %d of %d", total, b.N)
	}
	b.ReportMetric(float64(b.N)/el.Seconds(), "records/s")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/record")
}

// BenchmarkFlushEveryRecord: BufferTimeout 0 (a buffer per record), 32-byte records.
func BenchmarkFlushEveryRecord(b *testing.B) {
	for _, remote := range []bool{false, true} {
		b.Run(map[bool]string{false: "local", true: "remote"}[remote], func(b *testing.B) {
			cfg := Config{SegmentSize: 32 << 10, TotalBuffers: 256, BufferTimeout: 0}
			prod := newTestEnv(b, cfg)
			cons := prod
			if remote {
				cons = newTestEnv(b, cfg)
			}
			rp, _ := prod.CreatePartition(pid("fe", b.N), 1)
			g, err := cons.CreateInputGate(context.Background(), []ChannelSpec{{Partition: rp.ID(), Addr: prod.Addr()}})
			if err != nil {
				b.Fatal(err)
			}
			defer g.Close()
			w := NewRecordWriter(rp)
			r := NewRecordReader(g)
			payload := make([]byte, 32)
			b.ReportAllocs()
			b.ResetTimer()
			go func() {
				enc := func(dst []byte) []byte { return append(dst, payload...) }
				for i := 0; i < b.N; i++ {
					w.Emit(0, enc)
				}
				w.Close()
			}()
			for {
				if _, _, _, err := r.Next(context.Background()); err != nil {
					break
				}
			}
		})
	}
}

// BenchmarkNext measures the reader's per-record cost alone (32-byte records in 32 KiB buffers
// fed by a fake channel).
func BenchmarkNext(b *testing.B) {
	var seg []byte
	rec := make([]byte, 32)
	for len(seg)+33 <= 32<<10 {
		seg = append(seg, 32)
		seg = append(seg, rec...)
	}
	perBuf := len(seg) / 33
	ch := &fakeChannel{}
	g := fakeGate(ch)
	r := NewRecordReader(g)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i%perBuf == 0 {
			ch.bufs = append(ch.bufs[:0], &Buffer{seg: seg, kind: kindData})
			g.queued[0] = true
			g.avail = append(g.avail[:0], 0)
		}
		if _, _, _, err := r.Next(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

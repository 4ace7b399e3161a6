package pebblestore

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// BenchmarkIncrementalCheckpoint builds a large store (PEBBLESTORE_BENCH_KEYS keys, default
// 10 M, with 100-byte random values: about 1.1 GB), takes a full checkpoint, updates 1% of the
// keys, takes an incremental checkpoint and restores it. The scenario runs once per benchmark
// run (use -benchtime=1x) and reports its numbers as metrics; checkpoint storage is the local
// file system under a temporary directory, removed afterwards. It is skipped with -short.
// PEBBLESTORE_BENCH_LOAD=set loads with one Set per key instead of Import (SST ingestion);
// PEBBLESTORE_BENCH_ROUNDS sets the number of steady-state rounds (default 10).
//
//	go test -run '^$' -bench IncrementalCheckpoint -benchtime=1x -timeout 30m ./runtime/state/pebblestore/
func BenchmarkIncrementalCheckpoint(b *testing.B) {
	if testing.Short() {
		b.Skip("builds a store of about 1 GB")
	}
	n := 10_000_000
	if s := os.Getenv("PEBBLESTORE_BENCH_KEYS"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 100 {
			b.Fatalf("PEBBLESTORE_BENCH_KEYS=%q: want an integer >= 100", s)
		}
		n = v
	}
	const valueSize = 100
	for i := 0; i < b.N; i++ {
		runIncrementalScenario(b, n, valueSize)
	}
}

func runIncrementalScenario(b *testing.B, n, valueSize int) {
	root := b.TempDir()
	st := newStorage(b)
	o := Options{Dir: filepath.Join(root, "store"), MemTableSize: 64 << 20, CacheSize: 64 << 20}
	if v := os.Getenv("PEBBLESTORE_BENCH_L0"); v != "" {
		// Experiment knob: compact L0 into Lbase only after this many sublevels.
		l0, err := strconv.Atoi(v)
		if err != nil {
			b.Fatalf("PEBBLESTORE_BENCH_L0=%q: %v", v, err)
		}
		o.tweak = func(po *pebble.Options) {
			po.L0CompactionThreshold = l0
			po.L0StopWritesThreshold = max(po.L0StopWritesThreshold, 2*l0)
		}
	}
	if os.Getenv("PEBBLESTORE_BENCH_FORMAT") == "oldest" {
		// Experiment knob: Pebble's default (oldest supported) format instead of the newest.
		prev := o.tweak
		o.tweak = func(po *pebble.Options) {
			if prev != nil {
				prev(po)
			}
			po.FormatMajorVersion = pebble.FormatMinSupported
		}
	}
	s, err := Open(o)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	r := rand.New(rand.NewPCG(7, 8))
	fill := func(v []byte) {
		for j := 0; j+8 <= len(v); j += 8 {
			binary.LittleEndian.PutUint64(v[j:], r.Uint64())
		}
		for j := len(v) &^ 7; j < len(v); j++ {
			v[j] = byte(r.Uint32())
		}
	}

	t0 := time.Now()
	val := make([]byte, valueSize)
	gen := func(yield func(k, v []byte) bool) {
		for i := 0; i < n; i++ {
			fill(val)
			if !yield(benchKey(i), val) {
				return
			}
		}
	}
	switch mode := os.Getenv("PEBBLESTORE_BENCH_LOAD"); mode {
	case "", "import": // Import of sorted input: SST ingestion, as a restore from a savepoint
		if err := s.Import(gen); err != nil {
			b.Fatal(err)
		}
	case "set": // one Set per key, as a store grown by the job's writes
		var err error
		gen(func(k, v []byte) bool { err = s.Set(k, v); return err == nil })
		if err != nil {
			b.Fatal(err)
		}
	default:
		b.Fatalf("PEBBLESTORE_BENCH_LOAD=%q: want import or set", mode)
	}
	load := time.Since(t0)
	t0 = time.Now()
	settle(b, s)
	settleDur := time.Since(t0)

	ckpt := func(id int64) (*Snapshot, int64, time.Duration, time.Duration) {
		t0 := time.Now()
		p, err := s.PrepareCheckpoint(id)
		if err != nil {
			b.Fatal(err)
		}
		prep := time.Since(t0)
		t0 = time.Now()
		snap, up, err := p.Upload(context.Background(), st.fsys, st.shared, st.private(id), st.uploaded)
		if err != nil {
			b.Fatal(err)
		}
		for _, name := range snap.SharedNames() {
			st.uploaded[name] = true
		}
		return snap, up, prep, time.Since(t0)
	}
	snap1, up1, prep1, upl1 := ckpt(1)

	// Update 1% of the keys, at random.
	updated := map[int][]byte{}
	t0 = time.Now()
	for j := 0; j < n/100; j++ {
		i := r.IntN(n)
		v := make([]byte, valueSize)
		fill(v)
		updated[i] = v
		if err := s.Set(benchKey(i), v); err != nil {
			b.Fatal(err)
		}
	}
	updateDur := time.Since(t0)
	snap2, up2, prep2, upl2 := ckpt(2)

	t0 = time.Now()
	rs, err := Restore(context.Background(), st.fsys, snap2, st.shared, st.private(2), Options{Dir: filepath.Join(root, "restored")})
	if err != nil {
		b.Fatal(err)
	}
	restore := time.Since(t0)
	defer func() { _ = rs.Close() }()
	// Spot-check the restored store: updated keys carry their new values.
	checked := 0
	for i, v := range updated {
		got, ok, err := rs.Get(benchKey(i))
		if err != nil || !ok || !bytes.Equal(got, v) {
			b.Fatalf("restored key %d: ok=%v err=%v, value differs", i, ok, err)
		}
		if checked++; checked == 1000 {
			break
		}
	}

	full := snap2.StateSize()
	ratio := float64(up2) / float64(full)
	b.ReportMetric(float64(full)/1e6, "state-MB")
	b.ReportMetric(load.Seconds(), "load-s")
	b.ReportMetric(float64(up1)/1e6, "full-upload-MB")
	b.ReportMetric(upl1.Seconds(), "full-upload-s")
	b.ReportMetric(float64(up2)/1e6, "incr-upload-MB")
	b.ReportMetric(100*ratio, "incr-upload-%")
	b.ReportMetric(float64(prep2.Milliseconds()), "incr-prepare-ms")
	b.ReportMetric(upl2.Seconds(), "incr-upload-s")
	b.ReportMetric(restore.Seconds(), "restore-s")
	b.Logf("keys %d x %d B: load %v (+%v compaction settle), state %d B in %d SST files",
		n, valueSize, load.Round(time.Millisecond), settleDur.Round(time.Millisecond), full, len(snap2.Files))
	b.Logf("full checkpoint: prepare %v, upload %d B in %v", prep1.Round(time.Millisecond), up1, upl1.Round(time.Millisecond))
	b.Logf("1%% updates (%d Sets, %d distinct keys) took %v", n/100, len(updated), updateDur.Round(time.Millisecond))
	b.Logf("incremental checkpoint: prepare %v, upload %d B (%.2f%% of state) in %v, %d of %d shared files new",
		prep2.Round(time.Millisecond), up2, 100*ratio, upl2.Round(time.Millisecond), newFiles(snap1, snap2), len(snap2.Files))
	b.Logf("restore of the incremental checkpoint: %v", restore.Round(time.Millisecond))
	if ratio >= 0.10 {
		b.Errorf("incremental checkpoint uploaded %.1f%% of the state, acceptance is < 10%%", 100*ratio)
	}

	// Steady state: more rounds of 1% updates and a checkpoint each, compactions running in
	// the background as they please (an L0 -> Lbase compaction rewrites files, and its output
	// is uploaded by the next checkpoint).
	rounds := 10
	if v := os.Getenv("PEBBLESTORE_BENCH_ROUNDS"); v != "" {
		if rounds, err = strconv.Atoi(v); err != nil {
			b.Fatalf("PEBBLESTORE_BENCH_ROUNDS=%q: %v", v, err)
		}
	}
	var total, worst int64
	var worstRatio float64
	prev := snap2
	var last *Snapshot
	for round := 0; round < rounds; round++ {
		for j := 0; j < n/100; j++ {
			v := make([]byte, valueSize)
			fill(v)
			if err := s.Set(benchKey(r.IntN(n)), v); err != nil {
				b.Fatal(err)
			}
		}
		snap, up, prep, upl := ckpt(int64(3 + round))
		m := s.db.Metrics()
		fmt.Printf("round %d: prepare %v, upload %d B (%.2f%% of %d B) in %v, %d of %d files new; compactions so far %d, in progress %d\n",
			round+1, prep.Round(time.Millisecond), up, 100*float64(up)/float64(snap.StateSize()), snap.StateSize(),
			upl.Round(time.Millisecond), newFiles(prev, snap), len(snap.Files), m.Compact.Count, m.Compact.NumInProgress)
		total += up
		if up > worst {
			worst, worstRatio = up, float64(up)/float64(snap.StateSize())
		}
		prev, last = snap, snap
	}
	if rounds > 0 {
		b.ReportMetric(float64(total)/float64(rounds)/1e6, "steady-upload-MB/ckpt")
		b.ReportMetric(100*worstRatio, "steady-worst-%")
		fmt.Printf("steady state over %d rounds: mean upload %.1f MB per checkpoint, worst %.1f MB (%.1f%%)\n",
			rounds, float64(total)/float64(rounds)/1e6, float64(worst)/1e6, 100*worstRatio)
		t0 = time.Now()
		rl, err := Restore(context.Background(), st.fsys, last, st.shared, st.private(last.ID), Options{Dir: filepath.Join(root, "restored-last")})
		if err != nil {
			b.Fatal(err)
		}
		fmt.Printf("restore of checkpoint %d: %v\n", last.ID, time.Since(t0).Round(time.Millisecond))
		_ = rl.Close()
	}
}

func benchKey(i int) []byte {
	var k [11]byte
	// 2^17 keys per key group (10 M keys span 77 groups), ascending so the load is sorted.
	binary.BigEndian.PutUint16(k[:], uint16(i>>17))
	k[2] = 1
	binary.BigEndian.PutUint64(k[3:], uint64(i))
	return k[:]
}

func newFiles(old, cur *Snapshot) int {
	seen := map[string]bool{}
	for _, f := range old.Files {
		seen[f.Name] = true
	}
	n := 0
	for _, f := range cur.Files {
		if !seen[f.Name] {
			n++
		}
	}
	return n
}

// BenchmarkGet measures point reads of a store whose data sits in SST files on several
// levels (PEBBLESTORE_BENCH_GET_KEYS keys, default 500 000, × 100 B, written in random order
// and flushed), with and without bloom filters: hits (existing keys, random) and misses (keys
// never written, the first touch of a new key). The value cache is off so that every Get
// reaches Pebble.
//
//	go test -run '^$' -bench 'Get$' -benchtime 2s ./runtime/state/pebblestore/
func BenchmarkGet(b *testing.B) {
	if testing.Short() {
		b.Skip("builds a store of about 50 MB")
	}
	n := 500_000
	if s := os.Getenv("PEBBLESTORE_BENCH_GET_KEYS"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1000 {
			b.Fatalf("PEBBLESTORE_BENCH_GET_KEYS=%q: want an integer >= 1000", s)
		}
		n = v
	}
	for _, filters := range []bool{false, true} {
		name := "filters=off"
		if filters {
			name = "filters=on"
		}
		b.Run(name, func(b *testing.B) {
			o := Options{Dir: filepath.Join(b.TempDir(), "store"), ValueCacheSize: -1, MemTableSize: 4 << 20}
			if !filters {
				o.tweak = func(po *pebble.Options) {
					for i := range po.Levels {
						po.Levels[i].FilterPolicy = pebble.NoFilterPolicy
					}
				}
			}
			s, err := Open(o)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			r := rand.New(rand.NewPCG(3, 4))
			val := make([]byte, 100)
			for i := 0; i < n; i++ {
				binary.LittleEndian.PutUint64(val, r.Uint64())
				// Even keys only: odd ones are the misses.
				if err := s.Set(benchKey(2*((i*7919)%n)), val); err != nil {
					b.Fatal(err)
				}
			}
			if err := s.db.Flush(); err != nil {
				b.Fatal(err)
			}
			for _, hit := range []bool{true, false} {
				sub := "miss"
				if hit {
					sub = "hit"
				}
				b.Run(sub, func(b *testing.B) {
					for i := 0; i < b.N; i++ {
						k := 2 * r.IntN(n)
						if !hit {
							k++
						}
						_, ok, err := s.Get(benchKey(k))
						if err != nil || ok != hit {
							b.Fatalf("Get key %d: ok=%v err=%v, want ok=%v", k, ok, err, hit)
						}
					}
				})
			}
		})
	}
}

// BenchmarkSet measures blind writes (one Set of a 100-byte value, no Get) with and without
// the value cache, keys drawn from 10 M ("random") or 1000 ("hot"). The cache holds only keys
// a Get brought in, so blind writes go straight to Pebble either way and should cost the
// same; read-modify-write is BenchmarkTableReadModifyWrite in runtime/state.
//
//	go test -run '^$' -bench 'Set$' -benchtime 1s ./runtime/state/pebblestore/
func BenchmarkSet(b *testing.B) {
	for _, keys := range []struct {
		name string
		n    int
	}{{"random", 10_000_000}, {"hot", 1000}} {
		for _, cache := range []int64{-1, 0} {
			name := keys.name + "/cache=on"
			if cache < 0 {
				name = keys.name + "/cache=off"
			}
			b.Run(name, func(b *testing.B) {
				s, err := Open(Options{Dir: filepath.Join(b.TempDir(), "store"), ValueCacheSize: cache, MemTableSize: 64 << 20})
				if err != nil {
					b.Fatal(err)
				}
				defer s.Close()
				r := rand.New(rand.NewPCG(1, 2))
				val := make([]byte, 100)
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					binary.LittleEndian.PutUint64(val, r.Uint64())
					if err := s.Set(benchKey(r.IntN(keys.n)), val); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

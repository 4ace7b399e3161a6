package pebblestore

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// BenchmarkCheckpointRounds is the steady-state scenario of acceptance 4 at the store level:
// PEBBLESTORE_BENCH_KEYS keys (default 10 M) × 100-byte random values written one Set at a
// time in random key order (a store grown by a job's writes, as the backend benchmark in
// runtime/state does through Table.Put), a full checkpoint, then PEBBLESTORE_BENCH_ROUNDS
// rounds (default 40) of 1% random updates, each followed by a checkpoint. It prints every
// round's upload and the compactions that ran in it, and reports mean, median and maximum of
// upload/state; it fails when a checkpoint uploads 10% of the state or more.
//
//	go test -run '^$' -bench CheckpointRounds -benchtime=1x -timeout 60m ./runtime/state/pebblestore/
//
// PEBBLESTORE_BENCH_IDLE=<seconds> leaves the store idle after the rounds and logs what
// compacts then. PEBBLESTORE_BENCH_OPTS overrides Pebble options after the store's own, for experiments: a
// comma-separated list of lbase=<MiB>, mult=<n>, tfs=<MiB for Lbase>,<MiB for Lbase+1>,... (or
// one value for all levels), l0=<n> (L0 compaction threshold), multilevel=0|1,
// readsamp=<n> (-1: no read-triggered compactions), conc=<n> (compaction concurrency),
// concmax=<n> (concurrency 1, up to n under compaction debt, L0 read amplification or garbage),
// memtable=<MiB>, vsep=<min value size>[/<max blob reference depth>[/<garbage %>]] (value
// separation into blob files); list values are separated by "/".
func BenchmarkCheckpointRounds(b *testing.B) {
	if testing.Short() {
		b.Skip("builds a store of about 1 GB")
	}
	keys := envInt(b, "PEBBLESTORE_BENCH_KEYS", 10_000_000)
	rounds := envInt(b, "PEBBLESTORE_BENCH_ROUNDS", 40)
	for i := 0; i < b.N; i++ {
		runRounds(b, keys, rounds)
	}
}

func envInt(b *testing.B, name string, def int) int {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < 0 {
		b.Fatalf("%s=%q: want a non-negative integer", name, s)
	}
	return v
}

// benchTweak parses PEBBLESTORE_BENCH_OPTS (see BenchmarkCheckpointRounds).
func benchTweak(spec string) (func(*pebble.Options), error) {
	if spec == "" {
		return nil, nil
	}
	var fns []func(*pebble.Options)
	for _, kv := range strings.Split(spec, ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return nil, fmt.Errorf("option %q: want key=value", kv)
		}
		var nums []int64
		for _, f := range strings.Split(v, "/") {
			n, err := strconv.ParseInt(f, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("option %q: %w", kv, err)
			}
			nums = append(nums, n)
		}
		n := nums[0]
		switch k {
		case "lbase":
			fns = append(fns, func(o *pebble.Options) { o.LBaseMaxBytes = n << 20 })
		case "mult":
			fns = append(fns, func(o *pebble.Options) { o.Experimental.LevelMultiplier = int(n) })
		case "tfs":
			fns = append(fns, func(o *pebble.Options) {
				for i := 1; i < len(o.TargetFileSizes); i++ {
					o.TargetFileSizes[i] = nums[min(i-1, len(nums)-1)] << 20
				}
			})
		case "tfs0":
			fns = append(fns, func(o *pebble.Options) { o.TargetFileSizes[0] = n << 20 })
		case "l0":
			fns = append(fns, func(o *pebble.Options) {
				o.L0CompactionThreshold = int(n)
				o.L0StopWritesThreshold = max(o.L0StopWritesThreshold, 4*int(n))
			})
		case "multilevel":
			fns = append(fns, func(o *pebble.Options) {
				if n == 0 {
					o.Experimental.MultiLevelCompactionHeuristic = pebble.NoMultiLevel{}
				} else {
					o.Experimental.MultiLevelCompactionHeuristic = pebble.WriteAmpHeuristic{}
				}
			})
		case "readsamp":
			fns = append(fns, func(o *pebble.Options) { o.Experimental.ReadSamplingMultiplier = n })
		case "conc":
			fns = append(fns, func(o *pebble.Options) {
				o.CompactionConcurrencyRange = func() (int, int) { return int(n), int(n) }
			})
		case "concmax": // concurrency 1, up to n when Pebble sees debt, L0 read amp or garbage
			fns = append(fns, func(o *pebble.Options) {
				o.CompactionConcurrencyRange = func() (int, int) { return 1, int(n) }
			})
		case "vsep": // value separation: minimum value size / max blob reference depth / garbage %
			fns = append(fns, func(o *pebble.Options) {
				p := pebble.ValueSeparationPolicy{Enabled: true, MinimumSize: int(n), MaxBlobReferenceDepth: 1000, TargetGarbageRatio: 1}
				if len(nums) > 1 {
					p.MaxBlobReferenceDepth = int(nums[1])
				}
				if len(nums) > 2 {
					p.TargetGarbageRatio = float64(nums[2]) / 100
				}
				o.Experimental.ValueSeparationPolicy = func() pebble.ValueSeparationPolicy { return p }
			})
		case "memtable":
			fns = append(fns, func(o *pebble.Options) { o.MemTableSize = uint64(n) << 20 })
		default:
			return nil, fmt.Errorf("option %q: unknown key %q", kv, k)
		}
	}
	return func(o *pebble.Options) {
		for _, f := range fns {
			f(o)
		}
	}, nil
}

// compactionLog collects the compactions that end between two checkpoints.
type compactionLog struct {
	mu    sync.Mutex
	lines []string
	bytes int64
}

func (c *compactionLog) ended(info pebble.CompactionInfo) {
	if info.Err != nil {
		return
	}
	var in []string
	for _, l := range info.Input {
		var n uint64
		for _, t := range l.Tables {
			n += t.Size
		}
		in = append(in, fmt.Sprintf("L%d:%d/%.1fMB", l.Level, len(l.Tables), float64(n)/1e6))
	}
	var out uint64
	for _, t := range info.Output.Tables {
		out += t.Size
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.bytes += int64(out)
	c.lines = append(c.lines, fmt.Sprintf("%s %s -> L%d:%d/%.1fMB", info.Reason, strings.Join(in, "+"),
		info.Output.Level, len(info.Output.Tables), float64(out)/1e6))
}

func (c *compactionLog) blobRewritten(info pebble.BlobFileRewriteInfo) {
	if info.Err != nil {
		c.mu.Lock()
		c.lines = append(c.lines, fmt.Sprintf("blob-file-rewrite failed: %v", info.Err))
		c.mu.Unlock()
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.bytes += int64(info.Output.Size)
	c.lines = append(c.lines, fmt.Sprintf("blob-file-rewrite %.1fMB -> %.1fMB", float64(info.Input.Size)/1e6, float64(info.Output.Size)/1e6))
}

func (c *compactionLog) take() ([]string, int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	l, n := c.lines, c.bytes
	c.lines, c.bytes = nil, 0
	return l, n
}

func runRounds(b *testing.B, n, rounds int) {
	tweak, err := benchTweak(os.Getenv("PEBBLESTORE_BENCH_OPTS"))
	if err != nil {
		b.Fatalf("PEBBLESTORE_BENCH_OPTS: %v", err)
	}
	clog := &compactionLog{}
	root := b.TempDir()
	st := newStorage(b)
	o := Options{Dir: filepath.Join(root, "store"), MemTableSize: 64 << 20, CacheSize: 64 << 20}
	o.tweak = func(po *pebble.Options) {
		if tweak != nil {
			tweak(po)
		}
		po.EventListener = &pebble.EventListener{CompactionEnd: clog.ended, BlobFileRewriteEnd: clog.blobRewritten}
	}
	s, err := Open(o)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	r := rand.New(rand.NewPCG(21, 22))
	val := make([]byte, 100)
	fill := func() {
		for j := 0; j+8 <= len(val); j += 8 {
			binary.LittleEndian.PutUint64(val[j:], r.Uint64())
		}
	}
	// A random permutation of the keys without a 10 M-entry table: i -> (i*a + c) mod n with
	// a coprime to n.
	a := uint64(2654435761)
	for gcd(a, uint64(n)) != 1 {
		a += 2
	}
	t0 := time.Now()
	for i := 0; i < n; i++ {
		fill()
		if err := s.Set(benchKey(int((uint64(i)*a+12345)%uint64(n))), val); err != nil {
			b.Fatal(err)
		}
	}
	load := time.Since(t0)
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
	snap, up, prep, upl := ckpt(1)
	clog.take()
	fmt.Printf("options %q; loaded %d keys in random order in %v; full checkpoint: prepare %v, upload %.0f MB in %v, %d files\n",
		os.Getenv("PEBBLESTORE_BENCH_OPTS"), n, load.Round(time.Millisecond), prep.Round(time.Millisecond),
		float64(up)/1e6, upl.Round(time.Millisecond), len(snap.Files))
	printLSM(s)
	var fracs []float64
	var preps []time.Duration
	var sumUp, sumState int64
	prev := snap
	for round := 1; round <= rounds; round++ {
		for j := 0; j < n/100; j++ {
			fill()
			if err := s.Set(benchKey(r.IntN(n)), val); err != nil {
				b.Fatal(err)
			}
		}
		snap, up, prep, upl := ckpt(int64(round + 1))
		lines, cbytes := clog.take()
		f := float64(up) / float64(snap.StateSize())
		fracs = append(fracs, f)
		preps = append(preps, prep)
		sumUp += up
		sumState += snap.StateSize()
		var priv int64
		for _, pf := range snap.Private {
			priv += pf.Size
		}
		stats := s.Stats()
		fmt.Printf("round %2d: upload %6.1f MB = %5.2f%% of %4.0f MB (private %.2f MB), %3d of %3d files new, prepare %v upload %v; %d compactions wrote %.1f MB; blob %.0f MB, garbage %.0f MB\n",
			round, float64(up)/1e6, 100*f, float64(snap.StateSize())/1e6, float64(priv)/1e6, newFiles(prev, snap), len(snap.Files),
			prep.Round(time.Millisecond), upl.Round(time.Millisecond), len(lines), float64(cbytes)/1e6,
			float64(stats.BlobBytes)/1e6, float64(stats.BlobGarbageBytes)/1e6)
		for _, l := range lines {
			fmt.Printf("    %s\n", l)
		}
		prev = snap
	}
	printLSM(s)
	// PEBBLESTORE_BENCH_IDLE=<seconds>: then leave the store idle and watch the low-priority
	// compactions (blob-file rewrites) that back-to-back rounds leave no room for.
	if idle := envInt(b, "PEBBLESTORE_BENCH_IDLE", 0); idle > 0 {
		for t := 0; t < idle; t++ {
			time.Sleep(time.Second)
			lines, cbytes := clog.take()
			st := s.Stats()
			fmt.Printf("idle %2ds: %d compactions wrote %.1f MB; blob %.0f MB, garbage %.0f MB\n",
				t+1, len(lines), float64(cbytes)/1e6, float64(st.BlobBytes)/1e6, float64(st.BlobGarbageBytes)/1e6)
			for _, l := range lines {
				fmt.Printf("    %s\n", l)
			}
		}
	}
	if rounds == 0 {
		return
	}
	sorted := append([]float64(nil), fracs...)
	sort.Float64s(sorted)
	over := 0
	for _, f := range fracs {
		if f >= 0.10 {
			over++
		}
	}
	sort.Slice(preps, func(i, j int) bool { return preps[i] < preps[j] })
	mean := float64(sumUp) / float64(sumState)
	fmt.Printf("%d rounds: upload/state mean %.2f%%, median %.2f%%, p90 %.2f%%, max %.2f%%; %d at or above 10%%; prepare p50 %v max %v\n",
		rounds, 100*mean, 100*sorted[len(sorted)/2], 100*sorted[len(sorted)*9/10], 100*sorted[len(sorted)-1], over,
		preps[len(preps)/2].Round(time.Millisecond), preps[len(preps)-1].Round(time.Millisecond))
	b.ReportMetric(100*mean, "upload-mean-%")
	b.ReportMetric(100*sorted[len(sorted)-1], "upload-max-%")
	if over > 0 {
		b.Errorf("%d of %d incremental checkpoints uploaded 10%% of the state or more (max %.2f%%)", over, rounds, 100*sorted[len(sorted)-1])
	}
}

func printLSM(s *Store) {
	m := s.db.Metrics()
	var parts []string
	for i, l := range m.Levels {
		if l.TablesCount == 0 {
			continue
		}
		parts = append(parts, fmt.Sprintf("L%d %d files %.0f MB", i, l.TablesCount, float64(l.TablesSize)/1e6))
	}
	fmt.Printf("LSM: %s\n", strings.Join(parts, ", "))
}

func gcd(a, b uint64) uint64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

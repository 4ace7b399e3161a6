package pebblestore

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// The metamorphic test runs seeded random operations against the store and against a map
// model, under several Pebble configurations, and compares every result. Checkpoints are taken
// along the way and restored at random (including older ones after later checkpoints), so the
// run also exercises the checkpoint path under flushes and compactions. A failure prints the
// seed, the configuration and the last operations; PEBBLESTORE_SEED=<n> replays one seed and
// PEBBLESTORE_OPS=<n> changes the number of operations.

type metaConfig struct {
	name string
	opts Options
}

func metaConfigs() []metaConfig {
	return []metaConfig{
		{"default", Options{}},
		// The value cache flushing and evicting every few operations, and no value cache.
		{"tiny-value-cache", Options{ValueCacheSize: 400}},
		{"no-value-cache", Options{ValueCacheSize: -1}},
		{"tiny-memtable", Options{MemTableSize: 32 << 10, CacheSize: 64 << 10}},
		{"eager-compaction", Options{MemTableSize: 64 << 10, tweak: func(o *pebble.Options) {
			o.L0CompactionThreshold = 1
			o.LBaseMaxBytes = 64 << 10
			for i := range o.TargetFileSizes {
				o.TargetFileSizes[i] = 16 << 10
			}
		}}},
		{"no-compaction", Options{MemTableSize: 64 << 10, TransferConcurrency: 1, tweak: func(o *pebble.Options) {
			o.DisableAutomaticCompactions = true
			// Every checkpoint flushes an L0 file; without compactions the default
			// stop-writes threshold would stall the run.
			o.L0StopWritesThreshold = 1 << 30
		}}},
	}
}

// metaKey draws from a small key space shaped like the backend's keys: 2-byte key group,
// 1-byte state id, short suffix, with 0x00 and 0xff bytes to hit range edges.
func metaKey(r *rand.Rand) []byte {
	kgs := []uint16{0, 1, 2, 3, 0xffff}
	kg := kgs[r.IntN(len(kgs))]
	k := []byte{byte(kg >> 8), byte(kg), []byte{0, 1, 0xff}[r.IntN(3)]}
	for n := r.IntN(3); n > 0; n-- {
		k = append(k, []byte{0x00, 0x01, 0x7f, 0xff}[r.IntN(4)])
	}
	return k
}

// metaPrefix draws a prefix of a key (possibly empty).
func metaPrefix(r *rand.Rand) []byte {
	k := metaKey(r)
	return k[:r.IntN(len(k)+1)]
}

type metaRun struct {
	t      *testing.T
	r      *rand.Rand
	seed   uint64
	cfg    metaConfig
	st     *storage
	s      *Store
	model  map[string]string
	nextID int64
	kept   []metaCheckpoint
	log    []string
}

type metaCheckpoint struct {
	snap  *Snapshot
	model map[string]string
}

func (m *metaRun) fail(format string, args ...any) {
	m.t.Helper()
	tail := m.log
	if len(tail) > 30 {
		tail = tail[len(tail)-30:]
	}
	m.t.Fatalf("seed %d, config %s: %s\nlast operations:\n  %s\nreplay with PEBBLESTORE_SEED=%d",
		m.seed, m.cfg.name, fmt.Sprintf(format, args...), strings.Join(tail, "\n  "), m.seed)
}

func (m *metaRun) logf(format string, args ...any) {
	m.log = append(m.log, fmt.Sprintf(format, args...))
}

func cloneModel(m map[string]string) map[string]string {
	c := make(map[string]string, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// modelRange returns the model's entries with lo <= k < hi (nil hi: unbounded) in key order.
func modelRange(model map[string]string, lo, hi []byte) []string {
	var keys []string
	for k := range model {
		if bytes.Compare([]byte(k), lo) >= 0 && (hi == nil || bytes.Compare([]byte(k), hi) < 0) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

func (m *metaRun) step(i int) {
	r := m.r
	switch op := r.IntN(100); {
	case op < 40: // Set
		k, v := metaKey(r), strconv.Itoa(i)
		m.logf("%d set %x=%s", i, k, v)
		if err := m.s.Set(k, []byte(v)); err != nil {
			m.fail("set: %v", err)
		}
		m.model[string(k)] = v
	case op < 50: // Delete
		k := metaKey(r)
		m.logf("%d delete %x", i, k)
		if err := m.s.Delete(k); err != nil {
			m.fail("delete: %v", err)
		}
		delete(m.model, string(k))
	case op < 70: // Get
		k := metaKey(r)
		v, ok, err := m.s.Get(k)
		m.logf("%d get %x -> %q %v", i, k, v, ok)
		want, wok := m.model[string(k)]
		if err != nil || ok != wok || string(v) != want {
			m.fail("get %x: %q %v %v, model %q %v", k, v, ok, err, want, wok)
		}
	case op < 72: // DeleteRange: a prefix (a key group, a state), a span, or to the end
		a, b := metaKey(r), metaKey(r)
		if bytes.Compare(a, b) > 0 {
			a, b = b, a
		}
		switch r.IntN(10) {
		case 0:
			b = nil
		case 1, 2, 3, 4, 5:
			a = metaPrefix(r)
			b = PrefixEnd(a)
			if len(a) == 0 {
				a = []byte{0, 2} // not the whole key space
				b = []byte{0, 3}
			}
		}
		m.logf("%d delete-range [%x, %x)", i, a, b)
		if err := m.s.DeleteRange(a, b); err != nil {
			m.fail("delete range: %v", err)
		}
		for _, k := range modelRange(m.model, a, b) {
			delete(m.model, k)
		}
	case op < 82: // Iter over a prefix, sometimes stopping early
		p := metaPrefix(r)
		limit := 1 + r.IntN(20)
		if r.IntN(2) == 0 {
			limit = 1 << 30
		}
		var got []string
		err := m.s.Iter(p, func(k, v []byte) bool {
			got = append(got, string(k)+"="+string(v))
			return len(got) < limit
		})
		m.logf("%d iter %x limit %d -> %d", i, p, limit, len(got))
		var want []string
		for _, k := range modelRange(m.model, p, PrefixEnd(p)) {
			if len(want) == limit {
				break
			}
			want = append(want, k+"="+m.model[k])
		}
		if err != nil || strings.Join(got, ",") != strings.Join(want, ",") {
			m.fail("iter %x: %v\n got  %q\n want %q", p, err, got, want)
		}
	case op < 86: // ExportRange
		a, b := metaKey(r), metaKey(r)
		if bytes.Compare(a, b) > 0 {
			a, b = b, a
		}
		var got []string
		err := m.s.ExportRange(a, b, func(k, v []byte) error {
			got = append(got, string(k)+"="+string(v))
			return nil
		})
		m.logf("%d export [%x, %x) -> %d", i, a, b, len(got))
		var want []string
		for _, k := range modelRange(m.model, a, b) {
			want = append(want, k+"="+m.model[k])
		}
		if err != nil || strings.Join(got, ",") != strings.Join(want, ",") {
			m.fail("export [%x, %x): %v\n got  %q\n want %q", a, b, err, got, want)
		}
	case op < 91: // Import a few entries (sorted or not, with duplicates)
		n := r.IntN(12)
		var ks, vs [][]byte
		for j := 0; j < n; j++ {
			ks = append(ks, metaKey(r))
			vs = append(vs, []byte(fmt.Sprintf("imp%d.%d", i, j)))
		}
		if r.IntN(2) == 0 { // sorted input: the SST ingestion path
			sort.Slice(ks, func(a, b int) bool { return bytes.Compare(ks[a], ks[b]) < 0 })
		}
		m.logf("%d import %d entries", i, n)
		if err := m.s.Import(func(yield func(k, v []byte) bool) {
			for j := range ks {
				if !yield(ks[j], vs[j]) {
					return
				}
			}
		}); err != nil {
			m.fail("import: %v", err)
		}
		for j := range ks {
			m.model[string(ks[j])] = string(vs[j])
		}
	case op < 95: // Checkpoint (kept for later restores)
		m.nextID++
		id := m.nextID
		m.logf("%d checkpoint %d", i, id)
		snap, _ := m.st.checkpoint(m.t, m.s, id)
		m.kept = append(m.kept, metaCheckpoint{snap, cloneModel(m.model)})
	default: // Restore a random retained checkpoint (the latest or an older one), now and then
		if len(m.kept) == 0 || r.IntN(3) != 0 {
			return
		}
		c := m.kept[r.IntN(len(m.kept))]
		m.logf("%d restore checkpoint %d", i, c.snap.ID)
		if err := m.s.Close(); err != nil {
			m.fail("close: %v", err)
		}
		o := m.cfg.opts
		o.Dir = filepath.Join(m.t.TempDir(), "store")
		s, err := m.st.restore(m.t, c.snap, o)
		if err != nil {
			m.fail("restore checkpoint %d: %v", c.snap.ID, err)
		}
		m.s = s
		m.model = cloneModel(c.model)
	}
}

func (m *metaRun) checkAll(when string) {
	got := dump(m.t, m.s)
	if len(got) != len(m.model) {
		m.fail("%s: store has %d entries, model %d", when, len(got), len(m.model))
	}
	for k, v := range m.model {
		if got[k] != v {
			m.fail("%s: key %x = %q, model %q", when, k, got[k], v)
		}
	}
}

func TestMetamorphic(t *testing.T) {
	ops := 1000
	if testing.Short() {
		ops = 400
	}
	if s := os.Getenv("PEBBLESTORE_OPS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			t.Fatalf("PEBBLESTORE_OPS=%q: %v", s, err)
		}
		ops = n
	}
	seeds := []uint64{1, 2, uint64(time.Now().UnixNano())}
	if s := os.Getenv("PEBBLESTORE_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("PEBBLESTORE_SEED=%q: %v", s, err)
		}
		seeds = []uint64{n}
	}
	for _, cfg := range metaConfigs() {
		for _, seed := range seeds {
			t.Run(fmt.Sprintf("%s/seed=%d", cfg.name, seed), func(t *testing.T) {
				o := cfg.opts
				o.Dir = filepath.Join(t.TempDir(), "store")
				s, err := Open(o)
				if err != nil {
					t.Fatal(err)
				}
				m := &metaRun{t: t, r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), seed: seed,
					cfg: cfg, st: newStorage(t), s: s, model: map[string]string{}}
				defer func() { _ = m.s.Close() }()
				for i := 0; i < ops; i++ {
					m.step(i)
					if i%500 == 499 {
						m.checkAll(fmt.Sprintf("after op %d", i))
					}
				}
				m.checkAll("at the end")
				// Retained checkpoints still restore to their state: the first, the last and
				// a sample in between (restoring all of them dominates the run time).
				final := m.kept
				if len(final) > 8 {
					sample := []metaCheckpoint{final[0], final[len(final)-1]}
					for _, j := range m.r.Perm(len(final) - 2)[:6] {
						sample = append(sample, final[1+j])
					}
					final = sample
				}
				for _, c := range final {
					o := cfg.opts
					o.Dir = filepath.Join(t.TempDir(), "final")
					rs, err := m.st.restore(t, c.snap, o)
					if err != nil {
						m.fail("final restore of checkpoint %d: %v", c.snap.ID, err)
					}
					equalMaps(t, fmt.Sprintf("seed %d: checkpoint %d", seed, c.snap.ID), dump(t, rs), c.model)
					_ = rs.Close()
				}
				t.Logf("%d ops, %d checkpoints, %d keys at the end", ops, len(m.kept), len(m.model))
			})
		}
	}
}

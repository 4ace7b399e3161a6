// Package pebblestore is the on-disk key-value store behind the Pebble keyed state backend: one
// Pebble database per operator subtask, on the TaskManager's local disk, with incremental
// checkpoints that upload only the SST files a previous checkpoint did not already hold.
//
// Keys are opaque to the store. The state backend prefixes every key with the 2-byte big-endian
// key group and a 1-byte state id, so one key group (or a range of them) is a contiguous key
// range: DeleteRange drops it, ExportRange dumps it in key order for savepoints and rescaling,
// Import loads such a dump.
//
// # Durability model
//
// Like Flink's RocksDB backend, the store runs without a write-ahead log: writes go to the
// memtable and are made durable only by checkpoints, which flush the memtable first. After a
// crash the local directory is discarded and the store is rebuilt from the latest completed
// checkpoint with Restore.
//
// # Checkpoints
//
// A checkpoint has a synchronous and an asynchronous half (see PrepareCheckpoint and
// PreparedCheckpoint.Upload): the task flushes the memtable and hard-links the database's live
// files into a private local directory while processing is paused, then uploads from that
// directory while processing goes on. SST files are immutable, so a file uploaded by an earlier
// checkpoint is referenced again instead of uploaded; docs/formats/pebble-state.md describes the
// layout of the uploaded files and the Snapshot that records them.
package pebblestore

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/rs/zerolog"
)

// Default sizes used when Options leaves them zero.
const (
	DefaultCacheSize    = 32 << 20
	DefaultMemTableSize = 32 << 20
	// DefaultValueCacheSize is the size of the store's write-back value cache.
	DefaultValueCacheSize = 8 << 20
	// DefaultTransferConcurrency is the number of files uploaded or downloaded at once.
	DefaultTransferConcurrency = 4
)

// bloomBitsPerKey is the size of the tables' bloom filters (the default of Flink's
// state.backend.rocksdb.bloom-filter.bits-per-key).
const bloomBitsPerKey = 10

// valueSeparation is the store's value-separation policy. MinimumSize: smaller values stay in
// the tables (a blob handle saves little and costs a second read). MaxBlobReferenceDepth: a
// compaction whose output would reference more overlapping blob files than this rewrites the
// values into new blob files; random updates add one overlapping blob file per flush, so
// this bounds how far a key range's values spread before they are gathered again.
// TargetGarbageRatio: once a fifth of the blob bytes are overwritten or deleted values, Pebble
// rewrites blob files, one at a time, to reclaim the space.
var valueSeparation = pebble.ValueSeparationPolicy{
	Enabled:               true,
	MinimumSize:           64,
	MaxBlobReferenceDepth: 100,
	TargetGarbageRatio:    0.2,
}

// Options configure a Store.
type Options struct {
	// Dir is the store's local working directory (created if missing). The database lives in
	// Dir/db, prepared checkpoints in Dir/checkpoints, a restore is staged in Dir/restore, Import
	// writes SST files in Dir/import.
	// Prepared checkpoints are hard links, so they share the database's file system.
	Dir string
	// CacheSize is the block cache size in bytes; 0 means DefaultCacheSize.
	CacheSize int64
	// MemTableSize is the size of one memtable in bytes; 0 means DefaultMemTableSize. A
	// checkpoint flushes the memtable synchronously, so this bounds the synchronous part.
	MemTableSize int
	// TransferConcurrency is the number of files uploaded or downloaded in parallel; 0 means
	// DefaultTransferConcurrency.
	TransferConcurrency int
	// ValueCacheSize bounds the memory of the write-back value cache in front of Pebble
	// (recently read values; writes of cached keys reach Pebble in batches, see valueCache):
	// 0 means DefaultValueCacheSize, a negative value disables the cache. It is capped at a
	// quarter of MemTableSize.
	ValueCacheSize int64
	// Logger receives the store's and Pebble's log lines; nil discards them.
	Logger *zerolog.Logger

	// tweak, set by tests only, adjusts the Pebble options after the store has set its own.
	tweak func(*pebble.Options)
}

func (o Options) withDefaults() (Options, error) {
	if o.Dir == "" {
		return o, errors.New("pebblestore: Options.Dir is empty: the store needs a local working directory")
	}
	if o.CacheSize < 0 || o.MemTableSize < 0 || o.TransferConcurrency < 0 {
		return o, fmt.Errorf("pebblestore: negative size in options (cache %d, memtable %d, concurrency %d)",
			o.CacheSize, o.MemTableSize, o.TransferConcurrency)
	}
	if o.CacheSize == 0 {
		o.CacheSize = DefaultCacheSize
	}
	if o.MemTableSize == 0 {
		o.MemTableSize = DefaultMemTableSize
	}
	if o.TransferConcurrency == 0 {
		o.TransferConcurrency = DefaultTransferConcurrency
	}
	if o.ValueCacheSize == 0 {
		o.ValueCacheSize = DefaultValueCacheSize
	}
	if o.Logger == nil {
		nop := zerolog.Nop()
		o.Logger = &nop
	}
	return o, nil
}

func (o Options) dbDir() string          { return filepath.Join(o.Dir, "db") }
func (o Options) checkpointsDir() string { return filepath.Join(o.Dir, "checkpoints") }
func (o Options) restoreDir() string     { return filepath.Join(o.Dir, "restore") }
func (o Options) importDir() string      { return filepath.Join(o.Dir, "import") }

// Store is the key-value store of one operator subtask. Get, Set, Delete, DeleteRange, Iter,
// ExportRange, Import, PrepareCheckpoint and Close belong to one goroutine (the task's);
// PreparedCheckpoint.Upload may run on another goroutine at the same time.
type Store struct {
	opts Options
	po   *pebble.Options
	db   *pebble.DB
	log  zerolog.Logger

	getBuf []byte
	wo     *pebble.WriteOptions
	closed atomic.Bool
	cache  *valueCache // nil when Options.ValueCacheSize < 0

	mu sync.Mutex
	// known maps local SST file names to the entries under which the file is stored in shared
	// storage (uploaded by this store, or restored), so that later checkpoints can reference
	// them, checksums included. A file has several entries when checkpoints in flight at the
	// same time uploaded it each under its own name.
	known map[string][]SnapshotFile
	// prunedAt is the id of the newest checkpoint that pruned known.
	prunedAt int64
}

// Open opens (or creates) the database in o.Dir/db. A task normally opens a fresh directory, or
// uses Restore; reopening a directory that a crashed process left behind loses the writes after
// its last flush (the store keeps no write-ahead log).
func Open(o Options) (*Store, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	return openDB(o, map[string][]SnapshotFile{})
}

func openDB(o Options, known map[string][]SnapshotFile) (*Store, error) {
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("pebblestore: create working directory %s: %w", o.Dir, err)
	}
	log := o.Logger.With().Str("component", "pebblestore").Str("dir", o.Dir).Logger()
	po := &pebble.Options{
		CacheSize:    o.CacheSize,
		MemTableSize: uint64(o.MemTableSize),
		DisableWAL:   true,
		Logger:       pebbleLogger{log: log},
		// The newest format this Pebble release writes (Pebble's default is the oldest it
		// still reads, the first to be dropped by a later release). Pebble ratchets a
		// restored database of an older format up to this one on open. Savepoints
		// (ExportRange/Import) do not depend on the on-disk format at all.
		FormatMajorVersion: pebble.FormatNewest,
	}
	// Bloom filters (10 bits per key, ~1% false positives) on every level: a point Get skips
	// the tables that cannot hold its key instead of reading an index and a data block of
	// each overlapping table; a keyed operator's first Get of a new key misses everywhere.
	// They cost ~1.2 bytes per key on disk and in the block cache.
	for i := range po.Levels {
		po.Levels[i].FilterPolicy = bloom.FilterPolicy(bloomBitsPerKey)
		po.Levels[i].FilterType = pebble.TableFilter
	}
	// Value separation (docs/formats/pebble-state.md, "Pebble options"): values of at least
	// valueSeparationMinSize bytes go to blob files, which compactions reference instead of
	// rewriting. Compactions then rewrite keys and small handles, not the values, so the new
	// files an incremental checkpoint uploads after random updates shrink several-fold and
	// no single compaction uploads a large share of the state.
	po.Experimental.ValueSeparationPolicy = func() pebble.ValueSeparationPolicy { return valueSeparation }
	if o.tweak != nil {
		o.tweak(po)
	}
	po.EnsureDefaults() // Import's SST writer options derive from the same settings
	db, err := pebble.Open(o.dbDir(), po)
	if err != nil {
		return nil, fmt.Errorf("pebblestore: open database in %s: %w", o.dbDir(), err)
	}
	// Leftovers of an earlier process on this directory: prepared checkpoints whose upload
	// died with it, half-written import tables. Only after Open, whose lock on db/ shows
	// that no other store uses the directory.
	for _, dir := range []string{o.checkpointsDir(), o.importDir()} {
		if err := os.RemoveAll(dir); err != nil {
			_ = db.Close()
			return nil, fmt.Errorf("pebblestore: remove stale %s: %w", dir, err)
		}
	}
	log.Debug().Msg("opened store")
	s := &Store{
		opts:  o,
		po:    po,
		db:    db,
		log:   log,
		wo:    pebble.NoSync,
		known: known,
	}
	if o.ValueCacheSize > 0 {
		// A flush of the cache is one batch; a quarter of a memtable keeps it an ordinary
		// memtable write (Pebble turns batches over half a memtable into flushables).
		s.cache = newValueCache(min(o.ValueCacheSize, int64(o.MemTableSize)/4))
	}
	return s, nil
}

// flushCache writes the cached writes to Pebble: before anything that reads Pebble as a
// whole or depends on its contents (iteration, export, range deletion, import, checkpoint).
func (s *Store) flushCache() error {
	if s.cache == nil {
		return nil
	}
	return s.cache.flush(s.db, s.wo)
}

// shrinkCache flushes and evicts once the cache has outgrown its limit.
func (s *Store) shrinkCache() error {
	if s.cache == nil || !s.cache.full() {
		return nil
	}
	if err := s.cache.flush(s.db, s.wo); err != nil {
		return err
	}
	s.cache.evict()
	return nil
}

var errClosed = errors.New("pebblestore: store is closed")

// Get returns the value stored under key. The value is valid until the next call to Get; copy
// it to keep it.
func (s *Store) Get(key []byte) (value []byte, ok bool, err error) {
	if s.closed.Load() {
		return nil, false, errClosed
	}
	if len(key) == 0 {
		key = nil // as in scan: Pebble's invariant checks (race builds) index non-nil seek keys
	}
	if s.cache != nil {
		if v, present, found := s.cache.get(key); found {
			if !present {
				return nil, false, nil
			}
			// A copy: the caller may keep or modify the result until its next Get.
			s.getBuf = append(s.getBuf[:0], v...)
			return s.getBuf, true, nil
		}
	}
	v, closer, err := s.db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		if s.cache != nil {
			s.cache.put(key, nil, false)
			if err := s.shrinkCache(); err != nil {
				return nil, false, fmt.Errorf("pebblestore: get key %x: %w", key, err)
			}
		}
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("pebblestore: get key %x: %w", key, err)
	}
	s.getBuf = append(s.getBuf[:0], v...)
	if err := closer.Close(); err != nil {
		return nil, false, fmt.Errorf("pebblestore: get key %x: release value: %w", key, err)
	}
	if s.cache != nil {
		s.cache.put(key, s.getBuf, true)
		if err := s.shrinkCache(); err != nil {
			return nil, false, fmt.Errorf("pebblestore: get key %x: %w", key, err)
		}
	}
	return s.getBuf, true, nil
}

// Set stores value under key. Both slices may be reused by the caller after Set returns.
func (s *Store) Set(key, value []byte) error {
	if s.closed.Load() {
		return errClosed
	}
	if s.cache != nil && s.cache.write(key, value, true) {
		if err := s.shrinkCache(); err != nil {
			return fmt.Errorf("pebblestore: set key %x: %w", key, err)
		}
		return nil
	}
	if err := s.db.Set(key, value, s.wo); err != nil {
		return fmt.Errorf("pebblestore: set key %x: %w", key, err)
	}
	return nil
}

// Delete removes key; deleting a missing key is not an error.
func (s *Store) Delete(key []byte) error {
	if s.closed.Load() {
		return errClosed
	}
	if s.cache != nil && s.cache.write(key, nil, false) {
		if err := s.shrinkCache(); err != nil {
			return fmt.Errorf("pebblestore: delete key %x: %w", key, err)
		}
		return nil
	}
	if err := s.db.Delete(key, s.wo); err != nil {
		return fmt.Errorf("pebblestore: delete key %x: %w", key, err)
	}
	return nil
}

// DeleteRange removes every key k with start <= k < end. An empty range (start >= end when
// end is non-nil) removes nothing; a nil end means "to the end of the key space".
func (s *Store) DeleteRange(start, end []byte) error {
	if s.closed.Load() {
		return errClosed
	}
	if err := s.flushCache(); err != nil {
		return fmt.Errorf("pebblestore: delete range [%x, %x): %w", start, end, err)
	}
	if end == nil {
		// Pebble's range deletions need an exclusive end key: use the successor of the
		// largest key present.
		last, ok, err := s.lastKey()
		if err != nil || !ok || bytes.Compare(start, last) > 0 {
			return err
		}
		end = append(append([]byte(nil), last...), 0)
	}
	if bytes.Compare(start, end) >= 0 {
		if bytes.Compare(start, end) > 0 {
			return fmt.Errorf("pebblestore: delete range [%x, %x): start is after end", start, end)
		}
		return nil
	}
	if err := s.db.DeleteRange(start, end, s.wo); err != nil {
		return fmt.Errorf("pebblestore: delete range [%x, %x): %w", start, end, err)
	}
	if s.cache != nil {
		s.cache.dropRange(start, end)
	}
	return nil
}

func (s *Store) lastKey() ([]byte, bool, error) {
	it, err := s.db.NewIter(nil)
	if err != nil {
		return nil, false, fmt.Errorf("pebblestore: open iterator: %w", err)
	}
	var last []byte
	ok := it.Last()
	if ok {
		last = append(last, it.Key()...)
	}
	if err := it.Close(); err != nil {
		return nil, false, fmt.Errorf("pebblestore: iterate: %w", err)
	}
	return last, ok, nil
}

// Iter calls fn for every key that starts with prefix, in key order, until fn returns false.
// key and value are valid only during the call. An empty prefix visits every key. fn must not
// write to the store (it sees a consistent view regardless).
func (s *Store) Iter(prefix []byte, fn func(key, value []byte) bool) error {
	var end []byte
	if len(prefix) > 0 {
		end = PrefixEnd(prefix)
	}
	return s.scan(prefix, end, func(k, v []byte) (bool, error) { return fn(k, v), nil })
}

// ExportRange calls fn for every key k with start <= k < end in key order (a nil end means no
// upper bound), stopping at the first error fn returns, which ExportRange returns wrapped. key
// and value are valid only during the call. Savepoints and rescaling use it to dump key-group
// ranges in a canonical, format-independent form.
func (s *Store) ExportRange(start, end []byte, fn func(key, value []byte) error) error {
	if end != nil && bytes.Compare(start, end) > 0 {
		return fmt.Errorf("pebblestore: export range [%x, %x): start is after end", start, end)
	}
	return s.scan(start, end, func(k, v []byte) (bool, error) {
		if err := fn(k, v); err != nil {
			return false, fmt.Errorf("pebblestore: export range: at key %x: %w", k, err)
		}
		return true, nil
	})
}

func (s *Store) scan(lower, upper []byte, fn func(k, v []byte) (bool, error)) (err error) {
	if s.closed.Load() {
		return errClosed
	}
	if err := s.flushCache(); err != nil {
		return fmt.Errorf("pebblestore: iterate over [%x, %x): %w", lower, upper, err)
	}
	if len(lower) == 0 {
		// Equivalent for Pebble, and avoids an index out of range in Pebble's invariant
		// checks (race builds), which test non-nil seek keys with key[0].
		lower = nil
	}
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return fmt.Errorf("pebblestore: open iterator over [%x, %x): %w", lower, upper, err)
	}
	defer func() {
		if cerr := it.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("pebblestore: iterate over [%x, %x): %w", lower, upper, cerr)
		}
	}()
	for ok := it.First(); ok; ok = it.Next() {
		v, verr := it.ValueAndErr()
		if verr != nil {
			return fmt.Errorf("pebblestore: read value of key %x: %w", it.Key(), verr)
		}
		more, ferr := fn(it.Key(), v)
		if ferr != nil {
			return ferr
		}
		if !more {
			return nil
		}
	}
	return nil
}

// Close closes the database. Prepared checkpoints stay valid (they are hard links) until
// uploaded or released. Close is idempotent.
func (s *Store) Close() error {
	if s.closed.Load() {
		return nil
	}
	s.closed.Store(true)
	// The cached writes go to the memtable, as they would have without the cache (the store
	// keeps no write-ahead log: a reopened directory still loses them, see Open).
	ferr := s.flushCache()
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("pebblestore: close database in %s: %w", s.opts.dbDir(), err)
	}
	if ferr != nil {
		return fmt.Errorf("pebblestore: close: %w", ferr)
	}
	return nil
}

// PrefixEnd returns the smallest key greater than every key that starts with prefix, or nil
// when there is none (prefix is all 0xff bytes): the exclusive end of the prefix's key range.
func PrefixEnd(prefix []byte) []byte {
	end := append([]byte(nil), prefix...)
	for i := len(end) - 1; i >= 0; i-- {
		end[i]++
		if end[i] != 0 {
			return end[:i+1]
		}
	}
	return nil
}

// pebbleLogger sends Pebble's log lines to zerolog. Pebble logs routine events (compactions,
// file deletions) through Infof, which become debug lines here.
type pebbleLogger struct{ log zerolog.Logger }

func (l pebbleLogger) Infof(format string, args ...any) {
	l.log.Debug().Msgf(format, args...)
}

func (l pebbleLogger) Errorf(format string, args ...any) {
	l.log.Error().Msgf(format, args...)
}

// Fatalf is called by Pebble on broken invariants (e.g. on-disk corruption it cannot continue
// from); Pebble expects it not to return.
func (l pebbleLogger) Fatalf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	l.log.Error().Str("fatal", "true").Msg(msg)
	panic("pebblestore: pebble fatal error: " + msg)
}

// Stats are a store's figures for metrics and logs.
type Stats struct {
	// DiskBytes is the space the database uses on local disk (tables, MANIFEST, files kept
	// alive by prepared checkpoints).
	DiskBytes uint64
	// TableBytes and Tables are the size and number of live SST files; BlobBytes and
	// BlobFiles those of the live blob files holding separated values. Together they are
	// the state a full checkpoint would upload.
	TableBytes int64
	Tables     int64
	BlobBytes  int64
	BlobFiles  int64
	// BlobGarbageBytes estimates the overwritten or deleted values still in blob files
	// (uncompressed), which blob-file rewrites reclaim.
	BlobGarbageBytes int64
	// L0Tables and L0Sublevels describe level 0; many sublevels slow reads and trigger
	// compactions.
	L0Tables    int64
	L0Sublevels int32
	// MemTableBytes is the memory held by memtables (the next checkpoint's flush).
	MemTableBytes uint64
	// CompactionDebt estimates the bytes compactions still have to rewrite.
	CompactionDebt uint64
	// CompactionsRunning is the number of compactions in progress.
	CompactionsRunning int64
}

// Stats returns the store's current figures; zero once the store is closed. It may be called
// from any goroutine, but not at the same time as Close.
func (s *Store) Stats() Stats {
	if s.closed.Load() {
		return Stats{}
	}
	m := s.db.Metrics()
	total := m.Total()
	return Stats{
		DiskBytes:          m.DiskSpaceUsage(),
		TableBytes:         total.TablesSize,
		Tables:             total.TablesCount,
		BlobBytes:          int64(m.BlobFiles.LiveSize),
		BlobFiles:          int64(m.BlobFiles.LiveCount),
		BlobGarbageBytes:   int64(m.BlobFiles.ValueSize - m.BlobFiles.ReferencedValueSize),
		L0Tables:           m.Levels[0].TablesCount,
		L0Sublevels:        m.Levels[0].Sublevels,
		MemTableBytes:      m.MemTable.Size,
		CompactionDebt:     m.Compact.EstimatedDebt,
		CompactionsRunning: m.Compact.NumInProgress,
	}
}

package configs

// State backend options.

// StateBackendType is the value of state.backend.type.
type StateBackendType string

// State backends.
const (
	// BackendHashMap keeps state in Go maps on the heap (Flink's "hashmap").
	BackendHashMap StateBackendType = "hashmap"
	// BackendPebble keeps state in Pebble on local disk (flink-go's counterpart of "rocksdb").
	BackendPebble StateBackendType = "pebble"
)

var (
	// StateBackend selects the keyed state backend.
	StateBackend = Enum("state.backend.type", BackendHashMap,
		[]StateBackendType{BackendHashMap, BackendPebble},
		"Keyed state backend: hashmap keeps state in memory (fast, bounded by the heap, asynchronous copy-on-write snapshots); pebble keeps it on local disk (large state, incremental checkpoints). Flink's \"rocksdb\" is accepted as pebble.").
		WithAliases(map[string]string{"rocksdb": string(BackendPebble), "heap": string(BackendHashMap)}).
		WithDeprecatedKeys("state.backend")

	// PebbleLocalDir is where the pebble backend keeps its working files.
	PebbleLocalDir = String("state.backend.pebble.localdir", "",
		"Directory for the pebble backend's working files. Unset means a directory under io.tmp.dirs.").WithoutDefault()

	// PebbleCacheSize is the block cache size of each pebble instance.
	PebbleCacheSize = Memory("state.backend.pebble.block-cache-size", 64*MebiByte,
		"Block cache size of each pebble state backend instance (one per stateful subtask).").
		WithDeprecatedKeys("state.backend.rocksdb.block.cache-size")

	// PebbleMemtableSize is the memtable size of each pebble instance.
	PebbleMemtableSize = Memory("state.backend.pebble.memtable-size", 16*MebiByte,
		"Memtable size of each pebble state backend instance; larger memtables mean fewer, larger SST files.").
		WithDeprecatedKeys("state.backend.rocksdb.writebuffer.size")

	// PebbleValueCacheSize is the write-back value cache in front of each pebble instance.
	PebbleValueCacheSize = Memory("state.backend.pebble.value-cache-size", 8*MebiByte,
		"Write-back cache of recently read values in front of each pebble state backend instance (at most a quarter of the memtable is used): read-modify-write state access hits memory, writes reach pebble in batches before checkpoints and when the cache fills. 0 turns it off.")

	// LocalRecovery keeps a local copy of snapshots for faster restarts on the same machine.
	LocalRecovery = Bool("execution.state-recovery.from-local", false,
		"Keep a secondary copy of each snapshot on the TaskManager's local disk and restore from it when a task restarts on the same TaskManager.").
		WithDeprecatedKeys("state.backend.local-recovery").
		WithoutEffect("restores always read the checkpoint storage; no secondary local copy of snapshots is kept.")
)

package pebblestore

import (
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

// entryOverhead approximates the memory of one cached entry besides its key and value bytes:
// the map slot, the entry struct and the slice and string headers.
const entryOverhead = 96

// valueCache is the store's write-back cache of recently read values, in front of Pebble. A
// keyed operator reads and writes the same few keys over and over (a counter per key, a
// window's accumulator); Pebble serves each Get from a memtable skiplist holding every version
// written since the last flush, at several microseconds per read-modify-write, while a map
// lookup costs a few tens of nanoseconds. A Get brings a key into the cache; writes of a
// cached key stay in the cache (dirty) and go to Pebble in one batch when the cache fills or
// before anything that reads Pebble as a whole (iteration, export, range deletion, import,
// checkpoint, close), so a key read and written many times between two flushes reaches the
// memtable once. Writes of keys not in the cache (blind writes, typically of many distinct
// keys: a load, a restore) go straight to Pebble, which the cache's bookkeeping would only
// slow down.
//
// Entries also remember absence (present false): a Get of a missing key followed by its
// first Set, the common first touch of a key, costs one Pebble lookup.
//
// The cache belongs to the store's goroutine, like the Store methods that use it.
type valueCache struct {
	m     map[string]*cacheEntry
	dirty []*cacheEntry // entries to write at the next flush, in first-write order
	bytes int64         // approximate memory of all entries
	limit int64         // flush and evict when bytes exceeds it
	kbuf  []byte        // scratch for flush
}

type cacheEntry struct {
	key     string
	val     []byte
	present bool // false: the key is absent (deleted, or read and not found)
	dirty   bool // the entry differs from Pebble and is in valueCache.dirty
}

func newValueCache(limit int64) *valueCache {
	return &valueCache{m: make(map[string]*cacheEntry), limit: limit}
}

// get returns the cached state of key: found reports whether the cache knows it, present
// whether the key exists. val is the cache's own buffer.
func (c *valueCache) get(key []byte) (val []byte, present, found bool) {
	e := c.m[string(key)]
	if e == nil {
		return nil, false, false
	}
	return e.val, e.present, true
}

// entry returns key's entry, creating it (absent, clean) when missing.
func (c *valueCache) entry(key []byte) *cacheEntry {
	if e := c.m[string(key)]; e != nil {
		return e
	}
	e := &cacheEntry{key: string(key)}
	c.m[e.key] = e
	c.bytes += int64(len(e.key)) + entryOverhead
	return e
}

// setVal sets e's value (a copy of v) and presence.
func (c *valueCache) setVal(e *cacheEntry, v []byte, present bool) {
	c.bytes -= int64(cap(e.val))
	if present {
		e.val = append(e.val[:0], v...)
	} else {
		e.val = e.val[:0]
	}
	c.bytes += int64(cap(e.val))
	e.present = present
}

// put records a read from Pebble (clean) of key.
func (c *valueCache) put(key, v []byte, present bool) {
	e := c.entry(key)
	c.setVal(e, v, present)
}

// write records a Set (present) or Delete (!present) of a cached key, to be flushed, and
// reports whether key was cached; a key that is not is left to the caller to write to Pebble
// directly (see Store.Set).
func (c *valueCache) write(key, v []byte, present bool) bool {
	e := c.m[string(key)]
	if e == nil {
		return false
	}
	c.setVal(e, v, present)
	if !e.dirty {
		e.dirty = true
		c.dirty = append(c.dirty, e)
	}
	return true
}

// full reports whether the cache has outgrown its limit (the caller flushes and evicts).
func (c *valueCache) full() bool { return c.bytes > c.limit }

// flush writes the dirty entries to db in one batch and marks them clean. On error the
// entries stay dirty, so a later flush retries them.
func (c *valueCache) flush(db *pebble.DB, wo *pebble.WriteOptions) error {
	if len(c.dirty) == 0 {
		return nil
	}
	b := db.NewBatch()
	defer b.Close()
	for _, e := range c.dirty {
		// Pebble copies key and value into the batch's buffer.
		c.kbuf = append(c.kbuf[:0], e.key...)
		var err error
		if e.present {
			err = b.Set(c.kbuf, e.val, nil)
		} else {
			err = b.Delete(c.kbuf, nil)
		}
		if err != nil {
			return fmt.Errorf("pebblestore: write cached entry %x to batch: %w", c.kbuf, err)
		}
	}
	if err := b.Commit(wo); err != nil {
		return fmt.Errorf("pebblestore: commit %d cached writes: %w", len(c.dirty), err)
	}
	for i, e := range c.dirty {
		e.dirty = false
		c.dirty[i] = nil
	}
	c.dirty = c.dirty[:0]
	return nil
}

// evict drops clean entries until the cache uses at most half its limit. Go's map iteration
// order is random, so this is random eviction: cheap, and good enough for a cache whose hits
// come from a hot working set much smaller than the limit.
func (c *valueCache) evict() {
	target := c.limit / 2
	for k, e := range c.m {
		if c.bytes <= target {
			return
		}
		if e.dirty {
			continue
		}
		delete(c.m, k)
		c.bytes -= int64(len(e.key)) + entryOverhead + int64(cap(e.val))
	}
}

// dropRange removes the clean entries with start <= key < end (nil end: no upper bound);
// the caller flushed the dirty ones first.
func (c *valueCache) dropRange(start, end []byte) {
	lo, hi := string(start), string(end)
	for k, e := range c.m {
		if k >= lo && (end == nil || k < hi) {
			delete(c.m, k)
			c.bytes -= int64(len(e.key)) + entryOverhead + int64(cap(e.val))
		}
	}
}

// clear drops every entry; the caller flushed the dirty ones first.
func (c *valueCache) clear() {
	clear(c.m)
	c.bytes = 0
}

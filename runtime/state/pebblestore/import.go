package pebblestore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/objstorage/objstorageprovider"
	"github.com/cockroachdb/pebble/v2/sstable"
	"github.com/cockroachdb/pebble/v2/vfs"
)

const (
	// importBatchBytes is the size at which Import commits a batch.
	importBatchBytes = 16 << 20
	// importTableBytes is the size at which Import closes an SST file and ingests it.
	importTableBytes = 64 << 20
	// importMinRunBytes: a sorted run shorter than this that is broken by an out-of-order key
	// makes Import give up on SST files for the rest of the input (it is not sorted in runs
	// long enough to be worth files of their own).
	importMinRunBytes = 4 << 20
)

// Import bulk-loads entries; later entries win over earlier ones with the same key (and over
// what the store held), as with Set. The iterator's slices may be reused between yields.
//
// Input in ascending key order (what ExportRange produces, e.g. a savepoint's dump) is written
// straight into SST files that Pebble ingests, bypassing the memtable and, where the range is
// empty, landing in the bottom level without compactions. Input that is not sorted in long
// runs goes through large write batches. If Import fails, the entries of files ingested and
// batches committed before the failure stay in the store.
func (s *Store) Import(entries func(yield func(key, value []byte) bool)) error {
	if s.closed.Load() {
		return errClosed
	}
	if entries == nil {
		return errors.New("pebblestore: import: nil entry iterator")
	}
	if err := s.flushCache(); err != nil {
		return fmt.Errorf("pebblestore: import: %w", err)
	}
	// Imported entries replace cached values; drop them all (also after a failed import,
	// which may have written part of its input).
	if s.cache != nil {
		defer s.cache.clear()
	}
	im := &importer{s: s, sorted: true}
	defer im.cleanup()
	entries(func(k, v []byte) bool {
		im.err = im.add(k, v)
		return im.err == nil
	})
	if im.err == nil {
		im.err = im.finish()
	}
	if im.err != nil {
		return fmt.Errorf("pebblestore: import (after %d entries): %w", im.n, im.err)
	}
	s.log.Debug().Int64("entries", im.n).Int("tables", im.tables).Msg("imported")
	return nil
}

type importer struct {
	s   *Store
	err error
	n   int64

	// SST mode (while the input is sorted)
	sorted  bool
	w       *sstable.Writer
	path    string
	prev    []byte
	runSize int64 // bytes of the current sorted run
	tblSize int64 // bytes in the open table
	tables  int

	// batch mode
	b *pebble.Batch
}

func (im *importer) add(k, v []byte) error {
	im.n++
	if im.sorted {
		if im.prev == nil || bytes.Compare(im.prev, k) < 0 {
			return im.addSorted(k, v)
		}
		// The run is broken. Ingest what the table holds; keep going with files only if
		// the run was long.
		short := im.runSize < importMinRunBytes
		if err := im.ingest(); err != nil {
			return err
		}
		im.runSize = 0
		if !short {
			return im.addSorted(k, v)
		}
		im.sorted = false
	}
	if im.b == nil {
		im.b = im.s.db.NewBatch()
	}
	if err := im.b.Set(k, v, nil); err != nil {
		return fmt.Errorf("add key %x to batch: %w", k, err)
	}
	if im.b.Len() >= importBatchBytes {
		if err := im.b.Commit(im.s.wo); err != nil {
			return fmt.Errorf("commit batch: %w", err)
		}
		im.b.Reset()
	}
	return nil
}

func (im *importer) addSorted(k, v []byte) error {
	if im.w == nil {
		if err := im.openTable(); err != nil {
			return err
		}
	}
	if err := im.w.Set(k, v); err != nil {
		return fmt.Errorf("write key %x to %s: %w", k, im.path, err)
	}
	im.prev = append(im.prev[:0], k...)
	size := int64(len(k) + len(v))
	im.runSize += size
	im.tblSize += size
	if im.tblSize >= importTableBytes {
		// Tables of one run do not overlap, so each can be ingested on its own; the next
		// key of the run still has to be larger than prev.
		return im.ingest()
	}
	return nil
}

func (im *importer) openTable() error {
	dir := im.s.opts.importDir()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	im.path = filepath.Join(dir, "import-"+strconv.Itoa(im.tables)+".sst")
	f, err := vfs.Default.Create(im.path, vfs.WriteCategoryUnspecified)
	if err != nil {
		return fmt.Errorf("create %s: %w", im.path, err)
	}
	opts := im.s.po.MakeWriterOptions(0, im.s.db.TableFormat())
	im.w = sstable.NewWriter(objstorageprovider.NewFileWritable(f), opts)
	im.tblSize = 0
	return nil
}

// ingest closes the open table (if any) and has Pebble ingest it.
func (im *importer) ingest() error {
	if im.w == nil {
		return nil
	}
	w := im.w
	im.w = nil
	if err := w.Close(); err != nil {
		return fmt.Errorf("finish %s: %w", im.path, err)
	}
	if im.tblSize == 0 {
		return os.Remove(im.path)
	}
	if err := im.s.db.Ingest(context.Background(), []string{im.path}); err != nil {
		return fmt.Errorf("ingest %s: %w", im.path, err)
	}
	im.tables++
	// Pebble links (or copies) the file into the database; our name is left to remove.
	if err := os.Remove(im.path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove %s: %w", im.path, err)
	}
	return nil
}

func (im *importer) finish() error {
	if err := im.ingest(); err != nil {
		return err
	}
	if im.b != nil && im.b.Count() > 0 {
		if err := im.b.Commit(im.s.wo); err != nil {
			return fmt.Errorf("commit batch: %w", err)
		}
	}
	return nil
}

func (im *importer) cleanup() {
	if im.w != nil {
		_ = im.w.Close()
		im.w = nil
	}
	if im.b != nil {
		_ = im.b.Close()
	}
	_ = os.RemoveAll(im.s.opts.importDir())
}

var errStopExport = errors.New("pebblestore: export stopped by the importer")

// ImportRange copies the entries k of src with start <= k < end (nil end: no upper bound) into
// s, as Import does (src's keys come sorted, so they are ingested as SST files). Rescaling from
// an incremental checkpoint uses it: restore each overlapping handle into a temporary store and
// import the key groups this subtask owns.
func (s *Store) ImportRange(src *Store, start, end []byte) error {
	if src == nil {
		return errors.New("pebblestore: import range: nil source store")
	}
	if src == s {
		return errors.New("pebblestore: import range: source and destination are the same store")
	}
	var exportErr error
	err := s.Import(func(yield func(k, v []byte) bool) {
		exportErr = src.ExportRange(start, end, func(k, v []byte) error {
			if !yield(k, v) {
				return errStopExport
			}
			return nil
		})
	})
	if exportErr != nil && !errors.Is(exportErr, errStopExport) {
		return fmt.Errorf("pebblestore: import range [%x, %x): read source: %w", start, end, exportErr)
	}
	return err
}

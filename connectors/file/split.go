package file

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
)

// Range is a piece of a file: the reader owns the lines that START at offsets in
// [Start, End) (Hadoop/Flink input-split semantics; see lineReader).
type Range struct {
	Path  string `json:"path"`
	Start int64  `json:"start"`
	End   int64  `json:"end"`
}

func (r Range) size() int64 { return r.End - r.Start }

// assign gives subtask k of p its share of the ranges: the ranges are laid end to end (sorted
// by path and start) and cut into p pieces of equal byte length; the pieces that fall inside a
// range become the subtask's sub-ranges. Every byte (hence every line start) is owned by exactly
// one subtask, and each subtask reads one contiguous stretch. Pure function: every subtask
// computes the same cut independently.
func assign(ranges []Range, k, p int) []Range {
	rs := slices.Clone(ranges)
	slices.SortFunc(rs, func(a, b Range) int { return cmp.Or(strings.Compare(a.Path, b.Path), cmp.Compare(a.Start, b.Start)) })
	var total int64
	for _, r := range rs {
		total += r.size()
	}
	lo := cutPoint(total, k, p)
	hi := cutPoint(total, k+1, p)
	var out []Range
	var base int64 // concatenated offset of the current range's Start
	for _, r := range rs {
		sz := r.size()
		if sz <= 0 {
			continue
		}
		from, to := max(lo, base), min(hi, base+sz)
		if from < to {
			out = append(out, Range{Path: r.Path, Start: r.Start + (from - base), End: r.Start + (to - base)})
		}
		base += sz
	}
	return out
}

// cutPoint is floor(total*k/p) without overflow for realistic sizes.
func cutPoint(total int64, k, p int) int64 {
	q, rem := total/int64(p), total%int64(p)
	return q*int64(k) + rem*int64(k)/int64(p)
}

// hiddenName reports whether a file or directory name is skipped when listing (like Hadoop's
// and Flink's default filter: names starting with '.' or '_', e.g. in-progress part files and
// _SUCCESS markers).
func hiddenName(name string) bool {
	return strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")
}

// listFiles returns the regular, non-hidden files under uri (uri itself if it is a file), sorted
// by id, with sizes. Directories are walked recursively when recursive is set.
func listFiles(ctx context.Context, uri string, recursive bool, filter func(string) bool) ([]Range, error) {
	loc, err := resolve(ctx, uri)
	if err != nil {
		return nil, fmt.Errorf("file source: input path %q: %w", uri, err)
	}
	st, err := loc.fsys.Stat(ctx, loc.path)
	if err != nil {
		return nil, fmt.Errorf("file source: input path %q (does it exist and is it readable?): %w", uri, err)
	}
	if !st.IsDir {
		if st.Size == 0 {
			return nil, nil
		}
		return []Range{{Path: loc.id(loc.path), Start: 0, End: st.Size}}, nil
	}
	var out []Range
	var walk func(dir string) error
	walk = func(dir string) error {
		entries, err := loc.fsys.List(ctx, dir)
		if err != nil {
			return fmt.Errorf("file source: listing %s: %w", loc.id(dir), err)
		}
		for _, e := range entries {
			if hiddenName(e.Name()) {
				continue
			}
			if e.IsDir {
				if recursive {
					if err := walk(e.Path); err != nil {
						return err
					}
				}
				continue
			}
			id := loc.id(e.Path)
			if e.Size == 0 || (filter != nil && !filter(id)) {
				continue
			}
			out = append(out, Range{Path: id, Start: 0, End: e.Size})
		}
		return nil
	}
	if err := walk(loc.path); err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b Range) int { return strings.Compare(a.Path, b.Path) })
	return out, nil
}

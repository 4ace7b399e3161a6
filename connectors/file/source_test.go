package file

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/flink-go/flink-go/connectors/connectortest"
)

// writeRandomFile writes n random lines (some empty, some with \r\n, some long) and returns the
// expected records.
func writeRandomFile(t testing.TB, path string, rng *rand.Rand, n int, trailingNewline bool) []string {
	t.Helper()
	var sb strings.Builder
	var want []string
	for i := 0; i < n; i++ {
		l := rng.IntN(40)
		if rng.IntN(50) == 0 {
			l = 100 + rng.IntN(300) // longer than small buffers
		}
		line := make([]byte, l)
		for j := range line {
			line[j] = byte('a' + rng.IntN(26))
		}
		s := fmt.Sprintf("%d:%s", i, line)
		if rng.IntN(10) == 0 && (trailingNewline || i < n-1) {
			s = "" // (a last line without newline cannot be empty)
		}
		want = append(want, s)
		sb.WriteString(s)
		if i == n-1 && !trailingNewline {
			break
		}
		if rng.IntN(8) == 0 {
			sb.WriteString("\r\n")
		} else {
			sb.WriteString("\n")
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(sb.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return want
}

func sameMultiset(t *testing.T, got, want []string, what string) {
	t.Helper()
	g, w := slices.Clone(got), slices.Clone(want)
	slices.Sort(g)
	slices.Sort(w)
	if !slices.Equal(g, w) {
		for i := 0; i < min(len(g), len(w)); i++ {
			if g[i] != w[i] {
				t.Errorf("first difference at sorted %d: got %q want %q", i, g[i], w[i])
				break
			}
		}
		t.Fatalf("%s: got %d lines, want %d (first difference hidden in %d/%d lines)", what, len(g), len(w), len(g), len(w))
	}
}

func makeInput(t *testing.T) (string, []string) {
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(7, 9))
	var want []string
	want = append(want, writeRandomFile(t, filepath.Join(dir, "a.txt"), rng, 500, true)...)
	want = append(want, writeRandomFile(t, filepath.Join(dir, "b.txt"), rng, 3, false)...)
	want = append(want, writeRandomFile(t, filepath.Join(dir, "sub", "c.txt"), rng, 300, false)...)
	want = append(want, writeRandomFile(t, filepath.Join(dir, "d.txt"), rng, 1, true)...)
	if err := os.WriteFile(filepath.Join(dir, "empty.txt"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	// hidden files are skipped
	writeRandomFile(t, filepath.Join(dir, ".hidden"), rng, 10, true)
	writeRandomFile(t, filepath.Join(dir, "_SUCCESS"), rng, 1, true)
	writeRandomFile(t, filepath.Join(dir, ".tmp", "x.txt"), rng, 10, true)
	return dir, want
}

func TestEveryLineExactlyOnceAnyParallelismAndBuffer(t *testing.T) {
	dir, want := makeInput(t)
	for _, buf := range []int{16, 17, 31, 64, 1000, 1 << 20} {
		{
			src, err := NewLineSource(dir, WithBufferSize(buf), WithBatchSize(7))
			if err != nil {
				t.Fatal(err)
			}
			for p := 1; p <= 8; p++ {
				per, err := connectortest.ReadAll[string](context.Background(), src, p, nil)
				if err != nil {
					t.Fatal(err)
				}
				var got []string
				for _, recs := range per {
					for _, r := range recs {
						got = append(got, r.Value)
					}
				}
				sameMultiset(t, got, want, fmt.Sprintf("buffer %d parallelism %d", buf, p))
			}
		}
	}
}

func TestSingleFileInputAndOrder(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "one.txt")
	want := writeRandomFile(t, path, rand.New(rand.NewPCG(1, 1)), 1000, true)
	src, _ := NewLineSource(path, WithBufferSize(64))
	per, err := connectortest.ReadAll[string](context.Background(), src, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range per[0] {
		got = append(got, r.Value)
	}
	if !slices.Equal(got, want) {
		t.Fatal("single reader does not return the lines in file order")
	}
}

func TestSnapshotRestoreMidFileAtOtherParallelism(t *testing.T) {
	dir, want := makeInput(t)
	ctx := context.Background()
	for _, plan := range [][]int{{1, 1}, {3, 5}, {4, 2}, {2, 7}, {8, 1}} {
		src, _ := NewLineSource(dir, WithBufferSize(32), WithBatchSize(5))
		var got []string
		var states [][]byte
		p1 := plan[0]
		for k := 0; k < p1; k++ {
			r, err := src.CreateReader(connectortest.NewContext(k, p1))
			if err != nil {
				t.Fatal(err)
			}
			out := &connectortest.Output[string]{}
			if _, err := connectortest.Drain[string](ctx, r, out, 3+7*k); err != nil {
				t.Fatal(err)
			}
			st, err := r.Snapshot(1)
			if err != nil {
				t.Fatal(err)
			}
			states = append(states, st)
			got = append(got, out.Values()...)
			r.Close()
		}
		per, err := connectortest.ReadAll[string](ctx, src, plan[1], states)
		if err != nil {
			t.Fatal(err)
		}
		for _, recs := range per {
			for _, r := range recs {
				got = append(got, r.Value)
			}
		}
		sameMultiset(t, got, want, fmt.Sprintf("restore %v", plan))
	}
}

func TestAssignCoversEveryByteOnce(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for trial := 0; trial < 200; trial++ {
		var rs []Range
		for i := 0; i < 1+rng.IntN(5); i++ {
			s := int64(rng.IntN(50))
			rs = append(rs, Range{Path: fmt.Sprintf("f%d", i), Start: s, End: s + int64(rng.IntN(100))})
		}
		p := 1 + rng.IntN(9)
		cover := map[string]map[int64]int{}
		for k := 0; k < p; k++ {
			for _, r := range assign(rs, k, p) {
				if cover[r.Path] == nil {
					cover[r.Path] = map[int64]int{}
				}
				for b := r.Start; b < r.End; b++ {
					cover[r.Path][b]++
				}
			}
		}
		for _, r := range rs {
			for b := r.Start; b < r.End; b++ {
				if cover[r.Path][b] != 1 {
					t.Fatalf("trial %d: byte %s@%d covered %d times", trial, r.Path, b, cover[r.Path][b])
				}
			}
		}
	}
}

func TestMissingPathAndBadState(t *testing.T) {
	src, _ := NewLineSource(filepath.Join(t.TempDir(), "nope"))
	if _, err := src.CreateReader(connectortest.NewContext(0, 1)); err == nil {
		t.Fatal("missing input accepted")
	}
	if _, err := src.CreateReader(connectortest.NewContext(0, 1).WithRestored([][]byte{[]byte("{")})); err == nil {
		t.Fatal("corrupt state accepted")
	}
	if _, err := NewLineSource("x", WithBufferSize(1)); err == nil {
		t.Fatal("tiny buffer accepted")
	}
}

func benchFile(b *testing.B) (string, int64) {
	path := filepath.Join(b.TempDir(), "big.txt")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	line := make([]byte, 0, 256)
	var size int64
	for size < 64<<20 {
		line = line[:0]
		n := 20 + rng.IntN(140) // ~90 bytes average
		for i := 0; i < n; i++ {
			line = append(line, byte('a'+rng.IntN(26)))
		}
		line = append(line, '\n')
		f.Write(line)
		size += int64(len(line))
	}
	f.Close()
	return path, size
}

// BenchmarkLineSource reads a 64 MiB file of ~90-byte lines with one reader.
func BenchmarkLineSource(b *testing.B) {
	path, size := benchFile(b)
	src, _ := NewLineSource(path)
	b.SetBytes(size)
	b.ReportAllocs()
	ctx := context.Background()
	for b.Loop() {
		r, _ := src.CreateReader(connectortest.NewContext(0, 1))
		out := &connectortest.CountingOutput[string]{}
		if _, err := connectortest.Drain[string](ctx, r, out, 0); err != nil {
			b.Fatal(err)
		}
		r.Close()
	}
}

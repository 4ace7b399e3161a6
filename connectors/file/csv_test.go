package file

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"testing"

	"github.com/flink-go/flink-go/connectors/connectortest"
)

func TestParseCSVLine(t *testing.T) {
	cases := []struct {
		line string
		want []string
	}{
		{"", []string{""}},
		{"a,b,c", []string{"a", "b", "c"}},
		{"a,,", []string{"a", "", ""}},
		{`"a,b",c`, []string{"a,b", "c"}},
		{`"say ""hi""",x`, []string{`say "hi"`, "x"}},
		{`""`, []string{""}},
		{`"",""`, []string{"", ""}},
		{`a"b,c`, []string{`a"b`, "c"}},
		{`x,"y"`, []string{"x", "y"}},
		{`""""`, []string{`"`}},
	}
	for _, c := range cases {
		got, err := ParseCSVLine(c.line, ',')
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("%q: got %q, %v; want %q", c.line, got, err, c.want)
		}
	}
	for _, bad := range []string{`"abc`, `"a"b,c`, `x,"y`} {
		if _, err := ParseCSVLine(bad, ','); !errors.Is(err, ErrCSVSyntax) {
			t.Errorf("%q: error %v, want ErrCSVSyntax", bad, err)
		}
	}
	got, err := ParseCSVLine(`a;"b;c";d`, ';')
	if err != nil || !reflect.DeepEqual(got, []string{"a", "b;c", "d"}) {
		t.Errorf("semicolon: %q %v", got, err)
	}
	if _, err := ParseCSVLine("a", '"'); err == nil {
		t.Error("quote as separator accepted")
	}
}

type row struct {
	Name string
	N    int64
}

func TestCSVSourceTypedRowsHeaderAndSplits(t *testing.T) {
	dir := t.TempDir()
	var want []row
	for f := 0; f < 3; f++ {
		content := "name,n\n"
		for i := 0; i < 200; i++ {
			name := fmt.Sprintf("f%d \"r\", %d", f, i)
			want = append(want, row{name, int64(i)})
			content += fmt.Sprintf("\"f%d \"\"r\"\", %d\",%d\n", f, i, i)
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%d.csv", f)), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	mapFn := func(f []string) (row, error) {
		if len(f) != 2 {
			return row{}, fmt.Errorf("want 2 fields, got %d", len(f))
		}
		n, err := strconv.ParseInt(f[1], 10, 64)
		return row{f[0], n}, err
	}
	src, err := NewCSVSource(dir, mapFn, CSVSkipHeader(), CSVLineOptions(WithBufferSize(64)))
	if err != nil {
		t.Fatal(err)
	}
	for p := 1; p <= 4; p++ {
		per, err := connectortest.ReadAll[row](context.Background(), src, p, nil)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[row]int{}
		total := 0
		for _, recs := range per {
			for _, r := range recs {
				seen[r.Value]++
				total++
			}
		}
		if total != len(want) {
			t.Fatalf("p=%d: %d rows, want %d", p, total, len(want))
		}
		for _, w := range want {
			if seen[w] != 1 {
				t.Fatalf("p=%d: row %+v seen %d times", p, w, seen[w])
			}
		}
	}
	// Without header skipping the header fails the typed mapping.
	src2, _ := NewCSVSource(dir, mapFn)
	if _, err := connectortest.ReadAll[row](context.Background(), src2, 1, nil); err == nil {
		t.Fatal("header row mapped without error")
	}
	// ... unless bad rows are skipped.
	src3, _ := NewCSVSource(dir, mapFn, CSVSkipBadRows())
	per, err := connectortest.ReadAll[row](context.Background(), src3, 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(per[0]) + len(per[1]); n != len(want) {
		t.Fatalf("skip-bad: %d rows", n)
	}
}

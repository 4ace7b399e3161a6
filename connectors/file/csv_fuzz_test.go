package file

import (
	"slices"
	"strings"
	"testing"
)

func quoteCSV(fields []string) string {
	var sb strings.Builder
	for i, f := range fields {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteByte('"')
		sb.WriteString(strings.ReplaceAll(f, `"`, `""`))
		sb.WriteByte('"')
	}
	return sb.String()
}

// FuzzParseCSVLine: never panics; whatever parses survives a quote-everything round trip.
func FuzzParseCSVLine(f *testing.F) {
	for _, s := range []string{"", "a,b", `"a""b",c`, `"`, `a"b`, `"x"y`, ",,,", `"",""`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		fields, err := ParseCSVLine(line, ',')
		if err != nil {
			return
		}
		again, err := ParseCSVLine(quoteCSV(fields), ',')
		if err != nil || !slices.Equal(again, fields) {
			t.Fatalf("round trip of %q: %q -> %q (%v)", line, fields, again, err)
		}
	})
}

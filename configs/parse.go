package configs

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// This file holds the value parsers and formatters. They follow Flink's rules (TimeUtils,
// MemorySize, StructuredOptionsSplitter, ConfigurationUtils) so that a flink-conf.yaml or a
// config.yaml written for Flink means the same thing to flink-go. They do no I/O.

// ErrInvalidValue is wrapped by every error about a value that does not parse for its option.
var ErrInvalidValue = errors.New("invalid value")

// durationUnits maps every unit label Flink's TimeUtils accepts (lower case) to its length.
var durationUnits = map[string]time.Duration{}

// durationUnitOrder lists the units from the largest down, with the label used when formatting.
var durationUnitOrder = []struct {
	label string
	unit  time.Duration
}{
	{"d", 24 * time.Hour},
	{"h", time.Hour},
	{"min", time.Minute},
	{"s", time.Second},
	{"ms", time.Millisecond},
	{"µs", time.Microsecond},
	{"ns", time.Nanosecond},
}

func init() {
	add := func(u time.Duration, singular []string, plural []string) {
		for _, l := range singular {
			durationUnits[l] = u
		}
		for _, l := range plural {
			durationUnits[l] = u
			durationUnits[l+"s"] = u
		}
	}
	add(24*time.Hour, []string{"d"}, []string{"day"})
	add(time.Hour, []string{"h"}, []string{"hour"})
	add(time.Minute, []string{"min", "m"}, []string{"minute"})
	add(time.Second, []string{"s"}, []string{"sec", "second"})
	add(time.Millisecond, []string{"ms"}, []string{"milli", "millisecond"})
	add(time.Microsecond, []string{"µs"}, []string{"micro", "microsecond"})
	add(time.Nanosecond, []string{"ns"}, []string{"nano", "nanosecond"})
}

// durationUnitHelp is the list of accepted duration units, for error messages.
const durationUnitHelp = "d|day(s), h|hour(s), min|m|minute(s), s|sec(s)|second(s), ms|milli(s)|millisecond(s), µs|micro(s)|microsecond(s), ns|nano(s)|nanosecond(s); no unit = ms"

// splitNumberUnit splits "  123 kb " into "123" and "kb" (unit lower-cased), as Flink does:
// leading ASCII digits are the number, the trimmed rest is the unit.
func splitNumberUnit(text string) (number, unit string, err error) {
	t := strings.TrimSpace(text)
	if t == "" {
		return "", "", errors.New("empty value")
	}
	i := 0
	for i < len(t) && t[i] >= '0' && t[i] <= '9' {
		i++
	}
	if i == 0 {
		return "", "", fmt.Errorf("%q does not start with a number", t)
	}
	return t[:i], strings.ToLower(strings.TrimSpace(t[i:])), nil
}

// ParseDuration parses a duration the way Flink does: a non-negative integer followed by an
// optional unit label, with or without a space ("100 ms", "100ms", "1 s", "10 min", "1h",
// "2 days"). A plain number is milliseconds. Unit labels are case-insensitive.
func ParseDuration(text string) (time.Duration, error) {
	return parseDurationPlainUnit(text, time.Millisecond)
}

// parseDurationPlainUnit is ParseDuration with plain numbers in plain instead of ms.
func parseDurationPlainUnit(text string, plain time.Duration) (time.Duration, error) {
	n, err := parseScaled(text, scale[time.Duration]{
		what: "duration", examples: `"100 ms", "10 s", "5 min"`, units: durationUnits, plain: plain,
		help: durationUnitHelp, tooBig: "is too long (maximum is about 292 years)",
	})
	return time.Duration(n), err
}

// scale describes a number-with-unit syntax for parseScaled.
type scale[U ~int64] struct {
	what, examples string
	units          map[string]U
	plain          U // the unit of a number without a label
	help, tooBig   string
}

// parseScaled parses "<digits> [unit]" into digits × unit, rejecting unknown units and
// results beyond int64.
func parseScaled[U ~int64](text string, sc scale[U]) (U, error) {
	num, unit, err := splitNumberUnit(text)
	if err != nil {
		return 0, fmt.Errorf("%w: %s: %v (expected e.g. %s)", ErrInvalidValue, sc.what, err, sc.examples)
	}
	t := strings.TrimSpace(text)
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: %s %q: number out of range", ErrInvalidValue, sc.what, t)
	}
	mult := sc.plain
	if unit != "" {
		u, ok := sc.units[unit]
		if !ok {
			return 0, fmt.Errorf("%w: %s %q: unknown unit %q (accepted: %s)", ErrInvalidValue, sc.what, t, unit, sc.help)
		}
		mult = u
	}
	if n > math.MaxInt64/int64(mult) {
		return 0, fmt.Errorf("%w: %s %q %s", ErrInvalidValue, sc.what, t, sc.tooBig)
	}
	return U(n) * mult, nil
}

// FormatDuration renders d in the largest unit that represents it exactly, as Flink's
// TimeUtils.formatWithHighestUnit does ("100 ms", "10 min", "0 ms"). Negative durations,
// which ParseDuration never produces, are rendered with Go's time.Duration.String.
func FormatDuration(d time.Duration) string {
	if d < 0 {
		return d.String()
	}
	if d == 0 {
		return "0 ms"
	}
	for _, u := range durationUnitOrder {
		if d%u.unit == 0 {
			return fmt.Sprintf("%d %s", int64(d/u.unit), u.label)
		}
	}
	return fmt.Sprintf("%d ns", int64(d))
}

// MemorySize is a number of bytes, parsed from Flink's memory size syntax.
type MemorySize int64

// Common memory sizes.
const (
	Byte     MemorySize = 1
	KibiByte            = 1024 * Byte
	MebiByte            = 1024 * KibiByte
	GibiByte            = 1024 * MebiByte
	TebiByte            = 1024 * GibiByte
)

// Bytes returns the size in bytes.
func (m MemorySize) Bytes() int64 { return int64(m) }

// MebiBytes returns the size in whole mebibytes (rounded down), the unit YARN uses for memory.
func (m MemorySize) MebiBytes() int64 { return int64(m) >> 20 }

// String renders the size in the largest unit that represents it exactly, as Flink's
// MemorySize.toString does ("32 kb", "1728 mb", "0 bytes").
func (m MemorySize) String() string {
	return FormatMemorySize(m)
}

var memoryUnits = []struct {
	labels []string
	mult   MemorySize
}{
	{[]string{"b", "bytes"}, Byte},
	{[]string{"k", "kb", "kib", "kibibytes"}, KibiByte},
	{[]string{"m", "mb", "mib", "mebibytes"}, MebiByte},
	{[]string{"g", "gb", "gib", "gibibytes"}, GibiByte},
	{[]string{"t", "tb", "tib", "tebibytes"}, TebiByte},
}

// memoryUnitsByLabel maps every memory unit label to its size.
var memoryUnitsByLabel = func() map[string]MemorySize {
	m := map[string]MemorySize{}
	for _, u := range memoryUnits {
		for _, l := range u.labels {
			m[l] = u.mult
		}
	}
	return m
}()

const memoryUnitHelp = "b|bytes, k|kb|kib|kibibytes, m|mb|mib|mebibytes, g|gb|gib|gibibytes, t|tb|tib|tebibytes (powers of 1024); no unit = bytes"

// ParseMemorySize parses a memory size the way Flink does: a non-negative integer followed by an
// optional unit ("1024m", "1g", "512 mb", "1gb", "64kb"). A plain number is bytes. Units are
// case-insensitive and binary (1k = 1024 bytes).
func ParseMemorySize(text string) (MemorySize, error) {
	return parseScaled(text, scale[MemorySize]{
		what: "memory size", examples: `"512 mb", "1g", "64kb"`, units: memoryUnitsByLabel, plain: Byte,
		help: memoryUnitHelp, tooBig: "does not fit in 64 bits",
	})
}

// FormatMemorySize renders m like Flink's MemorySize.toString: the largest exact unit.
func FormatMemorySize(m MemorySize) string {
	if m == 0 {
		return "0 bytes"
	}
	if m < 0 {
		return fmt.Sprintf("%d bytes", int64(m))
	}
	for i := len(memoryUnits) - 1; i >= 0; i-- {
		u := memoryUnits[i]
		if m%u.mult == 0 {
			return fmt.Sprintf("%d %s", int64(m/u.mult), u.labels[1])
		}
	}
	return fmt.Sprintf("%d bytes", int64(m))
}

// ParseBool accepts "true" or "false" in any case, as Flink does; nothing else.
func ParseBool(text string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(text)) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, fmt.Errorf("%w: %q is not a boolean (use true or false)", ErrInvalidValue, strings.TrimSpace(text))
}

// ParseInt parses a 32-bit signed integer (Flink's int options are Java ints).
func ParseInt(text string) (int, error) {
	t := strings.TrimSpace(text)
	n, err := strconv.ParseInt(t, 10, 32)
	if err != nil {
		var ne *strconv.NumError
		if errors.As(err, &ne) && errors.Is(ne.Err, strconv.ErrRange) {
			return 0, fmt.Errorf("%w: %q is out of range for a 32-bit integer", ErrInvalidValue, t)
		}
		return 0, fmt.Errorf("%w: %q is not an integer", ErrInvalidValue, t)
	}
	return int(n), nil
}

// ParseInt64 parses a 64-bit signed integer (Flink's long options).
func ParseInt64(text string) (int64, error) {
	t := strings.TrimSpace(text)
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil {
		var ne *strconv.NumError
		if errors.As(err, &ne) && errors.Is(ne.Err, strconv.ErrRange) {
			return 0, fmt.Errorf("%w: %q is out of range for a 64-bit integer", ErrInvalidValue, t)
		}
		return 0, fmt.Errorf("%w: %q is not an integer", ErrInvalidValue, t)
	}
	return n, nil
}

// ParseFloat parses a finite floating-point number.
func ParseFloat(text string) (float64, error) {
	t := strings.TrimSpace(text)
	f, err := strconv.ParseFloat(t, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, fmt.Errorf("%w: %q is not a finite number", ErrInvalidValue, t)
	}
	return f, nil
}

// FormatFloat renders f in the shortest form that parses back to the same value.
func FormatFloat(f float64) string {
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// ParseEnum matches text case-insensitively against allowed (Flink compares enum constants in
// upper case) and returns the allowed spelling. aliases maps further lower-case spellings to an
// allowed value.
func ParseEnum(text string, allowed []string, aliases map[string]string) (string, error) {
	t := strings.TrimSpace(text)
	for _, a := range allowed {
		if strings.EqualFold(a, t) {
			return a, nil
		}
	}
	if v, ok := aliases[strings.ToLower(t)]; ok {
		return v, nil
	}
	return "", fmt.Errorf("%w: %q is not one of %s", ErrInvalidValue, t, strings.Join(allowed, ", "))
}

// SplitList splits a list value on sep with Flink's quoting rules: an item may be quoted with
// ' or " (a doubled quote inside stands for one quote), so it can contain the separator.
// Unquoted items are trimmed and empty unquoted items are dropped, so "a; b;" is [a b] and a
// blank value is the empty list.
func SplitList(text string, sep rune) ([]string, error) {
	return splitQuoted(text, sep, false)
}

// splitQuoted is SplitList; keepEmpty keeps empty unquoted items (for "key:" in maps).
func splitQuoted(text string, sep rune, keepEmpty bool) ([]string, error) {
	var (
		items   []string
		cur     strings.Builder
		quoted  bool // the current item was quoted
		inQuote rune // the quote we are inside, or 0
		started bool // the current item has any non-space content
	)
	rs := []rune(text)
	end := func() {
		if quoted {
			items = append(items, cur.String())
		} else if s := strings.TrimSpace(cur.String()); s != "" || keepEmpty {
			items = append(items, s)
		}
		cur.Reset()
		quoted, started = false, false
	}
	for i := 0; i < len(rs); i++ {
		c := rs[i]
		if inQuote != 0 {
			if c == inQuote {
				if i+1 < len(rs) && rs[i+1] == inQuote {
					cur.WriteRune(c)
					i++
					continue
				}
				inQuote = 0
				// After a closing quote only spaces may come before the separator.
				j := i + 1
				for j < len(rs) && (rs[j] == ' ' || rs[j] == '\t') {
					j++
				}
				if j < len(rs) && rs[j] != sep {
					return nil, fmt.Errorf("%w: list %q: unexpected %q after the closing quote at position %d (quote the whole item)", ErrInvalidValue, text, string(rs[j]), j)
				}
				i = j - 1
				continue
			}
			cur.WriteRune(c)
			continue
		}
		switch {
		case c == sep:
			end()
		case (c == '\'' || c == '"') && !started:
			inQuote, quoted, started = c, true, true
			cur.Reset()
		case c == '\'' || c == '"':
			return nil, fmt.Errorf("%w: list %q: quote at position %d inside an unquoted item (quote the whole item)", ErrInvalidValue, text, i)
		default:
			if c != ' ' && c != '\t' {
				started = true
			}
			cur.WriteRune(c)
		}
	}
	if inQuote != 0 {
		return nil, fmt.Errorf("%w: list %q: unclosed %c quote", ErrInvalidValue, text, inQuote)
	}
	end()
	return items, nil
}

// quoteItem quotes s for a list or map joined with the given separators when it needs it.
func quoteItem(s string, seps ...rune) string {
	need := s == "" || strings.TrimSpace(s) != s || strings.ContainsAny(s, `'"`)
	for _, r := range seps {
		if strings.ContainsRune(s, r) {
			need = true
		}
	}
	if !need {
		return s
	}
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

// FormatList joins items with sep, quoting the items that need it, so that SplitList gives
// the same items back.
func FormatList(items []string, sep rune) string {
	parts := make([]string, len(items))
	for i, it := range items {
		parts[i] = quoteItem(it, sep)
	}
	return strings.Join(parts, string(sep))
}

// ParseMap parses Flink's map syntax "k1:v1,k2:v2": entries separated by ',', key and value by
// ':'. Quoting works on both levels as in Flink: a whole entry may be quoted to hide a ',' and
// inside it a key or value may be quoted to hide a ':' ('"a:b":c' is the key a:b with value c).
// A blank value is the empty map.
func ParseMap(text string) (map[string]string, error) {
	entries, err := SplitList(text, ',')
	if err != nil {
		return nil, err
	}
	m := make(map[string]string, len(entries))
	for _, e := range entries {
		kv, err := splitQuoted(e, ':', true)
		if err != nil {
			return nil, err
		}
		if len(kv) != 2 || kv[0] == "" {
			return nil, fmt.Errorf("%w: map entry %q: expected key:value (quote a key or value that contains ':' or ',')", ErrInvalidValue, e)
		}
		if _, dup := m[kv[0]]; dup {
			return nil, fmt.Errorf("%w: map %q: key %q given twice", ErrInvalidValue, text, kv[0])
		}
		m[kv[0]] = kv[1]
	}
	return m, nil
}

// FormatMap renders m in Flink's "k1:v1,k2:v2" syntax with keys sorted.
func FormatMap(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = quoteItem(quoteItem(k, ':')+":"+quoteItem(m[k], ':'), ',')
	}
	return strings.Join(parts, ",")
}

package configs

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"
)

// Kind is the value type of an option, as shown in docs and tables.
type Kind string

// The option kinds.
const (
	KindString   Kind = "String"
	KindInt      Kind = "Integer"
	KindInt64    Kind = "Long"
	KindBool     Kind = "Boolean"
	KindFloat    Kind = "Double"
	KindDuration Kind = "Duration"
	KindMemory   Kind = "MemorySize"
	KindEnum     Kind = "Enum"
	KindList     Kind = "List<String>"
	KindMap      Kind = "Map"
)

// Spec is the type-independent description of an option: everything the registry, the
// loaders, the docs and the printer need without knowing the Go type of its value.
type Spec struct {
	// Key is the canonical key, e.g. "parallelism.default".
	Key string
	// Kind is the value type.
	Kind Kind
	// Default is the default rendered as text, "" when HasDefault is false.
	Default string
	// HasDefault is false for options that are "(none)" unless set.
	HasDefault bool
	// Description is the user-facing documentation (one paragraph).
	Description string
	// DeprecatedKeys are older names: a value set under one of them is stored under Key
	// (with a warning), unless Key itself was set by the same kind of origin.
	DeprecatedKeys []string
	// FallbackKeys are other registered keys whose value is used when Key is unset.
	FallbackKeys []string
	// EnumValues are the allowed values of an enum option, in their canonical spelling.
	EnumValues []string
	// Separator is the list separator of a list option (';' unless noted).
	Separator rune
	// Sensitive values (secrets) are masked when printed.
	Sensitive bool
	// Constraints describe the rules values must meet beyond their type ("at least 1").
	Constraints []string
	// NoEffect, when set, says why flink-go accepts the option (so that existing Flink
	// configurations load) but does not act on it; setting it logs a warning with this reason.
	NoEffect string

	enumAliases map[string]string
	validate    func(string) error
}

// Validate reports whether value is acceptable for this option.
func (s *Spec) Validate(value string) error {
	if s.validate == nil {
		return nil
	}
	return s.validate(value)
}

// Option is a typed configuration option. Declare options once, at package level, with the
// constructors (String, Int, Duration, ...); read them with Get.
type Option[T any] struct {
	spec   *Spec
	def    T
	parse  func(string) (T, error)
	format func(T) string
	checks []Constraint[T]
}

// Constraint is a documented validation of an option's parsed values, e.g. a range.
type Constraint[T any] struct {
	// Text describes the rule for docs and errors ("at least 1").
	Text string
	// Fn reports a value that breaks the rule.
	Fn func(T) bool
}

// Key returns the canonical key.
func (o *Option[T]) Key() string { return o.spec.Key }

// Spec returns the option's description.
func (o *Option[T]) Spec() *Spec { return o.spec }

// Default returns the default value (the zero value for options without a default).
func (o *Option[T]) Default() T { return o.def }

// Parse parses text as a value of this option and applies its checks.
func (o *Option[T]) Parse(text string) (T, error) {
	v, err := o.parse(text)
	if err != nil {
		return v, err
	}
	for _, c := range o.checks {
		if !c.Fn(v) {
			var zero T
			return zero, fmt.Errorf("%w: %q: must be %s", ErrInvalidValue, strings.TrimSpace(text), c.Text)
		}
	}
	return v, nil
}

// Check adds constraints on parsed values; a value breaking one is rejected when set. The
// constraint texts appear in the docs. It returns o for chaining.
func (o *Option[T]) Check(cs ...Constraint[T]) *Option[T] {
	for _, c := range cs {
		o.checks = append(o.checks, c)
		o.spec.Constraints = append(o.spec.Constraints, c.Text)
	}
	return o
}

// Format renders v in the option's text syntax, so that Parse gives it back.
func (o *Option[T]) Format(v T) string { return o.format(v) }

// WithDeprecatedKeys declares older names of the option. It returns o for chaining.
func (o *Option[T]) WithDeprecatedKeys(keys ...string) *Option[T] {
	registry.mu.Lock()
	defer registry.mu.Unlock()
	for _, k := range keys {
		if _, dup := registry.byKey[k]; dup {
			panic(fmt.Sprintf("configs: deprecated key %q of %q is already an option", k, o.spec.Key))
		}
		if prev, dup := registry.aliases[k]; dup {
			panic(fmt.Sprintf("configs: deprecated key %q claimed by both %q and %q", k, prev, o.spec.Key))
		}
		registry.aliases[k] = o.spec.Key
		o.spec.DeprecatedKeys = append(o.spec.DeprecatedKeys, k)
	}
	return o
}

// WithFallbackKeys declares registered keys whose value is used when this option is unset
// (checked in order). It returns o for chaining.
func (o *Option[T]) WithFallbackKeys(keys ...string) *Option[T] {
	o.spec.FallbackKeys = append(o.spec.FallbackKeys, keys...)
	return o
}

// WithoutDefault marks the option as having no default ("(none)"); Get then returns the
// zero value when it is unset. It returns o for chaining.
func (o *Option[T]) WithoutDefault() *Option[T] {
	var zero T
	o.def = zero
	o.spec.HasDefault = false
	o.spec.Default = ""
	return o
}

// WithoutEffect marks a Flink option that flink-go accepts but does not act on, saying why
// (and what flink-go does instead). Setting it logs a warning; the docs say so. It returns o
// for chaining.
func (o *Option[T]) WithoutEffect(reason string) *Option[T] {
	o.spec.NoEffect = reason
	return o
}

// Secret marks the option's value as sensitive: printers mask it. It returns o for chaining.
func (o *Option[T]) Secret() *Option[T] {
	o.spec.Sensitive = true
	return o
}

// AtLeast is the constraint v >= lo.
func AtLeast[T int | int64 | float64](lo T) Constraint[T] {
	return Constraint[T]{Text: fmt.Sprintf("at least %v", lo), Fn: func(v T) bool { return v >= lo }}
}

// Between is the constraint lo <= v <= hi.
func Between[T int | int64 | float64](lo, hi T) Constraint[T] {
	return Constraint[T]{Text: fmt.Sprintf("between %v and %v", lo, hi), Fn: func(v T) bool { return v >= lo && v <= hi }}
}

// Positive is the constraint d > 0 for durations.
func Positive() Constraint[time.Duration] {
	return Constraint[time.Duration]{Text: "greater than 0", Fn: func(d time.Duration) bool { return d > 0 }}
}

// registry is the global set of known options. It is written during package initialisation
// (option declarations) and read afterwards.
var registry = struct {
	mu      sync.RWMutex
	byKey   map[string]*Spec
	aliases map[string]string // deprecated key -> canonical key
}{byKey: map[string]*Spec{}, aliases: map[string]string{}}

func register[T any](o *Option[T]) *Option[T] {
	if o.spec.Key == "" || strings.TrimSpace(o.spec.Key) != o.spec.Key {
		panic(fmt.Sprintf("configs: invalid option key %q", o.spec.Key))
	}
	if o.spec.validate == nil {
		o.spec.validate = func(s string) error { _, err := o.Parse(s); return err }
	}
	registry.mu.Lock()
	defer registry.mu.Unlock()
	if _, dup := registry.byKey[o.spec.Key]; dup {
		panic(fmt.Sprintf("configs: option %q declared twice", o.spec.Key))
	}
	if canon, dup := registry.aliases[o.spec.Key]; dup {
		panic(fmt.Sprintf("configs: option %q is already a deprecated key of %q", o.spec.Key, canon))
	}
	registry.byKey[o.spec.Key] = o.spec
	return o
}

func newOption[T any](key string, kind Kind, def T, desc string, parse func(string) (T, error), format func(T) string) *Option[T] {
	return register(&Option[T]{
		spec:   &Spec{Key: key, Kind: kind, Default: format(def), HasDefault: true, Description: desc},
		def:    def,
		parse:  parse,
		format: format,
	})
}

// String declares a string option.
func String(key, def, desc string) *Option[string] {
	return newOption(key, KindString, def, desc,
		func(s string) (string, error) { return s, nil },
		func(v string) string { return v })
}

// Int declares a 32-bit integer option.
func Int(key string, def int, desc string) *Option[int] {
	return newOption(key, KindInt, def, desc, ParseInt, func(v int) string { return fmt.Sprint(v) })
}

// Int64 declares a 64-bit integer option.
func Int64(key string, def int64, desc string) *Option[int64] {
	return newOption(key, KindInt64, def, desc, ParseInt64, func(v int64) string { return fmt.Sprint(v) })
}

// Bool declares a boolean option ("true"/"false", any case).
func Bool(key string, def bool, desc string) *Option[bool] {
	return newOption(key, KindBool, def, desc, ParseBool, func(v bool) string { return fmt.Sprint(v) })
}

// Float declares a floating-point option.
func Float(key string, def float64, desc string) *Option[float64] {
	return newOption(key, KindFloat, def, desc, ParseFloat, FormatFloat)
}

// Duration declares a duration option in Flink's syntax ("100 ms", "10 min"; a plain number is ms).
func Duration(key string, def time.Duration, desc string) *Option[time.Duration] {
	return newOption(key, KindDuration, def, desc, ParseDuration, FormatDuration)
}

// DurationIn declares a duration option whose plain numbers are in unit instead of
// milliseconds, for keys that Flink defines as a count of seconds (e.g. yarn.heartbeat.interval).
// Values with a unit ("500 ms") parse as usual.
func DurationIn(key string, def time.Duration, unit time.Duration, desc string) *Option[time.Duration] {
	return newOption(key, KindDuration, def, desc,
		func(s string) (time.Duration, error) { return parseDurationPlainUnit(s, unit) },
		FormatDuration)
}

// Memory declares a memory size option in Flink's syntax ("512 mb", "1g"; a plain number is bytes).
func Memory(key string, def MemorySize, desc string) *Option[MemorySize] {
	return newOption(key, KindMemory, def, desc, ParseMemorySize, FormatMemorySize)
}

// Enum declares an option whose value is one of values, matched case-insensitively as in
// Flink; Get returns the spelling given in values. An empty def means no default.
func Enum[E ~string](key string, def E, values []E, desc string) *Option[E] {
	allowed := make([]string, len(values))
	for i, v := range values {
		allowed[i] = string(v)
	}
	var o *Option[E]
	o = newOption(key, KindEnum, def, desc,
		func(s string) (E, error) {
			v, err := ParseEnum(s, allowed, o.spec.enumAliases)
			return E(v), err
		},
		func(v E) string { return string(v) })
	o.spec.EnumValues = allowed
	if def == "" {
		o.spec.HasDefault = false
	}
	return o
}

// WithAliases adds further accepted spellings (matched case-insensitively) that stand for one
// of the values of an enum option, e.g. "fixeddelay" for "fixed-delay". It returns o.
func (o *Option[T]) WithAliases(aliases map[string]string) *Option[T] {
	if o.spec.enumAliases == nil {
		o.spec.enumAliases = map[string]string{}
	}
	for k, v := range aliases {
		o.spec.enumAliases[strings.ToLower(k)] = v
	}
	return o
}

// List declares a list option separated by ';' as in Flink; in config.yaml it may also be a
// YAML list.
func List(key string, def []string, desc string) *Option[[]string] {
	return ListSep(key, ';', def, desc)
}

// ListSep declares a list option with a separator other than ';' (Flink's yarn.tags uses ',').
func ListSep(key string, sep rune, def []string, desc string) *Option[[]string] {
	o := newOption(key, KindList, def, desc,
		func(s string) ([]string, error) { return SplitList(s, sep) },
		func(v []string) string { return FormatList(v, sep) })
	o.spec.Separator = sep
	if def == nil {
		o.spec.HasDefault = false
	}
	return o
}

// Map declares a map option in Flink's "k1:v1,k2:v2" syntax; in config.yaml it may also be a
// YAML mapping.
func Map(key string, def map[string]string, desc string) *Option[map[string]string] {
	o := newOption(key, KindMap, def, desc, ParseMap, FormatMap)
	if def == nil {
		o.spec.HasDefault = false
	}
	return o
}

// LookupSpec returns the spec registered for key, resolving deprecated keys to their option.
// deprecated is true when key is a deprecated name.
func LookupSpec(key string) (spec *Spec, deprecated bool, ok bool) {
	registry.mu.RLock()
	defer registry.mu.RUnlock()
	if s, ok := registry.byKey[key]; ok {
		return s, false, true
	}
	if canon, ok := registry.aliases[key]; ok {
		return registry.byKey[canon], true, true
	}
	return nil, false, false
}

// All returns every registered option, sorted by key. The specs are shared: treat them as
// read-only.
func All() []*Spec {
	registry.mu.RLock()
	defer registry.mu.RUnlock()
	out := make([]*Spec, 0, len(registry.byKey))
	for _, s := range registry.byKey {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

package configs

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/rs/zerolog"
	"github.com/rs/zerolog/log"
)

// ErrUnknownKey is wrapped by the error for a key that is neither a known option, a deprecated
// name of one, nor inside a pass-through namespace.
var ErrUnknownKey = errors.New("unknown configuration key")

// Error is a problem with one configuration entry. It names the key, the value and where the
// entry came from, and wraps ErrUnknownKey or ErrInvalidValue.
type Error struct {
	Key    string
	Value  string
	Origin Origin
	Err    error
}

// Error renders "origin: key \"k\": problem", like a compiler message.
func (e *Error) Error() string {
	return fmt.Sprintf("%s: key %q: %v", e.Origin, e.Key, e.Err)
}

// Unwrap returns the underlying problem.
func (e *Error) Unwrap() error { return e.Err }

// PassThrough describes a key namespace whose keys are accepted without validation and handed
// on to another component.
type PassThrough struct {
	// Prefix is the key prefix, ending in '.' (or a whole key).
	Prefix string
	// Purpose says who reads these keys.
	Purpose string
	// Ignored marks JVM-only Flink settings that flink-go accepts, so that existing Flink
	// configurations load, but does not use; setting one logs a warning.
	Ignored bool
}

// passThroughs are the namespaces flink-go accepts unchecked. Known options inside them (e.g.
// s3.endpoint) are still validated.
var passThroughs = []PassThrough{
	{"flink.hadoop.", "Hadoop configuration overrides: the prefix is stripped and the rest is set in the Hadoop configuration (core-site/hdfs-site keys).", false},
	{"flink.yarn.", "YARN configuration overrides: \"flink.yarn.x\" is set as \"yarn.x\" in the YARN client configuration.", false},
	{"env.", "Process environment settings of Flink's scripts (env.java.opts, env.log.dir, ...); accepted for compatibility with existing Flink configuration files.", false},
	{"containerized.master.env.", "Environment variables set in the ApplicationMaster (JobManager) container: containerized.master.env.NAME=value.", false},
	{"containerized.taskmanager.env.", "Environment variables set in TaskManager containers: containerized.taskmanager.env.NAME=value.", false},
	{"metrics.reporter.", "Metric reporter settings, read by the reporter named in the key.", false},
	{"external-resource.", "External resource (GPU, ...) settings passed to the resource manager driver.", false},
	{"s3.", "Further S3 settings for the S3 file system (Flink mirrors s3.* to fs.s3a.*).", false},
	{"security.kerberos.token.provider.", "Per-service delegation token provider settings.", false},
	{"$internal.", "Flink's internal keys, set by the system itself.", false},
	{"user.", "Keys of the job program itself (flink-go extension): free for user code to define and read.", false},

	// JVM-only settings of Flink: accepted so that existing flink-conf.yaml files and EMR
	// classifications load, but without effect.
	{"classloader.", "JVM class loading (no class loading in Go).", true},
	{"akka.", "Akka RPC (flink-go has its own RPC).", true},
	{"pekko.", "Pekko RPC (flink-go has its own RPC).", true},
	{"blob.", "The BLOB server (flink-go ships job binaries through the artifact store).", true},
	{"historyserver.", "Flink's history server.", true},
	{"jobmanager.archive.fs.dir", "History server archive directory.", true},
	{"web.tmpdir", "Web UI upload directory of the JVM.", true},
	{"taskmanager.memory.jvm-", "JVM metaspace and overhead sizes.", true},
	{"jobmanager.memory.jvm-", "JVM metaspace and overhead sizes.", true},
	{"taskmanager.memory.framework.", "Flink framework heap/off-heap split of the JVM.", true},
	{"taskmanager.memory.task.", "Task heap/off-heap split of the JVM.", true},
	{"taskmanager.memory.managed.", "Flink managed memory (RocksDB, batch operators) of the JVM.", true},
	{"taskmanager.memory.flink.size", "JVM memory model component; use taskmanager.memory.process.size.", true},
	{"jobmanager.memory.flink.size", "JVM memory model component; use jobmanager.memory.process.size.", true},
	{"jobmanager.memory.heap.size", "JVM heap size; use jobmanager.memory.process.size.", true},
	{"jobmanager.memory.off-heap.size", "JVM off-heap size; use jobmanager.memory.process.size.", true},
	{"state.backend.rocksdb.", "RocksDB tuning (flink-go's disk backend is pebble: state.backend.pebble.*).", true},
	{"metrics.", "Flink metric system settings other than reporters.", true},
}

// PassThroughs lists the namespaces whose keys are accepted without validation.
func PassThroughs() []PassThrough {
	return append([]PassThrough(nil), passThroughs...)
}

func passThroughFor(key string) (PassThrough, bool) {
	for _, p := range passThroughs {
		whole := !strings.HasSuffix(p.Prefix, ".") && !strings.HasSuffix(p.Prefix, "-")
		if (whole && key == p.Prefix) || (!whole && strings.HasPrefix(key, p.Prefix) && len(key) > len(p.Prefix)) {
			return p, true
		}
	}
	return PassThrough{}, false
}

// entry is one set value.
type entry struct {
	value  string
	origin Origin
	setAs  string // the key it was set under (a deprecated name or the canonical key)
}

// Configuration is a set of configuration values with their origins. Values are kept as text
// in Flink's syntax and validated when set; Get parses them into typed values. Unset options
// read as their defaults. A Configuration is safe for concurrent use.
type Configuration struct {
	mu      sync.RWMutex
	entries map[string]entry
	log     zerolog.Logger
}

// New returns an empty configuration: every option has its default.
func New() *Configuration {
	return &Configuration{entries: map[string]entry{}, log: log.Logger}
}

// WithLogger sets the logger used for warnings (deprecated keys and similar) and returns c.
func (c *Configuration) WithLogger(l zerolog.Logger) *Configuration {
	c.mu.Lock()
	c.log = l
	c.mu.Unlock()
	return c
}

// resolveKey maps key to the key it is stored under, validating value on the way.
func resolveKey(key, value string, origin Origin) (canon string, spec *Spec, deprecated bool, err error) {
	spec, deprecated, ok := LookupSpec(key)
	if ok {
		if verr := spec.Validate(value); verr != nil {
			return "", nil, false, &Error{Key: key, Value: value, Origin: origin, Err: verr}
		}
		return spec.Key, spec, deprecated, nil
	}
	if _, ok := passThroughFor(key); ok {
		return key, nil, false, nil
	}
	msg := ErrUnknownKey
	if s := suggestKey(key); s != "" {
		return "", nil, false, &Error{Key: key, Value: value, Origin: origin,
			Err: fmt.Errorf("%w (did you mean %q?)", msg, s)}
	}
	return "", nil, false, &Error{Key: key, Value: value, Origin: origin,
		Err: fmt.Errorf("%w (not a flink-go option and not in a pass-through namespace such as flink.hadoop.*, env.* or user.*; see docs/configuration.md)", msg)}
}

// Set sets key to value. The key must be a known option (or a deprecated name of one, which is
// stored under the current name) or lie in a pass-through namespace, and the value must parse
// for the option; otherwise Set returns an *Error naming the key and origin. A later Set
// overrides an earlier one, except that a deprecated name does not override the current name
// set by the same kind of origin (as Flink prefers the current key).
func (c *Configuration) Set(key, value string, origin Origin) error {
	key = strings.TrimSpace(key)
	if key == "" {
		return &Error{Key: key, Value: value, Origin: origin, Err: fmt.Errorf("%w: empty key", ErrUnknownKey)}
	}
	value = strings.TrimSpace(value)
	canon, spec, deprecated, err := resolveKey(key, value, origin)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if spec == nil {
		if p, _ := passThroughFor(canon); p.Ignored {
			c.log.Warn().Str("key", key).Str("origin", origin.String()).Str("reason", p.Purpose).
				Msg("configuration key has no effect in flink-go (JVM-only Flink setting); accepted for compatibility")
		}
	} else if spec.NoEffect != "" {
		c.log.Warn().Str("key", key).Str("origin", origin.String()).Str("reason", spec.NoEffect).
			Msg("configuration key has no effect in flink-go; accepted for compatibility")
	}
	if deprecated {
		if prev, ok := c.entries[canon]; ok && prev.setAs == canon && prev.origin.Kind == origin.Kind {
			c.log.Warn().Str("key", key).Str("origin", origin.String()).Str("current_key", canon).
				Str("current_origin", prev.origin.String()).
				Msg("deprecated configuration key ignored: the current key is also set")
			return nil
		}
		c.log.Warn().Str("key", key).Str("origin", origin.String()).Str("use_instead", spec.Key).
			Msg("deprecated configuration key")
	} else if prev, ok := c.entries[canon]; ok && prev.setAs != canon && prev.origin.Kind == origin.Kind {
		c.log.Warn().Str("key", canon).Str("origin", origin.String()).Str("deprecated_key", prev.setAs).
			Str("deprecated_origin", prev.origin.String()).
			Msg("configuration key overrides its deprecated name set in the same source")
	}
	c.entries[canon] = entry{value: value, origin: origin, setAs: key}
	return nil
}

// Unset removes key (or the option a deprecated key names), so it reads as its default again.
func (c *Configuration) Unset(key string) {
	if spec, _, ok := LookupSpec(key); ok {
		key = spec.Key
	}
	c.mu.Lock()
	delete(c.entries, key)
	c.mu.Unlock()
}

// Lookup returns the value set for key, and its origin. A deprecated key finds the value of its
// option. ok is false when nothing is set (defaults are not reported; see Entries).
func (c *Configuration) Lookup(key string) (value string, origin Origin, ok bool) {
	if spec, _, found := LookupSpec(key); found {
		key = spec.Key
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	e, ok := c.entries[key]
	return e.value, e.origin, ok
}

// IsSet reports whether o has been set (directly, not via fallback keys).
func IsSet[T any](c *Configuration, o *Option[T]) bool {
	if c == nil {
		return false
	}
	_, _, ok := c.Lookup(o.Key())
	return ok
}

// Get returns the value of o in c: the set value, else the value of its first set fallback key,
// else its default. c may be nil (all defaults). Values are validated when set, so parsing
// cannot fail unless the option was declared after the value was set; then the default is
// returned and an error logged.
func Get[T any](c *Configuration, o *Option[T]) T {
	v, _ := GetWithOrigin(c, o)
	return v
}

// GetWithOrigin is Get that also says where the value came from (DefaultOrigin for defaults).
func GetWithOrigin[T any](c *Configuration, o *Option[T]) (T, Origin) {
	if c == nil {
		return o.def, DefaultOrigin
	}
	keys := append([]string{o.Key()}, o.spec.FallbackKeys...)
	for _, k := range keys {
		text, origin, ok := c.Lookup(k)
		if !ok {
			continue
		}
		v, err := o.Parse(text)
		if err != nil {
			c.mu.RLock()
			l := c.log
			c.mu.RUnlock()
			l.Error().Err(err).Str("key", k).Str("origin", origin.String()).
				Msg("configuration value does not parse; using the default")
			return o.def, DefaultOrigin
		}
		return v, origin
	}
	return o.def, DefaultOrigin
}

// SetValue sets o to v, formatted in the option's syntax.
func SetValue[T any](c *Configuration, o *Option[T], v T, origin Origin) error {
	return c.Set(o.Key(), o.format(v), origin)
}

// Entry is one configuration value with its origin.
type Entry struct {
	// Key is the canonical key.
	Key string
	// Value is the value text ("" for an option without default that is unset).
	Value string
	// Origin says where the value came from.
	Origin Origin
	// SetAs is the key the value was set under when that was a deprecated name, else "".
	SetAs string
	// Spec describes the option; nil for pass-through keys.
	Spec *Spec
}

// IsDefault reports whether the entry is an unset option's default.
func (e Entry) IsDefault() bool { return e.Origin.Kind == OriginDefault }

// Entries returns the values that are set, sorted by key, each with its origin.
func (c *Configuration) Entries() []Entry {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make([]Entry, 0, len(c.entries))
	for k, e := range c.entries {
		en := Entry{Key: k, Value: e.value, Origin: e.origin}
		if e.setAs != k {
			en.SetAs = e.setAs
		}
		if s, _, ok := LookupSpec(k); ok {
			en.Spec = s
		}
		out = append(out, en)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// EffectiveEntries returns the set values plus the defaults of every known option that is not
// set, sorted by key: the complete effective configuration.
func (c *Configuration) EffectiveEntries() []Entry {
	set := c.Entries()
	seen := make(map[string]bool, len(set))
	for _, e := range set {
		seen[e.Key] = true
	}
	for _, s := range All() {
		if !seen[s.Key] {
			set = append(set, Entry{Key: s.Key, Value: s.Default, Origin: DefaultOrigin, Spec: s})
		}
	}
	sort.Slice(set, func(i, j int) bool { return set[i].Key < set[j].Key })
	return set
}

// Map returns the set values as a flat key -> value map, to ship to clusters and jobs (the
// receiver applies the same defaults). Keys are canonical.
func (c *Configuration) Map() map[string]string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	m := make(map[string]string, len(c.entries))
	for k, e := range c.entries {
		m[k] = e.value
	}
	return m
}

// Redacted is Map with sensitive values replaced by Masked, for REST responses and logs.
func (c *Configuration) Redacted() map[string]string {
	m := c.Map()
	for k, v := range m {
		if v != "" && IsSensitive(k) {
			m[k] = Masked
		}
	}
	return m
}

// PrefixMap returns the set keys that start with prefix, with the prefix stripped: e.g.
// PrefixMap("flink.hadoop.") gives the Hadoop configuration overrides and
// PrefixMap("containerized.master.env.") the ApplicationMaster's extra environment.
func (c *Configuration) PrefixMap(prefix string) map[string]string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	m := map[string]string{}
	for k, e := range c.entries {
		if rest, ok := strings.CutPrefix(k, prefix); ok && rest != "" {
			m[rest] = e.value
		}
	}
	return m
}

// Clone returns an independent copy of c.
func (c *Configuration) Clone() *Configuration {
	c.mu.RLock()
	defer c.mu.RUnlock()
	n := &Configuration{entries: make(map[string]entry, len(c.entries)), log: c.log}
	for k, e := range c.entries {
		n.entries[k] = e
	}
	return n
}

// SetAll sets every key of m with the same origin (e.g. a configuration received from a
// client). All errors are returned together; valid entries are applied regardless.
func (c *Configuration) SetAll(m map[string]string, origin Origin) error {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var errs []error
	for _, k := range keys {
		if err := c.Set(k, m[k], origin); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// suggestKey returns the known key closest to key when it is close enough to be a typo.
func suggestKey(key string) string {
	best, bestD := "", len(key)/3+2
	for _, s := range All() {
		cands := append([]string{s.Key}, s.DeprecatedKeys...)
		for _, cand := range cands {
			if d := editDistance(strings.ToLower(key), strings.ToLower(cand), bestD); d < bestD {
				best, bestD = s.Key, d
			}
		}
	}
	return best
}

// editDistance is the Levenshtein distance of a and b, or limit when it is at least limit.
func editDistance(a, b string, limit int) int {
	if d := len(a) - len(b); d >= limit || -d >= limit {
		return limit
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		rowMin := cur[0]
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			rowMin = min(rowMin, cur[j])
		}
		if rowMin >= limit {
			return limit
		}
		prev, cur = cur, prev
	}
	return min(prev[len(b)], limit)
}

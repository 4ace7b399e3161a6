package configs

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/rs/zerolog"
	"github.com/rs/zerolog/log"
	"gopkg.in/yaml.v3"
)

// File names in a configuration directory.
const (
	// ConfigYAML is Flink 2's standard-YAML configuration file.
	ConfigYAML = "config.yaml"
	// LegacyFlinkConf is the legacy flat "key: value" file of Flink 1.x.
	LegacyFlinkConf = "flink-conf.yaml"
	// EnvConfDir names the environment variable that selects the configuration directory.
	EnvConfDir = "FLINK_CONF_DIR"
	// EnvProperties names the environment variable with extra "key: value" lines (as in
	// Flink's Docker images), applied after the configuration file.
	EnvProperties = "FLINK_PROPERTIES"
)

// ErrSyntax is wrapped by errors about malformed configuration files and -D arguments.
var ErrSyntax = errors.New("syntax error")

// RawEntry is a key and value read from a source, not yet validated.
type RawEntry struct {
	Key    string
	Value  string
	Origin Origin
}

// Overlay is a layer of configuration supplied by another component, applied after the
// configuration file and FLINK_PROPERTIES and before -D (e.g. an EMR "flink-conf"
// classification). Entries carry their own origins.
type Overlay struct {
	// Name describes the layer in logs.
	Name    string
	Entries []RawEntry
}

// OverlayFromMap builds an overlay from flat properties (e.g. the Properties of an EMR
// "flink-conf" classification), each entry with the origin ClassificationOrigin(name), in key
// order.
func OverlayFromMap(name string, props map[string]string) Overlay {
	keys := make([]string, 0, len(props))
	for k := range props {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	ov := Overlay{Name: name, Entries: make([]RawEntry, 0, len(keys))}
	for _, k := range keys {
		ov.Entries = append(ov.Entries, RawEntry{Key: k, Value: props[k], Origin: ClassificationOrigin(name)})
	}
	return ov
}

// LoadOptions says where Load finds configuration.
type LoadOptions struct {
	// ConfDir is the configuration directory used when FLINK_CONF_DIR is not set. Empty and
	// FLINK_CONF_DIR unset means no configuration file: defaults, FLINK_PROPERTIES, overlays
	// and -D only.
	ConfDir string
	// ConfDirOverridesEnv makes ConfDir win over FLINK_CONF_DIR (for an explicit
	// --conf-dir style flag).
	ConfDirOverridesEnv bool
	// Dynamic are -D properties in "key=value" form, applied last.
	Dynamic []string
	// Overlays are applied, in order, after the file and FLINK_PROPERTIES and before Dynamic.
	Overlays []Overlay
	// LookupEnv reads environment variables; nil means os.LookupEnv.
	LookupEnv func(string) (string, bool)
	// Logger receives warnings; nil means zerolog's global logger.
	Logger *zerolog.Logger
}

// Load builds the effective configuration from, in increasing precedence: option defaults,
// the configuration file (config.yaml, else the legacy flink-conf.yaml, in FLINK_CONF_DIR or
// ConfDir), the FLINK_PROPERTIES environment variable, the overlays, and the -D properties.
// Every problem (malformed file, malformed value, unknown key) is reported, each naming the key
// and its file:line or source; the errors are joined.
func Load(o LoadOptions) (*Configuration, error) {
	logger := log.Logger
	if o.Logger != nil {
		logger = *o.Logger
	}
	lookup := o.LookupEnv
	if lookup == nil {
		lookup = os.LookupEnv
	}
	c := New().WithLogger(logger)
	var errs []error
	apply := func(entries []RawEntry) {
		for _, e := range entries {
			if err := c.Set(e.Key, e.Value, e.Origin); err != nil {
				errs = append(errs, err)
			}
		}
	}

	dir, fromEnv := o.ConfDir, false
	if env, ok := lookup(EnvConfDir); ok && env != "" && !(o.ConfDirOverridesEnv && o.ConfDir != "") {
		dir, fromEnv = env, true
	}
	if dir != "" {
		entries, err := loadDir(dir, fromEnv, logger)
		if err != nil {
			errs = append(errs, err)
		}
		apply(entries)
	}

	if props, ok := lookup(EnvProperties); ok && strings.TrimSpace(props) != "" {
		entries, err := ParseFlat([]byte(props), Origin{Kind: OriginEnv, Name: EnvProperties})
		if err != nil {
			errs = append(errs, err)
		}
		apply(entries)
	}

	for _, ov := range o.Overlays {
		logger.Debug().Str("overlay", ov.Name).Int("entries", len(ov.Entries)).Msg("applying configuration overlay")
		apply(ov.Entries)
	}

	entries, err := ParseDynamic(o.Dynamic)
	if err != nil {
		errs = append(errs, err)
	}
	apply(entries)

	if len(errs) > 0 {
		return nil, fmt.Errorf("loading configuration: %w", errors.Join(errs...))
	}
	return c, nil
}

// loadDir reads the configuration file of dir. A missing directory is an error; a directory
// without a configuration file gives no entries and a warning.
func loadDir(dir string, fromEnv bool, logger zerolog.Logger) ([]RawEntry, error) {
	where := "configuration directory " + dir
	if fromEnv {
		where += " (from " + EnvConfDir + ")"
	}
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("%s: not a directory", where)
	}
	yamlPath := filepath.Join(dir, ConfigYAML)
	flatPath := filepath.Join(dir, LegacyFlinkConf)
	yamlData, yerr := os.ReadFile(yamlPath)
	flatData, ferr := os.ReadFile(flatPath)
	switch {
	case yerr == nil:
		if ferr == nil {
			logger.Warn().Str("using", yamlPath).Str("ignored", flatPath).
				Msg("both config.yaml and the legacy flink-conf.yaml exist; using config.yaml (remove flink-conf.yaml or merge it into config.yaml)")
		}
		return ParseYAML(yamlData, yamlPath)
	case !errors.Is(yerr, fs.ErrNotExist):
		return nil, fmt.Errorf("reading %s: %w", yamlPath, yerr)
	case ferr == nil:
		logger.Info().Str("file", flatPath).Msg("using the legacy flat flink-conf.yaml; Flink 2 uses config.yaml")
		return ParseFlat(flatData, FileOrigin(flatPath, 0))
	case !errors.Is(ferr, fs.ErrNotExist):
		return nil, fmt.Errorf("reading %s: %w", flatPath, ferr)
	}
	logger.Warn().Str("dir", dir).Msg("no config.yaml or flink-conf.yaml in the configuration directory; using defaults")
	return nil, nil
}

// ParseDynamic parses -D properties ("key=value"; a leading "-D" is tolerated). The value may be
// empty; a missing '=' or an empty key is an error naming the argument.
func ParseDynamic(args []string) ([]RawEntry, error) {
	var (
		out  []RawEntry
		errs []error
	)
	for _, a := range args {
		s := strings.TrimPrefix(a, "-D")
		k, v, ok := strings.Cut(s, "=")
		if !ok || strings.TrimSpace(k) == "" {
			errs = append(errs, fmt.Errorf("-D %q: %w: expected key=value", a, ErrSyntax))
			continue
		}
		out = append(out, RawEntry{Key: strings.TrimSpace(k), Value: strings.TrimSpace(v), Origin: DynamicOrigin})
	}
	return out, errors.Join(errs...)
}

// ParseFlat parses the legacy flat flink-conf.yaml format as Flink 1.x does: one "key: value"
// per line, split at the first ": " (so values may contain ':' as in hdfs:///x); everything
// after a '#' is a comment; blank lines are skipped; values are taken literally (no YAML
// quoting). A line that is not "key: value" is an error. Each entry's origin is origin with the
// line number filled in.
func ParseFlat(data []byte, origin Origin) ([]RawEntry, error) {
	var (
		out  []RawEntry
		errs []error
	)
	text := strings.TrimPrefix(string(data), "\ufeff") // a UTF-8 byte order mark
	for i, line := range strings.Split(text, "\n") {
		if c := strings.IndexByte(line, '#'); c >= 0 {
			line = line[:c]
		}
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		at := origin
		at.Line = i + 1
		k, v, ok := strings.Cut(line, ": ")
		if !ok {
			// "key:" with nothing after it has an empty value, as in YAML.
			if strings.HasSuffix(line, ":") {
				k, v, ok = strings.TrimSuffix(line, ":"), "", true
			}
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || k == "" {
			errs = append(errs, fmt.Errorf("%s: %w: %q is not \"key: value\" (a space must follow the colon)", at, ErrSyntax, line))
			continue
		}
		if v == "" {
			errs = append(errs, &Error{Key: k, Origin: at, Err: fmt.Errorf("%w: empty value (remove the line to use the default)", ErrInvalidValue)})
			continue
		}
		out = append(out, RawEntry{Key: k, Value: v, Origin: at})
	}
	return out, errors.Join(errs...)
}

// yamlLimits bound the work on hostile YAML (alias expansion, deep nesting).
const (
	yamlMaxDepth = 32
	yamlMaxNodes = 100000
)

// ParseYAML parses Flink 2's config.yaml: standard YAML whose nested mappings flatten to dotted
// keys ("execution: {checkpointing: {interval: 10s}}" is "execution.checkpointing.interval").
// Scalars become values as written; a YAML list becomes a list value (joined with the option's
// separator); a mapping under a map-typed option becomes a map value. null values are skipped
// (the option keeps its default). Duplicate keys, after flattening, are errors. Errors and
// entries carry path:line of the key.
func ParseYAML(data []byte, path string) ([]RawEntry, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, fmt.Errorf("%s: %w: malformed YAML: %v", path, ErrSyntax, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, fmt.Errorf("%s:%d: %w: more than one YAML document (remove the '---')", path, extra.Line, ErrSyntax)
	} else if !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: %w: malformed YAML: %v", path, ErrSyntax, err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil, nil
	}
	root := doc.Content[0]
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		return nil, nil
	}
	if root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s:%d: %w: the top level must be a mapping of keys to values", path, root.Line, ErrSyntax)
	}
	w := &yamlWalker{path: path, firstLine: map[string]int{}}
	w.mapping(root, "", 0)
	return w.out, errors.Join(w.errs...)
}

type yamlWalker struct {
	path      string
	out       []RawEntry
	errs      []error
	firstLine map[string]int
	nodes     int
}

func (w *yamlWalker) errorf(line int, format string, args ...any) {
	w.errs = append(w.errs, fmt.Errorf("%s:%d: %w: %s", w.path, line, ErrSyntax, fmt.Sprintf(format, args...)))
}

func resolveAlias(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < yamlMaxDepth; i++ {
		n = n.Alias
	}
	return n
}

func (w *yamlWalker) count() bool {
	w.nodes++
	return w.nodes <= yamlMaxNodes
}

func (w *yamlWalker) mapping(m *yaml.Node, prefix string, depth int) {
	if depth > yamlMaxDepth {
		w.errorf(m.Line, "nesting deeper than %d levels", yamlMaxDepth)
		return
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if !w.count() {
			w.errorf(m.Line, "too many YAML nodes (more than %d; check for alias loops)", yamlMaxNodes)
			return
		}
		kn, vn := resolveAlias(m.Content[i]), resolveAlias(m.Content[i+1])
		if kn == nil || vn == nil {
			w.errorf(m.Content[i].Line, "alias chain too long")
			continue
		}
		if kn.Kind != yaml.ScalarNode {
			w.errorf(kn.Line, "a key must be a plain scalar")
			continue
		}
		if kn.Tag == "!!merge" {
			w.errorf(kn.Line, "YAML merge keys (<<) are not supported in configuration files")
			continue
		}
		name := strings.TrimSpace(kn.Value)
		if name == "" {
			w.errorf(kn.Line, "empty key")
			continue
		}
		key := prefix + name
		line := m.Content[i].Line
		switch vn.Kind {
		case yaml.MappingNode:
			if spec, _, ok := LookupSpec(key); ok && spec.Kind == KindMap {
				w.mapValue(key, vn, line)
				continue
			}
			w.mapping(vn, key+".", depth+1)
		case yaml.SequenceNode:
			w.listValue(key, vn, line)
		case yaml.ScalarNode:
			if vn.Tag == "!!null" {
				continue
			}
			w.add(key, vn.Value, line)
		default:
			w.errorf(line, "key %q: unsupported YAML value", key)
		}
	}
}

func (w *yamlWalker) add(key, value string, line int) {
	if first, dup := w.firstLine[key]; dup {
		w.errorf(line, "key %q given twice (first at line %d)", key, first)
		return
	}
	w.firstLine[key] = line
	w.out = append(w.out, RawEntry{Key: key, Value: value, Origin: FileOrigin(w.path, line)})
}

func (w *yamlWalker) listValue(key string, seq *yaml.Node, line int) {
	sep := ';'
	spec, _, known := LookupSpec(key)
	if known {
		switch spec.Kind {
		case KindList:
			sep = spec.Separator
		case KindMap:
			w.mapFromSeq(key, seq, line)
			return
		default:
			w.errs = append(w.errs, &Error{Key: key, Origin: FileOrigin(w.path, line),
				Err: fmt.Errorf("%w: a YAML list is given but the option is a %s", ErrInvalidValue, spec.Kind)})
			return
		}
	}
	items := make([]string, 0, len(seq.Content))
	for _, it := range seq.Content {
		it = resolveAlias(it)
		if !w.count() {
			w.errorf(line, "too many YAML nodes")
			return
		}
		if it == nil || it.Kind != yaml.ScalarNode {
			w.errorf(seq.Line, "key %q: list items must be scalars", key)
			return
		}
		items = append(items, it.Value)
	}
	w.add(key, FormatList(items, sep), line)
}

// mapValue turns a YAML mapping of scalars into Flink's "k:v,..." text.
func (w *yamlWalker) mapValue(key string, m *yaml.Node, line int) {
	kv := map[string]string{}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := resolveAlias(m.Content[i]), resolveAlias(m.Content[i+1])
		if !w.count() {
			w.errorf(line, "too many YAML nodes")
			return
		}
		if k == nil || v == nil || k.Kind != yaml.ScalarNode || v.Kind != yaml.ScalarNode {
			w.errorf(m.Content[i].Line, "key %q: map entries must be scalar key: value pairs", key)
			return
		}
		if _, dup := kv[k.Value]; dup {
			w.errorf(m.Content[i].Line, "key %q: map key %q given twice", key, k.Value)
			return
		}
		kv[k.Value] = v.Value
	}
	w.add(key, FormatMap(kv), line)
}

// mapFromSeq accepts a list of "k:v" strings for a map option.
func (w *yamlWalker) mapFromSeq(key string, seq *yaml.Node, line int) {
	parts := make([]string, 0, len(seq.Content))
	for _, it := range seq.Content {
		it = resolveAlias(it)
		if it == nil || it.Kind != yaml.ScalarNode {
			w.errorf(seq.Line, "key %q: list items must be \"key:value\" scalars", key)
			return
		}
		parts = append(parts, quoteItem(it.Value, ','))
	}
	w.add(key, strings.Join(parts, ","), line)
}

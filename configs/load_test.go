package configs

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func noEnv(string) (string, bool) { return "", false }

func envOf(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

const sampleYAML = `# Flink 2 style
parallelism.default: 4
execution:
  checkpointing:
    interval: 30 s
    mode: AT_LEAST_ONCE
    dir: hdfs:///flink/checkpoints
taskmanager:
  numberOfTaskSlots: 2
  memory.process.size: 2g
yarn:
  tags: [etl, nightly]
  ship-files:
    - /opt/a
    - "/opt/with;semicolon"
pipeline:
  global-job-parameters:
    env: prod
    team: data
flink.hadoop.dfs.replication: 2
rest.address: ~
io.tmp.dirs: /tmp/a;/tmp/b
`

func TestParseYAML(t *testing.T) {
	entries, err := ParseYAML([]byte(sampleYAML), "conf/config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]RawEntry{}
	for _, e := range entries {
		got[e.Key] = e
	}
	want := map[string]struct {
		value string
		line  int
	}{
		"parallelism.default":              {"4", 2},
		"execution.checkpointing.interval": {"30 s", 5},
		"execution.checkpointing.mode":     {"AT_LEAST_ONCE", 6},
		"execution.checkpointing.dir":      {"hdfs:///flink/checkpoints", 7},
		"taskmanager.numberOfTaskSlots":    {"2", 9},
		"taskmanager.memory.process.size":  {"2g", 10},
		"yarn.tags":                        {"etl,nightly", 12},
		"yarn.ship-files":                  {`/opt/a;"/opt/with;semicolon"`, 13},
		"pipeline.global-job-parameters":   {"env:prod,team:data", 17},
		"flink.hadoop.dfs.replication":     {"2", 20},
		"io.tmp.dirs":                      {"/tmp/a;/tmp/b", 22},
	}
	if len(got) != len(want) {
		t.Errorf("got %d entries, want %d: %v", len(got), len(want), entries)
	}
	for k, w := range want {
		e, ok := got[k]
		if !ok {
			t.Errorf("missing %s", k)
			continue
		}
		if e.Value != w.value || e.Origin != FileOrigin("conf/config.yaml", w.line) {
			t.Errorf("%s = %q at %v, want %q at line %d", k, e.Value, e.Origin, w.value, w.line)
		}
	}
	// The entries are valid and give typed values.
	c := New()
	for _, e := range entries {
		if err := c.Set(e.Key, e.Value, e.Origin); err != nil {
			t.Fatal(err)
		}
	}
	if got := Get(c, YarnShipFiles); !reflect.DeepEqual(got, []string{"/opt/a", "/opt/with;semicolon"}) {
		t.Errorf("ship files = %q", got)
	}
	if got := Get(c, YarnTags); !reflect.DeepEqual(got, []string{"etl", "nightly"}) {
		t.Errorf("tags = %q", got)
	}
	if got := Get(c, TaskManagerMemory); got != 2*GibiByte {
		t.Errorf("tm memory = %v", got)
	}
}

func TestParseYAMLErrors(t *testing.T) {
	tests := []struct {
		name, doc string
		mention   []string
	}{
		{"malformed", "a: b\n  c: : d\n", []string{"cfg.yaml", "malformed YAML", "line 2"}},
		{"top level list", "- a\n- b\n", []string{"cfg.yaml:1", "top level must be a mapping"}},
		{"duplicate flattened", "a.b: 1\na:\n  b: 2\n", []string{"cfg.yaml:3", `"a.b" given twice (first at line 1)`}},
		{"two documents", "a: 1\n---\nb: 2\n", []string{"more than one YAML document"}},
		{"non-scalar list item", "yarn.tags:\n  - [x]\n", []string{"cfg.yaml:2", "list items must be scalars"}},
		{"list for scalar option", "parallelism.default: [1, 2]\n", []string{"cfg.yaml:1", "parallelism.default", "YAML list"}},
		{"complex key", "? [a]\n: b\n", []string{"cfg.yaml:1", "key must be a plain scalar"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseYAML([]byte(tt.doc), "cfg.yaml")
			if err == nil {
				t.Fatal("no error")
			}
			for _, m := range tt.mention {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error %q does not mention %q", err, m)
				}
			}
		})
	}
	if es, err := ParseYAML([]byte("\ufeffparallelism:\r\n  default: 4\r\n"), "win.yaml"); err != nil || len(es) != 1 ||
		es[0].Key != "parallelism.default" || es[0].Value != "4" || es[0].Origin.Line != 2 {
		t.Errorf("BOM/CRLF YAML: %v, %v", es, err)
	}
	for _, empty := range []string{"", "# only a comment\n", "~\n", "---\n"} {
		if es, err := ParseYAML([]byte(empty), "e.yaml"); err != nil || len(es) != 0 {
			t.Errorf("ParseYAML(%q) = %v, %v", empty, es, err)
		}
	}
}

func TestParseYAMLAliases(t *testing.T) {
	doc := "base: &slots 3\ntaskmanager.numberOfTaskSlots: *slots\n"
	es, err := ParseYAML([]byte(doc), "a.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 2 || es[1].Key != "taskmanager.numberOfTaskSlots" || es[1].Value != "3" {
		t.Errorf("entries = %v", es)
	}
	// A billion-laughs style document must not blow up.
	var b strings.Builder
	b.WriteString("a: &a [x, x, x, x, x, x, x, x, x, x]\n")
	prev := "a"
	for i := 0; i < 8; i++ {
		name := string(rune('b' + i))
		b.WriteString(name + ": &" + name + " [")
		for j := 0; j < 10; j++ {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString("*" + prev)
		}
		b.WriteString("]\n")
		prev = name
	}
	_, _ = ParseYAML([]byte(b.String()), "bomb.yaml") // must return, error or not

	// The same with mappings, which the walker expands: the node limit stops it.
	b.Reset()
	b.WriteString("a: &a {k0: 1, k1: 1, k2: 1, k3: 1, k4: 1, k5: 1, k6: 1, k7: 1, k8: 1, k9: 1}\n")
	prev = "a"
	for i := 0; i < 8; i++ {
		name := string(rune('b' + i))
		b.WriteString(name + ": &" + name + " {")
		for j := 0; j < 10; j++ {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString("k" + string(rune('0'+j)) + ": *" + prev)
		}
		b.WriteString("}\n")
		prev = name
	}
	start := time.Now()
	_, err = ParseYAML([]byte(b.String()), "bomb.yaml")
	if err == nil || !strings.Contains(err.Error(), "too many YAML nodes") {
		t.Errorf("mapping alias bomb: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("mapping alias bomb took %v", d)
	}
}

const sampleFlat = `# legacy flink-conf.yaml
jobmanager.rpc.address: jm-host
parallelism.default: 8   # trailing comment

high-availability.storageDir: hdfs:///flink/ha
yarn.ship-files: /a;/b
`

func TestParseFlat(t *testing.T) {
	es, err := ParseFlat([]byte(sampleFlat), FileOrigin("conf/flink-conf.yaml", 0))
	if err != nil {
		t.Fatal(err)
	}
	want := []RawEntry{
		{"jobmanager.rpc.address", "jm-host", FileOrigin("conf/flink-conf.yaml", 2)},
		{"parallelism.default", "8", FileOrigin("conf/flink-conf.yaml", 3)},
		{"high-availability.storageDir", "hdfs:///flink/ha", FileOrigin("conf/flink-conf.yaml", 5)},
		{"yarn.ship-files", "/a;/b", FileOrigin("conf/flink-conf.yaml", 6)},
	}
	if !reflect.DeepEqual(es, want) {
		t.Errorf("ParseFlat = %v\nwant %v", es, want)
	}

	es, err = ParseFlat([]byte("\ufeffrest.port: 1\r\nparallelism.default: 2\r\n"), FileOrigin("win.yaml", 0))
	if err != nil || len(es) != 2 || es[0].Key != "rest.port" || es[1].Value != "2" {
		t.Errorf("BOM/CRLF file: %v, %v", es, err)
	}

	_, err = ParseFlat([]byte("a.b: 1\nnot a pair\nkey:value\nempty:\n"), FileOrigin("f.yaml", 0))
	if err == nil {
		t.Fatal("malformed flat file accepted")
	}
	for _, m := range []string{"f.yaml:2", `"not a pair"`, "f.yaml:3", `"key:value"`, "f.yaml:4", `"empty"`, "empty value"} {
		if !strings.Contains(err.Error(), m) {
			t.Errorf("error %q does not mention %q", err, m)
		}
	}
	if !errors.Is(err, ErrSyntax) {
		t.Errorf("flat syntax error does not wrap ErrSyntax: %v", err)
	}
}

func TestParseDynamic(t *testing.T) {
	es, err := ParseDynamic([]string{"parallelism.default=2", "-Drest.port=9000", "pipeline.name=a=b", "yarn.application.queue="})
	if err != nil {
		t.Fatal(err)
	}
	want := []RawEntry{
		{"parallelism.default", "2", DynamicOrigin},
		{"rest.port", "9000", DynamicOrigin},
		{"pipeline.name", "a=b", DynamicOrigin},
		{"yarn.application.queue", "", DynamicOrigin},
	}
	if !reflect.DeepEqual(es, want) {
		t.Errorf("ParseDynamic = %v", es)
	}
	_, err = ParseDynamic([]string{"parallelism.default", "=3"})
	if err == nil || !errors.Is(err, ErrSyntax) || !strings.Contains(err.Error(), `"parallelism.default"`) || !strings.Contains(err.Error(), `"=3"`) {
		t.Errorf("malformed -D: %v", err)
	}
}

func TestLoadPrecedence(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, ConfigYAML, `parallelism.default: 2
rest.port: 8082
taskmanager.numberOfTaskSlots: 3
yarn.application.queue: from-file
execution.checkpointing.interval: 1 min
`)
	c, err := Load(LoadOptions{
		ConfDir: dir,
		LookupEnv: envOf(map[string]string{
			EnvProperties: "rest.port: 8083\ntaskmanager.numberOfTaskSlots: 4\nyarn.application.queue: from-env\n",
		}),
		Overlays: []Overlay{{Name: "emr", Entries: []RawEntry{
			{"taskmanager.numberOfTaskSlots", "5", ClassificationOrigin("flink-conf")},
			{"yarn.application.queue", "from-emr", ClassificationOrigin("flink-conf")},
		}}},
		Dynamic: []string{"yarn.application.queue=from-D"},
	})
	if err != nil {
		t.Fatal(err)
	}
	yamlPath := filepath.Join(dir, ConfigYAML)
	checks := []struct {
		key, value, origin string
	}{
		{"parallelism.default", "2", yamlPath + ":1"},
		{"rest.port", "8083", "env FLINK_PROPERTIES:1"},
		{"taskmanager.numberOfTaskSlots", "5", "classification flink-conf"},
		{"yarn.application.queue", "from-D", "-D"},
		{"execution.checkpointing.interval", "1 min", yamlPath + ":5"},
	}
	for _, ch := range checks {
		v, o, ok := c.Lookup(ch.key)
		if !ok || v != ch.value || o.String() != ch.origin {
			t.Errorf("%s = %q from %q (set %v), want %q from %q", ch.key, v, o, ok, ch.value, ch.origin)
		}
	}
	if Get(c, CheckpointInterval) != time.Minute {
		t.Errorf("interval = %v", Get(c, CheckpointInterval))
	}
	if Get(c, HeartbeatInterval) != 10*time.Second {
		t.Error("unset option lost its default")
	}
}

func TestLoadFlatAndBothFiles(t *testing.T) {
	dir := t.TempDir()
	flat := writeFile(t, dir, LegacyFlinkConf, "parallelism.default: 6\n")
	c, err := Load(LoadOptions{ConfDir: dir, LookupEnv: noEnv})
	if err != nil {
		t.Fatal(err)
	}
	if v, o, _ := c.Lookup("parallelism.default"); v != "6" || o != FileOrigin(flat, 1) {
		t.Errorf("flat: %q from %v", v, o)
	}

	writeFile(t, dir, ConfigYAML, "parallelism:\n  default: 7\n")
	var logs bytes.Buffer
	l := zerolog.New(&logs)
	c, err = Load(LoadOptions{ConfDir: dir, LookupEnv: noEnv, Logger: &l})
	if err != nil {
		t.Fatal(err)
	}
	if Get(c, Parallelism) != 7 {
		t.Errorf("config.yaml not preferred: %d", Get(c, Parallelism))
	}
	if !strings.Contains(logs.String(), "both config.yaml and the legacy flink-conf.yaml exist") {
		t.Errorf("no warning about both files: %s", logs.String())
	}
	if _, o, _ := c.Lookup("parallelism.default"); o != FileOrigin(filepath.Join(dir, ConfigYAML), 2) {
		t.Errorf("origin = %v", o)
	}
}

func TestLoadConfDirSelection(t *testing.T) {
	given, fromEnv := t.TempDir(), t.TempDir()
	writeFile(t, given, ConfigYAML, "parallelism.default: 2\n")
	writeFile(t, fromEnv, ConfigYAML, "parallelism.default: 3\n")
	env := envOf(map[string]string{EnvConfDir: fromEnv})

	c, err := Load(LoadOptions{ConfDir: given, LookupEnv: env})
	if err != nil || Get(c, Parallelism) != 3 {
		t.Errorf("FLINK_CONF_DIR not preferred: %v, %v", err, c)
	}
	c, err = Load(LoadOptions{ConfDir: given, ConfDirOverridesEnv: true, LookupEnv: env})
	if err != nil || Get(c, Parallelism) != 2 {
		t.Errorf("ConfDirOverridesEnv ignored: %v", err)
	}
	c, err = Load(LoadOptions{ConfDir: given, LookupEnv: noEnv})
	if err != nil || Get(c, Parallelism) != 2 {
		t.Errorf("given dir not used: %v", err)
	}
	c, err = Load(LoadOptions{LookupEnv: noEnv, Dynamic: []string{"parallelism.default=9"}})
	if err != nil || Get(c, Parallelism) != 9 {
		t.Errorf("no dir: %v", err)
	}
	// A missing directory is an error naming it and where it came from.
	missing := filepath.Join(given, "nope")
	_, err = Load(LoadOptions{LookupEnv: envOf(map[string]string{EnvConfDir: missing})})
	if err == nil || !strings.Contains(err.Error(), missing) || !strings.Contains(err.Error(), EnvConfDir) {
		t.Errorf("missing FLINK_CONF_DIR: %v", err)
	}
	// An empty directory gives defaults.
	c, err = Load(LoadOptions{ConfDir: t.TempDir(), LookupEnv: noEnv})
	if err != nil || len(c.Entries()) != 0 {
		t.Errorf("empty dir: %v, %v", err, c.Entries())
	}
}

func TestLoadReportsEveryProblemWithFileLine(t *testing.T) {
	dir := t.TempDir()
	path := writeFile(t, dir, ConfigYAML, `parallelism.default: 2
taskmanager:
  numberOfTaskSlots: lots
  memory:
    process.size: 1x
restart-strategy.typo: fixed-delay
execution.checkpointing.interval: 10 s
`)
	_, err := Load(LoadOptions{ConfDir: dir, LookupEnv: noEnv, Dynamic: []string{"rest.port=eighty", "broken"}})
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	for _, m := range []string{
		path + `:3: key "taskmanager.numberOfTaskSlots"`,
		path + `:5: key "taskmanager.memory.process.size"`,
		path + `:6: key "restart-strategy.typo"`,
		`-D: key "rest.port"`,
		`-D "broken"`,
	} {
		if !strings.Contains(msg, m) {
			t.Errorf("error does not contain %q:\n%s", m, msg)
		}
	}
	if strings.Contains(msg, ":7:") || strings.Contains(msg, ":1:") {
		t.Errorf("valid lines reported:\n%s", msg)
	}
	if !errors.Is(err, ErrUnknownKey) || !errors.Is(err, ErrInvalidValue) || !errors.Is(err, ErrSyntax) {
		t.Errorf("joined error lost a sentinel: %v", err)
	}
}

func TestLoadMalformedYAMLFile(t *testing.T) {
	dir := t.TempDir()
	path := writeFile(t, dir, ConfigYAML, "parallelism.default: 2\nrest:\n  port: [8081\n")
	_, err := Load(LoadOptions{ConfDir: dir, LookupEnv: noEnv})
	if err == nil || !strings.Contains(err.Error(), path) || !errors.Is(err, ErrSyntax) {
		t.Errorf("malformed YAML: %v", err)
	}
}

package configs

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// Run `go test ./configs -run 'TestDocsAreCurrent|TestDefaultConfigFileIsCurrent' -update` to
// regenerate docs/configuration.md's option tables and conf/config.yaml.
var update = flag.Bool("update", false, "rewrite the generated docs/configuration.md section and conf/config.yaml")

func TestRender(t *testing.T) {
	c := New()
	_ = c.Set("parallelism.default", "4", FileOrigin("conf/config.yaml", 12))
	_ = c.Set("s3.secret-key", "hunter2", DynamicOrigin)
	_ = c.Set("flink.hadoop.fs.s3a.secret.key", "hunter3", DynamicOrigin)
	_ = c.Set("state.checkpoints.dir", "hdfs:///cp", FileOrigin("conf/config.yaml", 3))
	_ = c.Set("flink.hadoop.dfs.replication", "2", DynamicOrigin)

	var b bytes.Buffer
	if err := Render(&b, c, RenderOptions{}); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 6 {
		t.Fatalf("want header + 5 rows, got:\n%s", out)
	}
	if !regexp.MustCompile(`^KEY\s+VALUE\s+ORIGIN$`).MatchString(lines[0]) {
		t.Errorf("header = %q", lines[0])
	}
	for _, re := range []string{
		`(?m)^parallelism\.default\s+4\s+conf/config\.yaml:12$`,
		`(?m)^s3\.secret-key\s+\*{6}\s+-D$`,
		`(?m)^flink\.hadoop\.fs\.s3a\.secret\.key\s+\*{6}\s+-D \(pass-through\)$`,
		`(?m)^execution\.checkpointing\.dir\s+hdfs:///cp\s+conf/config\.yaml:3 \(as deprecated state\.checkpoints\.dir\)$`,
		`(?m)^flink\.hadoop\.dfs\.replication\s+2\s+-D \(pass-through\)$`,
	} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("output does not match %s:\n%s", re, out)
		}
	}
	if strings.Contains(out, "hunter") {
		t.Errorf("secret printed:\n%s", out)
	}

	b.Reset()
	if err := Render(&b, c, RenderOptions{All: true, ShowSecrets: true}); err != nil {
		t.Fatal(err)
	}
	out = b.String()
	if n := strings.Count(out, "\n"); n != 1+len(All())+2 { // header, every option, 2 pass-through keys
		t.Errorf("--all printed %d lines, want %d", n, 1+len(All())+2)
	}
	for _, re := range []string{
		`(?m)^rest\.port\s+8081\s+default$`,
		`(?m)^execution\.checkpointing\.savepoint-dir\s+\(none\)\s+default$`,
		`(?m)^taskmanager\.memory\.segment-size\s+32 kb\s+default$`,
		`(?m)^parallelism\.default\s+4\s+conf/config\.yaml:12$`,
		`(?m)^s3\.secret-key\s+hunter2\s+-D$`,
	} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("--all output does not match %s", re)
		}
	}
}

func TestRenderJSON(t *testing.T) {
	c := New()
	_ = c.Set("parallelism.default", "4", FileOrigin("conf/config.yaml", 12))
	_ = c.Set("s3.secret-key", "hunter2", DynamicOrigin)
	_ = c.Set("classloader.resolve-order", "parent-first", DynamicOrigin)
	var b bytes.Buffer
	if err := Render(&b, c, RenderOptions{JSON: true, All: true}); err != nil {
		t.Fatal(err)
	}
	var rows []RenderedEntry
	if err := json.Unmarshal(b.Bytes(), &rows); err != nil {
		t.Fatalf("invalid JSON: %v\n%s", err, b.String())
	}
	byKey := map[string]RenderedEntry{}
	for _, r := range rows {
		byKey[r.Key] = r
	}
	if r := byKey["parallelism.default"]; r.Value != "4" || r.Origin != "conf/config.yaml:12" || r.Default || r.Type != "Integer" {
		t.Errorf("parallelism row = %+v", r)
	}
	if r := byKey["s3.secret-key"]; r.Value != Masked {
		t.Errorf("secret row = %+v", r)
	}
	if r := byKey["classloader.resolve-order"]; !r.Ignored {
		t.Errorf("ignored row = %+v", r)
	}
	if r := byKey["rest.address"]; !r.Default || !r.NoDefault || r.Value != "" {
		t.Errorf("unset row = %+v", r)
	}
	if len(rows) != len(All())+1 { // every option, plus the one ignored key
		t.Errorf("%d rows, want %d", len(rows), len(All())+1)
	}
}

func TestMarkdownCoversEveryOption(t *testing.T) {
	md := Markdown()
	for _, s := range All() {
		if !strings.Contains(md, "| `"+s.Key+"` |") {
			t.Errorf("Markdown lacks %s", s.Key)
		}
	}
	for _, p := range PassThroughs() {
		if !strings.Contains(md, "`"+patternOf(p)+"`") {
			t.Errorf("Markdown lacks pass-through %s", p.Prefix)
		}
	}
	if !strings.Contains(md, "Deprecated keys: `state.checkpoints.dir`") {
		t.Error("Markdown lacks deprecated keys")
	}
	if !strings.Contains(md, "Values: `EXACTLY_ONCE`, `AT_LEAST_ONCE`") {
		t.Error("Markdown lacks enum values")
	}
}

const (
	beginMarker = "<!-- BEGIN GENERATED OPTIONS (go test ./configs -run TestDocsAreCurrent -update) -->"
	endMarker   = "<!-- END GENERATED OPTIONS -->"
)

func TestDocsAreCurrent(t *testing.T) {
	path := filepath.Join("..", "docs", "configuration.md")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading %s: %v", path, err)
	}
	doc := string(data)
	i, j := strings.Index(doc, beginMarker), strings.Index(doc, endMarker)
	if i < 0 || j < i {
		t.Fatalf("%s lacks the generated-section markers", path)
	}
	want := doc[:i+len(beginMarker)] + "\n\n" + Markdown() + "\n" + doc[j:]
	if want == doc {
		return
	}
	if *update {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("%s is out of date; run: go test ./configs -run TestDocsAreCurrent -update", path)
}

func TestDefaultConfigFileIsCurrent(t *testing.T) {
	path := filepath.Join("..", "conf", ConfigYAML)
	want := DefaultConfigYAML()
	data, err := os.ReadFile(path)
	if *update && (err != nil || string(data) != want) {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if err != nil {
		t.Fatalf("reading %s: %v", path, err)
	}
	if string(data) != want {
		t.Errorf("%s is out of date; run: go test ./configs -run TestDefaultConfigFileIsCurrent -update", path)
	}
}

// TestShippedConfigLoads loads conf/config.yaml as shipped (all commented: no entries), and with
// every option line uncommented, which must give exactly the defaults.
func TestShippedConfigLoads(t *testing.T) {
	text := DefaultConfigYAML()
	dir := t.TempDir()
	writeFile(t, dir, ConfigYAML, text)
	c, err := Load(LoadOptions{ConfDir: dir, LookupEnv: noEnv})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(c.Entries()); n != 0 {
		t.Errorf("shipped config sets %d values", n)
	}

	optionLine := regexp.MustCompile(`^# ([A-Za-z0-9$._-]+):( .*)?$`)
	var b strings.Builder
	uncommented := 0
	for _, l := range strings.Split(text, "\n") {
		if m := optionLine.FindStringSubmatch(l); m != nil {
			if _, _, known := LookupSpec(m[1]); known {
				if m[2] == "" {
					continue // no default: leave it unset
				}
				b.WriteString(m[1] + ":" + m[2] + "\n")
				uncommented++
				continue
			}
		}
		b.WriteString(l + "\n")
	}
	writeFile(t, dir, ConfigYAML, b.String())
	c, err = Load(LoadOptions{ConfDir: dir, LookupEnv: noEnv})
	if err != nil {
		t.Fatalf("uncommented shipped config does not load: %v", err)
	}
	if uncommented < 60 || len(c.Entries()) != uncommented {
		t.Errorf("uncommented %d lines, loaded %d entries", uncommented, len(c.Entries()))
	}
	for _, e := range c.Entries() {
		if e.Spec == nil || !e.Spec.HasDefault || e.Value != e.Spec.Default {
			t.Errorf("%s: uncommented value %q differs from default", e.Key, e.Value)
		}
	}
}

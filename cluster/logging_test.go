package cluster

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func exists(path string) bool { _, err := os.Stat(path); return err == nil }

func TestRollingFileSizeAndBackups(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "jobmanager.log")
	r, err := OpenRollingFile(path, 100, 2, false)
	if err != nil {
		t.Fatal(err)
	}
	line := func(i int) []byte { return []byte(fmt.Sprintf("line %03d %s\n", i, strings.Repeat("x", 30))) } // 40 bytes
	for i := 0; i < 10; i++ {
		if n, err := r.Write(line(i)); err != nil || n != 40 {
			t.Fatalf("write %d: %d %v", i, n, err)
		}
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	// 2 lines (80 bytes) fit in 100; lines 0-1, 2-3, 4-5, 6-7, 8-9: the newest three files remain.
	if got := readFile(t, path); got != string(line(8))+string(line(9)) {
		t.Fatalf("current file:\n%s", got)
	}
	if got := readFile(t, path+".1"); got != string(line(6))+string(line(7)) {
		t.Fatalf(".1:\n%s", got)
	}
	if got := readFile(t, path+".2"); got != string(line(4))+string(line(5)) {
		t.Fatalf(".2:\n%s", got)
	}
	if exists(path + ".3") {
		t.Fatal("more backups than MaxBackups")
	}
	for _, f := range []string{path, path + ".1", path + ".2"} {
		if st, _ := os.Stat(f); st.Size() > 100 {
			t.Fatalf("%s is %d bytes, over the limit", f, st.Size())
		}
	}
	if _, err := r.Write([]byte("x")); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Fatalf("write after close: %v", err)
	}
}

func TestRollingFileReopenAndOversized(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "taskmanager.log")
	r, err := OpenRollingFile(path, 50, 1, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Write([]byte("first process\n")); err != nil {
		t.Fatal(err)
	}
	r.Close()
	// A restarted process continues the file and counts its size.
	r, err = OpenRollingFile(path, 50, 1, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Write([]byte("second process\n")); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, path); got != "first process\nsecond process\n" {
		t.Fatalf("reopened file: %q", got)
	}
	if _, err := r.Write([]byte(strings.Repeat("y", 30) + "\n")); err != nil { // 29+31 > 50: rolls
		t.Fatal(err)
	}
	if got := readFile(t, path+".1"); got != "first process\nsecond process\n" {
		t.Fatalf("rolled: %q", got)
	}
	// A record larger than the limit goes whole into a file of its own.
	big := strings.Repeat("z", 120) + "\n"
	if _, err := r.Write([]byte(big)); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, path); got != big {
		t.Fatalf("oversized record: %q", got)
	}
	// External rotation (logrotate moves the file, then asks for a reopen).
	if err := os.Rename(path, filepath.Join(dir, "moved.log")); err != nil {
		t.Fatal(err)
	}
	if err := r.Reopen(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Write([]byte("after reopen\n")); err != nil {
		t.Fatal(err)
	}
	r.Close()
	if got := readFile(t, path); got != "after reopen\n" {
		t.Fatalf("after reopen: %q", got)
	}
	if got := readFile(t, filepath.Join(dir, "moved.log")); got != big {
		t.Fatalf("moved file was written after the reopen: %q", got)
	}
}

func TestRollingFileNoBackupsAndErrors(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "x.log")
	r, err := OpenRollingFile(path, 10, 0, false)
	if err != nil {
		t.Fatal(err)
	}
	r.Write([]byte("12345678\n"))
	r.Write([]byte("abc\n"))
	r.Close()
	if got := readFile(t, path); got != "abc\n" || exists(path+".1") {
		t.Fatalf("without backups the file is truncated: %q, backup exists: %v", got, exists(path+".1"))
	}
	if _, err := OpenRollingFile(path, -1, 0, false); err == nil {
		t.Fatal("negative size accepted")
	}
	blocker := filepath.Join(dir, "file")
	os.WriteFile(blocker, nil, 0o644)
	if _, err := OpenRollingFile(filepath.Join(blocker, "x.log"), 10, 1, false); err == nil || !strings.Contains(err.Error(), "env.log.dir") {
		t.Fatalf("log dir under a file: %v", err)
	}
}

// TestRollingFileAdoptsStderr runs in a child process (it re-points fd 2): stderr output and
// log records land in the current file, before and after a roll.
func TestRollingFileAdoptsStderr(t *testing.T) {
	if path := os.Getenv("FLINK_GO_TEST_ADOPT_STDERR"); path != "" {
		r, err := OpenRollingFile(path, 60, 2, true)
		if err != nil {
			fmt.Println("open:", err)
			os.Exit(3)
		}
		fmt.Fprintln(os.Stderr, "stderr one")
		r.Write([]byte(strings.Repeat("a", 50) + "\n")) // rolls: "stderr one\n" + 51 > 60
		fmt.Fprintln(os.Stderr, "stderr two")
		os.Exit(0)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "taskmanager.log")
	f, err := os.Create(path) // the shell's redirect: stderr is the log file, truncated, not appending
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestRollingFileAdoptsStderr$")
	cmd.Env = append(os.Environ(), "FLINK_GO_TEST_ADOPT_STDERR="+path)
	cmd.Stderr = f
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("child: %v (context: %v)\n%s", err, ctx.Err(), out)
	}
	if got := readFile(t, path+".1"); got != "stderr one\n" {
		t.Fatalf("rolled file: %q", got)
	}
	if got := readFile(t, path); got != strings.Repeat("a", 50)+"\nstderr two\n" {
		t.Fatalf("current file: %q", got)
	}
}

func TestComponentLevels(t *testing.T) {
	levels, unmapped := ComponentLevels(map[string]string{
		"org.apache.flink":                             "warn",
		"org.apache.flink.runtime.io.network":          "debug",
		"org.apache.flink.runtime.jobmaster.JobMaster": "trace",
		"jobmanager":        "error", // a component's own name wins
		"org.apache.hadoop": "error",
		"org.apache.kafka":  "info",
		"akka":              "warn",
	})
	want := map[string]zerolog.Level{
		"jobmanager": zerolog.ErrorLevel, "network": zerolog.DebugLevel, "taskmanager": zerolog.WarnLevel,
		"pebblestore": zerolog.WarnLevel, "yarn-driver": zerolog.WarnLevel, "yarn-session-am": zerolog.WarnLevel,
		"am-loop":     zerolog.ErrorLevel, // related to both: the longer configured name (org.apache.hadoop) wins
		"yarn-client": zerolog.ErrorLevel, "amrm-client": zerolog.ErrorLevel, "nm-client": zerolog.ErrorLevel,
		"hdfs": zerolog.ErrorLevel, "s3fs": zerolog.ErrorLevel,
	}
	if !reflect.DeepEqual(levels, want) {
		t.Errorf("levels\n got %v\nwant %v", levels, want)
	}
	if !reflect.DeepEqual(unmapped, []string{"akka", "org.apache.kafka"}) {
		t.Errorf("unmapped %v", unmapped)
	}
}

func TestPlanLogging(t *testing.T) {
	dir := t.TempDir()
	// Defaults: console at info (cluster), warn (CLI).
	p, err := PlanLogging(nil, ScopeCluster, "jobmanager.log", LogEnv{})
	if err != nil || p.Root != zerolog.InfoLevel || !p.Console || p.File != "" {
		t.Fatalf("default cluster plan %+v %v", p, err)
	}
	p, _ = PlanLogging(nil, ScopeCLI, "client.log", LogEnv{})
	if p.Root != zerolog.WarnLevel {
		t.Fatalf("CLI default level %v", p.Root)
	}
	// env.log.dir: a file instead of the console; rolling with Flink's default backups.
	conf := map[string]string{"env.log.dir": dir, "env.log.level": "debug", "env.log.file.max-size": "1 kb",
		"env.log.cli.level": "error", "env.log.levels.network": "trace"}
	p, err = PlanLogging(conf, ScopeCluster, "jobmanager.log", LogEnv{})
	if err != nil || p.Root != zerolog.DebugLevel || p.Console || p.File != filepath.Join(dir, "jobmanager.log") ||
		p.MaxSize != 1024 || p.MaxBackups != DefaultMaxLogFiles || p.Components["network"] != zerolog.TraceLevel || p.MinLevel() != zerolog.TraceLevel {
		t.Fatalf("file plan %+v %v", p, err)
	}
	p, err = PlanLogging(conf, ScopeCLI, "client.log", LogEnv{LevelOverride: "INFO"})
	if err != nil || p.Root != zerolog.InfoLevel || p.File != filepath.Join(dir, "client.log") || p.MaxSize != 0 {
		t.Fatalf("CLI plan with --log-level %+v %v", p, err)
	}
	conf["env.log.output"] = "console, file"
	conf["env.log.max"] = "3"
	p, _ = PlanLogging(conf, ScopeCluster, "jobmanager.log", LogEnv{})
	if !p.Console || p.File == "" || p.MaxBackups != 3 {
		t.Fatalf("console,file plan %+v", p)
	}

	// YARN container: the log dir is where stderr goes; a max size turns on the rolling file,
	// which then adopts stderr instead of writing next to it.
	ydir := filepath.Join(dir, "container_1")
	yenv := LogEnv{ContainerLogDirs: ydir + ",/other", StderrPath: filepath.Join(ydir, "taskmanager.log")}
	p, _ = PlanLogging(map[string]string{"env.log.dir": "/var/log/flink-go"}, ScopeCluster, "taskmanager.log", yenv)
	if !p.Console || p.File != "" {
		t.Fatalf("container without rolling keeps the redirect: %+v", p)
	}
	p, _ = PlanLogging(map[string]string{"env.log.dir": "/var/log/flink-go", "env.log.file.max-size": "10 mb"}, ScopeCluster, "taskmanager.log", yenv)
	if p.Console || p.File != filepath.Join(ydir, "taskmanager.log") || !p.AdoptStderr {
		t.Fatalf("container with rolling: %+v", p)
	}
	p, _ = PlanLogging(map[string]string{"env.log.output": "file"}, ScopeCluster, "jobmanager.log", LogEnv{ContainerLogDirs: ydir})
	if p.File != filepath.Join(ydir, "jobmanager.log") || p.AdoptStderr {
		t.Fatalf("container, stderr elsewhere: %+v", p)
	}

	// Bad values: errors naming the key.
	for k, want := range map[string]string{
		"env.log.level":             `key "env.log.level": "loud" is not a log level`,
		"env.log.levels.network":    `key "env.log.levels.network": "loud" is not a log level`,
		"env.log.output":            `key "env.log.output": "loud" is not a log output`,
		"env.log.file.max-size":     `key "env.log.file.max-size": "loud" is not a positive memory size`,
		"env.log.max":               `key "env.log.max": "loud" is not a positive number of files`,
		"env.log.colour":            `key "env.log.colour": unknown logging key`,
		"env.log.session.max":       ``, // other scope: not read
		"env.log.cli.file.max-size": ``,
	} {
		_, err := PlanLogging(map[string]string{k: "loud"}, ScopeCluster, "jobmanager.log", LogEnv{})
		if want == "" {
			if err != nil {
				t.Errorf("%s read in the cluster scope: %v", k, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %s", k, err, want)
		}
	}
	if _, err := PlanLogging(map[string]string{"env.log.cli.max": "0"}, ScopeCLI, "client.log", LogEnv{}); err == nil || !strings.Contains(err.Error(), `key "env.log.cli.max"`) {
		t.Errorf("cli scope: %v", err)
	}
	if _, err := PlanLogging(map[string]string{"env.log.output": "file"}, ScopeCluster, "jobmanager.log", LogEnv{}); err == nil || !strings.Contains(err.Error(), "set env.log.dir") {
		t.Errorf("file without a dir: %v", err)
	}
	if _, err := PlanLogging(nil, ScopeCluster, "jobmanager.log", LogEnv{LevelOverride: "chatty"}); err == nil || !strings.Contains(err.Error(), EnvLogLevel) {
		t.Errorf("bad FLINK_GO_LOG_LEVEL: %v", err)
	}
}

func TestPerComponentFiltering(t *testing.T) {
	p, err := PlanLogging(map[string]string{"env.log.level": "warn", "env.log.levels.org.apache.flink.runtime.io.network": "debug",
		"env.log.levels.hdfs": "disabled", "env.log.levels.org.apache.zookeeper": "info"}, ScopeCluster, "jobmanager.log", LogEnv{})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	log, closer, err := OpenLogging(p, &buf)
	if err != nil {
		t.Fatal(err)
	}
	defer closer.Close()
	tm := log.With().Str("component", "taskmanager").Logger()
	net := tm.With().Str("component", "network").Logger() // derived: the last component counts
	hdfs := log.With().Str("component", "hdfs").Logger()
	log.Info().Msg("root-info-hidden")
	log.Warn().Msg("root-warn-shown")
	tm.Debug().Msg("tm-debug-hidden")
	tm.Error().Msg("tm-error-shown")
	net.Debug().Msg("net-debug-shown")
	net.Trace().Msg("net-trace-hidden")
	hdfs.Error().Msg("hdfs-error-hidden")
	log.Info().Str("note", `"component":"network"`).Msg("quoted-component-hidden")
	out := buf.String()
	for _, s := range []string{"root-warn-shown", "tm-error-shown", "net-debug-shown", "org.apache.zookeeper"} {
		if !strings.Contains(out, s) {
			t.Errorf("%q missing from:\n%s", s, out)
		}
	}
	for _, s := range []string{"hidden"} {
		if strings.Contains(out, s) {
			t.Errorf("%q in:\n%s", s, out)
		}
	}
	if strings.Count(out, "no flink-go component corresponds") != 1 {
		t.Errorf("the unmapped logger is not reported exactly once:\n%s", out)
	}
}

func TestProcessLogFile(t *testing.T) {
	for _, c := range []struct {
		role, id string
		yarn     bool
		want     string
	}{
		{"", "", false, "jobmanager.log"}, {RoleLocal, "", false, "jobmanager.log"}, {"yarn-application", "", true, "jobmanager.log"},
		{RoleTaskManger, "container_1_01_000002", true, "taskmanager.log"}, {RoleTaskManger, "local-tm-2", false, "taskmanager-local-tm-2.log"},
	} {
		if got := processLogFile(c.role, c.id, c.yarn); got != c.want {
			t.Errorf("%+v: %s", c, got)
		}
	}
}

// BenchmarkLevelFilter measures a record through the per-component filter: dropped (a debug
// record of a component at info while another component is at debug) and written (to a text
// line, as on the console or in the file).
func BenchmarkLevelFilter(b *testing.B) {
	p := LogPlan{Root: zerolog.InfoLevel, Components: map[string]zerolog.Level{"network": zerolog.DebugLevel}}
	log := zerolog.New(LevelFilter{Plan: p, Out: zerolog.ConsoleWriter{Out: io.Discard, NoColor: true}}).Level(p.MinLevel()).With().Timestamp().Logger()
	tm := log.With().Str("component", "taskmanager").Str("taskmanager", "container_1_01_000002").Logger()
	b.Run("dropped", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			tm.Debug().Int("n", i).Msg("a debug record of a component at info")
		}
	})
	b.Run("written", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			tm.Info().Int("n", i).Msg("an info record")
		}
	})
	b.Run("disabled-level", func(b *testing.B) { // for comparison: below the logger's own level
		for i := 0; i < b.N; i++ {
			tm.Trace().Int("n", i).Msg("never built")
		}
	})
}

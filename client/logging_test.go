package client_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// writeLog4jClassification writes an EMR classification document with a flink-log4j
// classification in the shape of Flink's log4j.properties: the root logger at rootLevel writing
// to a rolling file of maxSize with maxBackups backups, and extra properties.
func writeLog4jClassification(t *testing.T, path, rootLevel, maxSize, maxBackups string, extra map[string]string) {
	t.Helper()
	props := map[string]string{
		"rootLogger.level":                 rootLevel,
		"rootLogger.appenderRef.file.ref":  "MainAppender",
		"appender.main.name":               "MainAppender",
		"appender.main.type":               "RollingFile",
		"appender.main.fileName":           "${sys:log.file}",
		"appender.main.filePattern":        "${sys:log.file}.%i",
		"appender.main.layout.type":        "PatternLayout",
		"appender.main.layout.pattern":     "%d{yyyy-MM-dd HH:mm:ss,SSS} %-5p %-60c %x - %m%n",
		"appender.main.policies.type":      "Policies",
		"appender.main.policies.size.type": "SizeBasedTriggeringPolicy",
		"appender.main.policies.size.size": maxSize,
		"appender.main.strategy.type":      "DefaultRolloverStrategy",
		"appender.main.strategy.max":       maxBackups,
	}
	for k, v := range extra {
		props[k] = v
	}
	doc := []map[string]any{{"Classification": "flink-log4j", "Properties": props}}
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// logFiles returns the files of dir whose names start with prefix, and their contents.
func logFiles(t *testing.T, dir, prefix string) map[string]string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), prefix) {
			b, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			out[e.Name()] = string(b)
		}
	}
	return out
}

// levelsIn counts the zerolog text levels (DBG, INF, WRN, ...) of the lines of the files.
func levelsIn(files map[string]string) map[string]int {
	n := map[string]int{}
	for _, s := range files {
		for _, line := range strings.Split(s, "\n") {
			f := strings.Fields(line)
			if len(f) >= 3 {
				n[f[2]]++ // 2006-01-02 15:04:05.000 LVL ...
			}
		}
	}
	return n
}

// TestLogClassificationsLocal: `flink-go --classifications doc.json run -t local` with EMR's
// flink-log4j classification: the local cluster process and its TaskManager processes write
// rolled log files of the configured size and count in env.log.dir, at the configured levels.
func TestLogClassificationsLocal(t *testing.T) {
	t.Setenv("FLINK_GO_LOG_LEVEL", "") // only the classification sets the level
	dir := t.TempDir()
	input := filepath.Join(dir, "input.txt")
	writeText(t, input, 64<<10)
	want := shellCounts(t, input)

	t.Run("debug", func(t *testing.T) {
		logDir := filepath.Join(dir, "logs-debug")
		doc := filepath.Join(dir, "debug.json")
		writeLog4jClassification(t, doc, "DEBUG", "600B", "5", map[string]string{
			"logger.akka.name": "akka", "logger.akka.level": "INFO", // no flink-go equivalent: one warning
		})
		out := filepath.Join(dir, "out-debug")
		r := flinkGo(t, 3*time.Minute, "--classifications", doc, "run", "-t", "local", "-p", "2", "-D", "rest.port=0",
			"-D", "local.taskmanagers=2", "-D", "local.taskmanagers.processes=true", "-D", "env.log.dir="+logDir,
			bin("wordcount"), "--input", input, "--output", out)
		if r.code != 0 {
			t.Fatalf("exit %d\n%s", r.code, r.stderr)
		}
		if got := outputCounts(t, out); got != want {
			t.Fatal("wrong word counts with logging to files")
		}
		jm := logFiles(t, logDir, "jobmanager.log")
		if _, ok := jm["jobmanager.log.1"]; !ok {
			t.Fatalf("the JobManager log did not roll at 600 bytes: files %v", sortedNames(jm))
		}
		all := jm
		for i := 1; i <= 2; i++ {
			tm := logFiles(t, logDir, "taskmanager-local-tm-"+string(rune('0'+i))+".log")
			if _, ok := tm["taskmanager-local-tm-"+string(rune('0'+i))+".log.1"]; !ok {
				t.Fatalf("the log of TaskManager process %d did not roll: files %v", i, sortedNames(tm))
			}
			for k, v := range tm {
				all[k] = v
			}
		}
		for name, s := range all {
			if len(s) > 600 {
				t.Errorf("%s has %d bytes, over 600", name, len(s))
			}
			if strings.HasSuffix(name, ".6") {
				t.Errorf("%s: more than 5 backups", name)
			}
		}
		lv := levelsIn(all)
		if lv["DBG"] == 0 || lv["INF"] == 0 {
			t.Fatalf("levels in the files %v: want debug and info records", lv)
		}
		if n := strings.Count(strings.Join(contents(all), ""), "no flink-go component corresponds"); n != 3 {
			// once per process: the local cluster and its two TaskManager processes
			t.Errorf("the unmapped logger akka was reported %d times, want once per process (3)", n)
		}
		if strings.Contains(r.stderr, " INF ") || strings.Contains(r.stderr, " DBG ") {
			t.Errorf("records went to the console although the classification names a file appender:\n%s", r.stderr)
		}
	})

	t.Run("warn", func(t *testing.T) {
		logDir := filepath.Join(dir, "logs-warn")
		doc := filepath.Join(dir, "warn.json")
		// Root WARN; the network component at DEBUG through Flink's logger name.
		writeLog4jClassification(t, doc, "WARN", "2KB", "1", map[string]string{
			"logger.net.name": "org.apache.flink.runtime.io.network", "logger.net.level": "DEBUG",
		})
		out := filepath.Join(dir, "out-warn")
		r := flinkGo(t, 3*time.Minute, "--classifications", doc, "run", "-t", "local", "-p", "2", "-D", "rest.port=0",
			"-D", "env.log.dir="+logDir, bin("wordcount"), "--input", input, "--output", out)
		if r.code != 0 {
			t.Fatalf("exit %d\n%s", r.code, r.stderr)
		}
		jm := logFiles(t, logDir, "jobmanager.log")
		if _, ok := jm["jobmanager.log.2"]; ok || len(jm) == 0 {
			t.Fatalf("files %v: want jobmanager.log and at most one backup", sortedNames(jm))
		}
		for _, line := range strings.Split(strings.Join(contents(jm), ""), "\n") {
			if line == "" {
				continue
			}
			f := strings.Fields(line)
			if len(f) < 3 {
				continue
			}
			if (f[2] == "INF" || f[2] == "DBG" || f[2] == "TRC") && !strings.Contains(line, "component=network") {
				t.Fatalf("a record below WARN of another component than network:\n%s", line)
			}
		}
		if levelsIn(jm)["DBG"] == 0 {
			t.Fatalf("no DEBUG records of the network component (logger org.apache.flink.runtime.io.network): %v", levelsIn(jm))
		}
	})

	t.Run("bad values", func(t *testing.T) {
		doc := filepath.Join(dir, "bad.json")
		writeLog4jClassification(t, doc, "DEBUG", "huge", "2", nil)
		r := flinkGo(t, time.Minute, "--classifications", doc, "run", "-t", "local", bin("wordcount"), "--input", input, "--output", filepath.Join(dir, "x"))
		if r.code != 2 || !strings.Contains(r.stderr, `appender.main.policies.size.size`) || !strings.Contains(r.stderr, `"huge" is not a file size`) {
			t.Fatalf("exit %d, stderr:\n%s", r.code, r.stderr)
		}
		r = flinkGo(t, time.Minute, "run", "-t", "local", "-D", "env.log.levels.network=loud", bin("wordcount"), "--input", input, "--output", filepath.Join(dir, "x"))
		if r.code != 2 || !strings.Contains(r.stderr, `key "env.log.levels.network": "loud" is not a log level`) {
			t.Fatalf("exit %d, stderr:\n%s", r.code, r.stderr)
		}
		// The CLI's own scope (flink-log4j-cli) is checked the same way.
		r = flinkGo(t, time.Minute, "config", "-D", "env.log.cli.max=0")
		if r.code != 2 || !strings.Contains(r.stderr, `key "env.log.cli.max": "0" is not a positive number of files`) {
			t.Fatalf("exit %d, stderr:\n%s", r.code, r.stderr)
		}
		// Valid keys but no log directory for the local process (a YARN container has one): the
		// process says so and logs to stderr.
		r = flinkGo(t, time.Minute, "run", "-t", "local", "-D", "rest.port=0", "-D", "env.log.output=file", bin("wordcount"), "--input", input, "--output", filepath.Join(dir, "x"))
		if !strings.Contains(r.stderr, `key "env.log.output": output "file" needs a log directory: set env.log.dir`) || !strings.Contains(r.stderr, "logging to stderr") {
			t.Fatalf("exit %d, stderr:\n%s", r.code, r.stderr)
		}
	})
}

func sortedNames(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func contents(m map[string]string) []string {
	var out []string
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// TestYarnLogClassifications: on YARN (the mini-cluster), the flink-log4j classification given to
// `run -t yarn-application` reaches the ApplicationMaster and the TaskManager containers, which
// roll jobmanager.log / taskmanager.log in their container log dirs at the configured size,
// keep the configured number of backups and log at the configured level.
func TestYarnLogClassifications(t *testing.T) {
	t.Setenv("FLINK_GO_LOG_LEVEL", "")
	y := setupYarn(t)
	base := "hdfs://" + y.fs.Authority() + y.dir
	doc := filepath.Join(t.TempDir(), "log4j.json")
	writeLog4jClassification(t, doc, "DEBUG", "1KB", "3", nil)
	r := y.cli(t, 5*time.Minute, nil, nil, append(append([]string{"--classifications", doc, "run", "-t", "yarn-application", "-p", "2"},
		y.dflags()...), bin("counting"), "--records", "20000", "--keys", "10", "--every", "1000", "--rate", "100000", "--output", base+"/out")...)
	if r.code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	apps := y.apps(t)
	if len(apps) != 1 {
		t.Fatalf("applications: %+v", apps)
	}
	logs, err := y.c.ContainerLogs(apps[0].ID.String())
	if err != nil {
		t.Fatal(err)
	}
	byKind := map[string]map[string]string{"jobmanager.log": {}, "taskmanager.log": {}}
	for k, v := range logs {
		file := filepath.Base(k)
		for kind := range byKind {
			if file == kind || strings.HasPrefix(file, kind+".") {
				byKind[kind][k] = v
			}
		}
	}
	for kind, files := range byKind {
		rolled, maxIndex := false, 0
		for k, v := range files {
			if strings.HasSuffix(k, kind+".1") {
				rolled = true
			}
			if i := strings.LastIndex(k, kind+"."); i >= 0 {
				var n int
				fmt.Sscanf(k[i+len(kind)+1:], "%d", &n)
				maxIndex = max(maxIndex, n)
			}
			// Records are rolled at 1 KB; other stderr output (none expected) could add to it.
			if len(v) > 2048 {
				t.Errorf("%s has %d bytes: not rolled at 1 KB", k, len(v))
			}
		}
		if !rolled || maxIndex > 3 {
			t.Errorf("%s: files %v: want rolled files, at most 3 backups", kind, sortedNames(files))
		}
		if lv := levelsIn(files); lv["DBG"] == 0 {
			t.Errorf("%s: no DEBUG records (levels %v)", kind, lv)
		}
	}
	if t.Failed() {
		t.Logf("container log files: %v", sortedNames(logs))
	}
	y.assertNothingLeft(t)
}

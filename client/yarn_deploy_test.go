package client

import (
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/flink-go/flink-go/configs"
	"github.com/flink-go/flink-go/yarn"
)

// ConfOf returns a configuration with the key/value pairs kv set in order (origin "test");
// a key or value it refuses fails the test. It is exported for the external tests of this
// package (package client_test), which build their configurations with it as well.
func ConfOf(t *testing.T, kv ...string) *configs.Configuration {
	t.Helper()
	c := configs.New()
	for i := 0; i+1 < len(kv); i += 2 {
		if err := c.Set(kv[i], kv[i+1], configs.CodeOrigin("test")); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

func TestYarnAppSpecDefaults(t *testing.T) {
	s, err := YarnAppSpecFrom(configs.New(), YarnApplicationMode)
	if err != nil {
		t.Fatal(err)
	}
	want := YarnAppSpec{Mode: YarnApplicationMode, Name: "Flink Application Cluster", Type: "flink-go", MaxAttempts: 1,
		AM: yarn.Resource{MemoryMB: 1600, VCores: 1}, TaskManager: yarn.Resource{MemoryMB: 1728, VCores: 1}}
	if s.Name != want.Name || s.Type != want.Type || s.MaxAttempts != 1 || s.AM != want.AM || s.TaskManager != want.TaskManager ||
		s.Queue != "" || s.Priority != 0 || s.KeepContainers || s.AttemptFailuresValidityInterval != 0 || len(s.Tags) != 0 {
		t.Fatalf("defaults: got %+v, want %+v", s, want)
	}
	s, err = YarnAppSpecFrom(configs.New(), YarnSessionMode)
	if err != nil || s.Name != "Flink session cluster" {
		t.Fatalf("session name %q, %v", s.Name, err)
	}
	if _, err := YarnAppSpecFrom(configs.New(), "yarn-nonsense"); err == nil {
		t.Fatal("unknown mode accepted")
	}
}

func TestYarnAppSpecFromFlinkKeys(t *testing.T) {
	c := ConfOf(t,
		"yarn.application.name", "nightly", "yarn.application.type", "Apache Flink", "yarn.application.queue", "etl",
		"yarn.tags", " a, ,b ", "yarn.application.priority", "5", "yarn.application.node-label", "gpu",
		"yarn.application-attempts", "3", "high-availability.type", "FILESYSTEM", "high-availability.storageDir", "hdfs:///ha",
		"yarn.application-attempt-failures-validity-interval", "60000", "jobmanager.memory.process.size", "1g",
		"taskmanager.memory.process.size", "2048m", "taskmanager.numberOfTaskSlots", "4", "yarn.appmaster.vcores", "2")
	s, err := YarnAppSpecFrom(c, YarnApplicationMode)
	if err != nil {
		t.Fatal(err)
	}
	if s.Name != "nightly" || s.Type != "Apache Flink" || s.Queue != "etl" || strings.Join(s.Tags, "|") != "a|b" || s.Priority != 5 ||
		s.NodeLabel != "gpu" || s.MaxAttempts != 3 || !s.KeepContainers || s.AttemptFailuresValidityInterval != time.Minute {
		t.Fatalf("spec %+v", s)
	}
	if s.AM != (yarn.Resource{MemoryMB: 1024, VCores: 2}) || s.TaskManager != (yarn.Resource{MemoryMB: 2048, VCores: 4}) {
		t.Fatalf("resources AM %v TM %v", s.AM, s.TaskManager)
	}
	// HA without explicit attempts: 2; yarn.containers.vcores wins over slots.
	s, err = YarnAppSpecFrom(ConfOf(t, "high-availability.type", "FILESYSTEM", "high-availability.storageDir", "hdfs:///ha",
		"yarn.containers.vcores", "3", "taskmanager.numberOfTaskSlots", "4", "yarn.application.priority", "-1"), YarnSessionMode)
	if err != nil || s.MaxAttempts != 2 || s.TaskManager.VCores != 3 || s.Priority != 0 ||
		s.AttemptFailuresValidityInterval != 10*time.Second {
		t.Fatalf("HA defaults: %+v %v", s, err)
	}
}

func TestCheckYarnResources(t *testing.T) {
	s, err := YarnAppSpecFrom(ConfOf(t, "taskmanager.memory.process.size", "8192m", "jobmanager.memory.process.size", "1000m"), YarnApplicationMode)
	if err != nil {
		t.Fatal(err)
	}
	notes, err := CheckYarnResources(s, 128, yarn.Resource{MemoryMB: 4096, VCores: 8})
	if !errors.Is(err, ErrYarnResources) {
		t.Fatalf("err %v", err)
	}
	if !strings.Contains(err.Error(), "taskmanager.memory.process.size 8192 MB exceeds yarn.scheduler.maximum-allocation-mb 4096 MB") {
		t.Fatalf("message %q", err)
	}
	if len(notes) != 1 || !strings.Contains(notes[0], "YARN grants 1024 MB, 24 MB") {
		t.Fatalf("notes %q", notes)
	}
	s, _ = YarnAppSpecFrom(ConfOf(t, "jobmanager.memory.process.size", "64m", "taskmanager.memory.process.size", "256m", "yarn.appmaster.vcores", "9"), YarnApplicationMode)
	notes, err = CheckYarnResources(s, 128, yarn.Resource{MemoryMB: 4096, VCores: 8})
	if err == nil || !strings.Contains(err.Error(), "yarn.appmaster.vcores 9 exceeds yarn.scheduler.maximum-allocation-vcores 8") {
		t.Fatalf("vcores: %v", err)
	}
	if len(notes) != 1 || !strings.Contains(notes[0], "64 MB is below yarn.scheduler.minimum-allocation-mb 128 MB") {
		t.Fatalf("notes %q", notes)
	}
	s, _ = YarnAppSpecFrom(ConfOf(t, "jobmanager.memory.process.size", "256m", "taskmanager.memory.process.size", "512m"), YarnApplicationMode)
	if notes, err := CheckYarnResources(s, 128, yarn.Resource{MemoryMB: 4096, VCores: 8}); err != nil || len(notes) != 0 {
		t.Fatalf("fitting resources: %q %v", notes, err)
	}
}

// tricky strings: what job arguments and JSON configuration values may contain.
var tricky = []string{"", "plain", "with space", `"quoted"`, "it's", `back\slash`, "$HOME", "`date`", "a\nb", "{{PWD}}x", "!bang", `{"a.b":"c d","e":"$x"}`}

// TestShellQuoteThroughBash runs quoted arguments through a launch script line as the
// NodeManager writes it: exec /bin/bash -c "<command>".
func TestShellQuoteThroughBash(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	var q []string
	for _, s := range tricky {
		q = append(q, shellQuote(s))
	}
	line := `exec /bin/bash -c "` + escapeDoubleQuoted("printf '%s\\0' "+strings.Join(q, " ")) + `"`
	out, err := exec.Command("bash", "-c", line).Output()
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00")
	if strings.Join(got, "|") != strings.Join(tricky, "|") {
		t.Fatalf("got %q, want %q", got, tricky)
	}
}

// TestEscapeEnvThroughBash checks values survive the NodeManager's `export K="V"` lines.
func TestEscapeEnvThroughBash(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	env := map[string]string{}
	for i, s := range tricky {
		if strings.Contains(s, "{{") {
			continue // the NodeManager expands {{VAR}} itself
		}
		env["V"+string(rune('A'+i))] = s
	}
	esc := escapeEnv(env)
	var script strings.Builder
	for k, v := range esc {
		script.WriteString("export " + k + "=\"" + v + "\"\n")
	}
	for k, want := range env {
		out, err := exec.Command("bash", "-c", script.String()+"printf '%s' \"$"+k+"\"").Output()
		if err != nil {
			t.Fatalf("%s: %v\n%s", k, err, script.String())
		}
		if string(out) != want {
			t.Errorf("%s: got %q, want %q", k, out, want)
		}
	}
}

func TestYarnSessionFileRoundTrip(t *testing.T) {
	t.Setenv("FLINK_GO_HOME", t.TempDir())
	if _, ok, err := ReadYarnSession(); ok || err != nil {
		t.Fatalf("empty home: ok=%v err=%v", ok, err)
	}
	id, _ := yarn.ParseApplicationID("application_1700000000000_0042")
	if err := WriteYarnSession(id, map[string]string{"dynamicPropertiesString": "a=b"}); err != nil {
		t.Fatal(err)
	}
	rec, ok, err := ReadYarnSession()
	if err != nil || !ok || rec.AppID != id || rec.Props["dynamicPropertiesString"] != "a=b" {
		t.Fatalf("read back %+v ok=%v err=%v", rec, ok, err)
	}
	other, _ := yarn.ParseApplicationID("application_1700000000000_0043")
	RemoveYarnSession(other) // not ours: stays
	if _, ok, _ := ReadYarnSession(); !ok {
		t.Fatal("removed another session's record")
	}
	RemoveYarnSession(id)
	if _, ok, _ := ReadYarnSession(); ok {
		t.Fatal("record not removed")
	}
	if _, err := parseYarnSession("applicationID=app_1"); err == nil {
		t.Fatal("bad id accepted")
	}
	if _, err := parseYarnSession("# nothing\n"); err == nil {
		t.Fatal("file without id accepted")
	}
	if r, err := parseYarnSession("applicationID : application_1_0001\n"); err != nil || r.AppID.String() != "application_1_0001" {
		t.Fatalf("colon form: %v %v", r, err)
	}
}

func TestMemoryFlag(t *testing.T) {
	for in, want := range map[string]string{"1024": "1024m", "2g": "2g", " 512 ": "512m", "1536 mb": "1536 mb"} {
		if got := memoryFlag(in); got != want {
			t.Errorf("memoryFlag(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestNormalizeArgs(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"flink-go run -t yarn-session -Dyarn.application.id=application_1_0001 ./job -Dx=y --out a",
			"flink-go run -t yarn-session -D yarn.application.id=application_1_0001 ./job -Dx=y --out a"},
		{"flink-go list -Dyarn.application.id=a -D k=v", "flink-go list -D yarn.application.id=a -D k=v"},
		{"flink-go --log-level debug run -d -Da=b -p 2 job -Dc=d", "flink-go --log-level debug run -d -D a=b -p 2 job -Dc=d"},
		{"flink-go run -- -Da=b", "flink-go run -- -Da=b"},
		{"flink-go yarn-session -jm 1024 -Dyarn.tags=a,b -d", "flink-go yarn-session -jm 1024 -D yarn.tags=a,b -d"},
	} {
		if got := strings.Join(NormalizeArgs(strings.Fields(tc.in)), " "); got != tc.want {
			t.Errorf("NormalizeArgs(%q)\n got %q\nwant %q", tc.in, got, tc.want)
		}
	}
}

package am

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flink-go/flink-go/cluster"
	"github.com/flink-go/flink-go/yarn"
)

// TestLaunchContextSurvivesLaunchScript writes the launch context the way the NodeManager's
// UnixShellScriptBuilder does (export K="V"; exec /bin/bash -c "<command>", with <LOG_DIR>
// expanded) and runs it with bash: the environment and the arguments must arrive unchanged.
func TestLaunchContextSurvivesLaunchScript(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	dir := t.TempDir()
	// The "job binary": prints its arguments and two variables, one per line.
	bin := filepath.Join(dir, "job bin's")
	script := "#!/bin/bash\nfor a in \"$@\"; do printf '%s\\n' \"$a\"; done\nprintf '%s\\n' \"$FLINK_GO_JOB_CONFIG\" \"$HADOOP_CONF_DIR\" \"$FLINK_GO_ROLE\" \"$FLINK_GO_HOST\"\necho err >&2\n"
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := `{"a":"x \"quoted\" $HOME ` + "`date`" + ` \\ back"}`
	args := []string{"--output", "hdfs://nn:9000/out dir", "it's", "$(echo no)", "a\"b", ""}
	spec := TaskManagerSpec{BinaryName: "job bin's", Binary: yarn.LocalResource{URL: "hdfs://nn:9000/s/job", Size: 1, Timestamp: 1},
		Files:      map[string]yarn.LocalResource{"hadoop-conf/core-site.xml": {URL: "hdfs://nn:9000/s/hadoop-conf/core-site.xml", Size: 1, Timestamp: 1}},
		JobManager: "nm1:1234", JobID: "j1", ConfigJSON: cfg, Args: args, Slots: 2, User: "alice", Tokens: []byte("tok")}
	c := yarn.Container{ID: cid(7), Node: yarn.NodeID{Host: "nm1.example", Port: 4000}}
	clc, err := spec.LaunchContext(c)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := clc.LocalResources["job bin's"]; !ok || len(clc.LocalResources) != 2 {
		t.Fatalf("resources %v", sortedNames(clc.LocalResources))
	}
	if string(clc.Tokens) != "tok" || clc.Environment[cluster.EnvResourceID] != cid(7).String() || clc.Environment[EnvSlots] != "2" ||
		clc.Environment[yarn.EnvHadoopUser] != "alice" || clc.Environment[cluster.EnvJobManager] != "nm1:1234" {
		t.Fatalf("environment %v", clc.Environment)
	}
	var sb strings.Builder
	sb.WriteString("#!/bin/bash\n")
	for k, v := range clc.Environment {
		v = strings.ReplaceAll(v, "{{PWD}}", "$PWD") // the NodeManager's expansion
		sb.WriteString("export " + k + "=\"" + v + "\"\n")
	}
	cmd := strings.ReplaceAll(strings.Join(clc.Commands, " "), "<LOG_DIR>", dir)
	sb.WriteString("exec /bin/bash -c \"" + cmd + "\"\n")
	launch := filepath.Join(dir, "launch_container.sh")
	if err := os.WriteFile(launch, []byte(sb.String()), 0o755); err != nil {
		t.Fatal(err)
	}
	run := exec.Command("bash", launch)
	run.Dir = dir
	if out, err := run.CombinedOutput(); err != nil {
		t.Fatalf("launch script: %v\n%s\n%s", err, out, sb.String())
	}
	out, err := os.ReadFile(filepath.Join(dir, "taskmanager.out"))
	if err != nil {
		t.Fatal(err)
	}
	want := append(append([]string{}, args...), cfg, dir+"/hadoop-conf", "taskmanager", "nm1.example")
	if got := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n"); strings.Join(got, "\x00") != strings.Join(want, "\x00") {
		t.Fatalf("through the launch script:\n got %q\nwant %q\nscript:\n%s", got, want, sb.String())
	}
	if errOut, _ := os.ReadFile(filepath.Join(dir, "taskmanager.log")); string(errOut) != "err\n" {
		t.Fatalf("stderr not redirected to taskmanager.log: %q", errOut)
	}
}

func TestLaunchContextRejectsBadSpecs(t *testing.T) {
	c := yarn.Container{ID: cid(1)}
	for _, s := range []TaskManagerSpec{
		{BinaryName: "", JobManager: "a:1", JobID: "j", Slots: 1},
		{BinaryName: "a/b", JobManager: "a:1", JobID: "j", Slots: 1},
		{BinaryName: "b", JobManager: "", JobID: "j", Slots: 1},
		{BinaryName: "b", JobManager: "a:1", JobID: "j", Slots: 0},
	} {
		if _, err := s.LaunchContext(c); err == nil {
			t.Errorf("spec %+v accepted", s)
		}
	}
}

func TestResourceDescriptorsRoundTrip(t *testing.T) {
	in := map[string]yarn.LocalResource{
		"hadoop-conf/core-site.xml": {URL: "hdfs://nn:9000/s/hadoop-conf/core-site.xml", Size: 10, Timestamp: 7},
		"libs.tgz":                  {URL: "hdfs://nn:9000/s/libs.tgz", Size: 99, Timestamp: 8, Type: yarn.ResourceArchive, Visibility: yarn.VisibilityPublic},
	}
	s, err := EncodeResources(in)
	if err != nil {
		t.Fatal(err)
	}
	out, err := DecodeResources(s)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 2 || out["libs.tgz"] != in["libs.tgz"] || out["hadoop-conf/core-site.xml"] != in["hadoop-conf/core-site.xml"] {
		t.Fatalf("round trip: %+v", out)
	}
	for _, bad := range []string{
		`[1]`,
		`{"../x": {"url": "hdfs://a/b", "size": 1, "timestamp": 1}}`,
		`{"x": {"url": "", "size": 1, "timestamp": 1}}`,
		`{"x": {"url": "hdfs://a/b", "size": 1, "timestamp": 0}}`,
		`{"x": {"url": "hdfs://a/b", "size": 1, "timestamp": 1, "type": "DIRECTORY"}}`,
	} {
		if _, err := DecodeResources(bad); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

// TestStagedResources lists a staging directory (local here; HDFS in the end-to-end tests) the way
// the AM does when the client did not describe the TaskManagers' files.
func TestStagedResources(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"job", "flink-go", "stop-session", "config.json", "lookup.txt", "hadoop-conf/core-site.xml", "jobs/1/other", "data/sub/x.csv"} {
		p := filepath.Join(dir, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(f), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := stagedResources(t.Context(), "file://"+dir, "job")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"config.json", "data/sub/x.csv", "hadoop-conf/core-site.xml", "lookup.txt"}
	if names := sortedNames(got); strings.Join(names, ",") != strings.Join(want, ",") {
		t.Fatalf("staged resources %v, want %v", names, want)
	}
	r := got["lookup.txt"]
	st, _ := os.Stat(filepath.Join(dir, "lookup.txt"))
	if r.Size != st.Size() || r.Timestamp != st.ModTime().UnixMilli() || !strings.HasPrefix(r.URL, "file://") {
		t.Fatalf("resource %+v", r)
	}
	if _, err := stagedResources(t.Context(), "file://"+filepath.Join(dir, "missing"), "job"); err != nil {
		t.Fatalf("a missing staging dir yields no files, got %v", err)
	}
}

func TestDeleteStagingOnlyDeletesTheApplicationsDirectory(t *testing.T) {
	app := yarn.ApplicationID{ClusterTimestamp: 1795294363208, ID: 7}
	home := t.TempDir()
	staging := filepath.Join(home, ".flink-go", app.String())
	if err := os.MkdirAll(filepath.Join(staging, "hadoop-conf"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(staging, "hadoop-conf", "core-site.xml"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := deleteStaging(t.Context(), "file://"+home, app); err == nil || !strings.Contains(err.Error(), "not named after the application") {
		t.Fatalf("deleting a home directory: %v", err)
	}
	if _, err := os.Stat(home); err != nil {
		t.Fatal("the home directory was deleted")
	}
	if err := deleteStaging(t.Context(), "file://"+staging, app); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(staging); !os.IsNotExist(err) {
		t.Fatalf("staging directory still there: %v", err)
	}
	if err := deleteStaging(t.Context(), "file://"+staging, app); err != nil {
		t.Fatalf("deleting twice: %v", err)
	}
}

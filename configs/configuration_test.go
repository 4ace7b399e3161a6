package configs

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

func TestRegistryIsConsistent(t *testing.T) {
	all := All()
	if len(all) < 80 {
		t.Fatalf("only %d options registered", len(all))
	}
	for _, s := range all {
		if s.Description == "" {
			t.Errorf("%s: no description", s.Key)
		}
		if s.HasDefault {
			if err := s.Validate(s.Default); err != nil {
				t.Errorf("%s: default %q does not parse: %v", s.Key, s.Default, err)
			}
		}
		for _, fb := range s.FallbackKeys {
			fs, dep, ok := LookupSpec(fb)
			if !ok || dep {
				t.Errorf("%s: fallback key %q is not a registered option", s.Key, fb)
				continue
			}
			if fs.Kind != s.Kind {
				t.Errorf("%s: fallback %q has kind %s, want %s", s.Key, fb, fs.Kind, s.Kind)
			}
		}
		if _, ok := passThroughFor(s.Key); ok && !strings.HasPrefix(s.Key, "s3.") {
			t.Errorf("%s lies in a pass-through namespace", s.Key)
		}
	}
}

func TestFlinkDefaults(t *testing.T) {
	var c *Configuration // nil: all defaults
	checks := []struct {
		got, want any
	}{
		{Get(c, Parallelism), 1},
		{Get(c, NumberOfTaskSlots), 1},
		{Get(c, MaxParallelism), 128},
		{Get(c, BufferTimeout), 100 * time.Millisecond},
		{Get(c, CheckpointTimeout), 10 * time.Minute},
		{Get(c, CheckpointMode), ExactlyOnce},
		{Get(c, MaxConcurrentCheckpoints), 1},
		{Get(c, CheckpointsNumRetained), 1},
		{Get(c, ExternalizedCheckpointRetention), NoExternalizedRetained},
		{Get(c, RestPort), 8081},
		{Get(c, JobManagerPort), 6123},
		{Get(c, SegmentSize), 32 * KibiByte},
		{Get(c, TaskManagerMemory), 1728 * MebiByte},
		{Get(c, FixedDelayAttempts), 1},
		{Get(c, FixedDelayDelay), time.Second},
		{Get(c, TaskManagerIdleTimeout), 30 * time.Second},
		{Get(c, YarnAttemptFailuresValidityInterval), int64(10000)},
		{Get(c, YarnAppMasterVcores), 1},
		{Get(c, YarnContainerVcores), -1},
		{Get(c, YarnPriority), -1},
		{Get(c, YarnFileReplication), -1},
		{Get(c, YarnApplicationType), "Apache Flink"},
		{Get(c, YarnHeartbeatInterval), 5 * time.Second},
		{Get(c, HAClusterID), "/default"},
		{Get(c, HighAvailability), HANone},
		{Get(c, S3EntropyLength), 4},
		{Get(c, KerberosUseTicketCache), true},
		{Get(c, LocalTaskManagers), 1},
		{Get(c, LocalTaskManagerProcesses), false},
		{Get(c, StateBackend), BackendHashMap},
		{Get(c, TmpDirs), []string(nil)},
		{Get(c, RestartStrategy), RestartStrategyType("")},
	}
	for i, ch := range checks {
		if !reflect.DeepEqual(ch.got, ch.want) {
			t.Errorf("check %d: got %#v, want %#v", i, ch.got, ch.want)
		}
	}
}

func TestSetGetTyped(t *testing.T) {
	c := New()
	at := FileOrigin("conf/config.yaml", 3)
	must := func(k, v string) {
		t.Helper()
		if err := c.Set(k, v, at); err != nil {
			t.Fatalf("Set(%q, %q): %v", k, v, err)
		}
	}
	must("parallelism.default", "4")
	must("execution.checkpointing.interval", "30 s")
	must("taskmanager.memory.process.size", "4g")
	must("yarn.tags", "etl, nightly")
	must("yarn.ship-files", "/a;/b")
	must("pipeline.global-job-parameters", "env:prod,team:data")
	must("execution.checkpointing.mode", "at_least_once")
	must("restart-strategy.exponential-delay.backoff-multiplier", "2.0")

	if got := Get(c, Parallelism); got != 4 {
		t.Errorf("parallelism = %d", got)
	}
	if got := Get(c, CheckpointInterval); got != 30*time.Second {
		t.Errorf("interval = %v", got)
	}
	if got := Get(c, TaskManagerMemory); got != 4*GibiByte {
		t.Errorf("memory = %v", got)
	}
	if got := Get(c, YarnTags); !reflect.DeepEqual(got, []string{"etl", "nightly"}) {
		t.Errorf("tags = %q", got)
	}
	if got := Get(c, YarnShipFiles); !reflect.DeepEqual(got, []string{"/a", "/b"}) {
		t.Errorf("ship files = %q", got)
	}
	if got := Get(c, GlobalJobParameters); !reflect.DeepEqual(got, map[string]string{"env": "prod", "team": "data"}) {
		t.Errorf("params = %v", got)
	}
	if got := Get(c, CheckpointMode); got != AtLeastOnce {
		t.Errorf("mode = %q", got)
	}
	if got := Get(c, ExpDelayMultiplier); got != 2.0 {
		t.Errorf("multiplier = %v", got)
	}
	v, origin := GetWithOrigin(c, Parallelism)
	if v != 4 || origin != at {
		t.Errorf("GetWithOrigin = %v, %v", v, origin)
	}
	if _, origin := GetWithOrigin(c, RestPort); origin.Kind != OriginDefault {
		t.Errorf("unset option origin = %v", origin)
	}
	if !IsSet(c, Parallelism) || IsSet(c, RestPort) {
		t.Error("IsSet wrong")
	}
	if err := SetValue(c, RestPort, 9000, CodeOrigin("flag --rest-port")); err != nil {
		t.Fatal(err)
	}
	if got := Get(c, RestPort); got != 9000 {
		t.Errorf("rest.port after SetValue = %d", got)
	}
	if err := SetValue(c, CheckpointTimeout, 90*time.Second, CodeOrigin("test")); err != nil {
		t.Fatal(err)
	}
	if val, _, _ := c.Lookup("execution.checkpointing.timeout"); val != "90 s" {
		t.Errorf("formatted duration = %q", val)
	}
	c.Unset("parallelism.default")
	if got := Get(c, Parallelism); got != 1 {
		t.Errorf("after Unset parallelism = %d", got)
	}
}

func TestSetRejects(t *testing.T) {
	c := New()
	at := FileOrigin("/etc/flink/config.yaml", 7)
	tests := []struct {
		key, value string
		sentinel   error
		mention    []string
	}{
		{"paralelism.default", "2", ErrUnknownKey, []string{"/etc/flink/config.yaml:7", `"paralelism.default"`, `did you mean "parallelism.default"`}},
		{"completely.unknown.key", "x", ErrUnknownKey, []string{"completely.unknown.key", "pass-through"}},
		{"parallelism.default", "many", ErrInvalidValue, []string{"parallelism.default", "not an integer", ":7"}},
		{"execution.checkpointing.interval", "10 fortnights", ErrInvalidValue, []string{"unknown unit"}},
		{"taskmanager.memory.process.size", "lots", ErrInvalidValue, []string{"memory size"}},
		{"execution.checkpointing.mode", "twice", ErrInvalidValue, []string{"EXACTLY_ONCE, AT_LEAST_ONCE"}},
		{"local.taskmanagers.processes", "yes", ErrInvalidValue, []string{"true or false"}},
		{"", "x", ErrUnknownKey, nil},
	}
	for _, tt := range tests {
		err := c.Set(tt.key, tt.value, at)
		if err == nil {
			t.Errorf("Set(%q, %q) accepted", tt.key, tt.value)
			continue
		}
		if !errors.Is(err, tt.sentinel) {
			t.Errorf("Set(%q, %q) = %v, want %v", tt.key, tt.value, err, tt.sentinel)
		}
		var ce *Error
		if !errors.As(err, &ce) || ce.Origin != at {
			t.Errorf("Set(%q) error %v is not an *Error with the origin", tt.key, err)
		}
		for _, m := range tt.mention {
			if !strings.Contains(err.Error(), m) {
				t.Errorf("Set(%q, %q) error %q does not mention %q", tt.key, tt.value, err, m)
			}
		}
	}
	if len(c.Entries()) != 0 {
		t.Errorf("rejected values were stored: %v", c.Entries())
	}
}

func TestPassThrough(t *testing.T) {
	c := New()
	for _, k := range []string{
		"flink.hadoop.dfs.replication", "flink.yarn.resourcemanager.address", "env.java.opts",
		"containerized.master.env.JAVA_HOME", "containerized.taskmanager.env.FOO", "metrics.reporter.prom.port",
		"s3.connection.maximum", "user.my-job.threshold", "$internal.pipeline.job-id",
	} {
		if err := c.Set(k, "anything goes", DynamicOrigin); err != nil {
			t.Errorf("pass-through key %q rejected: %v", k, err)
		}
	}
	// JVM-only Flink keys load, with a warning.
	var logs bytes.Buffer
	c.WithLogger(zerolog.New(&logs))
	for _, k := range []string{"taskmanager.memory.jvm-metaspace.size", "classloader.check-leaked-classloader", "jobmanager.archive.fs.dir", "metrics.latency.interval"} {
		if err := c.Set(k, "1", FileOrigin("flink-conf.yaml", 1)); err != nil {
			t.Errorf("JVM-only key %q rejected: %v", k, err)
		}
	}
	if n := strings.Count(logs.String(), "has no effect in flink-go"); n != 4 {
		t.Errorf("%d warnings about ignored keys: %s", n, logs.String())
	}
	if err := c.Set("jobmanager.archive.fs.dirx", "1", DynamicOrigin); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("whole-key pass-through matched a longer key: %v", err)
	}
	// A known option inside a pass-through namespace is still validated.
	if err := c.Set("s3.path.style.access", "maybe", DynamicOrigin); !errors.Is(err, ErrInvalidValue) {
		t.Errorf("s3.path.style.access=maybe: %v", err)
	}
	// The bare prefix is not a key.
	if err := c.Set("flink.hadoop.", "x", DynamicOrigin); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("bare prefix accepted: %v", err)
	}
	for _, e := range c.Entries() {
		if e.Spec != nil {
			t.Errorf("pass-through %s has a spec", e.Key)
		}
	}
}

func TestDeprecatedKeys(t *testing.T) {
	var logs bytes.Buffer
	c := New().WithLogger(zerolog.New(&logs))
	fileA := FileOrigin("a.yaml", 1)
	if err := c.Set("state.checkpoints.dir", "hdfs:///old", fileA); err != nil {
		t.Fatal(err)
	}
	if got := Get(c, CheckpointDir); got != "hdfs:///old" {
		t.Errorf("deprecated key not mapped: %q", got)
	}
	if !strings.Contains(logs.String(), "deprecated configuration key") || !strings.Contains(logs.String(), "execution.checkpointing.dir") {
		t.Errorf("no deprecation warning: %s", logs.String())
	}
	// The current key from the same kind of source wins, in either order.
	if err := c.Set("execution.checkpointing.dir", "hdfs:///new", FileOrigin("a.yaml", 2)); err != nil {
		t.Fatal(err)
	}
	if err := c.Set("state.checkpoints.dir", "hdfs:///older", FileOrigin("a.yaml", 3)); err != nil {
		t.Fatal(err)
	}
	if got := Get(c, CheckpointDir); got != "hdfs:///new" {
		t.Errorf("current key lost to deprecated one: %q", got)
	}
	// A deprecated key from a higher-precedence source still overrides.
	if err := c.Set("state.checkpoints.dir", "s3://b/cp", DynamicOrigin); err != nil {
		t.Fatal(err)
	}
	if got := Get(c, CheckpointDir); got != "s3://b/cp" {
		t.Errorf("-D deprecated key did not override the file: %q", got)
	}
	e := c.Entries()[0]
	if e.Key != "execution.checkpointing.dir" || e.SetAs != "state.checkpoints.dir" {
		t.Errorf("entry = %+v", e)
	}
	if v, _, ok := c.Lookup("state.checkpoints.dir"); !ok || v != "s3://b/cp" {
		t.Errorf("Lookup via deprecated key = %q, %v", v, ok)
	}
}

func TestFallbackKeys(t *testing.T) {
	c := New()
	if got := Get(c, RestAddress); got != "" {
		t.Errorf("rest.address default = %q", got)
	}
	if err := c.Set("jobmanager.rpc.address", "jm.example.com", DynamicOrigin); err != nil {
		t.Fatal(err)
	}
	if got, origin := GetWithOrigin(c, RestAddress); got != "jm.example.com" || origin != DynamicOrigin {
		t.Errorf("rest.address via fallback = %q (%v)", got, origin)
	}
	if err := c.Set("rest.address", "rest.example.com", DynamicOrigin); err != nil {
		t.Fatal(err)
	}
	if got := Get(c, RestAddress); got != "rest.example.com" {
		t.Errorf("rest.address = %q", got)
	}
}

func TestEntriesMapClone(t *testing.T) {
	c := New()
	_ = c.Set("rest.port", "9090", FileOrigin("f", 1))
	_ = c.Set("parallelism.default", "3", DynamicOrigin)
	_ = c.Set("flink.hadoop.fs.defaultFS", "hdfs://nn:8020", DynamicOrigin)

	es := c.Entries()
	keys := make([]string, len(es))
	for i, e := range es {
		keys[i] = e.Key
	}
	if want := []string{"flink.hadoop.fs.defaultFS", "parallelism.default", "rest.port"}; !reflect.DeepEqual(keys, want) {
		t.Errorf("Entries keys = %v, want %v", keys, want)
	}
	m := c.Map()
	if m["rest.port"] != "9090" || m["parallelism.default"] != "3" || len(m) != 3 {
		t.Errorf("Map = %v", m)
	}
	eff := c.EffectiveEntries()
	if len(eff) != len(All())+1 {
		t.Errorf("EffectiveEntries has %d entries, want %d", len(eff), len(All())+1)
	}
	for _, e := range eff {
		if e.Key == "rest.port" && e.Value != "9090" {
			t.Errorf("effective rest.port = %q", e.Value)
		}
		if e.Key == "taskmanager.memory.segment-size" && (e.Value != "32 kb" || !e.IsDefault()) {
			t.Errorf("effective segment size = %+v", e)
		}
	}

	cl := c.Clone()
	_ = cl.Set("rest.port", "1", DynamicOrigin)
	if Get(c, RestPort) != 9090 || Get(cl, RestPort) != 1 {
		t.Error("Clone is not independent")
	}

	// A shipped map re-applies to the same configuration on the other side.
	other := New()
	if err := other.SetAll(c.Map(), Origin{Kind: OriginCode, Name: "client"}); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(other.Map(), c.Map()) {
		t.Errorf("SetAll(Map()) = %v", other.Map())
	}
	if err := other.SetAll(map[string]string{"bogus.key": "1", "rest.port": "x", "parallelism.default": "7"}, DynamicOrigin); err == nil {
		t.Error("SetAll accepted bad entries")
	} else if !strings.Contains(err.Error(), "bogus.key") || !strings.Contains(err.Error(), "rest.port") {
		t.Errorf("SetAll error does not name both keys: %v", err)
	}
	if Get(other, Parallelism) != 7 {
		t.Error("SetAll did not apply the valid entry")
	}
}

func TestOriginString(t *testing.T) {
	tests := []struct {
		o    Origin
		want string
	}{
		{DefaultOrigin, "default"},
		{FileOrigin("conf/config.yaml", 12), "conf/config.yaml:12"},
		{DynamicOrigin, "-D"},
		{Origin{Kind: OriginEnv, Name: "FLINK_PROPERTIES", Line: 2}, "env FLINK_PROPERTIES:2"},
		{ClassificationOrigin("flink-conf"), "classification flink-conf"},
		{CodeOrigin("flag -p"), "flag -p"},
	}
	for _, tt := range tests {
		if got := tt.o.String(); got != tt.want {
			t.Errorf("%#v.String() = %q, want %q", tt.o, got, tt.want)
		}
	}
}

func TestConstraints(t *testing.T) {
	c := New()
	bad := map[string]string{
		"parallelism.default":                                "0",
		"pipeline.max-parallelism":                           "40000",
		"rest.port":                                          "70000",
		"taskmanager.memory.segment-size":                    "3000",
		"restart-strategy.exponential-delay.jitter-factor":   "1.5",
		"yarn.containers.vcores":                             "0",
		"execution.checkpointing.timeout":                    "0",
		"execution.checkpointing.max-concurrent-checkpoints": "0",
	}
	for k, v := range bad {
		err := c.Set(k, v, DynamicOrigin)
		if !errors.Is(err, ErrInvalidValue) || !strings.Contains(err.Error(), "must be") {
			t.Errorf("%s=%s: %v", k, v, err)
		}
	}
	good := map[string]string{
		"parallelism.default":             "1",
		"pipeline.max-parallelism":        "32768",
		"rest.port":                       "0",
		"taskmanager.memory.segment-size": "64kb",
		"yarn.containers.vcores":          "-1",
	}
	for k, v := range good {
		if err := c.Set(k, v, DynamicOrigin); err != nil {
			t.Errorf("%s=%s: %v", k, v, err)
		}
	}
	if !strings.Contains(Markdown(), "Must be a power of two of at least 4 kb.") {
		t.Error("constraint not documented")
	}
}

func TestPrefixMapAndOverlayFromMap(t *testing.T) {
	c := New()
	_ = c.Set("flink.hadoop.dfs.replication", "2", DynamicOrigin)
	_ = c.Set("flink.hadoop.fs.defaultFS", "hdfs://nn", DynamicOrigin)
	_ = c.Set("containerized.master.env.JAVA_HOME", "/usr/lib/jvm", DynamicOrigin)
	got := c.PrefixMap("flink.hadoop.")
	if !reflect.DeepEqual(got, map[string]string{"dfs.replication": "2", "fs.defaultFS": "hdfs://nn"}) {
		t.Errorf("PrefixMap = %v", got)
	}
	if got := c.PrefixMap("containerized.master.env."); got["JAVA_HOME"] != "/usr/lib/jvm" || len(got) != 1 {
		t.Errorf("env PrefixMap = %v", got)
	}

	ov := OverlayFromMap("flink-conf", map[string]string{"taskmanager.numberOfTaskSlots": "4", "parallelism.default": "2"})
	if len(ov.Entries) != 2 || ov.Entries[0].Key != "parallelism.default" || ov.Entries[0].Origin != ClassificationOrigin("flink-conf") {
		t.Errorf("OverlayFromMap = %+v", ov)
	}
	loaded, err := Load(LoadOptions{LookupEnv: noEnv, Overlays: []Overlay{ov}, Dynamic: []string{"parallelism.default=3"}})
	if err != nil {
		t.Fatal(err)
	}
	if Get(loaded, NumberOfTaskSlots) != 4 || Get(loaded, Parallelism) != 3 {
		t.Errorf("overlay/-D precedence wrong: %v", loaded.Map())
	}
}

func TestConcurrentUse(t *testing.T) {
	c := New()
	done := make(chan struct{})
	for g := 0; g < 4; g++ {
		go func(g int) {
			defer func() { done <- struct{}{} }()
			for i := 0; i < 200; i++ {
				_ = SetValue(c, Parallelism, 1+(g*200+i)%100, DynamicOrigin)
				_ = Get(c, Parallelism)
				_ = c.Entries()
				_ = c.Clone().Map()
			}
		}(g)
	}
	for g := 0; g < 4; g++ {
		<-done
	}
	if p := Get(c, Parallelism); p < 1 || p > 100 {
		t.Errorf("parallelism = %d", p)
	}
}

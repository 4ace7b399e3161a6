package emr

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/flink-go/flink-go/cluster"
	"github.com/flink-go/flink-go/configs"
)

func TestLog4j2Levels(t *testing.T) {
	props := map[string]string{
		"rootLogger.level":                  "WARN",
		"rootLogger.appenderRef.file.ref":   "MainAppender",
		"logger.kafka.name":                 "org.apache.kafka",
		"logger.kafka.level":                "ERROR",
		"logger.net.name":                   "taskmanager.network",
		"logger.net.level":                  "${sys:net.level:-DEBUG}",
		"logger.quiet.name":                 "noisy",
		"logger.quiet.level":                "OFF",
		"logger.orphan.name":                "no.level.here",
		"monitorInterval":                   "30",
		"appender.main.policies.size.size":  "256 MB",
		"appender.main.strategy.max":        "3",
		"appender.console.layout.pattern":   "%m%n",
		"property.log.dir":                  "/var/log",
		"logger.kafka.additivity":           "false",
		"appender.main.policies.time.type":  "TimeBasedTriggeringPolicy",
		"appender.main.policies.size.type":  "SizeBasedTriggeringPolicy",
		"appender.main.strategy.type":       "DefaultRolloverStrategy",
		"appender.console.type":             "Console",
		"appender.console.layout.type":      "PatternLayout",
		"filter.threshold.type":             "ThresholdFilter",
		"logger.kafka.appenderRef.file.ref": "MainAppender",
	}
	l, ignored, err := ParseLog4j(props, ScopeCLI)
	if err != nil {
		t.Fatal(err)
	}
	want := LoggingConfig{Scope: ScopeCLI, RootLevel: "warn",
		Levels:      map[string]string{"org.apache.kafka": "error", "taskmanager.network": "debug", "noisy": "disabled"},
		MaxFileSize: 256 * configs.MebiByte, MaxFiles: 3}
	if !reflect.DeepEqual(l, want) {
		t.Fatalf("got %+v\nwant %+v", l, want)
	}
	for _, k := range []string{"monitorInterval", "appender.console.layout.pattern", "logger.orphan.name", "rootLogger.appenderRef.file.ref"} {
		if !contains(ignored, k) {
			t.Errorf("%s not reported as ignored: %q", k, ignored)
		}
	}
	keys := l.Keys()
	wantKeys := map[string]string{
		"env.log.cli.level": "warn", "env.log.cli.levels.org.apache.kafka": "error",
		"env.log.cli.levels.taskmanager.network": "debug", "env.log.cli.levels.noisy": "disabled",
		"env.log.cli.file.max-size": "256 mb", "env.log.cli.max": "3",
	}
	if !reflect.DeepEqual(keys, wantKeys) {
		t.Fatalf("keys %v", keys)
	}
	// Round trip through the configuration keys.
	back, err := LoggingFromConfig(keys, ScopeCLI)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, want) {
		t.Fatalf("round trip %+v", back)
	}
	// Hierarchical lookup.
	for name, lvl := range map[string]zerolog.Level{
		"org.apache.kafka.clients": zerolog.ErrorLevel, "org.apache.kafkaesque": zerolog.WarnLevel,
		"taskmanager.network": zerolog.DebugLevel, "noisy.x": zerolog.Disabled, "jobmanager": zerolog.WarnLevel,
	} {
		if got := l.LevelFor(name); got != lvl {
			t.Errorf("LevelFor(%s) = %s, want %s", name, got, lvl)
		}
	}
	if (LoggingConfig{}).LevelFor("x") != zerolog.InfoLevel {
		t.Error("default level is not info")
	}
}

func TestLog4j1(t *testing.T) {
	l, _, err := ParseLog4j(map[string]string{
		"log4j.rootLogger":                   "DEBUG, file",
		"log4j.logger.org.apache.hadoop":     "WARN",
		"log4j.appender.file":                "org.apache.log4j.RollingFileAppender",
		"log4j.appender.file.MaxFileSize":    "10MB",
		"log4j.appender.file.MaxBackupIndex": "5",
		"log4j.additivity.org.apache.hadoop": "false",
	}, ScopeSession)
	if err != nil {
		t.Fatal(err)
	}
	if l.RootLevel != "debug" || l.Levels["org.apache.hadoop"] != "warn" || l.MaxFileSize != 10*configs.MebiByte || l.MaxFiles != 5 {
		t.Fatalf("%+v", l)
	}
	if k := l.Keys(); k["env.log.session.level"] != "debug" || k["env.log.session.max"] != "5" {
		t.Fatalf("keys %v", k)
	}
}

func TestLog4jErrors(t *testing.T) {
	for props, want := range map[string]string{
		"logger.x.level=INFO":                    `logger.x.level without logger.x.name`,
		"appender.main.policies.size.size=big":   `"big" is not a file size`,
		"appender.main.strategy.max=0":           `"0" is not a positive number of files`,
		"rootLogger.level=${sys:flink.level}":    `lookup without a default`,
		"log4j.appender.f.MaxBackupIndex=-1":     `not a positive number`,
		"custom.thing=1":                         `not a log4j setting`,
		"log4j.logger.org.apache.flink=VERBOSE,": `"VERBOSE" is not a log4j level`,
	} {
		k, v, _ := strings.Cut(props, "=")
		_, _, err := ParseLog4j(map[string]string{k: v}, ScopeCluster)
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), `property "`+k+`"`) {
			t.Errorf("%s: error %v, want %s", props, err, want)
		}
	}
}

func TestLoggingFromConfigScopes(t *testing.T) {
	conf := map[string]string{
		"env.log.level": "error", "env.log.dir": "/var/log/flink-go", "env.log.session.level": "debug",
		"env.log.cli.levels.yarn": "trace", "parallelism.default": "3",
	}
	l, err := LoggingFromConfig(conf, ScopeCluster)
	if err != nil || l.RootLevel != "error" || len(l.Levels) != 0 {
		t.Fatalf("cluster %+v %v", l, err)
	}
	l, err = LoggingFromConfig(conf, ScopeCLI)
	if err != nil || l.Levels["yarn"] != "trace" || l.RootLevel != "" {
		t.Fatalf("cli %+v %v", l, err)
	}
	_, err = LoggingFromConfig(map[string]string{"env.log.level": "chatty", "env.log.bogus": "1"}, ScopeCluster)
	if err == nil || !strings.Contains(err.Error(), `key "env.log.level": "chatty" is not a log level`) || !strings.Contains(err.Error(), `key "env.log.bogus": unknown logging key`) {
		t.Fatalf("err %v", err)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestDetectNode(t *testing.T) {
	root := t.TempDir()
	if _, err := DetectNode(root); err == nil || !strings.Contains(err.Error(), "not an Amazon EMR node") {
		t.Fatalf("empty root: %v", err)
	}
	// The shape of EMR's files (fields flink-go does not read are kept to show that they are
	// skipped).
	writeFile(t, filepath.Join(root, InstanceInfoPath), `{"isMaster": false, "isRunningNameNode": false, "isRunningDataNode": true,
	  "isRunningJobTracker": false, "isRunningTaskTracker": true, "isRunningResourceManager": false,
	  "isRunningNodeManager": true, "instanceGroupId": "ig-2CORE"}`)
	writeFile(t, filepath.Join(root, JobFlowInfoPath), `{"jobFlowId": "j-2AXXXXXXGAPLF", "jobFlowCreationInstant": 1429046932628,
	  "instanceCount": 3, "masterInstanceId": "i-08dea4f4", "masterPrivateDnsName": "ip-10-0-0-5.ec2.internal",
	  "masterInstanceType": "m5.xlarge", "slaveInstanceType": "m5.xlarge", "hadoopVersion": "3.3.6",
	  "instanceGroups": [
	    {"instanceGroupId": "ig-1MASTER", "instanceGroupName": "Primary", "instanceRole": "Master", "marketType": "OnDemand", "instanceType": "m5.xlarge", "requestedInstanceCount": 1},
	    {"instanceGroupId": "ig-2CORE", "instanceGroupName": "Core", "instanceRole": "Core", "marketType": "OnDemand", "instanceType": "m5.xlarge", "requestedInstanceCount": 2}]}`)
	n, err := DetectNode(root)
	if err != nil {
		t.Fatal(err)
	}
	if n.ClusterID != "j-2AXXXXXXGAPLF" || n.IsMaster || n.InstanceGroupID != "ig-2CORE" || n.InstanceRole != "core" ||
		n.MasterPrivateDNS != "ip-10-0-0-5.ec2.internal" || len(n.InstanceGroups) != 2 || n.InstanceGroups[1].Count != 2 {
		t.Fatalf("%+v", n)
	}
	if n.StepLogDir("s-1") != filepath.Join(root, "mnt/var/log/hadoop/steps/s-1") {
		t.Fatal(n.StepLogDir("s-1"))
	}
	// HADOOP_CONF_DIR: environment first, then EMR's directory when it exists.
	if d := DefaultHadoopConfDir(root, noEnv); d != "" {
		t.Fatalf("no conf dir yet: %q", d)
	}
	if err := os.MkdirAll(filepath.Join(root, "etc/hadoop/conf"), 0o755); err != nil {
		t.Fatal(err)
	}
	if d := DefaultHadoopConfDir(root, noEnv); d != filepath.Join(root, "etc/hadoop/conf") {
		t.Fatalf("conf dir %q", d)
	}
	env := func(k string) (string, bool) { return "/opt/hadoop/etc", k == "HADOOP_CONF_DIR" }
	if d := DefaultHadoopConfDir(root, env); d != "/opt/hadoop/etc" {
		t.Fatalf("env conf dir %q", d)
	}

	writeFile(t, filepath.Join(root, InstanceInfoPath), `{"isMaster": true}`)
	if n, err := DetectNode(root); err != nil || !n.IsMaster || n.InstanceRole != "master" {
		t.Fatalf("master: %+v %v", n, err)
	}
	writeFile(t, filepath.Join(root, InstanceInfoPath), `{"isMaster": tru`)
	if _, err := DetectNode(root); err == nil || !strings.Contains(err.Error(), "instance.json: malformed JSON") {
		t.Fatalf("malformed: %v", err)
	}
	writeFile(t, filepath.Join(root, InstanceInfoPath), `{"isMaster": true}`)
	writeFile(t, filepath.Join(root, JobFlowInfoPath), `{"jobFlowId": "cluster-1"}`)
	if _, err := DetectNode(root); err == nil || !strings.Contains(err.Error(), `"cluster-1" is not a cluster id`) {
		t.Fatalf("bad id: %v", err)
	}
}

func TestLoggerPerComponent(t *testing.T) {
	var buf strings.Builder
	base := zerolog.New(&buf)
	l := LoggingConfig{RootLevel: "warn", Levels: map[string]string{"yarn": "debug"}}
	yl := l.Logger(base, "yarn.client")
	yl.Debug().Msg("shown")
	jl := l.Logger(base, "jobmanager")
	jl.Info().Msg("hidden")
	jl.Warn().Msg("warned")
	out := buf.String()
	if !strings.Contains(out, `"component":"yarn.client"`) || !strings.Contains(out, "shown") || strings.Contains(out, "hidden") || !strings.Contains(out, "warned") {
		t.Fatalf("log output:\n%s", out)
	}
}

func TestLog4jOutputs(t *testing.T) {
	// Flink's default log4j.properties shape: the root logger writes to a rolling file.
	l, ignored, err := ParseLog4j(map[string]string{
		"rootLogger.level":                       "DEBUG",
		"rootLogger.appenderRef.file.ref":        "MainAppender",
		"appender.main.name":                     "MainAppender",
		"appender.main.type":                     "RollingFile",
		"appender.main.fileName":                 "${sys:log.file}",
		"appender.main.policies.size.size":       "1KB",
		"appender.main.strategy.max":             "2",
		"appender.console.name":                  "ConsoleAppender",
		"appender.console.type":                  "CONSOLE",
		"logger.netty.name":                      "org.jboss.netty.channel.DefaultChannelPipeline",
		"logger.netty.level":                     "OFF",
		"logger.network.name":                    "org.apache.flink.runtime.io.network",
		"logger.network.level":                   "TRACE",
		"appender.main.layout.pattern":           "%d %m%n",
		"rootLogger.appenderRef.unknown.ref":     "NoSuchAppender",
		"logger.network.appenderRef.console.ref": "ConsoleAppender",
		"appender.main.policies.size.type":       "SizeBasedTriggeringPolicy",
		"appender.main.filePattern":              "${sys:log.file}.%i",
		"appender.console.layout.type":           "PatternLayout",
		"appender.main.strategy.type":            "DefaultRolloverStrategy",
		"appender.main.policies.type":            "Policies",
		"appender.main.append":                   "true",
		"appender.main.layout.type":              "PatternLayout",
		"appender.console.layout.pattern":        "%m%n",
		"appender.main.policies.startup.type":    "OnStartupTriggeringPolicy",
		"appender.main.policies.time.type":       "TimeBasedTriggeringPolicy",
		"appender.main.policies.time.interval":   "1",
		"appender.main.policies.time.modulate":   "true",
	}, ScopeCluster)
	if err != nil {
		t.Fatal(err)
	}
	if l.Output != "file" || l.RootLevel != "debug" || l.MaxFileSize != configs.KibiByte || l.MaxFiles != 2 {
		t.Fatalf("%+v", l)
	}
	for _, k := range []string{"appender.main.type", "appender.main.name", "rootLogger.appenderRef.file.ref"} {
		if contains(ignored, k) {
			t.Errorf("%s was used but is reported as ignored", k)
		}
	}
	for _, k := range []string{"rootLogger.appenderRef.unknown.ref", "appender.console.type", "appender.main.fileName"} {
		if !contains(ignored, k) {
			t.Errorf("%s not reported as ignored", k)
		}
	}
	// The keys are what the process logging setup reads (kept in sync: one definition).
	dir := t.TempDir()
	keys := l.Keys()
	keys["env.log.dir"] = dir
	p, err := cluster.PlanLogging(keys, cluster.ScopeCluster, "jobmanager.log", cluster.LogEnv{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Root != zerolog.DebugLevel || p.File != filepath.Join(dir, "jobmanager.log") || p.Console || p.MaxSize != 1024 || p.MaxBackups != 2 ||
		p.Components["network"] != zerolog.TraceLevel || !reflect.DeepEqual(p.Unmapped, []string{"org.jboss.netty.channel.DefaultChannelPipeline"}) {
		t.Fatalf("plan %+v", p)
	}

	// log4j 1: console and file appenders by class.
	l, _, err = ParseLog4j(map[string]string{
		"log4j.rootLogger":       "INFO, console, file, socket",
		"log4j.appender.console": "org.apache.log4j.ConsoleAppender",
		"log4j.appender.file":    "org.apache.log4j.RollingFileAppender",
		"log4j.appender.socket":  "org.apache.log4j.net.SocketAppender",
	}, ScopeCLI)
	if err != nil || l.Output != "console,file" {
		t.Fatalf("log4j 1 outputs %+v %v", l, err)
	}
	if k := l.Keys(); k["env.log.cli.output"] != "console,file" {
		t.Fatalf("keys %v", k)
	}
	// log4j2 short form and a console-only root.
	l, _, err = ParseLog4j(map[string]string{"rootLogger": "WARN, STDOUT", "appender.out.name": "STDOUT", "appender.out.type": "Console"}, ScopeSession)
	if err != nil || l.Output != "console" || l.RootLevel != "warn" {
		t.Fatalf("short form %+v %v", l, err)
	}
}

package emr

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/flink-go/flink-go/configs"
)

// The examples of EMR's "Configuring Flink" page (docs/notes: flink-on-yarn.md §7.2).
const (
	emrSlotsExample = `[
  {
    "Classification": "flink-conf",
    "Properties": {
      "taskmanager.numberOfTaskSlots":"2"
    }
  }
]`
	emrHAExample = `[
  {
    "Classification": "yarn-site",
    "Properties": {
      "yarn.resourcemanager.am.max-attempts": "10"
    }
  },
  {
    "Classification": "flink-conf",
    "Properties": {
        "yarn.application-attempts": "10",
        "high-availability": "zookeeper",
        "high-availability.zookeeper.quorum": "%{hiera('hadoop::zk')}",
        "high-availability.storageDir": "hdfs:///user/flink/recovery",
        "high-availability.zookeeper.path.root": "/flink"
    }
  }
]`
	emrMemoryExample = `[
  {
    "Classification": "flink-conf",
    "Properties": {
      "jobmanager.memory.process.size": "1600m",
      "taskmanager.memory.process.size": "1728m"
    }
  }
]`
	emrLog4jExample = `[
  {
    "Classification": "flink-log4j",
    "Properties": {
      "appender.main.name": "MainAppender",
      "appender.main.type": "RollingFile",
      "appender.main.append": "false",
      "appender.main.fileName": "${sys:log.file}",
      "appender.main.filePattern": "${sys:log.file}.%i",
      "appender.main.layout.type": "PatternLayout",
      "appender.main.layout.pattern": "%d{yyyy-MM-dd HH:mm:ss,SSS} %-5p %-60c %x - %m%n",
      "appender.main.policies.type": "Policies",
      "appender.main.policies.size.type": "SizeBasedTriggeringPolicy",
      "appender.main.policies.size.size": "100MB",
      "appender.main.strategy.type": "DefaultRolloverStrategy",
      "appender.main.strategy.max": "10"
    }
  }
]`
	emrJava11Example = `[
  {
    "Classification": "flink-conf",
    "Properties": {
      "containerized.taskmanager.env.JAVA_HOME": "/usr/lib/jvm/jre-11",
      "containerized.master.env.JAVA_HOME": "/usr/lib/jvm/jre-11",
      "env.java.home": "/usr/lib/jvm/jre-11"
    }
  }
]`
)

func load(t *testing.T, doc string, opts TranslateOptions) (*configs.Configuration, *Result) {
	t.Helper()
	cls, err := ParseClassifications([]byte(doc), "test.json")
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	res, err := Translate(cls, opts)
	if err != nil {
		t.Fatalf("translate: %v", err)
	}
	nop := zerolog.Nop()
	conf, err := configs.Load(configs.LoadOptions{Overlays: res.Overlays, LookupEnv: noEnv, Logger: &nop})
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	return conf, res
}

func noEnv(string) (string, bool) { return "", false }

func wantValue(t *testing.T, conf *configs.Configuration, key, value, origin string) {
	t.Helper()
	v, o, ok := conf.Lookup(key)
	if !ok {
		t.Fatalf("%s not set", key)
	}
	if v != value || o.String() != origin {
		t.Fatalf("%s = %q from %q, want %q from %q", key, v, o, value, origin)
	}
}

func TestEMRDocumentationExamples(t *testing.T) {
	conf, _ := load(t, emrSlotsExample, TranslateOptions{})
	if got := configs.Get(conf, configs.NumberOfTaskSlots); got != 2 {
		t.Fatalf("slots = %d", got)
	}
	wantValue(t, conf, "taskmanager.numberOfTaskSlots", "2", "classification flink-conf")

	conf, res := load(t, emrHAExample, TranslateOptions{Hiera: map[string]string{"hadoop::zk": "ip-10-0-0-1:2181"}})
	wantValue(t, conf, "high-availability.zookeeper.quorum", "ip-10-0-0-1:2181", "classification flink-conf")
	wantValue(t, conf, "high-availability.storageDir", "hdfs:///user/flink/recovery", "classification flink-conf")
	wantValue(t, conf, "yarn.application-attempts", "10", "classification flink-conf")
	if got := configs.Get(conf, configs.HighAvailability); !strings.EqualFold(string(got), "zookeeper") {
		t.Fatalf("high-availability.type = %q (the deprecated key high-availability must map onto it)", got)
	}
	wantValue(t, conf, "flink.yarn.resourcemanager.am.max-attempts", "10", "classification yarn-site")
	if len(res.Overlays) != 2 || res.Overlays[0].Name != "yarn-site" || res.Overlays[1].Name != "flink-conf" {
		t.Fatalf("overlays %+v", res.Overlays)
	}

	conf, _ = load(t, emrMemoryExample, TranslateOptions{})
	if got := configs.Get(conf, configs.TaskManagerMemory); got.MebiBytes() != 1728 {
		t.Fatalf("taskmanager.memory.process.size = %v", got)
	}

	conf, _ = load(t, emrJava11Example, TranslateOptions{})
	wantValue(t, conf, "containerized.master.env.JAVA_HOME", "/usr/lib/jvm/jre-11", "classification flink-conf")
	wantValue(t, conf, "env.java.home", "/usr/lib/jvm/jre-11", "classification flink-conf")

	conf, res = load(t, emrLog4jExample, TranslateOptions{})
	wantValue(t, conf, "env.log.file.max-size", "100 mb", "classification flink-log4j")
	wantValue(t, conf, "env.log.max", "10", "classification flink-log4j")
	if len(res.Logging) != 1 || res.Logging[0].MaxFileSize != 100*configs.MebiByte || res.Logging[0].MaxFiles != 10 {
		t.Fatalf("logging %+v", res.Logging)
	}
	if len(res.Notices) == 0 || !strings.Contains(strings.Join(res.Notices, "\n"), `"appender.main.layout.pattern" has no flink-go equivalent`) {
		t.Fatalf("notices %q", res.Notices)
	}
}

func TestHieraUnresolved(t *testing.T) {
	cls, err := ParseClassifications([]byte(emrHAExample), "ha.json")
	if err != nil {
		t.Fatal(err)
	}
	_, err = Translate(cls, TranslateOptions{})
	if err == nil || !strings.Contains(err.Error(), `classification[1] "flink-conf": property "high-availability.zookeeper.quorum"`) ||
		!strings.Contains(err.Error(), "--hiera hadoop::zk=VALUE") || !errors.Is(err, ErrClassification) {
		t.Fatalf("err = %v", err)
	}
	// create-cluster leaves them to EMR.
	if _, err := Translate(cls, TranslateOptions{KeepHiera: true}); err != nil {
		t.Fatalf("KeepHiera: %v", err)
	}
}

func TestPrecedence(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "config.yaml"), []byte("taskmanager.numberOfTaskSlots: 4\nparallelism.default: 3\nrest.port: 9000\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cls, _ := ParseClassifications([]byte(`[{"Classification":"flink-conf","Properties":{"taskmanager.numberOfTaskSlots":"2","parallelism.default":"5"}}]`), "x")
	res, err := Translate(cls, TranslateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	nop := zerolog.Nop()
	conf, err := configs.Load(configs.LoadOptions{ConfDir: dir, Overlays: res.Overlays, Dynamic: []string{"parallelism.default=7"}, LookupEnv: noEnv, Logger: &nop})
	if err != nil {
		t.Fatal(err)
	}
	wantValue(t, conf, "rest.port", "9000", filepath.Join(dir, "config.yaml")+":3")       // file only
	wantValue(t, conf, "taskmanager.numberOfTaskSlots", "2", "classification flink-conf") // classification beats file
	wantValue(t, conf, "parallelism.default", "7", "-D")                                  // -D beats classification
	var out strings.Builder
	if err := configs.Render(&out, conf, configs.RenderOptions{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "classification flink-conf") {
		t.Fatalf("render lacks the origin:\n%s", out.String())
	}
}

func TestErrorsNameTheEntry(t *testing.T) {
	cases := []struct {
		name, doc string
		want      []string
	}{
		{"typo classification", `[{"Classification":"flink-conf","Properties":{}},{"Classification":"yarn-site"},{"Classification":"flink-conff","Properties":{"a":"b"}}]`,
			[]string{`classification[2] "flink-conff": unknown classification (did you mean flink-conf?)`}},
		{"unknown key", `[{"Classification":"flink-conf","Properties":{"taskmanager.numberOfTaskSlot":"2"}}]`,
			[]string{`classification[0] "flink-conf": property "taskmanager.numberOfTaskSlot": unknown configuration key (did you mean "taskmanager.numberOfTaskSlots"?)`}},
		{"bad value", `[{"Classification":"flink-conf","Properties":{"taskmanager.numberOfTaskSlots":"two"}}]`,
			[]string{`classification[0] "flink-conf": property "taskmanager.numberOfTaskSlots": invalid value`}},
		{"number value", `[{"Classification":"flink-conf","Properties":{"taskmanager.numberOfTaskSlots":2}}]`,
			[]string{`classification[0] "flink-conf": property "taskmanager.numberOfTaskSlots": value must be a JSON string, found a JSON number (quote it: "2")`}},
		{"properties not object", `[{"Classification":"flink-conf","Properties":["a"]}]`,
			[]string{`classification[0] "flink-conf": "Properties" must be an object`}},
		{"lower-case member", `[{"Classification":"flink-conf","properties":{"a":"b"}}]`,
			[]string{`classification[0] "flink-conf": unknown member "properties" (did you mean "Properties"?`}},
		{"missing name", `[{"Properties":{"a":"b"}}]`, []string{`classification[0]: missing or empty "Classification"`}},
		{"not an object", `["flink-conf"]`, []string{`classification[0]: expected an object`}},
		{"malformed", "[\n {\"Classification\": \"flink-conf\",\n  \"Properties\": {\"a\": \"b\",}}]", []string{`test.json: invalid EMR configuration classification: malformed JSON: line 3, column`}},
		{"nested in flink-conf", `[{"Classification":"flink-conf","Configurations":[{"Classification":"export","Properties":{}}]}]`,
			[]string{`classification[0] "flink-conf": nested "Configurations" are not allowed here`}},
		{"nested bad", `[{"Classification":"hadoop-env","Configurations":[{"Classification":"export","Properties":{"JAVA_HOME":1}}]}]`,
			[]string{`classification[0] "hadoop-env" > configurations[0] "export": property "JAVA_HOME": value must be a JSON string`}},
		{"bad log level", `[{"Classification":"flink-log4j-cli","Properties":{"rootLogger.level":"LOUD"}}]`,
			[]string{`classification[0] "flink-log4j-cli": property "rootLogger.level": "LOUD" is not a log4j level`}},
		{"not log4j", `[{"Classification":"flink-log4j","Properties":{"taskmanager.numberOfTaskSlots":"2"}}]`,
			[]string{`classification[0] "flink-log4j": property "taskmanager.numberOfTaskSlots": not a log4j setting`}},
		{"empty", "  ", []string{"test.json: invalid EMR configuration classification: empty document"}},
		{"scalar", `"flink-conf"`, []string{"expected a JSON array of configuration objects"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cls, err := ParseClassifications([]byte(tc.doc), "test.json")
			if err == nil {
				_, err = Translate(cls, TranslateOptions{})
			}
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.Is(err, ErrClassification) {
				t.Errorf("error does not match ErrClassification: %v", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error\n  %v\nlacks\n  %s", err, w)
				}
			}
		})
	}
}

func TestAllProblemsReported(t *testing.T) {
	cls, err := ParseClassifications([]byte(`[{"Classification":"flink-conf","Properties":{"a.b":"1","rest.port":"x"}},{"Classification":"sparkk"}]`), "x")
	if err != nil {
		t.Fatal(err)
	}
	_, err = Translate(cls, TranslateOptions{})
	for _, w := range []string{`property "a.b"`, `property "rest.port"`, `classification[1] "sparkk": unknown classification (did you mean spark?)`} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("error %v lacks %s", err, w)
		}
	}
}

func TestOtherClassificationsAndAliases(t *testing.T) {
	doc := `[
	 {"Classification":"spark-defaults","Properties":{"spark.executor.memory":"2g"}},
	 {"Classification":"hadoop-env","Configurations":[{"Classification":"export","Properties":{"JAVA_HOME":"/usr/lib/jvm/java-11"}}]},
	 {"Classification":"core-site","Properties":{"fs.s3.maxConnections":"100"}},
	 {"Classification":"flink-go-conf","Properties":{"parallelism.default":"6"}},
	 {"Classification":"flink-conf","Properties":{"parallelism.default":"4"}}
	]`
	conf, res := load(t, doc, TranslateOptions{})
	// flink-conf comes later in the document, so it wins.
	wantValue(t, conf, "parallelism.default", "4", "classification flink-conf")
	wantValue(t, conf, "flink.hadoop.fs.s3.maxConnections", "100", "classification core-site")
	if len(res.Notices) != 2 {
		t.Fatalf("notices %q", res.Notices)
	}
}

func TestSingleObjectAccepted(t *testing.T) {
	conf, _ := load(t, `{"Classification":"flink-go-conf","Properties":{"parallelism.default":"6"}}`, TranslateOptions{})
	wantValue(t, conf, "parallelism.default", "6", "classification flink-go-conf")
}

func TestLoadFromFileAndHTTP(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "c.json")
	if err := os.WriteFile(path, []byte(emrSlotsExample), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, loc := range []string{path, "file://" + path} {
		res, err := LoadClassifications(context.Background(), loc, LoadOptions{})
		if err != nil || len(res.Overlays) != 1 || res.Overlays[0].Entries[0].Key != "taskmanager.numberOfTaskSlots" {
			t.Fatalf("%s: %+v %v", loc, res, err)
		}
	}
	if _, err := LoadClassifications(context.Background(), filepath.Join(dir, "missing.json"), LoadOptions{}); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/c.json" {
			w.Write([]byte(emrMemoryExample))
			return
		}
		http.Error(w, "no such document", http.StatusNotFound)
	}))
	defer srv.Close()
	res, err := LoadClassifications(context.Background(), srv.URL+"/c.json", LoadOptions{})
	if err != nil || len(res.Overlays) != 1 {
		t.Fatalf("http: %+v %v", res, err)
	}
	_, err = LoadClassifications(context.Background(), srv.URL+"/nope.json", LoadOptions{})
	if err == nil || !strings.Contains(err.Error(), "404") || !strings.Contains(err.Error(), "no such document") {
		t.Fatalf("http 404: %v", err)
	}
	if _, err := LoadClassifications(context.Background(), "ftp://x/y", LoadOptions{}); err == nil || !strings.Contains(err.Error(), "unsupported scheme") {
		t.Fatalf("ftp: %v", err)
	}
}

func FuzzParseClassifications(f *testing.F) {
	for _, s := range []string{emrSlotsExample, emrHAExample, emrLog4jExample, `{}`, `[1]`, `[{"Classification":"x","Configurations":[{}]}]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cls, err := ParseClassifications(data, "fuzz")
		if err != nil {
			return
		}
		_, _ = Translate(cls, TranslateOptions{KeepHiera: true})
	})
}

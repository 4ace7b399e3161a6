package am

import (
	"reflect"
	"testing"
)

func TestWithClusterLogging(t *testing.T) {
	job := map[string]string{"parallelism.default": "2", "env.log.level": "debug", "env.log.levels.network": "trace",
		"env.log.cli.level": "error", "env.java.opts": "-x"}
	launch := map[string]string{"env.log.level": "warn", "env.log.file.max-size": "1 mb", "env.log.session.level": "info", "rest.port": "0"}
	got := withClusterLogging(job, launch)
	want := map[string]string{"parallelism.default": "2", "env.log.level": "warn", "env.log.file.max-size": "1 mb",
		"env.log.cli.level": "error", "env.java.opts": "-x"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v\nwant %v", got, want)
	}
	if job["env.log.level"] != "debug" {
		t.Fatal("the job's configuration was modified")
	}
}

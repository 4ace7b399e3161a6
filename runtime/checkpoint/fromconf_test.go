package checkpoint

import (
	"testing"
	"time"

	"github.com/flink-go/flink-go/configs"
)

func TestConfigFrom(t *testing.T) {
	conf := configs.New()
	if err := conf.SetAll(map[string]string{
		"execution.checkpointing.interval":                     "30 s",
		"execution.checkpointing.min-pause":                    "5s",
		"execution.checkpointing.mode":                         "AT_LEAST_ONCE",
		"execution.checkpointing.tolerable-failed-checkpoints": "3",
		"execution.checkpointing.dir":                          "hdfs://nn:8020/flink/ckpt",
		"execution.checkpointing.num-retained":                 "4",
	}, configs.DynamicOrigin); err != nil {
		t.Fatal(err)
	}
	got := ConfigFrom(conf, "abc123")
	want := Config{JobID: "abc123", JobDir: "hdfs://nn:8020/flink/ckpt/abc123", Interval: 30 * time.Second, Timeout: 10 * time.Minute,
		MinPause: 5 * time.Second, MaxConcurrent: 1, TolerableFailures: 3, Retained: 4, Mode: AtLeastOnce}
	if got != want {
		t.Errorf("ConfigFrom =\n %+v\nwant\n %+v", got, want)
	}
	if err := got.Validate(); err != nil {
		t.Error(err)
	}
	if d := ConfigFrom(configs.New(), "j"); d.Interval != 0 || d.JobDir != "" || d.Timeout != DefaultTimeout || d.Mode != ExactlyOnce {
		t.Errorf("defaults %+v", d)
	}
}

func TestDiscardOnShutdown(t *testing.T) {
	cases := []struct {
		policy configs.CheckpointRetention
		status string
		want   bool
	}{
		{configs.NoExternalizedRetained, "FAILED", true},
		{configs.NoExternalizedRetained, "CANCELED", true},
		{configs.DeleteOnCancellation, "CANCELED", true},
		{configs.DeleteOnCancellation, "FAILED", false},
		{configs.DeleteOnCancellation, "SUSPENDED", false},
		{configs.RetainOnCancellation, "CANCELED", false},
		{configs.RetainOnCancellation, "FAILED", false},
		{configs.RetainOnCancellation, "FINISHED", true},
		{configs.DeleteOnCancellation, "finished", true},
	}
	for _, c := range cases {
		if got := DiscardOnShutdown(c.policy, c.status); got != c.want {
			t.Errorf("%s %s: %v, want %v", c.policy, c.status, got, c.want)
		}
	}
}

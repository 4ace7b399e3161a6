package configs

import (
	"errors"
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	if err := Validate(New()); err != nil {
		t.Fatalf("defaults are inconsistent: %v", err)
	}
	if err := Validate(nil); err != nil {
		t.Fatalf("nil configuration: %v", err)
	}
	tests := []struct {
		name    string
		set     map[string]string
		mention []string
	}{
		{"filesystem storage without dir", map[string]string{"execution.checkpointing.storage": "filesystem"},
			[]string{`key "execution.checkpointing.storage"`, "needs execution.checkpointing.dir", "conf.yaml:1"}},
		{"retained checkpoints without dir", map[string]string{"execution.checkpointing.interval": "10 s", "execution.checkpointing.externalized-checkpoint-retention": "retain_on_cancellation"},
			[]string{"RETAIN_ON_CANCELLATION", "needs execution.checkpointing.dir"}},
		{"unaligned at-least-once", map[string]string{"execution.checkpointing.unaligned.enabled": "true", "execution.checkpointing.mode": "AT_LEAST_ONCE"},
			[]string{"requires execution.checkpointing.mode=EXACTLY_ONCE", "execution.checkpointing.mode=AT_LEAST_ONCE (conf.yaml:1)"}},
		{"ha without storage", map[string]string{"high-availability.type": "filesystem"},
			[]string{"needs high-availability.storageDir"}},
		{"zookeeper without quorum", map[string]string{"high-availability": "zookeeper", "high-availability.storageDir": "hdfs:///ha"},
			[]string{"needs high-availability.zookeeper.quorum"}},
		{"heartbeat timeout below interval", map[string]string{"heartbeat.timeout": "5 s"},
			[]string{"heartbeat.timeout=5 s (conf.yaml:1) must not be shorter than heartbeat.interval=10 s (default)"}},
		{"backoff bounds", map[string]string{"restart-strategy.exponential-delay.max-backoff": "100 ms"},
			[]string{"must not be shorter than restart-strategy.exponential-delay.initial-backoff=1 s"}},
		{"parallelism above max", map[string]string{"parallelism.default": "200"},
			[]string{"pipeline.max-parallelism=128 (default) must be at least parallelism.default=200"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := New()
			for k, v := range tt.set {
				if err := c.Set(k, v, FileOrigin("conf.yaml", 1)); err != nil {
					t.Fatal(err)
				}
			}
			err := Validate(c)
			if err == nil || !errors.Is(err, ErrInconsistent) {
				t.Fatalf("Validate = %v", err)
			}
			for _, m := range tt.mention {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("%q does not mention %q", err, m)
				}
			}
		})
	}
	c := New()
	_ = c.Set("execution.checkpointing.storage", "filesystem", DynamicOrigin)
	_ = c.Set("execution.checkpointing.dir", "s3://bucket/cp", DynamicOrigin)
	_ = c.Set("high-availability.type", "FILESYSTEM", DynamicOrigin)
	_ = c.Set("high-availability.storageDir", "hdfs:///ha", DynamicOrigin)
	if err := Validate(c); err != nil {
		t.Errorf("consistent configuration rejected: %v", err)
	}
}

func TestRedacted(t *testing.T) {
	c := New()
	_ = c.Set("s3.secret-key", "hunter2", DynamicOrigin)
	_ = c.Set("flink.hadoop.fs.s3a.session.token", "tok", DynamicOrigin)
	_ = c.Set("rest.port", "1", DynamicOrigin)
	m := c.Redacted()
	if m["s3.secret-key"] != Masked || m["flink.hadoop.fs.s3a.session.token"] != Masked || m["rest.port"] != "1" {
		t.Errorf("Redacted = %v", m)
	}
	if c.Map()["s3.secret-key"] != "hunter2" {
		t.Error("Redacted changed the configuration")
	}
}

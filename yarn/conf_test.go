package yarn

import (
	"errors"
	"reflect"
	"testing"
)

func TestConfigSimple(t *testing.T) {
	t.Setenv("HADOOP_USER_NAME", "alice")
	hc, err := LoadHadoopConf("testdata/conf-simple")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := ConfigFromHadoop(hc)
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		RMAddresses:        []string{"rm.example.com:18032"},
		SchedulerAddresses: []string{"rm.example.com:18030"}, // 0.0.0.0 replaced by the RM host
		DefaultFS:          "hdfs://nn.example.com:9000",
		User:               "alice",
	}
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("got %+v\nwant %+v", cfg, want)
	}
}

func TestConfigHA(t *testing.T) {
	hc, err := LoadHadoopConf("testdata/conf-ha")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := ConfigFromHadoop(hc)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(cfg.RMAddresses, []string{"master1:8032", "master2:9032"}) {
		t.Errorf("RM addresses %v", cfg.RMAddresses)
	}
	if !reflect.DeepEqual(cfg.SchedulerAddresses, []string{"master1:8030", "master2:8030"}) {
		t.Errorf("scheduler addresses %v", cfg.SchedulerAddresses)
	}
	if !cfg.Kerberos || cfg.RMPrincipal != "yarn/_HOST@EXAMPLE.COM" {
		t.Errorf("security: %+v", cfg)
	}
}

func TestConfigDefaultsAndErrors(t *testing.T) {
	cfg, err := ConfigFromHadoop(HadoopConf{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.RMAddresses[0] != "0.0.0.0:8032" || cfg.SchedulerAddresses[0] != "0.0.0.0:8030" {
		t.Errorf("defaults: %+v", cfg)
	}
	cfg, err = ConfigFromHadoop(HadoopConf{KeyRMAddress: "rmhost"})
	if err != nil || cfg.RMAddresses[0] != "rmhost:8032" || cfg.SchedulerAddresses[0] != "rmhost:8030" {
		t.Errorf("address without port: %+v %v", cfg, err)
	}
	if _, err := ConfigFromHadoop(HadoopConf{KeySecurityAuth: "token"}); err == nil {
		t.Error("unsupported auth accepted")
	}
	if _, err := ConfigFromHadoop(HadoopConf{KeyRMHAEnabled: "true"}); err == nil {
		t.Error("HA without rm-ids accepted")
	}
	if _, err := ConfigFromHadoop(HadoopConf{KeyRMHAEnabled: "true", KeyRMHAIDs: "rm1"}); err == nil {
		t.Error("HA id without address accepted")
	}
	if _, err := LoadHadoopConf(t.TempDir()); !errors.Is(err, ErrNoConfig) {
		t.Errorf("empty dir: %v", err)
	}
}

func TestConfGetExpansion(t *testing.T) {
	t.Setenv("FLINKGO_TEST_HOME", "/opt/h")
	c := HadoopConf{"a": "${b}/x", "b": "${env.FLINKGO_TEST_HOME}", "loop": "${loop}", "missing": "${nope}"}
	if got := c.Get("a", ""); got != "/opt/h/x" {
		t.Errorf("a = %q", got)
	}
	if got := c.Get("loop", ""); got != "${loop}" {
		t.Errorf("loop = %q", got)
	}
	if got := c.Get("missing", ""); got != "${nope}" {
		t.Errorf("missing = %q", got)
	}
	if got := c.Get("unset", "d"); got != "d" {
		t.Errorf("default = %q", got)
	}
}

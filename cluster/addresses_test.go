package cluster

import (
	"testing"

	"github.com/flink-go/flink-go/configs"
)

func confOf(t *testing.T, kv map[string]string) *configs.Configuration {
	t.Helper()
	c := configs.New()
	if err := c.SetAll(kv, configs.CodeOrigin("test")); err != nil {
		t.Fatal(err)
	}
	return c
}

// The TaskManager's endpoints follow taskmanager.* keys; the deployer's environment (YARN: the
// NodeManager host and container id) wins over taskmanager.host and taskmanager.resource-id.
func TestTaskManagerAddresses(t *testing.T) {
	t.Setenv(EnvHost, "")
	t.Setenv(EnvResourceID, "")
	c := confOf(t, map[string]string{"taskmanager.host": "tm1.example", "taskmanager.bind-host": "0.0.0.0",
		"taskmanager.rpc.port": "50100-50200", "taskmanager.data.port": "50300", "taskmanager.resource-id": "tm-a",
		"taskmanager.memory.network.max": "32mb", "taskmanager.memory.segment-size": "16kb",
		"taskmanager.network.memory.buffers-per-channel": "4", "taskmanager.network.memory.floating-buffers-per-gate": "0"})
	host, id, rpc, nc := taskManagerAddresses(c)
	if host != "tm1.example" || id != "tm-a" || rpc != "0.0.0.0:50100-50200" || nc.BindAddress != "0.0.0.0:50300" || nc.ExternalHost != "tm1.example" {
		t.Fatalf("got host %q id %q rpc %q data %q external %q", host, id, rpc, nc.BindAddress, nc.ExternalHost)
	}
	if nc.TotalBuffers != 2048 || nc.SegmentSize != 16*1024 || nc.BuffersPerChannel != 4 || nc.FloatingBuffersPerGate != -1 {
		t.Fatalf("network buffers: total %d segment %d per channel %d floating %d; want 2048, 16384, 4, -1 (none)",
			nc.TotalBuffers, nc.SegmentSize, nc.BuffersPerChannel, nc.FloatingBuffersPerGate)
	}
	t.Setenv(EnvHost, "nm7.example")
	t.Setenv(EnvResourceID, "container_1_0001_01_000002")
	host, id, rpc, _ = taskManagerAddresses(confOf(t, map[string]string{"taskmanager.host": "tm1.example"}))
	if host != "nm7.example" || id != "container_1_0001_01_000002" || rpc != "nm7.example:0" {
		t.Fatalf("on YARN: host %q id %q rpc %q", host, id, rpc)
	}
}

func TestRESTBindAddress(t *testing.T) {
	for _, tc := range []struct {
		kv               map[string]string
		host, port, want string
	}{
		{nil, "127.0.0.1", "", "127.0.0.1:8081"},
		{map[string]string{"rest.port": "9090"}, "127.0.0.1", "", "127.0.0.1:9090"},
		{map[string]string{"rest.bind-port": "50100-50200", "rest.bind-address": "0.0.0.0"}, "127.0.0.1", "", "0.0.0.0:50100-50200"},
		{nil, "nm1.example", "0", "nm1.example:0"},
		{map[string]string{"rest.bind-port": "8081"}, "nm1.example", "0", "nm1.example:8081"},
	} {
		if got := RESTBindAddress(confOf(t, tc.kv), tc.host, tc.port); got != tc.want {
			t.Errorf("RESTBindAddress(%v, %q, %q) = %q, want %q", tc.kv, tc.host, tc.port, got, tc.want)
		}
	}
}

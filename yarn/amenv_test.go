package yarn

import (
	"errors"
	"testing"

	"github.com/flink-go/flink-go/yarn/security"
)

func TestAMContext(t *testing.T) {
	creds := &security.Credentials{}
	creds.AddToken("", security.Token{Identifier: []byte("amrm"), Password: []byte("p"), Kind: KindAMRMToken})
	creds.AddToken("hdfs", security.Token{Identifier: []byte("dt"), Password: []byte("q"), Kind: "HDFS_DELEGATION_TOKEN", Service: "nn:9000"})
	env := map[string]string{
		EnvContainerID: "container_e03_1700000000000_0042_02_000001", EnvNMHost: "node7", EnvNMPort: "45454",
		EnvNMHTTPPort: "8042", EnvUser: "alice", EnvLocalDirs: "/d1,/d2", EnvLogDirs: "/l1",
		EnvSubmitTime: "1700000000123", EnvMaxAttempts: "4", EnvTokenFilePath: "/work/container_tokens",
	}
	read := func(path string) (*security.Credentials, error) {
		if path != "/work/container_tokens" {
			return nil, errors.New("wrong path")
		}
		return creds, nil
	}
	a, err := amContextFrom(func(k string) string { return env[k] }, read)
	if err != nil {
		t.Fatal(err)
	}
	if a.Attempt.String() != "appattempt_1700000000000_0042_000002" || a.ContainerID.Epoch() != 3 || a.NMHost != "node7" ||
		a.NMPort != 45454 || a.NMHTTPPort != 8042 || a.User != "alice" || len(a.LocalDirs) != 2 || a.MaxAttempts != 4 ||
		a.SubmitTime.UnixMilli() != 1700000000123 || string(a.AMRMToken.Identifier) != "amrm" {
		t.Fatalf("%+v", a)
	}
	blob, err := a.ContainerTokens()
	if err != nil {
		t.Fatal(err)
	}
	child, err := security.Unmarshal(blob)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := child.FindByKind(KindAMRMToken); ok {
		t.Error("the AMRMToken leaked into the child container's tokens")
	}
	if _, ok := child.FindByKind("HDFS_DELEGATION_TOKEN"); !ok {
		t.Error("the delegation token is missing from the child container's tokens")
	}
	if _, ok := a.Credentials.FindByKind(KindAMRMToken); !ok {
		t.Error("ContainerTokens modified the AM's own credentials")
	}

	env[EnvHadoopUser] = "bob"
	if a, _ := amContextFrom(func(k string) string { return env[k] }, read); a.User != "bob" {
		t.Errorf("HADOOP_USER_NAME must win over USER: %q", a.User)
	}
	for _, bad := range []map[string]string{
		{},
		{EnvContainerID: "nope"},
		{EnvContainerID: "container_1_0001_01_000001", EnvNMPort: "x"},
		{EnvContainerID: "container_1_0001_01_000001"}, // no token file
	} {
		if _, err := amContextFrom(func(k string) string { return bad[k] }, read); err == nil {
			t.Errorf("env %v accepted", bad)
		}
	}
	noAMRM := &security.Credentials{}
	if _, err := amContextFrom(func(k string) string { return env[k] }, func(string) (*security.Credentials, error) { return noAMRM, nil }); err == nil {
		t.Error("token file without an AMRMToken accepted")
	}
}

package hdfs

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/colinmarc/hdfs/v2/hadoopconf"
)

func TestOptionsFromConfSingleNameNode(t *testing.T) {
	t.Setenv("HADOOP_USER_NAME", "carol")
	o, err := OptionsFromConf(hadoopconf.HadoopConf{
		"fs.defaultFS":                     "hdfs://nn.example:9000/",
		"dfs.client.use.datanode.hostname": "true",
		"dfs.data.transfer.protection":     "integrity,authentication",
	})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(o.Addresses, []string{"nn.example:9000"}) || o.Authority != "nn.example:9000" {
		t.Errorf("addresses %v authority %q", o.Addresses, o.Authority)
	}
	if o.User != "carol" || !o.UseDatanodeHostname || o.Kerberos != nil || o.DataTransferProtection != "integrity" {
		t.Errorf("options = %+v", o)
	}
}

func TestOptionsFromConfHA(t *testing.T) {
	conf := hadoopconf.HadoopConf{
		"fs.defaultFS":                      "hdfs://prod",
		"dfs.nameservices":                  "prod",
		"dfs.ha.namenodes.prod":             "nn1, nn2",
		"dfs.namenode.rpc-address.prod.nn1": "a.example:8020",
		"dfs.namenode.rpc-address.prod.nn2": "b.example:8020",
		"hadoop.security.authentication":    "Kerberos",
		"dfs.namenode.kerberos.principal":   "nn/_HOST@EXAMPLE.COM",
		"dfs.encrypt.data.transfer":         "true",
	}
	o, err := OptionsFromConf(conf)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(o.Addresses, []string{"a.example:8020", "b.example:8020"}) || o.Authority != "prod" {
		t.Errorf("addresses %v authority %q", o.Addresses, o.Authority)
	}
	if o.Kerberos == nil || o.Kerberos.ServicePrincipal != "nn/_HOST" {
		t.Errorf("kerberos = %+v", o.Kerberos)
	}
	if o.DataTransferProtection != "privacy" {
		t.Errorf("protection = %q", o.DataTransferProtection)
	}
	if got := ResolveAuthority(conf, "other-host"); !reflect.DeepEqual(got, []string{"other-host:8020"}) {
		t.Errorf("ResolveAuthority(other-host) = %v", got)
	}
}

func TestOptionsFromConfWithoutNameNode(t *testing.T) {
	if _, err := OptionsFromConf(hadoopconf.HadoopConf{"fs.defaultFS": "file:///"}); err == nil ||
		!strings.Contains(err.Error(), "HADOOP_CONF_DIR") {
		t.Errorf("err = %v", err)
	}
}

func TestLoadConfBrokenXML(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "core-site.xml"), []byte("<configuration><property>"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadConf(dir); err == nil {
		t.Error("broken core-site.xml accepted")
	}
}

func TestSplitPrincipal(t *testing.T) {
	for _, c := range []struct{ in, def, user, realm string }{
		{"alice@EXAMPLE.COM", "", "alice", "EXAMPLE.COM"},
		{"flink/host.example@EXAMPLE.COM", "X", "flink/host.example", "EXAMPLE.COM"},
		{"bob", "DEF.REALM", "bob", "DEF.REALM"},
	} {
		u, r, err := SplitPrincipal(c.in, c.def)
		if err != nil || u != c.user || r != c.realm {
			t.Errorf("SplitPrincipal(%q) = %q %q %v", c.in, u, r, err)
		}
	}
	for _, bad := range []string{"", "bob", "@REALM"} {
		if _, _, err := SplitPrincipal(bad, ""); err == nil {
			t.Errorf("SplitPrincipal(%q) accepted", bad)
		}
	}
}

func TestKerberosErrorsNameTheCause(t *testing.T) {
	dir := t.TempDir()
	krb5 := filepath.Join(dir, "krb5.conf")
	if err := os.WriteFile(krb5, []byte("[libdefaults]\n default_realm = EXAMPLE.COM\n[realms]\n EXAMPLE.COM = {\n  kdc = 127.0.0.1:1\n }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		opts KerberosOptions
		want string
	}{
		{KerberosOptions{Krb5Conf: krb5}, "dfs.namenode.kerberos.principal"},
		{KerberosOptions{Krb5Conf: filepath.Join(dir, "missing.conf"), ServicePrincipal: "nn/_HOST"}, "KRB5_CONFIG"},
		{KerberosOptions{Krb5Conf: krb5, ServicePrincipal: "nn/_HOST", Principal: "a@EXAMPLE.COM", Keytab: filepath.Join(dir, "no.keytab")}, "no.keytab"},
		{KerberosOptions{Krb5Conf: krb5, ServicePrincipal: "nn/_HOST", CCache: filepath.Join(dir, "no-cc")}, "kinit"},
	}
	for _, c := range cases {
		_, err := kerberosClient(&c.opts)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("kerberosClient(%+v) = %v, want an error mentioning %q", c.opts, err, c.want)
		}
	}
}

func TestDefaultUserOrder(t *testing.T) {
	t.Setenv("HADOOP_USER_NAME", "")
	t.Setenv("USER", "u1")
	if got := DefaultUser(); got != "u1" {
		t.Errorf("DefaultUser = %q, want USER", got)
	}
	t.Setenv("HADOOP_USER_NAME", "h1")
	if got := DefaultUser(); got != "h1" {
		t.Errorf("DefaultUser = %q, want HADOOP_USER_NAME", got)
	}
}

func TestCallCleanupReleasesLateResults(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	release, started := make(chan struct{}), make(chan struct{})
	cleaned := make(chan int, 1)
	done := make(chan error, 1)
	go func() {
		_, err := callCleanup(ctx, func() (int, error) { close(started); <-release; return 42, nil }, func(v int) { cleaned <- v })
		done <- err
	}()
	<-started
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	close(release)
	select {
	case v := <-cleaned:
		if v != 42 {
			t.Errorf("cleaned %d", v)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("late result never released")
	}
	if v, err := call(context.Background(), func() (int, error) { return 7, nil }); v != 7 || err != nil {
		t.Errorf("call = %d, %v", v, err)
	}
}

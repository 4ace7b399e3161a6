package hdfs_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flink-go/flink-go/fs"
	"github.com/flink-go/flink-go/fs/fstest"
	"github.com/flink-go/flink-go/hdfs"
	"github.com/flink-go/flink-go/testing/hadoop/testbed"
)

// kerberosFS logs in to the Kerberized test bed with the client keytab.
func kerberosFS(t *testing.T) (*testbed.Cluster, *hdfs.FileSystem, hdfs.Options) {
	t.Helper()
	c := testbed.RequireKerberos(t)
	k := c.Kerberos()
	if k == nil {
		t.Fatalf("conf dir %s has no kerberos.* entries in cluster.properties", c.ConfDir())
	}
	opts, err := hdfs.LoadOptions(c.ConfDir())
	if err != nil {
		t.Fatal(err)
	}
	if opts.Kerberos == nil || opts.Kerberos.ServicePrincipal != "hdfs/_HOST" {
		t.Fatalf("OptionsFromConf did not pick up Kerberos: %+v", opts.Kerberos)
	}
	opts.Kerberos.Principal = k.ClientPrincipal
	opts.Kerberos.Keytab = k.ClientKeytab
	opts.Kerberos.Krb5Conf = k.Krb5Conf
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	fsys, err := hdfs.New(ctx, opts)
	if err != nil {
		t.Fatalf("Kerberos login as %s: %v", k.ClientPrincipal, err)
	}
	t.Cleanup(func() { fsys.Close() })
	return c, fsys, opts
}

func TestKerberosKeytabLogin(t *testing.T) {
	_, fsys, _ := kerberosFS(t)
	ctx := context.Background()
	if got := fsys.HomeDir(); got != "/user/alice" {
		t.Errorf("HomeDir = %q", got)
	}
	base := fmt.Sprintf("/tmp/krb-%d", time.Now().UnixNano())
	if err := fsys.MkdirAll(ctx, base, 0o755); err != nil {
		t.Fatal(err)
	}
	defer fsys.Delete(context.Background(), base, true)
	// Writes and reads go to the DataNode over SASL with block access tokens.
	fstest.Run(t, fsys, base)
	p := base + "/owned"
	if err := fs.WriteFileAtomic(ctx, fsys, p, []byte("kerberos")); err != nil {
		t.Fatal(err)
	}
	info, err := fsys.Client().Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if owner := info.(interface{ Owner() string }).Owner(); owner != "alice" {
		t.Errorf("owner = %q, want alice (auth_to_local of alice@REALM)", owner)
	}
}

func TestKerberosRequired(t *testing.T) {
	c, _, opts := kerberosFS(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// SIMPLE against a Kerberized NameNode is refused.
	simple := opts
	simple.Kerberos = nil
	simple.User = "mallory"
	if f, err := hdfs.New(ctx, simple); err == nil {
		_, err = f.Stat(ctx, "/")
		f.Close()
		if err == nil {
			t.Fatal("SIMPLE login accepted by the Kerberized NameNode")
		}
	}
	// A keytab without the principal's keys fails to log in.
	bad := opts
	k := *opts.Kerberos
	k.Principal = "nobody@" + c.Kerberos().Realm
	bad.Kerberos = &k
	if _, err := hdfs.New(ctx, bad); err == nil || !strings.Contains(err.Error(), "nobody") {
		t.Fatalf("login as a principal missing from the keytab: %v", err)
	}
}

// TestKerberosDelegationToken is the secure-cluster container path end to
// end: the submitter logs in with its keytab and fetches a delegation token
// over SPNEGO-authenticated WebHDFS; a "container" without any Kerberos
// credentials then reaches the Kerberized NameNode with that token alone.
func TestKerberosDelegationToken(t *testing.T) {
	c, _, opts := kerberosFS(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	tok, err := hdfs.FetchDelegationToken(ctx, hdfs.FetchOptions{
		HTTPAddress: c.Get("dfs.namenode.http-address"),
		Renewer:     "alice",
		Kerberos:    opts.Kerberos,
		Service:     hdfs.TokenService(c.NameNodeAddress()),
	})
	if err != nil {
		t.Fatal(err)
	}
	id, err := hdfs.ParseDelegationTokenIdentifier(tok.Identifier)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(id.Owner, "alice") {
		t.Errorf("token owner %q", id.Owner)
	}
	// The renewer renews over SPNEGO too.
	if exp, err := hdfs.RenewDelegationToken(ctx, hdfs.FetchOptions{HTTPAddress: c.Get("dfs.namenode.http-address"), Kerberos: opts.Kerberos}, tok); err != nil || exp.Before(time.Now()) {
		t.Errorf("renew with SPNEGO: %v, %v", exp, err)
	}
	container := opts
	container.Kerberos = nil
	container.User = ""
	container.Token = &tok
	fsys, err := hdfs.New(ctx, container)
	if err != nil {
		t.Fatalf("token login to the Kerberized NameNode: %v", err)
	}
	defer fsys.Close()
	p := fmt.Sprintf("/tmp/krb-token-%d", time.Now().UnixNano())
	if err := fs.WriteFileAtomic(ctx, fsys, p, []byte("from a container")); err != nil {
		t.Fatalf("write with the token: %v", err)
	}
	defer fsys.Delete(context.Background(), p, false)
	got, err := fs.ReadFile(ctx, fsys, p)
	if err != nil || string(got) != "from a container" {
		t.Fatalf("read back %q, %v", got, err)
	}
	info, err := fsys.Client().Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if owner := info.(interface{ Owner() string }).Owner(); owner != "alice" {
		t.Errorf("owner = %q, want alice", owner)
	}
}

// TestKerberosCredentialCacheLogin logs in from a kinit credential cache
// instead of a keytab.
func TestKerberosCredentialCacheLogin(t *testing.T) {
	c, _, opts := kerberosFS(t)
	kinit, err := exec.LookPath("kinit")
	if err != nil {
		t.Skip("kinit not installed (scripts/install-test-deps.sh installs krb5-user)")
	}
	k := c.Kerberos()
	cc := filepath.Join(t.TempDir(), "krb5cc")
	cmd := exec.Command(kinit, "-kt", k.ClientKeytab, "-c", "FILE:"+cc, k.ClientPrincipal)
	cmd.Env = append(os.Environ(), "KRB5_CONFIG="+k.Krb5Conf)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("kinit: %v: %s", err, out)
	}
	ccOpts := opts
	kc := *opts.Kerberos
	kc.Keytab, kc.Principal = "", ""
	kc.CCache = cc
	ccOpts.Kerberos = &kc
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	fsys, err := hdfs.New(ctx, ccOpts)
	if err != nil {
		t.Fatalf("credential-cache login: %v", err)
	}
	defer fsys.Close()
	if _, err := fsys.Stat(ctx, "/tmp"); err != nil {
		t.Fatalf("stat: %v", err)
	}
	if got := fsys.HomeDir(); got != "/user/alice" {
		t.Errorf("HomeDir = %q", got)
	}
}

// TestKerberosThroughGet: fs.Get("hdfs:///...") on a Kerberized conf dir logs
// in from KRB5_CLIENT_KTNAME, taking the principal from the keytab.
func TestKerberosThroughGet(t *testing.T) {
	c := testbed.RequireKerberos(t)
	k := c.Kerberos()
	t.Setenv("HADOOP_CONF_DIR", c.ConfDir())
	t.Setenv("KRB5_CLIENT_KTNAME", "FILE:"+k.ClientKeytab)
	t.Setenv("KRB5_CONFIG", k.Krb5Conf)
	t.Setenv("HADOOP_TOKEN_FILE_LOCATION", "")
	t.Cleanup(func() { _ = fs.CloseAll() })
	ctx := context.Background()
	fsys, p, err := fs.Get(ctx, "hdfs:///tmp")
	if err != nil {
		t.Fatal(err)
	}
	if st, err := fsys.Stat(ctx, p); err != nil || !st.IsDir {
		t.Fatalf("Stat(/tmp) = %+v, %v", st, err)
	}
	if h := fsys.(*hdfs.FileSystem); h.HomeDir() != "/user/alice" {
		t.Errorf("logged in as %q", h.User())
	}
}

package client_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/flink-go/flink-go/client"
	"github.com/flink-go/flink-go/hdfs"
	"github.com/flink-go/flink-go/testing/hadoop/testbed"
	"github.com/flink-go/flink-go/yarn"
)

func TestResolveKerberosLogin(t *testing.T) {
	files := map[string]bool{"/etc/krb5.conf": true, "/k/alice.keytab": true, "/tmp/cc": true, "/my/krb5.conf": true, "/env/kt": true}
	exists := func(p string) bool { return files[p] }
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

	// The Flink keys win; krb5.conf from security.kerberos.krb5-conf.path is marked for shipping.
	l, err := client.ResolveKerberosLogin(client.ConfOf(t, "security.kerberos.login.keytab", "/k/alice.keytab",
		"security.kerberos.login.principal", "alice@EX", "security.kerberos.krb5-conf.path", "/my/krb5.conf"),
		env(map[string]string{"KRB5CCNAME": "FILE:/tmp/cc"}), exists)
	if err != nil || l.Keytab != "/k/alice.keytab" || l.Principal != "alice@EX" || l.Krb5Conf != "/my/krb5.conf" || !l.Krb5ConfConfigured || l.CCache != "" {
		t.Fatalf("keytab login: %+v, %v", l, err)
	}
	// KRB5_CLIENT_KTNAME before the ticket cache.
	l, err = client.ResolveKerberosLogin(nil, env(map[string]string{"KRB5_CLIENT_KTNAME": "FILE:/env/kt", "KRB5CCNAME": "/tmp/cc"}), exists)
	if err != nil || l.Keytab != "/env/kt" || l.Krb5Conf != "/etc/krb5.conf" || l.Krb5ConfConfigured {
		t.Fatalf("client keytab: %+v, %v", l, err)
	}
	// Ticket cache.
	l, err = client.ResolveKerberosLogin(nil, env(map[string]string{"KRB5CCNAME": "FILE:/tmp/cc"}), exists)
	if err != nil || l.CCache != "/tmp/cc" || l.Keytab != "" {
		t.Fatalf("ticket cache: %+v, %v", l, err)
	}
	// Nothing at all: the error says what to do.
	_, err = client.ResolveKerberosLogin(nil, env(map[string]string{"KRB5CCNAME": "/tmp/none"}), exists)
	if !errors.Is(err, client.ErrNoKerberosCredentials) || !strings.Contains(err.Error(), "kinit first, or set security.kerberos.login.keytab") {
		t.Fatalf("no credentials: %v", err)
	}
	// The ticket cache is off.
	_, err = client.ResolveKerberosLogin(client.ConfOf(t, "security.kerberos.login.use-ticket-cache", "false"), env(map[string]string{"KRB5CCNAME": "/tmp/cc"}), exists)
	if !errors.Is(err, client.ErrNoKerberosCredentials) || !strings.Contains(err.Error(), "use-ticket-cache") {
		t.Fatalf("ticket cache off: %v", err)
	}
	for _, c := range []struct {
		kv   []string
		want string
	}{
		{[]string{"security.kerberos.login.keytab", "/k/missing.keytab", "security.kerberos.login.principal", "a"}, "no such file"},
		{[]string{"security.kerberos.login.keytab", "rel.keytab", "security.kerberos.login.principal", "a"}, "absolute path"},
		{[]string{"security.kerberos.login.keytab", "/k/alice.keytab"}, "security.kerberos.login.principal is not"},
		{[]string{"security.kerberos.krb5-conf.path", "/no/krb5.conf"}, "security.kerberos.krb5-conf.path=/no/krb5.conf"},
	} {
		if _, err := client.ResolveKerberosLogin(client.ConfOf(t, c.kv...), env(nil), exists); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: got %v, want %q", c.kv, err, c.want)
		}
	}
}

func TestRMPrincipal(t *testing.T) {
	p, err := client.RMPrincipal(yarn.Config{RMPrincipal: "rm/_HOST@EX", RMAddresses: []string{"RM1.Example.com:8032"}})
	if err != nil || p != "rm/rm1.example.com@EX" {
		t.Fatalf("got %q, %v", p, err)
	}
	if p, _ := client.RMPrincipal(yarn.Config{RMPrincipal: "hdfs/localhost@EX", RMAddresses: []string{"h:1"}}); p != "hdfs/localhost@EX" {
		t.Errorf("fixed principal became %q", p)
	}
	if _, err := client.RMPrincipal(yarn.Config{}); err == nil || !strings.Contains(err.Error(), "yarn.resourcemanager.principal") {
		t.Errorf("unset principal: %v", err)
	}
}

// TestYarnKerberos runs against the Kerberos test bed: MiniKdc, Kerberized HDFS and a secure
// YARN. Logins that must fail name their cause; then `flink-go run -t yarn-application` of the
// counting job with a keytab: the client logs in, obtains the HDFS delegation token (renewer: the
// RM), ships it with the keytab; the AM and TaskManagers reach HDFS with the token only
// (checkpoints and output on HDFS); FINISHED/SUCCEEDED and exact output.
func TestYarnKerberos(t *testing.T) {
	c := testbed.RequireKerberos(t)
	k := c.Kerberos()
	if k == nil || k.RMPrincipal == "" {
		t.Fatalf("the Kerberos test bed at %s runs without YARN (kerberos.rm.principal missing in cluster.properties; FLINK_GO_MC_KERBEROS_YARN=0?)", c.ConfDir())
	}
	t.Setenv("HADOOP_CONF_DIR", c.ConfDir())
	t.Setenv("YARN_CONF_DIR", "")
	t.Setenv("HADOOP_HOME", "")
	t.Setenv("KRB5_CONFIG", k.Krb5Conf)
	t.Setenv("KRB5_CLIENT_KTNAME", "")
	t.Setenv("KRB5CCNAME", filepath.Join(t.TempDir(), "no-ccache"))

	t.Run("NoCredentials", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, err := client.ConnectYarn(ctx, io.Discard)
		if !errors.Is(err, client.ErrNoKerberosCredentials) || !strings.Contains(err.Error(), "kinit first") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("WrongPrincipal", func(t *testing.T) {
		l, err := client.ResolveKerberosLogin(client.ConfOf(t, "security.kerberos.login.keytab", k.ClientKeytab,
			"security.kerberos.login.principal", "mallory@"+k.Realm), os.Getenv, func(p string) bool { _, err := os.Stat(p); return err == nil })
		if err != nil {
			t.Fatal(err)
		}
		_, err = l.Login()
		if !errors.Is(err, client.ErrKerberosPrincipal) || !strings.Contains(err.Error(), "mallory") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("KDCUnreachable", func(t *testing.T) {
		data, err := os.ReadFile(k.Krb5Conf)
		if err != nil {
			t.Fatal(err)
		}
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		dead := l.Addr().String()
		l.Close()
		bad := regexp.MustCompile(`(?m)^(\s*kdc\s*=\s*).*$`).ReplaceAllString(string(data), "${1}"+dead)
		conf := filepath.Join(t.TempDir(), "krb5.conf")
		if err := os.WriteFile(conf, []byte(bad), 0o644); err != nil {
			t.Fatal(err)
		}
		lg, err := client.ResolveKerberosLogin(client.ConfOf(t, "security.kerberos.login.keytab", k.ClientKeytab,
			"security.kerberos.login.principal", k.ClientPrincipal, "security.kerberos.krb5-conf.path", conf), os.Getenv, func(p string) bool { _, err := os.Stat(p); return err == nil })
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { _, err := lg.Login(); done <- err }()
		select {
		case err = <-done:
		case <-time.After(60 * time.Second):
			t.Fatal("a login against a closed KDC port did not fail within 60s")
		}
		if !errors.Is(err, client.ErrKDCUnreachable) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("ApplicationCounting", func(t *testing.T) { testYarnKerberosCounting(t, c, k) })
	t.Run("Session", func(t *testing.T) { testYarnKerberosSession(t, c, k) })
}

// testYarnKerberosSession: a session started with the keytab (-D keys only) runs a job submitted
// to it afterwards: the session's JobManager starts the job's TaskManager containers with the
// credentials it was given (token and keytab), they checkpoint to and write on Kerberized HDFS,
// the output is exact; `stop` ends the session FINISHED/SUCCEEDED, owned by the keytab's user.
func testYarnKerberosSession(t *testing.T, c *testbed.Cluster, k *testbed.KerberosInfo) {
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	kr := newKrbRun(t, ctx, c, k)
	y := &yarnTB{home: t.TempDir()}
	_, appID, _ := y.startSession(t, append([]string{"-s", "2"}, kr.flags...)...)
	stopped := false
	stop := func() result {
		stopped = true
		return y.cli(t, 3*time.Minute, strings.NewReader("stop\n"), nil, append([]string{"yarn-session", "-id", appID}, kr.flags...)...)
	}
	defer func() {
		if !stopped {
			stop()
		}
	}()
	const records, keys, every = 60_000, 30, 600
	r := y.cli(t, 4*time.Minute, nil, nil, append(append(append([]string{"run", "-t", "yarn-session", "-p", "2"}, kr.flags...), "-D", "yarn.application.id="+appID),
		bin("counting"), "--records", fmt.Sprint(records), "--keys", fmt.Sprint(keys), "--every", fmt.Sprint(every),
		"--rate", "50000", "--output", kr.base+"/out")...)
	if r.code != 0 || !strings.Contains(r.stdout, "finished") {
		t.Fatalf("job on the Kerberized session: exit %d\nstdout:\n%s\nstderr:\n%s%s", r.code, r.stdout, r.stderr, amLogs(c, appID))
	}
	got := hdfsPartLines(t, kr.fsys, kr.dir+"/out")
	checkCounting(t, "session job output", got, records, keys, every)
	t.Logf("job on the Kerberized session %s: %d output lines", appID, len(got))
	if r := stop(); r.code != 0 {
		t.Fatalf("stopping the session: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	kr.finishedApps(t, ctx, k, 1)
}

// krbRun is what the Kerberized YARN runs share: an HDFS client logged in with the test's
// keytab, a fresh HDFS directory for staging, checkpoints and output (deleted afterwards), and the
// CLI flags that log in with the keytab through Flink's keys only (no kinit, no
// KRB5_CLIENT_KTNAME).
type krbRun struct {
	fsys  *hdfs.FileSystem
	dir   string // HDFS path of the run's directory
	base  string // its hdfs:// URI
	tag   string // yarn.tags of the run's applications
	flags []string
}

func newKrbRun(t *testing.T, ctx context.Context, c *testbed.Cluster, k *testbed.KerberosInfo) *krbRun {
	t.Helper()
	opts, err := hdfs.LoadOptions(c.ConfDir())
	if err != nil {
		t.Fatal(err)
	}
	opts.Kerberos.Principal, opts.Kerberos.Keytab, opts.Kerberos.Krb5Conf = k.ClientPrincipal, k.ClientKeytab, k.Krb5Conf
	fsys, err := hdfs.New(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	r := &krbRun{fsys: fsys, dir: fmt.Sprintf("/tmp/flink-go-kerberos/%d", time.Now().UnixNano()),
		tag: fmt.Sprintf("krb-%d", time.Now().UnixNano()%1_000_000)}
	r.base = "hdfs://" + fsys.Authority() + r.dir
	t.Cleanup(func() {
		cctx, ccancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer ccancel()
		_ = fsys.Delete(cctx, r.dir, true)
		fsys.Close()
	})
	r.flags = []string{
		"-D", "security.kerberos.login.keytab=" + k.ClientKeytab,
		"-D", "security.kerberos.login.principal=" + k.ClientPrincipal,
		"-D", "security.kerberos.krb5-conf.path=" + k.Krb5Conf,
		"-D", "yarn.staging-directory=" + r.dir + "/staging", "-D", "yarn.tags=" + r.tag,
		"-D", "jobmanager.memory.process.size=256m", "-D", "taskmanager.memory.process.size=256m",
		"-D", "execution.checkpointing.interval=1s", "-D", "execution.checkpointing.dir=" + r.base + "/ckpt"}
	return r
}

// finishedApps asserts that the run's applications all ended FINISHED/SUCCEEDED as the keytab's
// user (alice), and that there are n of them.
func (r *krbRun) finishedApps(t *testing.T, ctx context.Context, k *testbed.KerberosInfo, n int) {
	t.Helper()
	d, err := client.ConnectYarnConf(ctx, io.Discard, client.ConfOf(t, "security.kerberos.login.keytab", k.ClientKeytab, "security.kerberos.login.principal", k.ClientPrincipal))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	apps, err := d.RM.GetApplications(ctx, yarn.AppFilter{Tags: []string{r.tag}})
	if err != nil {
		t.Fatal(err)
	}
	if len(apps) != n {
		t.Fatalf("%d applications tagged %s, want %d: %+v", len(apps), r.tag, n, apps)
	}
	for _, a := range apps {
		if a.State != yarn.StateFinished || a.Final != yarn.FinalSucceeded {
			t.Errorf("application %s: %s/%s, want FINISHED/SUCCEEDED (%s)", a.ID, a.State, a.Final, a.Diagnostics)
		}
		if a.User != "alice" {
			t.Errorf("application %s user %q, want alice", a.ID, a.User)
		}
	}
	// Checkpoints were written by the containers with the delegation token.
	if ck, err := r.fsys.List(ctx, r.dir+"/ckpt"); err != nil || len(ck) == 0 {
		t.Errorf("no checkpoints under %s/ckpt: %v", r.base, err)
	}
}

func testYarnKerberosCounting(t *testing.T, c *testbed.Cluster, k *testbed.KerberosInfo) {
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	kr := newKrbRun(t, ctx, c, k)
	const records, keys, every = 100_000, 50, 1000
	args := append(append([]string{"run", "-t", "yarn-application", "-p", "2"}, kr.flags...),
		bin("counting"), "--records", fmt.Sprint(records), "--keys", fmt.Sprint(keys), "--every", fmt.Sprint(every),
		"--rate", "50000", "--output", kr.base+"/out")
	cmd := exec.CommandContext(ctx, bin("flink-go"), args...)
	// Only the Flink keys (-D security.kerberos.login.*): no kinit, no KRB5_CLIENT_KTNAME.
	bounded(cmd)
	cmd.Env = append(os.Environ(), "FLINK_GO_HOME="+t.TempDir(), "FLINK_CONF_DIR=")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	runErr := cmd.Run()
	took := time.Since(start)
	if ctx.Err() != nil {
		t.Fatalf("flink-go run did not finish within 6 min\nstdout:\n%s\nstderr:\n%s", out.String(), errb.String())
	}
	if runErr != nil || !strings.Contains(out.String(), "finished") {
		t.Fatalf("flink-go run: %v\nstdout:\n%s\nstderr:\n%s%s", runErr, out.String(), errb.String(), amLogs(c, errb.String()))
	}
	if !strings.Contains(errb.String(), "Kerberos: logged in with keytab "+k.ClientKeytab) || !strings.Contains(errb.String(), "HDFS_DELEGATION_TOKEN") {
		t.Errorf("the client did not report its Kerberos login and token:\n%s", errb.String())
	}
	// Output: exact.
	got := hdfsPartLines(t, kr.fsys, kr.dir+"/out")
	checkCounting(t, "output", got, records, keys, every)
	kr.finishedApps(t, ctx, k, 1)
	t.Logf("Kerberized application run: %s (%d output lines)", took.Round(time.Millisecond), len(got))
}

// amLogs returns the AM's container logs of the application named in the client output, for
// failure messages.
func amLogs(c *testbed.Cluster, stderr string) string {
	m := regexp.MustCompile(`application_\d+_\d+`).FindString(stderr)
	if m == "" {
		return ""
	}
	logs, err := c.ContainerLogs(m)
	if err != nil {
		return "\n(container logs: " + err.Error() + ")"
	}
	var b strings.Builder
	for name, l := range logs {
		fmt.Fprintf(&b, "\n--- %s ---\n%s", name, l)
	}
	return b.String()
}

package itest

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	hadoopproto "github.com/flink-go/flink-go/yarn/internal/proto/hadoop"
	"github.com/flink-go/flink-go/yarn/ipc"
)

// miniKdcLib returns the MiniKdc jars, resolving them with Maven on first use (like the Hadoop
// test bed does for its jars); "" when that is not possible.
func miniKdcLib(t *testing.T) string {
	t.Helper()
	cache := os.Getenv("FLINK_GO_CACHE")
	if cache == "" {
		home, _ := os.UserHomeDir()
		cache = filepath.Join(home, ".cache", "flink-go")
	}
	lib := filepath.Join(cache, "minikdc-3.4.1", "lib")
	if _, err := os.Stat(filepath.Join(lib, "hadoop-minikdc-3.4.1.jar")); err == nil {
		return lib
	}
	mvn, err := exec.LookPath("mvn")
	if err != nil {
		return ""
	}
	pom, _ := filepath.Abs("testdata/minikdc-pom.xml")
	tmp := lib + ".tmp"
	os.RemoveAll(tmp)
	out, err := exec.Command(mvn, "-B", "-q", "-f", pom, "dependency:copy-dependencies", "-DoutputDirectory="+tmp, "-DincludeScope=runtime").CombinedOutput()
	if err != nil {
		t.Logf("resolving MiniKdc with Maven failed: %v\n%s", err, out)
		return ""
	}
	if err := os.Rename(tmp, lib); err != nil {
		return ""
	}
	return lib
}

// TestKerberosAgainstHadoop logs in with a keytab from a MiniKdc and calls a Hadoop IPC server
// that requires Kerberos, for each hadoop.rpc.protection.
func TestKerberosAgainstHadoop(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	hlib := hadoopLib()
	if hlib == "" {
		t.Skip("the Hadoop jars are missing (run testing/hadoop/minicluster.sh fetch)")
	}
	klib := miniKdcLib(t)
	if klib == "" {
		t.Skip("MiniKdc jars unavailable (needs mvn and Maven Central once)")
	}
	for _, prot := range []ipc.Protection{ipc.ProtectionAuthentication, ipc.ProtectionIntegrity, ipc.ProtectionPrivacy} {
		t.Run(string(prot), func(t *testing.T) {
			f := startJava(t, hlib+"/*:"+klib+"/*", "KerberosServer.java", string(prot), t.TempDir())
			if len(f) != 5 {
				t.Fatalf("bad FLINKGO line %q", f)
			}
			port, realm, krb5conf, keytab, ccache := f[0], f[1], f[2], f[3], f[4]
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			c, err := ipc.Dial(ctx, ipc.Config{
				Addresses:       []string{"localhost:" + port},
				Protocol:        testRPCProtocol,
				Auth:            ipc.AuthKerberos,
				Kerberos:        &ipc.KerberosConfig{Principal: "client@" + realm, KeytabPath: keytab, Krb5ConfPath: krb5conf},
				ServerPrincipal: "server/_HOST@" + realm,
				Protection:      []ipc.Protection{prot},
			})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if got, err := echo(ctx, c, "kerberos "+string(prot)); err != nil || got != "kerberos "+string(prot) {
				t.Fatalf("echo: %q %v", got, err)
			}
			big := strings.Repeat("k", 200_000)
			if got, err := echo(ctx, c, big); err != nil || got != big {
				t.Fatalf("big echo: %d bytes, %v", len(got), err)
			}
			user := &hadoopproto.GetDelegationTokenRequestProto{} // UserResponseProto{required string user = 1}
			if err := c.Call(ctx, "getAuthUser", &hadoopproto.CancelDelegationTokenResponseProto{}, user); err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(user.GetRenewer(), "client") {
				t.Fatalf("server sees user %q", user.GetRenewer())
			}
			t.Logf("server sees %q", user.GetRenewer())

			if prot == ipc.ProtectionPrivacy {
				// A client that only accepts authentication is refused, and told why.
				_, err := ipc.Dial(ctx, ipc.Config{Addresses: []string{"localhost:" + port}, Protocol: testRPCProtocol, Auth: ipc.AuthKerberos,
					Kerberos:        &ipc.KerberosConfig{Principal: "client@" + realm, KeytabPath: keytab, Krb5ConfPath: krb5conf},
					ServerPrincipal: "server/_HOST@" + realm, ConnectRounds: 1, Protection: []ipc.Protection{ipc.ProtectionAuthentication}})
				if !errors.Is(err, ipc.ErrSASL) || !strings.Contains(err.Error(), "hadoop.rpc.protection") {
					t.Fatalf("authentication-only client: %v", err)
				}
			}

			// The same login from a credential cache (what kinit leaves behind).
			cc, err := ipc.Dial(ctx, ipc.Config{
				Addresses:       []string{"localhost:" + port},
				Protocol:        testRPCProtocol,
				Auth:            ipc.AuthKerberos,
				Kerberos:        &ipc.KerberosConfig{CCachePath: ccache, Krb5ConfPath: krb5conf},
				ServerPrincipal: "server/_HOST@" + realm,
				Protection:      []ipc.Protection{prot},
			})
			if err != nil {
				t.Fatalf("credential-cache login: %v", err)
			}
			defer cc.Close()
			if got, err := echo(ctx, cc, "from ccache"); err != nil || got != "from ccache" {
				t.Fatalf("ccache echo: %q %v", got, err)
			}
		})
	}
}

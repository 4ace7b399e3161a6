package itest

import (
	"bufio"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	hadoopproto "github.com/flink-go/flink-go/yarn/internal/proto/hadoop"
	"github.com/flink-go/flink-go/yarn/ipc"
	"github.com/flink-go/flink-go/yarn/security"
)

// hadoopLib finds the Hadoop jars the test bed downloads (testing/hadoop/minicluster.sh).
func hadoopLib() string {
	cache := os.Getenv("FLINK_GO_CACHE")
	if cache == "" {
		home, _ := os.UserHomeDir()
		cache = filepath.Join(home, ".cache", "flink-go")
	}
	lib := filepath.Join(cache, "hadoop-3.4.1", "lib")
	if _, err := os.Stat(filepath.Join(lib, "hadoop-common-3.4.1-tests.jar")); err != nil {
		return ""
	}
	return lib
}

// startJava runs a testdata Java program with the given classpath and returns the fields of the
// "FLINKGO ..." line it prints once ready. The program stops when its stdin closes.
func startJava(t *testing.T, classpath, program string, args ...string) []string {
	t.Helper()
	java, err := exec.LookPath("java")
	if err != nil {
		t.Skip("java not found")
	}
	cmd := exec.Command(java, append([]string{"-cp", classpath, "testdata/" + program}, args...)...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("java stderr:\n%s", stderr.String())
		}
	})
	// Hadoop's log4j also writes to stdout; only the FLINKGO line matters.
	r := bufio.NewReader(stdout)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("reading from %s: %v\n%s", program, err, stderr.String())
		}
		if strings.HasPrefix(line, "FLINKGO ") {
			go io.Copy(io.Discard, r)
			return strings.Fields(line)[1:]
		}
	}
}

// startHadoopServer runs testdata/HadoopSaslServer.java: Hadoop's own RPC server with TOKEN auth
// and the given hadoop.rpc.protection.
func startHadoopServer(t *testing.T, protection string) (addr string, tok security.Token) {
	t.Helper()
	if testing.Short() {
		t.Skip("-short")
	}
	lib := hadoopLib()
	if lib == "" {
		t.Skip("the Hadoop jars are missing (run testing/hadoop/minicluster.sh fetch)")
	}
	f := startJava(t, lib+"/*", "HadoopSaslServer.java", protection)
	if len(f) != 3 {
		t.Fatalf("bad FLINKGO line %q", f)
	}
	id, err1 := hex.DecodeString(f[1])
	pw, err2 := hex.DecodeString(f[2])
	if err1 != nil || err2 != nil {
		t.Fatalf("bad token fields %q", f)
	}
	return "127.0.0.1:" + f[0], security.Token{Identifier: id, Password: pw, Kind: "testKind"}
}

const testRPCProtocol = "org.apache.hadoop.ipc.TestRpcBase$TestRpcService"

// echo calls TestProtobufRpcProto.echo; EchoRequestProto and EchoResponseProto are both
// {required string message = 1}, the same wire shape as GetDelegationTokenRequestProto.
func echo(ctx context.Context, c *ipc.Client, msg string) (string, error) {
	resp := &hadoopproto.GetDelegationTokenRequestProto{}
	err := c.Call(ctx, "echo", &hadoopproto.GetDelegationTokenRequestProto{Renewer: proto.String(msg)}, resp)
	return resp.GetRenewer(), err
}

// TestHadoopServerProtections runs the Go client against Hadoop's IPC server with TOKEN auth for
// every hadoop.rpc.protection: DIGEST-MD5 login, SASL wrapping of requests and responses (split to
// the server's maxbuf), concurrent calls and a remote exception.
func TestHadoopServerProtections(t *testing.T) {
	for _, prot := range []ipc.Protection{ipc.ProtectionAuthentication, ipc.ProtectionIntegrity, ipc.ProtectionPrivacy} {
		t.Run(string(prot), func(t *testing.T) {
			addr, tok := startHadoopServer(t, string(prot))
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			c, err := ipc.Dial(ctx, ipc.Config{Addresses: []string{addr}, Protocol: testRPCProtocol, Auth: ipc.AuthToken, Token: &tok,
				PingInterval: 50 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if got, err := echo(ctx, c, "hello"); err != nil || got != "hello" {
				t.Fatalf("echo: %q %v", got, err)
			}
			// Pings (wrapped like every packet) are accepted silently: the connection survives.
			time.Sleep(300 * time.Millisecond)
			if got, err := echo(ctx, c, "after pings"); err != nil || got != "after pings" {
				t.Fatalf("echo after pings: %q %v", got, err)
			}
			big := strings.Repeat("0123456789", 30_000) // 300 kB: several SASL packets when wrapped
			var wg sync.WaitGroup
			errs := make(chan error, 10)
			for i := 0; i < 10; i++ {
				wg.Add(1)
				go func(i int) {
					defer wg.Done()
					msg := fmt.Sprint(i, big[:i*20_000])
					got, err := echo(ctx, c, msg)
					if err == nil && got != msg {
						err = fmt.Errorf("call %d: wrong echo (%d bytes)", i, len(got))
					}
					errs <- err
				}(i)
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
			err = c.Call(ctx, "error", &hadoopproto.CancelDelegationTokenResponseProto{}, nil)
			var re *ipc.RemoteError
			if !errors.As(err, &re) || re.Fatal {
				t.Fatalf("error(): %v", err)
			}
			t.Logf("error(): %v", err)
			if _, err := echo(ctx, c, "still usable"); err != nil {
				t.Fatal(err)
			}
			if prot == ipc.ProtectionPrivacy {
				// A client that only accepts authentication is refused, and told why.
				_, err := ipc.Dial(ctx, ipc.Config{Addresses: []string{addr}, Protocol: testRPCProtocol, Auth: ipc.AuthToken, Token: &tok,
					Protection: []ipc.Protection{ipc.ProtectionAuthentication}, ConnectRounds: 1})
				if !errors.Is(err, ipc.ErrSASL) || !strings.Contains(err.Error(), "hadoop.rpc.protection") {
					t.Fatalf("authentication-only client: %v", err)
				}
			}
		})
	}
}

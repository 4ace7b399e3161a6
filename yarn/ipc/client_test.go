package ipc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	hadoopproto "github.com/flink-go/flink-go/yarn/internal/proto/hadoop"
	"github.com/flink-go/flink-go/yarn/ipc/ipctest"
	"github.com/flink-go/flink-go/yarn/security"
)

const testProtocol = ProtocolApplicationClient

// echo answers getDelegationToken with a token whose kind is the renewer and whose service is the
// caller's user, so tests can check both the request and the identity.
func echo(call *ipctest.Call) (proto.Message, error) {
	req := &hadoopproto.GetDelegationTokenRequestProto{}
	if err := call.Decode(req); err != nil {
		return nil, err
	}
	return &hadoopproto.GetDelegationTokenResponseProto{Token: &hadoopproto.TokenProto{
		Identifier: []byte{}, Password: []byte{}, Kind: proto.String(req.GetRenewer()), Service: proto.String(call.User),
	}}, nil
}

func newServer(t *testing.T, opts ipctest.Options) *ipctest.Server {
	t.Helper()
	if opts.Protocol == "" {
		opts.Protocol = testProtocol
	}
	s, err := ipctest.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	s.Handle("getDelegationToken", echo)
	t.Cleanup(s.Close)
	return s
}

func dial(t *testing.T, cfg Config) *Client {
	t.Helper()
	if cfg.Protocol == "" {
		cfg.Protocol = testProtocol
	}
	if cfg.ConnectRounds == 0 {
		cfg.ConnectRounds = 1
	}
	if cfg.RetryBackoff == 0 {
		cfg.RetryBackoff = 10 * time.Millisecond
	}
	c, err := Dial(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func callEcho(ctx context.Context, c *Client, renewer string) (*hadoopproto.TokenProto, error) {
	resp := &hadoopproto.GetDelegationTokenResponseProto{}
	err := c.Call(ctx, "getDelegationToken", &hadoopproto.GetDelegationTokenRequestProto{Renewer: proto.String(renewer)}, resp)
	return resp.GetToken(), err
}

func TestSimpleCall(t *testing.T) {
	s := newServer(t, ipctest.Options{Auth: ipctest.AuthSimple})
	c := dial(t, Config{Addresses: []string{s.Addr}, User: "alice", RealUser: "bob"})
	tok, err := callEcho(context.Background(), c, "r1")
	if err != nil {
		t.Fatal(err)
	}
	if tok.GetKind() != "r1" || tok.GetService() != "alice" {
		t.Fatalf("%v", tok)
	}
	ctxs := s.Contexts()
	if len(ctxs) != 1 || ctxs[0].GetProtocol() != testProtocol || ctxs[0].GetUserInfo().GetEffectiveUser() != "alice" || ctxs[0].GetUserInfo().GetRealUser() != "bob" {
		t.Fatalf("context %v", ctxs)
	}
}

func testToken() (security.Token, func([]byte) ([]byte, error)) {
	id := security.EncodeAMRMTokenIdentifier(security.AMRMTokenIdentifier{
		Attempt: security.ApplicationAttemptID{ClusterTimestamp: 1700000000000, AppID: 3, AttemptID: 1}, KeyID: 9})
	tok := security.Token{Identifier: id, Password: []byte("secret-password"), Kind: security.KindAMRMToken}
	return tok, func(got []byte) ([]byte, error) {
		if string(got) != string(id) {
			return nil, errors.New("unknown token")
		}
		return []byte("secret-password"), nil
	}
}

func TestTokenAuth(t *testing.T) {
	for _, noInitial := range []bool{false, true} {
		t.Run(fmt.Sprintf("noInitialChallenge=%v", noInitial), func(t *testing.T) {
			tok, pw := testToken()
			s := newServer(t, ipctest.Options{Auth: ipctest.AuthToken, Password: pw, NoInitialChallenge: noInitial})
			c := dial(t, Config{Addresses: []string{s.Addr}, Auth: AuthToken, Token: &tok, User: "ignored"})
			got, err := callEcho(context.Background(), c, "r")
			if err != nil {
				t.Fatal(err)
			}
			if got.GetService() != string(tok.Identifier) {
				t.Fatalf("server saw user %q", got.GetService())
			}
			ctxs := s.Contexts()
			if len(ctxs) != 1 || ctxs[0].UserInfo != nil {
				t.Fatalf("TOKEN connections must send no user info: %v", ctxs)
			}
		})
	}
}

func TestTokenWrongPassword(t *testing.T) {
	tok, pw := testToken()
	s := newServer(t, ipctest.Options{Auth: ipctest.AuthToken, Password: pw})
	tok.Password = []byte("wrong")
	_, err := Dial(context.Background(), Config{Addresses: []string{s.Addr}, Protocol: testProtocol, Auth: AuthToken, Token: &tok, ConnectRounds: 3, RetryBackoff: time.Millisecond})
	if !errors.Is(err, ErrPermission) || !errors.Is(err, os.ErrPermission) {
		t.Fatalf("err = %v", err)
	}
	var ce *ConnectError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "token") {
		t.Fatalf("err = %v", err)
	}
	if s.Accepted() != 1 {
		t.Fatalf("authentication failures must not be retried: %d connections", s.Accepted())
	}
}

func TestTokenQOPWrapping(t *testing.T) {
	for _, prot := range []Protection{ProtectionIntegrity, ProtectionPrivacy} {
		t.Run(string(prot), func(t *testing.T) {
			tok, pw := testToken()
			s := newServer(t, ipctest.Options{Auth: ipctest.AuthToken, Password: pw, QOPs: []string{"auth-conf", "auth-int", "auth"}})
			c := dial(t, Config{Addresses: []string{s.Addr}, Auth: AuthToken, Token: &tok, Protection: []Protection{prot}})
			for i := 0; i < 5; i++ {
				got, err := callEcho(context.Background(), c, fmt.Sprint("r", i))
				if err != nil {
					t.Fatal(err)
				}
				if got.GetKind() != fmt.Sprint("r", i) {
					t.Fatal(got)
				}
			}
			if s.WrappedPackets() < 6 { // context + 5 calls
				t.Fatalf("only %d wrapped packets", s.WrappedPackets())
			}
			// A request larger than the server's maxbuf is split over several WRAP packets.
			before := s.WrappedPackets()
			big := strings.Repeat("x", 200_000)
			got, err := callEcho(context.Background(), c, big)
			if err != nil || got.GetKind() != big {
				t.Fatalf("big call: %v", err)
			}
			if n := s.WrappedPackets() - before; n < 4 {
				t.Fatalf("200 kB request went out in %d WRAP packets", n)
			}
		})
	}
}

func TestTokenQOPMismatch(t *testing.T) {
	tok, pw := testToken()
	s := newServer(t, ipctest.Options{Auth: ipctest.AuthToken, Password: pw, QOPs: []string{"auth-conf"}})
	_, err := Dial(context.Background(), Config{Addresses: []string{s.Addr}, Protocol: testProtocol, Auth: AuthToken, Token: &tok,
		Protection: []Protection{ProtectionAuthentication}, ConnectRounds: 1})
	if !errors.Is(err, ErrSASL) || !strings.Contains(err.Error(), "hadoop.rpc.protection") {
		t.Fatalf("err = %v", err)
	}
}

func TestSimpleOnTokenPort(t *testing.T) {
	tok, pw := testToken()
	_ = tok
	s := newServer(t, ipctest.Options{Auth: ipctest.AuthToken, Password: pw})
	c := dial(t, Config{Addresses: []string{s.Addr}, User: "alice"})
	_, err := callEcho(context.Background(), c, "r")
	var re *RemoteError
	if !errors.Is(err, ErrPermission) || !errors.As(err, &re) || !re.Fatal {
		t.Fatalf("err = %v", err)
	}
	if !strings.Contains(err.Error(), "require a token") {
		t.Fatalf("no hint: %v", err)
	}
}

func TestTokenClientFallsBackToSimple(t *testing.T) {
	tok, _ := testToken()
	s := newServer(t, ipctest.Options{Auth: ipctest.AuthSimpleSASL})
	c := dial(t, Config{Addresses: []string{s.Addr}, Auth: AuthToken, Token: &tok, User: "carol"})
	got, err := callEcho(context.Background(), c, "r")
	if err != nil || got.GetService() != "carol" {
		t.Fatalf("%v %v", got, err)
	}
}

func TestConcurrentCallsOutOfOrder(t *testing.T) {
	s := newServer(t, ipctest.Options{})
	// Later calls answer first: the handler sleeps less for larger renewer numbers.
	s.Handle("getDelegationToken", func(call *ipctest.Call) (proto.Message, error) {
		req := &hadoopproto.GetDelegationTokenRequestProto{}
		_ = call.Decode(req)
		var n int
		fmt.Sscan(req.GetRenewer(), &n)
		time.Sleep(time.Duration(40-n) * time.Millisecond)
		return echo(call)
	})
	c := dial(t, Config{Addresses: []string{s.Addr}, User: "u"})
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i := 0; i < 40; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			got, err := callEcho(context.Background(), c, fmt.Sprint(i))
			if err == nil && got.GetKind() != fmt.Sprint(i) {
				err = fmt.Errorf("call %d got reply %s", i, got.GetKind())
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
	if s.Accepted() != 1 || s.Calls() != 40 {
		t.Fatalf("connections %d calls %d", s.Accepted(), s.Calls())
	}
}

func TestCancelledCallKeepsConnection(t *testing.T) {
	s := newServer(t, ipctest.Options{})
	release := make(chan struct{})
	s.Handle("slow", func(call *ipctest.Call) (proto.Message, error) {
		<-release
		return echo(call)
	})
	c := dial(t, Config{Addresses: []string{s.Addr}, User: "u"})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := c.Call(ctx, "slow", &hadoopproto.GetDelegationTokenRequestProto{Renewer: proto.String("x")}, &hadoopproto.GetDelegationTokenResponseProto{})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
	if _, err := callEcho(context.Background(), c, "after"); err != nil {
		t.Fatal(err)
	}
	close(release) // the late reply to the abandoned call is dropped
	if _, err := callEcho(context.Background(), c, "again"); err != nil {
		t.Fatal(err)
	}
	if s.Accepted() != 1 {
		t.Fatalf("%d connections", s.Accepted())
	}
}

func TestRemoteErrors(t *testing.T) {
	s := newServer(t, ipctest.Options{})
	s.Handle("getApplicationReport", func(*ipctest.Call) (proto.Message, error) {
		return nil, &ipctest.Exception{Class: "org.apache.hadoop.yarn.exceptions.ApplicationNotFoundException",
			Message: "Application with id 'application_1_0001' doesn't exist in RM.\n\tat org.apache..."}
	})
	s.Handle("allocate", func(*ipctest.Call) (proto.Message, error) {
		return nil, &ipctest.Exception{Class: "org.apache.hadoop.yarn.exceptions.ApplicationMasterNotRegisteredException", Message: "not registered"}
	})
	s.Handle("odd", func(*ipctest.Call) (proto.Message, error) {
		return nil, &ipctest.Exception{Class: "org.apache.hadoop.yarn.exceptions.SomethingNewException", Message: "new"}
	})
	c := dial(t, Config{Addresses: []string{s.Addr}, User: "u"})
	req := &hadoopproto.GetDelegationTokenRequestProto{Renewer: proto.String("x")}

	err := c.Call(context.Background(), "getApplicationReport", req, nil)
	var re *RemoteError
	if !errors.As(err, &re) || !errors.Is(err, ErrApplicationNotFound) || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("err = %v", err)
	}
	if re.Method != "getApplicationReport" || re.Addr != s.Addr || re.Fatal || re.Code != "ERROR_APPLICATION" {
		t.Fatalf("%+v", re)
	}
	if strings.Contains(err.Error(), "\tat") || !strings.Contains(err.Error(), "ApplicationNotFoundException: Application with id") {
		t.Fatalf("message: %q", err.Error())
	}
	if err := c.Call(context.Background(), "allocate", req, nil); !errors.Is(err, ErrApplicationMasterNotRegistered) {
		t.Fatalf("err = %v", err)
	}
	if err := c.Call(context.Background(), "odd", req, nil); !errors.Is(err, ErrYarn) {
		t.Fatalf("err = %v", err)
	}
	if err := c.Call(context.Background(), "nope", req, nil); !errors.Is(err, ErrNoSuchMethod) {
		t.Fatalf("err = %v", err)
	}
	// ERROR responses leave the connection usable.
	if _, err := callEcho(context.Background(), c, "ok"); err != nil || s.Accepted() != 1 {
		t.Fatalf("%v, %d connections", err, s.Accepted())
	}

	wrong := dial(t, Config{Addresses: []string{s.Addr}, User: "u", Protocol: ProtocolApplicationMaster})
	if _, err := callEcho(context.Background(), wrong, "x"); !errors.Is(err, ErrNoSuchProtocol) || !strings.Contains(err.Error(), "right port") {
		t.Fatalf("err = %v", err)
	}
	v2 := dial(t, Config{Addresses: []string{s.Addr}, User: "u", ProtocolVersion: 2})
	if _, err := callEcho(context.Background(), v2, "x"); !errors.Is(err, ErrVersionMismatch) {
		t.Fatalf("err = %v", err)
	}
}

func TestFatalReplyReconnects(t *testing.T) {
	s := newServer(t, ipctest.Options{})
	s.Handle("die", func(*ipctest.Call) (proto.Message, error) {
		return nil, &ipctest.Exception{Class: "java.io.IOException", Message: "fatal", Fatal: true}
	})
	c := dial(t, Config{Addresses: []string{s.Addr}, User: "u"})
	var re *RemoteError
	err := c.Call(context.Background(), "die", &hadoopproto.GetDelegationTokenRequestProto{Renewer: proto.String("x")}, nil)
	if !errors.As(err, &re) || !re.Fatal {
		t.Fatalf("err = %v", err)
	}
	if _, err := callEcho(context.Background(), c, "x"); err != nil {
		t.Fatal(err)
	}
	if s.Accepted() != 2 {
		t.Fatalf("%d connections", s.Accepted())
	}
}

func TestReconnectAfterServerDrop(t *testing.T) {
	s := newServer(t, ipctest.Options{})
	c := dial(t, Config{Addresses: []string{s.Addr}, User: "u"})
	if _, err := callEcho(context.Background(), c, "1"); err != nil {
		t.Fatal(err)
	}
	s.DropConnections()
	time.Sleep(20 * time.Millisecond) // let the reader notice
	if _, err := callEcho(context.Background(), c, "2"); err != nil {
		t.Fatal(err)
	}
	if s.Accepted() != 2 {
		t.Fatalf("%d connections", s.Accepted())
	}
}

func TestInFlightCallFailsWhenConnectionDrops(t *testing.T) {
	s := newServer(t, ipctest.Options{})
	started := make(chan struct{})
	s.Handle("hang", func(call *ipctest.Call) (proto.Message, error) {
		close(started)
		time.Sleep(200 * time.Millisecond)
		return echo(call)
	})
	c := dial(t, Config{Addresses: []string{s.Addr}, User: "u"})
	go func() {
		<-started
		s.DropConnections()
	}()
	err := c.Call(context.Background(), "hang", &hadoopproto.GetDelegationTokenRequestProto{Renewer: proto.String("x")}, nil)
	if !errors.Is(err, ErrConnectionLost) {
		t.Fatalf("err = %v", err)
	}
}

func TestStandbyFailover(t *testing.T) {
	standby := newServer(t, ipctest.Options{})
	standby.SetStandby(true)
	active := newServer(t, ipctest.Options{})
	c := dial(t, Config{Addresses: []string{standby.Addr, active.Addr}, User: "u"})
	if _, err := callEcho(context.Background(), c, "x"); err != nil {
		t.Fatal(err)
	}
	if c.RemoteAddr() != active.Addr {
		t.Fatalf("on %s", c.RemoteAddr())
	}
	// Both standby: the error surfaces after bounded failovers.
	active.SetStandby(true)
	_, err := callEcho(context.Background(), c, "x")
	if !errors.Is(err, ErrStandby) {
		t.Fatalf("err = %v", err)
	}
}

func deadAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestConnectFailoverAndHint(t *testing.T) {
	s := newServer(t, ipctest.Options{})
	dead := deadAddr(t)
	c := dial(t, Config{Addresses: []string{dead, s.Addr}, User: "u"})
	if c.RemoteAddr() != s.Addr {
		t.Fatalf("on %s", c.RemoteAddr())
	}
	_, err := Dial(context.Background(), Config{Addresses: []string{dead}, Protocol: ProtocolApplicationClient, User: "u", ConnectRounds: 2, RetryBackoff: time.Millisecond})
	var ce *ConnectError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), dead) || !strings.Contains(err.Error(), "yarn.resourcemanager.address") {
		t.Fatalf("err = %v", err)
	}
	_, err = Dial(context.Background(), Config{Addresses: []string{dead}, Protocol: ProtocolApplicationMaster, Auth: AuthToken, Token: &security.Token{}, ConnectRounds: 1})
	if err == nil || !strings.Contains(err.Error(), "yarn.resourcemanager.scheduler.address") {
		t.Fatalf("err = %v", err)
	}
}

func TestDialHonoursContext(t *testing.T) {
	// A server that accepts but never answers the SASL negotiation.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	tok, _ := testToken()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = Dial(ctx, Config{Addresses: []string{ln.Addr().String()}, Protocol: testProtocol, Auth: AuthToken, Token: &tok, ConnectRounds: 5})
	if err == nil || time.Since(start) > 2*time.Second {
		t.Fatalf("err = %v after %v", err, time.Since(start))
	}
}

func TestPing(t *testing.T) {
	s := newServer(t, ipctest.Options{})
	c := dial(t, Config{Addresses: []string{s.Addr}, User: "u", PingInterval: 20 * time.Millisecond})
	deadline := time.Now().Add(2 * time.Second)
	for s.Pings() < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if s.Pings() < 2 {
		t.Fatalf("%d pings", s.Pings())
	}
	if _, err := callEcho(context.Background(), c, "x"); err != nil {
		t.Fatal(err)
	}
}

func TestCloseEndsGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	s, err := ipctest.New(ipctest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.Handle("getDelegationToken", echo)
	for i := 0; i < 5; i++ {
		c, err := Dial(context.Background(), Config{Addresses: []string{s.Addr}, Protocol: testProtocol, User: "u", PingInterval: 5 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := callEcho(context.Background(), c, "x"); err != nil {
			t.Fatal(err)
		}
		s.DropConnections() // leave a dead connection behind, then reconnect
		time.Sleep(5 * time.Millisecond)
		if _, err := callEcho(context.Background(), c, "y"); err != nil {
			t.Fatal(err)
		}
		c.Close()
		if err := c.Call(context.Background(), "getDelegationToken", &hadoopproto.GetDelegationTokenRequestProto{Renewer: proto.String("z")}, nil); !errors.Is(err, ErrClosed) {
			t.Fatalf("after close: %v", err)
		}
	}
	s.Close()
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<16)
		t.Fatalf("%d goroutines before, %d after:\n%s", before, n, buf[:runtime.Stack(buf, true)])
	}
}

func TestConfigValidation(t *testing.T) {
	bad := []Config{
		{},
		{Addresses: []string{"nohostport"}, Protocol: testProtocol, User: "u"},
		{Addresses: []string{"h:1"}, User: "u"},
		{Addresses: []string{"h:1"}, Protocol: testProtocol, Auth: AuthToken},
		{Addresses: []string{"h:1"}, Protocol: testProtocol, Auth: AuthKerberos},
		{Addresses: []string{"h:1"}, Protocol: testProtocol, Auth: AuthKerberos, Kerberos: &KerberosConfig{}},
		{Addresses: []string{"h:1"}, Protocol: testProtocol, User: "u", Protection: []Protection{"secret"}},
		{Addresses: []string{"h:1"}, Protocol: testProtocol, Auth: AuthMethod(9)},
	}
	for i, cfg := range bad {
		if _, err := NewClient(cfg); err == nil {
			t.Errorf("config %d accepted", i)
		}
	}
	t.Setenv("HADOOP_USER_NAME", "envuser")
	c, err := NewClient(Config{Addresses: []string{"h:1"}, Protocol: testProtocol})
	if err != nil || c.cfg.User != "envuser" {
		t.Fatalf("%v %v", c, err)
	}
}

func TestCallTimeoutAndCloseAbortsDial(t *testing.T) {
	s := newServer(t, ipctest.Options{})
	block := make(chan struct{})
	defer close(block)
	s.Handle("hang", func(call *ipctest.Call) (proto.Message, error) {
		<-block
		return echo(call)
	})
	c := dial(t, Config{Addresses: []string{s.Addr}, User: "u", CallTimeout: 50 * time.Millisecond})
	err := c.Call(context.Background(), "hang", &hadoopproto.GetDelegationTokenRequestProto{Renewer: proto.String("x")}, nil)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}

	// Close interrupts a client that is backing off between connection rounds.
	dead := deadAddr(t)
	c2, err := NewClient(Config{Addresses: []string{dead}, Protocol: testProtocol, User: "u", ConnectRounds: 100, RetryBackoff: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		done <- c2.Call(context.Background(), "x", &hadoopproto.GetDelegationTokenRequestProto{Renewer: proto.String("x")}, nil)
	}()
	time.Sleep(50 * time.Millisecond)
	start := time.Now()
	c2.Close()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("call succeeded")
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Close did not abort the dial")
	}
	if time.Since(start) > time.Second {
		t.Fatalf("Close took %v", time.Since(start))
	}
}

func TestRetriableIsRetried(t *testing.T) {
	s := newServer(t, ipctest.Options{})
	var mu sync.Mutex
	n := 0
	s.Handle("busy", func(call *ipctest.Call) (proto.Message, error) {
		mu.Lock()
		defer mu.Unlock()
		n++
		if n < 3 {
			return nil, &ipctest.Exception{Class: "org.apache.hadoop.ipc.RetriableException", Message: "try again"}
		}
		return echo(call)
	})
	c := dial(t, Config{Addresses: []string{s.Addr}, User: "u", ConnectRounds: 3, RetryBackoff: time.Millisecond})
	if err := c.Call(context.Background(), "busy", &hadoopproto.GetDelegationTokenRequestProto{Renewer: proto.String("x")}, nil); err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Fatalf("%d attempts", n)
	}
}

func benchmarkCalls(b *testing.B, opts ipctest.Options, cfg Config, parallel bool) {
	if opts.Protocol == "" {
		opts.Protocol = testProtocol
	}
	s, err := ipctest.New(opts)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	s.Handle("getDelegationToken", echo)
	cfg.Addresses, cfg.Protocol = []string{s.Addr}, testProtocol
	c, err := Dial(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	b.ReportAllocs()
	b.ResetTimer()
	if !parallel {
		for i := 0; i < b.N; i++ {
			if _, err := callEcho(context.Background(), c, "renewer"); err != nil {
				b.Fatal(err)
			}
		}
		return
	}
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := callEcho(context.Background(), c, "renewer"); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkCallSimple(b *testing.B) {
	benchmarkCalls(b, ipctest.Options{}, Config{User: "u"}, false)
}

func BenchmarkCallSimpleParallel(b *testing.B) {
	benchmarkCalls(b, ipctest.Options{}, Config{User: "u"}, true)
}

func BenchmarkCallTokenPrivacyParallel(b *testing.B) {
	tok, pw := testToken()
	benchmarkCalls(b, ipctest.Options{Auth: ipctest.AuthToken, Password: pw, QOPs: []string{"auth-conf"}},
		Config{Auth: AuthToken, Token: &tok}, true)
}

// Package itest checks yarn/ipc against a real Hadoop ResourceManager (the testing/hadoop
// mini-cluster): SIMPLE calls on the client port, the TOKEN-only scheduler port, and a full
// DIGEST-MD5 login with a real AMRMToken obtained by submitting an unmanaged AM.
package itest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/flink-go/flink-go/testing/hadoop/testbed"
	hadoopproto "github.com/flink-go/flink-go/yarn/internal/proto/hadoop"
	"github.com/flink-go/flink-go/yarn/ipc"
	"github.com/flink-go/flink-go/yarn/security"
)

func TestMain(m *testing.M) { os.Exit(testbed.Main(m)) }

func user() string {
	if u := os.Getenv("USER"); u != "" {
		return u
	}
	return "flinkgo"
}

func rmClient(t *testing.T, c *testbed.Cluster) *ipc.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl, err := ipc.Dial(ctx, ipc.Config{Addresses: []string{c.RMAddress()}, Protocol: ipc.ProtocolApplicationClient, User: user()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	return cl
}

func TestClusterMetricsSimple(t *testing.T) {
	c := testbed.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := c.WaitForNodes(ctx, 1); err != nil {
		t.Fatal(err)
	}
	cl := rmClient(t, c)
	resp := &hadoopproto.GetClusterMetricsResponseProto{}
	if err := cl.Call(ctx, "getClusterMetrics", &hadoopproto.GetClusterMetricsRequestProto{}, resp); err != nil {
		t.Fatal(err)
	}
	if n := resp.GetClusterMetrics().GetNumNodeManagers(); n < 1 {
		t.Fatalf("num_node_managers = %d", n)
	}
	start := time.Now()
	const n = 200
	for i := 0; i < n; i++ {
		if err := cl.Call(ctx, "getClusterMetrics", &hadoopproto.GetClusterMetricsRequestProto{}, &hadoopproto.GetClusterMetricsResponseProto{}); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("getClusterMetrics: %v per call over %d sequential calls", time.Since(start)/n, n)
	// Many concurrent calls on the one connection.
	errs := make(chan error, 20)
	for i := 0; i < 20; i++ {
		go func() {
			errs <- cl.Call(ctx, "getClusterMetrics", &hadoopproto.GetClusterMetricsRequestProto{}, &hadoopproto.GetClusterMetricsResponseProto{})
		}()
	}
	for i := 0; i < 20; i++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	// A real remote error maps to a typed error.
	err := cl.Call(ctx, "getApplicationReport", &hadoopproto.GetApplicationReportRequestProto{
		ApplicationId: &hadoopproto.ApplicationIdProto{Id: proto.Int32(9999), ClusterTimestamp: proto.Int64(1)}}, &hadoopproto.GetApplicationReportResponseProto{})
	if !errors.Is(err, ipc.ErrApplicationNotFound) {
		t.Fatalf("err = %v", err)
	}
	if err := cl.Call(ctx, "noSuchMethod", &hadoopproto.GetClusterMetricsRequestProto{}, nil); !errors.Is(err, ipc.ErrNoSuchMethod) {
		t.Fatalf("unknown method: %v", err)
	}
}

func TestWrongProtocolOnRealRM(t *testing.T) {
	c := testbed.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl, err := ipc.Dial(ctx, ipc.Config{Addresses: []string{c.RMAddress()}, Protocol: "org.example.NoSuchProtocolPB", User: user()})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	err = cl.Call(ctx, "getClusterMetrics", &hadoopproto.GetClusterMetricsRequestProto{}, nil)
	if !errors.Is(err, ipc.ErrNoSuchProtocol) {
		t.Fatalf("unknown protocol: %v", err)
	}
	t.Logf("unknown protocol: %v", err)
}

func TestSchedulerRejectsSimple(t *testing.T) {
	c := testbed.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl, err := ipc.Dial(ctx, ipc.Config{Addresses: []string{c.SchedulerAddress()}, Protocol: ipc.ProtocolApplicationMaster, User: user(), ConnectRounds: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	err = cl.Call(ctx, "registerApplicationMaster", &hadoopproto.RegisterApplicationMasterRequestProto{}, nil)
	if !errors.Is(err, ipc.ErrPermission) {
		t.Fatalf("err = %v", err)
	}
	t.Logf("SIMPLE on the scheduler port: %v", err)
}

// TestUnmanagedAMTokenLogin submits an unmanaged AM, takes its AMRMToken from the application
// report and registers/unregisters over a TOKEN (DIGEST-MD5) connection to the scheduler port.
func TestUnmanagedAMTokenLogin(t *testing.T) {
	c := testbed.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if _, err := c.WaitForNodes(ctx, 1); err != nil {
		t.Fatal(err)
	}
	rm := rmClient(t, c)
	newApp := &hadoopproto.GetNewApplicationResponseProto{}
	if err := rm.Call(ctx, "getNewApplication", &hadoopproto.GetNewApplicationRequestProto{}, newApp); err != nil {
		t.Fatal(err)
	}
	appID := newApp.GetApplicationId()
	asc := &hadoopproto.ApplicationSubmissionContextProto{
		ApplicationId:   appID,
		ApplicationName: proto.String("flink-go-ipc-itest"),
		UnmanagedAm:     proto.Bool(true),
		AmContainerSpec: &hadoopproto.ContainerLaunchContextProto{},
		Resource:        &hadoopproto.ResourceProto{Memory: proto.Int64(128), VirtualCores: proto.Int32(1)},
		ApplicationType: proto.String("flink-go-test"),
		MaxAppAttempts:  proto.Int32(1),
	}
	if err := rm.Call(ctx, "submitApplication", &hadoopproto.SubmitApplicationRequestProto{ApplicationSubmissionContext: asc}, &hadoopproto.SubmitApplicationResponseProto{}); err != nil {
		t.Fatal(err)
	}
	defer rm.Call(context.Background(), "forceKillApplication", &hadoopproto.KillApplicationRequestProto{ApplicationId: appID}, &hadoopproto.KillApplicationResponseProto{})

	var tokProto *hadoopproto.TokenProto
	for tokProto == nil {
		rep := &hadoopproto.GetApplicationReportResponseProto{}
		if err := rm.Call(ctx, "getApplicationReport", &hadoopproto.GetApplicationReportRequestProto{ApplicationId: appID}, rep); err != nil {
			t.Fatal(err)
		}
		if r := rep.GetApplicationReport(); r.GetAmRmToken() != nil && r.GetYarnApplicationState() == hadoopproto.YarnApplicationStateProto_ACCEPTED {
			tokProto = r.GetAmRmToken()
			break
		}
		select {
		case <-ctx.Done():
			t.Fatal("no AMRMToken in the application report")
		case <-time.After(200 * time.Millisecond):
		}
	}
	tok, err := security.TokenFromProto(tokProto)
	if err != nil {
		t.Fatal(err)
	}
	ident, err := security.DecodeAMRMTokenIdentifier(tok.Identifier)
	if err != nil {
		t.Fatal(err)
	}
	if ident.Attempt.AppID != appID.GetId() || ident.Attempt.ClusterTimestamp != appID.GetClusterTimestamp() {
		t.Fatalf("identifier %v does not match %v", ident, appID)
	}
	t.Logf("AMRMToken kind=%s attempt=%s", tok.Kind, ident.Attempt)

	am, err := ipc.Dial(ctx, ipc.Config{Addresses: []string{c.SchedulerAddress()}, Protocol: ipc.ProtocolApplicationMaster, Auth: ipc.AuthToken, Token: &tok})
	if err != nil {
		t.Fatal(err)
	}
	defer am.Close()
	reg := &hadoopproto.RegisterApplicationMasterResponseProto{}
	// The attempt may need a moment to reach LAUNCHED after the app is ACCEPTED.
	for {
		err = am.Call(ctx, "registerApplicationMaster", &hadoopproto.RegisterApplicationMasterRequestProto{
			Host: proto.String("localhost"), RpcPort: proto.Int32(0), TrackingUrl: proto.String("")}, reg)
		if err == nil || ctx.Err() != nil || !strings.Contains(err.Error(), "attempt") {
			break
		}
		t.Logf("register: %v (retrying)", err)
		time.Sleep(300 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	if reg.GetMaximumCapability().GetMemory() <= 0 {
		t.Fatalf("register response %v", reg)
	}
	// A second register on the same attempt is an InvalidApplicationMasterRequestException.
	err = am.Call(ctx, "registerApplicationMaster", &hadoopproto.RegisterApplicationMasterRequestProto{Host: proto.String("localhost")}, reg)
	if err != nil && !errors.Is(err, ipc.ErrInvalidApplicationMasterRequest) {
		t.Logf("second register: %v", err)
	}
	checkNMToken(ctx, t, am, ident.Attempt)

	// A token with a wrong password is refused by the real server.
	bad := tok
	bad.Password = append([]byte{}, tok.Password...)
	bad.Password[0] ^= 0xff
	_, err = ipc.Dial(ctx, ipc.Config{Addresses: []string{c.SchedulerAddress()}, Protocol: ipc.ProtocolApplicationMaster, Auth: ipc.AuthToken, Token: &bad, ConnectRounds: 1})
	if !errors.Is(err, ipc.ErrPermission) || errors.Is(err, ipc.ErrInvalidToken) {
		t.Fatalf("bad password: %v", err)
	}
	t.Logf("bad password: %v", err)

	for {
		fin := &hadoopproto.FinishApplicationMasterResponseProto{}
		if err := am.Call(ctx, "finishApplicationMaster", &hadoopproto.FinishApplicationMasterRequestProto{
			FinalApplicationStatus: hadoopproto.FinalApplicationStatusProto_APP_SUCCEEDED.Enum(), Diagnostics: proto.String("ipc itest")}, fin); err != nil {
			t.Fatal(err)
		}
		if fin.GetIsUnregistered() {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	am.Close()

	// Once the attempt ended its AMRMToken is expired: a new connection with it is refused with an
	// error that says so, within the timeout.
	for {
		rep := &hadoopproto.GetApplicationReportResponseProto{}
		if err := rm.Call(ctx, "getApplicationReport", &hadoopproto.GetApplicationReportRequestProto{ApplicationId: appID}, rep); err != nil {
			t.Fatal(err)
		}
		if rep.GetApplicationReport().GetYarnApplicationState() == hadoopproto.YarnApplicationStateProto_FINISHED {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	var expiredErr error
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		dctx, dcancel := context.WithTimeout(ctx, 10*time.Second)
		old, err := ipc.Dial(dctx, ipc.Config{Addresses: []string{c.SchedulerAddress()}, Protocol: ipc.ProtocolApplicationMaster, Auth: ipc.AuthToken, Token: &tok, ConnectRounds: 1})
		if err == nil {
			err = old.Call(dctx, "allocate", &hadoopproto.AllocateRequestProto{ResponseId: proto.Int32(1)}, &hadoopproto.AllocateResponseProto{})
			old.Close()
		}
		dcancel()
		if err != nil {
			expiredErr = err
			break
		}
	}
	if expiredErr == nil {
		t.Fatal("the AMRMToken of a finished attempt was still accepted")
	}
	if !errors.Is(expiredErr, ipc.ErrPermission) && !errors.Is(expiredErr, ipc.ErrInvalidToken) && !errors.Is(expiredErr, ipc.ErrApplicationMasterNotRegistered) {
		t.Fatalf("expired token: unexpected error class: %v", expiredErr)
	}
	if !strings.Contains(expiredErr.Error(), c.SchedulerAddress()) {
		t.Errorf("the error should name the address %s: %v", c.SchedulerAddress(), expiredErr)
	}
	t.Logf("expired AMRMToken: %v", expiredErr)
}

// checkNMToken allocates one container, takes the NMToken the RM issues for its node, and calls
// getContainerStatuses on that NodeManager over a TOKEN connection authenticated with it.
func checkNMToken(ctx context.Context, t *testing.T, am *ipc.Client, attempt security.ApplicationAttemptID) {
	t.Helper()
	ask := &hadoopproto.ResourceRequestProto{
		Priority:      &hadoopproto.PriorityProto{Priority: proto.Int32(1)},
		ResourceName:  proto.String("*"),
		Capability:    &hadoopproto.ResourceProto{Memory: proto.Int64(128), VirtualCores: proto.Int32(1)},
		NumContainers: proto.Int32(1),
	}
	var container *hadoopproto.ContainerProto
	var nmToken *hadoopproto.TokenProto
	responseID := int32(0)
	for container == nil {
		req := &hadoopproto.AllocateRequestProto{ResponseId: proto.Int32(responseID), Progress: proto.Float32(0)}
		if responseID == 0 {
			req.Ask = []*hadoopproto.ResourceRequestProto{ask}
		}
		resp := &hadoopproto.AllocateResponseProto{}
		if err := am.Call(ctx, "allocate", req, resp); err != nil {
			t.Fatal(err)
		}
		responseID = resp.GetResponseId()
		for _, nt := range resp.GetNmTokens() {
			nmToken = nt.GetToken()
		}
		if cs := resp.GetAllocatedContainers(); len(cs) > 0 {
			container = cs[0]
			break
		}
		select {
		case <-ctx.Done():
			t.Fatal("no container allocated")
		case <-time.After(200 * time.Millisecond):
		}
	}
	defer am.Call(context.Background(), "allocate", &hadoopproto.AllocateRequestProto{ResponseId: proto.Int32(responseID),
		Release: []*hadoopproto.ContainerIdProto{container.GetId()}}, &hadoopproto.AllocateResponseProto{})
	if nmToken == nil {
		t.Fatal("no NMToken with the first container")
	}
	tok, err := security.TokenFromProto(nmToken)
	if err != nil {
		t.Fatal(err)
	}
	id, err := security.DecodeNMTokenIdentifier(tok.Identifier)
	if err != nil {
		t.Fatal(err)
	}
	node := fmt.Sprintf("%s:%d", container.GetNodeId().GetHost(), container.GetNodeId().GetPort())
	if id.NodeAddress() != node || id.Attempt != attempt || tok.Kind != security.KindNMToken {
		t.Fatalf("NMToken %+v kind %s for node %s", id, tok.Kind, node)
	}
	nm, err := ipc.Dial(ctx, ipc.Config{Addresses: []string{node}, Protocol: ipc.ProtocolContainerManagement, Auth: ipc.AuthToken, Token: &tok})
	if err != nil {
		t.Fatal(err)
	}
	defer nm.Close()
	st := &hadoopproto.GetContainerStatusesResponseProto{}
	if err := nm.Call(ctx, "getContainerStatuses", &hadoopproto.GetContainerStatusesRequestProto{
		ContainerId: []*hadoopproto.ContainerIdProto{container.GetId()}}, st); err != nil {
		t.Fatal(err)
	}
	// The container was never started, so the NM reports it as a per-container failure.
	t.Logf("NM %s via NMToken: %d statuses, %d failed requests", node, len(st.GetStatus()), len(st.GetFailedRequests()))
}

// TestRMDelegationToken asks the real RM for a delegation token (allowed without Kerberos when
// security is off) and decodes its identifier.
func TestRMDelegationToken(t *testing.T) {
	c := testbed.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rm := rmClient(t, c)
	resp := &hadoopproto.GetDelegationTokenResponseProto{}
	if err := rm.Call(ctx, "getDelegationToken", &hadoopproto.GetDelegationTokenRequestProto{Renewer: proto.String("yarn")}, resp); err != nil {
		t.Fatal(err)
	}
	tok, err := security.TokenFromProto(resp.GetToken())
	if err != nil {
		t.Fatal(err)
	}
	id, err := security.DecodeDelegationTokenIdentifier(tok.Identifier)
	if err != nil {
		t.Fatal(err)
	}
	if tok.Kind != security.KindRMDelegation || id.Renewer != "yarn" || !strings.HasPrefix(id.Owner, user()) || !id.MaxDate.After(id.IssueDate) {
		t.Fatalf("token %v identifier %+v", tok, id)
	}
	t.Logf("%v: owner %s, max date %v", tok, id.Owner, id.MaxDate)
	if err := rm.Call(ctx, "cancelDelegationToken", &hadoopproto.CancelDelegationTokenRequestProto{Token: tok.Proto()}, &hadoopproto.CancelDelegationTokenResponseProto{}); err != nil {
		t.Logf("cancel: %v", err)
	}
}

// TestWrongServerKind: pointing the client at a port that does not speak Hadoop IPC (the RM's
// HTTP web port) fails within the timeout with an error naming the address.
func TestWrongServerKind(t *testing.T) {
	c := testbed.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	start := time.Now()
	cl, err := ipc.Dial(ctx, ipc.Config{Addresses: []string{c.RMWebAddress()}, Protocol: ipc.ProtocolApplicationClient, User: user(), ConnectRounds: 1,
		ConnectTimeout: 5 * time.Second})
	if err == nil {
		err = cl.Call(ctx, "getClusterMetrics", &hadoopproto.GetClusterMetricsRequestProto{}, &hadoopproto.GetClusterMetricsResponseProto{})
		cl.Close()
	}
	if err == nil {
		t.Fatal("a Hadoop IPC call to an HTTP port succeeded")
	}
	if !strings.Contains(err.Error(), c.RMWebAddress()) {
		t.Errorf("the error should name %s: %v", c.RMWebAddress(), err)
	}
	if time.Since(start) > 15*time.Second {
		t.Errorf("took %s", time.Since(start))
	}
	t.Logf("HTTP port: %v (after %s)", err, time.Since(start).Round(time.Millisecond))
}

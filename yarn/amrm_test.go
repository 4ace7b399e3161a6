package yarn

import (
	"context"
	"errors"
	"fmt"
	"testing"

	pb "github.com/flink-go/flink-go/yarn/internal/proto/hadoop"
	"google.golang.org/protobuf/proto"
)

// javaErr imitates an IPC remote exception.
type javaErr struct{ class, msg string }

func (e *javaErr) Error() string     { return e.class + ": " + e.msg }
func (e *javaErr) JavaClass() string { return e.class }

// fakeRM is a scripted ApplicationMasterProtocol server behind the Conn interface.
type fakeRM struct {
	dials      []DialSpec
	calls      []string
	responseID int32
	registered bool
	// onAllocate returns the response (or error) for an allocate request.
	onAllocate func(req *pb.AllocateRequestProto) (*pb.AllocateResponseProto, error)
	finishLeft int // finish calls answering isUnregistered=false before true
}

type fakeConn struct {
	rm     *fakeRM
	closed bool
}

func (f *fakeRM) dial(_ context.Context, spec DialSpec) (Conn, error) {
	f.dials = append(f.dials, spec)
	return &fakeConn{rm: f}, nil
}

func (c *fakeConn) Close() error { c.closed = true; return nil }

func (c *fakeConn) Call(_ context.Context, method string, req, resp proto.Message) error {
	f := c.rm
	if c.closed {
		return errors.New("use of closed connection")
	}
	f.calls = append(f.calls, method)
	switch method {
	case "registerApplicationMaster":
		if f.registered {
			return &javaErr{"org.apache.hadoop.yarn.exceptions.InvalidApplicationMasterRequestException", "already registered"}
		}
		f.registered = true
		f.responseID = 0
		proto.Merge(resp, &pb.RegisterApplicationMasterResponseProto{Queue: proto.String("default")})
	case "allocate":
		r := req.(*pb.AllocateRequestProto)
		if !f.registered {
			return &javaErr{"org.apache.hadoop.yarn.exceptions.ApplicationMasterNotRegisteredException", "not registered"}
		}
		if r.GetResponseId() != f.responseID {
			return &javaErr{"org.apache.hadoop.yarn.exceptions.InvalidApplicationMasterRequestException",
				fmt.Sprintf("Invalid responseId %d, last %d", r.GetResponseId(), f.responseID)}
		}
		out, err := f.onAllocate(r)
		if err != nil {
			return err
		}
		f.responseID++
		out.ResponseId = proto.Int32(f.responseID)
		proto.Merge(resp, out)
	case "finishApplicationMaster":
		if !f.registered {
			return &javaErr{"org.apache.hadoop.yarn.exceptions.ApplicationMasterNotRegisteredException", "not registered"}
		}
		done := f.finishLeft == 0
		if f.finishLeft > 0 {
			f.finishLeft--
		}
		proto.Merge(resp, &pb.FinishApplicationMasterResponseProto{IsUnregistered: proto.Bool(done)})
	default:
		return fmt.Errorf("unexpected method %s", method)
	}
	return nil
}

func testContainerProto(seq int64, host string) *pb.ContainerProto {
	id := ContainerID{Attempt: AttemptID{App: ApplicationID{ClusterTimestamp: 1, ID: 1}, Attempt: 1}, ID: seq}
	return &pb.ContainerProto{
		Id:             id.toProto(),
		NodeId:         &pb.NodeIdProto{Host: proto.String(host), Port: proto.Int32(4545)},
		Resource:       &pb.ResourceProto{Memory: proto.Int64(512), VirtualCores: proto.Int32(1)},
		ContainerToken: &pb.TokenProto{Identifier: []byte("ct"), Password: []byte("p"), Kind: proto.String("ContainerToken"), Service: proto.String(host + ":4545")},
	}
}

func TestAMRMClientProtocolBookkeeping(t *testing.T) {
	ctx := context.Background()
	rm := &fakeRM{}
	tok := &Token{Identifier: []byte("amrm-1"), Password: []byte("pw1"), Kind: KindAMRMToken}
	c, err := NewAMRMClient([]string{"rm:8030"}, tok, WithDialer(rm.dial))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Allocate(ctx, AllocateRequest{}); !errors.Is(err, ErrNotRegistered) {
		t.Fatalf("allocate before register: %v", err)
	}
	if _, err := c.Register(ctx, "am-host", 8081, "http://am-host:8081"); err != nil {
		t.Fatal(err)
	}
	if len(rm.dials) != 1 || rm.dials[0].Protocol != ProtocolAMRM || string(rm.dials[0].Token.Identifier) != "amrm-1" {
		t.Fatalf("dial spec: %+v", rm.dials)
	}

	// Heartbeat 1: the ask is sent, the RM hands out a container with an NMToken.
	rm.onAllocate = func(req *pb.AllocateRequestProto) (*pb.AllocateResponseProto, error) {
		if len(req.GetAsk()) != 1 || req.GetAsk()[0].GetNumContainers() != 2 || req.GetAsk()[0].GetResourceName() != "*" {
			t.Errorf("ask = %v", req.GetAsk())
		}
		return &pb.AllocateResponseProto{
			AllocatedContainers: []*pb.ContainerProto{testContainerProto(2, "nm1")},
			NmTokens: []*pb.NMTokenProto{{NodeId: &pb.NodeIdProto{Host: proto.String("nm1"), Port: proto.Int32(4545)},
				Token: &pb.TokenProto{Identifier: []byte("nmtok"), Password: []byte("x"), Kind: proto.String("NMToken"), Service: proto.String("nm1:4545")}}},
		}, nil
	}
	resp, err := c.Allocate(ctx, AllocateRequest{Asks: []ResourceRequest{{Priority: 1, Capability: Resource{512, 1}, NumContainers: 2, AllocationRequestID: -1}}, Progress: 7})
	if err != nil {
		t.Fatal(err)
	}
	if resp.ResponseID != 1 || len(resp.Allocated) != 1 || resp.Allocated[0].Node.String() != "nm1:4545" {
		t.Fatalf("resp = %+v", resp)
	}
	if nt := c.NMToken(NodeID{"nm1", 4545}); nt == nil || string(nt.Identifier) != "nmtok" {
		t.Fatalf("NMToken not cached: %v", nt)
	}

	// Heartbeat 2 echoes response id 1 (the fake rejects anything else) and rolls the AMRMToken.
	rm.onAllocate = func(req *pb.AllocateRequestProto) (*pb.AllocateResponseProto, error) {
		return &pb.AllocateResponseProto{AmRmToken: &pb.TokenProto{Identifier: []byte("amrm-2"), Password: []byte("pw2"), Kind: proto.String(KindAMRMToken), Service: proto.String("")}}, nil
	}
	resp, err = c.Allocate(ctx, AllocateRequest{})
	if err != nil || !resp.AMRMTokenRolled {
		t.Fatalf("roll: %+v %v", resp, err)
	}
	// Heartbeat 3 must use a new connection authenticated with the new token.
	rm.onAllocate = func(*pb.AllocateRequestProto) (*pb.AllocateResponseProto, error) {
		return &pb.AllocateResponseProto{}, nil
	}
	if _, err := c.Allocate(ctx, AllocateRequest{}); err != nil {
		t.Fatal(err)
	}
	if len(rm.dials) != 2 || string(rm.dials[1].Token.Identifier) != "amrm-2" {
		t.Fatalf("no redial with the rolled token: %+v", rm.dials)
	}

	// The RM restarts and forgets the attempt: the client re-registers and reports ErrReregistered.
	rm.registered = false
	if _, err := c.Allocate(ctx, AllocateRequest{}); !errors.Is(err, ErrReregistered) {
		t.Fatalf("want ErrReregistered, got %v", err)
	}
	if !rm.registered {
		t.Fatal("client did not re-register")
	}
	// After re-registration the response id restarts from 0.
	if resp, err := c.Allocate(ctx, AllocateRequest{}); err != nil || resp.ResponseID != 1 {
		t.Fatalf("after re-register: %+v %v", resp, err)
	}

	// AM_SHUTDOWN.
	rm.onAllocate = func(*pb.AllocateRequestProto) (*pb.AllocateResponseProto, error) {
		return &pb.AllocateResponseProto{AMCommand: pb.AMCommandProto_AM_SHUTDOWN.Enum()}, nil
	}
	if _, err := c.Allocate(ctx, AllocateRequest{}); !errors.Is(err, ErrAMShutdown) {
		t.Fatalf("want ErrAMShutdown, got %v", err)
	}

	// Finish repeats until isUnregistered, re-registering if needed.
	rm.registered = false
	rm.finishLeft = 2
	if err := c.Finish(ctx, FinalSucceeded, "done", ""); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, m := range rm.calls {
		if m == "finishApplicationMaster" {
			n++
		}
	}
	if n != 4 { // 1 rejected (not registered) + 2 not yet + 1 done
		t.Errorf("finish called %d times, calls %v", n, rm.calls)
	}
}

func TestAMRMClientRejectsMissingToken(t *testing.T) {
	if _, err := NewAMRMClient([]string{"rm:8030"}, nil); err == nil {
		t.Error("nil token accepted")
	}
	if _, err := NewAMRMClient(nil, &Token{Identifier: []byte("x")}); err == nil {
		t.Error("no address accepted")
	}
}

func TestClassify(t *testing.T) {
	err := classify(&javaErr{"org.apache.hadoop.yarn.exceptions.ApplicationNotFoundException", "x"})
	if !errors.Is(err, ErrApplicationNotFound) {
		t.Error("ApplicationNotFoundException not mapped")
	}
	var je *javaErr
	if !errors.As(err, &je) {
		t.Error("original error lost")
	}
	if errors.Is(classify(errors.New("EOF")), ErrApplicationNotFound) {
		t.Error("plain error mapped")
	}
}

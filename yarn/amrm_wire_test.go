package yarn

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	pb "github.com/flink-go/flink-go/yarn/internal/proto/hadoop"
	"github.com/flink-go/flink-go/yarn/ipc/ipctest"
	"google.golang.org/protobuf/proto"
)

// TestAMRMOverTheWire drives AMRMClient and NMClient through the real IPC layer against the
// ipctest fake server with TOKEN (DIGEST-MD5) auth: the AMRMToken roll must make the next
// connection authenticate with the new token (the old one is revoked by then), an RM that lost
// the attempt triggers re-registration, and NMTokens from allocate authenticate to the NM.
func TestAMRMOverTheWire(t *testing.T) {
	var mu sync.Mutex
	passwords := map[string]string{"amrm-1": "pw-1", "nm-tok": "nm-pw"}
	password := func(id []byte) ([]byte, error) {
		mu.Lock()
		defer mu.Unlock()
		if p, ok := passwords[string(id)]; ok {
			return []byte(p), nil
		}
		return nil, fmt.Errorf("unknown token %q", id)
	}
	rm, err := ipctest.New(ipctest.Options{Auth: ipctest.AuthToken, Protocol: ProtocolAMRM, Password: password})
	if err != nil {
		t.Fatal(err)
	}
	defer rm.Close()
	nmSrv, err := ipctest.New(ipctest.Options{Auth: ipctest.AuthToken, Protocol: ProtocolNM, Password: password})
	if err != nil {
		t.Fatal(err)
	}
	defer nmSrv.Close()
	nmHost, nmPort := splitHostPortT(t, nmSrv.Addr)

	var (
		registered  bool
		lastID      int32
		allocates   int
		tokenOfCall []string
	)
	rm.Handle("registerApplicationMaster", func(c *ipctest.Call) (proto.Message, error) {
		mu.Lock()
		defer mu.Unlock()
		registered, lastID = true, 0
		return &pb.RegisterApplicationMasterResponseProto{Queue: proto.String("default")}, nil
	})
	rm.Handle("allocate", func(c *ipctest.Call) (proto.Message, error) {
		req := &pb.AllocateRequestProto{}
		if err := c.Decode(req); err != nil {
			return nil, err
		}
		mu.Lock()
		defer mu.Unlock()
		tokenOfCall = append(tokenOfCall, string(c.TokenIdentifier))
		if !registered {
			return nil, &ipctest.Exception{Class: "org.apache.hadoop.yarn.exceptions.ApplicationMasterNotRegisteredException", Message: "AM not registered"}
		}
		if req.GetResponseId() != lastID {
			return nil, &ipctest.Exception{Class: "org.apache.hadoop.yarn.exceptions.InvalidApplicationMasterRequestException", Message: "Invalid responseId"}
		}
		allocates++
		lastID++
		resp := &pb.AllocateResponseProto{ResponseId: proto.Int32(lastID)}
		switch allocates {
		case 1: // a container on the NM, with its NMToken
			ct := testContainerProto(2, nmHost)
			ct.NodeId.Port = proto.Int32(nmPort)
			resp.AllocatedContainers = []*pb.ContainerProto{ct}
			resp.NmTokens = []*pb.NMTokenProto{{NodeId: ct.NodeId, Token: &pb.TokenProto{Identifier: []byte("nm-tok"), Password: []byte("nm-pw"), Kind: proto.String("NMToken"), Service: proto.String(nmSrv.Addr)}}}
		case 2: // the master key rolls: hand out amrm-2 and revoke amrm-1 for new connections
			passwords["amrm-2"] = "pw-2"
			delete(passwords, "amrm-1")
			resp.AmRmToken = &pb.TokenProto{Identifier: []byte("amrm-2"), Password: []byte("pw-2"), Kind: proto.String(KindAMRMToken), Service: proto.String("")}
		}
		return resp, nil
	})
	var started []string
	nmSrv.Handle("startContainers", func(c *ipctest.Call) (proto.Message, error) {
		req := &pb.StartContainersRequestProto{}
		if err := c.Decode(req); err != nil {
			return nil, err
		}
		mu.Lock()
		started = append(started, string(c.TokenIdentifier))
		mu.Unlock()
		return &pb.StartContainersResponseProto{SucceededRequests: []*pb.ContainerIdProto{testContainerProto(2, nmHost).GetId()}}, nil
	})

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := NewAMRMClient([]string{rm.Addr}, &Token{Identifier: []byte("amrm-1"), Password: []byte("pw-1"), Kind: KindAMRMToken})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Register(ctx, "am", 1, ""); err != nil {
		t.Fatal(err)
	}
	resp, err := c.Allocate(ctx, AllocateRequest{Asks: []ResourceRequest{{Priority: 1, Capability: Resource{128, 1}, NumContainers: 1}}})
	if err != nil || len(resp.Allocated) != 1 {
		t.Fatalf("allocate 1: %+v %v", resp, err)
	}
	nm := NewNMClient(c)
	defer nm.Close()
	if err := nm.StartContainer(ctx, resp.Allocated[0], ContainerLaunchContext{Commands: []string{"true"}}); err != nil {
		t.Fatalf("start container with the NMToken: %v", err)
	}
	if resp, err = c.Allocate(ctx, AllocateRequest{}); err != nil || !resp.AMRMTokenRolled {
		t.Fatalf("allocate 2 (roll): %+v %v", resp, err)
	}
	if _, err := c.Allocate(ctx, AllocateRequest{}); err != nil {
		t.Fatalf("allocate 3 with the rolled token: %v", err)
	}
	// The RM restarts and forgets the attempt.
	mu.Lock()
	registered = false
	mu.Unlock()
	if _, err := c.Allocate(ctx, AllocateRequest{}); !errors.Is(err, ErrReregistered) {
		t.Fatalf("want ErrReregistered, got %v", err)
	}
	if _, err := c.Allocate(ctx, AllocateRequest{}); err != nil {
		t.Fatalf("allocate after re-registration: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	want := []string{"amrm-1", "amrm-1", "amrm-2", "amrm-2", "amrm-2"}
	if fmt.Sprint(tokenOfCall) != fmt.Sprint(want) {
		t.Errorf("tokens per allocate call %v, want %v", tokenOfCall, want)
	}
	if fmt.Sprint(started) != "[nm-tok]" {
		t.Errorf("NM calls authenticated with %v", started)
	}
}

func splitHostPortT(t *testing.T, addr string) (string, int32) {
	t.Helper()
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	port, err := strconv.ParseInt(p, 10, 32)
	if err != nil {
		t.Fatal(err)
	}
	return host, int32(port)
}

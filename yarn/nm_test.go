package yarn

import (
	"context"
	"errors"
	"testing"

	pb "github.com/flink-go/flink-go/yarn/internal/proto/hadoop"
	"google.golang.org/protobuf/proto"
)

type tokenMap map[string]*Token

func (m tokenMap) NMToken(n NodeID) *Token { return m[n.String()] }

// fakeNM fails the second container of each startContainers call in the response body.
type fakeNM struct {
	dials []DialSpec
	calls []string
}

type fakeNMConn struct{ nm *fakeNM }

func (c fakeNMConn) Close() error { return nil }

func (c fakeNMConn) Call(_ context.Context, method string, req, resp proto.Message) error {
	c.nm.calls = append(c.nm.calls, method)
	switch method {
	case "startContainers":
		r := req.(*pb.StartContainersRequestProto)
		out := &pb.StartContainersResponseProto{}
		for i, s := range r.GetStartContainerRequest() {
			id := &pb.ContainerIdProto{Id: proto.Int64(int64(i + 2)), AppAttemptId: &pb.ApplicationAttemptIdProto{
				ApplicationId: &pb.ApplicationIdProto{Id: proto.Int32(1), ClusterTimestamp: proto.Int64(1)}, AttemptId: proto.Int32(1)}}
			if string(s.GetContainerToken().GetIdentifier()) != "ct" || len(s.GetContainerLaunchContext().GetCommand()) != 1 {
				return errors.New("bad request")
			}
			if i == 1 {
				out.FailedRequests = append(out.FailedRequests, &pb.ContainerExceptionMapProto{ContainerId: id,
					Exception: &pb.SerializedExceptionProto{ClassName: proto.String("org.apache.hadoop.yarn.exceptions.YarnException"), Message: proto.String("no")}})
			} else {
				out.SucceededRequests = append(out.SucceededRequests, id)
			}
		}
		proto.Merge(resp, out)
	case "stopContainers":
		return &javaErr{class: "org.apache.hadoop.security.token.SecretManager$InvalidToken", msg: "bad token"}
	}
	return nil
}

func TestNMClient(t *testing.T) {
	nm := &fakeNM{}
	node := NodeID{Host: "nm1", Port: 4545}
	tokens := tokenMap{}
	c := NewNMClient(tokens, WithDialer(func(_ context.Context, s DialSpec) (Conn, error) {
		nm.dials = append(nm.dials, s)
		return fakeNMConn{nm}, nil
	}))
	defer c.Close()
	ctx := context.Background()
	mk := func(seq int64) Container {
		return Container{ID: ContainerID{Attempt: AttemptID{App: ApplicationID{1, 1}, Attempt: 1}, ID: seq}, Node: node,
			Token: &Token{Identifier: []byte("ct"), Kind: "ContainerToken"}}
	}
	launch := ContainerLaunchContext{Commands: []string{"true"}}
	if err := c.StartContainer(ctx, mk(2), launch); !errors.Is(err, ErrNoNMToken) {
		t.Fatalf("no NMToken: %v", err)
	}
	tokens[node.String()] = &Token{Identifier: []byte("nm-1"), Password: []byte("p")}
	failed, err := c.StartContainers(ctx, node, []StartRequest{{mk(2), launch}, {mk(3), launch}})
	if err != nil {
		t.Fatal(err)
	}
	var ce *ContainerError
	if len(failed) != 1 || !errors.As(failed[mk(3).ID], &ce) || ce.Class != "org.apache.hadoop.yarn.exceptions.YarnException" {
		t.Fatalf("per-container failures: %v", failed)
	}
	if len(nm.dials) != 1 || nm.dials[0].Protocol != ProtocolNM || string(nm.dials[0].Token.Identifier) != "nm-1" || nm.dials[0].Addresses[0] != "nm1:4545" {
		t.Fatalf("dial: %+v", nm.dials)
	}
	// Same token: the connection is reused. New token: a new connection.
	if _, err := c.StartContainers(ctx, node, []StartRequest{{mk(2), launch}}); err != nil || len(nm.dials) != 1 {
		t.Fatalf("reuse: %v, %d dials", err, len(nm.dials))
	}
	tokens[node.String()] = &Token{Identifier: []byte("nm-2"), Password: []byte("p")}
	if _, err := c.StartContainers(ctx, node, []StartRequest{{mk(2), launch}}); err != nil || len(nm.dials) != 2 {
		t.Fatalf("token change: %v, %d dials", err, len(nm.dials))
	}
	// Remote exceptions are classified and keep their class.
	if _, err := c.StopContainers(ctx, node, mk(2).ID); !errors.Is(err, ErrAccessDenied) || ExceptionClassOf(err) == "" {
		t.Fatalf("stop: %v", err)
	}
	// Bad requests are rejected before any call.
	other := mk(4)
	other.Node = NodeID{Host: "nm2", Port: 1}
	if _, err := c.StartContainers(ctx, node, []StartRequest{{other, launch}}); err == nil {
		t.Error("container on another node accepted")
	}
	noTok := mk(5)
	noTok.Token = nil
	if _, err := c.StartContainers(ctx, node, []StartRequest{{noTok, launch}}); err == nil {
		t.Error("container without token accepted")
	}
	badRes := ContainerLaunchContext{LocalResources: map[string]LocalResource{"x": {URL: "relative/path", Size: 1, Timestamp: 1}}}
	if _, err := c.StartContainers(ctx, node, []StartRequest{{mk(2), badRes}}); err == nil {
		t.Error("bad local resource accepted")
	}
}

func TestLocalResourceURL(t *testing.T) {
	p, err := LocalResource{URL: "hdfs://nn:9000/user/u/x", Size: 5, Timestamp: 7}.toProto()
	if err != nil {
		t.Fatal(err)
	}
	u := p.GetResource()
	if u.GetScheme() != "hdfs" || u.GetHost() != "nn" || u.GetPort() != 9000 || u.GetFile() != "/user/u/x" ||
		p.GetType() != pb.LocalResourceTypeProto_FILE || p.GetVisibility() != pb.LocalResourceVisibilityProto_APPLICATION {
		t.Fatalf("%v", p)
	}
	p, err = LocalResource{URL: "file:///opt/x", Size: 5, Timestamp: 7, Type: ResourceArchive}.toProto()
	if err != nil || p.GetResource().GetPort() != -1 || p.GetResource().Host != nil || p.GetType() != pb.LocalResourceTypeProto_ARCHIVE {
		t.Fatalf("file URL: %v %v", p, err)
	}
	if _, err := (LocalResource{URL: "hdfs://nn/x", Size: 1}).toProto(); err == nil {
		t.Error("missing timestamp accepted")
	}
}

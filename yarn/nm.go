package yarn

import (
	"context"
	"errors"
	"fmt"
	"sync"

	pb "github.com/flink-go/flink-go/yarn/internal/proto/hadoop"
	"github.com/rs/zerolog"
	"google.golang.org/protobuf/proto"
)

// NMTokenSource looks up the NMToken for a NodeManager (AMRMClient implements it).
type NMTokenSource interface {
	NMToken(node NodeID) *Token
}

// ErrNoNMToken is returned when no NMToken is known for a node: the RM sends one with the first
// container allocated on each node, so the container must come from this attempt's allocate calls.
var ErrNoNMToken = errors.New("yarn: no NMToken for node")

// NMClient speaks ContainerManagementProtocol to NodeManagers (yarn.nodemanager.address, learned
// from Container.Node), one connection per node authenticated with that node's NMToken (TOKEN auth
// only). A connection is replaced when the node's NMToken changes.
type NMClient struct {
	dial   Dialer
	tokens NMTokenSource
	log    zerolog.Logger

	mu    sync.Mutex
	conns map[string]*nmConn
}

// nmConn is one node's connection; its mutex serializes dialling for that node only, so a slow
// NodeManager does not hold up calls to the others.
type nmConn struct {
	mu    sync.Mutex
	conn  Conn
	token *Token
}

// NewNMClient returns a client that takes NMTokens from tokens.
func NewNMClient(tokens NMTokenSource, opts ...Option) *NMClient {
	o := buildOptions(opts)
	return &NMClient{dial: o.dialer, tokens: tokens, log: o.log.With().Str("component", "nm-client").Logger(), conns: map[string]*nmConn{}}
}

// Close closes all NodeManager connections.
func (c *NMClient) Close() error {
	c.mu.Lock()
	conns := c.conns
	c.conns = map[string]*nmConn{}
	c.mu.Unlock()
	var errs []error
	for _, nc := range conns {
		nc.mu.Lock()
		if nc.conn != nil {
			errs = append(errs, nc.conn.Close())
			nc.conn = nil
		}
		nc.mu.Unlock()
	}
	return errors.Join(errs...)
}

func sameToken(a, b *Token) bool {
	return a == b || (a != nil && b != nil && string(a.Identifier) == string(b.Identifier) && string(a.Password) == string(b.Password))
}

func (c *NMClient) conn(ctx context.Context, node NodeID) (Conn, error) {
	addr := node.String()
	tok := c.tokens.NMToken(node)
	if tok == nil {
		return nil, fmt.Errorf("%w %s", ErrNoNMToken, addr)
	}
	c.mu.Lock()
	nc, ok := c.conns[addr]
	if !ok {
		nc = &nmConn{}
		c.conns[addr] = nc
	}
	c.mu.Unlock()

	nc.mu.Lock()
	defer nc.mu.Unlock()
	if nc.conn != nil && sameToken(nc.token, tok) {
		return nc.conn, nil
	}
	if nc.conn != nil { // the node's NMToken changed (master key roll): authenticate anew
		_ = nc.conn.Close()
		nc.conn = nil
	}
	conn, err := c.dial(ctx, DialSpec{Addresses: []string{addr}, Protocol: ProtocolNM, Token: tok})
	if err != nil {
		return nil, fmt.Errorf("yarn: connect to NodeManager %s: %w", addr, err)
	}
	nc.conn, nc.token = conn, tok
	return conn, nil
}

// drop forgets a node's connection after a transport failure so the next call redials.
func (c *NMClient) drop(node NodeID, conn Conn) {
	c.mu.Lock()
	nc, ok := c.conns[node.String()]
	c.mu.Unlock()
	if !ok {
		return
	}
	nc.mu.Lock()
	defer nc.mu.Unlock()
	if nc.conn == conn {
		_ = conn.Close()
		nc.conn = nil
	}
}

func (c *NMClient) call(ctx context.Context, node NodeID, method string, req, resp proto.Message) error {
	conn, err := c.conn(ctx, node)
	if err != nil {
		return err
	}
	if err := call(ctx, conn, ProtocolNM, []string{node.String()}, method, req, resp); err != nil {
		if ExceptionClassOf(err) == "" {
			c.drop(node, conn) // transport failure, not a remote exception
		}
		return err
	}
	return nil
}

// ContainerError is a per-container failure reported by a NodeManager in the response body (not as
// an RPC error).
type ContainerError struct {
	Container ContainerID
	Class     string
	Message   string
}

func (e *ContainerError) Error() string {
	return fmt.Sprintf("yarn: container %s: %s: %s", e.Container, e.Class, e.Message)
}

func failuresFromProto(list []*pb.ContainerExceptionMapProto) map[ContainerID]error {
	if len(list) == 0 {
		return nil
	}
	out := make(map[ContainerID]error, len(list))
	for _, f := range list {
		id := containerIDFromProto(f.GetContainerId())
		out[id] = &ContainerError{Container: id, Class: f.GetException().GetClassName(), Message: f.GetException().GetMessage()}
	}
	return out
}

// StartRequest starts one allocated container with a launch context.
type StartRequest struct {
	Container Container
	Launch    ContainerLaunchContext
}

// StartContainers starts containers on one NodeManager. The returned map holds the per-container
// failures (*ContainerError); err is set only when the whole call failed.
func (c *NMClient) StartContainers(ctx context.Context, node NodeID, reqs []StartRequest) (map[ContainerID]error, error) {
	req := &pb.StartContainersRequestProto{}
	for _, r := range reqs {
		if r.Container.Node != node {
			return nil, fmt.Errorf("yarn: container %s is on node %s, not %s", r.Container.ID, r.Container.Node, node)
		}
		if r.Container.Token == nil {
			return nil, fmt.Errorf("yarn: container %s has no container token (it must come from an allocate response)", r.Container.ID)
		}
		clc, err := r.Launch.toProto()
		if err != nil {
			return nil, fmt.Errorf("yarn: container %s: %w", r.Container.ID, err)
		}
		req.StartContainerRequest = append(req.StartContainerRequest, &pb.StartContainerRequestProto{
			ContainerLaunchContext: clc,
			ContainerToken:         tokenToProto(r.Container.Token),
		})
	}
	resp := &pb.StartContainersResponseProto{}
	if err := c.call(ctx, node, "startContainers", req, resp); err != nil {
		return nil, err
	}
	failed := failuresFromProto(resp.GetFailedRequests())
	c.log.Debug().Str("node", node.String()).Int("started", len(resp.GetSucceededRequests())).Int("failed", len(failed)).Msg("startContainers")
	return failed, nil
}

// StartContainer starts one container; a per-container failure is returned as a *ContainerError.
func (c *NMClient) StartContainer(ctx context.Context, ct Container, launch ContainerLaunchContext) error {
	failed, err := c.StartContainers(ctx, ct.Node, []StartRequest{{Container: ct, Launch: launch}})
	if err != nil {
		return err
	}
	if e, ok := failed[ct.ID]; ok {
		return e
	}
	return nil
}

// StopContainers stops containers on one NodeManager (the NM kills the process; the AM later sees
// the completion, exit status ExitKilledByAppMaster, in an allocate response). Per-container
// failures are returned in the map.
func (c *NMClient) StopContainers(ctx context.Context, node NodeID, ids ...ContainerID) (map[ContainerID]error, error) {
	req := &pb.StopContainersRequestProto{}
	for _, id := range ids {
		req.ContainerId = append(req.ContainerId, id.toProto())
	}
	resp := &pb.StopContainersResponseProto{}
	if err := c.call(ctx, node, "stopContainers", req, resp); err != nil {
		return nil, err
	}
	return failuresFromProto(resp.GetFailedRequests()), nil
}

// GetContainerStatuses asks a NodeManager for the status of containers it runs.
func (c *NMClient) GetContainerStatuses(ctx context.Context, node NodeID, ids ...ContainerID) ([]ContainerStatus, map[ContainerID]error, error) {
	req := &pb.GetContainerStatusesRequestProto{}
	for _, id := range ids {
		req.ContainerId = append(req.ContainerId, id.toProto())
	}
	resp := &pb.GetContainerStatusesResponseProto{}
	if err := c.call(ctx, node, "getContainerStatuses", req, resp); err != nil {
		return nil, nil, err
	}
	var out []ContainerStatus
	for _, s := range resp.GetStatus() {
		out = append(out, containerStatusFromProto(s))
	}
	return out, failuresFromProto(resp.GetFailedRequests()), nil
}

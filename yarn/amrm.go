package yarn

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	pb "github.com/flink-go/flink-go/yarn/internal/proto/hadoop"
	"github.com/rs/zerolog"
	"google.golang.org/protobuf/proto"
)

// KindAMRMToken is the token kind of the AMRMToken in the AM's container_tokens file.
const KindAMRMToken = "YARN_AM_RM_TOKEN"

// AMRMClient speaks ApplicationMasterProtocol to the RM scheduler port
// (yarn.resourcemanager.scheduler.address, 8030), authenticated with the attempt's AMRMToken
// (SASL DIGEST-MD5; the port accepts TOKEN auth only). It keeps the protocol bookkeeping the RM
// requires: it echoes the last response id, caches NMTokens by node, switches to a rolled AMRMToken
// (reconnecting with it), and re-registers when the RM has lost the attempt. Methods are serialized;
// an AM calls them from one heartbeat loop.
type AMRMClient struct {
	dial  Dialer
	addrs []string
	log   zerolog.Logger

	// callMu serializes the RPC flows and guards conn, registration and lastResponseID.
	callMu         sync.Mutex
	conn           Conn
	registration   *pb.RegisterApplicationMasterRequestProto
	lastResponseID int32
	// mu guards the tokens, so NMToken lookups never wait for an allocate call in flight.
	mu       sync.Mutex
	token    *Token
	nmTokens map[string]*Token
}

// NewAMRMClient prepares a client for the scheduler addresses (HA order) with the attempt's
// AMRMToken (from the container_tokens file, kind YARN_AM_RM_TOKEN). It connects lazily.
func NewAMRMClient(schedulerAddrs []string, amrmToken *Token, opts ...Option) (*AMRMClient, error) {
	if len(schedulerAddrs) == 0 {
		return nil, fmt.Errorf("yarn: no scheduler address (set %s, or pass the submitter's value to the AM in its environment)", KeySchedulerAddress)
	}
	if amrmToken == nil || len(amrmToken.Identifier) == 0 {
		return nil, errors.New("yarn: no AMRMToken: the scheduler port accepts TOKEN auth only; read it from $HADOOP_TOKEN_FILE_LOCATION (kind YARN_AM_RM_TOKEN)")
	}
	o := buildOptions(opts)
	return &AMRMClient{
		dial:     o.dialer,
		addrs:    schedulerAddrs,
		log:      o.log.With().Str("component", "amrm-client").Logger(),
		token:    amrmToken,
		nmTokens: map[string]*Token{},
	}, nil
}

// Close closes the connection.
func (c *AMRMClient) Close() error {
	c.callMu.Lock()
	defer c.callMu.Unlock()
	if c.conn == nil {
		return nil
	}
	err := c.conn.Close()
	c.conn = nil
	return err
}

// AMRMToken returns the current AMRMToken (it changes when the RM rolls its master key).
func (c *AMRMClient) AMRMToken() *Token {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.token
}

// NMToken returns the cached NMToken for a NodeManager, nil when none was received. The RM sends it
// once per node with the first container allocated there.
func (c *AMRMClient) NMToken(node NodeID) *Token {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nmTokens[node.String()]
}

func (c *AMRMClient) cacheNMTokens(list []*pb.NMTokenProto) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, t := range list {
		if tok := tokenFromProto(t.GetToken()); tok != nil {
			c.nmTokens[nodeIDFromProto(t.GetNodeId()).String()] = tok
		}
	}
}

func (c *AMRMClient) connLocked(ctx context.Context) (Conn, error) {
	if c.conn != nil {
		return c.conn, nil
	}
	conn, err := c.dial(ctx, DialSpec{Addresses: c.addrs, Protocol: ProtocolAMRM, Token: c.AMRMToken()})
	if err != nil {
		return nil, fmt.Errorf("yarn: connect to RM scheduler at %v (check %s; the AMRMToken must be this attempt's): %w", c.addrs, KeySchedulerAddress, err)
	}
	c.conn = conn
	return conn, nil
}

func (c *AMRMClient) callLocked(ctx context.Context, method string, req, resp proto.Message) error {
	conn, err := c.connLocked(ctx)
	if err != nil {
		return err
	}
	return call(ctx, conn, ProtocolAMRM, c.addrs, method, req, resp)
}

// Registration is the RM's answer to RegisterApplicationMaster.
type Registration struct {
	MaxResource Resource
	Queue       string
	// ContainersFromPreviousAttempts are still running when KeepContainersAcrossAttempts is set.
	ContainersFromPreviousAttempts []Container
}

// Register registers the AM attempt with its RPC endpoint and tracking URL (flink-go: the
// JobManager REST host/port and web UI). Registering twice is an error on the RM side.
func (c *AMRMClient) Register(ctx context.Context, host string, rpcPort int32, trackingURL string) (Registration, error) {
	req := &pb.RegisterApplicationMasterRequestProto{
		Host:        proto.String(host),
		RpcPort:     proto.Int32(rpcPort),
		TrackingUrl: proto.String(trackingURL),
	}
	c.callMu.Lock()
	defer c.callMu.Unlock()
	return c.registerLocked(ctx, req)
}

func (c *AMRMClient) registerLocked(ctx context.Context, req *pb.RegisterApplicationMasterRequestProto) (Registration, error) {
	resp := &pb.RegisterApplicationMasterResponseProto{}
	if err := c.callLocked(ctx, "registerApplicationMaster", req, resp); err != nil {
		return Registration{}, err
	}
	c.registration = req
	c.lastResponseID = 0
	c.cacheNMTokens(resp.GetNmTokensFromPreviousAttempts())
	r := Registration{MaxResource: resourceFromProto(resp.GetMaximumCapability()), Queue: resp.GetQueue()}
	for _, ct := range resp.GetContainersFromPreviousAttempts() {
		r.ContainersFromPreviousAttempts = append(r.ContainersFromPreviousAttempts, containerFromProto(ct))
	}
	c.log.Info().Str("host", req.GetHost()).Int32("rpcPort", req.GetRpcPort()).Str("queue", r.Queue).
		Int("previousContainers", len(r.ContainersFromPreviousAttempts)).Msg("registered with the RM")
	return r, nil
}

// ResourceRequest asks for NumContainers containers of one shape. NumContainers is the TOTAL
// outstanding for this (priority, resource name, capability, allocation request id) key, not a
// delta: the RM replaces its previous count with it.
type ResourceRequest struct {
	Priority int32
	// ResourceName is a host, a rack or "*" (any; the default).
	ResourceName  string
	Capability    Resource
	NumContainers int32
	// RelaxLocality lets the scheduler fall back from host to rack to any (default true via
	// StrictLocality=false).
	StrictLocality bool
	NodeLabel      string
	// AllocationRequestID is echoed in allocated containers (-1 = none).
	AllocationRequestID int64
}

func (r ResourceRequest) toProto() *pb.ResourceRequestProto {
	name := r.ResourceName
	if name == "" {
		name = "*"
	}
	p := &pb.ResourceRequestProto{
		Priority:            &pb.PriorityProto{Priority: proto.Int32(r.Priority)},
		ResourceName:        proto.String(name),
		Capability:          r.Capability.toProto(),
		NumContainers:       proto.Int32(r.NumContainers),
		RelaxLocality:       proto.Bool(!r.StrictLocality),
		AllocationRequestId: proto.Int64(r.AllocationRequestID),
	}
	if r.NodeLabel != "" {
		p.NodeLabelExpression = proto.String(r.NodeLabel)
	}
	return p
}

// AllocateRequest is one heartbeat's content.
type AllocateRequest struct {
	Asks     []ResourceRequest
	Releases []ContainerID
	// Progress in [0,1], shown by the RM.
	Progress float32
	// Blacklist additions and removals (host names).
	BlacklistAdd    []string
	BlacklistRemove []string
}

// AMCommand is an order from the RM in an allocate response.
type AMCommand int32

// AM commands, numbered as AMCommandProto.
const (
	AMCommandNone     AMCommand = 0
	AMCommandResync   AMCommand = 1
	AMCommandShutdown AMCommand = 2
)

// AllocateResponse is the RM's heartbeat answer.
type AllocateResponse struct {
	ResponseID int32
	Allocated  []Container
	Completed  []ContainerStatus
	// Limit is the headroom: what the application may still get.
	Limit           Resource
	NumClusterNodes int32
	UpdatedNodes    []NodeReport
	// ContainersFromPreviousAttempts are recovered containers reported after an RM restart.
	ContainersFromPreviousAttempts []Container
	// AMRMTokenRolled is true when the response carried a new AMRMToken (now in use).
	AMRMTokenRolled bool
}

// Allocate sends one heartbeat: asks (totals per key), releases and progress. It echoes the last
// response id, caches NMTokens and switches to a rolled AMRMToken (closing the connection so the
// next call authenticates with the new token).
//
// When the RM has lost the attempt (ApplicationMasterNotRegisteredException or AM_RESYNC) the
// client registers again with the original parameters and returns an error matching
// ErrReregistered: the caller must re-send all outstanding asks and releases. AM_SHUTDOWN returns
// ErrAMShutdown.
func (c *AMRMClient) Allocate(ctx context.Context, r AllocateRequest) (AllocateResponse, error) {
	progress := r.Progress
	if progress < 0 || math.IsNaN(float64(progress)) {
		progress = 0
	} else if progress > 1 {
		progress = 1
	}
	req := &pb.AllocateRequestProto{Progress: proto.Float32(progress)}
	for _, a := range r.Asks {
		req.Ask = append(req.Ask, a.toProto())
	}
	for _, id := range r.Releases {
		req.Release = append(req.Release, id.toProto())
	}
	if len(r.BlacklistAdd)+len(r.BlacklistRemove) > 0 {
		req.BlacklistRequest = &pb.ResourceBlacklistRequestProto{BlacklistAdditions: r.BlacklistAdd, BlacklistRemovals: r.BlacklistRemove}
	}

	c.callMu.Lock()
	defer c.callMu.Unlock()
	if c.registration == nil {
		return AllocateResponse{}, fmt.Errorf("yarn: allocate before Register: %w", ErrNotRegistered)
	}
	req.ResponseId = proto.Int32(c.lastResponseID)
	resp := &pb.AllocateResponseProto{}
	if err := c.callLocked(ctx, "allocate", req, resp); err != nil {
		if errors.Is(err, ErrNotRegistered) {
			return AllocateResponse{}, c.reregisterLocked(ctx, err)
		}
		return AllocateResponse{}, err
	}
	// a_m_command is optional; its getter would default to AM_RESYNC (the first enum value).
	switch {
	case resp.AMCommand == nil:
	case resp.GetAMCommand() == pb.AMCommandProto_AM_SHUTDOWN:
		return AllocateResponse{}, fmt.Errorf("yarn: allocate at %v: %w", c.addrs, ErrAMShutdown)
	case resp.GetAMCommand() == pb.AMCommandProto_AM_RESYNC:
		return AllocateResponse{}, c.reregisterLocked(ctx, errors.New("RM sent AM_RESYNC"))
	}
	c.lastResponseID = resp.GetResponseId()
	out := AllocateResponse{
		ResponseID:      resp.GetResponseId(),
		Limit:           resourceFromProto(resp.GetLimit()),
		NumClusterNodes: resp.GetNumClusterNodes(),
	}
	c.cacheNMTokens(resp.GetNmTokens())
	for _, ct := range resp.GetAllocatedContainers() {
		out.Allocated = append(out.Allocated, containerFromProto(ct))
	}
	for _, st := range resp.GetCompletedContainerStatuses() {
		out.Completed = append(out.Completed, containerStatusFromProto(st))
	}
	for _, n := range resp.GetUpdatedNodes() {
		out.UpdatedNodes = append(out.UpdatedNodes, nodeReportFromProto(n))
	}
	for _, ct := range resp.GetContainersFromPreviousAttempts() {
		out.ContainersFromPreviousAttempts = append(out.ContainersFromPreviousAttempts, containerFromProto(ct))
	}
	if t := resp.GetAmRmToken(); t != nil && len(t.GetIdentifier()) > 0 {
		nt := tokenFromProto(t)
		c.mu.Lock()
		// The RM sends the new token without its service; keep the old service.
		if nt.Service == "" && c.token != nil {
			nt.Service = c.token.Service
		}
		c.token = nt
		c.mu.Unlock()
		out.AMRMTokenRolled = true
		if c.conn != nil {
			_ = c.conn.Close()
			c.conn = nil
		}
		c.log.Info().Msg("AMRMToken rolled; reconnecting with the new token on the next call")
	}
	return out, nil
}

func (c *AMRMClient) reregisterLocked(ctx context.Context, cause error) error {
	c.log.Warn().Err(cause).Msg("RM lost the application attempt; registering again")
	if _, err := c.registerLocked(ctx, c.registration); err != nil {
		return fmt.Errorf("yarn: re-register after %v: %w", cause, err)
	}
	return fmt.Errorf("yarn: allocate at %v: %w (after: %v)", c.addrs, ErrReregistered, cause)
}

// Finish unregisters the AM with its final status, repeating the call until the RM confirms
// (isUnregistered) or ctx ends, and re-registering if the RM lost the attempt meanwhile.
func (c *AMRMClient) Finish(ctx context.Context, status FinalStatus, diagnostics, trackingURL string) error {
	req := &pb.FinishApplicationMasterRequestProto{
		FinalApplicationStatus: pb.FinalApplicationStatusProto(status).Enum(),
		Diagnostics:            proto.String(diagnostics),
		TrackingUrl:            proto.String(trackingURL),
	}
	c.callMu.Lock()
	defer c.callMu.Unlock()
	for {
		resp := &pb.FinishApplicationMasterResponseProto{}
		err := c.callLocked(ctx, "finishApplicationMaster", req, resp)
		switch {
		case err == nil && resp.GetIsUnregistered():
			c.log.Info().Str("status", status.String()).Msg("unregistered from the RM")
			return nil
		case errors.Is(err, ErrNotRegistered) && c.registration != nil:
			if _, rerr := c.registerLocked(ctx, c.registration); rerr != nil {
				return fmt.Errorf("yarn: finish: re-register: %w", rerr)
			}
			continue
		case err != nil:
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("yarn: finish at %v: RM has not confirmed the unregistration: %w", c.addrs, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

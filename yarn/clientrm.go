package yarn

import (
	"context"
	"errors"
	"fmt"
	"time"

	pb "github.com/flink-go/flink-go/yarn/internal/proto/hadoop"
	"github.com/rs/zerolog"
	"google.golang.org/protobuf/proto"
)

// ClientRM speaks ApplicationClientProtocol to the ResourceManager's client port
// (yarn.resourcemanager.address, 8032): submit, inspect and kill applications, list nodes and
// queues, fetch delegation tokens. It is safe for concurrent use if its Conn is.
type ClientRM struct {
	conn  Conn
	addrs []string
	log   zerolog.Logger
}

// NewClientRM connects to the RM named by cfg (all HA addresses, in order), authenticating with
// SIMPLE (cfg.User) or Kerberos (cfg.Kerberos, cfg.RMPrincipal).
func NewClientRM(ctx context.Context, cfg Config, opts ...Option) (*ClientRM, error) {
	o := buildOptions(opts)
	if len(cfg.RMAddresses) == 0 {
		return nil, fmt.Errorf("yarn: no ResourceManager address configured (set %s in yarn-site.xml under HADOOP_CONF_DIR/YARN_CONF_DIR)", KeyRMAddress)
	}
	spec := DialSpec{
		Addresses:       cfg.RMAddresses,
		Protocol:        ProtocolClientRM,
		User:            cfg.User,
		Kerberos:        cfg.Kerberos,
		ServerPrincipal: cfg.RMPrincipal,
	}
	conn, err := o.dialer(ctx, spec)
	if err != nil {
		return nil, fmt.Errorf("yarn: connect to ResourceManager at %v (check %s and that the RM is running): %w", cfg.RMAddresses, KeyRMAddress, err)
	}
	return &ClientRM{conn: conn, addrs: cfg.RMAddresses, log: o.log.With().Str("component", "yarn-client").Logger()}, nil
}

// Close closes the connection.
func (c *ClientRM) Close() error { return c.conn.Close() }

func (c *ClientRM) call(ctx context.Context, method string, req, resp proto.Message) error {
	return call(ctx, c.conn, ProtocolClientRM, c.addrs, method, req, resp)
}

// NewApplication is the result of GetNewApplication.
type NewApplication struct {
	ID ApplicationID
	// MaxResource is the largest container the scheduler grants.
	MaxResource Resource
}

// GetNewApplication asks the RM for a new application id.
func (c *ClientRM) GetNewApplication(ctx context.Context) (NewApplication, error) {
	resp := &pb.GetNewApplicationResponseProto{}
	if err := c.call(ctx, "getNewApplication", &pb.GetNewApplicationRequestProto{}, resp); err != nil {
		return NewApplication{}, err
	}
	if resp.GetApplicationId() == nil {
		return NewApplication{}, fmt.Errorf("yarn: getNewApplication at %v returned no application id", c.addrs)
	}
	return NewApplication{ID: applicationIDFromProto(resp.GetApplicationId()), MaxResource: resourceFromProto(resp.GetMaximumCapability())}, nil
}

// Submission describes an application to submit (ApplicationSubmissionContext).
type Submission struct {
	ID    ApplicationID
	Name  string
	Queue string // default "default"
	Type  string // default "YARN"
	Tags  []string
	// Priority of the application within its queue (0 = scheduler default).
	Priority int32
	// NodeLabel is the node label expression for all containers of the application.
	NodeLabel string
	// AMResource is the AM container's size.
	AMResource Resource
	// AM is what the AM container runs.
	AM ContainerLaunchContext
	// MaxAttempts is the number of AM attempts (0 = yarn.resourcemanager.am.max-attempts).
	MaxAttempts int32
	// AttemptFailuresValidityInterval: only failures within this window count toward MaxAttempts
	// (0 = all failures count).
	AttemptFailuresValidityInterval time.Duration
	// KeepContainersAcrossAttempts keeps running containers when the AM restarts.
	KeepContainersAcrossAttempts bool
	// Unmanaged submits an unmanaged AM (the caller runs the AM itself).
	Unmanaged bool
}

func (s Submission) toProto() (*pb.ApplicationSubmissionContextProto, error) {
	if s.ID.IsZero() {
		return nil, errors.New("yarn: submission has no application id (call GetNewApplication first)")
	}
	if !s.Unmanaged && (s.AMResource.MemoryMB <= 0 || s.AMResource.VCores <= 0) {
		return nil, fmt.Errorf("yarn: submission %s: AM resource %v must have positive memory and vcores", s.ID, s.AMResource)
	}
	clc, err := s.AM.toProto()
	if err != nil {
		return nil, fmt.Errorf("yarn: submission %s: AM container: %w", s.ID, err)
	}
	p := &pb.ApplicationSubmissionContextProto{
		ApplicationId:                           s.ID.toProto(),
		AmContainerSpec:                         clc,
		Resource:                                s.AMResource.toProto(),
		ApplicationTags:                         s.Tags,
		UnmanagedAm:                             proto.Bool(s.Unmanaged),
		KeepContainersAcrossApplicationAttempts: proto.Bool(s.KeepContainersAcrossAttempts),
	}
	if s.Name != "" {
		p.ApplicationName = proto.String(s.Name)
	}
	if s.Queue != "" {
		p.Queue = proto.String(s.Queue)
	}
	if s.Type != "" {
		p.ApplicationType = proto.String(s.Type)
	}
	if s.Priority != 0 {
		p.Priority = &pb.PriorityProto{Priority: proto.Int32(s.Priority)}
	}
	if s.NodeLabel != "" {
		p.NodeLabelExpression = proto.String(s.NodeLabel)
	}
	if s.MaxAttempts > 0 {
		p.MaxAppAttempts = proto.Int32(s.MaxAttempts)
	}
	if s.AttemptFailuresValidityInterval > 0 {
		p.AttemptFailuresValidityInterval = proto.Int64(s.AttemptFailuresValidityInterval.Milliseconds())
	}
	return p, nil
}

// SubmitApplication submits an application. The RM accepts it asynchronously: poll
// GetApplicationReport (or WaitForState) to follow it.
func (c *ClientRM) SubmitApplication(ctx context.Context, s Submission) error {
	asc, err := s.toProto()
	if err != nil {
		return err
	}
	req := &pb.SubmitApplicationRequestProto{ApplicationSubmissionContext: asc}
	if err := c.call(ctx, "submitApplication", req, &pb.SubmitApplicationResponseProto{}); err != nil {
		return err
	}
	c.log.Info().Str("app", s.ID.String()).Str("queue", asc.GetQueue()).Str("type", asc.GetApplicationType()).Msg("application submitted")
	return nil
}

// GetApplicationReport returns the RM's report on an application; errors.Is(err,
// ErrApplicationNotFound) when the RM does not know it.
func (c *ClientRM) GetApplicationReport(ctx context.Context, id ApplicationID) (ApplicationReport, error) {
	resp := &pb.GetApplicationReportResponseProto{}
	if err := c.call(ctx, "getApplicationReport", &pb.GetApplicationReportRequestProto{ApplicationId: id.toProto()}, resp); err != nil {
		return ApplicationReport{}, err
	}
	if resp.GetApplicationReport() == nil {
		return ApplicationReport{}, fmt.Errorf("yarn: getApplicationReport %s: %w (empty report)", id, ErrApplicationNotFound)
	}
	return reportFromProto(resp.GetApplicationReport()), nil
}

// WaitForState polls the application report every interval until done returns true for it, the
// application reaches a terminal state, or ctx ends. It returns the last report.
func (c *ClientRM) WaitForState(ctx context.Context, id ApplicationID, interval time.Duration, done func(ApplicationReport) bool) (ApplicationReport, error) {
	if interval <= 0 {
		interval = 500 * time.Millisecond
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		r, err := c.GetApplicationReport(ctx, id)
		if err != nil {
			return r, err
		}
		if done(r) || r.State.Terminal() {
			return r, nil
		}
		select {
		case <-ctx.Done():
			return r, fmt.Errorf("yarn: waiting for %s (last state %s): %w", id, r.State, ctx.Err())
		case <-t.C:
		}
	}
}

// KillApplication asks the RM to kill an application and polls until the kill completes (the RM
// answers is_kill_completed=false while it is still stopping the AM) or ctx ends.
func (c *ClientRM) KillApplication(ctx context.Context, id ApplicationID, diagnostics string) error {
	req := &pb.KillApplicationRequestProto{ApplicationId: id.toProto()}
	if diagnostics != "" {
		req.Diagnostics = proto.String(diagnostics)
	}
	for {
		resp := &pb.KillApplicationResponseProto{}
		if err := c.call(ctx, "forceKillApplication", req, resp); err != nil {
			return err
		}
		if resp.GetIsKillCompleted() {
			c.log.Info().Str("app", id.String()).Msg("application killed")
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("yarn: kill %s: still stopping: %w", id, ctx.Err())
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// AppFilter selects applications in GetApplications; empty fields match everything.
type AppFilter struct {
	States []ApplicationState
	Types  []string
	Tags   []string
	Queues []string
	Users  []string
	Name   string
	// Limit caps the number of reports (0 = no limit).
	Limit int64
}

// GetApplications lists applications matching f.
func (c *ClientRM) GetApplications(ctx context.Context, f AppFilter) ([]ApplicationReport, error) {
	req := &pb.GetApplicationsRequestProto{
		ApplicationTypes: f.Types,
		ApplicationTags:  f.Tags,
		Queues:           f.Queues,
		Users:            f.Users,
	}
	for _, s := range f.States {
		req.ApplicationStates = append(req.ApplicationStates, pb.YarnApplicationStateProto(s))
	}
	if f.Limit > 0 {
		req.Limit = proto.Int64(f.Limit)
	}
	if f.Name != "" {
		req.Name = proto.String(f.Name)
	}
	resp := &pb.GetApplicationsResponseProto{}
	if err := c.call(ctx, "getApplications", req, resp); err != nil {
		return nil, err
	}
	out := make([]ApplicationReport, 0, len(resp.GetApplications()))
	for _, a := range resp.GetApplications() {
		out = append(out, reportFromProto(a))
	}
	return out, nil
}

// GetClusterMetrics returns NodeManager counts.
func (c *ClientRM) GetClusterMetrics(ctx context.Context) (ClusterMetrics, error) {
	resp := &pb.GetClusterMetricsResponseProto{}
	if err := c.call(ctx, "getClusterMetrics", &pb.GetClusterMetricsRequestProto{}, resp); err != nil {
		return ClusterMetrics{}, err
	}
	m := resp.GetClusterMetrics()
	return ClusterMetrics{
		NodeManagers:   m.GetNumNodeManagers(),
		Decommissioned: m.GetNumDecommissionedNms(),
		Active:         m.GetNumActiveNms(),
		Lost:           m.GetNumLostNms(),
		Unhealthy:      m.GetNumUnhealthyNms(),
		Rebooted:       m.GetNumRebootedNms(),
	}, nil
}

// GetClusterNodes lists NodeManagers in the given states (none = all states the RM reports by
// default, i.e. RUNNING ones).
func (c *ClientRM) GetClusterNodes(ctx context.Context, states ...NodeState) ([]NodeReport, error) {
	req := &pb.GetClusterNodesRequestProto{}
	for _, s := range states {
		req.NodeStates = append(req.NodeStates, pb.NodeStateProto(s))
	}
	resp := &pb.GetClusterNodesResponseProto{}
	if err := c.call(ctx, "getClusterNodes", req, resp); err != nil {
		return nil, err
	}
	out := make([]NodeReport, 0, len(resp.GetNodeReports()))
	for _, n := range resp.GetNodeReports() {
		out = append(out, nodeReportFromProto(n))
	}
	return out, nil
}

// GetQueueInfo describes a queue, optionally with its applications and (recursively) children.
func (c *ClientRM) GetQueueInfo(ctx context.Context, queue string, includeApps, includeChildren, recursive bool) (QueueInfo, error) {
	req := &pb.GetQueueInfoRequestProto{
		QueueName:           proto.String(queue),
		IncludeApplications: proto.Bool(includeApps),
		IncludeChildQueues:  proto.Bool(includeChildren),
		Recursive:           proto.Bool(recursive),
	}
	resp := &pb.GetQueueInfoResponseProto{}
	if err := c.call(ctx, "getQueueInfo", req, resp); err != nil {
		return QueueInfo{}, err
	}
	if resp.GetQueueInfo() == nil {
		return QueueInfo{}, fmt.Errorf("yarn: getQueueInfo %q at %v: no such queue", queue, c.addrs)
	}
	return queueInfoFromProto(resp.GetQueueInfo()), nil
}

// GetDelegationToken returns an RM delegation token renewable by renewer (the RM principal on
// secure clusters). With security on, the RM issues it only over a Kerberos connection.
func (c *ClientRM) GetDelegationToken(ctx context.Context, renewer string) (*Token, error) {
	req := &pb.GetDelegationTokenRequestProto{Renewer: proto.String(renewer)}
	resp := &pb.GetDelegationTokenResponseProto{}
	if err := c.call(ctx, "getDelegationToken", req, resp); err != nil {
		return nil, err
	}
	if resp.GetToken() == nil {
		return nil, fmt.Errorf("yarn: getDelegationToken at %v returned no token", c.addrs)
	}
	return tokenFromProto(resp.GetToken()), nil
}

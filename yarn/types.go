package yarn

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	pb "github.com/flink-go/flink-go/yarn/internal/proto/hadoop"
	"github.com/flink-go/flink-go/yarn/security"
	"google.golang.org/protobuf/proto"
)

// Resource is an amount of memory (MiB) and virtual cores.
type Resource struct {
	MemoryMB int64
	VCores   int32
}

// String returns e.g. "<memory:1024, vCores:1>", the form Hadoop prints.
func (r Resource) String() string { return fmt.Sprintf("<memory:%d, vCores:%d>", r.MemoryMB, r.VCores) }

func (r Resource) toProto() *pb.ResourceProto {
	return &pb.ResourceProto{Memory: proto.Int64(r.MemoryMB), VirtualCores: proto.Int32(r.VCores)}
}

func resourceFromProto(p *pb.ResourceProto) Resource {
	return Resource{MemoryMB: p.GetMemory(), VCores: p.GetVirtualCores()}
}

// Token is a Hadoop security token (AMRMToken, NMToken, container token, delegation token); the
// same type as security.Token, so tokens read from a container_tokens file can be passed directly.
type Token = security.Token

func tokenToProto(t *Token) *pb.TokenProto {
	if t == nil {
		return nil
	}
	return t.Proto()
}

func tokenFromProto(p *pb.TokenProto) *Token {
	if p == nil {
		return nil
	}
	t, err := security.TokenFromProto(p)
	if err != nil {
		return nil
	}
	return &t
}

// ApplicationState is YARN's YarnApplicationState.
type ApplicationState int32

// Application states, numbered as YarnApplicationStateProto.
const (
	StateNew       ApplicationState = 1
	StateNewSaving ApplicationState = 2
	StateSubmitted ApplicationState = 3
	StateAccepted  ApplicationState = 4
	StateRunning   ApplicationState = 5
	StateFinished  ApplicationState = 6
	StateFailed    ApplicationState = 7
	StateKilled    ApplicationState = 8
)

var appStateNames = map[ApplicationState]string{
	StateNew: "NEW", StateNewSaving: "NEW_SAVING", StateSubmitted: "SUBMITTED", StateAccepted: "ACCEPTED",
	StateRunning: "RUNNING", StateFinished: "FINISHED", StateFailed: "FAILED", StateKilled: "KILLED",
}

// String returns the Hadoop name, e.g. "RUNNING".
func (s ApplicationState) String() string {
	if n, ok := appStateNames[s]; ok {
		return n
	}
	return fmt.Sprintf("ApplicationState(%d)", int32(s))
}

// Terminal reports whether the application has ended (FINISHED, FAILED or KILLED).
func (s ApplicationState) Terminal() bool {
	return s == StateFinished || s == StateFailed || s == StateKilled
}

// ParseApplicationState parses a state name, case-insensitively ("running", "FINISHED").
func ParseApplicationState(s string) (ApplicationState, error) {
	u := strings.ToUpper(strings.TrimSpace(s))
	for k, v := range appStateNames {
		if v == u {
			return k, nil
		}
	}
	return 0, fmt.Errorf("yarn: unknown application state %q (want one of NEW, NEW_SAVING, SUBMITTED, ACCEPTED, RUNNING, FINISHED, FAILED, KILLED)", s)
}

// FinalStatus is the final status an ApplicationMaster reports when it unregisters.
type FinalStatus int32

// Final statuses, numbered as FinalApplicationStatusProto.
const (
	FinalUndefined FinalStatus = 0
	FinalSucceeded FinalStatus = 1
	FinalFailed    FinalStatus = 2
	FinalKilled    FinalStatus = 3
	FinalEnded     FinalStatus = 4
)

// String returns the Hadoop name, e.g. "SUCCEEDED".
func (f FinalStatus) String() string {
	switch f {
	case FinalUndefined:
		return "UNDEFINED"
	case FinalSucceeded:
		return "SUCCEEDED"
	case FinalFailed:
		return "FAILED"
	case FinalKilled:
		return "KILLED"
	case FinalEnded:
		return "ENDED"
	}
	return fmt.Sprintf("FinalStatus(%d)", int32(f))
}

// ApplicationReport is what the RM knows about an application.
type ApplicationReport struct {
	ID    ApplicationID
	User  string
	Queue string
	Name  string
	Type  string
	Tags  []string
	State ApplicationState
	Final FinalStatus
	// Host and RPCPort are what the AM registered (flink-go: the JobManager REST endpoint).
	Host    string
	RPCPort int32
	// TrackingURL is the RM proxy URL for the AM's web UI; OriginalTrackingURL the AM's own.
	TrackingURL         string
	OriginalTrackingURL string
	Diagnostics         string
	StartTime           time.Time
	FinishTime          time.Time
	Progress            float32
	CurrentAttempt      AttemptID
	Priority            int32
	// AMRMToken is set only for unmanaged AMs, once the attempt is launched.
	AMRMToken *Token
}

func msTime(ms int64) time.Time {
	if ms <= 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms)
}

func reportFromProto(p *pb.ApplicationReportProto) ApplicationReport {
	return ApplicationReport{
		ID:                  applicationIDFromProto(p.GetApplicationId()),
		User:                p.GetUser(),
		Queue:               p.GetQueue(),
		Name:                p.GetName(),
		Type:                p.GetApplicationType(),
		Tags:                p.GetApplicationTags(),
		State:               ApplicationState(p.GetYarnApplicationState()),
		Final:               FinalStatus(p.GetFinalApplicationStatus()),
		Host:                p.GetHost(),
		RPCPort:             p.GetRpcPort(),
		TrackingURL:         p.GetTrackingUrl(),
		OriginalTrackingURL: p.GetOriginalTrackingUrl(),
		Diagnostics:         p.GetDiagnostics(),
		StartTime:           msTime(p.GetStartTime()),
		FinishTime:          msTime(p.GetFinishTime()),
		Progress:            p.GetProgress(),
		CurrentAttempt:      attemptIDFromProto(p.GetCurrentApplicationAttemptId()),
		Priority:            p.GetPriority().GetPriority(),
		AMRMToken:           tokenFromProto(p.GetAmRmToken()),
	}
}

// NodeID is a NodeManager's container-manager address.
type NodeID struct {
	Host string
	Port int32
}

// String returns host:port (the key Hadoop uses for NMTokens).
func (n NodeID) String() string { return net.JoinHostPort(n.Host, strconv.Itoa(int(n.Port))) }

func nodeIDFromProto(p *pb.NodeIdProto) NodeID { return NodeID{Host: p.GetHost(), Port: p.GetPort()} }

// NodeState is a NodeManager's state as the RM sees it.
type NodeState int32

// Node states, numbered as NodeStateProto.
const (
	NodeNew             NodeState = 1
	NodeRunning         NodeState = 2
	NodeUnhealthy       NodeState = 3
	NodeDecommissioned  NodeState = 4
	NodeLost            NodeState = 5
	NodeRebooted        NodeState = 6
	NodeDecommissioning NodeState = 7
	NodeShutdown        NodeState = 8
)

// String returns the Hadoop name, e.g. "RUNNING".
func (s NodeState) String() string {
	name := pb.NodeStateProto(s).String()
	if strings.HasPrefix(name, "NS_") {
		return name[3:]
	}
	return fmt.Sprintf("NodeState(%d)", int32(s))
}

// NodeReport describes one NodeManager.
type NodeReport struct {
	ID               NodeID
	HTTPAddress      string
	Rack             string
	Used             Resource
	Capability       Resource
	NumContainers    int32
	State            NodeState
	HealthReport     string
	LastHealthReport time.Time
	Labels           []string
}

func nodeReportFromProto(p *pb.NodeReportProto) NodeReport {
	return NodeReport{
		ID:               nodeIDFromProto(p.GetNodeId()),
		HTTPAddress:      p.GetHttpAddress(),
		Rack:             p.GetRackName(),
		Used:             resourceFromProto(p.GetUsed()),
		Capability:       resourceFromProto(p.GetCapability()),
		NumContainers:    p.GetNumContainers(),
		State:            NodeState(p.GetNodeState()),
		HealthReport:     p.GetHealthReport(),
		LastHealthReport: msTime(p.GetLastHealthReportTime()),
		Labels:           p.GetNodeLabels(),
	}
}

// ClusterMetrics counts NodeManagers by state.
type ClusterMetrics struct {
	NodeManagers   int32
	Decommissioned int32
	Active         int32
	Lost           int32
	Unhealthy      int32
	Rebooted       int32
}

// QueueInfo describes a scheduler queue.
type QueueInfo struct {
	Name            string
	Capacity        float32
	MaximumCapacity float32
	CurrentCapacity float32
	State           string
	Children        []QueueInfo
	Applications    []ApplicationReport
	NodeLabels      []string
}

func queueInfoFromProto(p *pb.QueueInfoProto) QueueInfo {
	q := QueueInfo{
		Name:            p.GetQueueName(),
		Capacity:        p.GetCapacity(),
		MaximumCapacity: p.GetMaximumCapacity(),
		CurrentCapacity: p.GetCurrentCapacity(),
		NodeLabels:      p.GetAccessibleNodeLabels(),
	}
	if p.State != nil {
		q.State = strings.TrimPrefix(p.GetState().String(), "Q_")
	}
	for _, c := range p.GetChildQueues() {
		q.Children = append(q.Children, queueInfoFromProto(c))
	}
	for _, a := range p.GetApplications() {
		q.Applications = append(q.Applications, reportFromProto(a))
	}
	return q
}

// LocalResourceType says how the NodeManager localizes a resource.
type LocalResourceType int32

// Local resource types, numbered as LocalResourceTypeProto.
const (
	// ResourceFile is copied as is.
	ResourceFile LocalResourceType = 2
	// ResourceArchive is unpacked (.jar, .zip, .tar.gz, .tgz) into a directory named after the key.
	ResourceArchive LocalResourceType = 1
	// ResourcePattern is a jar whose entries matching Pattern are unpacked.
	ResourcePattern LocalResourceType = 3
)

// Visibility says who may share a localized resource.
type Visibility int32

// Visibilities, numbered as LocalResourceVisibilityProto.
const (
	VisibilityPublic      Visibility = 1
	VisibilityPrivate     Visibility = 2
	VisibilityApplication Visibility = 3
)

// LocalResource is a file the NodeManager downloads into a container's work directory before
// starting it.
type LocalResource struct {
	// URL of the source, e.g. hdfs://nn:9000/user/u/.flink-go/app/x or file:///opt/x.
	URL string
	// Size in bytes and Timestamp (modification time, ms since the epoch) of the source file;
	// both must match the file exactly or localization fails ("changed on src filesystem").
	Size      int64
	Timestamp int64
	// Type defaults to ResourceFile, Visibility to VisibilityApplication.
	Type       LocalResourceType
	Visibility Visibility
	Pattern    string
}

// urlToProto converts a URL string to YARN's URLProto. The port is always set, to -1 when absent,
// because the NM rebuilds a java.net.URI from it.
func urlToProto(raw string) (*pb.URLProto, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("yarn: local resource URL %q: %w", raw, err)
	}
	if u.Scheme == "" || u.Path == "" {
		return nil, fmt.Errorf("yarn: local resource URL %q needs a scheme and an absolute path (e.g. hdfs://namenode:9000/path)", raw)
	}
	port := int32(-1)
	if p := u.Port(); p != "" {
		n, err := strconv.ParseInt(p, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("yarn: local resource URL %q: bad port %q", raw, p)
		}
		port = int32(n)
	}
	up := &pb.URLProto{Scheme: proto.String(u.Scheme), Port: proto.Int32(port), File: proto.String(u.Path)}
	if h := u.Hostname(); h != "" {
		up.Host = proto.String(h)
	}
	if u.User != nil {
		up.UserInfo = proto.String(u.User.String())
	}
	return up, nil
}

func (r LocalResource) toProto() (*pb.LocalResourceProto, error) {
	u, err := urlToProto(r.URL)
	if err != nil {
		return nil, err
	}
	if r.Size < 0 || r.Timestamp <= 0 {
		return nil, fmt.Errorf("yarn: local resource %s: size %d / timestamp %d must come from the source file's status (timestamp = modification time in ms)", r.URL, r.Size, r.Timestamp)
	}
	typ, vis := r.Type, r.Visibility
	if typ == 0 {
		typ = ResourceFile
	}
	if vis == 0 {
		vis = VisibilityApplication
	}
	p := &pb.LocalResourceProto{
		Resource:   u,
		Size:       proto.Int64(r.Size),
		Timestamp:  proto.Int64(r.Timestamp),
		Type:       pb.LocalResourceTypeProto(typ).Enum(),
		Visibility: pb.LocalResourceVisibilityProto(vis).Enum(),
	}
	if r.Pattern != "" {
		p.Pattern = proto.String(r.Pattern)
	}
	return p, nil
}

// ContainerLaunchContext is what a container runs: files to localize, environment, command and
// credentials.
type ContainerLaunchContext struct {
	// LocalResources maps the link name in the work directory to the resource.
	LocalResources map[string]LocalResource
	// Environment is exported in launch_container.sh as KEY="VALUE" (shell-expanded).
	Environment map[string]string
	// Commands are joined with spaces and run by bash -c; <LOG_DIR> expands to the container's log
	// directory, {{VAR}} to $VAR.
	Commands []string
	// Tokens is a serialized Hadoop Credentials ("HDTS") blob handed to the container.
	Tokens []byte
	// ServiceData is passed to NodeManager auxiliary services, keyed by service name.
	ServiceData map[string][]byte
}

func (c ContainerLaunchContext) toProto() (*pb.ContainerLaunchContextProto, error) {
	p := &pb.ContainerLaunchContextProto{Command: c.Commands, Tokens: c.Tokens}
	for _, k := range sortedKeys(c.LocalResources) {
		lr, err := c.LocalResources[k].toProto()
		if err != nil {
			return nil, fmt.Errorf("local resource %q: %w", k, err)
		}
		p.LocalResources = append(p.LocalResources, &pb.StringLocalResourceMapProto{Key: proto.String(k), Value: lr})
	}
	for _, k := range sortedKeys(c.Environment) {
		p.Environment = append(p.Environment, &pb.StringStringMapProto{Key: proto.String(k), Value: proto.String(c.Environment[k])})
	}
	for _, k := range sortedKeys(c.ServiceData) {
		p.ServiceData = append(p.ServiceData, &pb.StringBytesMapProto{Key: proto.String(k), Value: c.ServiceData[k]})
	}
	return p, nil
}

// Container is a container the RM allocated to an AM.
type Container struct {
	ID              ContainerID
	Node            NodeID
	NodeHTTPAddress string
	Resource        Resource
	Priority        int32
	// Token is the container token the NM checks in startContainers.
	Token *Token
	// AllocationRequestID echoes the ResourceRequest's allocation_request_id (-1 when none).
	AllocationRequestID int64
}

func containerFromProto(p *pb.ContainerProto) Container {
	return Container{
		ID:                  containerIDFromProto(p.GetId()),
		Node:                nodeIDFromProto(p.GetNodeId()),
		NodeHTTPAddress:     p.GetNodeHttpAddress(),
		Resource:            resourceFromProto(p.GetResource()),
		Priority:            p.GetPriority().GetPriority(),
		Token:               tokenFromProto(p.GetContainerToken()),
		AllocationRequestID: p.GetAllocationRequestId(),
	}
}

// ContainerState is a container's lifecycle state.
type ContainerState int32

// Container states, numbered as ContainerStateProto.
const (
	ContainerNew       ContainerState = 1
	ContainerRunning   ContainerState = 2
	ContainerComplete  ContainerState = 3
	ContainerScheduled ContainerState = 4
)

// String returns the Hadoop name, e.g. "COMPLETE".
func (s ContainerState) String() string {
	name := pb.ContainerStateProto(s).String()
	if strings.HasPrefix(name, "C_") {
		return name[2:]
	}
	return fmt.Sprintf("ContainerState(%d)", int32(s))
}

// Special container exit statuses (Hadoop ContainerExitStatus); other values are the process's
// exit code.
const (
	ExitSuccess                  = 0
	ExitInvalid                  = -1000
	ExitAborted                  = -100
	ExitDisksFailed              = -101
	ExitPreempted                = -102
	ExitKilledExceededVmem       = -103
	ExitKilledExceededPmem       = -104
	ExitKilledByAppMaster        = -105
	ExitKilledByResourceManager  = -106
	ExitKilledAfterAppCompletion = -107
)

// ContainerStatus is a container's state and, once complete, its exit status.
type ContainerStatus struct {
	ID          ContainerID
	State       ContainerState
	ExitStatus  int32
	Diagnostics string
	Capability  Resource
}

func containerStatusFromProto(p *pb.ContainerStatusProto) ContainerStatus {
	return ContainerStatus{
		ID:          containerIDFromProto(p.GetContainerId()),
		State:       ContainerState(p.GetState()),
		ExitStatus:  p.GetExitStatus(),
		Diagnostics: p.GetDiagnostics(),
		Capability:  resourceFromProto(p.GetCapability()),
	}
}

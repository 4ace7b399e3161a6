package yarn

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	pb "github.com/flink-go/flink-go/yarn/internal/proto/hadoop"
	"google.golang.org/protobuf/proto"
)

// ErrBadID is returned (wrapped) when an application, attempt or container id string does not
// have YARN's format.
var ErrBadID = errors.New("yarn: malformed id")

// ApplicationID identifies a YARN application: the RM's start time (cluster timestamp, ms since the
// epoch) and a sequence number. Its string form is application_<clusterTimestamp>_<id>, with the
// id zero-padded to at least 4 digits, as Hadoop's ApplicationId.toString.
type ApplicationID struct {
	ClusterTimestamp int64
	ID               int32
}

// String returns application_<ts>_<nnnn>.
func (a ApplicationID) String() string {
	return fmt.Sprintf("application_%d_%04d", a.ClusterTimestamp, a.ID)
}

// IsZero reports whether a is the zero value (no application).
func (a ApplicationID) IsZero() bool { return a == ApplicationID{} }

// ParseApplicationID parses application_<clusterTimestamp>_<id>.
func ParseApplicationID(s string) (ApplicationID, error) {
	parts := strings.Split(s, "_")
	if len(parts) != 3 || parts[0] != "application" {
		return ApplicationID{}, fmt.Errorf("%w: %q is not an application id (want application_<clusterTimestamp>_<id>)", ErrBadID, s)
	}
	ts, id, err := parseTsID(parts[1], parts[2])
	if err != nil {
		return ApplicationID{}, fmt.Errorf("%w: application id %q: %v", ErrBadID, s, err)
	}
	return ApplicationID{ClusterTimestamp: ts, ID: id}, nil
}

func parseTsID(tsStr, idStr string) (int64, int32, error) {
	ts, err := strconv.ParseInt(tsStr, 10, 64)
	if err != nil || ts < 0 {
		return 0, 0, fmt.Errorf("bad cluster timestamp %q", tsStr)
	}
	id, err := strconv.ParseInt(idStr, 10, 32)
	if err != nil || id < 0 {
		return 0, 0, fmt.Errorf("bad sequence number %q", idStr)
	}
	return ts, int32(id), nil
}

func (a ApplicationID) toProto() *pb.ApplicationIdProto {
	return &pb.ApplicationIdProto{Id: proto.Int32(a.ID), ClusterTimestamp: proto.Int64(a.ClusterTimestamp)}
}

func applicationIDFromProto(p *pb.ApplicationIdProto) ApplicationID {
	return ApplicationID{ClusterTimestamp: p.GetClusterTimestamp(), ID: p.GetId()}
}

// AttemptID identifies one attempt of an application. String form:
// appattempt_<clusterTimestamp>_<appId:4>_<attempt:6>.
type AttemptID struct {
	App     ApplicationID
	Attempt int32
}

// String returns appattempt_<ts>_<nnnn>_<aaaaaa>.
func (a AttemptID) String() string {
	return fmt.Sprintf("appattempt_%d_%04d_%06d", a.App.ClusterTimestamp, a.App.ID, a.Attempt)
}

// ParseAttemptID parses appattempt_<clusterTimestamp>_<appId>_<attempt>.
func ParseAttemptID(s string) (AttemptID, error) {
	parts := strings.Split(s, "_")
	if len(parts) != 4 || parts[0] != "appattempt" {
		return AttemptID{}, fmt.Errorf("%w: %q is not an attempt id (want appattempt_<clusterTimestamp>_<appId>_<attempt>)", ErrBadID, s)
	}
	ts, id, err := parseTsID(parts[1], parts[2])
	if err != nil {
		return AttemptID{}, fmt.Errorf("%w: attempt id %q: %v", ErrBadID, s, err)
	}
	att, err := strconv.ParseInt(parts[3], 10, 32)
	if err != nil || att < 0 {
		return AttemptID{}, fmt.Errorf("%w: attempt id %q: bad attempt number %q", ErrBadID, s, parts[3])
	}
	return AttemptID{App: ApplicationID{ClusterTimestamp: ts, ID: id}, Attempt: int32(att)}, nil
}

func (a AttemptID) toProto() *pb.ApplicationAttemptIdProto {
	return &pb.ApplicationAttemptIdProto{ApplicationId: a.App.toProto(), AttemptId: proto.Int32(a.Attempt)}
}

func attemptIDFromProto(p *pb.ApplicationAttemptIdProto) AttemptID {
	return AttemptID{App: applicationIDFromProto(p.GetApplicationId()), Attempt: p.GetAttemptId()}
}

// containerSeqMask keeps the low 40 bits of a container id (the sequence number); the bits above
// hold the RM epoch (Hadoop ContainerId.CONTAINER_ID_BITMASK).
const containerSeqMask = int64(1)<<40 - 1

// ContainerID identifies a container: its application attempt and a 64-bit id whose low 40 bits
// are the sequence number and whose high bits are the RM epoch (incremented by RM restarts with
// work-preserving recovery). String form, as Hadoop's ContainerId.toString:
// container_[e<epoch>_]<clusterTimestamp>_<appId:4>_<attempt:2>_<seq:6>.
type ContainerID struct {
	Attempt AttemptID
	// ID is the raw 64-bit container id (epoch<<40 | sequence).
	ID int64
}

// Epoch returns the RM epoch encoded in the id (0 for clusters that never restarted).
func (c ContainerID) Epoch() int64 { return c.ID >> 40 }

// Sequence returns the container's sequence number within its attempt.
func (c ContainerID) Sequence() int64 { return c.ID & containerSeqMask }

// String returns the Hadoop string form, e.g. container_e17_1410901177871_0001_01_000005.
func (c ContainerID) String() string {
	var b strings.Builder
	b.WriteString("container_")
	if e := c.Epoch(); e > 0 {
		fmt.Fprintf(&b, "e%02d_", e)
	}
	fmt.Fprintf(&b, "%d_%04d_%02d_%06d", c.Attempt.App.ClusterTimestamp, c.Attempt.App.ID, c.Attempt.Attempt, c.Sequence())
	return b.String()
}

// ParseContainerID parses both container_<ts>_<app>_<attempt>_<seq> and the epoch form
// container_e<epoch>_<ts>_<app>_<attempt>_<seq> (the value of the CONTAINER_ID environment variable
// the NodeManager gives every container).
func ParseContainerID(s string) (ContainerID, error) {
	parts := strings.Split(s, "_")
	if len(parts) < 5 || parts[0] != "container" {
		return ContainerID{}, fmt.Errorf("%w: %q is not a container id (want container_[e<epoch>_]<clusterTimestamp>_<appId>_<attempt>_<seq>)", ErrBadID, s)
	}
	var epoch int64
	rest := parts[1:]
	if strings.HasPrefix(rest[0], "e") {
		e, err := strconv.ParseInt(rest[0][1:], 10, 64)
		if err != nil || e < 0 || e >= 1<<23 {
			return ContainerID{}, fmt.Errorf("%w: container id %q: bad epoch %q", ErrBadID, s, rest[0])
		}
		epoch = e
		rest = rest[1:]
	}
	if len(rest) != 4 {
		return ContainerID{}, fmt.Errorf("%w: container id %q has %d fields after the prefix, want 4", ErrBadID, s, len(rest))
	}
	ts, app, err := parseTsID(rest[0], rest[1])
	if err != nil {
		return ContainerID{}, fmt.Errorf("%w: container id %q: %v", ErrBadID, s, err)
	}
	att, err := strconv.ParseInt(rest[2], 10, 32)
	if err != nil || att < 0 {
		return ContainerID{}, fmt.Errorf("%w: container id %q: bad attempt number %q", ErrBadID, s, rest[2])
	}
	seq, err := strconv.ParseInt(rest[3], 10, 64)
	if err != nil || seq < 0 || seq > containerSeqMask {
		return ContainerID{}, fmt.Errorf("%w: container id %q: bad sequence number %q", ErrBadID, s, rest[3])
	}
	return ContainerID{
		Attempt: AttemptID{App: ApplicationID{ClusterTimestamp: ts, ID: app}, Attempt: int32(att)},
		ID:      epoch<<40 | seq,
	}, nil
}

func (c ContainerID) toProto() *pb.ContainerIdProto {
	return &pb.ContainerIdProto{
		AppId:        c.Attempt.App.toProto(),
		AppAttemptId: c.Attempt.toProto(),
		Id:           proto.Int64(c.ID),
	}
}

func containerIDFromProto(p *pb.ContainerIdProto) ContainerID {
	att := attemptIDFromProto(p.GetAppAttemptId())
	if att.App.IsZero() && p.GetAppId() != nil {
		att.App = applicationIDFromProto(p.GetAppId())
	}
	return ContainerID{Attempt: att, ID: p.GetId()}
}

package configs

// Constraints on option values beyond their types, mostly the ranges Flink enforces. They are
// attached here rather than at each declaration to keep the option files readable.

import "github.com/flink-go/flink-go/runtime/netutil"

var validPort = Between(0, 65535)

// portSpec accepts a port, a range ("50100-50200") or a list of both, as netutil.Listen does.
var portSpec = Constraint[string]{
	Text: `a port, a range such as "50100-50200" or a comma-separated list of both`,
	Fn:   func(s string) bool { _, err := netutil.ParsePorts(s); return err == nil },
}

func init() {
	Parallelism.Check(AtLeast(1))
	MaxParallelism.Check(Between(1, 1<<15))
	LocalTaskManagers.Check(AtLeast(1))

	MaxConcurrentCheckpoints.Check(AtLeast(1))
	TolerableFailedCheckpoints.Check(AtLeast(0))
	CheckpointsNumRetained.Check(AtLeast(1))
	CheckpointTimeout.Check(Positive())

	FixedDelayAttempts.Check(AtLeast(0))
	FailureRateMaxFailures.Check(AtLeast(1))
	ExpDelayMultiplier.Check(AtLeast(1.0))
	ExpDelayJitter.Check(Between(0.0, 1.0))
	ExpDelayAttempts.Check(AtLeast(1))

	JobManagerPort.Check(validPort)
	RestPort.Check(validPort)
	HeartbeatInterval.Check(Positive())
	HeartbeatTimeout.Check(Positive())
	StartWorkerMaxFailureRate.Check(AtLeast(0.0))
	RedundantTaskManagers.Check(AtLeast(0))
	SlotRequestTimeout.Check(Positive())
	ClientTimeout.Check(Positive())

	NumberOfTaskSlots.Check(AtLeast(1))
	TaskManagerDataPort.Check(validPort)
	TaskManagerRPCPort.Check(portSpec)
	RestBindPort.Check(portSpec)
	YarnAppMasterPort.Check(portSpec)
	SegmentSize.Check(Constraint[MemorySize]{
		Text: "a power of two of at least 4 kb",
		Fn:   func(m MemorySize) bool { return m >= 4*KibiByte && m&(m-1) == 0 },
	})
	BuffersPerChannel.Check(AtLeast(1))
	FloatingBuffersPerGate.Check(AtLeast(0))
	MaxBuffersPerChannel.Check(AtLeast(1))

	YarnAppMasterVcores.Check(AtLeast(1))
	YarnContainerVcores.Check(Constraint[int]{Text: "-1 or at least 1", Fn: func(v int) bool { return v == -1 || v >= 1 }})
	YarnApplicationAttempts.Check(AtLeast(1))
	YarnHeartbeatInterval.Check(Positive())
	YarnContainerRequestHeartbeat.Check(Positive())

	S3EntropyLength.Check(AtLeast(1))
}

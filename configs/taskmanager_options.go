package configs

import "time"

// TaskManager options: slots, ports, memory and the network stack.

var (
	// NumberOfTaskSlots is the number of slots each TaskManager offers.
	NumberOfTaskSlots = Int("taskmanager.numberOfTaskSlots", 1,
		"Number of parallel task slots each TaskManager offers; each slot can run one parallel pipeline of a job.")

	// TaskManagerHost is the address the TaskManager advertises.
	TaskManagerHost = String("taskmanager.host", "",
		"Address the TaskManager advertises to the JobManager and other TaskManagers. Unset means the host's address; on YARN the NodeManager host.").WithoutDefault()

	// TaskManagerBindHost is the interface the TaskManager binds to.
	TaskManagerBindHost = String("taskmanager.bind-host", "",
		"Local address the TaskManager's RPC and data endpoints bind to. Unset means taskmanager.host; 0.0.0.0 listens on all interfaces.").WithoutDefault()

	// TaskManagerRPCPort is the TaskManager's RPC port or range.
	TaskManagerRPCPort = String("taskmanager.rpc.port", "0",
		"Port, port range (\"50100-50200\") or list of the TaskManager's RPC endpoint. 0 picks a free port, needed when several TaskManagers share a host.")

	// TaskManagerDataPort is the port of the data plane server.
	TaskManagerDataPort = Int("taskmanager.data.port", 0,
		"Port of the TaskManager's data exchange server (records between subtasks on different TaskManagers). 0 picks a free port.")

	// TaskManagerResourceID identifies the TaskManager.
	TaskManagerResourceID = String("taskmanager.resource-id", "",
		"Identifier of the TaskManager, shown in the web UI and logs. Unset means host:port plus a random suffix; on YARN the container id.").WithoutDefault()

	// TaskManagerRegistrationTimeout bounds the TaskManager's attempts to register.
	TaskManagerRegistrationTimeout = Duration("taskmanager.registration.timeout", 5*time.Minute,
		"A TaskManager that cannot register with the resource manager within this time shuts down.")

	// TaskManagerMemory is the total memory of a TaskManager process.
	TaskManagerMemory = Memory("taskmanager.memory.process.size", 1728*MebiByte,
		"Total memory of a TaskManager process. On YARN this is the TaskManager container's memory. (Flink leaves it unset and ships 1728m in its default configuration; flink-go uses that as the default.)")

	// SegmentSize is the size of network buffers.
	SegmentSize = Memory("taskmanager.memory.segment-size", 32*KibiByte,
		"Size of the network buffers records are serialized into. A buffer is sent when full, when the buffer timeout fires, or before a checkpoint barrier.")

	// NetworkMemoryMax bounds the memory used for network buffers.
	NetworkMemoryMax = Memory("taskmanager.memory.network.max", 64*MebiByte,
		"Upper bound of the memory a TaskManager uses for network buffers (a pool of taskmanager.memory.segment-size buffers). flink-go sizes the pool by this bound alone; Flink derives it from a fraction of the process memory.")

	// BuffersPerChannel is the number of exclusive buffers per input channel.
	BuffersPerChannel = Int("taskmanager.network.memory.buffers-per-channel", 2,
		"Exclusive buffers per remote input channel: the initial credit a consumer grants each producer. At least 2 to overlap transfer and processing.")

	// FloatingBuffersPerGate is the number of shared buffers per input gate.
	FloatingBuffersPerGate = Int("taskmanager.network.memory.floating-buffers-per-gate", 8,
		"Floating buffers per input gate, shared by all its channels and handed out as extra credit to backlogged channels.")

	// MaxBuffersPerChannel limits buffers a single output channel may hold.
	MaxBuffersPerChannel = Int("taskmanager.network.memory.max-buffers-per-channel", 10,
		"Maximum buffers one output subpartition may hold, so that data skew cannot take all buffers of a task.").
		WithoutEffect("a result partition's buffer share (subpartitions x buffers-per-channel + floating-buffers-per-gate) bounds what its subpartitions hold; there is no separate cap per subpartition.")
)

package configs

import "time"

// JobManager, REST endpoint, heartbeat and resource manager options.

var (
	// JobManagerAddress is the JobManager's RPC host.
	JobManagerAddress = String("jobmanager.rpc.address", "localhost",
		"Host name or address of the JobManager. In flink-go the CLI uses it to reach the REST API when rest.address is unset; the RPC endpoint itself is chosen by the cluster (127.0.0.1 in the embedded cluster and local session, the container host on YARN) and handed to the TaskManagers it starts.")

	// JobManagerPort is the JobManager's RPC port.
	JobManagerPort = Int("jobmanager.rpc.port", 6123,
		"Port of the JobManager's RPC endpoint (TaskManager registration, slot offers, heartbeats). 0 picks a free port; on YARN the ApplicationMaster always picks one.").
		WithoutEffect("the JobManager's RPC endpoint takes a free port (on YARN: yarn.application-master.port); TaskManagers learn it from the cluster that starts them.")

	// JobManagerBindHost is the interface the JobManager RPC endpoint binds to.
	JobManagerBindHost = String("jobmanager.bind-host", "",
		"Local address the JobManager's RPC endpoint binds to. Unset means jobmanager.rpc.address; 0.0.0.0 listens on all interfaces.").WithoutDefault().
		WithoutEffect("the JobManager's RPC endpoint is chosen by the cluster (127.0.0.1 in the embedded cluster and local session, the container host on YARN).")

	// JobManagerMemory is the total memory of the JobManager process.
	JobManagerMemory = Memory("jobmanager.memory.process.size", 1600*MebiByte,
		"Total memory of the JobManager process. On YARN this is the ApplicationMaster container's memory. (Flink leaves it unset and ships 1600m in its default configuration; flink-go uses that as the default.)")

	// RestAddress is the address clients use to reach the REST endpoint.
	RestAddress = String("rest.address", "",
		"Address clients use to reach the REST endpoint. Unset means jobmanager.rpc.address. On YARN the client reads it from the application report.").
		WithoutDefault().WithFallbackKeys("jobmanager.rpc.address")

	// RestPort is the port clients use to reach the REST endpoint.
	RestPort = Int("rest.port", 8081,
		"Port clients use to reach the REST endpoint (and the web UI). The server binds to rest.bind-port if set, else to this port.")

	// RestBindAddress is the interface the REST server binds to.
	RestBindAddress = String("rest.bind-address", "",
		"Local address the REST server binds to. Unset means all interfaces (0.0.0.0) in local mode and the container host on YARN.").WithoutDefault()

	// RestBindPort is the port or port range the REST server binds to.
	RestBindPort = String("rest.bind-port", "",
		"Port, port range (\"50100-50200\") or list (\"50100,50101\") the REST server binds to; the first free one is used. Unset means rest.port; on YARN \"0\" (any free port).").WithoutDefault()

	// WebSubmitEnabled allows job submission through the web UI.
	WebSubmitEnabled = Bool("web.submit.enable", true,
		"Allow uploading and running job binaries through the web UI and REST API.").
		WithoutEffect("there is no web UI and no /jars endpoints; jobs are submitted by the CLI (POST /jobs with the job binary).")

	// WebCancelEnabled allows cancelling jobs through the web UI.
	WebCancelEnabled = Bool("web.cancel.enable", true,
		"Allow cancelling jobs through the web UI.").
		WithoutEffect("there is no web UI; cancelling through the REST API (PATCH /jobs/:id) is always possible.")

	// HeartbeatInterval is the period of JobManager/TaskManager heartbeats.
	HeartbeatInterval = Duration("heartbeat.interval", 10*time.Second,
		"Interval between heartbeats between the JobManager, the resource manager and the TaskManagers.")

	// HeartbeatTimeout marks a peer dead after this silence.
	HeartbeatTimeout = Duration("heartbeat.timeout", 50*time.Second,
		"A JobManager or TaskManager that sends no heartbeat for this long is considered lost.")

	// TaskManagerIdleTimeout releases idle TaskManagers.
	TaskManagerIdleTimeout = Duration("resourcemanager.taskmanager-timeout", 30*time.Second,
		"A TaskManager without any allocated slot for this long is released (its container returned on YARN).")

	// StartWorkerMaxFailureRate bounds how often failed workers are restarted.
	StartWorkerMaxFailureRate = Float("resourcemanager.start-worker.max-failure-rate", 10,
		"Maximum number of worker (TaskManager container) start failures per minute before new starts are delayed by resourcemanager.start-worker.retry-interval.")

	// StartWorkerRetryInterval is the delay of new worker starts after too many failures.
	StartWorkerRetryInterval = Duration("resourcemanager.start-worker.retry-interval", 3*time.Second,
		"Delay before requesting a new worker once the start-failure rate is exceeded.")

	// WorkerRegistrationTimeout bounds how long a started worker may take to register.
	WorkerRegistrationTimeout = Duration("resourcemanager.taskmanager-registration.timeout", 5*time.Minute,
		"A started TaskManager that has not registered with the resource manager within this time is released and requested again.")

	// PreviousWorkerRecoveryTimeout waits for workers of a previous attempt.
	PreviousWorkerRecoveryTimeout = Duration("resourcemanager.previous-worker.recovery.timeout", 0,
		"After a JobManager failover, how long to wait for TaskManagers of the previous attempt to re-register before requesting new ones.").
		WithoutEffect("containers kept from the previous ApplicationMaster attempt are adopted and their TaskManagers register again on their own, without a deadline (docs/ha.md).")

	// SlotRequestTimeout fails a job whose slot requests stay unfulfilled this long.
	SlotRequestTimeout = Duration("slot.request.timeout", 5*time.Minute,
		"A job whose slot requests cannot be fulfilled within this time fails (and may restart). Long enough for YARN to start TaskManager containers.")

	// ClientTimeout bounds client operations against a cluster.
	ClientTimeout = Duration("client.timeout", time.Minute,
		"Timeout of each REST call of the CLI to a running cluster (submission, list, cancel, savepoint trigger and status, following a job).")

	// ClientRetryPeriod is the pause between client retries.
	ClientRetryPeriod = Duration("client.retry-period", 2*time.Second,
		"Pause between retries of failed client requests, e.g. while a cluster's REST endpoint comes up.").
		WithoutEffect("the CLI does not retry failed REST calls; it reports them with their cause.")

	// RedundantTaskManagers keeps spare TaskManagers.
	RedundantTaskManagers = Int("slotmanager.redundant-taskmanager-num", 0,
		"Number of spare TaskManagers kept beyond the slots needed, to speed up failover.").
		WithoutEffect("no spare TaskManagers are kept; the container of a lost TaskManager is replaced when its slots are needed.")
)

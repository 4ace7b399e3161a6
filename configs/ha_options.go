package configs

// High-availability options.

// HAType is the value of high-availability.type.
type HAType string

// High-availability services.
const (
	HANone       HAType = "NONE"
	HAFileSystem HAType = "FILESYSTEM"
	HAZooKeeper  HAType = "ZOOKEEPER"
)

var (
	// HighAvailability selects the HA services.
	HighAvailability = Enum("high-availability.type", HANone,
		[]HAType{HANone, HAFileSystem, HAZooKeeper},
		"High-availability services. NONE: a JobManager failure fails its jobs. FILESYSTEM (flink-go): the JobManager keeps submitted jobs and checkpoint pointers under high-availability.storageDir, so a new ApplicationMaster attempt recovers them; YARN guarantees a single AM. ZOOKEEPER is accepted for existing configurations (e.g. EMR multi-primary clusters).").
		WithDeprecatedKeys("high-availability")

	// HAStorageDir is where HA metadata is kept.
	HAStorageDir = String("high-availability.storageDir", "",
		"Durable directory (hdfs:// or s3://) for JobManager recovery metadata. Required when high availability is enabled.").
		WithoutDefault().WithDeprecatedKeys("high-availability.zookeeper.storageDir", "recovery.zookeeper.storageDir")

	// HAClusterID separates the HA data of different clusters.
	HAClusterID = String("high-availability.cluster-id", "/default",
		"Identifier of the cluster inside the HA storage. On YARN it is set to the application id; do not set it by hand there.").
		WithDeprecatedKeys("high-availability.zookeeper.path.namespace")

	// HAZooKeeperQuorum is the ZooKeeper ensemble.
	HAZooKeeperQuorum = String("high-availability.zookeeper.quorum", "",
		"ZooKeeper quorum (host:port,...) for ZOOKEEPER high availability.").WithoutDefault().
		WithoutEffect("ZooKeeper is not used: YARN runs one ApplicationMaster at a time, and the HA state lives in high-availability.storageDir (docs/ha.md).")

	// HAZooKeeperRoot is the ZooKeeper root node.
	HAZooKeeperRoot = String("high-availability.zookeeper.path.root", "/flink",
		"Root ZooKeeper node under which clusters keep their data.").
		WithoutEffect("ZooKeeper is not used: YARN runs one ApplicationMaster at a time, and the HA state lives in high-availability.storageDir (docs/ha.md).")
)

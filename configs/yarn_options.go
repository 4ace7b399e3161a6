package configs

import "time"

// YARN deployment options (Flink's YarnConfigOptions).

// UserJarInclusion is the value of yarn.per-job-cluster.include-user-jar.
type UserJarInclusion string

// User jar (job binary) placement on the classpath; kept for configuration compatibility.
const (
	UserJarDisabled UserJarInclusion = "DISABLED"
	UserJarFirst    UserJarInclusion = "FIRST"
	UserJarLast     UserJarInclusion = "LAST"
	UserJarOrder    UserJarInclusion = "ORDER"
)

var (
	// YarnApplicationID is the YARN application of a running session.
	YarnApplicationID = String("yarn.application.id", "",
		"Id of a running YARN session (application_<timestamp>_<n>) to submit to or act on.").WithoutDefault()

	// YarnApplicationName is the YARN application name.
	YarnApplicationName = String("yarn.application.name", "",
		"Name of the YARN application. Unset means \"Flink session cluster\", \"Flink per-job cluster\" or \"Flink Application Cluster\" as in Flink.").WithoutDefault()

	// YarnApplicationType is the YARN application type.
	YarnApplicationType = String("yarn.application.type", "Apache Flink",
		"Application type reported to YARN (shown by yarn application -list).")

	// YarnQueue is the YARN scheduler queue.
	YarnQueue = String("yarn.application.queue", "",
		"YARN queue to submit to. A queue that does not exist only causes a warning; YARN then decides.").WithoutDefault()

	// YarnTags are YARN application tags.
	YarnTags = ListSep("yarn.tags", ',', nil,
		"Comma-separated tags attached to the YARN application (trimmed, empty ones dropped); in config.yaml also a YAML list.")

	// YarnPriority is the YARN application priority.
	YarnPriority = Int("yarn.application.priority", -1,
		"Priority of the YARN application; a negative value keeps the cluster default.")

	// YarnNodeLabel restricts the application to labelled nodes.
	YarnNodeLabel = String("yarn.application.node-label", "",
		"YARN node label expression for the application's containers.").WithoutDefault()

	// YarnApplicationAttempts is the maximum number of ApplicationMaster attempts.
	YarnApplicationAttempts = Int("yarn.application-attempts", 0,
		"Number of ApplicationMaster attempts (bounded by YARN's yarn.resourcemanager.am.max-attempts). Unset means 1 without high availability and 2 with it.").WithoutDefault()

	// YarnAttemptFailuresValidityInterval is the window for counting AM failures.
	YarnAttemptFailuresValidityInterval = Int64("yarn.application-attempt-failures-validity-interval", 10000,
		"Time window in milliseconds in which ApplicationMaster failures count towards yarn.application-attempts; -1 counts them over the application's lifetime. Applied only with high availability.")

	// YarnAppMasterPort is the AM RPC port specification.
	YarnAppMasterPort = String("yarn.application-master.port", "0",
		"Port, range or list for the ApplicationMaster's JobManager RPC endpoint; 0 picks a free port.")

	// YarnAppMasterVcores is the number of vcores of the AM container.
	YarnAppMasterVcores = Int("yarn.appmaster.vcores", 1,
		"Virtual cores requested for the ApplicationMaster container.")

	// YarnContainerVcores is the number of vcores per TaskManager container.
	YarnContainerVcores = Int("yarn.containers.vcores", -1,
		"Virtual cores per TaskManager container; -1 means taskmanager.numberOfTaskSlots. Takes effect only when YARN schedules CPU (DominantResourceCalculator).")

	// YarnStagingDirectory is where submissions upload their files.
	YarnStagingDirectory = String("yarn.staging-directory", "",
		"Base directory for uploaded application files; each application gets <dir>/.flink-go/<applicationId>/ (mode 700). Unset means the home directory on the default file system.").WithoutDefault()

	// YarnShipFiles are extra local or remote files shipped to all containers.
	YarnShipFiles = List("yarn.ship-files", nil,
		"Files and directories (local or remote URIs) shipped to every container's working directory, separated by ';'.").
		WithDeprecatedKeys("yarn.ship-directories")

	// YarnShipArchives are archives shipped and unpacked in containers.
	YarnShipArchives = List("yarn.ship-archives", nil,
		"Archives (.tar.gz, .tgz, .tar, .zip, .jar) shipped to every container and unpacked there, separated by ';'.")

	// YarnProvidedLibDirs are pre-uploaded, world-readable directories.
	YarnProvidedLibDirs = List("yarn.provided.lib.dirs", nil,
		"Remote directories with pre-uploaded files (e.g. the flink-go binary) registered as PUBLIC resources, so NodeManagers cache them across applications instead of uploading on every submission. Separated by ';'.")

	// YarnProvidedUsrlibDir is a pre-uploaded directory of user files.
	YarnProvidedUsrlibDir = String("yarn.provided.usrlib.dir", "",
		"Remote directory with pre-uploaded user files, registered as APPLICATION resources.").WithoutDefault().
		WithoutEffect("there is no usrlib: the job binary carries the user code.")

	// YarnFileReplication is the HDFS replication of uploaded files.
	YarnFileReplication = Int("yarn.file-replication", -1,
		"Replication factor of files uploaded to the staging directory; -1 means the Hadoop default (dfs.replication).")

	// YarnIncludeUserJar is kept for configuration compatibility.
	YarnIncludeUserJar = Enum("yarn.per-job-cluster.include-user-jar", UserJarOrder,
		[]UserJarInclusion{UserJarDisabled, UserJarFirst, UserJarLast, UserJarOrder},
		"Where Flink puts the user jar on the classpath. flink-go ships a job binary instead of jars and accepts the key for compatibility only.").
		WithoutEffect("there is no class path: the job binary is the executable of the ApplicationMaster and the TaskManagers.")

	// YarnPropertiesFileLocation is the directory of the session properties file.
	YarnPropertiesFileLocation = String("yarn.properties-file.location", "",
		"Directory of the .yarn-properties-<user> file a session writes so later commands find it. Unset means the system temp directory.").WithoutDefault().
		WithoutEffect("a YARN session is recorded in $FLINK_GO_HOME/yarn-session.properties (FLINK_GO_HOME defaults to ~/.flink-go).")

	// YarnHeartbeatInterval is the AM-RM heartbeat period.
	YarnHeartbeatInterval = DurationIn("yarn.heartbeat.interval", 5*time.Second, time.Second,
		"Interval between the ApplicationMaster's heartbeats (allocate calls) to the YARN ResourceManager while no containers are pending. Must stay well below YARN's AM expiry interval. A plain number is seconds, as in Flink.").
		WithDeprecatedKeys("yarn.heartbeat-delay")

	// YarnContainerRequestHeartbeat is the faster heartbeat while containers are requested.
	YarnContainerRequestHeartbeat = Duration("yarn.heartbeat.container-request-interval", 500*time.Millisecond,
		"Heartbeat interval to the YARN ResourceManager while container requests are pending. Too small a value may cause over-allocation (YARN-1902).")

	// YarnKerberosShipLocalKeytab ships the client keytab to the containers.
	YarnKerberosShipLocalKeytab = Bool("yarn.security.kerberos.ship-local-keytab", true,
		"Ship the keytab of security.kerberos.login.keytab to the containers.")

	// YarnKerberosLocalizedKeytabPath is the keytab's name in the containers.
	YarnKerberosLocalizedKeytabPath = String("yarn.security.kerberos.localized-keytab-path", "krb5.keytab",
		"Path of the keytab in the container working directory (the shipped one, or one already present on the nodes).")

	// YarnKerberosAdditionalFileSystems obtains tokens for further file systems.
	YarnKerberosAdditionalFileSystems = List("yarn.security.kerberos.additionalFileSystems", nil,
		"Further Hadoop file systems (URIs, ';'-separated) to obtain delegation tokens for, e.g. a remote checkpoint HDFS.").
		WithoutEffect("only the default file system gets a delegation token; the keytab login (security.kerberos.login.keytab) reaches other secured HDFS clusters (docs/kerberos.md).")
)

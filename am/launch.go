package am

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/flink-go/flink-go/cluster"
	"github.com/flink-go/flink-go/yarn"
)

// Environment variables of the YARN deployment contract (docs/yarn-deployment.md) that the AM
// reads; the container ones are yarn's (yarn.AMContextFromEnv).
const (
	// EnvStagingDir is the URI of the application's staging directory.
	EnvStagingDir = "FLINK_GO_STAGING_DIR"
	// EnvJobBinary is the file name of the job binary in the staging directory.
	EnvJobBinary = "FLINK_GO_JOB_BINARY"
	// EnvScheduler lists the RM scheduler addresses (comma-separated).
	EnvScheduler = "FLINK_GO_YARN_SCHEDULER"
	// EnvSlots is the number of slots of a TaskManager container.
	EnvSlots = "FLINK_GO_SLOTS"
	// EnvHadoopConfDir points containers at the shipped Hadoop configuration.
	EnvHadoopConfDir = "HADOOP_CONF_DIR"
	// HadoopConfDir is the staging sub-directory (and container link directory) of the
	// client's core-site.xml, hdfs-site.xml and yarn-site.xml.
	HadoopConfDir = "hadoop-conf"
)

// TaskManagerSpec is everything a TaskManager container of one job needs, besides the
// container itself.
type TaskManagerSpec struct {
	// Binary is the job binary's link name in the container and its resource.
	BinaryName string
	Binary     yarn.LocalResource
	// Files are further resources (e.g. "hadoop-conf/core-site.xml").
	Files map[string]yarn.LocalResource
	// JobManager is the JobManager's gRPC address (AM host:port).
	JobManager string
	JobID      string
	// ConfigJSON is the job configuration (FLINK_GO_JOB_CONFIG).
	ConfigJSON string
	Args       []string
	Slots      int
	// User is the submitting user (HADOOP_USER_NAME).
	User string
	// Tokens are the container credentials without the AMRMToken.
	Tokens []byte
	// LogLevel is passed on as FLINK_GO_LOG_LEVEL when set.
	LogLevel string
}

// LaunchContext builds a TaskManager container's launch context per the deployment contract:
// the job binary (and the shipped Hadoop configuration) as LocalResources, the taskmanager role's
// environment, the command with its output redirected into <LOG_DIR>, and the credentials.
func (s TaskManagerSpec) LaunchContext(c yarn.Container) (yarn.ContainerLaunchContext, error) {
	if s.BinaryName == "" || strings.ContainsAny(s.BinaryName, "/\x00") {
		return yarn.ContainerLaunchContext{}, fmt.Errorf("am: job binary name %q must be a plain file name", s.BinaryName)
	}
	if s.JobManager == "" || s.JobID == "" || s.Slots <= 0 {
		return yarn.ContainerLaunchContext{}, fmt.Errorf("am: TaskManager spec incomplete (JobManager %q, job %q, slots %d)", s.JobManager, s.JobID, s.Slots)
	}
	res := map[string]yarn.LocalResource{s.BinaryName: s.Binary}
	for k, v := range s.Files {
		res[k] = v
	}
	env := map[string]string{
		cluster.EnvRole:       cluster.RoleTaskManger,
		cluster.EnvJobManager: s.JobManager,
		cluster.EnvResourceID: c.ID.String(),
		cluster.EnvJobID:      s.JobID,
		cluster.EnvJobConfig:  s.ConfigJSON,
		EnvSlots:              strconv.Itoa(s.Slots),
		cluster.EnvHost:       c.Node.Host,
	}
	if s.User != "" {
		env[yarn.EnvHadoopUser] = s.User
	}
	if s.LogLevel != "" {
		env[cluster.EnvLogLevel] = s.LogLevel
	}
	for k := range s.Files {
		if strings.HasPrefix(k, HadoopConfDir+"/") {
			env[EnvHadoopConfDir] = "{{PWD}}/" + HadoopConfDir
			break
		}
	}
	for k, v := range env {
		env[k] = EscapeEnvValue(v)
	}
	words := []string{"./" + ShellQuote(s.BinaryName)}
	for _, a := range s.Args {
		words = append(words, ShellQuote(a))
	}
	cmd := EscapeForDoubleQuotes(strings.Join(words, " ")) + " 1><LOG_DIR>/taskmanager.out 2><LOG_DIR>/taskmanager.log"
	return yarn.ContainerLaunchContext{LocalResources: res, Environment: env, Commands: []string{cmd}, Tokens: s.Tokens}, nil
}

// ShellQuote quotes a word for bash: as is when it is made of safe characters only, else in
// single quotes.
func ShellQuote(s string) string {
	if s == "" {
		return "''"
	}
	safe := true
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./=:,+@%", r)) {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// EscapeForDoubleQuotes escapes what bash interprets inside double quotes (\ " $ `): the
// NodeManager writes the command as exec /bin/bash -c "<command>" into launch_container.sh.
func EscapeForDoubleQuotes(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r == '\\' || r == '"' || r == '$' || r == '`' {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// EscapeEnvValue makes a value survive launch_container.sh, which writes export KEY="VALUE"
// without escaping: quotes, dollars and backquotes are escaped, and YARN's own {{PWD}}-style
// expansion syntax is left as is so it still expands.
func EscapeEnvValue(v string) string {
	if !strings.Contains(v, "{{") {
		return EscapeForDoubleQuotes(v)
	}
	// Keep {{VAR}} (the NodeManager turns it into $VAR) and escape the rest.
	var b strings.Builder
	for v != "" {
		i := strings.Index(v, "{{")
		if i < 0 {
			b.WriteString(EscapeForDoubleQuotes(v))
			break
		}
		j := strings.Index(v[i:], "}}")
		if j < 0 {
			b.WriteString(EscapeForDoubleQuotes(v))
			break
		}
		b.WriteString(EscapeForDoubleQuotes(v[:i]))
		b.WriteString(v[i : i+j+2])
		v = v[i+j+2:]
	}
	return b.String()
}

// sortedNames returns the map's keys in order (for logs).
func sortedNames(m map[string]yarn.LocalResource) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

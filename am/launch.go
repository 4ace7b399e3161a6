package am

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/flink-go/flink-go/cluster"
	"github.com/flink-go/flink-go/taskmanager"
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
	// EnvTMResources optionally describes, as JSON (EncodeResources), the LocalResources every
	// TaskManager container gets besides the job binary: ship files, archives, the Hadoop
	// configuration, provided libraries.
	EnvTMResources = "FLINK_GO_TM_RESOURCES"
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
	// HALeader is the URI of the HA leader file (FLINK_GO_HA_LEADER): with it the TaskManager
	// survives the loss of the AM and registers with the next attempt's JobManager.
	HALeader string
	// Env is further environment (e.g. KerberosEnv); the role's own variables win.
	Env map[string]string
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
	env := map[string]string{}
	for k, v := range s.Env {
		env[k] = v
	}
	for k, v := range map[string]string{
		cluster.EnvRole:       cluster.RoleTaskManger,
		cluster.EnvJobManager: s.JobManager,
		cluster.EnvResourceID: c.ID.String(),
		cluster.EnvJobID:      s.JobID,
		cluster.EnvJobConfig:  s.ConfigJSON,
		EnvSlots:              strconv.Itoa(s.Slots),
		cluster.EnvHost:       c.Node.Host,
	} {
		env[k] = v
	}
	if s.User != "" {
		env[yarn.EnvHadoopUser] = s.User
	}
	if s.LogLevel != "" {
		env[cluster.EnvLogLevel] = s.LogLevel
	}
	if s.HALeader != "" {
		env[taskmanager.EnvHALeader] = s.HALeader
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

// resourceJSON is the JSON form of a yarn.LocalResource in FLINK_GO_TM_RESOURCES.
type resourceJSON struct {
	URL        string `json:"url"`
	Size       int64  `json:"size"`
	Timestamp  int64  `json:"timestamp"`
	Type       string `json:"type,omitempty"`       // FILE (default), ARCHIVE, PATTERN
	Visibility string `json:"visibility,omitempty"` // APPLICATION (default), PRIVATE, PUBLIC
	Pattern    string `json:"pattern,omitempty"`
}

var (
	typeNames = map[yarn.LocalResourceType]string{yarn.ResourceFile: "FILE", yarn.ResourceArchive: "ARCHIVE", yarn.ResourcePattern: "PATTERN"}
	visNames  = map[yarn.Visibility]string{yarn.VisibilityPublic: "PUBLIC", yarn.VisibilityPrivate: "PRIVATE", yarn.VisibilityApplication: "APPLICATION"}
)

// EncodeResources serializes LocalResources (link name → resource) for FLINK_GO_TM_RESOURCES.
func EncodeResources(m map[string]yarn.LocalResource) (string, error) {
	out := map[string]resourceJSON{}
	for k, r := range m {
		out[k] = resourceJSON{URL: r.URL, Size: r.Size, Timestamp: r.Timestamp, Type: typeNames[r.Type], Visibility: visNames[r.Visibility], Pattern: r.Pattern}
	}
	b, err := json.Marshal(out)
	if err != nil {
		return "", fmt.Errorf("am: encoding resources: %w", err)
	}
	return string(b), nil
}

// DecodeResources parses FLINK_GO_TM_RESOURCES.
func DecodeResources(s string) (map[string]yarn.LocalResource, error) {
	var in map[string]resourceJSON
	if err := json.Unmarshal([]byte(s), &in); err != nil {
		return nil, fmt.Errorf("am: resource descriptors are not a JSON object of {url,size,timestamp,type,visibility}: %w", err)
	}
	out := map[string]yarn.LocalResource{}
	for k, r := range in {
		if k == "" || strings.HasPrefix(k, "/") || strings.Contains(k, "..") {
			return nil, fmt.Errorf("am: resource link %q must be a relative path", k)
		}
		if r.URL == "" || r.Size < 0 || r.Timestamp <= 0 {
			return nil, fmt.Errorf("am: resource %q needs url, size and timestamp (the file's modification time in ms), got %+v", k, r)
		}
		lr := yarn.LocalResource{URL: r.URL, Size: r.Size, Timestamp: r.Timestamp, Pattern: r.Pattern}
		for t, n := range typeNames {
			if strings.EqualFold(r.Type, n) {
				lr.Type = t
			}
		}
		for v, n := range visNames {
			if strings.EqualFold(r.Visibility, n) {
				lr.Visibility = v
			}
		}
		if (r.Type != "" && lr.Type == 0) || (r.Visibility != "" && lr.Visibility == 0) {
			return nil, fmt.Errorf("am: resource %q: unknown type %q or visibility %q", k, r.Type, r.Visibility)
		}
		out[k] = lr
	}
	return out, nil
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

package emr

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Paths on an EMR node, relative to the file system root.
const (
	// InstanceInfoPath describes this instance (isMaster, instance group).
	InstanceInfoPath = "mnt/var/lib/info/instance.json"
	// JobFlowInfoPath describes the cluster (job flow id, instance groups).
	JobFlowInfoPath = "mnt/var/lib/info/job-flow.json"
	// HadoopConfDir is the Hadoop client configuration EMR writes (HADOOP_CONF_DIR).
	HadoopConfDir = "etc/hadoop/conf"
	// BootstrapLogDir holds the output of bootstrap actions, one directory per action.
	BootstrapLogDir = "mnt/var/log/bootstrap-actions"
	// StepLogDir holds each step's stdout, stderr and controller log: <dir>/<step id>/.
	StepLogDir = "mnt/var/log/hadoop/steps"
	// ContainerLogDir holds YARN container logs on the nodes.
	ContainerLogDir = "var/log/hadoop-yarn/containers"
	// FlinkGoHome is where the bootstrap action installs flink-go.
	FlinkGoHome = "usr/lib/flink-go"
	// FlinkGoConfDir is the configuration directory the bootstrap action creates.
	FlinkGoConfDir = "etc/flink-go/conf"
)

// ErrNotEMR is returned by DetectNode on a machine that is no EMR node.
var ErrNotEMR = errors.New("not an Amazon EMR node")

// InstanceGroup is one instance group of the cluster, from job-flow.json.
type InstanceGroup struct {
	ID    string `json:"instanceGroupId"`
	Name  string `json:"instanceGroupName"`
	Role  string `json:"instanceRole"`
	Type  string `json:"instanceType"`
	Count int    `json:"requestedInstanceCount"`
}

// Node describes the EMR node this process runs on.
type Node struct {
	// Root is the file system root the files were read under ("/" on a real node).
	Root string
	// ClusterID is the job flow id, j-....
	ClusterID string
	// IsMaster says whether this is the primary (master) node.
	IsMaster bool
	// InstanceGroupID is this node's instance group, ig-... (empty on instance fleets).
	InstanceGroupID string
	// InstanceRole is this node's role as instance.json gives it (master, core, task), if
	// given; else derived from the instance groups.
	InstanceRole string
	// MasterPrivateDNS is the master's private DNS name, if job-flow.json has it.
	MasterPrivateDNS string
	// InstanceGroups are the cluster's instance groups.
	InstanceGroups []InstanceGroup
}

// Path returns rel (one of the path constants) under the node's root.
func (n *Node) Path(rel string) string { return filepath.Join(n.Root, rel) }

// HadoopConfDir returns EMR's Hadoop configuration directory, the default HADOOP_CONF_DIR.
func (n *Node) HadoopConfDir() string { return n.Path(HadoopConfDir) }

// StepLogDir returns the directory of a step's logs on the master.
func (n *Node) StepLogDir(stepID string) string { return filepath.Join(n.Path(StepLogDir), stepID) }

type instanceJSON struct {
	IsMaster        *bool  `json:"isMaster"`
	InstanceGroupID string `json:"instanceGroupId"`
	InstanceRole    string `json:"instanceRole"`
}

type jobFlowJSON struct {
	JobFlowID        string          `json:"jobFlowId"`
	MasterPrivateDNS string          `json:"masterPrivateDnsName"`
	InstanceGroups   []InstanceGroup `json:"instanceGroups"`
}

// DetectNode reads the EMR node description under root ("/" or "" for the real root; tests
// pass a scratch directory). A missing instance.json means this is no EMR node: the error
// wraps ErrNotEMR. Malformed files are errors naming the file.
func DetectNode(root string) (*Node, error) {
	if root == "" {
		root = "/"
	}
	n := &Node{Root: root}
	instPath := filepath.Join(root, InstanceInfoPath)
	data, err := os.ReadFile(instPath)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s does not exist", ErrNotEMR, instPath)
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", instPath, err)
	}
	var inst instanceJSON
	if err := json.Unmarshal(data, &inst); err != nil {
		return nil, fmt.Errorf("%s: malformed JSON (is this an EMR node?): %w", instPath, err)
	}
	if inst.IsMaster == nil {
		return nil, fmt.Errorf("%s: no \"isMaster\" field (is this an EMR node?)", instPath)
	}
	n.IsMaster, n.InstanceGroupID, n.InstanceRole = *inst.IsMaster, inst.InstanceGroupID, strings.ToLower(inst.InstanceRole)

	jfPath := filepath.Join(root, JobFlowInfoPath)
	data, err = os.ReadFile(jfPath)
	if err != nil {
		return nil, fmt.Errorf("reading %s (written by EMR next to instance.json): %w", jfPath, err)
	}
	var jf jobFlowJSON
	if err := json.Unmarshal(data, &jf); err != nil {
		return nil, fmt.Errorf("%s: malformed JSON: %w", jfPath, err)
	}
	if !strings.HasPrefix(jf.JobFlowID, "j-") {
		return nil, fmt.Errorf("%s: \"jobFlowId\" %q is not a cluster id (j-...)", jfPath, jf.JobFlowID)
	}
	n.ClusterID, n.MasterPrivateDNS, n.InstanceGroups = jf.JobFlowID, jf.MasterPrivateDNS, jf.InstanceGroups
	if n.InstanceRole == "" {
		for _, g := range jf.InstanceGroups {
			if g.ID == n.InstanceGroupID && g.ID != "" {
				n.InstanceRole = strings.ToLower(g.Role)
			}
		}
		if n.InstanceRole == "" && n.IsMaster {
			n.InstanceRole = "master"
		}
	}
	return n, nil
}

// DefaultHadoopConfDir returns the HADOOP_CONF_DIR to use: the environment's when set, else
// EMR's /etc/hadoop/conf (under root) when it exists, else "".
func DefaultHadoopConfDir(root string, lookupEnv func(string) (string, bool)) string {
	if lookupEnv == nil {
		lookupEnv = os.LookupEnv
	}
	if v, ok := lookupEnv("HADOOP_CONF_DIR"); ok && v != "" {
		return v
	}
	if root == "" {
		root = "/"
	}
	d := filepath.Join(root, HadoopConfDir)
	if st, err := os.Stat(d); err == nil && st.IsDir() {
		return d
	}
	return ""
}

package countingcheck

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/flink-go/flink-go/cluster"
)

// BinaryName is the name the tests give the examples/counting binary; TaskManagerProcesses
// recognizes the job's processes by it.
const BinaryName = "counting"

// TaskManagerProcesses finds the running TaskManager processes of the counting job of a YARN
// application (application_<ts>_<n>) on this machine, through /proc: a local mini-cluster's
// NodeManagers run containers as local processes whose environment names the role
// (FLINK_GO_ROLE=taskmanager) and the container (FLINK_GO_RESOURCE_ID). Only the job binary
// itself counts, not a shell wrapper. It returns pid -> container id; processes it may not read
// (another user's, or ended while scanning) are skipped.
func TaskManagerProcesses(appID string) map[int]string {
	out := map[int]string{}
	dirs, _ := os.ReadDir("/proc")
	appPart := strings.TrimPrefix(appID, "application_")
	if appPart == "" {
		return out
	}
	roleKV := []byte(cluster.EnvRole + "=" + cluster.RoleTaskManger)
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		env, err := os.ReadFile(filepath.Join("/proc", d.Name(), "environ"))
		if err != nil || !bytes.Contains(env, roleKV) {
			continue
		}
		for _, kv := range bytes.Split(env, []byte{0}) {
			if v, ok := bytes.CutPrefix(kv, []byte(cluster.EnvResourceID+"=")); ok && strings.Contains(string(v), appPart) {
				if exe, _ := os.Readlink(filepath.Join("/proc", d.Name(), "exe")); strings.HasSuffix(exe, BinaryName) {
					out[pid] = string(v)
				}
			}
		}
	}
	return out
}

package am

import (
	"strings"

	"github.com/flink-go/flink-go/cluster"
)

// withClusterLogging returns a TaskManager container's configuration: the job's, with its
// cluster-scope logging keys (env.log.*, not env.log.session.*/env.log.cli.*) replaced by
// those this ApplicationMaster was launched with. The cluster's logging settings (the
// flink-log4j classification, env.log.* of the session or application) apply to its
// TaskManagers, as Flink's log4j.properties does, whichever client submitted the job.
func withClusterLogging(job, launch map[string]string) map[string]string {
	isLogKey := func(k string) bool {
		return strings.HasPrefix(k, "env.log.") && !strings.HasPrefix(k, "env.log.session.") && !strings.HasPrefix(k, "env.log.cli.")
	}
	out := make(map[string]string, len(job))
	for k, v := range job {
		if !isLogKey(k) {
			out[k] = v
		}
	}
	for k, v := range launch {
		if isLogKey(k) {
			out[k] = v
		}
	}
	return out
}

// tmConfig is withClusterLogging with this process's launch configuration.
func tmConfig(job map[string]string) map[string]string {
	return withClusterLogging(job, cluster.LaunchConfig())
}

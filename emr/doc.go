// Package emr runs flink-go on Amazon EMR.
//
// It covers four things:
//
//   - Configuration classifications: EMR's JSON list of {Classification, Properties,
//     Configurations} (the --configurations of "aws emr create-cluster"). ParseClassifications
//     reads it strictly, Translate maps "flink-conf" (alias "flink-go-conf") onto flink-go
//     configuration keys and the log4j classifications ("flink-log4j", "flink-log4j-session",
//     "flink-log4j-cli") onto flink-go's logging keys (env.log.*), and LoadClassifications
//     reads a file, an http(s):// URL or an s3:// object and returns configs overlays that
//     configs.Load applies between the configuration file and -D.
//   - The EMR node environment: DetectNode reads /mnt/var/lib/info/instance.json and
//     job-flow.json (master or not, instance group, cluster id) under a root that tests move.
//   - Steps and clusters through the EMR API (aws-sdk-go-v2): AddStep submits a
//     command-runner.jar step that runs flink-go on the master, WaitStep follows it,
//     ListSteps lists steps, and RunJobFlowRequest builds a transient cluster with the
//     flink-go bootstrap action.
//   - The CLI commands under "flink-go emr" (Commands).
//
// See docs/emr.md.
package emr

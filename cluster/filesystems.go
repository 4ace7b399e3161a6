package cluster

import (
	"fmt"

	// Every flink-go process (CLI, JobManager, TaskManagers, job binaries) can read and write
	// hdfs:// and s3:// (s3a://) paths: checkpoints, savepoints, sources and sinks.
	_ "github.com/flink-go/flink-go/hdfs"
	"github.com/flink-go/flink-go/s3fs"
)

// ConfigureFileSystems applies the s3.* settings of a configuration to the S3 file system.
func ConfigureFileSystems(conf map[string]string) error {
	if err := s3fs.Configure(conf); err != nil {
		return fmt.Errorf("S3 settings: %w", err)
	}
	return nil
}

package jobmanager

import (
	"strings"
	"testing"
)

func TestCheckpointJobDirsEntropy(t *testing.T) {
	for _, c := range []struct {
		conf        map[string]string
		dir         string
		job, data   string
		wantErrPart string
	}{
		// The marker in an S3 path: metadata without it, data with it.
		{map[string]string{"s3.entropy.key": "_entropy_"}, "s3://bucket/_entropy_/ckpt", "s3://bucket/ckpt/j1", "s3://bucket/_entropy_/ckpt/j1", ""},
		// No key, or the marker absent, or not S3: exactly as without entropy.
		{map[string]string{"s3.entropy.key": ""}, "s3://bucket/_entropy_/ckpt", "s3://bucket/_entropy_/ckpt/j1", "", ""},
		{map[string]string{"s3.entropy.key": "_entropy_"}, "s3://bucket/ckpt", "s3://bucket/ckpt/j1", "", ""},
		{map[string]string{"s3.entropy.key": "_entropy_"}, "hdfs://nn/_entropy_/ckpt", "hdfs://nn/_entropy_/ckpt/j1", "", ""},
		{map[string]string{"s3.entropy.key": "_e_", "s3.entropy.length": "zero"}, "s3://bucket/_e_/ckpt", "", "", "s3.entropy.length"},
	} {
		job, data, err := checkpointJobDirs(c.conf, c.dir, "j1")
		if c.wantErrPart != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErrPart) {
				t.Errorf("%v %s: want an error naming %s, got %v", c.conf, c.dir, c.wantErrPart, err)
			}
			continue
		}
		if err != nil || job != c.job || data != c.data {
			t.Errorf("%v %s: got %q %q %v, want %q %q", c.conf, c.dir, job, data, err, c.job, c.data)
		}
	}
}

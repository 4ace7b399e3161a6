package hdfs_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/flink-go/flink-go/fs"
	"github.com/flink-go/flink-go/hdfs"
	"github.com/flink-go/flink-go/testing/hadoop/testbed"
)

// TestHAFailover: a nameservice with two NameNodes; the FileSystem keeps
// working across a failover (colinmarc moves to the other NameNode on
// StandbyException), and URIs carry the nameservice.
func TestHAFailover(t *testing.T) {
	c := testbed.RequireHA(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	opts, err := hdfs.LoadOptions(c.ConfDir())
	if err != nil {
		t.Fatal(err)
	}
	if len(opts.Addresses) != 2 || opts.Authority != "minidfs-ns" {
		t.Fatalf("options: addresses %v authority %q", opts.Addresses, opts.Authority)
	}
	fsys, err := hdfs.New(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer fsys.Close()
	base := fmt.Sprintf("/tmp/ha-%d", time.Now().UnixNano())
	if err := fs.WriteFileAtomic(ctx, fsys, base+"/before", []byte("written to the first active")); err != nil {
		t.Fatal(err)
	}
	if got := fsys.URI(base); !strings.HasPrefix(got, "hdfs://minidfs-ns/") {
		t.Errorf("URI = %q", got)
	}
	for round := 0; round < 2; round++ {
		active, err := c.Failover(ctx)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("failover %d: %s active", round, active)
		got, err := fs.ReadFile(ctx, fsys, base+"/before")
		if err != nil || string(got) != "written to the first active" {
			t.Fatalf("read after failover to %s: %q, %v", active, got, err)
		}
		p := fmt.Sprintf("%s/after-%d", base, round)
		if err := fs.WriteFileAtomic(ctx, fsys, p, []byte(active)); err != nil {
			t.Fatalf("write after failover to %s: %v", active, err)
		}
		if got, err := fs.ReadFile(ctx, fsys, p); err != nil || string(got) != active {
			t.Fatalf("read back %q, %v", got, err)
		}
	}
	if err := fsys.Delete(ctx, base, true); err != nil {
		t.Fatal(err)
	}
}

package hdfs_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/flink-go/flink-go/fs"
	"github.com/flink-go/flink-go/fs/fstest"
	"github.com/flink-go/flink-go/hdfs"
	"github.com/flink-go/flink-go/testing/hadoop/testbed"
)

func TestMain(m *testing.M) { os.Exit(testbed.Main(m)) }

const testUser = "alice"

// connect returns an HDFS FileSystem on the test bed acting as testUser, and
// a fresh base directory (deleted afterwards).
func connect(t *testing.T) (*testbed.Cluster, *hdfs.FileSystem, string) {
	t.Helper()
	c := testbed.Require(t)
	t.Setenv("HADOOP_USER_NAME", testUser)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	opts, err := hdfs.LoadOptions(c.ConfDir())
	if err != nil {
		t.Fatal(err)
	}
	if opts.User != testUser {
		t.Fatalf("user = %q, want HADOOP_USER_NAME %q", opts.User, testUser)
	}
	fsys, err := hdfs.New(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	base := "/tmp/hdfs-test/" + strings.ReplaceAll(t.Name(), "/", "_") + "-" + hex.EncodeToString(rnd[:])
	if err := fsys.MkdirAll(ctx, base, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = fsys.Delete(context.Background(), base, true)
		fsys.Close()
	})
	return c, fsys, base
}

func TestConformance(t *testing.T) {
	_, fsys, base := connect(t)
	fstest.Run(t, fsys, base)
}

func TestOwnerIsHadoopUserName(t *testing.T) {
	_, fsys, base := connect(t)
	ctx := context.Background()
	p := base + "/owned"
	if err := fs.WriteFileAtomic(ctx, fsys, p, []byte("x")); err != nil {
		t.Fatal(err)
	}
	info, err := fsys.Client().Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	type owner interface{ Owner() string }
	if got := info.(owner).Owner(); got != testUser {
		t.Errorf("owner = %q, want %q", got, testUser)
	}
	if got := fsys.HomeDir(); got != "/user/"+testUser {
		t.Errorf("HomeDir = %q", got)
	}
}

// replicationOf reads block_replication from the raw HdfsFileStatusProto.
func replicationOf(t *testing.T, fsys *hdfs.FileSystem, p string) int {
	t.Helper()
	info, err := fsys.Client().Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	msg, ok := info.Sys().(proto.Message)
	if !ok {
		t.Fatalf("Sys() = %T, not a proto message", info.Sys())
	}
	m := msg.ProtoReflect()
	fd := m.Descriptor().Fields().ByName("block_replication")
	if fd == nil {
		t.Fatal("HdfsFileStatusProto has no block_replication")
	}
	return int(m.Get(fd).Uint())
}

func TestUploadWithReplicationAndResourceStat(t *testing.T) {
	c, fsys, base := connect(t)
	ctx := context.Background()
	local := filepath.Join(t.TempDir(), "job.bin")
	data := bytes.Repeat([]byte{0xCA, 0xFE}, 300_000) // 600 KB
	if err := os.WriteFile(local, data, 0o644); err != nil {
		t.Fatal(err)
	}
	before := time.Now().Add(-5 * time.Second)
	res, err := fsys.Upload(ctx, local, base+"/staging/job.bin", 2)
	if err != nil {
		t.Fatal(err)
	}
	if res.Size != int64(len(data)) {
		t.Errorf("Size = %d, want %d", res.Size, len(data))
	}
	if got := replicationOf(t, fsys, res.Path); got != 2 {
		t.Errorf("replication = %d, want 2", got)
	}
	if ts := time.UnixMilli(res.Timestamp); ts.Before(before) || ts.After(time.Now().Add(5*time.Second)) {
		t.Errorf("Timestamp %v not around now", ts)
	}
	wantURI := "hdfs://" + fsys.Authority() + res.Path
	if res.URI != wantURI {
		t.Errorf("URI = %q, want %q", res.URI, wantURI)
	}
	// The timestamp must be exactly what the NameNode reports: compare with WebHDFS.
	webTS, webLen := webhdfsStatus(t, c, res.Path)
	if webTS != res.Timestamp || webLen != res.Size {
		t.Errorf("WebHDFS says mtime=%d len=%d, StatResource says %d %d", webTS, webLen, res.Timestamp, res.Size)
	}
	got, err := fs.ReadFile(ctx, fsys, res.Path)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read back %d bytes, %v", len(got), err)
	}
	// The default replication (the server's, 1 here) applies when none is given.
	if err := fs.WriteFileAtomic(ctx, fsys, base+"/default-repl", []byte("d")); err != nil {
		t.Fatal(err)
	}
	if got := replicationOf(t, fsys, base+"/default-repl"); got != 1 {
		t.Errorf("default replication = %d, want the server's 1", got)
	}
	if _, err := fsys.StatResource(ctx, base+"/staging"); err == nil {
		t.Error("StatResource of a directory succeeded")
	}
}

func webhdfsStatus(t *testing.T, c *testbed.Cluster, p string) (mtime, length int64) {
	t.Helper()
	addr := c.Get("dfs.namenode.http-address")
	if addr == "" {
		t.Skip("no dfs.namenode.http-address in the conf dir")
	}
	url := fmt.Sprintf("http://%s/webhdfs/v1%s?op=GETFILESTATUS&user.name=%s", addr, p, testUser)
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("WebHDFS: %v", err)
	}
	defer resp.Body.Close()
	var body struct {
		FileStatus struct {
			ModificationTime int64 `json:"modificationTime"`
			Length           int64 `json:"length"`
		} `json:"FileStatus"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != 200 {
		t.Fatalf("WebHDFS %s: HTTP %d, %v", url, resp.StatusCode, err)
	}
	return body.FileStatus.ModificationTime, body.FileStatus.Length
}

func TestGetByURI(t *testing.T) {
	c, fsys, base := connect(t)
	ctx := context.Background()
	if err := fs.WriteFileAtomic(ctx, fsys, base+"/via-uri", []byte("hello")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = fs.CloseAll() })
	t.Setenv("HADOOP_CONF_DIR", c.ConfDir())
	for _, uri := range []string{
		"hdfs:///" + strings.TrimPrefix(base, "/") + "/via-uri",
		"hdfs://" + c.NameNodeAddress() + base + "/via-uri",
		c.DefaultFS() + base + "/via-uri",
	} {
		g, p, err := fs.Get(ctx, uri)
		if err != nil {
			t.Fatalf("Get(%q): %v", uri, err)
		}
		if _, ok := g.(*hdfs.FileSystem); !ok {
			t.Fatalf("Get(%q) = %T", uri, g)
		}
		got, err := fs.ReadFile(ctx, g, p)
		if err != nil || string(got) != "hello" {
			t.Errorf("%s: %q, %v", uri, got, err)
		}
	}
	// User info in the URI selects the SIMPLE user, and HDFS permissions
	// apply to it: bob may not write into alice's 0755 directory.
	g, p, err := fs.Get(ctx, "hdfs://bob@"+c.NameNodeAddress()+base+"/bobs")
	if err != nil {
		t.Fatal(err)
	}
	if u := g.(*hdfs.FileSystem).User(); u != "bob" {
		t.Errorf("user from the URI = %q, want bob", u)
	}
	if err := fs.WriteFileAtomic(ctx, g, p, []byte("b")); !errors.Is(err, fs.ErrPermission) {
		t.Errorf("bob writing into alice's directory: %v, want ErrPermission", err)
	}
	bobs := fmt.Sprintf("/tmp/bobs-%d", time.Now().UnixNano())
	if err := fs.WriteFileAtomic(ctx, g, bobs, []byte("b")); err != nil {
		t.Fatal(err)
	}
	defer g.Delete(context.Background(), bobs, false)
	info, err := g.(*hdfs.FileSystem).Client().Stat(bobs)
	if err != nil || info.(interface{ Owner() string }).Owner() != "bob" {
		t.Errorf("owner of %s: %v, %v", bobs, info, err)
	}
}

func TestNoConfig(t *testing.T) {
	t.Setenv("HADOOP_CONF_DIR", "")
	t.Setenv("HADOOP_HOME", "")
	_, err := hdfs.NewFromEnv(context.Background())
	if !errors.Is(err, hdfs.ErrNoConfig) || !strings.Contains(err.Error(), "is HADOOP_CONF_DIR set?") {
		t.Fatalf("NewFromEnv without config: %v", err)
	}
	t.Cleanup(func() { _ = fs.CloseAll() })
	if _, _, err := fs.Get(context.Background(), "hdfs:///x"); !errors.Is(err, hdfs.ErrNoConfig) {
		t.Fatalf("Get(hdfs:///x) without config: %v", err)
	}
	if _, err := hdfs.LoadOptions(t.TempDir()); !errors.Is(err, hdfs.ErrNoConfig) {
		t.Fatalf("LoadOptions(empty dir): %v", err)
	}
}

func TestNameNodeDown(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	start := time.Now()
	_, err = hdfs.New(context.Background(), hdfs.Options{Addresses: []string{addr}, User: "bob", DialTimeout: 2 * time.Second})
	if err == nil {
		t.Fatal("connected to a closed port")
	}
	for _, want := range []string{addr, "is it up?", "is HADOOP_CONF_DIR set?"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if time.Since(start) > 30*time.Second {
		t.Errorf("took %v to fail", time.Since(start))
	}
}

func TestCanceledContext(t *testing.T) {
	_, fsys, base := connect(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := fsys.Create(ctx, base+"/never", fs.CreateOptions{}); !errors.Is(err, context.Canceled) {
		t.Errorf("Create: %v", err)
	}
	if ok, _ := fs.Exists(context.Background(), fsys, base+"/never"); ok {
		t.Error("file created despite the canceled context")
	}
}

// TestNameNodeDiesAfterConnect: a "NameNode" that accepts the handshake and
// then drops every connection. Operations must fail with an error naming the
// NameNode, not hang or panic.
func TestNameNodeDiesAfterConnect(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				buf := make([]byte, 4096)
				_ = conn.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
				_, _ = conn.Read(buf) // the preamble and connection context
				conn.Close()
			}()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	fsys, err := hdfs.New(ctx, hdfs.Options{Addresses: []string{l.Addr().String()}, User: "bob", DialTimeout: time.Second})
	if err != nil {
		t.Skipf("handshake already failed (fine, covered by TestNameNodeDown): %v", err)
	}
	defer fsys.Close()
	_, err = fsys.Stat(ctx, "/x")
	if err == nil {
		t.Fatal("Stat against a dead NameNode succeeded")
	}
	if errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), l.Addr().String()) {
		t.Errorf("error %q should name the NameNode and not claim the file is missing", err)
	}
}

package hdfs_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flink-go/flink-go/fs"
	"github.com/flink-go/flink-go/hdfs"
	"github.com/flink-go/flink-go/testing/hadoop/testbed"
	"github.com/flink-go/flink-go/yarn/security"
)

// fetchToken asks the NameNode (WebHDFS, pseudo auth) for a delegation token
// owned by user. The test bed sets dfs.namenode.delegation.token.always-use
// so the NameNode issues them although security is off.
func fetchToken(t *testing.T, c *testbed.Cluster, user string) security.Token {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	tok, err := hdfs.FetchDelegationToken(ctx, hdfs.FetchOptions{
		HTTPAddress: c.Get("dfs.namenode.http-address"),
		User:        user,
		Renewer:     user,
		Service:     hdfs.TokenService(c.NameNodeAddress()),
	})
	if err != nil && strings.Contains(err.Error(), "issued none") {
		t.Skipf("%v: a test bed started before dfs.namenode.delegation.token.always-use; restart it", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	if tok.Kind != security.KindHDFSDelegation || !strings.HasPrefix(tok.Service, "127.0.0.1:") {
		t.Errorf("token kind %q service %q", tok.Kind, tok.Service)
	}
	return tok
}

func TestDelegationTokenLogin(t *testing.T) {
	c := testbed.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	tok := fetchToken(t, c, "tokenowner")
	id, err := hdfs.ParseDelegationTokenIdentifier(tok.Identifier)
	if err != nil {
		t.Fatal(err)
	}
	if id.Owner != "tokenowner" || id.Renewer != "tokenowner" || id.MaxDate.Before(time.Now()) {
		t.Fatalf("identifier = %+v", id)
	}

	opts, err := hdfs.LoadOptions(c.ConfDir())
	if err != nil {
		t.Fatal(err)
	}
	opts.User = "somebody-else" // the token decides who we are
	opts.Token = &tok
	fsys, err := hdfs.New(ctx, opts)
	if err != nil {
		t.Fatalf("token login: %v", err)
	}
	defer fsys.Close()
	if fsys.User() != "tokenowner" {
		t.Errorf("User() = %q, want the token owner", fsys.User())
	}
	p := fmt.Sprintf("/tmp/token-test-%d/f", time.Now().UnixNano())
	if err := fs.WriteFileAtomic(ctx, fsys, p, []byte("via token")); err != nil {
		t.Fatalf("write with a token: %v", err)
	}
	defer fsys.Delete(context.Background(), fs.Dir(p), true)
	got, err := fs.ReadFile(ctx, fsys, p)
	if err != nil || string(got) != "via token" {
		t.Fatalf("read back %q, %v", got, err)
	}
	info, err := fsys.Client().Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if owner := info.(interface{ Owner() string }).Owner(); owner != "tokenowner" {
		t.Errorf("file owner = %q, want tokenowner", owner)
	}

	// A wrong password must be refused by the NameNode.
	bad := tok
	bad.Password = bytes.Repeat([]byte{7}, len(tok.Password))
	opts.Token = &bad
	if f, err := hdfs.New(ctx, opts); err == nil {
		_, err = f.Stat(ctx, "/")
		f.Close()
		if err == nil {
			t.Fatal("a token with a wrong password was accepted")
		}
	} else if !strings.Contains(err.Error(), "token") {
		t.Errorf("wrong-password error does not mention the token: %v", err)
	}
}

func TestUseContainerToken(t *testing.T) {
	c := testbed.Require(t)
	tok := fetchToken(t, c, "containeruser")
	var creds security.Credentials
	creds.AddToken("other", security.Token{Kind: "YARN_AM_RM_TOKEN", Identifier: []byte{1}, Password: []byte{2}})
	creds.AddToken(tok.Service, tok)
	file := filepath.Join(t.TempDir(), "container_tokens")
	if err := creds.WriteFile(file, security.FormatWritable); err != nil {
		t.Fatal(err)
	}
	t.Setenv(security.TokenFileEnvVariable, file)
	opts, err := hdfs.LoadOptions(c.ConfDir())
	if err != nil {
		t.Fatal(err)
	}
	used, err := opts.UseContainerToken()
	if err != nil || !used || opts.Token == nil || !bytes.Equal(opts.Token.Identifier, tok.Identifier) {
		t.Fatalf("UseContainerToken = %v, %v (token %v)", used, err, opts.Token)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	fsys, err := hdfs.New(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer fsys.Close()
	if _, err := fsys.Stat(ctx, "/tmp"); err != nil {
		t.Fatalf("stat with the container token: %v", err)
	}
	if fsys.User() != "containeruser" {
		t.Errorf("User() = %q", fsys.User())
	}
	t.Setenv(security.TokenFileEnvVariable, "")
	os.Unsetenv(security.TokenFileEnvVariable)
	opts.Token = nil
	if used, err := opts.UseContainerToken(); used || err != nil {
		t.Errorf("without a token file: %v, %v", used, err)
	}
}

func TestRenewAndCancelDelegationToken(t *testing.T) {
	c := testbed.Require(t)
	tok := fetchToken(t, c, "renewuser")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	web := hdfs.FetchOptions{HTTPAddress: c.Get("dfs.namenode.http-address"), User: "renewuser"}
	expiry, err := hdfs.RenewDelegationToken(ctx, web, tok)
	if err != nil {
		t.Fatal(err)
	}
	if expiry.Before(time.Now().Add(time.Hour)) {
		t.Errorf("renewed until %v only", expiry)
	}
	// Only the renewer may renew.
	other := web
	other.User = "someoneelse"
	if _, err := hdfs.RenewDelegationToken(ctx, other, tok); err == nil {
		t.Error("a non-renewer renewed the token")
	}
	opts, err := hdfs.LoadOptions(c.ConfDir())
	if err != nil {
		t.Fatal(err)
	}
	opts.Token = &tok
	if f, err := hdfs.New(ctx, opts); err != nil {
		t.Fatalf("login before cancel: %v", err)
	} else {
		f.Close()
	}
	if err := hdfs.CancelDelegationToken(ctx, web, tok); err != nil {
		t.Fatal(err)
	}
	if f, err := hdfs.New(ctx, opts); err == nil {
		_, err = f.Stat(ctx, "/")
		f.Close()
		if err == nil {
			t.Fatal("a cancelled token still logs in")
		}
	}
}

func TestTokenStringRoundTrip(t *testing.T) {
	in := security.Token{Identifier: []byte{0, 5, 'a', 'l', 'i', 'c', 'e'}, Password: []byte{1, 2, 3}, Kind: "HDFS_DELEGATION_TOKEN", Service: "127.0.0.1:8020"}
	s, err := hdfs.EncodeTokenString(in)
	if err != nil {
		t.Fatal(err)
	}
	out, err := hdfs.DecodeTokenString(s)
	if err != nil || !bytes.Equal(out.Identifier, in.Identifier) || !bytes.Equal(out.Password, in.Password) || out.Kind != in.Kind || out.Service != in.Service {
		t.Fatalf("round trip: %+v, %v", out, err)
	}
	if strings.ContainsAny(s, "+/=") {
		t.Errorf("not URL-safe: %s", s)
	}
	for _, bad := range []string{"", "!!!", s + "AAAA"} {
		if _, err := hdfs.DecodeTokenString(bad); err == nil {
			t.Errorf("DecodeTokenString(%q) accepted", bad)
		}
	}
	if _, err := hdfs.EncodeTokenString(security.Token{}); err == nil {
		t.Error("empty token encoded")
	}
}

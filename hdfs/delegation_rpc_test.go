package hdfs_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/flink-go/flink-go/fs"
	"github.com/flink-go/flink-go/hdfs"
	"github.com/flink-go/flink-go/yarn/security"
)

// TestKerberosGetDelegationTokenRPC fetches a token with ClientNamenodeProtocol.getDelegationToken
// over a Kerberos (GSSAPI, privacy) IPC connection, then logs in with the token alone and writes.
func TestKerberosGetDelegationTokenRPC(t *testing.T) {
	c, _, opts := kerberosFS(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	renewer := "rm/localhost@" + c.Kerberos().Realm
	tok, err := hdfs.GetDelegationToken(ctx, opts, nil, renewer)
	if err != nil {
		t.Fatal(err)
	}
	if tok.Kind != security.KindHDFSDelegation {
		t.Errorf("kind %q", tok.Kind)
	}
	if want := hdfs.TokenService(opts.Addresses[0]); tok.Service != want {
		t.Errorf("service %q, want %q", tok.Service, want)
	}
	id, err := hdfs.ParseDelegationTokenIdentifier(tok.Identifier)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(id.Owner, "alice") || id.Renewer != "rm" {
		t.Errorf("identifier owner %q renewer %q, want alice / rm (short name of %s)", id.Owner, id.Renewer, renewer)
	}
	tokOpts := opts
	tokOpts.Kerberos = nil
	tokOpts.Token = &tok
	fsys, err := hdfs.New(ctx, tokOpts)
	if err != nil {
		t.Fatalf("token login: %v", err)
	}
	defer fsys.Close()
	p := fmt.Sprintf("/tmp/dt-rpc-%d", time.Now().UnixNano())
	if err := fs.WriteFileAtomic(ctx, fsys, p, []byte("token")); err != nil {
		t.Fatal(err)
	}
	defer fsys.Delete(context.Background(), p, false)
	got, err := fs.ReadFile(ctx, fsys, p)
	if err != nil || string(got) != "token" {
		t.Fatalf("read back %q, %v", got, err)
	}
}

func TestGetDelegationTokenNeedsKerberos(t *testing.T) {
	_, err := hdfs.GetDelegationToken(context.Background(), hdfs.Options{Addresses: []string{"127.0.0.1:1"}}, nil, "rm")
	if err == nil || !strings.Contains(err.Error(), "Kerberos") {
		t.Fatalf("want a Kerberos error, got %v", err)
	}
	if s := hdfs.DelegationTokenService(hdfs.Options{Addresses: []string{"a:1", "b:1"}, Authority: "ns1"}); s != "ha-hdfs:ns1" {
		t.Errorf("HA service %q", s)
	}
}

package hdfs

import (
	"context"
	"errors"
	"fmt"
	"time"

	krbclient "github.com/jcmturner/gokrb5/v8/client"
	"github.com/rs/zerolog"

	"github.com/flink-go/flink-go/yarn/ipc"
	"github.com/flink-go/flink-go/yarn/security"
)

// ProtocolClientNamenode is the IPC protocol name of ClientNamenodeProtocol
// (HdfsConstants.CLIENT_NAMENODE_PROTOCOL_NAME), version 1.
const ProtocolClientNamenode = "org.apache.hadoop.hdfs.protocol.ClientProtocol"

// GetDelegationToken asks the NameNode for an HDFS delegation token over RPC
// (ClientNamenodeProtocol.getDelegationToken, the call Hadoop's
// DistributedFileSystem.getDelegationToken makes), authenticated with Kerberos
// as opts.Kerberos says (or with the given logged-in client kc, which is then
// reused). renewer is the principal allowed to renew it: for YARN
// applications the ResourceManager's (yarn.resourcemanager.principal with
// _HOST resolved), so the RM keeps the token alive while the application runs.
//
// Unlike FetchDelegationToken (WebHDFS) it needs only the RPC address, which
// every client has. The token is recorded with the service Java clients use:
// "ha-hdfs:<nameservice>" for an HA nameservice, else the NameNode's
// "ip:port" (TokenService).
func GetDelegationToken(ctx context.Context, opts Options, kc *krbclient.Client, renewer string) (security.Token, error) {
	if opts.Kerberos == nil {
		return security.Token{}, errors.New("hdfs: get delegation token: the NameNode issues delegation tokens to Kerberos-authenticated clients only (hadoop.security.authentication=kerberos)")
	}
	if len(opts.Addresses) == 0 {
		return security.Token{}, fmt.Errorf("hdfs: get delegation token: %w", ErrNoConfig)
	}
	if opts.Kerberos.ServicePrincipal == "" {
		return security.Token{}, errors.New("hdfs: get delegation token: the NameNode service principal is unknown: set dfs.namenode.kerberos.principal in hdfs-site.xml")
	}
	if kc == nil {
		var err error
		if kc, err = kerberosClient(opts.Kerberos); err != nil {
			return security.Token{}, err
		}
		defer kc.Destroy()
	}
	timeout := opts.DialTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	log := zerolog.Ctx(ctx)
	c, err := ipc.NewClient(ipc.Config{
		Addresses:       opts.Addresses,
		Protocol:        ProtocolClientNamenode,
		Auth:            ipc.AuthKerberos,
		Kerberos:        &ipc.KerberosConfig{Client: kc},
		ServerPrincipal: opts.Kerberos.ServicePrincipal,
		ConnectTimeout:  timeout + 10*time.Second,
		ConnectRounds:   2,
		AddressHint:     "check fs.defaultFS / dfs.namenode.rpc-address and that the NameNode is up",
		Logger:          log,
	})
	if err != nil {
		return security.Token{}, fmt.Errorf("hdfs: get delegation token: %w", err)
	}
	defer c.Close()
	tok, err := security.GetDelegationToken(ctx, c, renewer)
	if err != nil {
		return security.Token{}, fmt.Errorf("hdfs: get delegation token from the NameNode at %v: %w", opts.Addresses, err)
	}
	tok.Kind = security.KindHDFSDelegation
	tok.Service = DelegationTokenService(opts)
	return tok, nil
}

// DelegationTokenService is the service under which a Java client records the
// HDFS delegation token of the file system opts describe: "ha-hdfs:<ns>" when
// the authority is an HA nameservice (several addresses), else the NameNode's
// "ip:port".
func DelegationTokenService(opts Options) string {
	if len(opts.Addresses) > 1 && opts.Authority != "" {
		return "ha-hdfs:" + opts.Authority
	}
	if len(opts.Addresses) == 0 {
		return opts.Authority
	}
	return TokenService(opts.Addresses[0])
}

package security

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/protobuf/proto"

	hadoopproto "github.com/flink-go/flink-go/yarn/internal/proto/hadoop"
)

// Caller is the part of a Hadoop IPC client (yarn/ipc.Client) that GetDelegationToken needs: one
// protobuf call on a connection bound to a protocol.
type Caller interface {
	Call(ctx context.Context, method string, req, resp proto.Message) error
}

// GetDelegationToken issues Hadoop's common getDelegationToken call (Security.proto:
// GetDelegationTokenRequestProto{renewer = 1} → GetDelegationTokenResponseProto{token = 1}). Both
// the NameNode (ClientNamenodeProtocol, protocol org.apache.hadoop.hdfs.protocol.ClientProtocol)
// and the ResourceManager (ApplicationClientProtocol) declare their getDelegationToken with these
// messages. The server issues tokens only over a Kerberos-authenticated connection. renewer is the
// principal allowed to renew the token (for YARN applications the RM's, e.g. rm/host@REALM; the
// server stores its short name).
func GetDelegationToken(ctx context.Context, c Caller, renewer string) (Token, error) {
	if c == nil {
		return Token{}, errors.New("security: getDelegationToken: no connection")
	}
	req := &hadoopproto.GetDelegationTokenRequestProto{Renewer: proto.String(renewer)}
	resp := &hadoopproto.GetDelegationTokenResponseProto{}
	if err := c.Call(ctx, "getDelegationToken", req, resp); err != nil {
		return Token{}, fmt.Errorf("security: getDelegationToken (renewer %q): %w", renewer, err)
	}
	if resp.GetToken() == nil {
		return Token{}, errors.New("security: getDelegationToken returned no token (is security enabled on the server? it issues tokens to Kerberos-authenticated callers only)")
	}
	return TokenFromProto(resp.GetToken())
}

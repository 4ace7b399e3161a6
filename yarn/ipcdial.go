package yarn

import (
	"context"

	"github.com/flink-go/flink-go/yarn/ipc"
	"google.golang.org/protobuf/proto"
)

// DialIPC opens a Hadoop IPC connection with the yarn/ipc package; it is the default Dialer.
// Token selects SASL TOKEN (DIGEST-MD5) auth, Kerberos selects GSSAPI with the credential cache
// ($KRB5CCNAME) unless spec.KerberosConfig is set, otherwise SIMPLE auth as spec.User.
func DialIPC(ctx context.Context, spec DialSpec) (Conn, error) {
	cfg := ipc.Config{
		Addresses: spec.Addresses,
		Protocol:  spec.Protocol,
		User:      spec.User,
	}
	switch {
	case spec.Token != nil:
		cfg.Auth = ipc.AuthToken
		tok := *spec.Token
		cfg.Token = &tok
	case spec.Kerberos:
		cfg.Auth = ipc.AuthKerberos
		cfg.ServerPrincipal = spec.ServerPrincipal
		cfg.Kerberos = spec.KerberosConfig
		if cfg.Kerberos == nil {
			cfg.Kerberos = &ipc.KerberosConfig{}
		}
	default:
		cfg.Auth = ipc.AuthSimple
	}
	c, err := ipc.Dial(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return ipcConn{c}, nil
}

type ipcConn struct{ c *ipc.Client }

func (i ipcConn) Call(ctx context.Context, method string, req, resp proto.Message) error {
	return i.c.Call(ctx, method, req, resp)
}
func (i ipcConn) Close() error { return i.c.Close() }

package yarn

import (
	"context"
	"errors"
	"fmt"

	"github.com/flink-go/flink-go/yarn/ipc"
	"github.com/rs/zerolog"
	"google.golang.org/protobuf/proto"
)

// Protocol names sent in the IPC connection context (the Java @ProtocolInfo protocolName of each
// *PB interface, all version 1).
const (
	ProtocolClientRM = "org.apache.hadoop.yarn.api.ApplicationClientProtocolPB"
	ProtocolAMRM     = "org.apache.hadoop.yarn.api.ApplicationMasterProtocolPB"
	ProtocolNM       = "org.apache.hadoop.yarn.api.ContainerManagementProtocolPB"
)

// Conn is one Hadoop IPC connection speaking one protocol: Call sends one request and decodes the
// response, returning the server's Java exception as an error.
type Conn interface {
	Call(ctx context.Context, method string, req, resp proto.Message) error
	Close() error
}

// DialSpec says where and how to connect.
type DialSpec struct {
	// Addresses are host:port candidates, tried in order (RM HA failover).
	Addresses []string
	// Protocol is one of the Protocol* constants.
	Protocol string
	// User is the SIMPLE-auth user (ignored with Token).
	User string
	// Token, when set, authenticates with SASL DIGEST-MD5 (TOKEN auth): the AMRMToken for the
	// scheduler, the NMToken for a NodeManager.
	Token *Token
	// Kerberos selects SASL GSSAPI with ServerPrincipal (yarn.resourcemanager.principal).
	Kerberos        bool
	ServerPrincipal string
	// KerberosConfig overrides how Kerberos credentials are found (default: the credential cache
	// named by $KRB5CCNAME, /etc/krb5.conf).
	KerberosConfig *ipc.KerberosConfig
}

// Dialer opens a Conn. The default uses the yarn/ipc package; tests inject fakes.
type Dialer func(ctx context.Context, spec DialSpec) (Conn, error)

type options struct {
	dialer Dialer
	log    zerolog.Logger
}

// Option configures the clients.
type Option func(*options)

// WithDialer replaces the IPC dialer (for tests and custom transports).
func WithDialer(d Dialer) Option { return func(o *options) { o.dialer = d } }

// WithLogger sets the logger (default: disabled).
func WithLogger(l zerolog.Logger) Option { return func(o *options) { o.log = l } }

func buildOptions(opts []Option) options {
	o := options{dialer: DialIPC, log: zerolog.Nop()}
	for _, f := range opts {
		f(&o)
	}
	return o
}

// serverHints name the configuration to check when a server does not answer properly.
var serverHints = map[string]string{
	ProtocolClientRM: "is it the ResourceManager's client port (" + KeyRMAddress + ") and is the RM up?",
	ProtocolAMRM:     "is it the ResourceManager's scheduler port (" + KeySchedulerAddress + ") and is the RM up?",
	ProtocolNM:       "is the NodeManager up?",
}

// call runs one RPC and wraps a failure with the method and address, plus a hint when the server
// never answered or dropped the connection (a wrong port, a non-Hadoop server, a hung server).
func call(ctx context.Context, c Conn, protocol string, addrs []string, method string, req, resp proto.Message) error {
	err := c.Call(ctx, method, req, resp)
	if err == nil {
		return nil
	}
	err = classify(err)
	if ExceptionClassOf(err) == "" {
		switch {
		case errors.Is(err, context.DeadlineExceeded):
			return fmt.Errorf("yarn: %s at %v: no answer before the deadline (%s): %w", method, addrs, serverHints[protocol], err)
		case errors.Is(err, ipc.ErrConnectionLost):
			return fmt.Errorf("yarn: %s at %v: the server dropped the connection (%s): %w", method, addrs, serverHints[protocol], err)
		}
	}
	return fmt.Errorf("yarn: %s at %v: %w", method, addrs, err)
}

package ipc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/rs/zerolog"

	"github.com/flink-go/flink-go/yarn/security"
)

// PB protocol names of the YARN protocols (declaringClassProtocolName and connection-context
// protocol); all have version 1.
const (
	ProtocolApplicationClient   = "org.apache.hadoop.yarn.api.ApplicationClientProtocolPB"
	ProtocolApplicationMaster   = "org.apache.hadoop.yarn.api.ApplicationMasterProtocolPB"
	ProtocolContainerManagement = "org.apache.hadoop.yarn.api.ContainerManagementProtocolPB"
)

// AuthMethod selects how a connection authenticates.
type AuthMethod int

const (
	// AuthSimple sends the user name unauthenticated (hadoop.security.authentication=simple).
	AuthSimple AuthMethod = iota
	// AuthToken authenticates with a Hadoop token over SASL DIGEST-MD5 (AMRMToken, NMToken,
	// delegation tokens). Required on the RM scheduler and NodeManager ports even on unsecured
	// clusters.
	AuthToken
	// AuthKerberos authenticates with Kerberos over SASL GSSAPI.
	AuthKerberos
)

// String returns the Hadoop name of the method (SIMPLE, TOKEN, KERBEROS).
func (a AuthMethod) String() string {
	switch a {
	case AuthSimple:
		return "SIMPLE"
	case AuthToken:
		return "TOKEN"
	case AuthKerberos:
		return "KERBEROS"
	}
	return fmt.Sprintf("AuthMethod(%d)", int(a))
}

// Protection is hadoop.rpc.protection: the SASL quality of protection the client accepts.
type Protection string

const (
	// ProtectionAuthentication: authentication only (QOP auth); Hadoop's default.
	ProtectionAuthentication Protection = "authentication"
	// ProtectionIntegrity: authentication plus integrity checks (QOP auth-int).
	ProtectionIntegrity Protection = "integrity"
	// ProtectionPrivacy: authentication, integrity and encryption (QOP auth-conf).
	ProtectionPrivacy Protection = "privacy"
)

// Config configures a Client. One Client serves one protocol and identity on one server (or an HA
// set of servers).
type Config struct {
	// Addresses are host:port of the server; several addresses are ResourceManager HA peers,
	// tried in order on connection failure or StandbyException.
	Addresses []string
	// Protocol is the PB protocol name, e.g. ProtocolApplicationClient.
	Protocol string
	// ProtocolVersion is clientProtocolVersion; 0 means 1 (all YARN protocols).
	ProtocolVersion uint64

	// Auth selects the authentication method.
	Auth AuthMethod
	// User is the effective user for AuthSimple (defaults to $HADOOP_USER_NAME, then $USER), or
	// the proxied user for AuthKerberos. Ignored for AuthToken: the token names the user.
	User string
	// RealUser is the real user when User is a proxy user under AuthSimple.
	RealUser string
	// Token is the token for AuthToken. It can be replaced later with Client.SetToken (AMRMToken
	// roll-over).
	Token *security.Token
	// Kerberos configures AuthKerberos.
	Kerberos *KerberosConfig
	// ServerPrincipal is the server's Kerberos principal, e.g. "rm/_HOST@EXAMPLE.COM"
	// (yarn.resourcemanager.principal). _HOST is replaced by the lower-cased host being dialled.
	ServerPrincipal string
	// Protection lists the accepted qualities of protection, strongest preferred first; empty
	// accepts all three and picks the strongest the server offers.
	Protection []Protection

	// ConnectTimeout bounds dialling plus the SASL handshake per address (default 20s).
	ConnectTimeout time.Duration
	// CallTimeout bounds calls whose context has no deadline (ipc.client.rpc-timeout.ms); 0 means
	// no bound.
	CallTimeout time.Duration
	// WriteTimeout bounds writing one request to the socket (default 60s).
	WriteTimeout time.Duration
	// PingInterval is how long a connection may stay silent before a ping (call id -4) keeps it
	// open (default 10s; the server drops idle connections after 2×ipc.client.connection.maxidletime
	// = 20s). Negative disables pings.
	PingInterval time.Duration
	// MaxResponseSize caps one response frame (default 128 MiB, ipc.maximum.response.length).
	MaxResponseSize int
	// ConnectRounds is how many times the whole address list is tried before giving up (default 3).
	ConnectRounds int
	// RetryBackoff is the pause between rounds, doubled each round up to MaxRetryBackoff
	// (defaults 500ms and 5s).
	RetryBackoff, MaxRetryBackoff time.Duration
	// MaxFailovers bounds StandbyException failovers per call (default 2×len(Addresses)).
	MaxFailovers int
	// AddressHint overrides the configuration hint in connection errors.
	AddressHint string

	// Dialer opens connections; nil uses net.Dialer.
	Dialer func(ctx context.Context, network, addr string) (net.Conn, error)
	// Logger receives connection events; nil discards them.
	Logger *zerolog.Logger
}

// normalize validates cfg and fills in defaults.
func (cfg Config) normalize() (Config, error) {
	if len(cfg.Addresses) == 0 {
		return cfg, errors.New("ipc: no server address configured")
	}
	for _, a := range cfg.Addresses {
		if _, _, err := net.SplitHostPort(a); err != nil {
			return cfg, fmt.Errorf("ipc: bad server address %q (want host:port): %w", a, err)
		}
	}
	if cfg.Protocol == "" {
		return cfg, errors.New("ipc: no protocol configured (e.g. " + ProtocolApplicationClient + ")")
	}
	if cfg.ProtocolVersion == 0 {
		cfg.ProtocolVersion = 1
	}
	switch cfg.Auth {
	case AuthSimple:
		if cfg.User == "" {
			cfg.User = os.Getenv("HADOOP_USER_NAME")
		}
		if cfg.User == "" {
			cfg.User = os.Getenv("USER")
		}
		if cfg.User == "" {
			return cfg, errors.New("ipc: SIMPLE auth needs a user name (set Config.User, HADOOP_USER_NAME or USER)")
		}
	case AuthToken:
		if cfg.Token == nil {
			return cfg, errors.New("ipc: TOKEN auth needs Config.Token (e.g. the YARN_AM_RM_TOKEN from HADOOP_TOKEN_FILE_LOCATION)")
		}
	case AuthKerberos:
		if cfg.Kerberos == nil {
			return cfg, errors.New("ipc: KERBEROS auth needs Config.Kerberos (keytab or credential cache)")
		}
		if cfg.ServerPrincipal == "" {
			return cfg, errors.New("ipc: KERBEROS auth needs Config.ServerPrincipal (e.g. yarn.resourcemanager.principal rm/_HOST@REALM)")
		}
	default:
		return cfg, fmt.Errorf("ipc: unknown auth method %d", cfg.Auth)
	}
	for _, p := range cfg.Protection {
		if p != ProtectionAuthentication && p != ProtectionIntegrity && p != ProtectionPrivacy {
			return cfg, fmt.Errorf("ipc: unknown protection %q (want authentication, integrity or privacy)", p)
		}
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = 20 * time.Second
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = 60 * time.Second
	}
	if cfg.PingInterval == 0 {
		cfg.PingInterval = 10 * time.Second
	}
	if cfg.MaxResponseSize <= 0 {
		cfg.MaxResponseSize = 128 << 20
	}
	if cfg.ConnectRounds <= 0 {
		cfg.ConnectRounds = 3
	}
	if cfg.RetryBackoff <= 0 {
		cfg.RetryBackoff = 500 * time.Millisecond
	}
	if cfg.MaxRetryBackoff <= 0 {
		cfg.MaxRetryBackoff = 5 * time.Second
	}
	if cfg.MaxFailovers <= 0 {
		cfg.MaxFailovers = 2 * len(cfg.Addresses)
	}
	if cfg.AddressHint == "" {
		cfg.AddressHint = addressHint(cfg.Protocol)
	}
	if cfg.Logger == nil {
		nop := zerolog.Nop()
		cfg.Logger = &nop
	}
	cfg.Addresses = append([]string(nil), cfg.Addresses...)
	return cfg, nil
}

// qops maps Protection to DIGEST-MD5 QOP values, strongest first by default.
func (cfg *Config) qops() []string {
	prot := cfg.Protection
	if len(prot) == 0 {
		prot = []Protection{ProtectionPrivacy, ProtectionIntegrity, ProtectionAuthentication}
	}
	var out []string
	for _, p := range prot {
		switch p {
		case ProtectionAuthentication:
			out = append(out, "auth")
		case ProtectionIntegrity:
			out = append(out, "auth-int")
		case ProtectionPrivacy:
			out = append(out, "auth-conf")
		}
	}
	return out
}

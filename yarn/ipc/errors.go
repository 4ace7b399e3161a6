package ipc

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"

	hadoopproto "github.com/flink-go/flink-go/yarn/internal/proto/hadoop"
)

// Sentinel errors. A *RemoteError unwraps to the sentinel that matches its Java exception class
// (and, for permission and not-found errors, to os.ErrPermission / os.ErrNotExist as well), so
// callers write errors.Is(err, ipc.ErrStandby).
var (
	// ErrPermission: org.apache.hadoop.security.AccessControlException, AuthorizationException,
	// or a FATAL_UNAUTHORIZED connection failure.
	ErrPermission = errors.New("permission denied by the Hadoop server")
	// ErrInvalidToken: SecretManager$InvalidToken (expired, cancelled or foreign token).
	ErrInvalidToken = errors.New("invalid Hadoop token")
	// ErrStandby: the server is a standby ResourceManager/NameNode; fail over.
	ErrStandby = errors.New("server is in standby state")
	// ErrRetriable: RetriableException or ServerTooBusyException; the call may be retried later.
	ErrRetriable = errors.New("server asked to retry later")
	// ErrNoSuchProtocol: the server does not implement the requested protocol.
	ErrNoSuchProtocol = errors.New("server does not know the protocol")
	// ErrNoSuchMethod: the protocol has no such method.
	ErrNoSuchMethod = errors.New("server does not know the method")
	// ErrVersionMismatch: RPC or IPC version mismatch between client and server.
	ErrVersionMismatch = errors.New("RPC version mismatch")
	// ErrServer: a server-side RPC error that is not about the call itself (RpcServerException,
	// serialization problems, unknown fatal errors).
	ErrServer = errors.New("Hadoop RPC server error")

	// YARN exceptions (org.apache.hadoop.yarn.exceptions.*).
	ErrYarn                            = errors.New("YARN exception")
	ErrApplicationNotFound             = errors.New("application not found")
	ErrApplicationAttemptNotFound      = errors.New("application attempt not found")
	ErrContainerNotFound               = errors.New("container not found")
	ErrApplicationMasterNotRegistered  = errors.New("application master not registered")
	ErrInvalidApplicationMasterRequest = errors.New("invalid application master request")
	ErrInvalidResourceRequest          = errors.New("invalid resource request")
	ErrInvalidContainerRelease         = errors.New("invalid container release")
	ErrInvalidResourceBlacklistRequest = errors.New("invalid resource blacklist request")
	ErrNMNotYetReady                   = errors.New("NodeManager not yet ready")
	ErrApplicationIDNotProvided        = errors.New("application id not provided")

	// ErrClosed is returned by calls on a closed Client.
	ErrClosed = errors.New("Hadoop IPC client is closed")
	// ErrConnectionLost reports a connection that broke while a call was in flight; the server may
	// or may not have executed the call.
	ErrConnectionLost = errors.New("Hadoop IPC connection lost")
)

// exceptionClasses maps Java exception class names to sentinels.
var exceptionClasses = map[string]error{
	"org.apache.hadoop.security.AccessControlException":                          ErrPermission,
	"org.apache.hadoop.security.authorize.AuthorizationException":                ErrPermission,
	"javax.security.sasl.SaslException":                                          ErrPermission,
	"org.apache.hadoop.security.token.SecretManager$InvalidToken":                ErrInvalidToken,
	"org.apache.hadoop.ipc.StandbyException":                                     ErrStandby,
	"org.apache.hadoop.ipc.RetriableException":                                   ErrRetriable,
	"org.apache.hadoop.ipc.ServerTooBusyException":                               ErrRetriable,
	"org.apache.hadoop.ipc.RpcNoSuchProtocolException":                           ErrNoSuchProtocol,
	"org.apache.hadoop.ipc.RpcNoSuchMethodException":                             ErrNoSuchMethod,
	"org.apache.hadoop.ipc.RPC$VersionMismatch":                                  ErrVersionMismatch,
	"org.apache.hadoop.ipc.RpcServerException":                                   ErrServer,
	"org.apache.hadoop.ipc.IpcException":                                         ErrServer,
	"org.apache.hadoop.ipc.UnsupportedRpcKindException":                          ErrServer,
	"org.apache.hadoop.yarn.exceptions.YarnException":                            ErrYarn,
	"org.apache.hadoop.yarn.exceptions.YarnRuntimeException":                     ErrYarn,
	"org.apache.hadoop.yarn.exceptions.ApplicationNotFoundException":             ErrApplicationNotFound,
	"org.apache.hadoop.yarn.exceptions.ApplicationAttemptNotFoundException":      ErrApplicationAttemptNotFound,
	"org.apache.hadoop.yarn.exceptions.ContainerNotFoundException":               ErrContainerNotFound,
	"org.apache.hadoop.yarn.exceptions.ApplicationMasterNotRegisteredException":  ErrApplicationMasterNotRegistered,
	"org.apache.hadoop.yarn.exceptions.InvalidApplicationMasterRequestException": ErrInvalidApplicationMasterRequest,
	"org.apache.hadoop.yarn.exceptions.InvalidResourceRequestException":          ErrInvalidResourceRequest,
	"org.apache.hadoop.yarn.exceptions.InvalidContainerReleaseException":         ErrInvalidContainerRelease,
	"org.apache.hadoop.yarn.exceptions.InvalidResourceBlacklistRequestException": ErrInvalidResourceBlacklistRequest,
	"org.apache.hadoop.yarn.exceptions.NMNotYetReadyException":                   ErrNMNotYetReady,
	"org.apache.hadoop.yarn.exceptions.ApplicationIdNotProvidedException":        ErrApplicationIDNotProvided,
}

// codeErrors maps RpcErrorCodeProto values to sentinels, used when the class is unknown.
var codeErrors = map[hadoopproto.RpcResponseHeaderProto_RpcErrorCodeProto]error{
	hadoopproto.RpcResponseHeaderProto_ERROR_NO_SUCH_METHOD:            ErrNoSuchMethod,
	hadoopproto.RpcResponseHeaderProto_ERROR_NO_SUCH_PROTOCOL:          ErrNoSuchProtocol,
	hadoopproto.RpcResponseHeaderProto_ERROR_RPC_SERVER:                ErrServer,
	hadoopproto.RpcResponseHeaderProto_ERROR_SERIALIZING_RESPONSE:      ErrServer,
	hadoopproto.RpcResponseHeaderProto_ERROR_RPC_VERSION_MISMATCH:      ErrVersionMismatch,
	hadoopproto.RpcResponseHeaderProto_FATAL_UNKNOWN:                   ErrServer,
	hadoopproto.RpcResponseHeaderProto_FATAL_UNSUPPORTED_SERIALIZATION: ErrServer,
	hadoopproto.RpcResponseHeaderProto_FATAL_INVALID_RPC_HEADER:        ErrServer,
	hadoopproto.RpcResponseHeaderProto_FATAL_DESERIALIZING_REQUEST:     ErrServer,
	hadoopproto.RpcResponseHeaderProto_FATAL_VERSION_MISMATCH:          ErrVersionMismatch,
	hadoopproto.RpcResponseHeaderProto_FATAL_UNAUTHORIZED:              ErrPermission,
}

// RemoteError is an error reported by the Hadoop server in an RPC response header.
type RemoteError struct {
	// Class is the Java exception class name, e.g. "org.apache.hadoop.ipc.StandbyException".
	Class string
	// Message is the server's error message (often the exception's toString or a stack trace).
	Message string
	// Code is the RpcErrorCodeProto name, e.g. "ERROR_APPLICATION" or "FATAL_UNAUTHORIZED".
	Code string
	// Fatal is true when the server closed the connection (status FATAL).
	Fatal bool
	// Method and Protocol name the call; both are empty for connection-level failures.
	Method, Protocol string
	// Addr is the server address.
	Addr string

	code hadoopproto.RpcResponseHeaderProto_RpcErrorCodeProto
}

func newRemoteError(hdr *hadoopproto.RpcResponseHeaderProto, method, protocol, addr string) *RemoteError {
	e := &RemoteError{
		Class:    hdr.GetExceptionClassName(),
		Message:  hdr.GetErrorMsg(),
		Fatal:    hdr.GetStatus() == hadoopproto.RpcResponseHeaderProto_FATAL,
		Method:   method,
		Protocol: protocol,
		Addr:     addr,
	}
	if hdr.ErrorDetail != nil {
		e.code = hdr.GetErrorDetail()
		e.Code = e.code.String()
	}
	return e
}

// Error formats the error with the method, server, Java class and the first line of the message.
func (e *RemoteError) Error() string {
	var b strings.Builder
	b.WriteString("hadoop rpc")
	if e.Method != "" {
		fmt.Fprintf(&b, " %s", e.Method)
	}
	if e.Addr != "" {
		fmt.Fprintf(&b, " to %s", e.Addr)
	}
	b.WriteString(" failed: ")
	if e.Class != "" {
		b.WriteString(shortClass(e.Class))
	} else if e.Code != "" {
		b.WriteString(e.Code)
	} else {
		b.WriteString("remote error")
	}
	if msg := firstLine(e.Message); msg != "" {
		b.WriteString(": ")
		b.WriteString(msg)
	}
	if hint := e.hint(); hint != "" {
		fmt.Fprintf(&b, " (%s)", hint)
	}
	return b.String()
}

func (e *RemoteError) hint() string {
	switch {
	case e.code == hadoopproto.RpcResponseHeaderProto_FATAL_UNAUTHORIZED && strings.Contains(e.Message, "SIMPLE authentication is not enabled"):
		return "this port needs token or Kerberos authentication; the YARN scheduler and NodeManager ports always require a token"
	case e.Class == "org.apache.hadoop.security.token.SecretManager$InvalidToken":
		return "the token is expired, cancelled, for another server, or from a finished application attempt"
	case e.code == hadoopproto.RpcResponseHeaderProto_FATAL_UNAUTHORIZED:
		return "check the token or Kerberos credentials and that they belong to this server"
	case errors.Is(e, ErrNoSuchProtocol):
		return "is this the right port for " + e.Protocol + "?"
	case e.code == hadoopproto.RpcResponseHeaderProto_FATAL_VERSION_MISMATCH:
		return "the server does not speak Hadoop IPC version 9 (Hadoop 2+)"
	}
	return ""
}

// Unwrap returns the sentinels matching the exception class and error code.
func (e *RemoteError) Unwrap() []error {
	var out []error
	if s, ok := exceptionClasses[e.Class]; ok {
		out = append(out, s)
	} else if strings.HasPrefix(e.Class, "org.apache.hadoop.yarn.exceptions.") {
		out = append(out, ErrYarn)
	}
	if s, ok := codeErrors[e.code]; ok && (len(out) == 0 || s == ErrPermission) {
		out = append(out, s)
	}
	for _, s := range out {
		switch s {
		case ErrPermission:
			out = append(out, os.ErrPermission)
		case ErrApplicationNotFound, ErrApplicationAttemptNotFound, ErrContainerNotFound:
			out = append(out, os.ErrNotExist)
		}
	}
	if e.Class == "java.io.FileNotFoundException" {
		out = append(out, os.ErrNotExist)
	}
	return out
}

func shortClass(c string) string {
	if i := strings.LastIndexByte(c, '.'); i >= 0 {
		return c[i+1:]
	}
	return c
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return strings.TrimSpace(s[:i])
	}
	return s
}

// ConnectError reports that no server address could be reached or authenticated to.
type ConnectError struct {
	// Protocol is the PB protocol the client was for.
	Protocol string
	// Attempts holds the last error per address.
	Attempts map[string]error
	// Hint names the configuration to check.
	Hint string
	last error
}

// Error lists every address tried with its error, then the configuration hint.
func (e *ConnectError) Error() string {
	var parts []string
	for _, addr := range slices.Sorted(maps.Keys(e.Attempts)) {
		parts = append(parts, fmt.Sprintf("%s: %v", addr, e.Attempts[addr]))
	}
	msg := fmt.Sprintf("cannot connect to %s: %s", shortClass(e.Protocol), strings.Join(parts, "; "))
	if e.Hint != "" {
		msg += " (" + e.Hint + ")"
	}
	return msg
}

// Unwrap returns the last underlying error.
func (e *ConnectError) Unwrap() error { return e.last }

// addressHint returns the configuration to check when a protocol's server cannot be reached.
func addressHint(protocol string) string {
	switch protocol {
	case ProtocolApplicationClient:
		return "is yarn.resourcemanager.address right? is the ResourceManager up?"
	case ProtocolApplicationMaster:
		return "is yarn.resourcemanager.scheduler.address right? is the ResourceManager up?"
	case ProtocolContainerManagement:
		return "is the NodeManager address from the container's node id reachable? is the NodeManager up?"
	}
	return "is the server address right? is the server up?"
}

// errNotSent marks a failure that happened before any byte of the request reached the socket, so
// the call can safely be retried on another connection.
type errNotSent struct{ err error }

func (e *errNotSent) Error() string { return e.err.Error() }
func (e *errNotSent) Unwrap() error { return e.err }

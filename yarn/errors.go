package yarn

import (
	"errors"
	"strings"

	"github.com/flink-go/flink-go/yarn/ipc"
)

// Sentinel errors for the YARN exceptions callers act on. Errors returned by the clients match them
// with errors.Is while keeping the underlying IPC error (and its Java class) in the chain.
var (
	// ErrApplicationNotFound: the RM does not know the application id (wrong cluster, or the
	// application aged out of the RM's memory).
	ErrApplicationNotFound = errors.New("yarn: application not found")
	// ErrNotRegistered: the AM attempt is not (or no longer) registered with the RM, e.g. after an
	// RM restart; the AM must register again and re-send its outstanding asks.
	ErrNotRegistered = errors.New("yarn: application master not registered")
	// ErrInvalidAMRequest: the RM rejected an AM request (already registered, stale response id).
	ErrInvalidAMRequest = errors.New("yarn: invalid application master request")
	// ErrInvalidResourceRequest: an ask exceeds the scheduler's maximum allocation or is malformed.
	ErrInvalidResourceRequest = errors.New("yarn: invalid resource request")
	// ErrAccessDenied: authentication or authorization failed (token, Kerberos, queue ACLs).
	ErrAccessDenied = errors.New("yarn: access denied")
	// ErrAMShutdown: the RM told the AM to shut down (AM_SHUTDOWN), e.g. the application was
	// killed or the attempt is no longer current.
	ErrAMShutdown = errors.New("yarn: resource manager ordered the application master to shut down")
	// ErrReregistered: the AMRM client re-registered after the RM lost the attempt (RM restart,
	// AM_RESYNC); the caller must re-send all outstanding asks and releases as totals.
	ErrReregistered = errors.New("yarn: application master re-registered; outstanding asks must be re-sent")
)

// exceptionSentinels maps Java exception class names (simple names) to sentinels.
var exceptionSentinels = map[string]error{
	"ApplicationNotFoundException":             ErrApplicationNotFound,
	"ApplicationAttemptNotFoundException":      ErrApplicationNotFound,
	"ApplicationMasterNotRegisteredException":  ErrNotRegistered,
	"InvalidApplicationMasterRequestException": ErrInvalidAMRequest,
	"InvalidResourceRequestException":          ErrInvalidResourceRequest,
	"InvalidContainerReleaseException":         ErrInvalidAMRequest,
	"AccessControlException":                   ErrAccessDenied,
	"InvalidToken":                             ErrAccessDenied,
	"AuthorizationException":                   ErrAccessDenied,
}

// javaClassError is implemented by errors that carry a Java exception class (test fakes).
type javaClassError interface {
	error
	JavaClass() string
}

// javaClass returns the server's Java exception class carried by err, if any.
func javaClass(err error) string {
	var re *ipc.RemoteError
	if errors.As(err, &re) {
		return re.Class
	}
	var jc javaClassError
	if errors.As(err, &jc) {
		return jc.JavaClass()
	}
	return ""
}

type classified struct {
	sentinel error
	err      error
}

func (c *classified) Error() string   { return c.err.Error() }
func (c *classified) Unwrap() []error { return []error{c.sentinel, c.err} }

// classify attaches the matching sentinel to a remote exception, looking at the class name carried
// by the IPC error (or, failing that, at a class name in the message).
func classify(err error) error {
	if err == nil {
		return nil
	}
	if s := sentinelForClass(javaClass(err)); s != nil {
		return &classified{sentinel: s, err: err}
	}
	// Some exceptions arrive wrapped (e.g. a RemoteException text naming the cause).
	msg := err.Error()
	for name, s := range exceptionSentinels {
		if strings.Contains(msg, "."+name) {
			return &classified{sentinel: s, err: err}
		}
	}
	return err
}

// ExceptionClassOf returns the Java exception class carried by err, if any.
func ExceptionClassOf(err error) string { return javaClass(err) }

func sentinelForClass(class string) error {
	if class == "" {
		return nil
	}
	if i := strings.LastIndexByte(class, '.'); i >= 0 {
		class = class[i+1:]
	}
	if i := strings.LastIndexByte(class, '$'); i >= 0 {
		class = class[i+1:]
	}
	return exceptionSentinels[class]
}

package yarn

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/flink-go/flink-go/yarn/security"
)

// Environment variables the NodeManager sets in every container (ApplicationConstants.Environment)
// and, for the AM container, the RM's AMLauncher.
const (
	EnvContainerID   = "CONTAINER_ID"
	EnvNMHost        = "NM_HOST"
	EnvNMPort        = "NM_PORT"
	EnvNMHTTPPort    = "NM_HTTP_PORT"
	EnvLocalDirs     = "LOCAL_DIRS"
	EnvLogDirs       = "LOG_DIRS"
	EnvUser          = "USER"
	EnvSubmitTime    = "APP_SUBMIT_TIME_ENV"
	EnvMaxAttempts   = "MAX_APP_ATTEMPTS"
	EnvWebProxyBase  = "APPLICATION_WEB_PROXY_BASE"
	EnvHadoopUser    = "HADOOP_USER_NAME"
	EnvTokenFilePath = security.TokenFileEnvVariable
)

// AMContext is what an ApplicationMaster learns from its container: its ids, its NodeManager, the
// submitting user and its credentials (with the AMRMToken).
type AMContext struct {
	ContainerID ContainerID
	Attempt     AttemptID
	NMHost      string
	NMPort      int
	NMHTTPPort  int
	// User is the submitter ($HADOOP_USER_NAME, else $USER); containers run as the NM's OS user,
	// so never take the identity from the OS account.
	User        string
	LocalDirs   []string
	LogDirs     []string
	SubmitTime  time.Time
	MaxAttempts int
	// WebProxyBase is the RM web proxy path prefix of the AM's web UI.
	WebProxyBase string
	// AMRMToken authenticates to the RM scheduler (kind YARN_AM_RM_TOKEN).
	AMRMToken *Token
	// Credentials are all tokens of the container (delegation tokens, the AMRMToken).
	Credentials *security.Credentials
}

// AMContextFromEnv reads the AM container's environment and token file.
func AMContextFromEnv() (AMContext, error) {
	return amContextFrom(os.Getenv, security.ReadFile)
}

func amContextFrom(getenv func(string) string, readTokens func(string) (*security.Credentials, error)) (AMContext, error) {
	var a AMContext
	cid := getenv(EnvContainerID)
	if cid == "" {
		return a, fmt.Errorf("yarn: %s is not set: not running in a YARN container", EnvContainerID)
	}
	id, err := ParseContainerID(cid)
	if err != nil {
		return a, fmt.Errorf("yarn: %s: %w", EnvContainerID, err)
	}
	a.ContainerID, a.Attempt = id, id.Attempt
	a.NMHost = getenv(EnvNMHost)
	for _, p := range []struct {
		env string
		dst *int
	}{{EnvNMPort, &a.NMPort}, {EnvNMHTTPPort, &a.NMHTTPPort}, {EnvMaxAttempts, &a.MaxAttempts}} {
		if v := getenv(p.env); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil {
				return a, fmt.Errorf("yarn: %s=%q is not a number", p.env, v)
			}
			*p.dst = n
		}
	}
	if v := getenv(EnvSubmitTime); v != "" {
		ms, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return a, fmt.Errorf("yarn: %s=%q is not a timestamp in ms", EnvSubmitTime, v)
		}
		a.SubmitTime = time.UnixMilli(ms)
	}
	a.User = getenv(EnvHadoopUser)
	if a.User == "" {
		a.User = getenv(EnvUser)
	}
	a.LocalDirs = splitList(getenv(EnvLocalDirs))
	a.LogDirs = splitList(getenv(EnvLogDirs))
	a.WebProxyBase = getenv(EnvWebProxyBase)

	path := getenv(EnvTokenFilePath)
	if path == "" {
		return a, fmt.Errorf("yarn: %s is not set: the NodeManager writes the AM's tokens there", EnvTokenFilePath)
	}
	creds, err := readTokens(path)
	if err != nil {
		return a, fmt.Errorf("yarn: read the container tokens %s: %w", path, err)
	}
	a.Credentials = creds
	tok, ok := creds.FindByKind(KindAMRMToken)
	if !ok {
		return a, fmt.Errorf("yarn: no %s token in %s: is this the AM container of a managed AM?", KindAMRMToken, path)
	}
	a.AMRMToken = &tok
	return a, nil
}

// ContainerTokens returns the AM's credentials for a child container's launch context (the
// ContainerLaunchContext.Tokens blob), without the AMRMToken: containers must not talk to the RM
// as the AM.
func (a AMContext) ContainerTokens() ([]byte, error) {
	if a.Credentials == nil {
		return nil, errors.New("yarn: AM context has no credentials")
	}
	c := a.Credentials.Clone()
	c.RemoveKind(KindAMRMToken)
	return c.MarshalContainerTokens(), nil
}

// SchedulerAddressesFromEnv splits a comma-separated scheduler address list that a submitter
// passed to the AM in its environment (the AM has no yarn-site.xml of its own).
func SchedulerAddressesFromEnv(name string) ([]string, error) {
	v := strings.TrimSpace(os.Getenv(name))
	if v == "" {
		return nil, fmt.Errorf("yarn: %s is not set: the submitter must pass %s to the AM", name, KeySchedulerAddress)
	}
	return splitList(v), nil
}

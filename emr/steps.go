package emr

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"regexp"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsemr "github.com/aws/aws-sdk-go-v2/service/emr"
	"github.com/aws/aws-sdk-go-v2/service/emr/types"
	"github.com/aws/smithy-go"
)

// API is the part of the EMR API flink-go uses; *emr.Client (aws-sdk-go-v2) implements it.
type API interface {
	AddJobFlowSteps(ctx context.Context, in *awsemr.AddJobFlowStepsInput, optFns ...func(*awsemr.Options)) (*awsemr.AddJobFlowStepsOutput, error)
	DescribeStep(ctx context.Context, in *awsemr.DescribeStepInput, optFns ...func(*awsemr.Options)) (*awsemr.DescribeStepOutput, error)
	ListSteps(ctx context.Context, in *awsemr.ListStepsInput, optFns ...func(*awsemr.Options)) (*awsemr.ListStepsOutput, error)
	DescribeCluster(ctx context.Context, in *awsemr.DescribeClusterInput, optFns ...func(*awsemr.Options)) (*awsemr.DescribeClusterOutput, error)
	RunJobFlow(ctx context.Context, in *awsemr.RunJobFlowInput, optFns ...func(*awsemr.Options)) (*awsemr.RunJobFlowOutput, error)
}

var _ API = (*awsemr.Client)(nil)

// Errors of the step functions.
var (
	// ErrClusterNotFound: the cluster id is unknown in this account and region.
	ErrClusterNotFound = errors.New("EMR cluster not found")
	// ErrClusterNotActive: the cluster is terminating or terminated and takes no steps.
	ErrClusterNotActive = errors.New("EMR cluster is not active")
	// ErrStepFailed: the step ended FAILED, CANCELLED or INTERRUPTED.
	ErrStepFailed = errors.New("EMR step did not complete")
	// ErrInvalidStep: the step request is invalid (checked before calling EMR).
	ErrInvalidStep = errors.New("invalid EMR step")
)

// CommandRunnerJar is EMR's jar that runs a command on the master node.
const CommandRunnerJar = "command-runner.jar"

// maxStepArgsChars is EMR's limit on the total length of a HadoopJarStep's strings.
const maxStepArgsChars = 10240

var clusterIDPattern = regexp.MustCompile(`^j-[A-Z0-9]{1,256}$`)

// StepSpec describes a flink-go step.
type StepSpec struct {
	// Name of the step; empty means "flink-go <first args>".
	Name string
	// ActionOnFailure is CONTINUE (default), CANCEL_AND_WAIT or TERMINATE_CLUSTER.
	ActionOnFailure string
	// Command is the program command-runner.jar runs; empty means "flink-go" (installed on
	// the PATH by the bootstrap action).
	Command string
	// Args are the flink-go arguments, e.g. run -t yarn-application ./job.
	Args []string
}

// actionsOnFailure are the values flink-go accepts (TERMINATE_JOB_FLOW is the legacy name of
// TERMINATE_CLUSTER).
var actionsOnFailure = []types.ActionOnFailure{types.ActionOnFailureContinue, types.ActionOnFailureCancelAndWait, types.ActionOnFailureTerminateCluster, types.ActionOnFailureTerminateJobFlow}

// StepConfig builds the EMR step for spec: command-runner.jar running the command with its
// arguments. It checks the action on failure and EMR's 10240-character limit.
func StepConfig(spec StepSpec) (types.StepConfig, error) {
	if len(spec.Args) == 0 {
		return types.StepConfig{}, fmt.Errorf("%w: no flink-go arguments (e.g. -- run -t yarn-application ./myjob)", ErrInvalidStep)
	}
	cmd := spec.Command
	if cmd == "" {
		cmd = "flink-go"
	}
	action := types.ActionOnFailure(strings.ToUpper(spec.ActionOnFailure))
	if action == "" {
		action = types.ActionOnFailureContinue
	}
	ok := false
	for _, a := range actionsOnFailure {
		ok = ok || a == action
	}
	if !ok {
		return types.StepConfig{}, fmt.Errorf("%w: action on failure %q (use CONTINUE, CANCEL_AND_WAIT or TERMINATE_CLUSTER)", ErrInvalidStep, spec.ActionOnFailure)
	}
	name := spec.Name
	if name == "" {
		// "flink-go run wordcount": the command, the action and the job's base name.
		name = cmd + " " + spec.Args[0]
		if last := spec.Args[len(spec.Args)-1]; len(spec.Args) > 1 && !strings.HasPrefix(last, "-") {
			name += " " + path.Base(last)
		}
	}
	args := append([]string{cmd}, spec.Args...)
	total := len(CommandRunnerJar)
	for _, a := range args {
		total += len(a)
	}
	if total > maxStepArgsChars {
		return types.StepConfig{}, fmt.Errorf("%w: the step's arguments are %d characters, EMR allows %d (ship long settings in a config file instead of -D)", ErrInvalidStep, total, maxStepArgsChars)
	}
	return types.StepConfig{
		Name:            aws.String(name),
		ActionOnFailure: action,
		HadoopJarStep:   &types.HadoopJarStepConfig{Jar: aws.String(CommandRunnerJar), Args: args},
	}, nil
}

// CheckClusterID checks the form of a cluster id (j- followed by upper-case letters and digits).
func CheckClusterID(id string) error {
	if !clusterIDPattern.MatchString(id) {
		return fmt.Errorf("%w: %q is not a cluster id (expected j-XXXXXXXXXXXXX, see 'aws emr list-clusters')", ErrClusterNotFound, id)
	}
	return nil
}

// clusterError turns EMR's answer for an unknown cluster into ErrClusterNotFound.
func clusterError(id string, err error) error {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		msg := ae.ErrorMessage()
		if ae.ErrorCode() == "InvalidRequestException" && (strings.Contains(msg, "not valid") || strings.Contains(strings.ToLower(msg), "not found")) {
			return fmt.Errorf("%w: %s (check --cluster-id and the region; EMR said: %s)", ErrClusterNotFound, id, msg)
		}
	}
	return fmt.Errorf("EMR cluster %s: %w", id, err)
}

// ClusterState returns the cluster's state.
func ClusterState(ctx context.Context, api API, clusterID string) (types.ClusterState, error) {
	if err := CheckClusterID(clusterID); err != nil {
		return "", err
	}
	out, err := api.DescribeCluster(ctx, &awsemr.DescribeClusterInput{ClusterId: aws.String(clusterID)})
	if err != nil {
		return "", clusterError(clusterID, err)
	}
	if out.Cluster == nil || out.Cluster.Status == nil {
		return "", fmt.Errorf("EMR cluster %s: DescribeCluster returned no status", clusterID)
	}
	return out.Cluster.Status.State, nil
}

// AddStep submits spec to the cluster and returns the step id. The cluster must exist and be
// STARTING, BOOTSTRAPPING, RUNNING or WAITING.
func AddStep(ctx context.Context, api API, clusterID string, spec StepSpec) (string, error) {
	step, err := StepConfig(spec)
	if err != nil {
		return "", err
	}
	state, err := ClusterState(ctx, api, clusterID)
	if err != nil {
		return "", err
	}
	switch state {
	case types.ClusterStateStarting, types.ClusterStateBootstrapping, types.ClusterStateRunning, types.ClusterStateWaiting:
	default:
		return "", fmt.Errorf("%w: %s is %s; steps can only be added to STARTING, BOOTSTRAPPING, RUNNING or WAITING clusters", ErrClusterNotActive, clusterID, state)
	}
	out, err := api.AddJobFlowSteps(ctx, &awsemr.AddJobFlowStepsInput{JobFlowId: aws.String(clusterID), Steps: []types.StepConfig{step}})
	if err != nil {
		return "", clusterError(clusterID, fmt.Errorf("AddJobFlowSteps: %w", err))
	}
	if len(out.StepIds) != 1 {
		return "", fmt.Errorf("EMR cluster %s: AddJobFlowSteps returned %d step ids for 1 step", clusterID, len(out.StepIds))
	}
	return out.StepIds[0], nil
}

// StepStatus is a step's state as EMR reports it.
type StepStatus struct {
	ID      string
	Name    string
	State   types.StepState
	Args    []string
	Created time.Time
	Started time.Time
	Ended   time.Time
	// Reason is the state change reason, if any.
	Reason string
	// FailureReason, FailureMessage and LogFile describe a failed step.
	FailureReason, FailureMessage, LogFile string
}

// Terminal reports whether the step has ended.
func (s StepStatus) Terminal() bool {
	switch s.State {
	case types.StepStateCompleted, types.StepStateFailed, types.StepStateCancelled, types.StepStateInterrupted:
		return true
	}
	return false
}

// Err is nil for a COMPLETED step and an ErrStepFailed error with the failure details for a
// FAILED, CANCELLED or INTERRUPTED one.
func (s StepStatus) Err() error {
	switch s.State {
	case types.StepStateFailed, types.StepStateCancelled, types.StepStateInterrupted:
		var details []string
		for _, d := range []string{s.FailureReason, s.FailureMessage, s.Reason} {
			if d != "" {
				details = append(details, d)
			}
		}
		if s.LogFile != "" {
			details = append(details, "log: "+s.LogFile)
		}
		msg := fmt.Sprintf("%v: step %s (%s) is %s", ErrStepFailed, s.ID, s.Name, s.State)
		if len(details) > 0 {
			msg += ": " + strings.Join(details, "; ")
		}
		return &stepError{msg: msg}
	}
	return nil
}

type stepError struct{ msg string }

func (e *stepError) Error() string        { return e.msg }
func (e *stepError) Is(target error) bool { return target == ErrStepFailed }

func statusOf(id, name string, cfg *types.HadoopStepConfig, st *types.StepStatus) StepStatus {
	s := StepStatus{ID: id, Name: name}
	if cfg != nil {
		s.Args = cfg.Args
	}
	if st == nil {
		return s
	}
	s.State = st.State
	if st.StateChangeReason != nil {
		s.Reason = aws.ToString(st.StateChangeReason.Message)
	}
	if st.FailureDetails != nil {
		s.FailureReason = aws.ToString(st.FailureDetails.Reason)
		s.FailureMessage = aws.ToString(st.FailureDetails.Message)
		s.LogFile = aws.ToString(st.FailureDetails.LogFile)
	}
	if tl := st.Timeline; tl != nil {
		s.Created, s.Started, s.Ended = aws.ToTime(tl.CreationDateTime), aws.ToTime(tl.StartDateTime), aws.ToTime(tl.EndDateTime)
	}
	return s
}

// DescribeStep returns a step's status.
func DescribeStep(ctx context.Context, api API, clusterID, stepID string) (StepStatus, error) {
	out, err := api.DescribeStep(ctx, &awsemr.DescribeStepInput{ClusterId: aws.String(clusterID), StepId: aws.String(stepID)})
	if err != nil {
		return StepStatus{}, clusterError(clusterID, fmt.Errorf("DescribeStep %s: %w", stepID, err))
	}
	if out.Step == nil {
		return StepStatus{}, fmt.Errorf("EMR cluster %s: step %s not found", clusterID, stepID)
	}
	return statusOf(aws.ToString(out.Step.Id), aws.ToString(out.Step.Name), out.Step.Config, out.Step.Status), nil
}

// ListSteps returns the cluster's steps, newest first, following EMR's pagination.
func ListSteps(ctx context.Context, api API, clusterID string) ([]StepStatus, error) {
	// DescribeCluster first: it answers an unknown id clearly (ListSteps may not).
	if _, err := ClusterState(ctx, api, clusterID); err != nil {
		return nil, err
	}
	var (
		out    []StepStatus
		marker *string
	)
	for page := 0; page < 1000; page++ {
		resp, err := api.ListSteps(ctx, &awsemr.ListStepsInput{ClusterId: aws.String(clusterID), Marker: marker})
		if err != nil {
			return nil, clusterError(clusterID, err)
		}
		for _, s := range resp.Steps {
			out = append(out, statusOf(aws.ToString(s.Id), aws.ToString(s.Name), s.Config, s.Status))
		}
		if resp.Marker == nil || *resp.Marker == "" {
			return out, nil
		}
		marker = resp.Marker
	}
	return nil, fmt.Errorf("EMR cluster %s: ListSteps did not end after 1000 pages", clusterID)
}

// WriteStepTable prints steps as a table: id, state, name, created, ended, arguments.
func WriteStepTable(w io.Writer, steps []StepStatus) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "STEP ID\tSTATE\tNAME\tCREATED\tENDED\tARGS")
	ts := func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return t.UTC().Format("2006-01-02 15:04:05")
	}
	for _, s := range steps {
		args := strings.Join(s.Args, " ")
		if len(args) > 80 {
			args = args[:77] + "..."
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", s.ID, s.State, s.Name, ts(s.Created), ts(s.Ended), args)
	}
	return tw.Flush()
}

// WaitOptions tune WaitStep.
type WaitOptions struct {
	// Poll is the interval between DescribeStep calls; 0 means 10 s.
	Poll time.Duration
	// Timeout bounds the wait; 0 means no bound (ctx still applies).
	Timeout time.Duration
	// Progress is called with the first status and on every state change.
	Progress func(StepStatus)
}

// WaitStep follows a step until it ends and returns its last status, with an error unless it
// COMPLETED (see StepStatus.Err). It also stops, with ErrClusterNotActive, when the cluster
// terminates before the step ends, and with a timeout error naming the last state.
func WaitStep(ctx context.Context, api API, clusterID, stepID string, o WaitOptions) (StepStatus, error) {
	if o.Poll <= 0 {
		o.Poll = 10 * time.Second
	}
	if o.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.Timeout)
		defer cancel()
	}
	var last StepStatus
	first := true
	for {
		st, err := DescribeStep(ctx, api, clusterID, stepID)
		if err != nil {
			if ctx.Err() != nil {
				return last, waitTimeout(ctx, stepID, last, o.Timeout)
			}
			return last, err
		}
		if first || st.State != last.State {
			if o.Progress != nil {
				o.Progress(st)
			}
			first = false
		}
		last = st
		if st.Terminal() {
			return st, st.Err()
		}
		state, err := ClusterState(ctx, api, clusterID)
		if err != nil {
			if ctx.Err() != nil {
				return last, waitTimeout(ctx, stepID, last, o.Timeout)
			}
			return last, err
		}
		if state == types.ClusterStateTerminated || state == types.ClusterStateTerminatedWithErrors {
			return last, fmt.Errorf("%w: cluster %s is %s while step %s is still %s", ErrClusterNotActive, clusterID, state, stepID, st.State)
		}
		select {
		case <-ctx.Done():
			return last, waitTimeout(ctx, stepID, last, o.Timeout)
		case <-time.After(o.Poll):
		}
	}
}

func waitTimeout(ctx context.Context, stepID string, last StepStatus, timeout time.Duration) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) && timeout > 0 {
		return fmt.Errorf("step %s still %s after %s: %w (the step goes on; follow it with 'flink-go emr steps')", stepID, last.State, timeout, ctx.Err())
	}
	return fmt.Errorf("waiting for step %s (last state %s): %w", stepID, last.State, ctx.Err())
}

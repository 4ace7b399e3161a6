package emr

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsemr "github.com/aws/aws-sdk-go-v2/service/emr"
	"github.com/aws/aws-sdk-go-v2/service/emr/types"
)

// fakeAPI is an in-memory EMR whose steps move through a scripted list of states, one per
// DescribeStep call (moto's steps never end, so completion is tested here).
type fakeAPI struct {
	mu           sync.Mutex
	clusterState types.ClusterState
	script       []types.StepState
	failure      *types.FailureDetails
	added        []types.StepConfig
	describes    int
	terminateAt  int // DescribeStep call after which the cluster reports TERMINATED (0: never)
}

func (f *fakeAPI) AddJobFlowSteps(_ context.Context, in *awsemr.AddJobFlowStepsInput, _ ...func(*awsemr.Options)) (*awsemr.AddJobFlowStepsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.added = append(f.added, in.Steps...)
	return &awsemr.AddJobFlowStepsOutput{StepIds: []string{"s-FAKE1"}}, nil
}

func (f *fakeAPI) DescribeStep(_ context.Context, in *awsemr.DescribeStepInput, _ ...func(*awsemr.Options)) (*awsemr.DescribeStepOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	i := min(f.describes, len(f.script)-1)
	f.describes++
	st := &types.StepStatus{State: f.script[i]}
	if st.State == types.StepStateFailed {
		st.FailureDetails = f.failure
	}
	return &awsemr.DescribeStepOutput{Step: &types.Step{Id: in.StepId, Name: aws.String("flink-go run"), Status: st}}, nil
}

func (f *fakeAPI) ListSteps(context.Context, *awsemr.ListStepsInput, ...func(*awsemr.Options)) (*awsemr.ListStepsOutput, error) {
	return &awsemr.ListStepsOutput{}, nil
}

func (f *fakeAPI) DescribeCluster(_ context.Context, in *awsemr.DescribeClusterInput, _ ...func(*awsemr.Options)) (*awsemr.DescribeClusterOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	state := f.clusterState
	if f.terminateAt > 0 && f.describes >= f.terminateAt {
		state = types.ClusterStateTerminated
	}
	return &awsemr.DescribeClusterOutput{Cluster: &types.Cluster{Id: in.ClusterId, Status: &types.ClusterStatus{State: state}}}, nil
}

func (f *fakeAPI) RunJobFlow(context.Context, *awsemr.RunJobFlowInput, ...func(*awsemr.Options)) (*awsemr.RunJobFlowOutput, error) {
	return &awsemr.RunJobFlowOutput{JobFlowId: aws.String("j-FAKE")}, nil
}

func TestStepConfig(t *testing.T) {
	sc, err := StepConfig(StepSpec{Args: []string{"run", "-t", "yarn-application", "./job"}, ActionOnFailure: "cancel_and_wait"})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(sc.HadoopJarStep.Jar) != "command-runner.jar" || strings.Join(sc.HadoopJarStep.Args, " ") != "flink-go run -t yarn-application ./job" ||
		sc.ActionOnFailure != types.ActionOnFailureCancelAndWait || aws.ToString(sc.Name) != "flink-go run job" {
		t.Fatalf("%+v %+v", sc, sc.HadoopJarStep)
	}
	for _, tc := range []struct {
		spec StepSpec
		want string
	}{
		{StepSpec{}, "no flink-go arguments"},
		{StepSpec{Args: []string{"run"}, ActionOnFailure: "EXPLODE"}, `action on failure "EXPLODE"`},
		{StepSpec{Args: []string{"run", strings.Repeat("x", 11000)}}, "EMR allows 10240"},
	} {
		if _, err := StepConfig(tc.spec); err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, ErrInvalidStep) {
			t.Errorf("%+v: %v", tc.spec, err)
		}
	}
	if err := CheckClusterID("cluster-1"); err == nil || !errors.Is(err, ErrClusterNotFound) {
		t.Fatalf("bad id accepted: %v", err)
	}
}

func TestWaitStepOutcomes(t *testing.T) {
	ctx := context.Background()
	run := func(f *fakeAPI, timeout time.Duration) ([]types.StepState, StepStatus, error) {
		var seen []types.StepState
		st, err := WaitStep(ctx, f, "j-ABC", "s-FAKE1", WaitOptions{Poll: time.Millisecond, Timeout: timeout, Progress: func(s StepStatus) { seen = append(seen, s.State) }})
		return seen, st, err
	}

	f := &fakeAPI{clusterState: types.ClusterStateRunning, script: []types.StepState{"PENDING", "PENDING", "RUNNING", "RUNNING", "COMPLETED"}}
	seen, st, err := run(f, 0)
	if err != nil || st.State != types.StepStateCompleted {
		t.Fatalf("completed: %v %+v", err, st)
	}
	if got := fmtStates(seen); got != "PENDING RUNNING COMPLETED" {
		t.Fatalf("progress reported %s (one line per state change)", got)
	}

	f = &fakeAPI{clusterState: types.ClusterStateRunning, script: []types.StepState{"RUNNING", "FAILED"},
		failure: &types.FailureDetails{Reason: aws.String("Unknown Error."), Message: aws.String("flink-go exited with 1"), LogFile: aws.String("s3://logs/j-ABC/steps/s-FAKE1/stderr.gz")}}
	_, st, err = run(f, 0)
	if !errors.Is(err, ErrStepFailed) || st.State != types.StepStateFailed {
		t.Fatalf("failed: %v", err)
	}
	for _, w := range []string{"step s-FAKE1", "is FAILED", "flink-go exited with 1", "log: s3://logs/j-ABC/steps/s-FAKE1/stderr.gz"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("failure error %q lacks %q", err, w)
		}
	}

	f = &fakeAPI{clusterState: types.ClusterStateRunning, script: []types.StepState{"PENDING", "CANCELLED"}}
	if _, _, err := run(f, 0); !errors.Is(err, ErrStepFailed) || !strings.Contains(err.Error(), "CANCELLED") {
		t.Fatalf("cancelled: %v", err)
	}

	f = &fakeAPI{clusterState: types.ClusterStateRunning, script: []types.StepState{"RUNNING"}, terminateAt: 3}
	if _, _, err := run(f, 0); !errors.Is(err, ErrClusterNotActive) || !strings.Contains(err.Error(), "TERMINATED while step s-FAKE1 is still RUNNING") {
		t.Fatalf("cluster gone: %v", err)
	}

	f = &fakeAPI{clusterState: types.ClusterStateRunning, script: []types.StepState{"RUNNING"}}
	if _, _, err := run(f, 30*time.Millisecond); !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "still RUNNING after 30ms") {
		t.Fatalf("timeout: %v", err)
	}
}

func fmtStates(s []types.StepState) string {
	var out []string
	for _, x := range s {
		out = append(out, string(x))
	}
	return strings.Join(out, " ")
}

func TestAddStepRefusesTerminatedCluster(t *testing.T) {
	f := &fakeAPI{clusterState: types.ClusterStateTerminated, script: []types.StepState{"PENDING"}}
	_, err := AddStep(context.Background(), f, "j-ABC", StepSpec{Args: []string{"list"}})
	if !errors.Is(err, ErrClusterNotActive) || len(f.added) != 0 {
		t.Fatalf("err %v, added %d", err, len(f.added))
	}
}

func TestRunJobFlowRequest(t *testing.T) {
	cls, err := ParseClassifications([]byte(emrHAExample), "ha.json")
	if err != nil {
		t.Fatal(err)
	}
	cls = append(cls, Classification{Classification: "flink-go-conf", Properties: map[string]string{"parallelism.default": "4"}})
	in, err := RunJobFlowRequest(ClusterSpec{
		BootstrapSource: "s3://my-bucket/flink-go/", Classifications: cls, ClassificationsURL: "s3://my-bucket/conf.json",
		Steps: []StepSpec{{Args: []string{"run", "-t", "yarn-application", "./job"}}}, Tags: map[string]string{"team": "data"},
		LogURI: "s3://my-bucket/logs/",
	})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToBool(in.Instances.KeepJobFlowAliveWhenNoSteps) {
		t.Fatal("a transient cluster must not stay alive without steps")
	}
	if p := in.BootstrapActions[0].ScriptBootstrapAction; aws.ToString(p.Path) != "s3://my-bucket/flink-go/install-flink-go.sh" || strings.Join(p.Args, " ") != "--source s3://my-bucket/flink-go" {
		t.Fatalf("bootstrap action %+v", p)
	}
	step := in.Steps[0]
	if step.ActionOnFailure != types.ActionOnFailureTerminateCluster ||
		strings.Join(step.HadoopJarStep.Args, " ") != "flink-go --classifications s3://my-bucket/conf.json run -t yarn-application ./job" {
		t.Fatalf("step %+v %v", step, step.HadoopJarStep.Args)
	}
	// Without the Flink application EMR only gets the Hadoop classification.
	if len(in.Configurations) != 1 || aws.ToString(in.Configurations[0].Classification) != "yarn-site" {
		t.Fatalf("configurations %+v", in.Configurations)
	}
	if aws.ToString(in.ReleaseLabel) != DefaultReleaseLabel || aws.ToString(in.Applications[0].Name) != "Hadoop" || len(in.Instances.InstanceGroups) != 2 {
		t.Fatalf("%+v", in)
	}
	out, err := RequestJSON(in)
	if err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := json.Unmarshal(out, &back); err != nil {
		t.Fatal(err)
	}
	if back["Name"] != "flink-go" || back["Instances"].(map[string]any)["KeepJobFlowAliveWhenNoSteps"] != false || strings.Contains(string(out), "null") {
		t.Fatalf("request JSON:\n%s", out)
	}

	// With Flink installed, flink-conf goes to EMR too (never flink-go-conf).
	in, err = RunJobFlowRequest(ClusterSpec{BootstrapSource: "s3://b", Classifications: cls, Applications: []string{"Hadoop", "Flink"}, KeepAlive: true})
	if err != nil || len(in.Configurations) != 2 || !aws.ToBool(in.Instances.KeepJobFlowAliveWhenNoSteps) {
		t.Fatalf("%v %+v", err, in)
	}

	_, err = RunJobFlowRequest(ClusterSpec{BootstrapSource: "/local/dir", LogURI: "/tmp", ReleaseLabel: "7.5",
		Classifications: []Classification{{Classification: "flink-confx"}}})
	for _, w := range []string{"bootstrap source", "log URI", "release label", "needs a step", `"flink-confx": unknown classification`} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("error %v lacks %q", err, w)
		}
	}
}

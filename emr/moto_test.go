package emr

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsemr "github.com/aws/aws-sdk-go-v2/service/emr"
	"github.com/aws/aws-sdk-go-v2/service/emr/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/urfave/cli/v2"

	"github.com/flink-go/flink-go/bootstrap"
	"github.com/flink-go/flink-go/testing/emr/emrbed"
)

func TestMain(m *testing.M) { emrbed.Main(m) }

// runCLI runs "flink-go <args>" with the emr commands and returns stdout and stderr.
func runCLI(t *testing.T, ctx context.Context, args ...string) (string, string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	app := &cli.App{Name: "flink-go", Commands: Commands(), Writer: &out, ErrWriter: &errb, DisableSliceFlagSeparator: true,
		Flags: []cli.Flag{&cli.StringFlag{Name: "classifications"}}}
	err := app.RunContext(ctx, append([]string{"flink-go"}, args...))
	return out.String(), errb.String(), err
}

func motoEMR(t *testing.T) (*emrbed.Server, *awsemr.Client) {
	t.Helper()
	bed := emrbed.Require(t)
	bed.SetEnv(t)
	c, err := NewEMRClient(context.Background(), AWSOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return bed, c
}

// longRunningCluster creates a cluster that stays up without steps.
func longRunningCluster(t *testing.T, api *awsemr.Client) string {
	t.Helper()
	in, err := RunJobFlowRequest(ClusterSpec{Name: "session", BootstrapSource: "s3://bucket/flink-go", KeepAlive: true})
	if err != nil {
		t.Fatal(err)
	}
	id, err := CreateCluster(context.Background(), api, in)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestCreateClusterExecuteOnMoto(t *testing.T) {
	_, api := motoEMR(t)
	ctx := context.Background()
	dir := t.TempDir()
	doc := filepath.Join(dir, "conf.json")
	writeFile(t, doc, emrHAExample)

	// Without --execute: the request is printed, nothing is created.
	out, _, err := runCLI(t, ctx, "emr", "create-cluster", "--source", "s3://artifacts/flink-go", "--classifications", doc,
		"--", "run", "-t", "yarn-application", "./job")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, `"KeepJobFlowAliveWhenNoSteps": false`) || !strings.Contains(out, "install-flink-go.sh") {
		t.Fatalf("printed request:\n%s", out)
	}
	list, err := api.ListClusters(ctx, &awsemr.ListClustersInput{})
	if err != nil || len(list.Clusters) != 0 {
		t.Fatalf("a cluster was created without --execute: %v %+v", err, list)
	}

	out, stderr, err := runCLI(t, ctx, "emr", "create-cluster", "--execute", "--name", "nightly", "--source", "s3://artifacts/flink-go",
		"--release-label", "emr-7.2.0", "--instance-type", "m5.2xlarge", "--core-count", "3", "--classifications", doc, "--tag", "team=data",
		"--", "run", "-t", "yarn-application", "./job", "--input", "s3://in/")
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	id := strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(out), "Cluster "), " created")
	if err := CheckClusterID(id); err != nil {
		t.Fatalf("output %q: %v", out, err)
	}

	// What moto recorded.
	dc, err := api.DescribeCluster(ctx, &awsemr.DescribeClusterInput{ClusterId: aws.String(id)})
	if err != nil {
		t.Fatal(err)
	}
	c := dc.Cluster
	if aws.ToString(c.Name) != "nightly" || aws.ToString(c.ReleaseLabel) != "emr-7.2.0" || !aws.ToBool(c.AutoTerminate) {
		t.Fatalf("cluster %+v (AutoTerminate must be true for a transient cluster)", c)
	}
	if len(c.Configurations) != 1 || aws.ToString(c.Configurations[0].Classification) != "yarn-site" ||
		c.Configurations[0].Properties["yarn.resourcemanager.am.max-attempts"] != "10" {
		t.Fatalf("configurations %+v", c.Configurations)
	}
	if len(c.Tags) != 1 || aws.ToString(c.Tags[0].Key) != "team" {
		t.Fatalf("tags %+v", c.Tags)
	}
	ba, err := api.ListBootstrapActions(ctx, &awsemr.ListBootstrapActionsInput{ClusterId: aws.String(id)})
	if err != nil || len(ba.BootstrapActions) != 1 || aws.ToString(ba.BootstrapActions[0].ScriptPath) != "s3://artifacts/flink-go/install-flink-go.sh" ||
		strings.Join(ba.BootstrapActions[0].Args, " ") != "--source s3://artifacts/flink-go" {
		t.Fatalf("bootstrap actions %v %+v", err, ba)
	}
	groups, err := api.ListInstanceGroups(ctx, &awsemr.ListInstanceGroupsInput{ClusterId: aws.String(id)})
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range groups.InstanceGroups {
		if aws.ToString(g.InstanceType) != "m5.2xlarge" || (g.InstanceGroupType == types.InstanceGroupTypeCore && aws.ToInt32(g.RequestedInstanceCount) != 3) {
			t.Fatalf("instance group %+v", g)
		}
	}
	steps, err := ListSteps(ctx, api, id)
	if err != nil || len(steps) != 1 {
		t.Fatalf("steps %v %+v", err, steps)
	}
	ds, err := api.DescribeStep(ctx, &awsemr.DescribeStepInput{ClusterId: aws.String(id), StepId: aws.String(steps[0].ID)})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(ds.Step.Config.Jar) != CommandRunnerJar || ds.Step.ActionOnFailure != types.ActionOnFailureTerminateCluster ||
		strings.Join(ds.Step.Config.Args, " ") != "flink-go run -t yarn-application ./job --input s3://in/" {
		t.Fatalf("step %+v %+v", ds.Step, ds.Step.Config)
	}
}

func TestAddStepAndStepsOnMoto(t *testing.T) {
	_, api := motoEMR(t)
	ctx := context.Background()
	id := longRunningCluster(t, api)

	out, _, err := runCLI(t, ctx, "emr", "add-step", "--cluster-id", id, "--name", "wordcount", "--action-on-failure", "CANCEL_AND_WAIT",
		"--", "run", "-t", "yarn-application", "-D", "parallelism.default=4", "./wordcount")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out, "Step s-") || !strings.Contains(out, "added to cluster "+id) {
		t.Fatalf("output %q", out)
	}
	stepID := strings.Fields(out)[1]
	ds, err := api.DescribeStep(ctx, &awsemr.DescribeStepInput{ClusterId: aws.String(id), StepId: aws.String(stepID)})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(ds.Step.Name) != "wordcount" || ds.Step.ActionOnFailure != types.ActionOnFailureCancelAndWait ||
		strings.Join(ds.Step.Config.Args, " ") != "flink-go run -t yarn-application -D parallelism.default=4 ./wordcount" {
		t.Fatalf("recorded step %+v %+v", ds.Step, ds.Step.Config)
	}
	if _, _, err := runCLI(t, ctx, "emr", "add-step", "--cluster-id", id, "--", "list"); err != nil {
		t.Fatal(err)
	}

	out, _, err = runCLI(t, ctx, "emr", "steps", "--cluster-id", id)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "STEP ID") {
		t.Fatalf("table:\n%s", out)
	}
	// Newest first: the second step waits behind the first, which moto marks RUNNING.
	if !strings.Contains(lines[1], "PENDING") || !strings.Contains(lines[1], "flink-go list") ||
		!strings.Contains(lines[2], stepID) || !strings.Contains(lines[2], "RUNNING") || !strings.Contains(lines[2], "wordcount") {
		t.Fatalf("table:\n%s", out)
	}
}

func TestAddStepWaitOnMoto(t *testing.T) {
	_, api := motoEMR(t)
	ctx := context.Background()
	id := longRunningCluster(t, api)

	// moto never finishes a step: --wait-timeout gives up with the last state.
	out, stderr, err := runCLI(t, ctx, "emr", "add-step", "--cluster-id", id, "--wait", "--poll-interval", "100ms", "--wait-timeout", "700ms", "--", "run", "./job")
	if err == nil || !strings.Contains(err.Error(), "still RUNNING after 700ms") {
		t.Fatalf("err %v", err)
	}
	if !strings.Contains(out, "added to cluster") || !strings.Contains(stderr, "is RUNNING") {
		t.Fatalf("stdout %q stderr %q", out, stderr)
	}

	// The cluster terminating under a waiting step ends the wait with an error.
	errc := make(chan error, 1)
	go func() {
		_, _, err := runCLI(t, ctx, "emr", "add-step", "--cluster-id", id, "--wait", "--poll-interval", "100ms", "--", "run", "./job2")
		errc <- err
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		steps, err := ListSteps(ctx, api, id)
		if err != nil {
			t.Fatal(err)
		}
		if len(steps) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the second step was not added")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := api.TerminateJobFlows(ctx, &awsemr.TerminateJobFlowsInput{JobFlowIds: []string{id}}); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errc:
		if !errors.Is(err, ErrClusterNotActive) || !strings.Contains(err.Error(), "is TERMINATED while step") {
			t.Fatalf("err %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("--wait did not notice the terminated cluster")
	}

	// A terminated cluster takes no steps.
	_, _, err = runCLI(t, ctx, "emr", "add-step", "--cluster-id", id, "--", "run", "./job3")
	if !errors.Is(err, ErrClusterNotActive) {
		t.Fatalf("add to terminated: %v", err)
	}
}

func TestUnknownClusterOnMoto(t *testing.T) {
	_, _ = motoEMR(t)
	ctx := context.Background()
	for _, args := range [][]string{
		{"emr", "add-step", "--cluster-id", "j-NOSUCHCLUSTER", "--", "run", "./job"},
		{"emr", "steps", "--cluster-id", "j-NOSUCHCLUSTER"},
	} {
		_, _, err := runCLI(t, ctx, args...)
		if !errors.Is(err, ErrClusterNotFound) || !strings.Contains(err.Error(), "j-NOSUCHCLUSTER") || !strings.Contains(err.Error(), "check --cluster-id") {
			t.Errorf("%v: %v", args[1], err)
		}
	}
	_, _, err := runCLI(t, ctx, "emr", "add-step", "--cluster-id", "cluster-7", "--", "run")
	if !errors.Is(err, ErrClusterNotFound) || !strings.Contains(err.Error(), "not a cluster id") {
		t.Errorf("malformed id: %v", err)
	}
	_, _, err = runCLI(t, ctx, "emr", "add-step", "--cluster-id", "j-ABC")
	if !errors.Is(err, ErrInvalidStep) {
		t.Errorf("no arguments: %v", err)
	}
}

func TestClassificationsFromS3OnMoto(t *testing.T) {
	bed, _ := motoEMR(t)
	ctx := context.Background()
	s3c, err := NewS3Client(ctx, AWSOptions{EndpointURL: bed.Endpoint()})
	if err != nil {
		t.Fatal(err)
	}
	mustBucket(t, s3c, "confs")
	if _, err := s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("confs"), Key: aws.String("emr/conf.json"), Body: strings.NewReader(emrSlotsExample)}); err != nil {
		t.Fatal(err)
	}
	res, err := LoadClassifications(ctx, "s3://confs/emr/conf.json", LoadOptions{})
	if err != nil || len(res.Overlays) != 1 || res.Overlays[0].Entries[0].Value != "2" {
		t.Fatalf("%+v %v", res, err)
	}
	_, err = LoadClassifications(ctx, "s3://confs/emr/missing.json", LoadOptions{})
	if err == nil || !strings.Contains(err.Error(), "s3://confs/emr/missing.json: reading the S3 object") {
		t.Fatalf("missing: %v", err)
	}
	var out, notes bytes.Buffer
	if err := PrintClassifications(ctx, &out, &notes, "s3://confs/emr/conf.json", LoadOptions{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "taskmanager.numberOfTaskSlots") || !strings.Contains(out.String(), "classification flink-conf") {
		t.Fatalf("table:\n%s", out.String())
	}
}

func mustBucket(t *testing.T, c *s3.Client, name string) {
	t.Helper()
	if _, err := c.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatal(err)
	}
}

// fakeBinary writes a stand-in for the flink-go binary that answers --help.
func fakeBinary(t *testing.T, dir, tag string) string {
	t.Helper()
	p := filepath.Join(dir, "flink-go-"+tag)
	writeFile(t, p, "#!/bin/sh\necho \"flink-go "+tag+" $*\"\n")
	if err := os.Chmod(p, 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func runBootstrap(t *testing.T, root string, env map[string]string, args ...string) (string, error) {
	t.Helper()
	script := filepath.Join(t.TempDir(), bootstrap.ScriptName)
	if err := os.WriteFile(script, bootstrap.Script(), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sh", append([]string{script}, args...)...)
	cmd.Env = append(os.Environ(), "FLINK_GO_BOOTSTRAP_ROOT="+root)
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func sha(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func TestPublishAndBootstrapOnMoto(t *testing.T) {
	bed, _ := motoEMR(t)
	ctx := context.Background()
	s3c, err := NewS3Client(ctx, AWSOptions{})
	if err != nil {
		t.Fatal(err)
	}
	mustBucket(t, s3c, "artifacts")
	work := t.TempDir()
	v1 := fakeBinary(t, work, "v1")

	out, _, err := runCLI(t, ctx, "emr", "publish", "--bucket", "artifacts", "--prefix", "/releases/1/", "--binary", v1)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "Path=s3://artifacts/releases/1/install-flink-go.sh,Args=[--source,s3://artifacts/releases/1]") {
		t.Fatalf("publish output %q", out)
	}
	script, err := s3c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("artifacts"), Key: aws.String("releases/1/install-flink-go.sh")})
	if err != nil {
		t.Fatal(err)
	}
	script.Body.Close()

	downloaders := []string{"curl"}
	if _, err := exec.LookPath("aws"); err == nil {
		downloaders = append(downloaders, "aws")
	} else {
		t.Log("aws CLI not installed: testing the curl downloader only")
	}
	for _, dl := range downloaders {
		t.Run(dl, func(t *testing.T) {
			root := t.TempDir()
			env := bed.Env()
			env["FLINK_GO_BOOTSTRAP_DOWNLOADER"] = dl
			logOut, err := runBootstrap(t, root, env, "--source", "s3://artifacts/releases/1")
			if err != nil {
				t.Fatalf("bootstrap: %v\n%s", err, logOut)
			}
			bin := filepath.Join(root, "usr/lib/flink-go/bin/flink-go")
			if sha(t, bin) != sha(t, v1) {
				t.Fatal("installed binary differs from the published one")
			}
			if l, err := os.Readlink(filepath.Join(root, "usr/bin/flink-go")); err != nil || l != bin {
				t.Fatalf("link %q %v", l, err)
			}
			if l, err := os.Readlink(filepath.Join(root, "usr/lib/flink-go/conf")); err != nil || l != filepath.Join(root, "etc/flink-go/conf") {
				t.Fatalf("conf link %q %v", l, err)
			}
			if st, err := os.Stat(filepath.Join(root, "etc/flink-go/conf")); err != nil || !st.IsDir() {
				t.Fatalf("conf dir: %v", err)
			}
			run, err := exec.Command(filepath.Join(root, "usr/bin/flink-go"), "list").Output()
			if err != nil || strings.TrimSpace(string(run)) != "flink-go v1 list" {
				t.Fatalf("running the installed flink-go: %q %v", run, err)
			}
			logData, err := os.ReadFile(filepath.Join(root, "var/log/flink-go/bootstrap.log"))
			if err != nil || !strings.Contains(string(logData), "installed flink-go "+sha(t, v1)) {
				t.Fatalf("bootstrap log %q %v", logData, err)
			}

			// Idempotent: a second run changes nothing.
			st1, _ := os.Stat(bin)
			logOut, err = runBootstrap(t, root, env, "--source", "s3://artifacts/releases/1")
			if err != nil || !strings.Contains(logOut, "is already installed") {
				t.Fatalf("second run: %v\n%s", err, logOut)
			}
			st2, _ := os.Stat(bin)
			if !os.SameFile(st1, st2) || !st1.ModTime().Equal(st2.ModTime()) {
				t.Fatal("the second run replaced the binary")
			}

			// A missing object fails cleanly, naming it.
			logOut, err = runBootstrap(t, root, env, "--source", "s3://artifacts/releases/none")
			if err == nil || !strings.Contains(logOut, "ERROR: downloading s3://artifacts/releases/none/flink-go.sha256") {
				t.Fatalf("missing object: %v\n%s", err, logOut)
			}
		})
	}

	// A checksum that does not match the binary: the install fails and the old binary stays.
	v2 := fakeBinary(t, work, "v2")
	if _, _, err := runCLI(t, ctx, "emr", "publish", "--bucket", "artifacts", "--prefix", "releases/2", "--binary", v2); err != nil {
		t.Fatal(err)
	}
	bad := "0000000000000000000000000000000000000000000000000000000000000000  flink-go\n"
	if _, err := s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("artifacts"), Key: aws.String("releases/2/flink-go.sha256"), Body: strings.NewReader(bad)}); err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	env := bed.Env()
	env["FLINK_GO_BOOTSTRAP_DOWNLOADER"] = "curl"
	if out, err := runBootstrap(t, root, env, "--source", "s3://artifacts/releases/1"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	out, err = runBootstrap(t, root, env, "--source", "s3://artifacts/releases/2")
	if err == nil || !strings.Contains(out, "checksum mismatch for s3://artifacts/releases/2/flink-go: expected 0000") {
		t.Fatalf("bad checksum: %v\n%s", err, out)
	}
	if sha(t, filepath.Join(root, "usr/lib/flink-go/bin/flink-go")) != sha(t, v1) {
		t.Fatal("a failed install replaced the working binary")
	}
	// A good new release replaces the old binary.
	if _, _, err := runCLI(t, ctx, "emr", "publish", "--bucket", "artifacts", "--prefix", "releases/2", "--binary", v2); err != nil {
		t.Fatal(err)
	}
	if out, err := runBootstrap(t, root, env, "--source", "s3://artifacts/releases/2"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if sha(t, filepath.Join(root, "usr/lib/flink-go/bin/flink-go")) != sha(t, v2) {
		t.Fatal("the new release was not installed")
	}
}

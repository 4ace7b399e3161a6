package emr

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsemr "github.com/aws/aws-sdk-go-v2/service/emr"
	"github.com/aws/aws-sdk-go-v2/service/emr/types"

	"github.com/flink-go/flink-go/bootstrap"
)

// ErrInvalidCluster is wrapped by errors about a cluster specification.
var ErrInvalidCluster = errors.New("invalid EMR cluster specification")

// Defaults of ClusterSpec.
const (
	DefaultReleaseLabel = "emr-7.5.0"
	DefaultInstanceType = "m5.xlarge"
	DefaultCoreCount    = 2
	DefaultServiceRole  = "EMR_DefaultRole"
	DefaultJobFlowRole  = "EMR_EC2_DefaultRole"
)

// ClusterSpec describes a cluster that runs flink-go. By default it is transient: it
// terminates when its last step ends (KeepJobFlowAliveWhenNoSteps=false).
type ClusterSpec struct {
	// Name of the cluster; empty means "flink-go".
	Name string
	// ReleaseLabel is the EMR release, e.g. emr-7.5.0.
	ReleaseLabel string
	// Applications to install; empty means Hadoop (YARN and HDFS, which flink-go runs on).
	Applications []string
	// LogURI is where EMR archives logs (s3://...), optional.
	LogURI string
	// MasterInstanceType and CoreInstanceType are EC2 instance types; empty means
	// DefaultInstanceType.
	MasterInstanceType, CoreInstanceType string
	// CoreInstanceCount is the number of core nodes (0 means DefaultCoreCount).
	CoreInstanceCount int
	// SubnetID and KeyName are optional EC2 settings.
	SubnetID, KeyName string
	// ServiceRole and JobFlowRole are the IAM roles; empty means EMR's default roles.
	ServiceRole, JobFlowRole string
	// BootstrapSource is where 'flink-go emr publish' put the binary, checksum and script
	// (s3://bucket/prefix). Required.
	BootstrapSource string
	// BootstrapConfig is an optional config.yaml URL the bootstrap action installs.
	BootstrapConfig string
	// Classifications are the configuration classifications. EMR receives those it knows:
	// the Hadoop and other applications' ones always, flink-conf and the flink-log4j ones only
	// when Flink is among the applications, never flink-go-conf (EMR rejects names it does
	// not know). flink-go itself reads the document through ClassificationsURL.
	Classifications []Classification
	// ClassificationsURL is where the steps' flink-go reads the classification document
	// (s3:// or https://): each step runs "flink-go --classifications URL ...". Empty means
	// the steps see only the configuration installed on the nodes.
	ClassificationsURL string
	// Steps run in order; a transient cluster terminates after the last one.
	Steps []StepSpec
	// KeepAlive keeps the cluster running when it has no steps left (a long-running cluster).
	KeepAlive bool
	// Tags are EMR tags.
	Tags map[string]string
}

// RunJobFlowRequest builds the RunJobFlow request for spec. It checks the classifications with
// Translate (leaving EMR's hiera references to EMR) and every step with StepConfig. A
// transient cluster needs at least one step; its steps default to TERMINATE_CLUSTER on failure.
func RunJobFlowRequest(spec ClusterSpec) (*awsemr.RunJobFlowInput, error) {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: %s", ErrInvalidCluster, fmt.Sprintf(format, args...)))
	}
	if spec.Name == "" {
		spec.Name = "flink-go"
	}
	if spec.ReleaseLabel == "" {
		spec.ReleaseLabel = DefaultReleaseLabel
	}
	if !strings.HasPrefix(spec.ReleaseLabel, "emr-") {
		bad("release label %q should look like emr-7.5.0", spec.ReleaseLabel)
	}
	if spec.MasterInstanceType == "" {
		spec.MasterInstanceType = DefaultInstanceType
	}
	if spec.CoreInstanceType == "" {
		spec.CoreInstanceType = DefaultInstanceType
	}
	if spec.CoreInstanceCount == 0 {
		spec.CoreInstanceCount = DefaultCoreCount
	}
	if spec.CoreInstanceCount < 0 || spec.CoreInstanceCount > 500 {
		bad("core instance count %d out of range 1..500", spec.CoreInstanceCount)
	}
	if spec.ServiceRole == "" {
		spec.ServiceRole = DefaultServiceRole
	}
	if spec.JobFlowRole == "" {
		spec.JobFlowRole = DefaultJobFlowRole
	}
	if len(spec.Applications) == 0 {
		spec.Applications = []string{"Hadoop"}
	}
	if spec.LogURI != "" && !strings.HasPrefix(spec.LogURI, "s3://") && !strings.HasPrefix(spec.LogURI, "s3n://") {
		bad("log URI %q must be an s3:// location", spec.LogURI)
	}
	source := strings.TrimSuffix(spec.BootstrapSource, "/")
	if !strings.HasPrefix(source, "s3://") || len(source) <= len("s3://") {
		bad("the bootstrap source %q must be the s3://bucket/prefix that 'flink-go emr publish' uploaded to", spec.BootstrapSource)
	}
	if !spec.KeepAlive && len(spec.Steps) == 0 {
		bad("a transient cluster needs a step (add '-- run -t yarn-application ...'), or keep it alive with --keep-alive")
	}
	if len(spec.Steps) > 256 {
		bad("%d steps; EMR allows 256", len(spec.Steps))
	}
	if _, err := Translate(spec.Classifications, TranslateOptions{KeepHiera: true}); err != nil {
		errs = append(errs, fmt.Errorf("%w: classifications: %w", ErrInvalidCluster, err))
	}
	var steps []types.StepConfig
	for i, s := range spec.Steps {
		if s.ActionOnFailure == "" {
			s.ActionOnFailure = string(types.ActionOnFailureTerminateCluster)
		}
		if spec.ClassificationsURL != "" {
			s.Args = append([]string{"--classifications", spec.ClassificationsURL}, s.Args...)
		}
		sc, err := StepConfig(s)
		if err != nil {
			errs = append(errs, fmt.Errorf("step %d: %w", i+1, err))
			continue
		}
		steps = append(steps, sc)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}

	baArgs := []string{"--source", source}
	if spec.BootstrapConfig != "" {
		baArgs = append(baArgs, "--config", spec.BootstrapConfig)
	}
	in := &awsemr.RunJobFlowInput{
		Name:         aws.String(spec.Name),
		ReleaseLabel: aws.String(spec.ReleaseLabel),
		Instances: &types.JobFlowInstancesConfig{
			InstanceGroups: []types.InstanceGroupConfig{
				{Name: aws.String("Primary"), InstanceRole: types.InstanceRoleTypeMaster, InstanceType: aws.String(spec.MasterInstanceType), InstanceCount: aws.Int32(1), Market: types.MarketTypeOnDemand},
				{Name: aws.String("Core"), InstanceRole: types.InstanceRoleTypeCore, InstanceType: aws.String(spec.CoreInstanceType), InstanceCount: aws.Int32(int32(spec.CoreInstanceCount)), Market: types.MarketTypeOnDemand},
			},
			KeepJobFlowAliveWhenNoSteps: aws.Bool(spec.KeepAlive),
			TerminationProtected:        aws.Bool(false),
		},
		BootstrapActions: []types.BootstrapActionConfig{{
			Name: aws.String("Install flink-go"),
			ScriptBootstrapAction: &types.ScriptBootstrapActionConfig{
				Path: aws.String(source + "/" + bootstrap.ScriptName),
				Args: baArgs,
			},
		}},
		Steps:             steps,
		ServiceRole:       aws.String(spec.ServiceRole),
		JobFlowRole:       aws.String(spec.JobFlowRole),
		VisibleToAllUsers: aws.Bool(true),
	}
	if spec.SubnetID != "" {
		in.Instances.Ec2SubnetId = aws.String(spec.SubnetID)
	}
	if spec.KeyName != "" {
		in.Instances.Ec2KeyName = aws.String(spec.KeyName)
	}
	if spec.LogURI != "" {
		in.LogUri = aws.String(spec.LogURI)
	}
	for _, a := range spec.Applications {
		in.Applications = append(in.Applications, types.Application{Name: aws.String(a)})
	}
	in.Configurations = toAPIConfigurations(forEMR(spec.Classifications, spec.Applications))
	for _, k := range sortedKeys(spec.Tags) {
		in.Tags = append(in.Tags, types.Tag{Key: aws.String(k), Value: aws.String(spec.Tags[k])})
	}
	return in, nil
}

// forEMR keeps the classifications EMR accepts for a cluster with these applications.
func forEMR(cls []Classification, apps []string) []Classification {
	flink := false
	for _, a := range apps {
		flink = flink || strings.EqualFold(a, "Flink")
	}
	var out []Classification
	for _, c := range cls {
		switch {
		case c.Classification == ClassFlinkGoConf:
		case strings.HasPrefix(c.Classification, "flink-") && !flink:
		default:
			out = append(out, c)
		}
	}
	return out
}

func toAPIConfigurations(cls []Classification) []types.Configuration {
	var out []types.Configuration
	for _, c := range cls {
		out = append(out, types.Configuration{
			Classification: aws.String(c.Classification),
			Properties:     c.Properties,
			Configurations: toAPIConfigurations(c.Configurations),
		})
	}
	return out
}

// RequestJSON renders a request as indented JSON with the API's member names, leaving out
// unset members, for printing and review.
func RequestJSON(in any) ([]byte, error) {
	raw, err := json.Marshal(in)
	if err != nil {
		return nil, fmt.Errorf("encoding the request: %w", err)
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, fmt.Errorf("encoding the request: %w", err)
	}
	v = prune(v)
	out, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encoding the request: %w", err)
	}
	return append(out, '\n'), nil
}

// prune drops nulls, empty strings (unset enums) and empty arrays and objects.
func prune(v any) any {
	switch t := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		out := map[string]any{}
		for _, k := range keys {
			if p := prune(t[k]); p != nil {
				out[k] = p
			}
		}
		if len(out) == 0 {
			return nil
		}
		return out
	case []any:
		var out []any
		for _, e := range t {
			if p := prune(e); p != nil {
				out = append(out, p)
			}
		}
		if len(out) == 0 {
			return nil
		}
		return out
	case string:
		if t == "" {
			return nil
		}
		return t
	}
	return v
}

// CreateCluster sends a RunJobFlow request and returns the new cluster's id.
func CreateCluster(ctx context.Context, api API, in *awsemr.RunJobFlowInput) (string, error) {
	out, err := api.RunJobFlow(ctx, in)
	if err != nil {
		return "", fmt.Errorf("RunJobFlow (check the roles %s/%s, the release label and the instance types): %w", aws.ToString(in.ServiceRole), aws.ToString(in.JobFlowRole), err)
	}
	return aws.ToString(out.JobFlowId), nil
}

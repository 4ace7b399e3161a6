package emr

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"github.com/urfave/cli/v2"

	"github.com/flink-go/flink-go/bootstrap"
	"github.com/flink-go/flink-go/configs"
)

// Environment variables of the emr commands.
const (
	// EnvEndpointEMR overrides the EMR endpoint (the SDK's own variable).
	EnvEndpointEMR = "AWS_ENDPOINT_URL_EMR"
	// EnvEndpointS3 overrides the S3 endpoint (the SDK's own variable).
	EnvEndpointS3 = "AWS_ENDPOINT_URL_S3"
	// EnvNodeRoot moves the EMR node files (instance.json, ...) for tests.
	EnvNodeRoot = "FLINK_GO_EMR_ROOT"
)

// Overlays loads the classification document at location and returns its configuration
// overlays, for configs.LoadOptions.Overlays (precedence: file < classifications < -D). It is
// the hook behind the CLI's --classifications flag. Notices are logged to logger (nil: none).
func Overlays(ctx context.Context, location string, logger *zerolog.Logger) ([]configs.Overlay, error) {
	res, err := LoadClassifications(ctx, location, LoadOptions{Logger: logger})
	if err != nil {
		return nil, err
	}
	return res.Overlays, nil
}

var (
	regionFlag   = &cli.StringFlag{Name: "region", Usage: "AWS region (default: AWS_REGION or the shared config)"}
	emrEndpoint  = &cli.StringFlag{Name: "endpoint-url", Usage: "EMR API endpoint (for tests)", EnvVars: []string{EnvEndpointEMR}}
	clusterFlag  = &cli.StringFlag{Name: "cluster-id", Usage: "the cluster, j-XXXXXXXXXXXXX (default on an EMR node: this node's cluster)"}
	s3Endpoint   = &cli.StringFlag{Name: "endpoint-url", Usage: "S3 endpoint (for tests)", EnvVars: []string{EnvEndpointS3}}
	pollFlag     = &cli.DurationFlag{Name: "poll-interval", Value: 10 * time.Second, Usage: "how often --wait asks EMR for the step's state"}
	waitTimeFlag = &cli.DurationFlag{Name: "wait-timeout", Usage: "give up waiting after this long (0: no limit); the step goes on"}
)

// Commands returns the "emr" command with its subcommands, for the flink-go CLI.
func Commands() []*cli.Command {
	return []*cli.Command{{
		Name:  "emr",
		Usage: "run flink-go on Amazon EMR: steps, transient clusters, the bootstrap action, classifications",
		Subcommands: []*cli.Command{
			addStepCommand(), stepsCommand(), createClusterCommand(), bootstrapScriptCommand(),
			publishCommand(), classificationsCommand(), nodeInfoCommand(),
		},
	}}
}

func awsOpts(c *cli.Context) AWSOptions {
	return AWSOptions{Region: c.String("region"), EndpointURL: c.String("endpoint-url")}
}

func clusterID(c *cli.Context) (string, error) { return clusterIDFromEnv(c.String("cluster-id")) }

// clusterIDFromEnv returns flag if set, else the cluster of the EMR node this runs on.
func clusterIDFromEnv(flag string) (string, error) {
	if flag != "" {
		return flag, CheckClusterID(flag)
	}
	n, err := DetectNode(os.Getenv(EnvNodeRoot))
	if err == nil {
		return n.ClusterID, nil
	}
	if errors.Is(err, ErrNotEMR) {
		return "", errors.New("--cluster-id is required (not on an EMR node)")
	}
	return "", fmt.Errorf("--cluster-id not given and this EMR node's cluster is unknown: %w", err)
}

func addStepCommand() *cli.Command {
	return &cli.Command{
		Name:      "add-step",
		Usage:     "submit a step that runs flink-go on the cluster's primary node",
		ArgsUsage: "-- <flink-go arguments, e.g. run -t yarn-application ./myjob>",
		Description: `Adds a command-runner.jar step running "flink-go <arguments>" on the primary node (the
   bootstrap action put flink-go on its PATH). With --wait it follows the step and exits with
   its result: 0 when it COMPLETED, 1 when it FAILED, was CANCELLED or INTERRUPTED.`,
		Flags: []cli.Flag{clusterFlag, regionFlag, emrEndpoint,
			&cli.StringFlag{Name: "name", Usage: "step name (default: flink-go and the first arguments)"},
			&cli.StringFlag{Name: "action-on-failure", Value: "CONTINUE", Usage: "CONTINUE, CANCEL_AND_WAIT or TERMINATE_CLUSTER"},
			&cli.BoolFlag{Name: "wait", Usage: "follow the step until it ends and exit with its result"},
			pollFlag, waitTimeFlag},
		Action: func(c *cli.Context) error {
			id, err := clusterID(c)
			if err != nil {
				return err
			}
			spec := StepSpec{Name: c.String("name"), ActionOnFailure: c.String("action-on-failure"), Args: c.Args().Slice()}
			if _, err := StepConfig(spec); err != nil {
				return err
			}
			api, err := NewEMRClient(c.Context, awsOpts(c))
			if err != nil {
				return err
			}
			stepID, err := AddStep(c.Context, api, id, spec)
			if err != nil {
				return err
			}
			fmt.Fprintf(c.App.Writer, "Step %s added to cluster %s\n", stepID, id)
			if !c.Bool("wait") {
				return nil
			}
			start := time.Now()
			st, err := WaitStep(c.Context, api, id, stepID, WaitOptions{
				Poll: c.Duration("poll-interval"), Timeout: c.Duration("wait-timeout"),
				Progress: func(s StepStatus) {
					fmt.Fprintf(c.App.ErrWriter, "%s step %s is %s\n", time.Since(start).Round(time.Second), s.ID, s.State)
				},
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(c.App.Writer, "Step %s %s\n", stepID, st.State)
			return nil
		},
	}
}

func stepsCommand() *cli.Command {
	return &cli.Command{
		Name:  "steps",
		Usage: "list a cluster's steps and their states",
		Flags: []cli.Flag{clusterFlag, regionFlag, emrEndpoint, &cli.BoolFlag{Name: "json", Usage: "print JSON instead of a table"}},
		Action: func(c *cli.Context) error {
			id, err := clusterID(c)
			if err != nil {
				return err
			}
			api, err := NewEMRClient(c.Context, awsOpts(c))
			if err != nil {
				return err
			}
			steps, err := ListSteps(c.Context, api, id)
			if err != nil {
				return err
			}
			if c.Bool("json") {
				enc := json.NewEncoder(c.App.Writer)
				enc.SetIndent("", "  ")
				return enc.Encode(steps)
			}
			return WriteStepTable(c.App.Writer, steps)
		},
	}
}

func createClusterCommand() *cli.Command {
	return &cli.Command{
		Name:      "create-cluster",
		Usage:     "print (or with --execute send) a RunJobFlow request for a transient cluster running flink-go",
		ArgsUsage: "-- <flink-go arguments of the step, e.g. run -t yarn-application ./myjob>",
		Description: `Builds a cluster with the flink-go bootstrap action (from 'flink-go emr publish'), the
   classifications and one step running "flink-go <arguments>". Unless --keep-alive is given, the
   cluster terminates when the step ends (KeepJobFlowAliveWhenNoSteps=false), and a failed step
   terminates it (TERMINATE_CLUSTER). Without --execute the request is printed as JSON.`,
		Flags: []cli.Flag{regionFlag, emrEndpoint,
			&cli.StringFlag{Name: "source", Required: true, Usage: "s3://bucket/prefix where 'flink-go emr publish' uploaded flink-go"},
			&cli.StringFlag{Name: "name", Value: "flink-go", Usage: "cluster name"},
			&cli.StringFlag{Name: "release-label", Value: DefaultReleaseLabel, Usage: "EMR release"},
			&cli.StringSliceFlag{Name: "application", Usage: "EMR application to install (repeatable; default Hadoop)"},
			&cli.StringFlag{Name: "instance-type", Value: DefaultInstanceType, Usage: "EC2 instance type of all nodes"},
			&cli.StringFlag{Name: "master-instance-type", Usage: "instance type of the primary node (default --instance-type)"},
			&cli.StringFlag{Name: "core-instance-type", Usage: "instance type of the core nodes (default --instance-type)"},
			&cli.IntFlag{Name: "core-count", Value: DefaultCoreCount, Usage: "number of core nodes"},
			&cli.StringFlag{Name: "log-uri", Usage: "s3:// location for the cluster's logs"},
			&cli.StringFlag{Name: "subnet", Usage: "EC2 subnet id"},
			&cli.StringFlag{Name: "key-name", Usage: "EC2 key pair for SSH"},
			&cli.StringFlag{Name: "service-role", Value: DefaultServiceRole},
			&cli.StringFlag{Name: "job-flow-role", Value: DefaultJobFlowRole, Usage: "instance profile of the nodes"},
			&cli.StringFlag{Name: "classifications", Usage: "classification document (file, https:// or s3://); s3:// and https:// documents are also read by the step's flink-go"},
			&cli.StringFlag{Name: "config-url", Usage: "a config.yaml the bootstrap action installs in /etc/flink-go/conf"},
			&cli.StringFlag{Name: "step-name", Usage: "name of the step"},
			&cli.StringFlag{Name: "action-on-failure", Value: "TERMINATE_CLUSTER", Usage: "the step's action on failure"},
			&cli.BoolFlag{Name: "keep-alive", Usage: "keep the cluster running after its steps (long-running cluster)"},
			&cli.StringSliceFlag{Name: "tag", Usage: "tag key=value (repeatable)"},
			&cli.BoolFlag{Name: "execute", Usage: "send the request and print the new cluster's id"},
		},
		Action: func(c *cli.Context) error {
			spec := ClusterSpec{
				Name: c.String("name"), ReleaseLabel: c.String("release-label"), Applications: c.StringSlice("application"),
				LogURI: c.String("log-uri"), MasterInstanceType: c.String("master-instance-type"), CoreInstanceType: c.String("core-instance-type"),
				CoreInstanceCount: c.Int("core-count"), SubnetID: c.String("subnet"), KeyName: c.String("key-name"),
				ServiceRole: c.String("service-role"), JobFlowRole: c.String("job-flow-role"),
				BootstrapSource: c.String("source"), BootstrapConfig: c.String("config-url"), KeepAlive: c.Bool("keep-alive"),
				Tags: map[string]string{},
			}
			if spec.MasterInstanceType == "" {
				spec.MasterInstanceType = c.String("instance-type")
			}
			if spec.CoreInstanceType == "" {
				spec.CoreInstanceType = c.String("instance-type")
			}
			for _, t := range c.StringSlice("tag") {
				k, v, ok := strings.Cut(t, "=")
				if !ok || k == "" {
					return fmt.Errorf("--tag %q: expected key=value", t)
				}
				spec.Tags[k] = v
			}
			if c.NArg() > 0 {
				spec.Steps = []StepSpec{{Name: c.String("step-name"), ActionOnFailure: c.String("action-on-failure"), Args: c.Args().Slice()}}
			}
			if loc := c.String("classifications"); loc != "" {
				data, err := FetchDocument(c.Context, loc, LoadOptions{AWS: AWSOptions{Region: c.String("region")}})
				if err != nil {
					return err
				}
				cls, err := ParseClassifications(data, loc)
				if err != nil {
					return err
				}
				spec.Classifications = cls
				if strings.HasPrefix(loc, "s3://") || strings.HasPrefix(loc, "https://") {
					spec.ClassificationsURL = loc
				} else {
					fmt.Fprintf(c.App.ErrWriter, "note: %s is a local file, which the step's flink-go cannot read: its flink-conf and flink-log4j settings do not reach flink-go on the cluster (upload it to S3 and pass the s3:// URL)\n", loc)
				}
			}
			in, err := RunJobFlowRequest(spec)
			if err != nil {
				return err
			}
			if !c.Bool("execute") {
				out, err := RequestJSON(in)
				if err != nil {
					return err
				}
				_, err = c.App.Writer.Write(out)
				return err
			}
			api, err := NewEMRClient(c.Context, awsOpts(c))
			if err != nil {
				return err
			}
			id, err := CreateCluster(c.Context, api, in)
			if err != nil {
				return err
			}
			fmt.Fprintf(c.App.Writer, "Cluster %s created\n", id)
			return nil
		},
	}
}

func bootstrapScriptCommand() *cli.Command {
	return &cli.Command{
		Name:  "bootstrap-script",
		Usage: "print the bootstrap action that installs flink-go on EMR nodes",
		Action: func(c *cli.Context) error {
			_, err := c.App.Writer.Write(bootstrap.Script())
			return err
		},
	}
}

func publishCommand() *cli.Command {
	return &cli.Command{
		Name:  "publish",
		Usage: "upload the flink-go binary, its checksum and the bootstrap script to S3",
		Flags: []cli.Flag{regionFlag, s3Endpoint,
			&cli.StringFlag{Name: "bucket", Required: true, Usage: "bucket name"},
			&cli.StringFlag{Name: "prefix", Value: "flink-go", Usage: "key prefix"},
			&cli.StringFlag{Name: "binary", Usage: "the flink-go binary to upload, built for linux/amd64 or linux/arm64 as the nodes (default: this binary)"},
		},
		Action: func(c *cli.Context) error {
			bin := c.String("binary")
			if bin == "" {
				exe, err := os.Executable()
				if err != nil {
					return fmt.Errorf("finding this binary (pass --binary): %w", err)
				}
				bin = exe
			}
			s3c, err := NewS3Client(c.Context, awsOpts(c))
			if err != nil {
				return err
			}
			p, err := Publish(c.Context, s3c, c.String("bucket"), c.String("prefix"), bin)
			if err != nil {
				return err
			}
			fmt.Fprintf(c.App.Writer, "Published flink-go (sha256 %s) to %s\nBootstrap action: %s\nCreate a cluster: flink-go emr create-cluster --source %s -- run -t yarn-application <job>\n",
				p.SHA256, p.Source, p.BootstrapActionArg(), p.Source)
			return nil
		},
	}
}

func classificationsCommand() *cli.Command {
	return &cli.Command{
		Name:      "classifications",
		Usage:     "check a classification document and print the configuration it gives flink-go",
		ArgsUsage: "<file, https:// or s3:// URL>",
		Flags: []cli.Flag{regionFlag, s3Endpoint,
			&cli.StringSliceFlag{Name: "hiera", Usage: "value of an EMR hiera key: --hiera hadoop::zk=host:2181 (repeatable)"}},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return errors.New("classifications needs one document: flink-go emr classifications <file|https://...|s3://...>")
			}
			hiera := map[string]string{}
			for _, h := range c.StringSlice("hiera") {
				k, v, ok := strings.Cut(h, "=")
				if !ok || k == "" {
					return fmt.Errorf("--hiera %q: expected key=value", h)
				}
				hiera[k] = v
			}
			return PrintClassifications(c.Context, c.App.Writer, c.App.ErrWriter, c.Args().First(), LoadOptions{AWS: awsOpts(c), Translate: TranslateOptions{Hiera: hiera}})
		},
	}
}

// PrintClassifications loads a document and prints the keys it sets, with origins, as
// 'flink-go config' does, and its notices to notes.
func PrintClassifications(ctx context.Context, w, notes io.Writer, location string, o LoadOptions) error {
	nop := zerolog.Nop()
	o.Logger = &nop
	res, err := LoadClassifications(ctx, location, o)
	if err != nil {
		return err
	}
	for _, n := range res.Notices {
		fmt.Fprintln(notes, "note:", n)
	}
	conf, err := configs.Load(configs.LoadOptions{Overlays: res.Overlays, LookupEnv: func(string) (string, bool) { return "", false }, Logger: &nop})
	if err != nil {
		return err
	}
	return configs.Render(w, conf, configs.RenderOptions{})
}

func nodeInfoCommand() *cli.Command {
	return &cli.Command{
		Name:  "node-info",
		Usage: "describe the EMR node this runs on (cluster id, primary or not, instance group)",
		Flags: []cli.Flag{&cli.StringFlag{Name: "root", Usage: "file system root of the EMR files (for tests)", EnvVars: []string{EnvNodeRoot}}},
		Action: func(c *cli.Context) error {
			n, err := DetectNode(c.String("root"))
			if err != nil {
				return err
			}
			out := map[string]any{
				"clusterId": n.ClusterID, "isMaster": n.IsMaster, "instanceGroupId": n.InstanceGroupID,
				"instanceRole": n.InstanceRole, "masterPrivateDnsName": n.MasterPrivateDNS,
				"hadoopConfDir": DefaultHadoopConfDir(n.Root, nil), "stepLogDir": n.Path(StepLogDir),
			}
			enc := json.NewEncoder(c.App.Writer)
			enc.SetIndent("", "  ")
			return enc.Encode(out)
		},
	}
}

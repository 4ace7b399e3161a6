package emr

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	awsemr "github.com/aws/aws-sdk-go-v2/service/emr"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// AWSOptions say how to reach AWS. Credentials and the region come from the SDK's default
// chain (environment, shared config, the EC2 instance profile on EMR nodes).
type AWSOptions struct {
	// Region overrides the region of the default chain.
	Region string
	// EndpointURL overrides the service endpoint (for tests against a local server). Empty
	// means the SDK's own resolution, which honours AWS_ENDPOINT_URL_EMR / AWS_ENDPOINT_URL_S3
	// and AWS_ENDPOINT_URL.
	EndpointURL string
}

func loadAWSConfig(ctx context.Context, o AWSOptions) (aws.Config, error) {
	var opts []func(*awsconfig.LoadOptions) error
	if o.Region != "" {
		opts = append(opts, awsconfig.WithRegion(o.Region))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("loading AWS configuration (credentials, region): %w", err)
	}
	if cfg.Region == "" {
		return aws.Config{}, fmt.Errorf("no AWS region: set --region, AWS_REGION or a region in ~/.aws/config")
	}
	return cfg, nil
}

// NewEMRClient returns an EMR API client.
func NewEMRClient(ctx context.Context, o AWSOptions) (*awsemr.Client, error) {
	cfg, err := loadAWSConfig(ctx, o)
	if err != nil {
		return nil, err
	}
	return awsemr.NewFromConfig(cfg, func(opt *awsemr.Options) {
		if o.EndpointURL != "" {
			opt.BaseEndpoint = aws.String(o.EndpointURL)
		}
	}), nil
}

// NewS3Client returns an S3 client. With an endpoint override (the option or
// AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL) it uses path-style addressing, as S3-compatible
// servers on localhost need.
func NewS3Client(ctx context.Context, o AWSOptions) (*s3.Client, error) {
	cfg, err := loadAWSConfig(ctx, o)
	if err != nil {
		return nil, err
	}
	pathStyle := o.EndpointURL != "" || os.Getenv("AWS_ENDPOINT_URL_S3") != "" || os.Getenv("AWS_ENDPOINT_URL") != ""
	return s3.NewFromConfig(cfg, func(opt *s3.Options) {
		if o.EndpointURL != "" {
			opt.BaseEndpoint = aws.String(o.EndpointURL)
		}
		opt.UsePathStyle = pathStyle
		// S3-compatible servers often return no checksums; that is not worth a log line.
		opt.DisableLogOutputChecksumValidationSkipped = true
	}), nil
}

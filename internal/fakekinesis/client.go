package fakekinesis

import (
	"github.com/kinesis-agg/kinesis_agg/kinesisapi"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
)

// NewClient returns an SDK client for a fake at endpoint, with static credentials (the fake
// checks no signature) and no SDK retries. The product builds its client with
// kinesisapi.NewClient; this one is for tests that talk to the fake directly.
func NewClient(endpoint string, optFns ...func(*kinesis.Options)) *kinesis.Client {
	return kinesis.New(kinesis.Options{
		Region:       Region,
		BaseEndpoint: aws.String(endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDFAKEKINESIS", "fakekinesis-secret", ""),
		Retryer:      aws.NopRetryer{},
		HTTPClient:   kinesisapi.KeepAlive(awshttp.NewBuildableClient()),
	}, optFns...)
}

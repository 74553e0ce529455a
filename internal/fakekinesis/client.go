package fakekinesis

import (
	"io"
	"net/http"

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
		HTTPClient:   readOnlyBodies{awshttp.NewBuildableClient()},
	}, optFns...)
}

// readOnlyBodies hides the request body's WriteTo from net/http, as kinesisapi's client does:
// smithy-go closes the body when the response arrives, and a fast endpoint answers before
// net/http's writer has made its last read, which then fails and makes net/http drop the
// connection, sometimes while the response is still being read ("use of closed network
// connection").
type readOnlyBodies struct{ c aws.HTTPClient }

func (k readOnlyBodies) Do(r *http.Request) (*http.Response, error) {
	if r.Body != nil && r.Body != http.NoBody {
		r.Body = readCloser{r.Body}
	}
	return k.c.Do(r)
}

type readCloser struct{ rc io.ReadCloser }

func (b readCloser) Read(p []byte) (int, error) { return b.rc.Read(p) }
func (b readCloser) Close() error               { return b.rc.Close() }

package kinesisapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// withStatus wraps err the way the SDK does for an HTTP response.
func withStatus(status int, err error) error {
	return &smithy.OperationError{ServiceID: "Kinesis", OperationName: "PutRecords", Err: &awshttp.ResponseError{
		ResponseError: &smithyhttp.ResponseError{Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status}}, Err: err},
	}}
}

func TestClassify(t *testing.T) {
	generic := func(code string, fault smithy.ErrorFault) error {
		return &smithy.GenericAPIError{Code: code, Message: "m", Fault: fault}
	}
	tests := []struct {
		name string
		err  error
		want Kind
		code string
	}{
		{"PTE entry-like", withStatus(400, &types.ProvisionedThroughputExceededException{}), Throttled, "ProvisionedThroughputExceededException"},
		{"limit exceeded", withStatus(400, &types.LimitExceededException{}), Throttled, "LimitExceededException"},
		{"kms throttling", withStatus(400, &types.KMSThrottlingException{}), Throttled, "KMSThrottlingException"},
		{"429 unknown code", withStatus(429, generic("Whatever", smithy.FaultClient)), Throttled, "Whatever"},
		{"not found", withStatus(400, &types.ResourceNotFoundException{}), Permanent, "ResourceNotFoundException"},
		{"access denied", withStatus(400, &types.AccessDeniedException{}), Permanent, "AccessDeniedException"},
		{"validation", withStatus(400, generic("ValidationException", smithy.FaultClient)), Permanent, "ValidationException"},
		{"invalid argument", withStatus(400, &types.InvalidArgumentException{}), Permanent, "InvalidArgumentException"},
		{"kms access denied", withStatus(400, &types.KMSAccessDeniedException{}), Permanent, "KMSAccessDeniedException"},
		{"kms disabled", withStatus(400, &types.KMSDisabledException{}), Permanent, "KMSDisabledException"},
		{"kms not found", withStatus(400, &types.KMSNotFoundException{}), Permanent, "KMSNotFoundException"},
		{"kms invalid state", withStatus(400, &types.KMSInvalidStateException{}), Permanent, "KMSInvalidStateException"},
		{"kms opt in", withStatus(400, &types.KMSOptInRequired{}), Permanent, "KMSOptInRequired"},
		{"bad signature", withStatus(400, generic("InvalidSignatureException", smithy.FaultClient)), Permanent, "InvalidSignatureException"},
		{"unrecognized client", withStatus(400, generic("UnrecognizedClientException", smithy.FaultClient)), Permanent, "UnrecognizedClientException"},
		{"unknown 4xx", withStatus(400, generic("NewException", smithy.FaultClient)), Permanent, "NewException"},
		{"resource in use", withStatus(400, &types.ResourceInUseException{}), Transient, "ResourceInUseException"},
		{"internal failure 500", withStatus(500, generic("InternalFailure", smithy.FaultServer)), UnknownOutcome, "InternalFailure"},
		{"503", withStatus(503, generic("ServiceUnavailable", smithy.FaultServer)), UnknownOutcome, "ServiceUnavailable"},
		{"server fault without status", generic("InternalFailure", smithy.FaultServer), UnknownOutcome, "InternalFailure"},
		{"client fault without status", generic("Whatever", smithy.FaultClient), Permanent, "Whatever"},
		{"bare 502", withStatus(502, errors.New("bad gateway")), UnknownOutcome, ""},
		{"bare 403", withStatus(403, errors.New("forbidden")), Permanent, ""},
		{"credentials", fmt.Errorf("get identity: %w", &CredentialsError{Err: errors.New("no EC2 IMDS role found")}), Permanent, ""},
		{"canceled", &smithy.CanceledError{Err: context.Canceled}, Canceled, ""},
		{"ctx canceled plain", fmt.Errorf("x: %w", context.Canceled), Canceled, ""},
		{"invalid params", &smithy.OperationError{Err: &smithy.InvalidParamsError{Context: "PutRecordsInput"}}, Permanent, ""},
		{"dial refused", &smithyhttp.RequestSendError{Err: &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}}, Transient, ""},
		{"dns", &smithyhttp.RequestSendError{Err: &net.DNSError{Err: "no such host", Name: "x"}}, Transient, ""},
		{"reset after send", &smithyhttp.RequestSendError{Err: &net.OpError{Op: "read", Net: "tcp", Err: errors.New("connection reset by peer")}}, UnknownOutcome, ""},
		{"eof", &smithyhttp.RequestSendError{Err: io.ErrUnexpectedEOF}, UnknownOutcome, ""},
		{"undecodable", &smithy.DeserializationError{Err: errors.New("unexpected end of JSON input")}, UnknownOutcome, ""},
		{"read timeout", &awshttp.ResponseTimeoutError{TimeoutDur: 1}, UnknownOutcome, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Classify(tt.err); got != tt.want {
				t.Errorf("Classify(%v) = %v, want %v", tt.err, got, tt.want)
			}
			if got := ErrorCode(tt.err); got != tt.code {
				t.Errorf("ErrorCode = %q, want %q", got, tt.code)
			}
		})
	}
}

func TestEntryKind(t *testing.T) {
	tests := map[string]Kind{
		"ProvisionedThroughputExceededException": Throttled,
		"KMSThrottlingException":                 Throttled,
		"InternalFailure":                        Transient,
		"SomethingNew":                           Transient,
		"KMSAccessDeniedException":               Permanent,
		"KMSDisabledException":                   Permanent,
		"KMSNotFoundException":                   Permanent,
		"KMSInvalidStateException":               Permanent,
		"KMSOptInRequired":                       Permanent,
	}
	for code, want := range tests {
		if got := EntryKind(code); got != want {
			t.Errorf("EntryKind(%q) = %v, want %v", code, got, want)
		}
	}
}

func TestKindPredicates(t *testing.T) {
	tests := []struct {
		k                     Kind
		retryable, maybeStore bool
		name                  string
	}{
		{Permanent, false, false, "permanent"},
		{Throttled, true, false, "throttled"},
		{Transient, true, false, "transient"},
		{UnknownOutcome, true, true, "unknown-outcome"},
		{Canceled, false, true, "canceled"},
		{Kind(42), false, false, "kind(42)"},
	}
	for _, tt := range tests {
		if tt.k.Retryable() != tt.retryable || tt.k.MaybeStored() != tt.maybeStore || tt.k.String() != tt.name {
			t.Errorf("%v: Retryable=%v MaybeStored=%v String=%q", tt.k, tt.k.Retryable(), tt.k.MaybeStored(), tt.k.String())
		}
	}
	if !IsThrottle("ProvisionedThroughputExceededException") || IsThrottle("InternalFailure") {
		t.Error("IsThrottle")
	}
}

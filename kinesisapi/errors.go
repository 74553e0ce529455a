package kinesisapi

import (
	"context"
	"errors"
	"net"
	"strconv"

	"github.com/aws/smithy-go"
)

// Kind says what a failed call means for the records it carried.
type Kind int

const (
	// Permanent: configuration, permissions, a missing stream, invalid input or missing
	// credentials. Retrying within a flush cannot help; the records stay undelivered and Fluent Bit
	// retries the chunk later.
	Permanent Kind = iota
	// Throttled: Kinesis refused the request for throughput reasons; nothing was stored.
	Throttled
	// Transient: the request failed before reaching Kinesis (e.g. connection refused); nothing
	// was stored.
	Transient
	// UnknownOutcome: the request may have been applied (5xx, timeout, connection dropped while
	// waiting for the response, unreadable response). Resending may create duplicates.
	UnknownOutcome
	// Canceled: the caller's context ended the call; the outcome is unknown.
	Canceled
)

var kindNames = [...]string{"permanent", "throttled", "transient", "unknown-outcome", "canceled"}

// String returns a short lower-case name for k.
func (k Kind) String() string {
	if k >= 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Retryable reports whether records of a call that failed this way may be resent in this flush.
func (k Kind) Retryable() bool { return k == Throttled || k == Transient || k == UnknownOutcome }

// MaybeStored reports whether Kinesis may have stored the records despite the error.
func (k Kind) MaybeStored() bool { return k == UnknownOutcome || k == Canceled }

// ErrorCode returns the AWS error code carried by err (e.g. "ResourceNotFoundException"), or ""
// when err is not an AWS API error.
func ErrorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// throttleCodes are request- and entry-level codes that mean "slow down".
var throttleCodes = map[string]bool{
	"ProvisionedThroughputExceededException": true,
	"LimitExceededException":                 true,
	"KMSThrottlingException":                 true,
	"ThrottlingException":                    true,
	"Throttling":                             true,
	"ThrottledException":                     true,
	"RequestThrottled":                       true,
	"RequestThrottledException":              true,
	"TooManyRequestsException":               true,
	"RequestLimitExceeded":                   true,
	"SlowDown":                               true,
	"PriorRequestNotComplete":                true,
	"EC2ThrottledException":                  true,
}

// permanentCodes never succeed on a quick retry.
var permanentCodes = map[string]bool{
	"ResourceNotFoundException":   true,
	"AccessDeniedException":       true,
	"AccessDenied":                true,
	"ValidationException":         true,
	"InvalidArgumentException":    true,
	"SerializationException":      true,
	"KMSAccessDeniedException":    true,
	"KMSDisabledException":        true,
	"KMSNotFoundException":        true,
	"KMSInvalidStateException":    true,
	"KMSOptInRequired":            true,
	"UnrecognizedClientException": true,
	"InvalidSignatureException":   true,
	"IncompleteSignature":         true,
	"MissingAuthenticationToken":  true,
	"InvalidClientTokenId":        true,
	"ExpiredTokenException":       true,
	"ExpiredToken":                true,
}

// transientCodes are request-level client faults that may clear up on their own.
var transientCodes = map[string]bool{
	"ResourceInUseException": true, // stream updating
}

// IsThrottle reports whether code is a throughput-limit error code.
func IsThrottle(code string) bool { return throttleCodes[code] }

// EntryKind classifies the ErrorCode of one failed PutRecords result entry. A failed entry was not
// stored. ProvisionedThroughputExceededException and KMSThrottlingException are Throttled,
// KMS access/configuration errors are Permanent, InternalFailure and unknown codes are Transient.
func EntryKind(code string) Kind {
	switch {
	case throttleCodes[code]:
		return Throttled
	case permanentCodes[code]:
		return Permanent
	}
	return Transient
}

// Classify says what err, returned by a Kinesis call, means for the call's records.
func Classify(err error) Kind {
	if err == nil {
		return Transient
	}
	var credErr *CredentialsError
	if errors.As(err, &credErr) {
		return Permanent
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		code := ae.ErrorCode()
		switch {
		case throttleCodes[code]:
			return Throttled
		case permanentCodes[code]:
			return Permanent
		case transientCodes[code]:
			return Transient
		}
		if status := httpStatus(err); status == 429 {
			return Throttled
		} else if status >= 500 || (status == 0 && ae.ErrorFault() != smithy.FaultClient) {
			// A server fault does not prove that nothing was stored.
			return UnknownOutcome
		}
		return Permanent
	}
	if status := httpStatus(err); status != 0 {
		switch {
		case status == 429:
			return Throttled
		case status >= 500:
			return UnknownOutcome
		case status >= 400:
			return Permanent
		}
	}
	var canceled *smithy.CanceledError
	if errors.As(err, &canceled) || errors.Is(err, context.Canceled) {
		return Canceled
	}
	var invalid *smithy.InvalidParamsError
	var serErr *smithy.SerializationError
	if errors.As(err, &invalid) || errors.As(err, &serErr) {
		return Permanent
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return Transient
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Op == "dial" {
		return Transient // never connected: nothing sent
	}
	// Timeouts, resets, EOF in the middle of a response, undecodable responses: the request may
	// have reached Kinesis.
	return UnknownOutcome
}

// httpStatus returns the HTTP status code carried by err, or 0.
func httpStatus(err error) int {
	var hs interface{ HTTPStatusCode() int }
	if errors.As(err, &hs) {
		return hs.HTTPStatusCode()
	}
	return 0
}

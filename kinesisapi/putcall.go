package kinesisapi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/smithy-go"

	"github.com/kinesis-agg/kinesis_agg/internal/h1"
)

// PreparedPut is a PutRecords request built and signed ahead of sending. Start sends it and
// Wait returns its outcome, exactly what PutRecords would have returned; Discard drops one
// that was not started. Every PreparedPut ends with Wait or Discard, and is not used after.
//
// The point is the time between Start and Wait: a caller with more to send builds its next
// request there (base64 and SHA-256 of a body are most of a request's CPU) instead of leaving
// the process idle while Kinesis answers. Requests still go one at a time.
type PreparedPut interface {
	Start(ctx context.Context)
	Wait(ctx context.Context) (*kinesis.PutRecordsOutput, error)
	Discard()
}

// putCall is one PutRecords call and what the next call reuses: the body and its hash, and
// the h1 request and answer with their buffers.
type putCall struct {
	putBody
	n int // body length; b[n:] is its SHA-256

	p      *PutRecordsClient
	in     *kinesis.PutRecordsInput
	ep     *directEndpoint // nil: the SDK client makes the call
	err    error           // set by prepare: Wait returns it without sending
	date   string
	auth   string // "": anonymous, not signed
	token  string
	state  callState
	fields []h1.Field
	req    h1.Request
	x      h1.Exchange
	resp   h1.Response
}

type callState uint8

const (
	callPrepared callState = iota
	callStarted
	callDone
)

// maxKeptAnswer is the largest answer buffer a putCall keeps for the next call.
const maxKeptAnswer = 1 << 20

// PreparePutRecords builds and signs a PutRecords request for in, which must not change
// until Wait or Discard.
func (p *PutRecordsClient) PreparePutRecords(ctx context.Context, in *kinesis.PutRecordsInput) PreparedPut {
	return p.prepare(ctx, in)
}

func (p *PutRecordsClient) prepare(ctx context.Context, in *kinesis.PutRecordsInput) *putCall {
	c := p.calls.Get()
	c.p, c.in, c.state = p, in, callPrepared
	if p.hc == nil {
		return c
	}
	ep, err := p.endpoint(ctx, in)
	if err != nil {
		return c // the SDK reports the resolution error its own way
	}
	var creds aws.Credentials
	if p.creds != nil {
		if creds, err = p.creds.Retrieve(ctx); err != nil {
			c.err = &smithy.OperationError{ServiceID: kinesis.ServiceID, OperationName: "PutRecords",
				Err: fmt.Errorf("get identity: get credentials: %w", err)}
			return c
		}
	}
	c.ep = ep
	c.b = appendPutRecordsBody(c.b[:0], c.h, in)
	c.n = len(c.b) - sha256.Size
	if p.creds != nil {
		var hashHex [2 * sha256.Size]byte
		hex.Encode(hashHex[:], c.b[c.n:])
		c.date, c.auth = ep.signer.sign(creds, signedRequest{host: ep.host, path: ep.path, contentLength: c.n, payloadHash: string(hashHex[:])},
			time.Now().Add(time.Duration(p.skewNanos.Load())))
		c.token = creds.SessionToken
	}
	return c
}

// Start writes the request when it goes through h1; otherwise Wait sends it.
func (c *putCall) Start(ctx context.Context) {
	if c.state != callPrepared {
		return
	}
	c.state = callStarted
	if c.err == nil && c.ep != nil && c.ep.h1 != nil {
		c.startH1(ctx)
	}
}

// Wait returns the call's outcome (sending it first if Start has not) and releases c.
func (c *putCall) Wait(ctx context.Context) (*kinesis.PutRecordsOutput, error) {
	if c.state == callDone {
		return nil, fmt.Errorf("kinesisapi: PutRecords call already ended")
	}
	defer c.release()
	if c.state == callPrepared {
		c.Start(ctx)
	}
	switch {
	case c.err != nil:
		return nil, c.err
	case c.ep == nil:
		return c.p.sdk.PutRecords(ctx, c.in)
	case c.ep.h1 != nil:
		return c.waitH1(ctx)
	default:
		return c.sendHTTP(ctx)
	}
}

// Discard releases a call that was not started; one that was is waited for and its outcome
// dropped, so that its connection is not left half used.
func (c *putCall) Discard() {
	switch c.state {
	case callPrepared:
		c.release()
	case callStarted:
		c.Wait(context.Background())
	}
}

func (c *putCall) release() {
	p := c.p
	c.state = callDone
	c.p, c.in, c.ep, c.err = nil, nil, nil, nil
	c.date, c.auth, c.token = "", "", ""
	p.calls.Put(c)
}

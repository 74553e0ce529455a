package bench

// A prototype, measured here so that its gain is known before it goes into the product: a
// PutRecords serializer that replaces the SDK's (the "OperationSerializer" middleware) for that one
// operation. The SDK's serializer grows its buffer by appending (copying the request body ~2×
// and zeroing it), copies it once more in Bytes(), and the signer then reads the whole body
// again for the SigV4 payload hash. This one sizes the body once, base64-encodes straight into it
// and hashes each 64 KiB block while it is still in cache, then hands the hash to the signer
// (v4.SetPayloadHash), whose ComputePayloadSHA256 step then skips its own pass. Everything
// else (endpoint, signing, user agent, error decoding, response parsing) stays the SDK's.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/kinesis-agg/kinesis_agg/aggregation"
	"github.com/kinesis-agg/kinesis_agg/internal/fakekinesis"
)

// fastPutRecords is the serializer middleware. Safe for concurrent use.
type fastPutRecords struct {
	bufs sync.Pool // of *putBody
}

type putBody struct {
	b []byte
	h hash.Hash
}

// ID replaces the SDK's serializer of the same id.
func (*fastPutRecords) ID() string { return "OperationSerializer" }

// HandleSerialize writes the PutRecords body and its SHA-256, then runs the rest of the stack
// (which sends the request and reads the answer) before the buffer is reused.
func (m *fastPutRecords) HandleSerialize(ctx context.Context, in middleware.SerializeInput, next middleware.SerializeHandler) (
	middleware.SerializeOutput, middleware.Metadata, error,
) {
	req, ok := in.Request.(*smithyhttp.Request)
	if !ok {
		return middleware.SerializeOutput{}, middleware.Metadata{}, fmt.Errorf("unexpected transport type %T", in.Request)
	}
	input, ok := in.Parameters.(*kinesis.PutRecordsInput)
	if !ok {
		return middleware.SerializeOutput{}, middleware.Metadata{}, fmt.Errorf("fastPutRecords: input %T is not PutRecords", in.Parameters)
	}
	pb, _ := m.bufs.Get().(*putBody)
	if pb == nil {
		pb = &putBody{h: sha256.New()}
	}
	defer m.bufs.Put(pb)

	req.Method = http.MethodPost
	if req.URL.Path == "" {
		req.URL.Path = "/"
	}
	req.Header.Set("X-Amz-Target", "Kinesis_20131202.PutRecords")
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	var sum [sha256.Size]byte
	pb.b = appendPutRecordsBody(pb.b[:0], pb.h, input, sum[:0])
	body, digest := pb.b[:len(pb.b)-sha256.Size], pb.b[len(pb.b)-sha256.Size:]
	sreq, err := req.SetStream(bytes.NewReader(body))
	if err != nil {
		return middleware.SerializeOutput{}, middleware.Metadata{}, fmt.Errorf("fastPutRecords: set stream: %w", err)
	}
	*req = *sreq
	ctx = v4.SetPayloadHash(ctx, hex.EncodeToString(digest))
	return next.HandleSerialize(ctx, in)
}

// withFastPutRecords installs m for PutRecords only, as a client option (every operation's
// stack gets the APIOptions; the others are left alone).
func withFastPutRecords(m *fastPutRecords) func(*kinesis.Options) {
	return func(o *kinesis.Options) {
		o.APIOptions = append(o.APIOptions, func(s *middleware.Stack) error {
			if s.ID() != "PutRecords" {
				return nil
			}
			_, err := s.Serialize.Swap("OperationSerializer", m)
			return err
		})
	}
}

// withFastSerializer is the per-call option that installs m.
func withFastSerializer(m *fastPutRecords) func(*kinesis.Options) {
	return func(o *kinesis.Options) {
		o.APIOptions = append(o.APIOptions, func(s *middleware.Stack) error {
			_, err := s.Serialize.Swap("OperationSerializer", m)
			return err
		})
	}
}

// hashBlock is the input bytes base64-encoded and hashed per step: 64 KiB of output, which stays
// in L2 between the encoder and the hash.
const hashBlock = 48 << 10

// appendPutRecordsBody appends the JSON body (as the SDK lays it out) and then its SHA-256.
func appendPutRecordsBody(b []byte, h hash.Hash, in *kinesis.PutRecordsInput, _ []byte) []byte {
	size := len(`{"Records":[],"StreamARN":"","StreamName":""}`) + len(deref(in.StreamARN)) + len(deref(in.StreamName))
	for i := range in.Records {
		e := &in.Records[i]
		size += len(`{"Data":"","ExplicitHashKey":"","PartitionKey":""},`) + base64.StdEncoding.EncodedLen(len(e.Data)) +
			len(deref(e.ExplicitHashKey)) + len(deref(e.PartitionKey)) + 8
	}
	if cap(b) < size+sha256.Size {
		b = make([]byte, 0, size+sha256.Size)
	}
	h.Reset()
	hashed := 0
	flush := func() {
		h.Write(b[hashed:])
		hashed = len(b)
	}
	b = append(b, `{"Records":[`...)
	for i := range in.Records {
		e := &in.Records[i]
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"Data":"`...)
		for off := 0; off < len(e.Data); off += hashBlock {
			chunk := e.Data[off:min(off+hashBlock, len(e.Data))]
			n := len(b)
			b = b[:n+base64.StdEncoding.EncodedLen(len(chunk))]
			base64.StdEncoding.Encode(b[n:], chunk)
			flush()
		}
		b = append(b, '"')
		if e.ExplicitHashKey != nil {
			b = append(b, `,"ExplicitHashKey":`...)
			b = appendJSONString(b, *e.ExplicitHashKey)
		}
		if e.PartitionKey != nil {
			b = append(b, `,"PartitionKey":`...)
			b = appendJSONString(b, *e.PartitionKey)
		}
		b = append(b, '}')
	}
	b = append(b, ']')
	if in.StreamARN != nil {
		b = append(b, `,"StreamARN":`...)
		b = appendJSONString(b, *in.StreamARN)
	}
	if in.StreamName != nil {
		b = append(b, `,"StreamName":`...)
		b = appendJSONString(b, *in.StreamName)
	}
	b = append(b, '}')
	flush()
	return h.Sum(b)
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

const hexDigits = "0123456789abcdef"

// appendJSONString quotes s as JSON: '"', '\\' and control characters escaped, invalid UTF-8 as
// U+FFFD, everything else as is.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// TestFastSerializerMatchesSDK checks that the prototype sends what the SDK sends (same JSON
// document, headers, and a payload hash that is the body's SHA-256) on every request of the
// workload and on awkward partition keys.
func TestFastSerializerMatchesSDK(t *testing.T) {
	p := newPipelineN(t, varJSONPK, 2)
	extra := []types.PutRecordsRequestEntry{
		{Data: []byte{}, PartitionKey: ptr("quote\" backslash\\ tab\t nl\n ctl\x01 é 𝄞 \u2028")},
		{Data: bytes.Repeat([]byte{0xF3, 0, 0xFF}, hashBlock), PartitionKey: ptr("k"), ExplicitHashKey: ptr("42")},
		{Data: bytes.Repeat([]byte{7}, hashBlock+1), PartitionKey: ptr("bad utf-8 \xff\xfe")},
	}
	requests := append(append([][]types.PutRecordsRequestEntry(nil), p.requests...), extra)
	fast := &fastPutRecords{}
	for i, e := range requests {
		sdkRec, fastRec := &headerClient{}, &headerClient{}
		fastRec.answer, sdkRec.answer = cannedAnswer(len(e)), cannedAnswer(len(e))
		ctx := context.Background()
		if _, err := sdkClient(sdkRec).PutRecords(ctx, putInput(e)); err != nil {
			t.Fatal(err)
		}
		if _, err := sdkClient(fastRec).PutRecords(ctx, putInput(e), withFastSerializer(fast)); err != nil {
			t.Fatal(err)
		}
		var a, b any
		if err := json.Unmarshal(sdkRec.bodies[0], &a); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(fastRec.bodies[0], &b); err != nil {
			t.Fatalf("request %d: prototype body is not JSON: %v", i, err)
		}
		if fmt.Sprint(a) != fmt.Sprint(b) {
			t.Fatalf("request %d: documents differ", i)
		}
		if i < len(p.requests) && !bytes.Equal(sdkRec.bodies[0], fastRec.bodies[0]) {
			t.Errorf("request %d: bodies differ byte for byte", i)
		}
		// The signature must be the one of the body's SHA-256: sign the captured request again.
		sum := sha256.Sum256(fastRec.bodies[0])
		if got, want := fastRec.header.Get("Authorization"), resign(t, fastRec, hex.EncodeToString(sum[:])); got != want {
			t.Errorf("request %d: Authorization\n got %s\nwant %s", i, got, want)
		}
		for _, k := range []string{"X-Amz-Target", "Content-Type", "Content-Length"} {
			if sdkRec.header.Get(k) == "" || sdkRec.header.Get(k) != fastRec.header.Get(k) && k != "Content-Length" {
				t.Errorf("request %d: header %s: SDK %q, prototype %q", i, k, sdkRec.header.Get(k), fastRec.header.Get(k))
			}
		}
	}
}

// headerClient is a recordingClient that also keeps the last request's headers and checks that
// the signed payload hash is the body's.
type headerClient struct {
	recordingClient
	header http.Header
	url    string
	host   string
}

func (c *headerClient) Do(r *http.Request) (*http.Response, error) {
	c.header = r.Header.Clone()
	c.url, c.host = r.URL.String(), r.Host
	if r.ContentLength >= 0 {
		c.header.Set("Content-Length", fmt.Sprint(r.ContentLength))
	}
	return c.recordingClient.Do(r)
}

func ptr(s string) *string { return &s }

// resign signs the request c captured again with payloadHash, at the time it was signed.
func resign(t *testing.T, c *headerClient, payloadHash string) string {
	t.Helper()
	at, err := time.Parse("20060102T150405Z", c.header.Get("X-Amz-Date"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := http.NewRequest(http.MethodPost, c.url, nil)
	if err != nil {
		t.Fatal(err)
	}
	r.Host = c.host
	r.Header = c.header.Clone()
	r.Header.Del("Authorization")
	if n, err := strconv.ParseInt(c.header.Get("Content-Length"), 10, 64); err == nil {
		r.ContentLength = n
		r.Header.Del("Content-Length")
	}
	creds, err := sdkClient(c).Options().Credentials.Retrieve(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, r, payloadHash, "kinesis", fakekinesis.Region, at); err != nil {
		t.Fatal(err)
	}
	return r.Header.Get("Authorization")
}

// BenchmarkPutRecordsSerializer compares the SDK's PutRecords serialization + signing with the
// prototype, on the workload's requests (json+pk), against the floor of that step (base64 of the
// data and SHA-256 of the body).
func BenchmarkPutRecordsSerializer(b *testing.B) {
	p := newPipeline(b, varJSONPK)
	type call struct {
		batch  []aggregation.Sealed
		answer []byte
	}
	var calls []call
	for _, sealed := range p.sealed {
		for _, batch := range putBatches(sealed) {
			calls = append(calls, call{batch, cannedAnswer(len(batch))})
		}
	}
	for _, impl := range []string{"sdk", "prototype"} {
		b.Run(impl, func(b *testing.B) {
			rec := &recordingClient{discard: true}
			client := sdkClient(rec)
			var opts []func(*kinesis.Options)
			if impl == "prototype" {
				opts = append(opts, withFastSerializer(&fastPutRecords{}))
			}
			var e []types.PutRecordsRequestEntry
			ctx := context.Background()
			m := startMeter(b, p.records)
			for b.Loop() {
				for _, c := range calls {
					e = entries(e, c.batch)
					rec.answer = c.answer
					if _, err := client.PutRecords(ctx, putInput(e), opts...); err != nil {
						b.Fatal(err)
					}
				}
			}
			m.stop()
		})
	}
	b.Run("floor-base64+sha256", func(b *testing.B) {
		b64, sha := floorFunc(p, floorBase64), floorFunc(p, floorSHA256Body)
		m := startMeter(b, p.records)
		for b.Loop() {
			b64()
			sha()
		}
		m.stop()
	})
}

// BenchmarkFlushPrototypeSerializer is BenchmarkFlush with the prototype serializer in the
// instance's client: the whole-flush gain it would bring.
func BenchmarkFlushPrototypeSerializer(b *testing.B) {
	for _, v := range []variant{varJSONPK, varNoAggPK} {
		b.Run(v.name, func(b *testing.B) { benchFlush(b, v, withFastPutRecords(&fastPutRecords{})) })
	}
}

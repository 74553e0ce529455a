package bench

// The plugin's PutRecords serializer (kinesisapi.WithFastPutRecords, which the SDK client runs
// with put_records_client=sdk and when replaying an error answer) against the SDK's own: the
// same documents, a valid signature, and what it saves. It replaces the SDK's serializer (the
// "OperationSerializer" middleware) for that one operation. The SDK's serializer grows its
// buffer by appending (copying the request body ~2×
// and zeroing it), copies it once more in Bytes(), and the signer then reads the whole body
// again for the SigV4 payload hash. This one sizes the body once, base64-encodes straight into it
// and hashes each 64 KiB block while it is still in cache, then hands the hash to the signer
// (v4.SetPayloadHash), whose ComputePayloadSHA256 step then skips its own pass. Everything
// else (endpoint, signing, user agent, error decoding, response parsing) stays the SDK's.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kinesis-agg/kinesis_agg/delivery"
	"github.com/kinesis-agg/kinesis_agg/internal/fakekinesis"
	"github.com/kinesis-agg/kinesis_agg/kinesisapi"
)

const hashBlock = 48 << 10 // kinesisapi's block size: the awkward-key test crosses it

// TestFastSerializerMatchesSDK checks that the plugin's serializer sends what the SDK's sends (same JSON
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
	for i, e := range requests {
		sdkRec, fastRec := &headerClient{}, &headerClient{}
		fastRec.answer, sdkRec.answer = cannedAnswer(len(e)), cannedAnswer(len(e))
		ctx := context.Background()
		if _, err := sdkSerializerClient(sdkRec).PutRecords(ctx, putInput(e)); err != nil {
			t.Fatal(err)
		}
		if _, err := sdkClient(fastRec).PutRecords(ctx, putInput(e)); err != nil {
			t.Fatal(err)
		}
		var a, b any
		if err := json.Unmarshal(sdkRec.bodies[0], &a); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(fastRec.bodies[0], &b); err != nil {
			t.Fatalf("request %d: plugin's body is not JSON: %v", i, err)
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
				t.Errorf("request %d: header %s: SDK %q, plugin %q", i, k, sdkRec.header.Get(k), fastRec.header.Get(k))
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

// BenchmarkPutRecordsSerializer compares, on the workload's requests (json+pk), the SDK's
// PutRecords with its own serializer, the SDK's with the plugin's serializer (what
// put_records_client=sdk runs), and the plugin's own client (the default), against the floor of
// that step (base64 of the data and SHA-256 of the body).
func BenchmarkPutRecordsSerializer(b *testing.B) {
	p := newPipeline(b, varJSONPK)
	calls := putCalls(p)
	for _, impl := range []string{"sdk", "sdk+serializer", "direct"} {
		b.Run(impl, func(b *testing.B) {
			rec := &recordingClient{discard: true}
			var api delivery.PutRecordsAPI
			switch impl {
			case "sdk":
				api = sdkSerializerClient(rec)
			case "sdk+serializer":
				api = sdkClient(rec)
			default:
				api = kinesisapi.NewPutRecordsClient(sdkClient(rec))
			}
			runPutCalls(b, p, api, rec, calls)
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

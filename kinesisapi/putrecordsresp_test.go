package kinesisapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"
)

// answerCases are PutRecords answers as Kinesis (and kinesalite) write them, and the variations
// JSON allows.
var answerCases = []struct {
	name, body string
}{
	{"all accepted", `{"FailedRecordCount":0,"Records":[{"SequenceNumber":"49590338271490256608559692538361571095921575989136588898","ShardId":"shardId-000000000001"},{"SequenceNumber":"49590338271490256608559692540925702759324208523137515618","ShardId":"shardId-000000000000"}],"EncryptionType":"NONE"}`},
	{"some failed", `{"FailedRecordCount":2,"Records":[{"ErrorCode":"ProvisionedThroughputExceededException","ErrorMessage":"Rate exceeded for shard shardId-000000000001 in stream logs under account 111122223333."},{"SequenceNumber":"1","ShardId":"shardId-000000000002"},{"ErrorCode":"InternalFailure","ErrorMessage":"Internal service failure."}]}`},
	{"escapes", `{"Records":[{"ErrorCode":"Internal\u0046ailure","ErrorMessage":"say \"hi\"\\ \/ \b\f\n\r\t \u00e9 \ud83d\ude00 \ud800x \udc00 \ud800\u0041"}]}`},
	{"nulls and unknown fields", `{"FailedRecordCount":null,"Records":[{"SequenceNumber":null,"ShardId":"shardId-000000000003","Extra":{"a":[1,2.5e3,true,false,null,"x"]}}],"EncryptionType":null,"Other":-1}`},
	{"whitespace and order", " \n{ \"EncryptionType\" : \"KMS\" ,\t\"Records\" : [ { \"ShardId\" : \"s\" , \"SequenceNumber\" : \"7\" } ] , \"FailedRecordCount\" : 0 }\r\n"},
	{"empty", `{"FailedRecordCount":0,"Records":[]}`},
	{"no records member", `{}`},
	{"duplicate member: the last wins", `{"Records":[{"SequenceNumber":"1","SequenceNumber":"22","ShardId":"a","ShardId":"b"}]}`},
	// Entries that start like the ones Kinesis writes but that the plain-entry path must leave
	// to the general one.
	{"near-plain entries", `{"Records":[{"SequenceNumber":"","ShardId":""},{"SequenceNumber":"1\u0032","ShardId":"s"},` +
		`{"SequenceNumber":"3","ShardId":"s\"t"},{"SequenceNumber":"4","ShardId":"s","ShardId":"u"},{"SequenceNumber":"5","ShardId":"é"},` +
		`{"SequenceNumber":"6","ShardId":"s" },{"SequenceNumber":"7","ShardId":"s"}]}`},
}

// TestAnswerDecoderMatchesSDK decodes each answer with the SDK's decoder and with ours, through
// real clients against one test server, and requires the same result.
func TestAnswerDecoderMatchesSDK(t *testing.T) {
	isolateEnv(t, true)
	rec := &recorder{status: http.StatusOK}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	sdk := kinesis.New(kinesis.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), Credentials: aws.AnonymousCredentials{}, Retryer: aws.NopRetryer{}})
	ours := kinesis.New(kinesis.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), Credentials: aws.AnonymousCredentials{}, Retryer: aws.NopRetryer{}}, WithFastPutRecords())
	for _, c := range answerCases {
		t.Run(c.name, func(t *testing.T) {
			rec.body = c.body
			want, err := putOne(context.Background(), sdk)
			if err != nil {
				t.Fatalf("SDK: %v", err)
			}
			got, err := putOne(context.Background(), ours)
			if err != nil {
				t.Fatalf("ours: %v", err)
			}
			if !reflect.DeepEqual(got.Records, want.Records) || !reflect.DeepEqual(got.FailedRecordCount, want.FailedRecordCount) || got.EncryptionType != want.EncryptionType {
				t.Errorf("ours:\n%s\nSDK:\n%s", dump(got), dump(want))
			}
		})
	}
}

func dump(o *kinesis.PutRecordsOutput) string {
	b, _ := json.Marshal(struct {
		F *int32
		R []types.PutRecordsResultEntry
		E types.EncryptionType
	}{o.FailedRecordCount, o.Records, o.EncryptionType})
	return string(b)
}

// TestAnswerDecoderErrors checks that error answers still become the SDK's typed errors and that
// a broken 200 answer is a deserialization error naming the offset.
func TestAnswerDecoderErrors(t *testing.T) {
	isolateEnv(t, true)
	rec := &recorder{}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	c := kinesis.New(kinesis.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), Credentials: aws.AnonymousCredentials{}, Retryer: aws.NopRetryer{}}, WithFastPutRecords())

	rec.status, rec.body = http.StatusBadRequest, `{"__type":"ResourceNotFoundException","message":"Stream logs not found"}`
	_, err := putOne(context.Background(), c)
	var rnf *types.ResourceNotFoundException
	if !errors.As(err, &rnf) || !strings.Contains(err.Error(), "Stream logs not found") {
		t.Fatalf("400 answer: %v, want ResourceNotFoundException", err)
	}

	for _, body := range []string{`{"x":` + strings.Repeat("[", 100000) + strings.Repeat("]", 100000) + `}`, `{"Records":[{"ShardId":"a"}`, `{"Records":[{"ShardId":1}]}`, `{"FailedRecordCount":1.5}`, `{} x`, ``, `{"Records":[{"ShardId":"\x01"}]}`} {
		rec.status, rec.body = http.StatusOK, body
		_, err := putOne(context.Background(), c)
		var de *smithy.DeserializationError
		if !errors.As(err, &de) || !strings.Contains(err.Error(), "decoding the answer") {
			t.Errorf("200 answer %q: %v, want a deserialization error", body, err)
		}
	}
}

// TestAnswerDecoderAllocations checks the point of the decoder: a 500-entry answer costs a few
// allocations, not a few per entry.
func TestAnswerDecoderAllocations(t *testing.T) {
	body := answer500()
	strs := &answerStrings{values: make(map[string]*string)}
	out, err := decodePutRecordsOutput(body, strs)
	if err != nil || len(out.Records) != 500 || aws.ToString(out.Records[499].ShardId) != "shardId-000000000003" {
		t.Fatalf("decoded %d records, err %v", len(out.Records), err)
	}
	allocs := testing.AllocsPerRun(20, func() { decodePutRecordsOutput(body, strs) })
	if allocs > 10 {
		t.Errorf("%.0f allocations for 500 entries, want at most 10", allocs)
	}
}

// BenchmarkDecodePutRecordsOutput decodes the answer to a 500-entry PutRecords (one entry per
// log record without aggregation).
func BenchmarkDecodePutRecordsOutput(b *testing.B) {
	body := answer500()
	strs := &answerStrings{values: make(map[string]*string)}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := decodePutRecordsOutput(body, strs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*500), "ns/entry")
}

// answer500 is a successful answer of 500 entries over 4 shards.
func answer500() []byte {
	var b strings.Builder
	b.WriteString(`{"FailedRecordCount":0,"Records":[`)
	for i := range 500 {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"SequenceNumber":"49590338271490256608559692538361571095921575989136588898","ShardId":"shardId-00000000000` + string(rune('0'+i%4)) + `"}`)
	}
	b.WriteString(`],"EncryptionType":"NONE"}`)
	return []byte(b.String())
}

// FuzzDecodePutRecordsOutput compares the decoder with encoding/json on arbitrary input: it must
// never panic, accept only valid JSON, and agree on every field it reads.
func FuzzDecodePutRecordsOutput(f *testing.F) {
	for _, c := range answerCases {
		f.Add([]byte(c.body))
	}
	f.Add([]byte(`{"Records":[{"ShardId":"\ud800\u0041"}]}`))
	f.Add([]byte(`[1,{"a":"b"}]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		strs := &answerStrings{values: make(map[string]*string)}
		out, err := decodePutRecordsOutput(body, strs)
		if err != nil {
			return
		}
		if !json.Valid(body) {
			t.Fatalf("accepted invalid JSON %q", body)
		}
		var doc map[string]json.RawMessage
		if json.Unmarshal(body, &doc) != nil || !utf8.Valid(body) || hasCaseVariants(doc) {
			return // encoding/json differs on purpose: duplicate names by case, invalid UTF-8
		}
		var want struct {
			FailedRecordCount *int32
			Records           []map[string]*string
		}
		if json.Unmarshal(body, &want) != nil {
			return // our decoder reads only some members; the others may not fit this shape
		}
		if !reflect.DeepEqual(out.FailedRecordCount, want.FailedRecordCount) || len(out.Records) != len(want.Records) {
			t.Fatalf("%q: count %v/%v, %d/%d records", body, out.FailedRecordCount, want.FailedRecordCount, len(out.Records), len(want.Records))
		}
		for i, w := range want.Records {
			g := out.Records[i]
			for name, got := range map[string]*string{"SequenceNumber": g.SequenceNumber, "ShardId": g.ShardId, "ErrorCode": g.ErrorCode, "ErrorMessage": g.ErrorMessage} {
				if aws.ToString(got) != aws.ToString(w[name]) || (got == nil) != (w[name] == nil) {
					t.Fatalf("%q: record %d %s = %v, encoding/json %v", body, i, name, aws.ToString(got), aws.ToString(w[name]))
				}
			}
		}
	})
}

// hasCaseVariants reports member names that encoding/json would match case-insensitively.
func hasCaseVariants(doc map[string]json.RawMessage) bool {
	for k := range doc {
		switch k {
		case "FailedRecordCount", "Records", "EncryptionType":
		default:
			if strings.EqualFold(k, "FailedRecordCount") || strings.EqualFold(k, "Records") || strings.EqualFold(k, "EncryptionType") {
				return true
			}
		}
	}
	return false
}

// isPrintable agrees with the byte table for every byte value at every position of words and
// tails, next to printable bytes and next to the values that carry or borrow (0x00, 0x7f, 0xff).
func TestIsPrintable(t *testing.T) {
	want := func(v []byte) bool {
		for _, c := range v {
			if !printable[c] {
				return false
			}
		}
		return true
	}
	for n := 0; n <= 20; n++ {
		for pos := 0; pos < n; pos++ {
			for c := 0; c < 256; c++ {
				for _, fill := range []byte{'a', '0', ' ', '~'} {
					v := bytes.Repeat([]byte{fill}, n)
					v[pos] = byte(c)
					if got := isPrintable(v); got != want(v) {
						t.Fatalf("len %d, byte %#x at %d among %q: %v, want %v", n, c, pos, fill, got, want(v))
					}
					for _, other := range []byte{0x00, 0x7f, 0xff, 0x1f, 0x20, 0x5b, 0x5d} {
						for pos2 := 0; pos2 < n; pos2++ {
							w := bytes.Clone(v)
							w[pos2] = other
							if got := isPrintable(w); got != want(w) {
								t.Fatalf("%x: %v, want %v", w, got, want(w))
							}
						}
					}
				}
			}
		}
	}
}

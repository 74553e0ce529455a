package kinesisapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"sync"
	"unicode/utf8"

	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/kinesis-agg/kinesis_agg/internal/fastbase64"
)

// putRecordsSerializer replaces the SDK's serializer for PutRecords, the one call on the hot
// path. The SDK's grows its buffer by appending (copying a 5 MiB body about twice), copies it
// again, and the signer then reads the whole body once more for the SigV4 payload hash. This one
// sizes the body once, base64-encodes each record straight into it, hashes each block while it is
// still in cache, and hands the hash to the signer, which then skips its own pass. The JSON is
// byte-for-byte what the SDK writes (a test in bench compares them); endpoint resolution,
// signing, error decoding and response parsing stay the SDK's. Safe for concurrent use.
type putRecordsSerializer struct {
	bufs sync.Pool // of *putBody, reused across calls
}

type putBody struct {
	b []byte
	h hash.Hash
}

// ID replaces the SDK's serializer middleware of the same id.
func (*putRecordsSerializer) ID() string { return "OperationSerializer" }

// HandleSerialize writes the body and its SHA-256, then runs the rest of the stack (which sends
// the request and reads the answer) before the buffer is reused.
func (m *putRecordsSerializer) HandleSerialize(ctx context.Context, in middleware.SerializeInput, next middleware.SerializeHandler) (
	middleware.SerializeOutput, middleware.Metadata, error,
) {
	req, ok := in.Request.(*smithyhttp.Request)
	if !ok {
		return middleware.SerializeOutput{}, middleware.Metadata{}, fmt.Errorf("kinesisapi: PutRecords: unexpected transport type %T", in.Request)
	}
	input, ok := in.Parameters.(*kinesis.PutRecordsInput)
	if !ok {
		return middleware.SerializeOutput{}, middleware.Metadata{}, fmt.Errorf("kinesisapi: PutRecords: unexpected input %T", in.Parameters)
	}
	pb, _ := m.bufs.Get().(*putBody)
	if pb == nil {
		pb = &putBody{h: sha256.New()}
	}
	req.Method = http.MethodPost
	if req.URL.Path == "" {
		req.URL.Path = "/"
	}
	req.Header.Set("X-Amz-Target", "Kinesis_20131202.PutRecords")
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	pb.b = appendPutRecordsBody(pb.b[:0], pb.h, input)
	n := len(pb.b) - sha256.Size
	body := &guardedBody{r: bytes.NewReader(pb.b[:n])}
	sreq, err := req.SetStream(body)
	if err != nil {
		m.bufs.Put(pb)
		return middleware.SerializeOutput{}, middleware.Metadata{}, fmt.Errorf("kinesisapi: PutRecords: %w", err)
	}
	*req = *sreq
	ctx = v4.SetPayloadHash(ctx, hex.EncodeToString(pb.b[n:]))
	out, md, err := next.HandleSerialize(ctx, in)
	// net/http's writer may still hold the body; once closed it reads nothing more from the buffer.
	body.Close()
	m.bufs.Put(pb)
	return out, md, err
}

// guardedBody is a request body that stops reading its buffer for good once closed.
type guardedBody struct {
	mu     sync.Mutex
	r      *bytes.Reader
	closed bool
}

var errBodyClosed = errors.New("kinesisapi: request body already released")

func (g *guardedBody) Read(p []byte) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return 0, io.EOF
	}
	return g.r.Read(p)
}

func (g *guardedBody) Seek(off int64, whence int) (int64, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return 0, errBodyClosed
	}
	return g.r.Seek(off, whence)
}

// Len is the unread length, which smithy uses as the Content-Length.
func (g *guardedBody) Len() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return 0
	}
	return g.r.Len()
}

func (g *guardedBody) Close() error {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
	return nil
}

// WithFastPutRecords installs the PutRecords serializer and answer decoder as a client option (it
// touches no other operation). NewClient installs it; tests and benchmarks use it on their own
// clients.
func WithFastPutRecords() func(*kinesis.Options) {
	m := &putRecordsSerializer{}
	strs := &answerStrings{values: make(map[string]*string)}
	return func(o *kinesis.Options) {
		o.APIOptions = append(o.APIOptions, func(s *middleware.Stack) error {
			if s.ID() != "PutRecords" {
				return nil
			}
			if _, err := s.Serialize.Swap("OperationSerializer", m); err != nil {
				return err
			}
			orig, ok := s.Deserialize.Get("OperationDeserializer")
			if !ok {
				return errors.New("kinesisapi: PutRecords: the SDK has no OperationDeserializer to replace")
			}
			_, err := s.Deserialize.Swap("OperationDeserializer", &putRecordsDeserializer{orig: orig, shared: strs})
			return err
		})
	}
}

// hashBlock is how much data is base64-encoded before the output is hashed: 64 KiB of output,
// which stays in L2 between the encoder and the hash.
const hashBlock = 48 << 10

// appendPutRecordsBody appends the JSON body, laid out as the SDK lays it out, then its SHA-256.
func appendPutRecordsBody(b []byte, h hash.Hash, in *kinesis.PutRecordsInput) []byte {
	size := len(`{"Records":[],"StreamARN":"","StreamName":""}`) + 2*len(deref(in.StreamARN)) + 2*len(deref(in.StreamName))
	for i := range in.Records {
		e := &in.Records[i]
		size += len(`{"Data":"","ExplicitHashKey":"","PartitionKey":""},`) + fastbase64.EncodedLen(len(e.Data)) +
			2*len(deref(e.ExplicitHashKey)) + 2*len(deref(e.PartitionKey)) + 8
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
			b = fastbase64.AppendEncode(b, chunk)
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

// appendJSONString quotes s as the SDK's JSON encoder does: '"', '\\' and control characters
// escaped, invalid UTF-8 as U+FFFD, everything else as is.
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

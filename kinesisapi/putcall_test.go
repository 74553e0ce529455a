package kinesisapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kinesis-agg/kinesis_agg/internal/h1/h1test"
)

// gatedServer answers each request with its body's SHA-256 as the sequence number once the
// test lets it (release), and records the requests as they arrive.
type gatedServer struct {
	*httptest.Server
	release chan struct{}
	conns   atomic.Int32

	mu     sync.Mutex
	reqs   []*http.Request
	bodies [][]byte
}

func newGatedServer(t *testing.T) *gatedServer {
	g := &gatedServer{release: make(chan struct{}, 16)}
	g.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		g.mu.Lock()
		g.reqs, g.bodies = append(g.reqs, r.Clone(context.Background())), append(g.bodies, b)
		g.mu.Unlock()
		<-g.release
		sum := sha256.Sum256(b)
		fmt.Fprintf(w, `{"FailedRecordCount":0,"Records":[{"SequenceNumber":"%x","ShardId":"shardId-000000000000"}]}`, sum)
	}))
	g.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			g.conns.Add(1)
		}
	}
	g.Start()
	t.Cleanup(g.Close)
	return g
}

func (g *gatedServer) received() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.reqs)
}

func oneRecord(data string) *kinesis.PutRecordsInput {
	return &kinesis.PutRecordsInput{StreamName: aws.String("logs"),
		Records: []types.PutRecordsRequestEntry{{Data: []byte(data), PartitionKey: aws.String(data)}}}
}

// checkAnswer requires out to be the answer to in's body and the server's i-th request to be
// in's body, signed.
func checkAnswer(t *testing.T, g *gatedServer, i int, in *kinesis.PutRecordsInput, out *kinesis.PutRecordsOutput, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("call %d: %v", i, err)
	}
	body := appendPutRecordsBody(nil, sha256.New(), in)
	body = body[:len(body)-sha256.Size]
	sum := sha256.Sum256(body)
	if got := aws.ToString(out.Records[0].SequenceNumber); got != fmt.Sprintf("%x", sum) {
		t.Errorf("call %d: answer is to another body", i)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if !bytes.Equal(g.bodies[i], body) {
		t.Errorf("request %d: body %.80q, want %.80q", i, g.bodies[i], body)
	}
	checkSignature(t, g.reqs[i], g.bodies[i], "us-east-1")
}

// TestPreparePutRecords builds a request while the previous one is being answered: over h1 the
// first request is on the wire when Start returns, the second is signed and sent only when
// started, answers go to their own calls, and one connection carries them all. A call
// discarded before Start sends nothing; one discarded after Start is answered first, so its
// connection is reused.
func TestPreparePutRecords(t *testing.T) {
	for _, via := range transports {
		t.Run(via, func(t *testing.T) {
			isolateEnv(t, true)
			g := newGatedServer(t)
			_, direct := bothClientsVia(t, Config{Region: "us-east-1", Endpoint: g.URL}, via)
			ctx := context.Background()

			in1, in2 := oneRecord("first"), oneRecord(strings.Repeat("second", 20000))
			c1 := direct.PreparePutRecords(ctx, in1)
			c1.Start(ctx)
			if via == viaH1 {
				h1test.WaitFor(t, func() bool { return g.received() == 1 }) // sent before Wait
			}
			c2 := direct.PreparePutRecords(ctx, in2)
			g.release <- struct{}{}
			out1, err := c1.Wait(ctx)
			checkAnswer(t, g, 0, in1, out1, err)
			if n := g.received(); n != 1 {
				t.Fatalf("%d requests received before the second call started, want 1", n)
			}
			c2.Start(ctx)
			g.release <- struct{}{}
			out2, err := c2.Wait(ctx)
			checkAnswer(t, g, 1, in2, out2, err)

			c3 := direct.PreparePutRecords(ctx, oneRecord("never sent"))
			c3.Discard()
			in4 := oneRecord("waited without start")
			g.release <- struct{}{}
			out4, err := direct.PreparePutRecords(ctx, in4).Wait(ctx)
			checkAnswer(t, g, 2, in4, out4, err)

			c5 := direct.PreparePutRecords(ctx, oneRecord("discarded after start"))
			c5.Start(ctx)
			g.release <- struct{}{}
			c5.Discard()
			in6 := oneRecord("after the discarded one")
			g.release <- struct{}{}
			out6, err := direct.PutRecords(ctx, in6)
			checkAnswer(t, g, 4, in6, out6, err)
			if n := g.received(); n != 5 {
				t.Errorf("%d requests received, want 5 (the call discarded before Start is never sent)", n)
			}
			if n := g.conns.Load(); n != 1 {
				t.Errorf("%d connections, want 1", n)
			}
		})
	}
}

// TestPreparedPutErrors: what fails while preparing (credentials) or sending is returned by
// Wait exactly as PutRecords returns it.
func TestPreparedPutErrors(t *testing.T) {
	isolateEnv(t, true)
	addr := h1test.ClosedAddr(t)
	_, refused := bothClients(t, Config{Region: "us-east-1", Endpoint: "http://" + addr})
	_, noCreds := bothClients(t, Config{Region: "us-east-1", Endpoint: "http://" + addr})
	noCreds.creds = aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{}, fmt.Errorf("no EC2 IMDS role found")
	})
	for name, p := range map[string]*PutRecordsClient{"connection refused": refused, "credentials": noCreds} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			_, want := p.PutRecords(ctx, putInput())
			c := p.PreparePutRecords(ctx, putInput())
			c.Start(ctx)
			out, err := c.Wait(ctx)
			if want == nil || err == nil || err.Error() != want.Error() || Classify(err) != Classify(want) || out != nil {
				t.Errorf("Wait: %v, %v; PutRecords: %v", out, err, want)
			}
		})
	}
}

package delivery

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"

	"github.com/kinesis-agg/kinesis_agg/aggregation"
	"github.com/kinesis-agg/kinesis_agg/kinesisapi"
)

// PreparePutRecords makes the fake a PutRecordsPreparer, as kinesisapi.PutRecordsClient is, so
// the tests drive the path the plugin takes. Like the real client, the request reaches the
// stream when it is started (Kinesis may store it before anyone reads the answer), and the
// input must stay as it was until Wait (the real client replays it into the SDK on errors).
func (f *fakeKinesis) PreparePutRecords(ctx context.Context, in *kinesis.PutRecordsInput) kinesisapi.PreparedPut {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.prepared++
	c := &fakeCall{f: f, id: f.prepared, in: in, snapshot: append([]types.PutRecordsRequestEntry(nil), in.Records...)}
	f.open = append(f.open, c)
	f.eventf("prepare %d", c.id)
	return c
}

// fakeCall is one prepared request of the fake; it notes every misuse in the fake's problems.
type fakeCall struct {
	f        *fakeKinesis
	id       int
	in       *kinesis.PutRecordsInput
	snapshot []types.PutRecordsRequestEntry
	started  bool
	ended    bool
	out      *kinesis.PutRecordsOutput
	err      error
}

func (c *fakeCall) Start(ctx context.Context) {
	c.f.mu.Lock()
	if c.started || c.ended {
		c.f.problemf("call %d started again (started %v, ended %v)", c.id, c.started, c.ended)
	}
	c.started = true
	for _, o := range c.f.open {
		if c.f.serial && o != c && o.started && !o.ended {
			c.f.problemf("call %d started while call %d is in flight", c.id, o.id)
		}
	}
	c.f.eventf("start %d", c.id)
	c.f.mu.Unlock()
	c.out, c.err = c.f.PutRecords(ctx, c.in)
}

func (c *fakeCall) Wait(ctx context.Context) (*kinesis.PutRecordsOutput, error) {
	if !c.started {
		c.Start(ctx)
	}
	c.f.mu.Lock()
	defer c.f.mu.Unlock()
	if c.ended {
		c.f.problemf("call %d ended twice", c.id)
	}
	c.ended = true
	if !sameEntries(c.in.Records, c.snapshot) {
		c.f.problemf("call %d: its input changed between prepare and Wait", c.id)
	}
	c.f.eventf("wait %d", c.id)
	return c.out, c.err
}

func (c *fakeCall) Discard() {
	c.f.mu.Lock()
	defer c.f.mu.Unlock()
	if c.started || c.ended {
		c.f.problemf("call %d discarded after start or end", c.id)
	}
	c.ended = true
	c.f.eventf("discard %d", c.id)
}

func sameEntries(a, b []types.PutRecordsRequestEntry) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if len(a[i].Data) != len(b[i].Data) || len(a[i].Data) > 0 && &a[i].Data[0] != &b[i].Data[0] ||
			aws.ToString(a[i].PartitionKey) != aws.ToString(b[i].PartitionKey) ||
			aws.ToString(a[i].ExplicitHashKey) != aws.ToString(b[i].ExplicitHashKey) {
			return false
		}
	}
	return true
}

// eventf and problemf are called with f.mu held.
func (f *fakeKinesis) eventf(format string, args ...any) {
	f.events = append(f.events, fmt.Sprintf(format, args...))
}

func (f *fakeKinesis) problemf(format string, args ...any) {
	f.problems = append(f.problems, fmt.Sprintf(format, args...))
}

// callProblems returns the misuses of prepared calls, including calls never ended.
func (f *fakeKinesis) callProblems() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := append([]string(nil), f.problems...)
	for _, c := range f.open {
		if !c.ended {
			out = append(out, fmt.Sprintf("call %d neither waited for nor discarded", c.id))
		}
	}
	return out
}

// sequential hides the fake's PreparePutRecords: the Sender then calls PutRecords one batch
// after another, as it does over the SDK client.
type sequential struct{ api PutRecordsAPI }

func (s sequential) PutRecords(ctx context.Context, in *kinesis.PutRecordsInput, opt ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error) {
	return s.api.PutRecords(ctx, in, opt...)
}

// TestPipelinedOrder: each batch's request is built while the previous one is answered, but
// requests go one at a time and in order; a request built ahead is discarded when the round
// stops, and never sent.
func TestPipelinedOrder(t *testing.T) {
	tests := []struct {
		name        string
		failRequest func(call int) error
		cancelAt    int // cancel the context when this call starts
		want        string
		delivered   int
	}{
		{"all delivered", nil, 0,
			"prepare 1,start 1,prepare 2,wait 1,start 2,prepare 3,wait 2,start 3,wait 3", 30},
		{"permanent failure stops the round", func(call int) error {
			if call == 2 {
				return apiError("AccessDeniedException", smithy.FaultClient)
			}
			return nil
		}, 0, "prepare 1,start 1,prepare 2,wait 1,start 2,prepare 3,wait 2,discard 3", 10},
		{"canceled", nil, 1, "prepare 1,start 1,prepare 2,wait 1,discard 2", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeKinesis(1)
			f.serial = true
			f.failRequest = tt.failRequest
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tt.cancelAt > 0 {
				f.beforeCall = func(call int) {
					if call == tt.cancelAt {
						cancel()
					}
				}
			}
			s, _ := newTestSender(f, &fakeTopology{cur: f.shardMap(), stream: f}, Options{MaxEntries: 10})
			res := s.Deliver(ctx, makeRecords(t, 30, 30, 20))
			if got := strings.Join(f.events, ","); got != tt.want {
				t.Errorf("events\n got %s\nwant %s", got, tt.want)
			}
			if res.Delivered.Count() != tt.delivered {
				t.Errorf("delivered %d, want %d (err %v)", res.Delivered.Count(), tt.delivered, res.Err)
			}
			if p := f.callProblems(); len(p) > 0 {
				t.Errorf("call problems: %v", p)
			}
			if tt.cancelAt > 0 && !errors.Is(res.Err, context.Canceled) {
				t.Errorf("err = %v, want context.Canceled", res.Err)
			}
		})
	}
}

// TestPipelinedMatchesSequential: the same script of failures and reshards gives the same
// requests, results and stored records whether requests are built ahead or not.
func TestPipelinedMatchesSequential(t *testing.T) {
	run := func(pipelined bool) (Result, []callInfo, []storedRecord) {
		f := newFakeKinesis(2)
		f.beforeCall = func(call int) {
			if call == 3 {
				f.split(f.openIDs()[0])
			}
		}
		f.failEntry = func(call, idx int, _, _ string) string {
			if call == 2 && idx%3 == 0 {
				return "ProvisionedThroughputExceededException"
			}
			return ""
		}
		var api PutRecordsAPI = f
		if !pipelined {
			api = sequential{f}
		}
		s, _ := newTestSender(api, &fakeTopology{cur: f.shardMap(), stream: f}, Options{Aggregate: true, MaxEntries: 2,
			Limits: aggregation.Limits{MaxAggregateRecords: 4}})
		res := s.Deliver(context.Background(), makeRecords(t, 200, 50, 40))
		checkResult(t, f, 200, res, true)
		return res, f.calls, f.stored
	}
	resP, callsP, storedP := run(true)
	resS, callsS, storedS := run(false)
	if resP.Stats.Calls < 4 || resP.Stats.Misroutes == 0 || resP.Stats.EntriesFailed == 0 {
		t.Fatalf("script did not exercise several calls, a misroute and failed entries: %+v", resP.Stats)
	}
	if !reflect.DeepEqual(resP.Stats, resS.Stats) || resP.Delivered.Count() != resS.Delivered.Count() {
		t.Errorf("stats differ:\npipelined  %+v\nsequential %+v", resP.Stats, resS.Stats)
	}
	if !reflect.DeepEqual(callsP, callsS) {
		t.Errorf("requests differ:\npipelined  %v\nsequential %v", callsP, callsS)
	}
	if !reflect.DeepEqual(storedP, storedS) {
		t.Errorf("stored records differ (%d vs %d)", len(storedP), len(storedS))
	}
}

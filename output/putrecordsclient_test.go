package output

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/kinesis-agg/kinesis_agg/conf"
	"github.com/kinesis-agg/kinesis_agg/internal/chunkgen"
	"github.com/kinesis-agg/kinesis_agg/internal/fakekinesis"
)

// TestPutRecordsClientSetting checks that put_records_client picks who sends PutRecords: the
// plugin's own client by default, the SDK's operation stack with "sdk". They differ on the wire
// in their User-Agent.
func TestPutRecordsClientSetting(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_CONFIG_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", t.TempDir()+"/none")
	for _, tt := range []struct{ setting, agent string }{
		{"", "kinesis_agg "},
		{"direct", "kinesis_agg "},
		{"sdk", "aws-sdk-go-v2/"},
	} {
		t.Run("setting="+tt.setting, func(t *testing.T) {
			fake, err := fakekinesis.New(fakekinesis.Options{Shards: 2, StreamName: "s"})
			if err != nil {
				t.Fatal(err)
			}
			var mu sync.Mutex
			var agents []string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if strings.HasSuffix(r.Header.Get("X-Amz-Target"), ".PutRecords") {
					mu.Lock()
					agents = append(agents, r.Header.Get("User-Agent"))
					mu.Unlock()
				}
				fake.ServeHTTP(w, r)
			}))
			defer srv.Close()
			props := map[string]string{"region": fakekinesis.Region, "stream": "s", "endpoint": srv.URL,
				"plugin_log_level": "error", "put_records_client": tt.setting}
			cfg, err := conf.Parse(func(k string) string { return props[k] })
			if err != nil {
				t.Fatal(err)
			}
			in, err := New("kinesis_agg.0", cfg, Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer in.Close()
			for _, chunk := range chunkgen.Generate(chunkgen.Options{Records: 200, Seed: 3, ChunkBytes: 50_000}) {
				if st := in.Flush(chunk, "t"); st != OK {
					t.Fatalf("flush: %v", st)
				}
			}
			mu.Lock()
			defer mu.Unlock()
			if len(agents) == 0 {
				t.Fatal("no PutRecords request")
			}
			for _, a := range agents {
				if !strings.HasPrefix(a, tt.agent) {
					t.Fatalf("User-Agent %q, want the %q client's", a, tt.agent)
				}
			}
			if got := fake.Stats().Entries; got == 0 {
				t.Errorf("fake accepted %d entries", got)
			}
		})
	}
}

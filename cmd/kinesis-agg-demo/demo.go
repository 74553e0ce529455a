package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/kinesis-agg/kinesis_agg/internal/kclreader"
	"github.com/kinesis-agg/kinesis_agg/internal/kinesalite"
)

// The demo's fixed choices.
const (
	streamName   = "demo"
	region       = "us-east-1"
	recordTag    = "kube.shop"
	partitionKey = "$kubernetes['pod_name']"
	// workers is the output's Workers (fluent-bit) or --threads (host): concurrent flushes.
	workers = 2
	// shipSlices is how many chunks (host) or log writes (fluent-bit) the records are spread
	// over, so that resharding falls between them.
	shipSlices = 40
	// maxRecords keeps the generated data (about 330 bytes a record) within a few GB.
	maxRecords = 10_000_000
	// maxShards stays well within kinesalite's shard limit and the time a user will wait.
	maxShards = 64
)

// options are the demo's settings.
type options struct {
	Records     int           // log records to ship
	Shards      int           // shards of the stream at the start
	Keep        bool          // leave the temporary directory behind
	FluentBit   string        // fluent-bit binary to use; "" = look it up
	NoFluentBit bool          // use the C host even when fluent-bit is installed
	Plugin      string        // prebuilt plugin .so; "" = build it
	Verbose     bool          // echo the plugin's (and fluent-bit's) log
	Duration    time.Duration // how long shipping should take

	// BuildDir receives the built plugin and host; "" = build/ in the repository.
	BuildDir string
	// BuildFlags go to `go build` before the package.
	BuildFlags []string
	// DeliveryTimeout bounds the wait, after the last log write, for fluent-bit to deliver
	// everything; 0 = 2 minutes.
	DeliveryTimeout time.Duration
}

func (o options) validate() error {
	switch {
	case o.Records < 1 || o.Records > maxRecords:
		return fmt.Errorf("--records %d: want 1 to %d", o.Records, maxRecords)
	case o.Shards < 1 || o.Shards > maxShards:
		return fmt.Errorf("--shards %d: want 1 to %d", o.Shards, maxShards)
	case o.Duration <= 0 || o.Duration > time.Hour:
		return fmt.Errorf("--duration %v: want more than 0 and at most 1h", o.Duration)
	case o.FluentBit != "" && o.NoFluentBit:
		return errors.New("--fluent-bit and --no-fluent-bit exclude each other")
	}
	return nil
}

// stepCount is the number of numbered progress lines.
const stepCount = 6

// run performs the whole demo, printing progress and the report to out. The result is nil only
// with an error, which means the demo could not run (loss is not an error: see result.ok).
// Everything it starts is stopped and its temporary files are removed before it returns, also
// when ctx is cancelled.
func run(ctx context.Context, o options, out io.Writer) (res *result, err error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	if o.DeliveryTimeout <= 0 {
		o.DeliveryTimeout = 2 * time.Minute
	}
	p := &printer{w: out}
	root, err := repoRoot()
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "kinesis-agg-demo-")
	if err != nil {
		return nil, fmt.Errorf("temporary directory: %w", err)
	}
	defer func() {
		if o.Keep {
			p.printf("kept %s\n", tmp)
			return
		}
		if rmErr := os.RemoveAll(tmp); rmErr != nil && err == nil {
			err = fmt.Errorf("removing %s: %w", tmp, rmErr)
		}
	}()

	p.printf("kinesis_agg demo: %s log records into a local %d-shard Kinesis stream, resharded while shipping\n",
		commas(int64(o.Records)), o.Shards)

	// 1. Local Kinesis.
	t0 := time.Now()
	srv, err := kinesalite.Start(ctx, kinesalite.Options{TestEnv: filepath.Join(root, "testenv")})
	if err != nil {
		return nil, err
	}
	defer func() {
		// kinesalite dies with the terminal's Ctrl-C too; only a crash mid-run is worth a word.
		if stopErr := srv.Stop(); stopErr != nil && err == nil && ctx.Err() == nil {
			err = stopErr
		}
	}()
	admin := kinesalite.NewClient(srv.Endpoint)
	if err := kinesalite.CreateStream(ctx, admin, streamName, o.Shards); err != nil {
		return nil, err
	}
	p.step(1, "kinesalite (in memory) listening on %s; stream %q created with %d shards (%s)",
		srv.Endpoint, streamName, o.Shards, since(t0))

	// 2. The plugin.
	t0 = time.Now()
	buildDir := o.BuildDir
	if buildDir == "" {
		buildDir = filepath.Join(root, "build")
	}
	pluginPath, built, err := preparePlugin(root, buildDir, o.Plugin, o.BuildFlags, func() {
		p.printf("      building the plugin (go build -buildmode=c-shared); the first build takes a minute or two\n")
	})
	if err != nil {
		return nil, err
	}
	if built {
		p.step(2, "plugin built: %s (%s)", displayPath(pluginPath), since(t0))
	} else {
		p.step(2, "plugin: %s", displayPath(pluginPath))
	}

	// 3. What ships the records.
	t0 = time.Now()
	fluentBit, why, err := findFluentBit(o)
	if err != nil {
		return nil, err
	}
	var hostPath string
	if fluentBit != "" {
		p.step(3, "shipper: fluent-bit %s (%s)", displayPath(fluentBit), why)
	} else {
		if hostPath, err = buildHost(buildDir); err != nil {
			return nil, err
		}
		p.step(3, "shipper: C test host %s, which loads and calls the plugin as Fluent Bit 5.1.1 does (%s) (%s)",
			displayPath(hostPath), why, since(t0))
	}

	// 4. Records.
	t0 = time.Now()
	data, err := generate(o.Records, fluentBit != "")
	if err != nil {
		return nil, err
	}
	p.step(4, "generated %s log records with unique ids (%s, %s pods, partition_key %s) (%s)",
		commas(int64(o.Records)), megabytes(data.bytes), commas(int64(data.pods)), partitionKey, since(t0))

	// 5. Ship while resharding.
	env := childEnv()
	props := pluginProps(srv.Endpoint)
	log := newLogSink(p, o.Verbose)
	prog := newProgress(shipSlices)
	shipCtx, cancelShip := context.WithCancel(ctx)
	defer cancelShip()
	reshardDone := make(chan error, 1)
	go func() { reshardDone <- reshard(shipCtx, admin, streamName, prog, p) }()

	t0 = time.Now()
	var shipped *shipResult
	if fluentBit != "" {
		p.step(5, "shipping through fluent-bit (tail, Workers %d) while 3 shards are split and 2 pairs merged", workers)
		shipped, err = shipWithFluentBit(shipCtx, fluentBitJob{
			binary: fluentBit, dir: filepath.Join(tmp, "fluent-bit"), plugin: pluginPath, props: props,
			records: o.Records, lines: data.logSlices, duration: o.Duration, timeout: o.DeliveryTimeout,
			env: env, log: log, p: p,
			delivered: func(ctx context.Context) (int, error) {
				c, _, err := readBack(ctx, admin, o.Records)
				return c.delivered, err
			},
		}, prog)
	} else {
		p.step(5, "shipping %d chunks through the C host (%d flush threads) while 3 shards are split and 2 pairs merged",
			len(data.chunks), workers)
		shipped, err = shipWithHost(shipCtx, hostJob{
			host: hostPath, plugin: pluginPath, props: props, dir: filepath.Join(tmp, "chunks"),
			chunks: data.chunks, duration: o.Duration, env: env, log: log,
		}, prog)
	}
	prog.finish()
	if err != nil {
		cancelShip()
		<-reshardDone
		return nil, withLogTail(err, log)
	}
	if err := <-reshardDone; err != nil {
		return nil, fmt.Errorf("resharding: %w", err)
	}
	p.printf("      shipped in %s; the plugin stopped with: %s\n", since(t0), shipped.plugin.brief())

	// 6. Read back.
	t0 = time.Now()
	counts, rep, err := readBack(ctx, admin, o.Records)
	if err != nil {
		return nil, err
	}
	open := 0
	for _, s := range rep.Shards {
		if !s.Closed {
			open++
		}
	}
	p.step(6, "read %d shards (%d open, %d closed by resharding) from TRIM_HORIZON with KCL's rules (%s)",
		len(rep.Shards), open, len(rep.Shards)-open, since(t0))

	res = newResult(o.Records, counts, rep, shipped)
	res.tempDir = tmp
	res.print(p)
	return res, nil
}

// readBack reads the whole stream as a KCL consumer would and counts the demo's ids in it.
func readBack(ctx context.Context, admin *kinesis.Client, n int) (idCounts, *kclreader.Report, error) {
	rep, err := kclreader.ReadAll(ctx, admin, streamName)
	if err != nil {
		return idCounts{}, nil, fmt.Errorf("reading the stream back: %w", err)
	}
	return countIDs(rep.Delivered, n), rep, nil
}

// withLogTail adds the end of the plugin's (or fluent-bit's) log to a shipping error.
func withLogTail(err error, log *logSink) error {
	if t := log.tail(); t != "" {
		return fmt.Errorf("%w\nlast log lines:\n%s", err, t)
	}
	return err
}

// since formats the time elapsed since t0 for progress lines.
func since(t0 time.Time) string {
	d := time.Since(t0)
	if d < time.Second {
		return d.Round(time.Millisecond).String()
	}
	return d.Round(100 * time.Millisecond).String()
}

// displayPath shows p relative to the working directory when it lies below it.
func displayPath(p string) string {
	wd, err := os.Getwd()
	if err != nil {
		return p
	}
	if rel, err := filepath.Rel(wd, p); err == nil && filepath.IsLocal(rel) {
		return rel
	}
	return p
}

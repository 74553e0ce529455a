// Command kinesis_agg is a Fluent Bit output plugin (build with -buildmode=c-shared) that ships
// records to Amazon Kinesis Data Streams in shard-aware KPL aggregates that no KCL consumer drops.
//
// This file only translates between Fluent Bit's C calls and output.Instance: configuration
// lookups, the instance registry and return codes. A panic never crosses into Fluent Bit.
package main

import (
	"C"
	"fmt"
	"os"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"sync"
	"time"
	"unsafe"

	flb "github.com/fluent/fluent-bit-go/output"

	"github.com/kinesis-agg/kinesis_agg/conf"
	"github.com/kinesis-agg/kinesis_agg/output"
)

const (
	pluginName        = "kinesis_agg"
	pluginDescription = "Amazon Kinesis Data Streams, shard-aware KPL aggregation without KCL data loss"
)

// registry holds the live instances: the only package-level state, because Fluent Bit hands us
// nothing but opaque pointers.
var registry = struct {
	sync.Mutex
	next      int
	instances map[*output.Instance]struct{}
	// goroutines counted at registration, to show at exit that nothing was left running.
	baseline int
}{instances: map[*output.Instance]struct{}{}}

// logf writes a Fluent Bit style line for errors outside any instance.
func logf(level, format string, args ...any) {
	fmt.Fprintf(os.Stderr, "[%s] [%5s] [output:%s] %s\n", time.Now().Format("2006/01/02 15:04:05"), level, pluginName, fmt.Sprintf(format, args...))
}

// goroutines counts the goroutines the profile shows: runtime.NumGoroutine also counts one per
// C thread that ever called into Go, which says nothing about what we left running.
func goroutines() int { return pprof.Lookup("goroutine").Count() }

//export FLBPluginRegister
func FLBPluginRegister(def unsafe.Pointer) int {
	registry.Lock()
	registry.baseline = goroutines()
	registry.Unlock()
	return flb.FLBPluginRegister(def, pluginName, pluginDescription)
}

//export FLBPluginInit
func FLBPluginInit(plugin unsafe.Pointer) (ret int) {
	defer func() {
		if r := recover(); r != nil {
			logf("error", "panic in Init: %v\n%s", r, debug.Stack())
			ret = flb.FLB_ERROR
		}
	}()
	// Properties must be read here: Fluent Bit reuses plugin for every instance.
	cfg, err := conf.Parse(func(key string) string { return flb.FLBPluginConfigKey(plugin, key) })
	if err != nil {
		logf("error", "%v", err)
		return flb.FLB_ERROR
	}
	registry.Lock()
	name := pluginName + "." + strconv.Itoa(registry.next)
	registry.next++
	registry.Unlock()
	in, err := output.New(name, cfg, output.Options{})
	if err != nil {
		logf("error", "%s: %v", name, err)
		return flb.FLB_ERROR
	}
	registry.Lock()
	registry.instances[in] = struct{}{}
	registry.Unlock()
	flb.FLBPluginSetContext(plugin, in)
	return flb.FLB_OK
}

//export FLBPluginFlushCtx
func FLBPluginFlushCtx(ctx, data unsafe.Pointer, length C.size_t, tag *C.char) (ret int) {
	defer func() {
		if r := recover(); r != nil {
			logf("error", "panic in flush, the chunk will be retried: %v\n%s", r, debug.Stack())
			ret = flb.FLB_RETRY
		}
	}()
	in, ok := flb.FLBPluginGetContext(ctx).(*output.Instance)
	if !ok || in == nil {
		logf("error", "flush for an unknown instance context %p", ctx)
		return flb.FLB_RETRY
	}
	// The chunk is only read during the call, so it is not copied.
	chunk := unsafe.Slice((*byte)(data), int(length))
	return int(in.Flush(chunk, C.GoString(tag)))
}

//export FLBPluginExitCtx
func FLBPluginExitCtx(ctx unsafe.Pointer) (ret int) {
	defer func() {
		if r := recover(); r != nil {
			logf("error", "panic in exit: %v\n%s", r, debug.Stack())
			ret = flb.FLB_ERROR
		}
	}()
	in, ok := flb.FLBPluginGetContext(ctx).(*output.Instance)
	if !ok || in == nil {
		return flb.FLB_OK
	}
	in.Close()
	registry.Lock()
	delete(registry.instances, in)
	last, baseline := len(registry.instances) == 0, registry.baseline
	registry.Unlock()
	if last {
		// Closed connections end their goroutines asynchronously; give them a moment.
		for deadline := time.Now().Add(time.Second); goroutines() > baseline && time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond)
		}
		logf("info", "all instances stopped: goroutines=%d baseline=%d", goroutines(), baseline)
	}
	return flb.FLB_OK
}

// FLBPluginExit is only called by Fluent Bit versions without ExitCtx; it stops every instance.
//
//export FLBPluginExit
func FLBPluginExit() int {
	registry.Lock()
	all := make([]*output.Instance, 0, len(registry.instances))
	for in := range registry.instances {
		all = append(all, in)
	}
	clear(registry.instances)
	registry.Unlock()
	for _, in := range all {
		in.Close()
	}
	return flb.FLB_OK
}

//export FLBPluginUnregister
func FLBPluginUnregister(def unsafe.Pointer) {
	flb.FLBPluginUnregister(def)
}

func main() {}

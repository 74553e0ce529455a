// Command testplugin is a minimal Fluent Bit Go output plugin, registered as
// "capture", used only to test the flbhost C test host. Build it with
// `go build -buildmode=c-shared`.
//
// Properties (read in Init):
//
//	out_dir         directory for the capture files (required unless fail_init is set)
//	id              instance name written to every capture line (default: Init ordinal "0", "1", ...)
//	retry_first     answer FLB_RETRY to the first N deliveries of each distinct chunk (by sha256)
//	fail_init       any non-empty value makes Init return FLB_ERROR
//	flush_sleep_ms  sleep this long inside every FlushCtx
//	flush_rc        answer this code instead of FLB_OK once retry_first is used up (e.g. 0 or 7)
//	echo_keys       comma-separated keys whose lookups are recorded in init-<id>.json
//	log_msg         Init passes this to the host's flb_api log_print (level 3)
//
// Files written to out_dir:
//
//	deliveries.jsonl  one JSON line per FlushCtx call (see delivery)
//	init-<id>.json    the properties the instance saw (see initRecord)
//	exit-<id>.json    written by ExitCtx (see exitRecord)
//
// Lifecycle calls are logged to stderr as "capture-lifecycle: <call> <arg>" so a
// test can check the order in which the host made them.
package main

/*
#include <stdlib.h>

// Mirrors of the Fluent Bit structs (spec §3), under names that do not clash
// with fluent-bit-go's headers. They let the plugin see what the host's
// output_get_property really returns (NULL vs "", pointer stability), which
// output.FLBPluginConfigKey hides.
struct capture_api {
    char *(*output_get_property)(char *, void *);
    void *input_get_property;
    void *output_get_cmt_instance;
    void *input_get_cmt_instance;
    void (*log_print)(int, const char *, int, const char *, ...);
    void *input_log_check;
    int (*output_log_check)(void *, int);
};
struct capture_plugin {
    char *name;
    struct capture_api *api;
    void *o_ins;
    void *context;
};

static char *capture_get(void *plugin, char *key) {
    struct capture_plugin *p = plugin;
    return p->api->output_get_property(key, p->o_ins);
}
static void capture_log(void *plugin, int level, char *msg) {
    struct capture_plugin *p = plugin;
    p->api->log_print(level, "capture.go", 42, "capture says: %s", msg);
}
static int capture_log_check(void *plugin, int level) {
    struct capture_plugin *p = plugin;
    return p->api->output_log_check(p->o_ins, level);
}
static void *capture_o_ins(void *plugin) {
    return ((struct capture_plugin *)plugin)->o_ins;
}
*/
import "C"

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/fluent/fluent-bit-go/output"
)

// initOrdinal numbers Init calls so instances without an id prop stay distinct.
var initOrdinal atomic.Int64

// lastInstance is the most recently initialised instance; the legacy (context-free)
// Flush and Exit build can only use that one, like real pre-FlushCtx plugins.
var lastInstance atomic.Pointer[instance]

// instance is the per-[OUTPUT] state stored with FLBPluginSetContext.
type instance struct {
	id         string
	outDir     string
	retryFirst int
	finalRC    int
	sleep      time.Duration

	inFlight    atomic.Int64
	maxInFlight atomic.Int64
	flushes     atomic.Int64

	mu     sync.Mutex
	seen   map[[32]byte]int // deliveries so far per chunk content
	out    *os.File
	closed bool
}

// delivery is one line of deliveries.jsonl.
type delivery struct {
	ID       string `json:"id"`
	Tag      string `json:"tag"`
	SHA256   string `json:"sha256"`
	Size     int    `json:"size"`
	Attempt  int    `json:"attempt"`
	RC       int    `json:"rc"`
	InFlight int64  `json:"in_flight"`
	StartNS  int64  `json:"start_ns"`
	EndNS    int64  `json:"end_ns"`
}

// propView is what one output_get_property lookup returned.
type propView struct {
	Value   string `json:"value"`
	Null    bool   `json:"null"`
	Stable  bool   `json:"stable"`  // a second lookup returned the same pointer
	ViaFLBG string `json:"via_flb"` // output.FLBPluginConfigKey's answer
}

// initRecord is init-<id>.json.
type initRecord struct {
	ID       string              `json:"id"`
	OIns     string              `json:"o_ins"`
	LogCheck int                 `json:"log_check"` // flb_api output_log_check(o_ins, 3)
	Props    map[string]propView `json:"props"`
}

// exitRecord is exit-<id>.json.
type exitRecord struct {
	ID          string `json:"id"`
	Flushes     int64  `json:"flushes"`
	MaxInFlight int64  `json:"max_in_flight"`
}

func lifecycle(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "capture-lifecycle: "+format+"\n", args...)
}

func lookup(plugin unsafe.Pointer, key string) propView {
	ck := C.CString(key)
	defer C.free(unsafe.Pointer(ck))
	p1 := C.capture_get(plugin, ck)
	p2 := C.capture_get(plugin, ck)
	v := propView{Null: p1 == nil, Stable: p1 == p2, ViaFLBG: output.FLBPluginConfigKey(plugin, key)}
	if p1 != nil {
		v.Value = C.GoString(p1)
	}
	return v
}

func intProp(plugin unsafe.Pointer, key string, def int) (int, error) {
	s := output.FLBPluginConfigKey(plugin, key)
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("capture: %s %q: %w", key, s, err)
	}
	return n, nil
}

func newInstance(plugin unsafe.Pointer) (*instance, error) {
	ord := initOrdinal.Add(1) - 1
	in := &instance{
		id:     output.FLBPluginConfigKey(plugin, "id"),
		outDir: output.FLBPluginConfigKey(plugin, "out_dir"),
		seen:   make(map[[32]byte]int),
	}
	if in.id == "" {
		in.id = strconv.FormatInt(ord, 10)
	}
	var err error
	if in.retryFirst, err = intProp(plugin, "retry_first", 0); err != nil {
		return nil, err
	}
	if in.finalRC, err = intProp(plugin, "flush_rc", output.FLB_OK); err != nil {
		return nil, err
	}
	ms, err := intProp(plugin, "flush_sleep_ms", 0)
	if err != nil {
		return nil, err
	}
	in.sleep = time.Duration(ms) * time.Millisecond
	if in.outDir == "" {
		return nil, fmt.Errorf("capture: out_dir is required")
	}

	rec := initRecord{
		ID:       in.id,
		OIns:     fmt.Sprintf("%p", C.capture_o_ins(plugin)),
		LogCheck: int(C.capture_log_check(plugin, 3)),
		Props:    map[string]propView{},
	}
	if msg := output.FLBPluginConfigKey(plugin, "log_msg"); msg != "" {
		cmsg := C.CString(msg)
		C.capture_log(plugin, 3, cmsg)
		C.free(unsafe.Pointer(cmsg))
	}
	for _, k := range strings.Split(output.FLBPluginConfigKey(plugin, "echo_keys"), ",") {
		if k = strings.TrimSpace(k); k != "" {
			rec.Props[k] = lookup(plugin, k)
		}
	}
	if err := writeJSON(filepath.Join(in.outDir, "init-"+in.id+".json"), rec); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(in.outDir, "deliveries.jsonl"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("capture: %w", err)
	}
	in.out = f
	return in, nil
}

func writeJSON(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("capture: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("capture: %w", err)
	}
	return nil
}

func (in *instance) flush(data []byte, tag string) int {
	start := time.Now()
	cur := in.inFlight.Add(1)
	defer in.inFlight.Add(-1)
	for {
		m := in.maxInFlight.Load()
		if cur <= m || in.maxInFlight.CompareAndSwap(m, cur) {
			break
		}
	}
	in.flushes.Add(1)
	sum := sha256.Sum256(data)
	if in.sleep > 0 {
		time.Sleep(in.sleep)
	}

	in.mu.Lock()
	defer in.mu.Unlock()
	if in.closed {
		fmt.Fprintf(os.Stderr, "capture: %s: flush after exit\n", in.id)
		return output.FLB_ERROR
	}
	in.seen[sum]++
	attempt := in.seen[sum]
	rc := in.finalRC
	if attempt <= in.retryFirst {
		rc = output.FLB_RETRY
	}
	line, _ := json.Marshal(delivery{
		ID: in.id, Tag: tag, SHA256: hex.EncodeToString(sum[:]), Size: len(data),
		Attempt: attempt, RC: rc, InFlight: cur,
		StartNS: start.UnixNano(), EndNS: time.Now().UnixNano(),
	})
	if _, err := in.out.Write(append(line, '\n')); err != nil {
		fmt.Fprintf(os.Stderr, "capture: %s: write delivery: %v\n", in.id, err)
		return output.FLB_ERROR
	}
	return rc
}

//export FLBPluginPreRegister
func FLBPluginPreRegister(hotReloading C.int) C.int {
	lifecycle("PreRegister %d", int(hotReloading))
	return 0
}

//export FLBPluginRegister
func FLBPluginRegister(def unsafe.Pointer) int {
	lifecycle("Register")
	return output.FLBPluginRegister(def, "capture", "flbhost test capture plugin")
}

//export FLBPluginInit
func FLBPluginInit(plugin unsafe.Pointer) int {
	if output.FLBPluginConfigKey(plugin, "fail_init") != "" {
		lifecycle("Init fail")
		return output.FLB_ERROR
	}
	in, err := newInstance(plugin)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		lifecycle("Init error")
		return output.FLB_ERROR
	}
	output.FLBPluginSetContext(plugin, in)
	lastInstance.Store(in)
	lifecycle("Init %s", in.id)
	return output.FLB_OK
}

//export FLBPluginOutputPreRun
func FLBPluginOutputPreRun(enableHotReload C.int) C.int {
	lifecycle("PreRun %d", int(enableHotReload))
	return 0
}

//export FLBPluginOutputPreExit
func FLBPluginOutputPreExit(shutdownByHotReload C.int) {
	lifecycle("PreExit %d", int(shutdownByHotReload))
}

// close writes exit-<id>.json and closes the capture file; later calls do nothing.
func (in *instance) close() error {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.closed {
		return nil
	}
	in.closed = true
	err := writeJSON(filepath.Join(in.outDir, "exit-"+in.id+".json"),
		exitRecord{ID: in.id, Flushes: in.flushes.Load(), MaxInFlight: in.maxInFlight.Load()})
	if cerr := in.out.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("capture: %w", cerr)
	}
	return err
}

//export FLBPluginUnregister
func FLBPluginUnregister(def unsafe.Pointer) {
	lifecycle("Unregister")
	output.FLBPluginUnregister(def)
}

func main() {}

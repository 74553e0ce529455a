//go:build flbhost_legacy

package main

import "C"

import (
	"fmt"
	"os"
	"unsafe"

	"github.com/fluent/fluent-bit-go/output"
)

// The flbhost_legacy build exports only the context-free Flush and Exit, so the host's
// fallback path (spec §2: Flush only if FlushCtx is missing, Exit per instance only if
// ExitCtx is missing) can be tested.

//export FLBPluginFlush
func FLBPluginFlush(data unsafe.Pointer, length C.int, tag *C.char) int {
	in := lastInstance.Load()
	if in == nil {
		fmt.Fprintln(os.Stderr, "capture: Flush before Init")
		return output.FLB_ERROR
	}
	return in.flush(C.GoBytes(data, length), C.GoString(tag))
}

//export FLBPluginExit
func FLBPluginExit() int {
	in := lastInstance.Load()
	if in == nil {
		lifecycle("Exit none")
		return output.FLB_ERROR
	}
	lifecycle("Exit %s", in.id)
	if err := in.close(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return output.FLB_ERROR
	}
	return output.FLB_OK
}

//go:build !flbhost_legacy

package main

import "C"

import (
	"fmt"
	"os"
	"unsafe"

	"github.com/fluent/fluent-bit-go/output"
)

//export FLBPluginFlushCtx
func FLBPluginFlushCtx(ctx, data unsafe.Pointer, length C.int, tag *C.char) int {
	in, ok := output.FLBPluginGetContext(ctx).(*instance)
	if !ok {
		fmt.Fprintf(os.Stderr, "capture: FlushCtx: unknown context %p\n", ctx)
		return output.FLB_ERROR
	}
	return in.flush(C.GoBytes(data, length), C.GoString(tag))
}

//export FLBPluginExitCtx
func FLBPluginExitCtx(ctx unsafe.Pointer) int {
	in, ok := output.FLBPluginGetContext(ctx).(*instance)
	if !ok {
		lifecycle("ExitCtx unknown")
		return output.FLB_ERROR
	}
	lifecycle("ExitCtx %s", in.id)
	if err := in.close(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return output.FLB_ERROR
	}
	return output.FLB_OK
}

//go:build unix

package events

import "syscall"

// cpuTime returns the process's user+system CPU time in nanoseconds, so benchmarks can report a
// per-record cost that does not depend on how busy the machine is.
func cpuTime() (int64, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return ru.Utime.Nano() + ru.Stime.Nano(), true
}

//go:build !unix

package events

func cpuTime() (int64, bool) { return 0, false }

//go:build race

package md5x

// The race runtime adds allocations of its own, which would break the
// allocation-count assertions.
func init() { raceEnabled = true }

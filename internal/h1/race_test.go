//go:build race

package h1

// The race runtime allocates for itself, which would break allocation-count assertions.
func init() { raceEnabled = true }

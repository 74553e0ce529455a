//go:build race

package kinesisapi

// The race runtime drops sync.Pool items at random and allocates for itself, which would break
// allocation-count assertions.
func init() { raceEnabled = true }

//go:build race

package aggregation

// Under the race detector sync.Pool drops a quarter of what it is given (md5x keeps its
// finisher in one), so allocation counts are not meaningful there.
func init() { raceEnabled = true }

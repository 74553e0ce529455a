package delivery

import "time"

// backoff returns the delay before retry round attempt (1-based): full jitter over an exponential
// ceiling, uniform in [0, min(max, base*2^(attempt-1))). Full jitter spreads the retries of many
// agents that were throttled together.
func backoff(attempt int, base, max time.Duration, rnd float64) time.Duration {
	ceiling := base
	for i := 1; i < attempt && ceiling < max; i++ {
		ceiling *= 2
	}
	if ceiling > max {
		ceiling = max
	}
	if rnd < 0 {
		rnd = 0
	} else if rnd >= 1 {
		rnd = 0.9999999
	}
	return time.Duration(rnd * float64(ceiling))
}

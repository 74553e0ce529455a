package conf

import (
	"errors"
	"math"
	"strconv"
	"strings"
	"time"
)

// Size units as in Fluent Bit's flb_utils_size_to_bytes: every spelling is a power of 1024.
const (
	kib = 1 << 10
	mib = 1 << 20
	gib = 1 << 30
)

var (
	errNegative = errors.New("must not be negative")
	errTooLarge = errors.New("too large")
)

// parseBool accepts the spellings Fluent Bit accepts, case-insensitively.
func parseBool(v string) (bool, bool) {
	switch strings.ToLower(v) {
	case "on", "true", "yes", "1":
		return true, true
	case "off", "false", "no", "0":
		return false, true
	}
	return false, false
}

func formatBool(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

// parseSize reads a byte count: digits, optionally followed (after optional spaces) by K, KB,
// KiB, M, MB, MiB, G, GB or GiB in any case. All units are powers of 1024, as in Fluent Bit.
func parseSize(v string) (int64, error) {
	v = strings.TrimSpace(v)
	if strings.HasPrefix(v, "-") {
		return 0, errNegative
	}
	i := 0
	for i < len(v) && v[i] >= '0' && v[i] <= '9' {
		i++
	}
	if i == 0 {
		return 0, errors.New("want a whole number of bytes, optionally with a unit K, KB, KiB, M, MB, MiB, G, GB or GiB")
	}
	digits := v[:i]
	rawUnit := strings.TrimLeft(v[i:], " \t")
	unit := asciiLower(rawUnit) // not strings.ToLower, which maps the Kelvin sign to k
	var mult int64
	switch unit {
	case "":
		mult = 1
	case "k", "kb", "kib":
		mult = kib
	case "m", "mb", "mib":
		mult = mib
	case "g", "gb", "gib":
		mult = gib
	default:
		if unit[0] == '.' {
			return 0, errors.New("want a whole number (fractions are not supported; use a smaller unit)")
		}
		return 0, errors.New("unknown unit " + strconv.Quote(rawUnit) + "; want K, KB, KiB, M, MB, MiB, G, GB or GiB")
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || n > math.MaxInt64/mult {
		return 0, errTooLarge
	}
	return n * mult, nil
}

// formatSize renders n in the largest unit that divides it exactly, so that parseSize reads it
// back unchanged.
func formatSize(n int64) string {
	switch {
	case n == 0:
		return "0"
	case n%gib == 0:
		return strconv.FormatInt(n/gib, 10) + "GiB"
	case n%mib == 0:
		return strconv.FormatInt(n/mib, 10) + "MiB"
	case n%kib == 0:
		return strconv.FormatInt(n/kib, 10) + "KiB"
	}
	return strconv.FormatInt(n, 10)
}

// parseDuration reads a Go duration (500ms, 30s, 1h30m) or a bare whole number of seconds, the
// Fluent Bit convention. Negative durations are rejected.
func parseDuration(v string) (time.Duration, error) {
	v = strings.TrimSpace(v)
	if strings.HasPrefix(v, "-") {
		return 0, errNegative
	}
	if isDigits(strings.TrimPrefix(v, "+")) {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n > math.MaxInt64/int64(time.Second) {
			return 0, errTooLarge
		}
		return time.Duration(n) * time.Second, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		// time.ParseDuration reports overflow and bad syntax alike; the hint covers both.
		return 0, errors.New("want a duration such as 500ms, 30s, 5m or 1h30m (a bare number means seconds, at most 2562047h)")
	}
	if d < 0 {
		return 0, errNegative
	}
	return d, nil
}

// formatDuration renders d as Go does, minus zero trailing units ("1h" rather than "1h0m0s"), so
// that parseDuration reads it back unchanged.
func formatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// parseCount reads a non-negative decimal integer that fits in bits bits.
func parseCount(v string, bits int) (int64, error) {
	v = strings.TrimSpace(v)
	if strings.HasPrefix(v, "-") {
		return 0, errNegative
	}
	if !isDigits(strings.TrimPrefix(v, "+")) {
		return 0, errors.New("want a whole number")
	}
	n, err := strconv.ParseInt(v, 10, bits)
	if err != nil {
		return 0, errTooLarge
	}
	return n, nil
}

func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

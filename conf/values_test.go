package conf

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

func TestParseBool(t *testing.T) {
	for _, v := range []string{"on", "ON", "On", "true", "TRUE", "True", "yes", "YES", "1"} {
		if b, ok := parseBool(v); !ok || !b {
			t.Errorf("parseBool(%q) = %v, %v; want true, true", v, b, ok)
		}
	}
	for _, v := range []string{"off", "OFF", "false", "False", "no", "NO", "0"} {
		if b, ok := parseBool(v); !ok || b {
			t.Errorf("parseBool(%q) = %v, %v; want false, true", v, b, ok)
		}
	}
	for _, v := range []string{"", "2", "y", "n", "enable", "t", "f", "onn", "10", "-1", `"on"`} {
		if _, ok := parseBool(v); ok {
			t.Errorf("parseBool(%q) accepted", v)
		}
	}
}

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		err  string // substring; "" = success
	}{
		{"0", 0, ""},
		{"1", 1, ""},
		{"1048576", 1 << 20, ""},
		{"1K", 1024, ""},
		{"1k", 1024, ""},
		{"1KB", 1024, ""},
		{"1kb", 1024, ""},
		{"1KiB", 1024, ""},
		{"1kib", 1024, ""},
		{"1 KiB", 1024, ""},
		{"1  kb", 1024, ""},
		{"512K", 512 << 10, ""},
		{"5M", 5 << 20, ""},
		{"5MB", 5 << 20, ""},
		{"5MiB", 5 << 20, ""},
		{"5 mib", 5 << 20, ""},
		{"2G", 2 << 30, ""},
		{"2GB", 2 << 30, ""},
		{"2GiB", 2 << 30, ""},
		{" 7 ", 7, ""},
		{"007", 7, ""},
		{"9223372036854775807", math.MaxInt64, ""},
		{"8589934591G", 8589934591 << 30, ""},
		{"9223372036854775808", 0, "too large"},
		{"8589934592G", 0, "too large"},
		{"9007199254740992K", 0, "too large"},
		{"99999999999999999999999", 0, "too large"},
		{"-1", 0, "must not be negative"},
		{"-1K", 0, "must not be negative"},
		{"", 0, "want a whole number of bytes"},
		{"K", 0, "want a whole number of bytes"},
		{"+5", 0, "want a whole number of bytes"},
		{"0x10", 0, `unknown unit "x10"`},
		{"1.5M", 0, "fractions are not supported"},
		{"5T", 0, `unknown unit "T"`},
		{"5MiBs", 0, `unknown unit "MiBs"`},
		{"5B", 0, `unknown unit "B"`},
		{"5 M B", 0, `unknown unit "M B"`},
		{"1_000", 0, `unknown unit "_000"`},
		{"1\u212a", 0, "unknown unit \"\u212a\""}, // Kelvin sign, which strings.ToLower folds to k
	}
	for _, tt := range tests {
		got, err := parseSize(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("parseSize(%q) = %d, %v; want error containing %q", tt.in, got, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
}

func TestFormatSize(t *testing.T) {
	tests := []struct {
		in   int64
		want string
	}{
		{0, "0"}, {1, "1"}, {1023, "1023"}, {1024, "1KiB"}, {1536, "1536"}, {3 << 10, "3KiB"},
		{1 << 20, "1MiB"}, {5 << 20, "5MiB"}, {(1 << 20) + 1024, "1025KiB"}, {10 << 30, "10GiB"},
		{math.MaxInt64, "9223372036854775807"},
	}
	for _, tt := range tests {
		if got := formatSize(tt.in); got != tt.want {
			t.Errorf("formatSize(%d) = %q, want %q", tt.in, got, tt.want)
		}
		if back, err := parseSize(formatSize(tt.in)); err != nil || back != tt.in {
			t.Errorf("parseSize(formatSize(%d)) = %d, %v", tt.in, back, err)
		}
	}
}

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		err  string
	}{
		{"0", 0, ""},
		{"0s", 0, ""},
		{"30", 30 * time.Second, ""},
		{"+30", 30 * time.Second, ""},
		{"030", 30 * time.Second, ""},
		{"500ms", 500 * time.Millisecond, ""},
		{"30s", 30 * time.Second, ""},
		{"5m", 5 * time.Minute, ""},
		{"1h", time.Hour, ""},
		{"1h30m", 90 * time.Minute, ""},
		{"1.5h", 90 * time.Minute, ""},
		{"250us", 250 * time.Microsecond, ""},
		{"250µs", 250 * time.Microsecond, ""},
		{"10ns", 10, ""},
		{" 2s ", 2 * time.Second, ""},
		{"9223372036", 9223372036 * time.Second, ""},
		{"9223372037", 0, "too large"},
		{"99999999999999999999", 0, "too large"},
		{"2562047h47m16.854775807s", math.MaxInt64, ""},
		{"2562048h", 0, "want a duration"},
		{"-1", 0, "must not be negative"},
		{"-1s", 0, "must not be negative"},
		{"", 0, "want a duration"},
		{"s", 0, "want a duration"},
		{"1.5", 0, "want a duration"},
		{"30S", 0, "want a duration"},
		{"30 s", 0, "want a duration"},
		{"1d", 0, "want a duration"},
		{"ten", 0, "want a duration"},
		{"+-1s", 0, "want a duration"},
	}
	for _, tt := range tests {
		got, err := parseDuration(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("parseDuration(%q) = %v, %v; want error containing %q", tt.in, got, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("parseDuration(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

func TestFormatDuration(t *testing.T) {
	tests := []struct {
		in   time.Duration
		want string
	}{
		{0, "0s"}, {time.Second, "1s"}, {60 * time.Second, "1m"}, {90 * time.Second, "1m30s"},
		{time.Hour, "1h"}, {90 * time.Minute, "1h30m"}, {time.Hour + time.Second, "1h0m1s"},
		{1500 * time.Millisecond, "1.5s"}, {500 * time.Millisecond, "500ms"}, {10 * time.Minute, "10m"},
		{math.MaxInt64, "2562047h47m16.854775807s"},
	}
	for _, tt := range tests {
		if got := formatDuration(tt.in); got != tt.want {
			t.Errorf("formatDuration(%v) = %q, want %q", tt.in, got, tt.want)
		}
		if back, err := parseDuration(formatDuration(tt.in)); err != nil || back != tt.in {
			t.Errorf("parseDuration(formatDuration(%v)) = %v, %v", tt.in, back, err)
		}
	}
}

func TestParseCount(t *testing.T) {
	tests := []struct {
		in   string
		bits int
		want int64
		err  error
	}{
		{"0", 64, 0, nil},
		{"50000", 64, 50000, nil},
		{"+3", 64, 3, nil},
		{"9223372036854775807", 64, math.MaxInt64, nil},
		{"9223372036854775808", 64, 0, errTooLarge},
		{"2147483648", 32, 0, errTooLarge},
		{"-1", 64, 0, errNegative},
	}
	for _, tt := range tests {
		got, err := parseCount(tt.in, tt.bits)
		if !errors.Is(err, tt.err) || got != tt.want {
			t.Errorf("parseCount(%q, %d) = %d, %v; want %d, %v", tt.in, tt.bits, got, err, tt.want, tt.err)
		}
	}
	for _, in := range []string{"", "1.0", "1e3", "0x10", "1k", "one", "1 000"} {
		if _, err := parseCount(in, 64); err == nil || err.Error() != "want a whole number" {
			t.Errorf("parseCount(%q) error = %v, want \"want a whole number\"", in, err)
		}
	}
}

//go:build !race

// Package racedetect tells tests whether they run under the race detector, where allocation
// counts mean nothing: the race runtime allocates for itself and sync.Pool drops a quarter of
// what it is given.
package racedetect

// Enabled reports whether the binary was built with -race.
const Enabled = false

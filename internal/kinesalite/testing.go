package kinesalite

import (
	"context"
	"testing"
)

// StartT starts kinesalite with default Options for a test and stops it when the test ends. It
// fails the test, never skips it, when kinesalite cannot start, and reports an error if the
// process died during the test.
func StartT(t testing.TB) *Server {
	t.Helper()
	return StartTWith(t, Options{})
}

// StartTWith is StartT with explicit Options.
func StartTWith(t testing.TB, o Options) *Server {
	t.Helper()
	s, err := Start(context.Background(), o)
	if err != nil {
		t.Fatalf("start kinesalite: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Errorf("stop kinesalite: %v", err)
		}
	})
	return s
}

// Package testenv decides what a test does when a server it needs (PostgreSQL,
// MariaDB, Redis, Chromium) is missing: skip with a clear message on a laptop,
// fail under CI (CI=true), where a skipped test would hide a broken setup.
package testenv

import (
	"os"
	"strconv"
	"testing"
)

// InCI reports whether the tests run under CI (CI=true or CI=1).
func InCI() bool {
	v, err := strconv.ParseBool(os.Getenv("CI"))
	return err == nil && v
}

// Unavailable is called when a server the test needs cannot be reached. It
// fails the test under CI and skips it otherwise, naming the server, the
// address, the cause and how to start it.
func Unavailable(t testing.TB, server, addr string, cause error, howToStart string) {
	t.Helper()
	msg := server + " not reachable at " + addr + ": " + cause.Error() +
		"\n  start it with: " + howToStart + "\n  or run: bash scripts/services.sh"
	if InCI() {
		t.Fatal("CI=true and " + msg)
		return
	}
	t.Skip("skipping: " + msg)
}

// Getenv returns the environment variable key, or def when it is unset or empty.
func Getenv(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

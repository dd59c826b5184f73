//go:build !linux

package testenv

import (
	"errors"
	"testing"
)

// Server is a database server a test started for itself (Linux only: it
// pauses PostgreSQL's processes through /proc).
type Server struct {
	Addr string
}

var errPrivateLinuxOnly = errors.New("private test servers need Linux")

// StartRedis is Linux only; elsewhere it skips (fails under CI).
func StartRedis(t testing.TB) *Server {
	Unavailable(t, "a private redis-server", "-", errPrivateLinuxOnly, "run the tests on Linux")
	return nil
}

// StartPostgres is Linux only; elsewhere it skips (fails under CI).
func StartPostgres(t testing.TB) *Server {
	Unavailable(t, "a private PostgreSQL", "-", errPrivateLinuxOnly, "run the tests on Linux")
	return nil
}

// PostgresDSN is the server's DSN.
func (s *Server) PostgresDSN() string { return "" }

// Pause stops the server.
func (s *Server) Pause() {}

// Resume continues it.
func (s *Server) Resume() {}

// Output is the server's output.
func (s *Server) Output() string { return "" }

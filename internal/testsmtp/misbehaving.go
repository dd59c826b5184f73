package testsmtp

import (
	"bufio"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
)

// StartHanging accepts connections and never writes a byte: the client must
// give up on its own deadline. Returns the address.
func StartHanging(t testing.TB) string {
	return StartScripted(t, func(c net.Conn) {
		_, _ = io.Copy(io.Discard, c) // read (a TLS hello, commands) but never answer
	})
}

// StartScripted accepts connections and hands each to handle, which speaks
// raw SMTP (see Reply). The connection is closed when handle returns, and
// every open connection is closed when the test ends. Returns the address.
func StartScripted(t testing.TB, handle func(net.Conn)) string {
	t.Helper()
	ln := listen(t)
	var (
		mu    sync.Mutex
		conns []net.Conn
		wg    sync.WaitGroup
	)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				handle(c)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

// Script is a line-oriented SMTP peer for StartScripted handlers.
type Script struct {
	c net.Conn
	r *bufio.Reader
}

// NewScript wraps c.
func NewScript(c net.Conn) *Script { return &Script{c: c, r: bufio.NewReader(c)} }

// Reply writes one reply line, e.g. "250 OK".
func (s *Script) Reply(line string) error {
	_, err := s.c.Write([]byte(line + "\r\n"))
	return err
}

// Expect reads one command line and reports whether it starts with verb
// (case-insensitive).
func (s *Script) Expect(verb string) bool {
	line, err := s.r.ReadString('\n')
	return err == nil && strings.HasPrefix(strings.ToUpper(line), strings.ToUpper(verb))
}

// ReadLine reads one line.
func (s *Script) ReadLine() (string, error) { return s.r.ReadString('\n') }

// ClosedPort returns a loopback address nothing listens on.
func ClosedPort(t testing.TB) string {
	t.Helper()
	ln := listen(t)
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

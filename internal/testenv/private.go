//go:build linux

package testenv

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Server is a database server a test started for itself on a free loopback
// port: it can pause it (SIGSTOP, a hung server that still accepts TCP
// connections), resume and kill it without touching the shared servers
// other tests and helpers use. It is stopped at the end of the test.
type Server struct {
	t    testing.TB
	name string
	// Addr is the server's host:port on 127.0.0.1.
	Addr string
	dir  string
	cmd  *exec.Cmd
	out  SyncBuffer
	done chan struct{} // closed when the process has exited
	// tree: signal the process's descendants too (PostgreSQL's backends
	// each run in a session of their own).
	tree bool
}

// StartRedis starts redis-server on a free loopback port, without
// persistence. A missing redis-server binary skips the test, or fails it
// under CI.
func StartRedis(t testing.TB, args ...string) *Server {
	t.Helper()
	bin := redisServerBinary(t)
	s := &Server{t: t, name: "redis-server", Addr: freeLoopbackAddr(t), dir: t.TempDir()}
	_, port, _ := net.SplitHostPort(s.Addr)
	s.start(exec.Command(bin, append([]string{"--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", s.dir}, args...)...))
	s.waitReady(func() error { return redisPing(s.Addr) })
	return s
}

// StartRedisSentinel starts a Redis Sentinel on a free loopback port with
// config (the "sentinel ..." lines; port, bind and dir are added). Like
// StartRedis, a missing binary skips the test, or fails it under CI.
func StartRedisSentinel(t testing.TB, config string) *Server {
	t.Helper()
	bin := redisServerBinary(t)
	s := &Server{t: t, name: "redis-sentinel", Addr: freeLoopbackAddr(t), dir: t.TempDir()}
	_, port, _ := net.SplitHostPort(s.Addr)
	conf := filepath.Join(s.dir, "sentinel.conf")
	full := fmt.Sprintf("port %s\nbind 127.0.0.1\ndir %s\n%s\n", port, s.dir, config)
	if err := os.WriteFile(conf, []byte(full), 0o600); err != nil {
		t.Fatal(err)
	}
	s.start(exec.Command(bin, conf, "--sentinel"))
	s.waitReady(func() error { return redisPing(s.Addr) })
	return s
}

func redisServerBinary(t testing.TB) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		Unavailable(t, "redis-server binary", "$PATH", err, "apt-get install redis-server")
	}
	return bin
}

// Kill ends the server at once (SIGKILL, no goodbye to its clients), as a
// crash would, and waits for it.
func (s *Server) Kill() {
	s.t.Helper()
	_ = syscall.Kill(s.cmd.Process.Pid, syscall.SIGCONT)
	_ = syscall.Kill(s.cmd.Process.Pid, syscall.SIGKILL)
	<-s.done
}

// StartPostgres starts a PostgreSQL server of its own (initdb into a
// temporary directory, trust authentication, fsync off) on a free loopback
// port; PostgresDSN gives its DSN. Running as root, the server runs as the
// postgres user (PostgreSQL refuses root). Missing binaries skip the test,
// or fail it under CI. It takes a few seconds (initdb).
func StartPostgres(t testing.TB) *Server {
	t.Helper()
	initdb, postgres, err := postgresBinaries()
	if err != nil {
		Unavailable(t, "PostgreSQL binaries (initdb, postgres)", "$PATH and /usr/lib/postgresql/*/bin", err, "apt-get install postgresql")
		return nil
	}
	var cred *syscall.Credential
	dir, err := os.MkdirTemp("", "webauthnkit-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			Unavailable(t, "a postgres user to run a private PostgreSQL as (it refuses root)", "/etc/passwd", err, "apt-get install postgresql")
			return nil
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	data := filepath.Join(dir, "data")
	cmd := exec.Command(initdb, "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync", "--no-instructions")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	s := &Server{t: t, name: "postgres", Addr: freeLoopbackAddr(t), dir: dir, tree: true}
	_, port, _ := net.SplitHostPort(s.Addr)
	cmd = exec.Command(postgres, "-D", data, "-p", port,
		"-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=",
		"-c", "fsync=off", "-c", "full_page_writes=off", "-c", "shared_buffers=16MB",
		"-c", "max_connections=200")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	s.start(cmd)
	s.waitReady(func() error {
		if strings.Contains(s.out.String(), "ready to accept connections") {
			return nil
		}
		return errors.New("not ready yet")
	})
	return s
}

// PostgresDSN is the DSN (pgx URL form) of a server from StartPostgres.
func (s *Server) PostgresDSN() string {
	return "postgres://postgres@" + s.Addr + "/postgres?sslmode=disable"
}

// Pause stops the server (SIGSTOP), its child processes too: connections
// are still accepted by the kernel but nothing is answered.
func (s *Server) Pause() { s.t.Helper(); s.signal(syscall.SIGSTOP) }

// Resume continues a paused server (SIGCONT).
func (s *Server) Resume() { s.t.Helper(); s.signal(syscall.SIGCONT) }

// Output is what the server wrote to stdout and stderr, for failure
// messages.
func (s *Server) Output() string { return s.out.String() }

func (s *Server) signal(sig syscall.Signal) {
	s.t.Helper()
	pid := s.cmd.Process.Pid
	if sig == syscall.SIGSTOP {
		// The parent first: stopped, it forks no more children.
		if err := syscall.Kill(pid, sig); err != nil {
			s.t.Fatalf("%s: SIGSTOP %d: %v", s.name, pid, err)
		}
	}
	if s.tree {
		for _, k := range descendants(pid) {
			_ = syscall.Kill(k, sig) // one may have just exited
		}
	}
	if sig != syscall.SIGSTOP {
		if err := syscall.Kill(pid, sig); err != nil {
			s.t.Fatalf("%s: signal %d to %d: %v", s.name, sig, pid, err)
		}
	}
}

func (s *Server) start(cmd *exec.Cmd) {
	s.t.Helper()
	cmd.Stdout, cmd.Stderr = &s.out, &s.out
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	// A test binary killed by its timeout takes the server with it
	// (PostgreSQL's backends exit when the postmaster dies).
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("%s: %v", s.name, err)
	}
	s.cmd = cmd
	s.done = make(chan struct{})
	go func() { _ = cmd.Wait(); close(s.done) }()
	s.t.Cleanup(s.stop)
}

func (s *Server) waitReady(ready func() error) {
	s.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := ready()
		if err == nil {
			return
		}
		select {
		case <-s.done:
			s.t.Fatalf("%s exited while starting:\n%s", s.name, s.out.String())
		default:
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("%s on %s not ready after 30 s: %v\n%s", s.name, s.Addr, err, s.out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop continues the server if it was paused and ends it: PostgreSQL by an
// immediate shutdown (SIGQUIT, which ends its backends too), Redis by
// SIGKILL; SIGKILL for both if it has not exited after 10 s.
func (s *Server) stop() {
	select {
	case <-s.done:
		return
	default:
	}
	pid := s.cmd.Process.Pid
	kids := []int{}
	if s.tree {
		kids = descendants(pid)
	}
	for _, k := range kids {
		_ = syscall.Kill(k, syscall.SIGCONT)
	}
	_ = syscall.Kill(pid, syscall.SIGCONT)
	if s.tree {
		_ = syscall.Kill(pid, syscall.SIGQUIT)
	} else {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(pid, syscall.SIGKILL)
		for _, k := range kids {
			_ = syscall.Kill(k, syscall.SIGKILL)
		}
		<-s.done
	}
}

// descendants lists the processes below pid (from /proc).
func descendants(pid int) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	parent := map[int]int{}
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces and parentheses.
		i := strings.LastIndexByte(string(stat), ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(stat[i+1:]))
		if len(f) < 2 {
			continue
		}
		if pp, err := strconv.Atoi(f[1]); err == nil {
			parent[p] = pp
		}
	}
	var out []int
	var walk func(int)
	walk = func(pp int) {
		for p, q := range parent {
			if q == pp {
				out = append(out, p)
				walk(p)
			}
		}
	}
	walk(pid)
	return out
}

func postgresBinaries() (initdb, postgres string, err error) {
	dirs := []string{""}
	if m, _ := filepath.Glob("/usr/lib/postgresql/*/bin"); len(m) > 0 {
		slices.Sort(m)
		slices.Reverse(m) // newest first
		dirs = append(dirs, m...)
	}
	for _, d := range dirs {
		i, p := "initdb", "postgres"
		if d != "" {
			i, p = filepath.Join(d, i), filepath.Join(d, p)
		}
		ip, err1 := exec.LookPath(i)
		pp, err2 := exec.LookPath(p)
		if err1 == nil && err2 == nil {
			return ip, pp, nil
		}
	}
	return "", "", errors.New("initdb and postgres not found")
}

func freeLoopbackAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// redisPing sends PING over a fresh connection and expects +PONG.
func redisPing(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	buf := make([]byte, 7)
	n, err := c.Read(buf)
	if err != nil {
		return err
	}
	if !strings.HasPrefix(string(buf[:n]), "+PONG") {
		return fmt.Errorf("PING answered %q", buf[:n])
	}
	return nil
}

// PortFree reports whether port can be listened on at 127.0.0.1 now.
func PortFree(port int) bool {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return false
	}
	l.Close()
	return true
}

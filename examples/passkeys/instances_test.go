package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/webauthnkit/webauthnkit/internal/redistest"
	"github.com/webauthnkit/webauthnkit/internal/testenv"
	"github.com/webauthnkit/webauthnkit/sqlstore"
	"github.com/webauthnkit/webauthnkit/webauthntest"
)

// TestThreeInstances runs three processes of the demo, as a user starts
// them (the built binary, PostgreSQL for users and passkeys, Redis for
// ceremonies, one webauthnkit secret and one session secret), behind a
// round-robin proxy, and checks what a deployment of several instances
// relies on: a ceremony begun on one instance finishes on another, a
// session cookie from one is accepted by all, unknown names get the same
// fake allow-list from all (no enumeration by comparing instances), a
// client's rate-limit budget is one across the instances, and
// with one instance killed (SIGKILL) under load, no acknowledged sign-up is
// lost and the others keep serving.
//
// It runs with ceremonies on a single Redis server, on a Redis Cluster and
// on Redis behind Sentinel (with -redis-replica-ack 1); on Sentinel the
// Redis primary is also killed under load: the instances answer 503 during
// the failover and recover by themselves.
func TestThreeInstances(t *testing.T) {
	dsn := testenv.RequirePostgres(t)
	redisAddr := testenv.RequireRedis(t)
	if testing.Short() {
		t.Skip("builds the demo and runs three processes")
	}
	bin := buildDemo(t)
	t.Run("redis", func(t *testing.T) {
		threeInstances(t, bin, dsn, nil, "-redis", redisAddr)
	})
	t.Run("cluster", func(t *testing.T) {
		nodes, err := redistest.StartCluster(t)
		if err != nil {
			testenv.Unavailable(t, "Redis Cluster", "(a cluster started by the test)", err, "scripts/redis-cluster.sh")
		}
		threeInstances(t, bin, dsn, nil, "-redis-cluster", strings.Join(nodes, ","))
	})
	t.Run("sentinel", func(t *testing.T) {
		group := redistest.StartSentinel(t)
		failover := func() {
			group.Primary.Kill()
			t.Logf("Redis failover under load after %v", group.WaitForPrimary(t, group.Replica.Addr))
			// -redis-replica-ack 1 needs a replica: without one every
			// write would wait for WAIT's timeout and fail (as the docs
			// say: keep more replicas than the acknowledgements asked).
			redistest.StartReplica(t, group.Replica.Addr)
		}
		threeInstances(t, bin, dsn, failover, "-redis-sentinel", group.Master+"@"+strings.Join(group.Addrs(), ","),
			"-redis-replica-ack", "1")
	})
}

// threeInstances runs the checks of TestThreeInstances with redisArgs
// naming the ceremonies' Redis; during the load, alsoKill (if set) runs
// after the instance is killed.
func threeInstances(t *testing.T, bin, dsn string, alsoKill func(), redisArgs ...string) {
	prefix := "inst_" + randomHex(4) + "_"
	dropTablesAtEnd(t, dsn, prefix)

	front, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(front.Addr().String())
	origin := "http://localhost:" + port

	dir := t.TempDir()
	secretFile := filepath.Join(dir, "webauthn-secret")
	if err := os.WriteFile(secretFile, []byte(randomHex(32)), 0o600); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "PASSKEYS_SESSION_SECRET="+randomHex(32))
	var instances []*instance
	for i := range 3 {
		instances = append(instances, startInstance(t, bin, env, i,
			append([]string{"-origin", origin, "-postgres", dsn,
				"-store-prefix", prefix, "-webauthn-secret-file", secretFile,
				"-keyring-file", filepath.Join(dir, "keyring"), // created by the first, read by the others
				"-trusted-proxies", "127.0.0.1/32"}, redisArgs...)...))
	}
	proxy := newRoundRobin(instances)
	srv := &http.Server{Handler: proxy}
	go srv.Serve(front)
	t.Cleanup(func() { srv.Close() })

	newUser := func(n int) *client { return newClient(t, front.Addr().String(), origin, n) }

	t.Run("ceremony_across_instances", func(t *testing.T) {
		c := newUser(1)
		begin, err := c.post("registration/begin", map[string]string{"username": "cross-" + randomHex(3)})
		if err != nil {
			t.Fatal(err)
		}
		resp, err := c.device.Register(begin.body)
		if err != nil {
			t.Fatal(err)
		}
		finish, err := c.postRaw("registration/finish", resp)
		if err != nil {
			t.Fatal(err)
		}
		if begin.instance == finish.instance {
			t.Fatalf("begin and finish both on instance %d: the proxy did not alternate", begin.instance)
		}
		// The session works on every instance.
		seen := map[int]bool{}
		for range 3 {
			r, err := c.get("/account")
			if err != nil || r.status != http.StatusOK {
				t.Fatalf("GET /account = %v %v", r.status, err)
			}
			seen[r.instance] = true
		}
		if len(seen) != 3 {
			t.Fatalf("account page served by %v, want all three instances", seen)
		}
	})

	t.Run("unknown_name_same_answer_everywhere", func(t *testing.T) {
		c := newUser(2)
		name := "nobody-" + randomHex(4)
		var first string
		for i := range 3 {
			r, err := c.post("login/begin", map[string]string{"username": name})
			if err != nil {
				t.Fatal(err)
			}
			var opts struct {
				PublicKey struct {
					AllowCredentials []struct {
						ID string `json:"id"`
					} `json:"allowCredentials"`
				} `json:"publicKey"`
			}
			if err := json.Unmarshal(r.body, &opts); err != nil || len(opts.PublicKey.AllowCredentials) == 0 {
				t.Fatalf("login/begin for an unknown name: %s (%v)", r.body, err)
			}
			ids, _ := json.Marshal(opts.PublicKey.AllowCredentials)
			if i == 0 {
				first = string(ids)
			} else if string(ids) != first {
				t.Fatalf("instance %d lists %s for an unknown name, another listed %s", r.instance, ids, first)
			}
		}
	})

	t.Run("rate_limit_shared", func(t *testing.T) {
		// The default begin budget is a burst of 100 per client, refilled
		// at 10/s: spread over the three instances, the client is refused
		// after about 100 begins, not after about 300.
		c := newUser(3)
		served := map[int]bool{}
		allowed := 0
		for ; allowed < 250; allowed++ {
			r, err := c.do(http.MethodPost, "/passkeys/login/begin", []byte(`{}`))
			if err != nil {
				t.Fatal(err)
			}
			if r.status == http.StatusTooManyRequests {
				break
			}
			if r.status != http.StatusOK {
				t.Fatalf("begin %d = %d %s", allowed, r.status, r.body)
			}
			served[r.instance] = true
		}
		if len(served) != 3 || allowed < 100 || allowed > 150 {
			t.Fatalf("one client got %d begins over %d instances before a 429, want 100 to 150 over 3", allowed, len(served))
		}
		t.Logf("one client: %d begins over 3 instances before a 429", allowed)
	})

	t.Run("instance_killed_under_load", func(t *testing.T) {
		const workers = 6
		var (
			mu       sync.Mutex
			acked    []*client // sign-ups whose finish answered 200
			failures atomic.Int64
			okAfter  atomic.Int64
			killed   atomic.Bool // set once the kills are over
			stop     atomic.Bool
			wg       sync.WaitGroup
		)
		for w := range workers {
			wg.Go(func() {
				for i := 0; !stop.Load(); i++ {
					c := newUser(1000 + w*100000 + i)
					name := fmt.Sprintf("load-%d-%d-%s", w, i, randomHex(2))
					if err := c.signUp(name); err != nil {
						failures.Add(1)
						continue
					}
					mu.Lock()
					acked = append(acked, c)
					mu.Unlock()
					if err := c.signIn(name); err != nil {
						failures.Add(1)
						continue
					}
					if killed.Load() {
						okAfter.Add(1)
					}
				}
			})
		}
		time.Sleep(1500 * time.Millisecond)
		instances[1].kill()
		if alsoKill != nil {
			alsoKill()
		}
		killed.Store(true)
		time.Sleep(2500 * time.Millisecond) // the survivors serve on
		stop.Store(true)
		wg.Wait()

		t.Logf("%d sign-ups acknowledged, %d sign-in rounds completed after the kill, %d ceremonies failed (in flight on the killed instance, or during the Redis failover)",
			len(acked), okAfter.Load(), failures.Load())
		if okAfter.Load() == 0 {
			t.Fatal("no sign-in completed after one instance was killed")
		}
		// A worker fails at most its request in flight on the killed
		// instance and one sent on a kept-alive connection to it before
		// the proxy marked it down (then the ceremony's other request).
		if f := failures.Load(); f > 4*workers && alsoKill == nil {
			t.Fatalf("%d failed ceremonies: more than the requests in flight on the killed instance", f)
		}
		// Every acknowledged sign-up signs in through the survivors (after
		// a Redis failover, once the instances have found the new primary).
		for _, c := range acked {
			err := c.signIn(c.name)
			for deadline := time.Now().Add(15 * time.Second); err != nil && strings.Contains(err.Error(), "store_unavailable") && time.Now().Before(deadline); {
				time.Sleep(200 * time.Millisecond)
				err = c.signIn(c.name)
			}
			if err != nil {
				t.Fatalf("account %q, acknowledged before or during the kill, cannot sign in: %v", c.name, err)
			}
		}
	})
}

// ---- the demo processes ----

type instance struct {
	t    *testing.T
	addr string
	cmd  *exec.Cmd
	out  *syncBuffer
}

func buildDemo(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "passkeys")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func startInstance(t *testing.T, bin string, env []string, n int, args ...string) *instance {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	in := &instance{t: t, addr: addr, out: &syncBuffer{}}
	in.cmd = exec.Command(bin, append([]string{"-addr", addr}, args...)...)
	in.cmd.Env = env
	in.cmd.Stdout, in.cmd.Stderr = in.out, in.out
	if err := in.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(in.kill)
	deadline := time.Now().Add(30 * time.Second)
	for {
		res, err := http.Get("http://" + addr + "/")
		if err == nil {
			res.Body.Close()
			return in
		}
		if time.Now().After(deadline) || in.cmd.ProcessState != nil {
			in.kill()
			t.Fatalf("instance %d on %s did not start: %v\n%s", n, addr, err, in.out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (in *instance) kill() {
	if in.cmd.Process == nil || in.cmd.ProcessState != nil {
		return
	}
	_ = in.cmd.Process.Signal(syscall.SIGKILL)
	_ = in.cmd.Wait()
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// ---- a round-robin proxy ----

// roundRobin sends each request to the next instance; one that refuses
// the connection (killed) is skipped, as a load balancer's health check
// would. It sets X-Forwarded-For from the client's X-Test-Client header so
// that each simulated user has its own rate-limit budget, and answers
// with the instance's number in X-Test-Instance.
type roundRobin struct {
	instances []*instance
	down      []atomic.Bool // marked after a failed request, as a health check would
	next      atomic.Uint64
	transport *http.Transport
}

func newRoundRobin(instances []*instance) *roundRobin {
	return &roundRobin{instances: instances, down: make([]atomic.Bool, len(instances)),
		transport: &http.Transport{MaxIdleConnsPerHost: 64}}
}

func (p *roundRobin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	for range len(p.instances) {
		i := int(p.next.Add(1)-1) % len(p.instances)
		if p.down[i].Load() {
			continue
		}
		out := r.Clone(r.Context())
		out.RequestURI = ""
		out.URL.Scheme, out.URL.Host = "http", p.instances[i].addr
		out.Body = io.NopCloser(bytes.NewReader(body))
		out.Header.Set("X-Forwarded-For", r.Header.Get("X-Test-Client"))
		res, err := p.transport.RoundTrip(out)
		var opErr *net.OpError
		if errors.As(err, &opErr) && opErr.Op == "dial" {
			p.down[i].Store(true)
			continue // down: the request never reached it
		}
		if err != nil {
			// It may have been served (a POST is not retried), but the
			// instance is gone: no more requests to it.
			p.down[i].Store(true)
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		for k, v := range res.Header {
			w.Header()[k] = v
		}
		w.Header().Set("X-Test-Instance", strconv.Itoa(i))
		w.WriteHeader(res.StatusCode)
		io.Copy(w, res.Body)
		res.Body.Close()
		return
	}
	http.Error(w, "no instance", http.StatusBadGateway)
}

// ---- a simulated user: cookie jar + software authenticator ----

type client struct {
	t      *testing.T
	base   string
	origin string
	ip     string
	name   string
	http   *http.Client
	device *webauthntest.Authenticator
}

type reply struct {
	status   int
	body     []byte
	instance int
}

func newClient(t *testing.T, front, origin string, n int) *client {
	jar, _ := cookiejar.New(nil)
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	return &client{
		t: t, base: origin, origin: origin,
		ip: fmt.Sprintf("10.%d.%d.%d", n/65536%256, n/256%256, n%256),
		http: &http.Client{
			Jar:     jar,
			Timeout: 10 * time.Second,
			Transport: &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				return dialer.DialContext(ctx, network, front) // localhost:port -> the proxy
			}},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		device: webauthntest.New(webauthntest.WithOrigin(origin)),
	}
}

func (c *client) do(method, path string, body []byte) (reply, error) {
	req, err := http.NewRequest(method, c.base+path, bytes.NewReader(body))
	if err != nil {
		return reply{}, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Origin", c.origin)
	req.Header.Set("X-Test-Client", c.ip)
	res, err := c.http.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	inst, _ := strconv.Atoi(res.Header.Get("X-Test-Instance"))
	return reply{status: res.StatusCode, body: data, instance: inst}, err
}

func (c *client) get(path string) (reply, error) { return c.do(http.MethodGet, path, nil) }

func (c *client) postRaw(path string, body []byte) (reply, error) {
	r, err := c.do(http.MethodPost, "/passkeys/"+path, body)
	if err == nil && r.status != http.StatusOK {
		err = fmt.Errorf("POST /passkeys/%s = %d %s", path, r.status, r.body)
	}
	return r, err
}

func (c *client) post(path string, v any) (reply, error) {
	b, _ := json.Marshal(v)
	return c.postRaw(path, b)
}

func (c *client) signUp(name string) error {
	begin, err := c.post("registration/begin", map[string]string{"username": name})
	if err != nil {
		return err
	}
	resp, err := c.device.Register(begin.body)
	if err != nil {
		return err
	}
	if _, err := c.postRaw("registration/finish", resp); err != nil {
		return err
	}
	c.name = name
	return nil
}

func (c *client) signIn(name string) error {
	begin, err := c.post("login/begin", map[string]string{"username": name})
	if err != nil {
		return err
	}
	resp, err := c.device.Login(begin.body)
	if err != nil {
		return err
	}
	_, err = c.postRaw("login/finish", resp)
	return err
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func dropTablesAtEnd(t *testing.T, dsn, prefix string) {
	t.Cleanup(func() {
		db, err := sql.Open("pgx", dsn)
		if err != nil {
			t.Error(err)
			return
		}
		defer db.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := sqlstore.MigrateDown(ctx, db, sqlstore.Postgres, sqlstore.WithTablePrefix(prefix)); err != nil {
			t.Errorf("dropping the %s tables: %v", prefix, err)
		}
	})
}

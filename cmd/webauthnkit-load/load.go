package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/webauthnkit/webauthnkit/internal/testenv"
	"github.com/webauthnkit/webauthnkit/webauthntest"
)

// Login modes (-login).
const (
	loginUsername     = "username"     // {"username": name}: allowCredentials from the store
	loginDiscoverable = "discoverable" // {}: usernameless, the passkey names the user
)

// loadOptions bound and shape one run.
type loadOptions struct {
	Users     int
	Duration  time.Duration // measured login phase, after Warmup
	Warmup    time.Duration // logins not measured (errors still count)
	MaxLogins int64         // stop after this many logins, warm-up included; 0: no limit
	// MaxRequests, if positive, stops the run after this many HTTP
	// requests, sign-ups included.
	MaxRequests int64
	// Rate, if positive, paces the logins of all users together to this
	// many per second (open-loop schedule); 0: every user signs in again as
	// soon as its last login ended (closed loop, the server saturates).
	Rate      float64
	LoginMode string
	// Synced is the share (0 to 1) of users whose passkey is a synced one
	// (signature counter 0, backup eligible and backed up, as iCloud
	// Keychain or Google Password Manager); the others have a device-bound
	// passkey whose counter grows at every login (a security key).
	Synced         float64
	Progress       time.Duration // interval of progress lines; 0: none
	Log            io.Writer     // progress lines; nil: none
	RequestTimeout time.Duration
	Label          string // shown in progress lines
	// Background, if positive, is how long to measure the machine's idle
	// state before the run (RunResult.BackgroundBusyCores).
	Background time.Duration
	// QuietWait, if positive, waits up to this long before the run for the
	// machine to be idle (other work below 0.25 busy cores).
	QuietWait time.Duration
	// OnMeasure, if set, is called when measurement starts and ends (CPU
	// profile around the measured phase).
	OnMeasure func(start bool)
}

// newDevice is a simulated user's authenticator.
func newDevice(origin string, synced bool) *webauthntest.Authenticator {
	if synced {
		return webauthntest.New(webauthntest.WithOrigin(origin), webauthntest.SyncedPasskey())
	}
	return webauthntest.New(webauthntest.WithOrigin(origin))
}

// target is what the users talk to.
type target struct {
	url      string  // base URL of the adapter (…/passkeys)
	origin   string  // Origin header and clientDataJSON origin
	server   *server // in-process server, nil for -target
	stores   *stores // in-process stores, nil for -target
	statsURL string  // -target: the stats endpoint of a -serve server, if any
	client   *http.Transport
	rpID     string // -rp-id: the RP ID the server must have ("": any that fits origin)
}

// Latency summarises durations, in milliseconds.
type Latency struct {
	N    int     `json:"n"`
	Mean float64 `json:"mean"`
	P50  float64 `json:"p50"`
	P95  float64 `json:"p95"`
	P99  float64 `json:"p99"`
	Max  float64 `json:"max"`
}

// RunResult is the outcome of one run against one store combination (or
// one external server).
type RunResult struct {
	Store     string `json:"store"` // "external" for -target
	Target    string `json:"target"`
	InProcess bool   `json:"inProcess"`
	// Instances is -instances: in-process servers behind a round-robin
	// proxy (1: the server is loaded directly).
	Instances  int    `json:"instances,omitempty"`
	LoginMode  string `json:"loginMode"`
	Users      int    `json:"users"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	// OfferedRate is -rate (logins/s) when the load was paced.
	OfferedRate float64 `json:"offeredRate,omitempty"`
	// RegisteredCredentials is set by -scale: credentials in the store
	// during the run (seeded rows plus the simulated users').
	RegisteredCredentials int64 `json:"registeredCredentials,omitempty"`
	// TableBytes (-scale): size of the users and credentials tables with
	// their indexes.
	TableBytes int64 `json:"tableBytes,omitempty"`

	Signups int     `json:"signups"`
	Signup  Latency `json:"signupMs"`

	// Requests is the number of HTTP requests sent (at most; a failed
	// login may have sent only its begin), sign-ups included.
	Requests       int64    `json:"requests"`
	Seconds        float64  `json:"seconds"` // measured window
	Logins         int64    `json:"logins"`  // measured logins
	Errors         int64    `json:"errors"`  // failed requests and ceremonies, sign-up and warm-up included
	ErrorSamples   []string `json:"errorSamples,omitempty"`
	LoginsPerSec   float64  `json:"loginsPerSec"`
	RequestsPerSec float64  `json:"requestsPerSec"`
	// Login is begin + finish: the two HTTP round trips of a sign-in as the
	// client sees them, without the authenticator's own signing time.
	Login  Latency `json:"loginMs"`
	Begin  Latency `json:"beginMs"`
	Finish Latency `json:"finishMs"`

	// ProcessCPUPerLoginMs is this process's CPU time (getrusage) per login:
	// in-process, the server and the load generator together; with -target,
	// the load generator alone.
	ProcessCPUPerLoginMs float64 `json:"processCpuPerLoginMs"`
	// ServerCPUPerLoginMs: -target against a -serve server, the server
	// process's CPU time per login.
	ServerCPUPerLoginMs float64 `json:"serverCpuPerLoginMs,omitempty"`
	// MachineCPUPerLoginMs is the busy CPU time of the whole machine per
	// login (/proc/stat): this process plus the database servers.
	MachineCPUPerLoginMs float64 `json:"machineCpuPerLoginMs,omitempty"`
	// MachineBusyCores is the average number of busy cores during the run.
	MachineBusyCores float64 `json:"machineBusyCores,omitempty"`
	// StackCPUPerLoginMs is the CPU time per login of this process plus the
	// database servers (the sum of CPUPerLoginByProcessMs): unlike the whole
	// machine's, it is not inflated by unrelated work running meanwhile, so
	// it is the figure to compare runs with. Cores divided by it is the
	// CPU-bound ceiling of logins per second on this machine.
	StackCPUPerLoginMs float64 `json:"stackCpuPerLoginMs,omitempty"`
	// CPUPerLoginByProcessMs splits the CPU time per login between this
	// process ("self") and the database servers (by command name).
	CPUPerLoginByProcessMs map[string]float64 `json:"cpuPerLoginByProcessMs,omitempty"`
	// BackgroundBusyCores is how many cores other work kept busy in the
	// second before the run (anything well above 0 skews the figures).
	BackgroundBusyCores float64 `json:"backgroundBusyCores"`
	// OtherBusyCores is how many cores were busy during the run outside
	// this process and the database servers: other work on the machine
	// (and kernel time not charged to a process). Near 0 for a clean run.
	OtherBusyCores float64 `json:"otherBusyCores"`
	// LoadAverage is the 1-minute load average before the run.
	LoadAverage float64 `json:"loadAverage"`

	// StoreCallsPerLogin: core store calls per login, by method.
	StoreCallsPerLogin map[string]float64 `json:"storeCallsPerLogin,omitempty"`
	// RoundTripsPerLogin: client socket writes per login, by backend (one
	// per request/response round trip).
	RoundTripsPerLogin map[string]float64 `json:"roundTripsPerLogin,omitempty"`
	// Servers: versions of the backends used.
	Servers map[string]string `json:"servers,omitempty"`
}

// loadUser is one simulated user: a device and a browser (cookie jar,
// keep-alive connection).
type loadUser struct {
	name   string
	dev    *webauthntest.Authenticator
	client *http.Client
	signed bool
}

type runner struct {
	t     *target
	opts  loadOptions
	users []*loadUser

	errors  atomic.Int64
	errMu   sync.Mutex
	samples []string

	signupRequests atomic.Int64 // requests sent by the sign-ups
	rpOnce         sync.Once    // the server's RP ID is checked once
	rpErr          error
}

func newRunner(t *target, opts loadOptions) (*runner, error) {
	if opts.Users < 1 {
		return nil, errors.New("users must be at least 1")
	}
	if opts.RequestTimeout <= 0 {
		opts.RequestTimeout = 30 * time.Second
	}
	if opts.LoginMode == "" {
		opts.LoginMode = loginUsername
	}
	if opts.LoginMode != loginUsername && opts.LoginMode != loginDiscoverable {
		return nil, fmt.Errorf("unknown login mode %q (want %s or %s)", opts.LoginMode, loginUsername, loginDiscoverable)
	}
	if opts.Synced < 0 || opts.Synced > 1 || math.IsNaN(opts.Synced) {
		return nil, fmt.Errorf("synced share %v: want 0 to 1", opts.Synced)
	}
	if t.client == nil {
		t.client = newTransport(opts.Users)
	}
	r := &runner{t: t, opts: opts}
	synced := int(math.Round(opts.Synced * float64(opts.Users)))
	run := make([]byte, 4)
	_, _ = rand.Read(run)
	for i := range opts.Users {
		jar, err := cookiejar.New(nil)
		if err != nil {
			return nil, err
		}
		r.users = append(r.users, &loadUser{
			name:   fmt.Sprintf("load-%s-%d", hex.EncodeToString(run), i),
			dev:    newDevice(t.origin, i < synced),
			client: &http.Client{Transport: t.client, Jar: jar, Timeout: opts.RequestTimeout},
		})
	}
	return r, nil
}

// newTransport is a keep-alive transport that dials loopback addresses only.
func newTransport(users int) *http.Transport { return newTransportFor(users, false) }

// newTransportFor is newTransport, dialing any address when remote.
func newTransportFor(users int, remote bool) *http.Transport {
	d := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			host, port, err := net.SplitHostPort(addr)
			if err != nil {
				return nil, err
			}
			ips, err := net.DefaultResolver.LookupIPAddr(ctx, host)
			if err != nil {
				return nil, err
			}
			for _, ip := range ips {
				if ip.IP.IsLoopback() {
					return d.DialContext(ctx, network, net.JoinHostPort(ip.IP.String(), port))
				}
			}
			return nil, fmt.Errorf("refusing to connect to %s: not a loopback address", host)
		},
		MaxIdleConns:        users + 8,
		MaxIdleConnsPerHost: users + 8,
		IdleConnTimeout:     time.Minute,
		DisableCompression:  true,
		ForceAttemptHTTP2:   false,
		TLSHandshakeTimeout: 10 * time.Second,
	}
	if remote {
		tr.DialContext = d.DialContext
	}
	return tr
}

// checkTarget parses a -target URL and refuses anything but a loopback
// host: literal loopback IPs and "localhost" (whose addresses the dialer
// checks again).
func checkTarget(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("-target %q: %w", raw, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("-target %q: want an http:// or https:// URL", raw)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("-target %q: want scheme://host:port/mount-path only", raw)
	}
	host := u.Hostname()
	if !strings.EqualFold(host, "localhost") {
		ip := net.ParseIP(host)
		if ip == nil || !ip.IsLoopback() {
			return nil, fmt.Errorf("-target %q: refusing a non-loopback host %q: the load generator only sends traffic to this machine (127.0.0.0/8, [::1], localhost)", raw, host)
		}
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	return u, nil
}

func (r *runner) fail(err error) {
	r.errors.Add(1)
	r.errMu.Lock()
	defer r.errMu.Unlock()
	if len(r.samples) < 10 {
		msg := err.Error()
		if !slices.Contains(r.samples, msg) {
			r.samples = append(r.samples, msg)
		}
	}
}

// httpError is a non-200 answer.
type httpError struct {
	path   string
	status int
	body   string
}

func (e *httpError) Error() string {
	return fmt.Sprintf("POST %s: %d %s", e.path, e.status, e.body)
}

// post sends a JSON request as a browser page on the origin would and
// returns the body of a 200 answer.
func (r *runner) post(ctx context.Context, u *loadUser, path string, body []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.t.url+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", r.t.origin)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, err := u.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("POST %s: reading the answer: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		text := string(out)
		if len(text) > 200 {
			text = text[:200] + "…"
		}
		return nil, &httpError{path: path, status: resp.StatusCode, body: strings.TrimSpace(text)}
	}
	return out, nil
}

// signup registers every user, all at once. Users who fail are left out of
// the login phase.
func (r *runner) signup(ctx context.Context) (Latency, int) {
	var (
		wg  sync.WaitGroup
		mu  sync.Mutex
		lat []time.Duration
	)
	for _, u := range r.users {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t0 := time.Now()
			if err := r.signupOne(ctx, u); err != nil {
				r.fail(fmt.Errorf("sign-up: %w", err))
				return
			}
			d := time.Since(t0)
			u.signed = true
			mu.Lock()
			lat = append(lat, d)
			mu.Unlock()
		}()
	}
	wg.Wait()
	return summarize(lat), len(lat)
}

func (r *runner) signupOne(ctx context.Context, u *loadUser) error {
	begin, _ := json.Marshal(map[string]string{"username": u.name, "displayName": "Load " + u.name})
	r.signupRequests.Add(1)
	opts, err := r.post(ctx, u, "/registration/begin", begin)
	if err != nil {
		return err
	}
	r.rpOnce.Do(func() { r.rpErr = r.checkServerRPID(opts) })
	if r.rpErr != nil {
		return r.rpErr
	}
	r.signupRequests.Add(1)
	resp, err := u.dev.Register(opts)
	if err != nil {
		return fmt.Errorf("authenticator: %w", err)
	}
	out, err := r.post(ctx, u, "/registration/finish", resp)
	if err != nil {
		return err
	}
	if !bytes.Contains(out, []byte(`"newUser":true`)) {
		return fmt.Errorf("registration/finish: unexpected answer %.200s", out)
	}
	return nil
}

// login runs one sign-in and returns the begin and finish round trips.
func (r *runner) login(ctx context.Context, u *loadUser, beginBody, wantName []byte) (begin, finish time.Duration, err error) {
	t0 := time.Now()
	opts, err := r.post(ctx, u, "/login/begin", beginBody)
	if err != nil {
		return 0, 0, err
	}
	begin = time.Since(t0)
	resp, err := u.dev.Login(opts)
	if err != nil {
		return 0, 0, fmt.Errorf("authenticator: %w", err)
	}
	t2 := time.Now()
	out, err := r.post(ctx, u, "/login/finish", resp)
	if err != nil {
		return 0, 0, err
	}
	finish = time.Since(t2)
	if !bytes.Contains(out, wantName) {
		return 0, 0, fmt.Errorf("login/finish: signed in as someone else: %.200s", out)
	}
	return begin, finish, nil
}

// workerSamples are one user's measured latencies.
type workerSamples struct {
	login, begin, finish []time.Duration
}

// snapshot is what is read at the start and at the end of the measured
// window.
type snapshot struct {
	at       time.Time
	cpu      time.Duration
	machine  time.Duration
	machOK   bool
	calls    map[string]int64
	wire     map[string]int64
	server   *serverStats
	procs    map[string]time.Duration
	requests int64
}

func (r *runner) snapshot(ctx context.Context, requests int64) snapshot {
	s := snapshot{at: time.Now(), cpu: testenv.ProcessCPU(), requests: requests}
	s.machine, s.machOK = machineCPU()
	s.procs = processGroupCPU()
	if r.t.stores != nil {
		// Only the database servers this run uses: other work on the
		// machine (tests against another database) is not its cost.
		for name := range s.procs {
			if name != "self" && !r.t.stores.usesProcess(name) {
				delete(s.procs, name)
			}
		}
	}
	if r.t.server != nil {
		s.calls = r.t.server.calls.Counts()
	}
	if r.t.stores != nil {
		s.wire = r.t.stores.wire.snapshot()
	}
	if r.t.statsURL != "" {
		s.server = fetchStats(ctx, r.t.client, r.t.statsURL)
		if s.server != nil {
			s.calls = s.server.StoreCalls
		}
	}
	return s
}

// fetchStats reads the stats of a -serve server; nil if it has none.
func fetchStats(ctx context.Context, tr *http.Transport, statsURL string) *serverStats {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, statsURL, nil)
	if err != nil {
		return nil
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil
	}
	var st serverStats
	if json.NewDecoder(io.LimitReader(resp.Body, 1<<16)).Decode(&st) != nil {
		return nil
	}
	return &st
}

// loginPhase runs repeated sign-ins of every signed-up user until the
// duration or the login budget is used up, and fills res.
func (r *runner) loginPhase(ctx context.Context, res *RunResult) {
	o := r.opts
	var active []*loadUser
	for _, u := range r.users {
		if u.signed {
			active = append(active, u)
		}
	}
	if len(active) == 0 {
		return
	}
	var (
		stopCh    = make(chan struct{})
		stopOnce  sync.Once
		slot      atomic.Int64
		stopped   atomic.Bool
		started   atomic.Int64
		done      atomic.Int64 // completed logins, warm-up included
		requests  atomic.Int64
		sumNanos  atomic.Int64
		maxNanos  atomic.Int64 // slowest login since the last progress line
		measuring atomic.Bool
		measured  atomic.Int64
		sent      atomic.Int64 // requests of logins begun (for MaxRequests)
		wg        sync.WaitGroup
		samples   = make([]workerSamples, len(active))
		startSnap snapshot
		snapOnce  sync.Once
	)
	phaseStart := time.Now()
	stop := func() {
		stopOnce.Do(func() {
			stopped.Store(true)
			close(stopCh)
		})
	}
	var interval time.Duration
	if o.Rate > 0 {
		interval = time.Duration(float64(time.Second) / o.Rate)
	}
	beginMeasure := func() {
		snapOnce.Do(func() {
			startSnap = r.snapshot(ctx, requests.Load())
			measuring.Store(true)
			if o.OnMeasure != nil {
				o.OnMeasure(true)
			}
		})
	}
	if o.Warmup <= 0 {
		beginMeasure()
	}
	stopAt := phaseStart.Add(o.Warmup + o.Duration)
	timerCtx, cancelTimers := context.WithCancel(ctx)
	defer cancelTimers()
	go func() {
		if o.Warmup > 0 {
			select {
			case <-time.After(o.Warmup):
				beginMeasure()
			case <-timerCtx.Done():
				return
			}
		}
		select {
		case <-time.After(time.Until(stopAt)):
		case <-timerCtx.Done():
		}
		stop()
	}()
	progressDone := make(chan struct{})
	if o.Log != nil && o.Progress > 0 {
		go func() {
			defer close(progressDone)
			r.progress(timerCtx, phaseStart, &done, &sumNanos, &maxNanos, &requests)
		}()
	} else {
		close(progressDone)
	}

	for i, u := range active {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var beginBody, wantName []byte
			if o.LoginMode == loginUsername {
				beginBody, _ = json.Marshal(map[string]string{"username": u.name})
			} else {
				beginBody = []byte(`{}`)
			}
			wantName = []byte(`"name":"` + u.name + `"`)
			ws := &samples[i]
			for !stopped.Load() && ctx.Err() == nil {
				// A login is measured if it starts in the measured window.
				measure := measuring.Load()
				if o.MaxLogins > 0 && measure && started.Add(1) > o.MaxLogins {
					stop()
					break
				}
				// A login is two requests; stop before the budget would be
				// exceeded.
				if n := sent.Add(2); o.MaxRequests > 0 && n+r.signupRequests.Load() > o.MaxRequests {
					sent.Add(-2)
					stop()
					break
				}
				// Paced: wait for this login's slot, and count any delay
				// past it (the server was too slow to free a user in time)
				// as latency, so that queueing is not hidden.
				var late time.Duration
				if interval > 0 {
					sched := phaseStart.Add(time.Duration(slot.Add(1)-1) * interval)
					if d := time.Until(sched); d > 0 {
						t := time.NewTimer(d)
						select {
						case <-t.C:
						case <-stopCh:
							t.Stop()
						}
						if stopped.Load() {
							break
						}
					} else {
						late = -d
					}
				}
				b, f, err := r.login(ctx, u, beginBody, wantName)
				b += late
				if err != nil {
					if ctx.Err() != nil {
						break // interrupted: not a server error
					}
					r.fail(err)
					requests.Add(1)
					time.Sleep(10 * time.Millisecond) // no hot loop on a broken server
					continue
				}
				requests.Add(2)
				done.Add(1)
				sumNanos.Add(int64(b + f))
				for cur := maxNanos.Load(); int64(b+f) > cur && !maxNanos.CompareAndSwap(cur, int64(b+f)); cur = maxNanos.Load() {
				}
				if measure {
					measured.Add(1)
					ws.login = append(ws.login, b+f)
					ws.begin = append(ws.begin, b)
					ws.finish = append(ws.finish, f)
				}
			}
		}()
	}
	wg.Wait()
	beginMeasure() // all logins ended within the warm-up: an empty window
	end := r.snapshot(ctx, requests.Load())
	if o.OnMeasure != nil {
		o.OnMeasure(false)
	}
	cancelTimers()
	<-progressDone // its last line is out before the summary

	var all workerSamples
	for _, ws := range samples {
		all.login = append(all.login, ws.login...)
		all.begin = append(all.begin, ws.begin...)
		all.finish = append(all.finish, ws.finish...)
	}
	res.Logins = measured.Load()
	res.Requests = r.signupRequests.Load() + sent.Load()
	res.Login, res.Begin, res.Finish = summarize(all.login), summarize(all.begin), summarize(all.finish)
	window := end.at.Sub(startSnap.at).Seconds()
	res.Seconds = round(window, 3)
	if window > 0 {
		res.LoginsPerSec = round(float64(res.Logins)/window, 1)
		res.RequestsPerSec = round(float64(end.requests-startSnap.requests)/window, 1)
	}
	if res.Logins > 0 {
		n := float64(res.Logins)
		res.ProcessCPUPerLoginMs = round(ms(end.cpu-startSnap.cpu)/n, 3)
		if end.machOK && startSnap.machOK {
			busy := end.machine - startSnap.machine
			res.MachineCPUPerLoginMs = round(ms(busy)/n, 3)
			res.MachineBusyCores = round(busy.Seconds()/window, 2)
		}
		if end.server != nil && startSnap.server != nil {
			res.ServerCPUPerLoginMs = round((end.server.CPUSeconds-startSnap.server.CPUSeconds)*1000/n, 3)
		}
		byProc := map[string]float64{}
		var stack time.Duration
		for name, v := range end.procs {
			if d := v - startSnap.procs[name]; d > 0 {
				byProc[name] = round(ms(d)/n, 3)
				stack += d
			}
		}
		if end.server != nil && startSnap.server != nil {
			// A -serve server in another process: its CPU time is part of
			// the stack, not other work.
			d := time.Duration((end.server.CPUSeconds - startSnap.server.CPUSeconds) * float64(time.Second))
			byProc["server"] = round(ms(d)/n, 3)
			stack += d
		}
		res.StackCPUPerLoginMs = round(ms(stack)/n, 3)
		res.CPUPerLoginByProcessMs = byProc
		if end.machOK && startSnap.machOK {
			other := end.machine - startSnap.machine - stack
			res.OtherBusyCores = round(max(other.Seconds(), 0)/window, 2)
		}
		res.StoreCallsPerLogin = perLogin(startSnap.calls, end.calls, res.Logins)
		res.RoundTripsPerLogin = perLogin(startSnap.wire, end.wire, res.Logins)
	}
}

// run signs the users up and runs the login phase: one complete run.
func run(ctx context.Context, t *target, opts loadOptions, res *RunResult) error {
	r, err := newRunner(t, opts)
	if err != nil {
		return err
	}
	// Connections the transport dialed but never used look new to the
	// server, which then waits for them on shutdown.
	defer t.client.CloseIdleConnections()
	res.Target = t.url
	res.InProcess = t.server != nil
	res.LoginMode = r.opts.LoginMode
	res.Users = opts.Users
	res.GOMAXPROCS = runtime.GOMAXPROCS(0)
	res.OfferedRate = opts.Rate
	res.LoadAverage = loadAverage()
	res.BackgroundBusyCores = -1
	if opts.Background > 0 {
		res.BackgroundBusyCores = waitQuiet(ctx, opts, opts.Label)
	}
	res.Signup, res.Signups = r.signup(ctx)
	if res.Signups == 0 {
		r.finish(res)
		return fmt.Errorf("no user could sign up: %s", strings.Join(r.samples, "; "))
	}
	r.loginPhase(ctx, res)
	r.finish(res)
	return nil
}

func (r *runner) finish(res *RunResult) {
	res.Errors = r.errors.Load()
	r.errMu.Lock()
	res.ErrorSamples = slices.Clone(r.samples)
	r.errMu.Unlock()
}

// waitQuiet measures the machine's busy cores before a run, waiting up to
// opts.QuietWait for other work to stop.
func waitQuiet(ctx context.Context, opts loadOptions, label string) float64 {
	deadline := time.Now().Add(opts.QuietWait)
	for {
		busy := backgroundBusy(opts.Background)
		if busy < 0.25 || !time.Now().Before(deadline) || ctx.Err() != nil {
			if busy >= 0.25 && opts.Log != nil {
				fmt.Fprintf(opts.Log, "%s: warning: %.2f cores were busy with other work before the run: the figures are skewed\n", label, busy)
			}
			return busy
		}
		if opts.Log != nil {
			fmt.Fprintf(opts.Log, "%s: waiting for the machine to be idle (%.2f cores busy with other work)\n", label, busy)
		}
	}
}

// summarize computes the latency summary (nearest-rank percentiles).
func summarize(d []time.Duration) Latency {
	if len(d) == 0 {
		return Latency{}
	}
	s := slices.Clone(d)
	slices.Sort(s)
	var sum time.Duration
	for _, v := range s {
		sum += v
	}
	pct := func(p float64) float64 {
		i := int(math.Ceil(p*float64(len(s)))) - 1
		return round(ms(s[max(i, 0)]), 3)
	}
	return Latency{
		N:    len(s),
		Mean: round(ms(sum/time.Duration(len(s))), 3),
		P50:  pct(0.50),
		P95:  pct(0.95),
		P99:  pct(0.99),
		Max:  round(ms(s[len(s)-1]), 3),
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func round(v float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(v*p) / p
}

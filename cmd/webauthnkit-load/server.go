package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/httpadapter"
	"github.com/webauthnkit/webauthnkit/internal/storewrap"
	"github.com/webauthnkit/webauthnkit/internal/testenv"
)

// mountPath is where the in-process server mounts the adapter, as an
// application would (README: mux.Handle("/passkeys/", ...)).
const mountPath = "/passkeys"

// statsPath is served by the in-process server (and by -serve) so that a
// load generator in another process can read the server's CPU time.
const statsPath = "/loadgen/stats"

// server is an HTTP server on a loopback port serving httpadapter over one
// store combination.
type server struct {
	url    string // base URL of the adapter, e.g. http://127.0.0.1:41234/passkeys
	origin string
	calls  *storewrap.Store
	logins atomic.Int64
	srv    *http.Server
	done   chan error
}

// serverStats is the JSON of statsPath.
type serverStats struct {
	CPUSeconds float64          `json:"cpuSeconds"`
	Logins     int64            `json:"logins"`
	StoreCalls map[string]int64 `json:"storeCalls"`
}

// startServer listens on addr (a loopback address; port 0 picks one) and
// serves the adapter over st. With countCalls the core's store calls go
// through storewrap, which forwards (and counts) the optional
// GetCredentialWithUser when the store declares it, so the counts are those
// of the store itself. Rate limiting is off: every simulated user connects
// from 127.0.0.1, and the runs measure the server, not the limiter (-flood
// measures the limiter, with startServerLimited).
func startServer(st *stores, addr string, countCalls bool) (*server, error) {
	return startServerLimited(st, addr, countCalls, httpadapter.RateLimit{Disabled: true})
}

// startServerLimited is startServer with the adapter's rate limiting as rl.
func startServerLimited(st *stores, addr string, countCalls bool, rl httpadapter.RateLimit) (*server, error) {
	return startServerWith(serverConfig{stores: st, addr: addr, countCalls: countCalls, rateLimit: rl})
}

// serverConfig is what startServerWith needs.
type serverConfig struct {
	stores     *stores
	addr       string
	countCalls bool
	rateLimit  httpadapter.RateLimit
	// origin, if set, is the origin the pages are served from (a proxy in
	// front of several servers); default the server's own address.
	origin string
	// calls, if set, is the counting wrapper to use (shared by several
	// servers); default one of the server's own.
	calls *storewrap.Store
}

// startServerWith starts a server as cfg says.
func startServerWith(cfg serverConfig) (*server, error) {
	st, addr, countCalls, rl := cfg.stores, cfg.addr, cfg.countCalls, cfg.rateLimit
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("listen address %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("listen address %q: only loopback addresses are allowed", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	origin := "http://" + ln.Addr().String()
	if cfg.origin != "" {
		origin = cfg.origin
	}
	calls := cfg.calls
	if calls == nil {
		calls = storewrap.New(st.creds, st.cers)
	}
	var creds webauthnkit.CredentialStore = calls
	var cers webauthnkit.ChallengeStore = calls
	if !countCalls {
		creds, cers = st.creds, st.cers
	}
	rp, err := webauthnkit.New(webauthnkit.Config{
		RPID:        "localhost",
		RPName:      "webauthnkit load test",
		Origins:     []string{origin},
		Credentials: creds,
		Ceremonies:  cers,
		// The same on every server of the run, as instances sharing a
		// store must have it.
		Secret: runSecret(),
	})
	if err != nil {
		ln.Close()
		return nil, err
	}
	secret := runSessionSecret()
	s := &server{url: "http://" + ln.Addr().String() + mountPath, origin: origin, calls: calls, done: make(chan error, 1)}
	h, err := httpadapter.New(rp, httpadapter.Options{
		SessionSecret: secret,
		RateLimit:     rl,
		OnLogin: func(http.ResponseWriter, *http.Request, *webauthnkit.Login) error {
			s.logins.Add(1)
			return nil
		},
	})
	if err != nil {
		ln.Close()
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle(mountPath+"/", http.StripPrefix(mountPath, h))
	mux.HandleFunc("GET "+statsPath, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(serverStats{CPUSeconds: testenv.ProcessCPU().Seconds(), Logins: s.logins.Load(), StoreCalls: calls.Counts()})
	})
	s.srv = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	go func() { s.done <- s.srv.Serve(ln) }()
	return s, nil
}

// close stops the server, waiting for requests in flight.
func (s *server) close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	err := s.srv.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		err = s.srv.Close() // connections opened but never used
	}
	if serveErr := <-s.done; !errors.Is(serveErr, http.ErrServerClosed) {
		err = errors.Join(err, serveErr)
	}
	return err
}

// runSessionSecret is the session secret of every server of this run, so
// that a session cookie from one is good on the others (-instances).
var runSessionSecret = sync.OnceValue(func() []byte {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return b
})

// runSecret is Config.Secret for every server of this run: random, made
// once per process.
var runSecret = sync.OnceValue(func() []byte {
	secret := make([]byte, 32)
	_, _ = rand.Read(secret) // never fails (crypto/rand.Read crashes the program instead)
	return secret
})

// perLogin divides the growth of each counter between two snapshots by the
// number of logins.
func perLogin(before, after map[string]int64, logins int64) map[string]float64 {
	if logins == 0 || after == nil {
		return nil
	}
	out := make(map[string]float64, len(after))
	for k := range after {
		if d := after[k] - before[k]; d != 0 {
			out[k] = round(float64(d)/float64(logins), 3)
		}
	}
	return out
}

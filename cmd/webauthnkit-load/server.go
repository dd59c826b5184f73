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
	calls  *callCounter
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
// through a counting wrapper, which forwards (and counts) the optional
// GetCredentialWithUser when the store declares it, so the counts are those
// of the store itself. Rate limiting is off: every simulated user connects
// from 127.0.0.1, and the runs measure the server, not the limiter (-flood
// measures the limiter, with startServerLimited).
func startServer(st *stores, addr string, countCalls bool) (*server, error) {
	return startServerLimited(st, addr, countCalls, httpadapter.RateLimit{Disabled: true})
}

// startServerLimited is startServer with the adapter's rate limiting as rl.
func startServerLimited(st *stores, addr string, countCalls bool, rl httpadapter.RateLimit) (*server, error) {
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
	calls := newCallCounter(st.creds, st.cers)
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
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	s := &server{url: origin + mountPath, origin: origin, calls: calls, done: make(chan error, 1)}
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
		_ = json.NewEncoder(w).Encode(serverStats{CPUSeconds: processCPU().Seconds(), Logins: s.logins.Load(), StoreCalls: calls.snapshot()})
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

// Store methods counted by callCounter.
var storeMethods = []string{
	"PutCeremony", "TakeCeremony",
	"CreateUser", "GetUserByHandle", "GetUserByName", "DeleteUser",
	"AddCredential", "GetCredential", "ListCredentials", "UpdateCredentialUse",
	"RenameCredential", "DeleteCredential", "EndSessions", "GetCredentialWithUser",
}

const (
	mPut = iota
	mTake
	mCreateUser
	mUserByHandle
	mUserByName
	mDeleteUser
	mAddCredential
	mGetCredential
	mListCredentials
	mUpdateUse
	mRename
	mDeleteCredential
	mEndSessions
	mGetCredentialWithUser
	nMethods
)

// callCounter counts the store calls the core makes (an atomic add per call:
// nothing measurable next to a store round trip).
type callCounter struct {
	creds webauthnkit.CredentialStore
	cers  webauthnkit.ChallengeStore
	n     [nMethods]atomic.Int64
}

var (
	_ webauthnkit.CredentialStore      = (*callCounter)(nil)
	_ webauthnkit.CredentialUserGetter = (*callCounter)(nil)
	_ webauthnkit.ChallengeStore       = (*callCounter)(nil)
)

func newCallCounter(creds webauthnkit.CredentialStore, cers webauthnkit.ChallengeStore) *callCounter {
	return &callCounter{creds: creds, cers: cers}
}

func (c *callCounter) snapshot() map[string]int64 {
	out := make(map[string]int64, nMethods)
	for i := range c.n {
		if v := c.n[i].Load(); v != 0 {
			out[storeMethods[i]] = v
		}
	}
	return out
}

func (c *callCounter) PutCeremony(ctx context.Context, id string, data []byte, exp time.Time) error {
	c.n[mPut].Add(1)
	return c.cers.PutCeremony(ctx, id, data, exp)
}

func (c *callCounter) TakeCeremony(ctx context.Context, id string) ([]byte, error) {
	c.n[mTake].Add(1)
	return c.cers.TakeCeremony(ctx, id)
}

func (c *callCounter) CreateUser(ctx context.Context, u webauthnkit.User, first webauthnkit.Credential) error {
	c.n[mCreateUser].Add(1)
	return c.creds.CreateUser(ctx, u, first)
}

func (c *callCounter) GetUserByHandle(ctx context.Context, h []byte) (webauthnkit.User, error) {
	c.n[mUserByHandle].Add(1)
	return c.creds.GetUserByHandle(ctx, h)
}

func (c *callCounter) GetUserByName(ctx context.Context, name string) (webauthnkit.User, error) {
	c.n[mUserByName].Add(1)
	return c.creds.GetUserByName(ctx, name)
}

func (c *callCounter) DeleteUser(ctx context.Context, h []byte) error {
	c.n[mDeleteUser].Add(1)
	return c.creds.DeleteUser(ctx, h)
}

func (c *callCounter) AddCredential(ctx context.Context, cred webauthnkit.Credential) error {
	c.n[mAddCredential].Add(1)
	return c.creds.AddCredential(ctx, cred)
}

func (c *callCounter) GetCredential(ctx context.Context, id []byte) (webauthnkit.Credential, error) {
	c.n[mGetCredential].Add(1)
	return c.creds.GetCredential(ctx, id)
}

func (c *callCounter) ListCredentials(ctx context.Context, h []byte) ([]webauthnkit.Credential, error) {
	c.n[mListCredentials].Add(1)
	return c.creds.ListCredentials(ctx, h)
}

func (c *callCounter) UpdateCredentialUse(ctx context.Context, id []byte, expected uint32, use webauthnkit.CredentialUse) error {
	c.n[mUpdateUse].Add(1)
	return c.creds.UpdateCredentialUse(ctx, id, expected, use)
}

func (c *callCounter) RenameCredential(ctx context.Context, h, id []byte, name string) error {
	c.n[mRename].Add(1)
	return c.creds.RenameCredential(ctx, h, id, name)
}

func (c *callCounter) DeleteCredential(ctx context.Context, h, id []byte, allowLast bool) error {
	c.n[mDeleteCredential].Add(1)
	return c.creds.DeleteCredential(ctx, h, id, allowLast)
}

func (c *callCounter) EndSessions(ctx context.Context, h []byte) (uint64, error) {
	c.n[mEndSessions].Add(1)
	return c.creds.EndSessions(ctx, h)
}

// errNoCredentialWithUser: the wrapped store does not declare
// CredentialWithUser, so the core never calls the method below.
var errNoCredentialWithUser = errors.New("callCounter: the store does not declare CredentialWithUser")

func (c *callCounter) GetCredentialWithUser(ctx context.Context, id []byte) (webauthnkit.Credential, webauthnkit.User, error) {
	c.n[mGetCredentialWithUser].Add(1)
	g, ok := c.creds.(webauthnkit.CredentialUserGetter)
	if !ok || !c.creds.Features().CredentialWithUser {
		return webauthnkit.Credential{}, webauthnkit.User{}, errNoCredentialWithUser
	}
	return g.GetCredentialWithUser(ctx, id)
}

// Features declares what the wrapped stores declare: process-local only if
// both are, and CredentialWithUser as the credential store does (the method
// above forwards it).
func (c *callCounter) Features() webauthnkit.Features {
	cf, kf := c.creds.Features(), c.cers.Features()
	return webauthnkit.Features{
		ProcessLocal:       cf.ProcessLocal && kf.ProcessLocal,
		CredentialWithUser: cf.CredentialWithUser,
	}
}

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

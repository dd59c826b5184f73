package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/webauthnkit/webauthnkit/httpadapter"
	"github.com/webauthnkit/webauthnkit/webauthntest"
)

// Begin flood (-flood): unauthenticated login/begin requests as fast as
// -users workers can send them, from -flood-addrs client addresses (given in
// X-Forwarded-For; the in-process server trusts 127.0.0.1 as its proxy, as
// a site behind a load balancer would), while one legitimate user, from an
// address of its own, finishes a sign-in begun before the flood and tries a
// whole sign-in every second.

// legitAddr is the legitimate user's address, outside the flood's 10/8.
const legitAddr = "192.0.2.1"

// FloodResult is one flood run.
type FloodResult struct {
	Store     string        `json:"store"`
	RateLimit bool          `json:"rateLimit"`
	Addrs     int           `json:"addrs"`
	Workers   int           `json:"workers"`
	Duration  time.Duration `json:"duration"`
	// Begins counts the flood's answers by HTTP status.
	Begins map[int]int64 `json:"begins"`
	// PreFloodFinish: the legitimate user's finish of a ceremony begun
	// before the flood, sent half-way through it ("ok" or the failure).
	PreFloodFinish string `json:"preFloodFinish"`
	// SignIns are the legitimate user's whole sign-ins during the flood:
	// attempts, successes, and failures by cause.
	SignInAttempts int            `json:"signInAttempts"`
	SignInOK       int            `json:"signInOK"`
	SignInFailures map[string]int `json:"signInFailures,omitempty"`
	// AfterFlood: the legitimate user's sign-in one second after the flood
	// stopped ("ok" or the failure).
	AfterFlood string `json:"afterFlood"`
}

// floodClient is one browser-like client with a fixed client address.
type floodClient struct {
	base, origin, addr string
	client             *http.Client
}

func (c *floodClient) post(ctx context.Context, path string, body []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", c.origin)
	req.Header.Set("X-Forwarded-For", c.addr)
	res, err := c.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	out, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	return res.StatusCode, out, err
}

// statusError is a non-200 answer in a legitimate user's sign-in.
type statusError struct {
	step   string
	status int
}

func (e *statusError) Error() string { return fmt.Sprintf("%s %d", e.step, e.status) }

// legitUser is the user whose sign-ins must keep working.
type legitUser struct {
	floodClient
	name string
	dev  *webauthntest.Authenticator
}

func (u *legitUser) step(ctx context.Context, name, path string, body []byte) ([]byte, error) {
	status, out, err := u.post(ctx, path, body)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if status != http.StatusOK {
		return nil, &statusError{name, status}
	}
	return out, nil
}

func (u *legitUser) signUp(ctx context.Context) error {
	opts, err := u.step(ctx, "registration/begin", "/registration/begin", []byte(`{"username":"`+u.name+`"}`))
	if err != nil {
		return err
	}
	resp, err := u.dev.Register(opts)
	if err != nil {
		return err
	}
	_, err = u.step(ctx, "registration/finish", "/registration/finish", resp)
	return err
}

// beginLogin returns the authenticator's answer to a new login ceremony.
func (u *legitUser) beginLogin(ctx context.Context) ([]byte, error) {
	opts, err := u.step(ctx, "login/begin", "/login/begin", []byte(`{"username":"`+u.name+`"}`))
	if err != nil {
		return nil, err
	}
	return u.dev.Login(opts)
}

func (u *legitUser) finishLogin(ctx context.Context, assertion []byte) error {
	_, err := u.step(ctx, "login/finish", "/login/finish", assertion)
	return err
}

func failureName(err error) string {
	var se *statusError
	if errors.As(err, &se) {
		return se.Error()
	}
	return err.Error()
}

// floodAddr is the X-Forwarded-For of the flood's i-th address, in 10/8.
func floodAddr(i int) string {
	return fmt.Sprintf("10.%d.%d.%d", i>>16&0xff, i>>8&0xff, i&0xff)
}

// runFlood runs one begin flood against an in-process server over store.
func runFlood(ctx context.Context, f *flags, store string, stderr io.Writer) (res *FloodResult, err error) {
	st, err := openStores(ctx, store, f.backends)
	if err != nil {
		return nil, err
	}
	defer func() {
		if cerr := st.close(context.WithoutCancel(ctx)); cerr != nil {
			err = errors.Join(err, fmt.Errorf("clean-up: %w", cerr))
		}
	}()
	rl := httpadapter.RateLimit{TrustedProxies: []string{"127.0.0.1/32"}} // the defaults otherwise
	if !f.floodLimit {
		rl = httpadapter.RateLimit{Disabled: true}
	}
	srv, err := startServerLimited(st, "127.0.0.1:0", false, rl)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, srv.close()) }()

	tr := newTransport(f.users + 2)
	// Two legitimate users (browsers, devices) behind one address: one
	// begins a sign-in before the flood and finishes it half-way through,
	// the other signs in every second.
	newLegit := func(name string) (*legitUser, error) {
		jar, _ := cookiejar.New(nil)
		u := &legitUser{
			floodClient: floodClient{base: srv.url, origin: srv.origin, addr: legitAddr, client: &http.Client{Transport: tr, Jar: jar, Timeout: f.reqTimeout}},
			name:        name,
			dev:         webauthntest.New(webauthntest.WithOrigin(srv.origin)),
		}
		if err := u.signUp(ctx); err != nil {
			return nil, fmt.Errorf("legitimate sign-up: %w", err)
		}
		return u, nil
	}
	slow, err := newLegit("flood-legit-slow")
	if err != nil {
		return nil, err
	}
	legit, err := newLegit("flood-legit")
	if err != nil {
		return nil, err
	}
	preFlood, err := slow.beginLogin(ctx)
	if err != nil {
		return nil, fmt.Errorf("legitimate login/begin before the flood: %w", err)
	}

	res = &FloodResult{Store: store, RateLimit: f.floodLimit, Addrs: f.floodAddrs, Workers: f.users, Duration: f.flood,
		Begins: map[int]int64{}, SignInFailures: map[string]int{}}
	fmt.Fprintf(stderr, "== begin flood on %s: %v, %d workers, %d client addresses, rate limiting %v\n",
		store, f.flood, f.users, f.floodAddrs, onOff(f.floodLimit))

	fctx, cancel := context.WithTimeout(ctx, f.flood)
	defer cancel()
	var (
		next   atomic.Int64
		mu     sync.Mutex
		counts = map[int]int64{}
		wg     sync.WaitGroup
	)
	for range f.users {
		wg.Go(func() {
			local := map[int]int64{}
			c := floodClient{base: srv.url, origin: srv.origin, client: &http.Client{Transport: tr, Timeout: f.reqTimeout}}
			for fctx.Err() == nil {
				c.addr = floodAddr(int(next.Add(1)-1) % f.floodAddrs)
				status, _, err := c.post(fctx, "/login/begin", []byte(`{}`))
				if err != nil {
					if fctx.Err() == nil {
						local[-1]++
					}
					continue
				}
				local[status]++
			}
			mu.Lock()
			for k, v := range local {
				counts[k] += v
			}
			mu.Unlock()
		})
	}

	// The legitimate users, during the flood.
	wg.Go(func() {
		select {
		case <-fctx.Done():
			res.PreFloodFinish = "not tried (the flood ended first)"
		case <-time.After(f.flood / 2):
			res.PreFloodFinish = "ok"
			if err := slow.finishLogin(ctx, preFlood); err != nil {
				res.PreFloodFinish = failureName(err)
			}
		}
	})
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for fctx.Err() == nil {
		select {
		case <-fctx.Done():
			continue
		case <-tick.C:
		}
		res.SignInAttempts++
		assertion, err := legit.beginLogin(ctx)
		if err == nil {
			err = legit.finishLogin(ctx, assertion)
		}
		if err != nil {
			res.SignInFailures[failureName(err)]++
			continue
		}
		res.SignInOK++
	}
	wg.Wait()
	res.Begins = counts
	time.Sleep(time.Second)
	res.AfterFlood = "ok"
	assertion, err := legit.beginLogin(ctx)
	if err == nil {
		err = legit.finishLogin(ctx, assertion)
	}
	if err != nil {
		res.AfterFlood = failureName(err)
	}
	return res, nil
}

func onOff(b bool) string {
	if b {
		return "on (defaults)"
	}
	return "off"
}

func printFlood(w io.Writer, r *FloodResult) {
	var total int64
	statuses := make([]int, 0, len(r.Begins))
	for s, n := range r.Begins {
		statuses = append(statuses, s)
		total += n
	}
	sort.Ints(statuses)
	fmt.Fprintf(w, "begin flood: %s, %v, %d workers, %d client addresses, rate limiting %s\n", r.Store, r.Duration, r.Workers, r.Addrs, onOff(r.RateLimit))
	fmt.Fprintf(w, "  flood begins  %d (%.0f/s)\n", total, float64(total)/r.Duration.Seconds())
	for _, s := range statuses {
		name := fmt.Sprint(s)
		if s < 0 {
			name = "transport error"
		}
		fmt.Fprintf(w, "    %-14s %d\n", name, r.Begins[s])
	}
	fmt.Fprintf(w, "  legitimate user (%s):\n", legitAddr)
	fmt.Fprintf(w, "    finish of a ceremony begun before the flood: %s\n", r.PreFloodFinish)
	var fails []string
	for k, n := range r.SignInFailures {
		fails = append(fails, fmt.Sprintf("%s ×%d", k, n))
	}
	sort.Strings(fails)
	fmt.Fprintf(w, "    sign-ins during the flood: %d of %d succeeded", r.SignInOK, r.SignInAttempts)
	if len(fails) > 0 {
		fmt.Fprintf(w, " (failed: %s)", strings.Join(fails, ", "))
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "    sign-in 1 s after the flood stopped: %s\n", r.AfterFlood)
}

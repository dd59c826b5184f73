package app_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/webauthnkit/webauthnkit/examples/passkeys/app"
	"github.com/webauthnkit/webauthnkit/httpadapter"
	"github.com/webauthnkit/webauthnkit/internal/testenv"
	"github.com/webauthnkit/webauthnkit/sqlstore"
	"github.com/webauthnkit/webauthnkit/webauthntest"
)

// The pause tests run the demo as a user starts it on PostgreSQL + Redis
// (its default store timeout, the store clients it builds), but on servers
// of their own, and pause one of them with SIGSTOP under a little load: a
// hung server that still accepts connections. Every request must be
// answered, 200 or 503 with Retry-After, within the store deadline and a
// bounded slack; once the server continues, the demo serves again without a
// restart, every acknowledged sign-up can sign in, and no stored signature
// counter is below one a client was told succeeded.

// pauseSlack is what a request may take beyond the store deadline on a
// loaded 2-core machine (HTTP, a deadline that fires late, the CPU of a
// login). Generous, but far below what a hang holds (the pause lasts
// several deadlines).
const pauseSlack = time.Second

func TestPausedPostgres(t *testing.T) {
	pg := testenv.StartPostgres(t)
	rd := testenv.StartRedis(t)
	testPausedStore(t, pg, rd, pg)
}

func TestPausedRedis(t *testing.T) {
	pg := testenv.StartPostgres(t)
	rd := testenv.StartRedis(t)
	testPausedStore(t, pg, rd, rd)
}

// loadUser is one simulated user: a device, a cookie jar, and what the
// server acknowledged.
type loadUser struct {
	name   string
	dev    *webauthntest.Authenticator
	client *http.Client
	// acked is the device's counter at the last login answered 200.
	acked  uint32
	credID []byte
}

type outcome struct {
	status  int
	retry   string
	start   time.Time
	elapsed time.Duration
	path    string
}

func testPausedStore(t *testing.T, pg, rd, paused *testenv.Server) {
	prefix := uniquePrefix()
	unlimited := httpadapter.Rate{PerSecond: 1e6, Burst: 1 << 30}
	a := start(t, app.Config{
		PostgresDSN: pg.PostgresDSN(), RedisAddr: rd.Addr, StorePrefix: prefix,
		WebauthnSecret: testWebauthnSecret,
		RateLimit: httpadapter.RateLimit{Begin: unlimited, Finish: unlimited, Manage: unlimited, Account: unlimited,
			CeremoniesInFlight: 1 << 40},
	})
	deadline := httpadapter.DefaultStoreTimeout // the demo's default

	var mu sync.Mutex
	var outcomes []outcome
	post := func(u *loadUser, path string, body []byte) (int, []byte) {
		req, err := http.NewRequest(http.MethodPost, a.URL+"/passkeys/"+path, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Origin", a.URL)
		start := time.Now()
		res, err := u.client.Do(req)
		if err != nil {
			t.Errorf("POST %s: %v (after %v)", path, err, time.Since(start))
			return 0, nil
		}
		data, _ := io.ReadAll(res.Body)
		res.Body.Close()
		mu.Lock()
		outcomes = append(outcomes, outcome{res.StatusCode, res.Header.Get("Retry-After"), start, time.Since(start), path})
		mu.Unlock()
		return res.StatusCode, data
	}
	// page loads the account page (the app's own store calls, after
	// LoadUser's): 200, 303 to / when LoadUser could not load the user, or
	// the 503 error page.
	page := func(u *loadUser) {
		req, _ := http.NewRequest(http.MethodGet, a.URL+"/account", nil)
		start := time.Now()
		res, err := u.client.Do(req)
		if err != nil {
			t.Errorf("GET /account: %v (after %v)", err, time.Since(start))
			return
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		mu.Lock()
		outcomes = append(outcomes, outcome{res.StatusCode, res.Header.Get("Retry-After"), start, time.Since(start), "GET /account"})
		mu.Unlock()
	}
	newUser := func(i int) *loadUser {
		jar, _ := cookiejar.New(nil)
		return &loadUser{
			name: fmt.Sprintf("u%d_%d", i, time.Now().UnixNano()%1e9),
			dev:  webauthntest.New(webauthntest.WithOrigin(a.URL)),
			client: &http.Client{Jar: jar, Timeout: 30 * time.Second,
				CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		}
	}
	// signUp reports whether the server acknowledged the sign-up.
	signUp := func(u *loadUser) bool {
		req, _ := json.Marshal(map[string]string{"username": u.name})
		st, opts := post(u, "registration/begin", req)
		if st != http.StatusOK {
			return false
		}
		resp, err := u.dev.Register(opts)
		if err != nil {
			t.Errorf("Register: %v", err)
			return false
		}
		if st, _ = post(u, "registration/finish", resp); st != http.StatusOK {
			return false
		}
		u.credID = u.dev.Credentials()[0].ID
		return true
	}
	login := func(u *loadUser) bool {
		req, _ := json.Marshal(map[string]string{"username": u.name})
		st, opts := post(u, "login/begin", req)
		if st != http.StatusOK {
			return false
		}
		resp, err := u.dev.Login(opts)
		if err != nil {
			t.Errorf("Login: %v", err)
			return false
		}
		if st, _ = post(u, "login/finish", resp); st != http.StatusOK {
			return false
		}
		u.acked = u.dev.Credentials()[0].SignCount
		return true
	}

	// Accounts that exist before the pause.
	var users []*loadUser
	for i := range 4 {
		u := newUser(i)
		if !signUp(u) {
			t.Fatalf("sign-up before the pause failed")
		}
		users = append(users, u)
	}

	// The load: each worker signs in its user again and again, and now and
	// then signs up a new one; acknowledged sign-ups are kept.
	var stop atomic.Bool
	var wg sync.WaitGroup
	var signedUp sync.Map // *loadUser -> true
	var logins, refused atomic.Int64
	for w, u := range users {
		wg.Go(func() {
			for n := 0; !stop.Load(); n++ {
				if login(u) {
					logins.Add(1)
				} else {
					refused.Add(1)
				}
				if n%3 == 1 {
					page(u)
				}
				if n%5 == 4 {
					nu := newUser(100*w + n)
					if signUp(nu) {
						signedUp.Store(nu, true)
					}
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
	time.Sleep(500 * time.Millisecond)

	paused.Pause()
	pausedAt := time.Now()
	time.Sleep(2*deadline + 1500*time.Millisecond) // several deadlines
	paused.Resume()
	resumedAt := time.Now()

	// Service comes back without a restart.
	probe := newUser(9999)
	for !signUp(probe) {
		if time.Since(resumedAt) > 20*time.Second {
			t.Fatalf("no sign-up succeeded 20 s after the server continued\n%s", paused.Output())
		}
		time.Sleep(100 * time.Millisecond)
	}
	signedUp.Store(probe, true)
	recovered := time.Since(resumedAt)
	time.Sleep(500 * time.Millisecond)
	stop.Store(true)
	wg.Wait()

	// Requests sent during the pause (answered during it or after): every
	// answer within the deadline plus slack, and each one 200 or 503
	// store_unavailable with Retry-After.
	var during []outcome
	for _, o := range outcomes {
		if !o.start.Before(pausedAt) && o.start.Before(resumedAt) {
			during = append(during, o)
		}
	}
	n503 := 0
	var slowest time.Duration
	for _, o := range during {
		slowest = max(slowest, o.elapsed)
		if o.elapsed > deadline+pauseSlack {
			t.Errorf("%s answered %d after %v: more than the %v deadline + %v", o.path, o.status, o.elapsed, deadline, pauseSlack)
		}
		switch {
		case o.status == http.StatusOK:
		case o.status == http.StatusSeeOther && o.path == "GET /account":
		case o.status == http.StatusServiceUnavailable:
			n503++
			if o.retry == "" {
				t.Errorf("%s: 503 without Retry-After", o.path)
			}
		default:
			t.Errorf("%s answered %d during the pause", o.path, o.status)
		}
	}
	if n503 == 0 {
		t.Errorf("no 503 in %d answers during the pause: was the server paused?", len(during))
	}
	t.Logf("paused %v: %d answers (%d x 503, slowest %v); serving again %v after SIGCONT; %d logins, %d refused in all",
		resumedAt.Sub(pausedAt).Round(time.Millisecond), len(during), n503, slowest.Round(time.Millisecond),
		recovered.Round(time.Millisecond), logins.Load(), refused.Load())

	// Nothing acknowledged is lost: every acknowledged account signs in,
	// and no stored counter is below an acknowledged one.
	db, err := sql.Open("pgx", pg.PostgresDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	store, err := sqlstore.New(db, sqlstore.Postgres, sqlstore.WithTablePrefix(prefix))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	check := func(u *loadUser) {
		cred, err := store.GetCredential(ctx, u.credID)
		if err != nil {
			t.Errorf("%s: acknowledged passkey not found: %v", u.name, err)
			return
		}
		if cred.SignCount < u.acked {
			t.Errorf("%s: stored counter %d below the acknowledged %d", u.name, cred.SignCount, u.acked)
		}
		if !login(u) {
			t.Errorf("%s: acknowledged account cannot sign in after the pause", u.name)
		}
	}
	accounts := len(users)
	for _, u := range users {
		check(u)
	}
	signedUp.Range(func(k, _ any) bool {
		accounts++
		check(k.(*loadUser))
		return true
	})
	t.Logf("%d acknowledged accounts checked", accounts)
}

package main

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	otptotp "github.com/pquerna/otp/totp"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/webauthnkit/webauthnkit/examples/existing/app"
	"github.com/webauthnkit/webauthnkit/webauthntest"
)

const origin = "http://localhost:8085"

// clock is a settable time for the app, its store and package totp.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }
func newClock() *clock               { return &clock{t: time.Now().Truncate(time.Hour)} }
func newApp(t *testing.T, c *clock) *app.App {
	t.Helper()
	a, err := app.New(app.Config{
		Origin: origin, DBPath: filepath.Join(t.TempDir(), "existing.db"),
		Now: c.Now, BcryptCost: bcrypt.MinCost, Logger: slog.New(slog.DiscardHandler),
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = a.Close() })
	return a
}

// browser keeps cookies and sends the page's Origin, as a browser would.
type browser struct {
	t       *testing.T
	h       http.Handler
	cookies map[string]*http.Cookie
}

func newBrowser(t *testing.T, h http.Handler) *browser {
	return &browser{t: t, h: h, cookies: map[string]*http.Cookie{}}
}

func (b *browser) do(method, path string, form url.Values) *httptest.ResponseRecorder {
	b.t.Helper()
	req := httptest.NewRequest(method, origin+path, strings.NewReader(form.Encode()))
	if method == http.MethodPost {
		req.Header.Set("Origin", origin)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for _, c := range b.cookies {
		req.AddCookie(c)
	}
	w := httptest.NewRecorder()
	b.h.ServeHTTP(w, req)
	for _, c := range w.Result().Cookies() {
		if c.MaxAge < 0 {
			delete(b.cookies, c.Name)
		} else {
			b.cookies[c.Name] = c
		}
	}
	return w
}

func (b *browser) post(path string, kv ...string) *httptest.ResponseRecorder {
	b.t.Helper()
	form := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		form.Set(kv[i], kv[i+1])
	}
	return b.do(http.MethodPost, path, form)
}

var errorCode = regexp.MustCompile(`id="error" role="alert" data-code="([a-z_]*)">([^<]*)<`)

// shownError returns the error code and message of a rendered page.
func shownError(t *testing.T, w *httptest.ResponseRecorder) (string, string) {
	t.Helper()
	m := errorCode.FindStringSubmatch(w.Body.String())
	require.NotNil(t, m, "no error region in %s", w.Body.String())
	return m[1], m[2]
}

func TestExistingPasswordSignIn(t *testing.T) {
	c := newClock()
	h := newApp(t, c)
	require.Equal(t, http.StatusSeeOther, newBrowser(t, h).post("/signup", "email", "ann@example.com", "password", "ann's password").Code)

	t.Run("RightPassword", func(t *testing.T) {
		b := newBrowser(t, h)
		w := b.post("/signin", "email", "ANN@example.com", "password", "ann's password")
		require.Equal(t, http.StatusSeeOther, w.Code)
		require.Equal(t, "/account?upgrade=1", w.Header().Get("Location"), "no second factor yet: the account, with the passkey upgrade")
		require.Equal(t, http.StatusOK, b.do("GET", "/account", nil).Code)
	})

	t.Run("WrongPasswordAndUnknownEmailLookAlike", func(t *testing.T) {
		b := newBrowser(t, h)
		known := b.post("/signin", "email", "ann@example.com", "password", "guess")
		unknown := newBrowser(t, h).post("/signin", "email", "nobody@example.com", "password", "guess")
		require.Equal(t, http.StatusUnauthorized, known.Code)
		require.Equal(t, known.Code, unknown.Code)
		kc, km := shownError(t, known)
		uc, um := shownError(t, unknown)
		require.Equal(t, "wrong_password", kc)
		require.Equal(t, kc+km, uc+um, "a wrong password and an unknown email must read the same")
		require.Empty(t, known.Result().Cookies(), "no session after a wrong password")
		require.Equal(t, http.StatusSeeOther, b.do("GET", "/account", nil).Code, "account without a session redirects to sign-in")
	})

	t.Run("PasswordAttemptsLimitedPerEmail", func(t *testing.T) {
		require.Equal(t, http.StatusSeeOther, newBrowser(t, h).post("/signup", "email", "bob@example.com", "password", "bob's password").Code)
		for _, email := range []string{"bob@example.com", "nobody-else@example.com"} {
			for i := range 10 {
				w := newBrowser(t, h).post("/signin", "email", email, "password", "guess")
				require.Equal(t, http.StatusUnauthorized, w.Code, "%s attempt %d", email, i+1)
			}
			w := newBrowser(t, h).post("/signin", "email", email, "password", "bob's password")
			require.Equal(t, http.StatusTooManyRequests, w.Code, "%s: the 11th attempt, even right, is refused", email)
			require.NotEmpty(t, w.Header().Get("Retry-After"))
		}
		// A known and an unknown address are limited alike; the limit
		// is per address.
		require.Equal(t, http.StatusSeeOther, newBrowser(t, h).post("/signin", "email", "ann@example.com", "password", "ann's password").Code)
		c.Add(16 * time.Minute)
		w := newBrowser(t, h).post("/signin", "email", "bob@example.com", "password", "bob's password")
		require.Equal(t, http.StatusSeeOther, w.Code, "a new window lets the right password in")
	})

	t.Run("PasswordAttemptsLimitedPerClient", func(t *testing.T) {
		// One client trying many addresses: 100 wrong passwords per 15
		// minutes (httptest's requests all come from 192.0.2.1).
		c.Add(16 * time.Minute)
		for i := range 100 {
			w := newBrowser(t, h).post("/signin", "email", fmt.Sprintf("user%d@example.com", i), "password", "guess")
			require.Equal(t, http.StatusUnauthorized, w.Code, "attempt %d", i+1)
		}
		w := newBrowser(t, h).post("/signin", "email", "ann@example.com", "password", "ann's password")
		require.Equal(t, http.StatusTooManyRequests, w.Code)
		c.Add(16 * time.Minute)
	})

	t.Run("CrossSiteFormRefused", func(t *testing.T) {
		req := httptest.NewRequest("POST", origin+"/signin", strings.NewReader("email=ann%40example.com&password=x"))
		req.Header.Set("Origin", "https://evil.example")
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		require.Equal(t, http.StatusForbidden, w.Code)
	})

	t.Run("SignUpTakenEmail", func(t *testing.T) {
		w := newBrowser(t, h).post("/signup", "email", "Ann@Example.com", "password", "another password")
		require.Equal(t, http.StatusConflict, w.Code)
	})
}

var (
	secretShown  = regexp.MustCompile(`<code id="totp-secret">([A-Z2-7 ]+)</code>`)
	pendingShown = regexp.MustCompile(`name="pending" value="([A-Za-z0-9_-]+)"`)
)

// enrolTOTP sets up TOTP for the signed-in b and returns the secret.
func enrolTOTP(t *testing.T, b *browser, c *clock) string {
	t.Helper()
	w := b.post("/account/totp/begin")
	require.Equal(t, http.StatusOK, w.Code)
	require.Equal(t, "no-store", w.Header().Get("Cache-Control"))
	s := secretShown.FindStringSubmatch(w.Body.String())
	p := pendingShown.FindStringSubmatch(w.Body.String())
	require.NotNil(t, s)
	require.NotNil(t, p)
	secret := strings.ReplaceAll(s[1], " ", "")
	code, err := otptotp.GenerateCode(secret, c.Now())
	require.NoError(t, err)
	w = b.post("/account/totp/confirm", "pending", p[1], "code", code)
	require.Equal(t, http.StatusSeeOther, w.Code, w.Body.String())
	return secret
}

func TestExistingTOTPSecondStep(t *testing.T) {
	c := newClock()
	h := newApp(t, c)
	b := newBrowser(t, h)
	require.Equal(t, http.StatusSeeOther, b.post("/signup", "email", "tom@example.com", "password", "tom's password").Code)
	secret := enrolTOTP(t, b, c)
	b.post("/signout")
	code := func(at time.Time) string {
		s, err := otptotp.GenerateCode(secret, at)
		require.NoError(t, err)
		return s
	}

	// The password now leads to the second step, and only there.
	w := b.post("/signin", "email", "tom@example.com", "password", "tom's password")
	require.Equal(t, "/signin/second", w.Header().Get("Location"))
	require.Equal(t, http.StatusSeeOther, b.do("GET", "/account", nil).Code, "a pending session does not open the account")
	require.Equal(t, http.StatusUnauthorized, b.do("GET", "/passkeys/credentials", nil).Code, "nor the passkeys")

	t.Run("AttemptsLimited", func(t *testing.T) {
		// 5 wrong codes per 15 minutes; then even the right code waits.
		for i := range 5 {
			w := b.post("/signin/second", "code", code(c.Now().Add(time.Duration(10+i)*time.Minute)))
			require.Equal(t, http.StatusUnauthorized, w.Code, "attempt %d", i+1)
			got, _ := shownError(t, w)
			require.Equal(t, "wrong_code", got)
		}
		w := b.post("/signin/second", "code", code(c.Now()))
		require.Equal(t, http.StatusTooManyRequests, w.Code)
		require.NotEmpty(t, w.Header().Get("Retry-After"))
		// A malformed code cannot be a right guess: package totp refuses
		// it before counting.
		w = b.post("/signin/second", "code", "abc")
		require.Equal(t, http.StatusUnauthorized, w.Code)
	})

	t.Run("NextWindowAndReuse", func(t *testing.T) {
		c.Add(15 * time.Minute)
		// The password again: the pending session lasts 5 minutes.
		b.post("/signin", "email", "tom@example.com", "password", "tom's password")
		now := code(c.Now())
		w := b.post("/signin/second", "code", now)
		require.Equal(t, http.StatusSeeOther, w.Code, w.Body.String())
		require.Equal(t, "/account", w.Header().Get("Location"))
		require.Equal(t, http.StatusOK, b.do("GET", "/account", nil).Code)
		b.post("/signout")

		b.post("/signin", "email", "tom@example.com", "password", "tom's password")
		w = b.post("/signin/second", "code", now)
		require.Equal(t, http.StatusUnauthorized, w.Code)
		got, _ := shownError(t, w)
		require.Equal(t, "code_reused", got)
	})

	t.Run("SignOutEndsCopiedSession", func(t *testing.T) {
		c.Add(time.Minute)
		b.post("/signin", "email", "tom@example.com", "password", "tom's password")
		require.Equal(t, http.StatusSeeOther, b.post("/signin/second", "code", code(c.Now())).Code)
		stolen := newBrowser(t, h)
		for k, v := range b.cookies {
			stolen.cookies[k] = v
		}
		require.Equal(t, http.StatusOK, stolen.do("GET", "/account", nil).Code)
		b.post("/signout")
		require.Equal(t, http.StatusSeeOther, stolen.do("GET", "/account", nil).Code, "a copy of the cookie ends at sign-out")
	})

	t.Run("LeavingSecondStepSignsNobodyOut", func(t *testing.T) {
		c.Add(time.Minute)
		b.post("/signin", "email", "tom@example.com", "password", "tom's password")
		require.Equal(t, http.StatusSeeOther, b.post("/signin/second", "code", code(c.Now())).Code)
		// Someone else with the password only, at the second step, cancels.
		other := newBrowser(t, h)
		require.Equal(t, "/signin/second", other.post("/signin", "email", "tom@example.com", "password", "tom's password").Header().Get("Location"))
		other.post("/signout")
		require.Equal(t, http.StatusOK, b.do("GET", "/account", nil).Code, "tom's session survives")
	})

	t.Run("TurnOff", func(t *testing.T) {
		require.Equal(t, http.StatusSeeOther, b.post("/account/totp/disable").Code)
		b.post("/signout")
		w := b.post("/signin", "email", "tom@example.com", "password", "tom's password")
		require.Equal(t, "/account?upgrade=1", w.Header().Get("Location"), "no second factor left")
	})
}

// TestExistingFilesPrivate: the database (password hashes) and the master
// key are created readable by their owner only, and a key file others may
// read is refused.
func TestExistingFilesPrivate(t *testing.T) {
	dir := t.TempDir()
	cfg := app.Config{Origin: origin, DBPath: filepath.Join(dir, "x.db"), KeyFile: filepath.Join(dir, "x.db.key"), BcryptCost: bcrypt.MinCost}
	a, err := app.New(cfg)
	require.NoError(t, err)
	require.NoError(t, a.Close())
	for _, f := range []string{cfg.DBPath, cfg.KeyFile} {
		fi, err := os.Stat(f)
		require.NoError(t, err)
		require.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), f)
	}
	require.NoError(t, os.Chmod(cfg.KeyFile, 0o644))
	_, err = app.New(cfg)
	require.ErrorContains(t, err, "may be read by other users")
}

func (b *browser) json(path, body string) *httptest.ResponseRecorder {
	b.t.Helper()
	req := httptest.NewRequest(http.MethodPost, origin+path, strings.NewReader(body))
	req.Header.Set("Origin", origin)
	req.Header.Set("Content-Type", "application/json")
	for _, c := range b.cookies {
		req.AddCookie(c)
	}
	w := httptest.NewRecorder()
	b.h.ServeHTTP(w, req)
	for _, c := range w.Result().Cookies() {
		if c.MaxAge < 0 {
			delete(b.cookies, c.Name)
		} else {
			b.cookies[c.Name] = c
		}
	}
	return w
}

// TestExistingPasskeyFactors: a passkey sign-in without user verification
// is one factor and does not open the account alone (OnLogin refuses it),
// while after the password the same key is an accepted second factor.
func TestExistingPasskeyFactors(t *testing.T) {
	h := newApp(t, newClock())
	device := webauthntest.New(webauthntest.WithOrigin(origin))
	b := newBrowser(t, h)
	require.Equal(t, http.StatusSeeOther, b.post("/signup", "email", "pia@example.com", "password", "pia's password").Code)
	// The first passkey of an app user: the library account is made with
	// the app's handle (AccountFor), named by the email.
	w := b.json("/passkeys/registration/begin", `{}`)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	require.Contains(t, w.Body.String(), `"name":"pia@example.com"`)
	cred, err := device.Register(w.Body.Bytes())
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, b.json("/passkeys/registration/finish", string(cred)).Code)
	// Sign-up through the adapter is off: accounts come from the app's form.
	w = newBrowser(t, h).json("/passkeys/registration/begin", `{"username": "eve@example.com"}`)
	require.Equal(t, http.StatusForbidden, w.Code, w.Body.String())

	login := func(b *browser, begin string, opts ...webauthntest.CallOption) *httptest.ResponseRecorder {
		t.Helper()
		w := b.json("/passkeys/login/begin", begin)
		require.Equal(t, http.StatusOK, w.Code, w.Body.String())
		assertion, err := device.Login(w.Body.Bytes(), opts...)
		require.NoError(t, err)
		return b.json("/passkeys/login/finish", string(assertion))
	}

	t.Run("UserVerifiedPasskeyIsTwoFactors", func(t *testing.T) {
		other := newBrowser(t, h)
		w := login(other, `{}`)
		require.Equal(t, http.StatusOK, w.Code, w.Body.String())
		require.Contains(t, w.Body.String(), `"factors":2`)
		require.Equal(t, http.StatusOK, other.do("GET", "/account", nil).Code)
	})

	t.Run("WithoutUserVerificationOneFactorRefused", func(t *testing.T) {
		other := newBrowser(t, h)
		w := login(other, `{}`, webauthntest.WithoutUserVerification())
		require.Equal(t, http.StatusUnauthorized, w.Code, w.Body.String())
		require.Contains(t, w.Body.String(), `"error":"second_factor_only"`)
		require.Equal(t, http.StatusSeeOther, other.do("GET", "/account", nil).Code)
	})

	t.Run("AfterPasswordOneFactorSuffices", func(t *testing.T) {
		other := newBrowser(t, h)
		require.Equal(t, "/signin/second", other.post("/signin", "email", "pia@example.com", "password", "pia's password").Header().Get("Location"))
		w := login(other, `{"secondFactor": true}`, webauthntest.WithoutUserVerification())
		require.Equal(t, http.StatusOK, w.Code, w.Body.String())
		require.Equal(t, http.StatusOK, other.do("GET", "/account", nil).Code)
	})

	t.Run("SecondFactorLoginNeedsThePassword", func(t *testing.T) {
		w := newBrowser(t, h).json("/passkeys/login/begin", `{"secondFactor": true}`)
		require.Equal(t, http.StatusUnauthorized, w.Code, w.Body.String())
	})
}

// TestExistingChangeEmail: the app's email and the passkey account's name
// change together; a taken email changes neither.
func TestExistingChangeEmail(t *testing.T) {
	h := newApp(t, newClock())
	require.Equal(t, http.StatusSeeOther, newBrowser(t, h).post("/signup", "email", "taken@example.com", "password", "a password!").Code)
	b := newBrowser(t, h)
	require.Equal(t, http.StatusSeeOther, b.post("/signup", "email", "eva@example.com", "password", "eva's password").Code)

	// Without a passkey yet (no library account): the app's email only.
	w := b.post("/account/email", "email", "eva2@example.com")
	require.Equal(t, "/account?changed=email", w.Header().Get("Location"), w.Body.String())

	device := webauthntest.New(webauthntest.WithOrigin(origin))
	w = b.json("/passkeys/registration/begin", `{}`)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	require.Contains(t, w.Body.String(), `"name":"eva2@example.com"`)
	cred, err := device.Register(w.Body.Bytes())
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, b.json("/passkeys/registration/finish", string(cred)).Code)

	name := func() string {
		w := b.do("GET", "/passkeys/session", nil)
		require.Equal(t, http.StatusOK, w.Code)
		var s struct{ User struct{ Name string } }
		require.NoError(t, json.Unmarshal(w.Body.Bytes(), &s))
		return s.User.Name
	}
	w = b.post("/account/email", "email", "eva3@example.com")
	require.Equal(t, "/account?changed=email", w.Header().Get("Location"), w.Body.String())
	require.Equal(t, "eva3@example.com", name(), "rp.UpdateUser")
	page := b.do("GET", "/account?changed=email", nil).Body.String()
	require.Contains(t, page, `"name":"eva3@example.com"`, "the signalCurrentUserDetails argument")

	// Taken in the app's table: the library's name is put back.
	w = b.post("/account/email", "email", "TAKEN@example.com")
	require.Equal(t, http.StatusConflict, w.Code)
	require.Equal(t, "eva3@example.com", name())
	w = b.post("/account/email", "email", "not an email")
	require.Equal(t, http.StatusBadRequest, w.Code)
}

// TestExistingDeleteAccount: deleting the app's user deletes its library
// account too, so its passkey signs nobody in (and the email is free).
func TestExistingDeleteAccount(t *testing.T) {
	h := newApp(t, newClock())
	b := newBrowser(t, h)
	require.Equal(t, http.StatusSeeOther, b.post("/signup", "email", "dan@example.com", "password", "dan's password").Code)
	device := webauthntest.New(webauthntest.WithOrigin(origin))
	w := b.json("/passkeys/registration/begin", `{}`)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	cred, err := device.Register(w.Body.Bytes())
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, b.json("/passkeys/registration/finish", string(cred)).Code)

	w = b.post("/account/delete")
	require.Equal(t, "/signin", w.Header().Get("Location"), w.Body.String())

	other := newBrowser(t, h)
	w = other.json("/passkeys/login/begin", `{}`)
	require.Equal(t, http.StatusOK, w.Code)
	assertion, err := device.Login(w.Body.Bytes())
	require.NoError(t, err)
	w = other.json("/passkeys/login/finish", string(assertion))
	require.Equal(t, http.StatusUnauthorized, w.Code, w.Body.String())
	require.Contains(t, w.Body.String(), "unknown_credential")
	require.Equal(t, http.StatusUnauthorized, other.post("/signin", "email", "dan@example.com", "password", "dan's password").Code)
	// The address can make a new account, which gets a new handle.
	require.Equal(t, http.StatusSeeOther, other.post("/signup", "email", "dan@example.com", "password", "dan's password").Code)
}

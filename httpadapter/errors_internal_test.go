package httpadapter

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/account"
	"github.com/webauthnkit/webauthnkit/mds"
	"github.com/webauthnkit/webauthnkit/mds/mdstest"
	"github.com/webauthnkit/webauthnkit/memstore"
	"github.com/webauthnkit/webauthnkit/webauthntest"
)

// layers is a RelyingParty over a real memstore, and the Handler serving it.
type layers struct {
	rp    *webauthnkit.RelyingParty
	h     *Handler
	store *memstore.Store
	mu    sync.Mutex
	now   time.Time
}

func (l *layers) clock() time.Time { l.mu.Lock(); defer l.mu.Unlock(); return l.now }

func (l *layers) advance(d time.Duration) { l.mu.Lock(); l.now = l.now.Add(d); l.mu.Unlock() }

func newLayers(t *testing.T, storeOpts []memstore.Option, mutate ...func(*webauthnkit.Config)) *layers {
	t.Helper()
	store, err := memstore.New(storeOpts...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = store.Close() })
	l := &layers{store: store, now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	cfg := webauthnkit.Config{RPID: "example.com", Origins: []string{"https://example.com"}, Credentials: store, Ceremonies: store, Now: l.clock}
	for _, m := range mutate {
		m(&cfg)
	}
	l.rp, err = webauthnkit.New(cfg)
	require.NoError(t, err)
	l.h, err = New(l.rp, Options{SessionSecret: bytes.Repeat([]byte{1}, 32)})
	require.NoError(t, err)
	return l
}

// signUp registers name with a new authenticator.
func (l *layers) signUp(t *testing.T, name string, opts ...webauthntest.Option) (*webauthnkit.Registration, *webauthntest.Authenticator) {
	t.Helper()
	auth := webauthntest.New(append([]webauthntest.Option{webauthntest.WithOrigin("https://example.com")}, opts...)...)
	b, err := l.rp.BeginRegistration(context.Background(), webauthnkit.RegistrationRequest{Username: name})
	require.NoError(t, err)
	body, err := auth.Register(b.Options)
	require.NoError(t, err)
	reg, err := l.rp.FinishRegistration(context.Background(), b.CeremonyID, body)
	require.NoError(t, err)
	return reg, auth
}

// login runs a discoverable login with auth.
func (l *layers) login(t *testing.T, auth *webauthntest.Authenticator, opts ...webauthntest.CallOption) error {
	t.Helper()
	b, err := l.rp.BeginLogin(context.Background(), webauthnkit.LoginRequest{})
	require.NoError(t, err)
	body, err := auth.Login(b.Options, opts...)
	require.NoError(t, err)
	_, err = l.rp.FinishLogin(context.Background(), b.CeremonyID, body)
	return err
}

// Every condition, driven through a real store: the RelyingParty's error
// matches its sentinel and the store's (errors.Is across layers), has the
// sentinel's code, and the adapter answers the status and JSON code of the
// table in docs/errors.md.
func TestErrorsAcrossLayers(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name      string
		storeOpts []memstore.Option
		config    func(*webauthnkit.Config)
		run       func(t *testing.T, l *layers) error
		want      *webauthnkit.Error
		causes    []error // also matched by errors.Is (store sentinels, context errors)
		status    int
	}{
		{
			name: "malformed username",
			run: func(t *testing.T, l *layers) error {
				_, err := l.rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{Username: "a\x00b"})
				return err
			},
			want: webauthnkit.ErrInvalidRequest, status: 400,
		},
		{
			name: "username in use at begin",
			run: func(t *testing.T, l *layers) error {
				l.signUp(t, "alice")
				_, err := l.rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{Username: "alice"})
				return err
			},
			want: webauthnkit.ErrUsernameTaken, status: 409,
		},
		{
			name: "username taken between begin and finish",
			run: func(t *testing.T, l *layers) error {
				auth := webauthntest.New(webauthntest.WithOrigin("https://example.com"))
				first, err := l.rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{Username: "alice"})
				require.NoError(t, err)
				second, err := l.rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{Username: "alice"})
				require.NoError(t, err)
				body, err := auth.Register(first.Options)
				require.NoError(t, err)
				_, err = l.rp.FinishRegistration(ctx, first.CeremonyID, body)
				require.NoError(t, err)
				body, err = auth.Register(second.Options)
				require.NoError(t, err)
				_, err = l.rp.FinishRegistration(ctx, second.CeremonyID, body)
				return err
			},
			want: webauthnkit.ErrUsernameTaken, causes: []error{webauthnkit.ErrUserExists, webauthnkit.ErrDuplicate}, status: 409,
		},
		{
			name: "email address of another account",
			run: func(t *testing.T, l *layers) error {
				_, err := l.rp.CreateUser(ctx, webauthnkit.NewUser{Name: "alice", Email: "alice@example.com"})
				require.NoError(t, err)
				bob, err := l.rp.CreateUser(ctx, webauthnkit.NewUser{Name: "bob"})
				require.NoError(t, err)
				_, err = l.rp.SetEmail(ctx, bob.Handle, "Alice@example.com", false)
				return err
			},
			want: webauthnkit.ErrEmailTaken, causes: []error{webauthnkit.ErrUserExists, webauthnkit.ErrDuplicate}, status: 409,
		},
		{
			name: "credential already registered",
			config: func(c *webauthnkit.Config) {
				// A fixed challenge lets one response be replayed into another sign-up.
				c.NewChallenge = func() ([]byte, error) { return bytes.Repeat([]byte{7}, 32), nil }
			},
			run: func(t *testing.T, l *layers) error {
				auth := webauthntest.New(webauthntest.WithOrigin("https://example.com"))
				b1, err := l.rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{Username: "alice"})
				require.NoError(t, err)
				body, err := auth.Register(b1.Options)
				require.NoError(t, err)
				_, err = l.rp.FinishRegistration(ctx, b1.CeremonyID, body)
				require.NoError(t, err)
				b2, err := l.rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{Username: "mallory"})
				require.NoError(t, err)
				_, err = l.rp.FinishRegistration(ctx, b2.CeremonyID, body)
				return err
			},
			want: webauthnkit.ErrCredentialExists, causes: []error{webauthnkit.ErrDuplicate}, status: 409,
		},
		{
			name: "unknown user handle at begin",
			run: func(t *testing.T, l *layers) error {
				_, err := l.rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{UserHandle: bytes.Repeat([]byte{9}, 32)})
				return err
			},
			want: webauthnkit.ErrUserNotFound, causes: []error{webauthnkit.ErrNotFound}, status: 401,
		},
		{
			name: "account deleted before its new passkey is stored",
			run: func(t *testing.T, l *layers) error {
				reg, _ := l.signUp(t, "alice")
				b, err := l.rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{UserHandle: reg.User.Handle})
				require.NoError(t, err)
				body, err := webauthntest.New(webauthntest.WithOrigin("https://example.com")).Register(b.Options)
				require.NoError(t, err)
				require.NoError(t, l.rp.DeleteUser(ctx, reg.User.Handle))
				_, err = l.rp.FinishRegistration(ctx, b.CeremonyID, body)
				return err
			},
			want: webauthnkit.ErrUserNotFound, causes: []error{webauthnkit.ErrNotFound}, status: 401,
		},
		{
			name: "unknown ceremony",
			run: func(t *testing.T, l *layers) error {
				_, err := l.rp.FinishLogin(ctx, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", []byte(`{}`))
				return err
			},
			want: webauthnkit.ErrCeremonyNotFound, causes: []error{webauthnkit.ErrNotFound}, status: 401,
		},
		{
			name: "expired ceremony",
			run: func(t *testing.T, l *layers) error {
				b, err := l.rp.BeginLogin(ctx, webauthnkit.LoginRequest{})
				require.NoError(t, err)
				l.advance(l.rp.ChallengeTTL())
				_, err = l.rp.FinishLogin(ctx, b.CeremonyID, []byte(`{}`))
				return err
			},
			// memstore's clock is the real one: the record is still there.
			want: webauthnkit.ErrChallengeExpired, status: 401,
		},
		{
			name: "registration finished as a login",
			run: func(t *testing.T, l *layers) error {
				b, err := l.rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{Username: "alice"})
				require.NoError(t, err)
				_, err = l.rp.FinishLogin(ctx, b.CeremonyID, []byte(`{}`))
				return err
			},
			want: webauthnkit.ErrWrongCeremony, status: 401,
		},
		{
			name: "unparsable response",
			run: func(t *testing.T, l *layers) error {
				b, err := l.rp.BeginLogin(ctx, webauthnkit.LoginRequest{})
				require.NoError(t, err)
				_, err = l.rp.FinishLogin(ctx, b.CeremonyID, []byte(`{}`))
				return err
			},
			want: webauthnkit.ErrInvalidResponse, status: 401,
		},
		{
			name: "response from another origin",
			run: func(t *testing.T, l *layers) error {
				_, auth := l.signUp(t, "alice")
				return l.login(t, auth, webauthntest.WrongOrigin("https://evil.example"))
			},
			want: webauthnkit.ErrOriginMismatch, status: 401,
		},
		{
			name: "passkey of a deleted account",
			run: func(t *testing.T, l *layers) error {
				reg, auth := l.signUp(t, "alice")
				require.NoError(t, l.rp.DeleteUser(ctx, reg.User.Handle))
				err := l.login(t, auth)
				var e *webauthnkit.Error
				require.ErrorAs(t, err, &e)
				assert.Equal(t, reg.Credential.ID, e.UnknownCredentialID, "the unknown-credential signal names it")
				return err
			},
			want: webauthnkit.ErrUnknownCredential, causes: []error{webauthnkit.ErrNotFound}, status: 401,
		},
		{
			name: "sign counter went backwards",
			run: func(t *testing.T, l *layers) error {
				reg, auth := l.signUp(t, "alice", webauthntest.WithCounter(5, 1))
				require.NoError(t, l.login(t, auth))
				auth.SetSignCount(reg.Credential.ID, 1)
				return l.login(t, auth)
			},
			want: webauthnkit.ErrCounterRegression, status: 401,
		},
		{
			name: "quarantined passkey",
			run: func(t *testing.T, l *layers) error {
				reg, auth := l.signUp(t, "alice")
				require.NoError(t, l.rp.QuarantineCredential(ctx, reg.Credential.ID, "lost key reported"))
				return l.login(t, auth)
			},
			want: webauthnkit.ErrCredentialQuarantined, status: 403,
		},
		{
			name: "rename another account's passkey",
			run: func(t *testing.T, l *layers) error {
				alice, _ := l.signUp(t, "alice")
				bob, _ := l.signUp(t, "bob")
				return l.rp.RenameCredential(ctx, bob.User.Handle, alice.Credential.ID, "mine")
			},
			want: webauthnkit.ErrNotFound, status: 404,
		},
		{
			name: "revoke the only passkey",
			run: func(t *testing.T, l *layers) error {
				reg, _ := l.signUp(t, "alice")
				return l.rp.RevokeCredential(ctx, reg.User.Handle, reg.Credential.ID, false)
			},
			want: webauthnkit.ErrLastCredential, status: 409,
		},
		{
			name: "delete an unknown account",
			run: func(t *testing.T, l *layers) error {
				return l.rp.DeleteUser(ctx, bytes.Repeat([]byte{9}, 32))
			},
			want: webauthnkit.ErrUserNotFound, causes: []error{webauthnkit.ErrNotFound}, status: 401,
		},
		{
			name: "end the sessions of an unknown account",
			run: func(t *testing.T, l *layers) error {
				_, err := l.rp.EndSessions(ctx, bytes.Repeat([]byte{9}, 32))
				return err
			},
			want: webauthnkit.ErrUserNotFound, causes: []error{webauthnkit.ErrNotFound}, status: 401,
		},
		{
			name:      "store refuses more ceremonies",
			storeOpts: []memstore.Option{memstore.WithMaxCeremonies(1)},
			run: func(t *testing.T, l *layers) error {
				_, err := l.rp.BeginLogin(ctx, webauthnkit.LoginRequest{})
				require.NoError(t, err)
				_, err = l.rp.BeginLogin(ctx, webauthnkit.LoginRequest{})
				return err
			},
			want: webauthnkit.ErrStoreUnavailable, status: 503,
		},
		{
			name: "attestation refused (enforce, model unknown to the metadata)",
			config: func(c *webauthnkit.Config) {
				root, err := mdstest.NewRoot("Test MDS")
				if err != nil {
					panic(err)
				}
				blob, err := root.BLOB(1, time.Now().AddDate(0, 1, 0))
				if err != nil {
					panic(err)
				}
				p, err := mds.NewFromReader(bytes.NewReader(blob), mds.Options{Root: root.Cert})
				if err != nil {
					panic(err)
				}
				c.Attestation = webauthnkit.AttestationPolicy{Mode: webauthnkit.AttestationEnforce, Metadata: p}
			},
			run: func(t *testing.T, l *layers) error {
				ca, err := webauthntest.NewAttestationCA("Vendor")
				require.NoError(t, err)
				model, err := ca.NewModel([16]byte{1, 2, 3})
				require.NoError(t, err)
				auth := webauthntest.New(webauthntest.WithOrigin("https://example.com"), webauthntest.WithPackedAttestation(model))
				b, err := l.rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{Username: "alice"})
				require.NoError(t, err)
				body, err := auth.Register(b.Options)
				require.NoError(t, err)
				_, err = l.rp.FinishRegistration(ctx, b.CeremonyID, body)
				return err
			},
			want: webauthnkit.ErrAttestationRefused, status: 403,
		},
		{
			name: "deadline passed",
			run: func(t *testing.T, l *layers) error {
				dctx, cancel := context.WithDeadline(ctx, time.Now().Add(-time.Second))
				defer cancel()
				_, err := l.rp.BeginLogin(dctx, webauthnkit.LoginRequest{Username: "alice"})
				return err
			},
			want: webauthnkit.ErrStoreUnavailable, causes: []error{context.DeadlineExceeded}, status: 503,
		},
		{
			name: "client went away",
			run: func(t *testing.T, l *layers) error {
				cctx, cancel := context.WithCancel(ctx)
				cancel()
				_, err := l.rp.BeginLogin(cctx, webauthnkit.LoginRequest{Username: "alice"})
				return err
			},
			want: webauthnkit.ErrCanceled, causes: []error{context.Canceled}, status: StatusClientClosedRequest,
		},
		{
			name: "re-authentication with another account's passkey",
			run: func(t *testing.T, l *layers) error {
				alice, _ := l.signUp(t, "alice")
				_, bobAuth := l.signUp(t, "bob")
				b, err := l.rp.BeginReauth(ctx, alice.User.Handle)
				require.NoError(t, err)
				var m map[string]any
				require.NoError(t, json.Unmarshal(b.Options, &m))
				delete(m, "allowCredentials")
				opts, err := json.Marshal(m)
				require.NoError(t, err)
				body, err := bobAuth.Login(opts)
				require.NoError(t, err)
				_, err = l.rp.FinishReauth(ctx, alice.User.Handle, b.CeremonyID, body)
				return err
			},
			want: webauthnkit.ErrWrongUser, status: 401,
		},
		{
			name: "re-authentication of an account without passkeys",
			run: func(t *testing.T, l *layers) error {
				u, err := l.rp.CreateUser(ctx, webauthnkit.NewUser{Name: "carol"})
				require.NoError(t, err)
				_, err = l.rp.BeginReauth(ctx, u.Handle)
				return err
			},
			want: webauthnkit.ErrNoPasskey, status: 409,
		},
		{
			name: "device approval without a fresh authentication",
			run: func(t *testing.T, l *layers) error {
				alice, _ := l.signUp(t, "alice")
				return l.rp.ApproveLink(ctx, webauthnkit.LinkApproval{LinkID: "x", MatchPhrase: "amber river tiger", UserHandle: alice.User.Handle})
			},
			want: webauthnkit.ErrReauthRequired, status: 403,
		},
		{
			name: "unknown device link code",
			run: func(t *testing.T, l *layers) error {
				alice, _ := l.signUp(t, "alice")
				_, err := l.rp.LookupLink(ctx, alice.User.Handle, "00000-00000")
				return err
			},
			want: webauthnkit.ErrLinkNotFound, status: 404,
		},
		{
			name: "device link lookups spent",
			run: func(t *testing.T, l *layers) error {
				alice, _ := l.signUp(t, "alice")
				var err error
				for range webauthnkit.LinkLookupLimit + 1 {
					_, err = l.rp.LookupLink(ctx, alice.User.Handle, "00000-00000")
				}
				return err
			},
			want: webauthnkit.ErrTooManyAttempts, status: 429,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var mutate []func(*webauthnkit.Config)
			if tc.config != nil {
				mutate = append(mutate, tc.config)
			}
			l := newLayers(t, tc.storeOpts, mutate...)
			err := tc.run(t, l)
			require.Error(t, err)

			// Core: the sentinel, its code, and the store's sentinel below it.
			assert.ErrorIs(t, err, tc.want)
			assert.Equal(t, tc.want.Code, webauthnkit.ErrorCode(err))
			for _, c := range tc.causes {
				assert.ErrorIs(t, err, c)
			}
			assert.Regexp(t, `^webauthnkit: `+string(tc.want.Code)+`: `, err.Error())

			// HTTP: status and JSON code.
			rec := httptest.NewRecorder()
			l.h.fail(rec, httptest.NewRequest(http.MethodPost, "/passkeys/login/finish", nil), err)
			assert.Equal(t, tc.status, rec.Code)
			var body struct{ Error, Message string }
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body))
			assert.Equal(t, string(tc.want.Code), body.Error)
			assert.NotEmpty(t, body.Message)
			if tc.status == http.StatusServiceUnavailable || tc.status == http.StatusTooManyRequests {
				assert.NotEmpty(t, rec.Header().Get("Retry-After"))
			}
			if !errors.Is(err, webauthnkit.ErrInternal) && tc.status < 500 {
				assert.NotContains(t, body.Message, "memstore", "store details stay out of client messages")
			}
		})
	}
}

// The adapter's own refusals answer with their exported code and status.
func TestAdapterErrorCodes(t *testing.T) {
	l := newLayers(t, nil)
	limited, err := New(l.rp, Options{SessionSecret: bytes.Repeat([]byte{1}, 32), RateLimit: RateLimit{Begin: Rate{PerSecond: 0.001, Burst: 1}}})
	require.NoError(t, err)
	req := func(method, path, ctype, origin string, body []byte) *http.Request {
		r := httptest.NewRequest(method, "https://example.com/passkeys/"+path, bytes.NewReader(body))
		if ctype != "" {
			r.Header.Set("Content-Type", ctype)
		}
		if origin != "" {
			r.Header.Set("Origin", origin)
		}
		return r
	}
	noSignUp, err := New(l.rp, Options{SessionSecret: bytes.Repeat([]byte{1}, 32), DisableSignUp: true})
	require.NoError(t, err)
	noAccount, err := New(l.rp, Options{CurrentUser: func(*http.Request) ([]byte, bool) { return []byte("app-user"), true }})
	require.NoError(t, err)
	const js, site = "application/json", "https://example.com"
	for _, tc := range []struct {
		name   string
		h      *Handler
		r      *http.Request
		status int
		code   webauthnkit.Code
	}{
		{"no session", l.h, req(http.MethodGet, "credentials", "", site, nil), 401, CodeNotSignedIn},
		{"foreign origin", l.h, req(http.MethodPost, "login/begin", js, "https://evil.example", []byte(`{}`)), 403, CodeForbiddenOrigin},
		{"unknown endpoint", l.h, req(http.MethodGet, "nope", "", site, nil), 404, webauthnkit.CodeNotFound},
		{"passkey removal without a session", l.h, req(http.MethodDelete, "credentials/!!", js, site, []byte(`{}`)), 401, CodeNotSignedIn},
		{"wrong method", l.h, req(http.MethodGet, "login/begin", "", site, nil), 405, CodeMethodNotAllowed},
		{"body too large", l.h, req(http.MethodPost, "login/begin", js, site, bytes.Repeat([]byte{' '}, DefaultMaxBodyBytes+1)), 413, CodeRequestTooLarge},
		{"not JSON", l.h, req(http.MethodPost, "login/begin", "text/plain", site, []byte(`{}`)), 415, CodeUnsupportedMediaType},
		{"malformed JSON", l.h, req(http.MethodPost, "login/begin", js, site, []byte(`{"username":`)), 400, webauthnkit.CodeInvalidRequest},
		{"sign-up disabled", noSignUp, req(http.MethodPost, "registration/begin", js, site, []byte(`{"username":"bob"}`)), 403, CodeSignUpDisabled},
		{"signed in without an account, no AccountFor", noAccount, req(http.MethodPost, "registration/begin", js, site, []byte(`{}`)), 403, CodeNoAccount},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			tc.h.ServeHTTP(rec, tc.r)
			assert.Equal(t, tc.status, rec.Code)
			var body struct{ Error string }
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body))
			assert.Equal(t, string(tc.code), body.Error)
		})
	}
	t.Run("rate limited", func(t *testing.T) {
		var rec *httptest.ResponseRecorder
		for range 2 {
			rec = httptest.NewRecorder()
			limited.ServeHTTP(rec, req(http.MethodPost, "login/begin", js, site, []byte(`{}`)))
		}
		assert.Equal(t, http.StatusTooManyRequests, rec.Code)
		var body struct{ Error string }
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body))
		assert.Equal(t, string(CodeRateLimited), body.Error)
	})
}

// TestAccountErrorStatus pins the account-flow table of docs/errors.md:
// status, code and Retry-After of each account sentinel.
func TestAccountErrorStatus(t *testing.T) {
	for _, tc := range []struct {
		err        error
		status     int
		code       string
		retryAfter string
	}{
		{account.ErrInvalidCode, 400, "invalid_code", ""},
		{account.ErrInvalidArgument, 400, "invalid_argument", ""},
		{account.ErrNoEmail, 409, "no_email", ""},
		{&account.Error{Code: account.CodeTooManyAttempts, RetryAfter: 90 * time.Second}, 429, "too_many_attempts", "90"},
		{&account.Error{Code: account.CodeTooManyAttempts, RetryAfter: 1500 * time.Millisecond}, 429, "too_many_attempts", "2"},
		{account.ErrRateLimited, 429, "rate_limited", strconv.Itoa(RetryAfterSeconds)},
		{&account.Error{Code: account.CodeMailUnavailable, RetryAfter: time.Minute, Err: errors.New("dial")}, 503, "mail_unavailable", "60"},
		{fmt.Errorf("wrapped: %w", &account.Error{Code: account.CodeStore, Err: webauthnkit.ErrStoreUnavailable}), 503, "store", strconv.Itoa(RetryAfterSeconds)},
		{webauthnkit.ErrInvalidGrant, 400, "invalid_grant", ""},
	} {
		rec := httptest.NewRecorder()
		WriteError(rec, httptest.NewRequest(http.MethodPost, "/x", nil), tc.err)
		require.Equal(t, tc.status, rec.Code, "%v", tc.err)
		require.Contains(t, rec.Body.String(), `"error":"`+tc.code+`"`)
		require.Equal(t, tc.retryAfter, rec.Header().Get("Retry-After"), "%v", tc.err)
	}
}

package httpadapter_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/httpadapter"
	"github.com/webauthnkit/webauthnkit/memstore"
	"github.com/webauthnkit/webauthnkit/webauthntest"
)

const fuzzOrigin = "https://example.com"

// fuzzTarget is an in-process handler whose challenges are all the same, so
// that a recorded valid response passes the challenge check in every
// iteration and mutations reach signature verification.
type fuzzTarget struct {
	rp  *webauthnkit.RelyingParty
	h   http.Handler
	dev *webauthntest.Authenticator
}

func newFuzzTarget(t testing.TB) *fuzzTarget {
	store, err := memstore.New()
	require.NoError(t, err)
	t.Cleanup(func() { _ = store.Close() })
	challenge := bytes.Repeat([]byte{0x42}, 32)
	rp, err := webauthnkit.New(webauthnkit.Config{
		RPID:         "example.com",
		Origins:      []string{fuzzOrigin},
		Credentials:  store,
		Ceremonies:   store,
		NewChallenge: func() ([]byte, error) { return challenge, nil },
	})
	require.NoError(t, err)
	h, err := httpadapter.New(rp, httpadapter.Options{SessionSecret: testSecret})
	require.NoError(t, err)
	mux := http.NewServeMux()
	mux.Handle("/passkeys/", http.StripPrefix("/passkeys", h))
	// A synced passkey: its counter stays 0, so a replayed valid response
	// keeps verifying.
	return &fuzzTarget{rp: rp, h: mux, dev: webauthntest.New(webauthntest.SyncedPasskey())}
}

func (f *fuzzTarget) post(path string, body []byte, cookies ...*http.Cookie) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, fuzzOrigin+"/passkeys"+path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", fuzzOrigin)
	for _, c := range cookies {
		req.AddCookie(c)
	}
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, req)
	return w
}

// begin starts a ceremony through the handler and returns its cookie and
// options.
func (f *fuzzTarget) begin(t testing.TB, path string, body string) (*http.Cookie, json.RawMessage) {
	w := f.post(path, []byte(body))
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	var b struct{ PublicKey json.RawMessage }
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &b))
	return setCookies(w.Header())[httpadapter.CeremonyCookie], b.PublicKey
}

func checkAnswer(t *testing.T, w *httptest.ResponseRecorder, input []byte) {
	t.Helper()
	if w.Code >= 500 {
		t.Fatalf("status %d for input %q: %s", w.Code, input, w.Body.String())
	}
	if w.Code >= 400 {
		var e struct{ Error, Message string }
		if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Error == "" || e.Message == "" {
			t.Fatalf("status %d without a JSON error for input %q: %s", w.Code, input, w.Body.String())
		}
	}
}

func FuzzFinishLogin(f *testing.F) {
	ft := newFuzzTarget(f)
	cookie, opts := ft.begin(f, "/registration/begin", `{"username":"alice"}`)
	reg, err := ft.dev.Register(opts)
	require.NoError(f, err)
	w := ft.post("/registration/finish", reg, cookie)
	require.Equal(f, http.StatusOK, w.Code, w.Body.String())

	_, opts = ft.begin(f, "/login/begin", `{}`)
	valid, err := ft.dev.Login(opts)
	require.NoError(f, err)
	bad, err := ft.dev.Login(opts, webauthntest.BadSignature())
	require.NoError(f, err)
	noHandle, err := ft.dev.Login(opts, webauthntest.OmitUserHandle())
	require.NoError(f, err)

	// The fixed challenge makes the recorded response valid for any new
	// ceremony: the seed reaches the end of the login path.
	c, _ := ft.begin(f, "/login/begin", `{}`)
	w = ft.post("/login/finish", valid, c)
	require.Equal(f, http.StatusOK, w.Code, w.Body.String())

	f.Add(valid)
	f.Add(bad)
	f.Add(noHandle)
	f.Add(reg)
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"id":"AAAA","rawId":"AAAA","type":"public-key","response":{"clientDataJSON":"AAAA","authenticatorData":"AAAA","signature":"AAAA"}}`))
	f.Add([]byte(`[`))
	f.Add([]byte(``))
	for _, g := range garbage(reg, valid) {
		f.Add(g)
	}

	f.Fuzz(func(t *testing.T, body []byte) {
		cookie, _ := ft.begin(t, "/login/begin", `{}`)
		w := ft.post("/login/finish", body, cookie)
		checkAnswer(t, w, body)
		// A replay never succeeds.
		w = ft.post("/login/finish", body, cookie)
		if w.Code < 400 || w.Code >= 500 {
			t.Fatalf("replay answered %d", w.Code)
		}
	})
}

func FuzzBeginRegistration(f *testing.F) {
	ft := newFuzzTarget(f)
	cookie, opts := ft.begin(f, "/registration/begin", `{"username":"alice"}`)
	reg, err := ft.dev.Register(opts)
	require.NoError(f, err)
	w := ft.post("/registration/finish", reg, cookie)
	require.Equal(f, http.StatusOK, w.Code, w.Body.String())
	session := setCookies(w.Header())[httpadapter.SessionCookieSecure]
	require.NotNil(f, session)

	for _, s := range []string{
		`{"username":"bob"}`, `{"username":"alice"}`, `{}`, `{"name":"Laptop"}`,
		`{"username":"bob","displayName":"Bob","name":"Phone"}`, `{"username":""}`,
		`{"username":null}`, `{"displayName":"x"}`, `{"username":"` + "\u00e9\u0301" + `"}`,
		`{"username":"a\u0000"}`, `[]`, `"x"`, ``, `{"username":1}`, `{"x":1}`,
	} {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, body []byte, signedIn bool) {
		var cookies []*http.Cookie
		if signedIn {
			cookies = append(cookies, session)
		}
		w := ft.post("/registration/begin", body, cookies...)
		checkAnswer(t, w, body)
		if w.Code == http.StatusOK && !json.Valid(w.Body.Bytes()) {
			t.Fatalf("invalid JSON answer: %s", w.Body.String())
		}
		// The fuzzer never takes over alice's account.
		u, err := ft.rp.UserByHandle(context.Background(), mustHandle(t, ft, session))
		if err != nil || u.Name != "alice" {
			t.Fatalf("alice changed: %+v %v", u, err)
		}
	})
}

func mustHandle(t testing.TB, ft *fuzzTarget, session *http.Cookie) []byte {
	req := httptest.NewRequest(http.MethodGet, fuzzOrigin+"/passkeys/session", nil)
	req.AddCookie(session)
	w := httptest.NewRecorder()
	ft.h.ServeHTTP(w, req)
	var s struct{ User struct{ Handle string } }
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &s))
	return unb64(t, s.User.Handle)
}

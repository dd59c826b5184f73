package httpadapter_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/httpadapter"
	"github.com/webauthnkit/webauthnkit/webauthntest"
)

// The tests of this file play an existing app: its own session says who is
// signed in (header X-App-User: base64url user handle, the app's user ID),
// and who has passed its password check and owes a second factor
// (X-Pending).

var appUserHandle = []byte("app-user-42")

func headerHandle(name string) func(r *http.Request) ([]byte, bool) {
	return func(r *http.Request) ([]byte, bool) {
		v := r.Header.Get(name)
		if v == "" {
			return nil, false
		}
		b, err := base64.RawURLEncoding.DecodeString(v)
		return b, err == nil && len(b) > 0
	}
}

// appEnv is an env whose adapter trusts the app's session (CurrentUser)
// and creates library accounts for its users (AccountFor).
func appEnv(t *testing.T, more ...func(*envConfig)) *env {
	return newEnv(t, append([]func(*envConfig){func(c *envConfig) {
		c.noSession = true
		c.opts.CurrentUser = headerHandle("X-App-User")
		c.opts.PendingSecondFactor = headerHandle("X-Pending")
		c.opts.AccountFor = func(r *http.Request) (webauthnkit.NewUser, bool) {
			return webauthnkit.NewUser{Name: "alice@example.com", DisplayName: "Alice"}, true
		}
	}}, more...)...)
}

func TestSignedInWithoutPasskeyAddsFirstPasskeyLinked(t *testing.T) {
	e := appEnv(t)
	b := e.browser()
	require.Equal(t, http.StatusUnauthorized, b.call(http.MethodGet, "/session", nil).status, "signed out")
	require.Equal(t, http.StatusUnauthorized, b.call(http.MethodGet, "/credentials", nil).status)

	b.header.Set("X-App-User", base64.RawURLEncoding.EncodeToString(appUserHandle))
	r := b.call(http.MethodGet, "/session", nil)
	require.Equal(t, http.StatusOK, r.status, "signed in, no passkey yet: %s", r)
	require.Equal(t, float64(0), r.json["passkeys"])
	require.Equal(t, "alice@example.com", field(r.json, "user", "name"))
	r = b.call(http.MethodGet, "/credentials", nil)
	require.Equal(t, http.StatusOK, r.status, r.String())
	require.Empty(t, credentialIDs(r))
	_, err := e.rp.UserByHandle(context.Background(), appUserHandle)
	require.ErrorIs(t, err, webauthnkit.ErrUserNotFound, "reading creates nothing")

	// registration/begin {} creates the library account under the app's
	// handle before the passkey exists.
	begin := b.post("/registration/begin", map[string]any{})
	u, err := e.rp.UserByHandle(context.Background(), appUserHandle)
	require.NoError(t, err, "account created at begin: %s", begin)
	require.Equal(t, "alice@example.com", u.Name)
	resp, err := b.dev.Register(b.publicKey(begin))
	require.NoError(t, err)
	r = b.post("/registration/finish", resp)
	require.Equal(t, http.StatusOK, r.status, r.String())
	require.Equal(t, base64.RawURLEncoding.EncodeToString(appUserHandle), field(r.json, "user", "handle"))
	require.Equal(t, false, r.json["newUser"])
	r = b.call(http.MethodGet, "/session", nil)
	require.Equal(t, float64(1), r.json["passkeys"])

	// The passkey signs the app's user in, usernameless.
	b.header.Del("X-App-User")
	r = b.login(map[string]any{})
	require.Equal(t, http.StatusOK, r.status, r.String())
	require.Equal(t, base64.RawURLEncoding.EncodeToString(appUserHandle), field(r.json, "user", "handle"))
}

func TestSignedInWithoutAccountForCannotRegister(t *testing.T) {
	e := appEnv(t, func(c *envConfig) { c.opts.AccountFor = nil })
	b := e.browser()
	b.header.Set("X-App-User", base64.RawURLEncoding.EncodeToString(appUserHandle))
	require.Equal(t, http.StatusOK, b.call(http.MethodGet, "/credentials", nil).status)
	r := b.post("/registration/begin", map[string]any{})
	require.Equal(t, http.StatusForbidden, r.status, r.String())
	require.Equal(t, "no_account", r.code())
	require.Nil(t, setCookies(r.header)[httpadapter.CeremonyCookie], "no ceremony began")
}

func TestAccountForWithAnotherHandleIsRefused(t *testing.T) {
	e := appEnv(t, func(c *envConfig) {
		c.opts.AccountFor = func(r *http.Request) (webauthnkit.NewUser, bool) {
			return webauthnkit.NewUser{Handle: []byte("someone-else"), Name: "mallory"}, true
		}
	})
	b := e.browser()
	b.header.Set("X-App-User", base64.RawURLEncoding.EncodeToString(appUserHandle))
	r := b.post("/registration/begin", map[string]any{})
	require.Equal(t, http.StatusInternalServerError, r.status, r.String())
	_, err := e.rp.UserByHandle(context.Background(), []byte("someone-else"))
	require.ErrorIs(t, err, webauthnkit.ErrUserNotFound)
}

func TestSignUpDisabled(t *testing.T) {
	e := appEnv(t, func(c *envConfig) { c.opts.DisableSignUp = true })
	b := e.browser()
	r := b.post("/registration/begin", map[string]any{"username": "bob"})
	require.Equal(t, http.StatusForbidden, r.status, r.String())
	require.Equal(t, "signup_disabled", r.code())
	require.Nil(t, setCookies(r.header)[httpadapter.CeremonyCookie])
	// A signed-in app user still adds a passkey.
	b.header.Set("X-App-User", base64.RawURLEncoding.EncodeToString(appUserHandle))
	r = b.post("/registration/finish", b.registerResponse(map[string]any{}))
	require.Equal(t, http.StatusOK, r.status, r.String())
}

func TestRemoveLastPasskeyAllowedByPolicy(t *testing.T) {
	withPassword := map[string]bool{"alice": true}
	e := newEnv(t, func(c *envConfig) {
		c.opts.AllowRemoveLast = func(r *http.Request, u webauthnkit.User) bool { return withPassword[u.Name] }
	})
	bob := e.browser()
	id := field(bob.mustSignUp("bob").json, "credential", "id").(string)
	r := bob.call(http.MethodDelete, "/credentials/"+id, map[string]any{})
	require.Equal(t, http.StatusConflict, r.status, "no password: the last passkey stays: %s", r)
	require.Equal(t, "last_credential", r.code())

	alice := e.browser()
	id = field(alice.mustSignUp("alice").json, "credential", "id").(string)
	r = alice.call(http.MethodDelete, "/credentials/"+id, map[string]any{})
	require.Equal(t, http.StatusOK, r.status, r.String())
	require.Empty(t, credentialIDs(r))
	r = alice.call(http.MethodGet, "/session", nil)
	require.Equal(t, http.StatusOK, r.status, "still signed in: %s", r)
	require.Equal(t, float64(0), r.json["passkeys"])
}

func TestHookRefusesWithTyped4xx(t *testing.T) {
	var refuseLogin, refuseRegister error
	e := newEnv(t, func(c *envConfig) {
		c.opts.OnLogin = func(w http.ResponseWriter, r *http.Request, l *webauthnkit.Login) error { return refuseLogin }
		c.opts.OnRegister = func(w http.ResponseWriter, r *http.Request, reg *webauthnkit.Registration) error {
			return refuseRegister
		}
	})
	b := e.browser()
	b.mustSignUp("alice")
	require.Equal(t, http.StatusNoContent, b.post("/logout", nil).status)

	refuseLogin = httpadapter.Refuse(http.StatusForbidden, "account_locked", "this account is locked")
	r := b.login(map[string]any{})
	require.Equal(t, http.StatusForbidden, r.status, r.String())
	require.Equal(t, "account_locked", r.code())
	require.Equal(t, "this account is locked", r.json["message"])
	require.NotContains(t, setCookies(r.header), httpadapter.SessionCookieInsecure, "session cookie withdrawn")
	require.Equal(t, http.StatusUnauthorized, b.call(http.MethodGet, "/session", nil).status)

	// A refusal with a non-4xx status is an ordinary error: 500.
	refuseLogin = httpadapter.Refuse(http.StatusOK, "fine", "")
	require.Equal(t, http.StatusInternalServerError, b.login(map[string]any{}).status)
	refuseLogin = nil

	// A refused sign-up is undone: the name is free again, and the client
	// is told to forget the passkey.
	refuseRegister = httpadapter.Refuse(http.StatusForbidden, "invite_only", "ask for an invitation")
	nb := e.browser()
	r = nb.signUp("carol")
	require.Equal(t, http.StatusForbidden, r.status, r.String())
	require.Equal(t, "invite_only", r.code())
	require.NotEmpty(t, field(r.json, "signal", "unknownCredential", "credentialId"))
	require.NotContains(t, setCookies(r.header), httpadapter.SessionCookieInsecure)
	refuseRegister = nil
	nb2 := e.browser()
	nb2.mustSignUp("carol")

	// A refused added passkey is removed again.
	require.Equal(t, http.StatusOK, b.login(map[string]any{}).status)
	refuseRegister = httpadapter.Refuse(http.StatusConflict, "too_many_passkeys", "remove one first")
	b.dev = webauthntest.New(webauthntest.WithOrigin(e.origin))
	r = b.post("/registration/finish", b.registerResponse(map[string]any{}))
	require.Equal(t, http.StatusConflict, r.status, r.String())
	require.Equal(t, "too_many_passkeys", r.code())
	require.Equal(t, http.StatusOK, b.call(http.MethodGet, "/session", nil).status, "the browser that was refused stays signed in")
	require.Len(t, credentialIDs(b.call(http.MethodGet, "/credentials", nil)), 1, "the refused passkey is gone")
	u, err := e.rp.UserByHandle(context.Background(), unb64(t, field(nb2.call(http.MethodGet, "/session", nil).json, "user", "handle").(string)))
	require.NoError(t, err)
	require.Equal(t, "carol", u.Name)
}

func TestRefuseRejectsBadArguments(t *testing.T) {
	for _, tc := range []struct {
		status int
		code   string
	}{{200, "ok"}, {500, "boom"}, {403, ""}, {403, "Bad Code"}, {403, "<script>"}} {
		err := httpadapter.Refuse(tc.status, tc.code, "m")
		require.Error(t, err)
		require.Contains(t, err.Error(), "httpadapter: Refuse")
	}
}

func TestSecondFactorLoginReturnsFactors(t *testing.T) {
	e := appEnv(t)
	handle := base64.RawURLEncoding.EncodeToString(appUserHandle)
	b := e.browser(webauthntest.SecurityKey(), webauthntest.WithUserVerification(false))
	b.header.Set("X-App-User", handle)
	r := b.post("/registration/finish", b.registerResponse(map[string]any{"secondFactor": true}))
	require.Equal(t, http.StatusOK, r.status, r.String())
	require.Equal(t, true, field(r.json, "credential", "secondFactorOnly"))
	b.header.Del("X-App-User")
	keyID := field(r.json, "credential", "id").(string)
	// Never a sign-in on its own: a username-first login does not list it.
	_, err := b.dev.Login(b.publicKey(b.post("/login/begin", map[string]any{"username": "alice@example.com"})))
	require.ErrorIs(t, err, webauthntest.ErrNotAllowed)

	// Without a pending first factor: 401.
	r = b.post("/login/begin", map[string]any{"secondFactor": true})
	require.Equal(t, http.StatusUnauthorized, r.status, r.String())
	require.Equal(t, "not_signed_in", r.code())
	r = b.post("/login/begin", map[string]any{"secondFactor": true, "username": "x"})
	require.Equal(t, http.StatusBadRequest, r.status, r.String())

	b.header.Set("X-Pending", handle)
	begin := b.post("/login/begin", map[string]any{"secondFactor": true})
	var opts struct {
		AllowCredentials []map[string]any `json:"allowCredentials"`
	}
	require.NoError(t, json.Unmarshal(b.publicKey(begin), &opts))
	require.Len(t, opts.AllowCredentials, 1, "bound to the pending user's keys")
	require.Equal(t, keyID, opts.AllowCredentials[0]["id"])
	resp, err := b.dev.Login(b.publicKey(begin))
	require.NoError(t, err)
	r = b.post("/login/finish", resp)
	require.Equal(t, http.StatusOK, r.status, r.String())
	require.Equal(t, float64(1), r.json["factors"], "a key without user verification is one factor")
	require.Equal(t, false, r.json["userVerified"])

	// Another user's passkey does not answer a login bound to this one.
	other := e.browser()
	other.mustSignUp("mallory")
	other.header.Set("X-Pending", handle)
	var pk map[string]any
	require.NoError(t, json.Unmarshal(other.publicKey(other.post("/login/begin", map[string]any{"secondFactor": true})), &pk))
	delete(pk, "allowCredentials") // a hostile client answers with its own passkey
	stripped, err := json.Marshal(pk)
	require.NoError(t, err)
	resp, err = other.dev.Login(stripped)
	require.NoError(t, err)
	r = other.post("/login/finish", resp)
	require.Equal(t, http.StatusUnauthorized, r.status, r.String())
	require.Equal(t, "unknown_credential", r.code())
}

func TestSecondFactorUserVerifiedIsTwoFactors(t *testing.T) {
	e := appEnv(t, func(c *envConfig) { c.opts.SecondFactorUserVerification = webauthnkit.UserVerificationRequired })
	handle := base64.RawURLEncoding.EncodeToString(appUserHandle)
	b := e.browser()
	b.header.Set("X-App-User", handle)
	require.Equal(t, http.StatusOK, b.post("/registration/finish", b.registerResponse(map[string]any{})).status)
	b.header.Del("X-App-User")
	b.header.Set("X-Pending", handle)
	begin := b.post("/login/begin", map[string]any{"secondFactor": true})
	require.Contains(t, string(b.publicKey(begin)), `"userVerification":"required"`, "Options.SecondFactorUserVerification")
	resp, err := b.dev.Login(b.publicKey(begin))
	require.NoError(t, err)
	r := b.post("/login/finish", resp)
	require.Equal(t, http.StatusOK, r.status, r.String())
	require.Equal(t, float64(2), r.json["factors"])
}

func TestUpdateUserSignalsDetails(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	handle := field(b.mustSignUp("alice").json, "user", "handle").(string)
	e.browser().mustSignUp("bob")

	r := b.call(http.MethodPatch, "/user", map[string]any{"name": "alice.new@example.com", "displayName": "Alice New"})
	require.Equal(t, http.StatusOK, r.status, r.String())
	require.Equal(t, "alice.new@example.com", field(r.json, "user", "name"))
	require.Equal(t, map[string]any{
		"rpId": "localhost", "userId": handle, "name": "alice.new@example.com", "displayName": "Alice New",
	}, field(r.json, "signal", "currentUserDetails"))

	r = b.call(http.MethodPatch, "/user", map[string]any{"name": "bob"})
	require.Equal(t, http.StatusConflict, r.status, r.String())
	require.Equal(t, "username_taken", r.code())
	require.Equal(t, http.StatusBadRequest, b.call(http.MethodPatch, "/user", map[string]any{}).status)
	require.Equal(t, http.StatusBadRequest, b.call(http.MethodPatch, "/user", map[string]any{"name": nil}).status)
	require.Equal(t, http.StatusMethodNotAllowed, b.post("/user", map[string]any{"name": "x"}).status)
	require.Equal(t, http.StatusUnauthorized, e.browser().call(http.MethodPatch, "/user", map[string]any{"name": "x"}).status)

	// The new name signs in; the old one is free.
	require.Equal(t, http.StatusNoContent, b.post("/logout", nil).status)
	r = b.login(map[string]any{"username": "alice.new@example.com"})
	require.Equal(t, http.StatusOK, r.status, r.String())
	e.browser().mustSignUp("alice")
}

func TestConditionalRegistrationAcceptsNoUserPresence(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	b.mustSignUp("alice")

	// Only a conditional ceremony accepts UP=false.
	b.dev = webauthntest.New(webauthntest.WithOrigin(e.origin))
	r := b.post("/registration/finish", b.registerResponse(map[string]any{}, webauthntest.WithoutUserPresence()))
	require.Equal(t, http.StatusUnauthorized, r.status, r.String())
	require.Equal(t, "invalid_response", r.code())

	begin := b.post("/registration/begin", map[string]any{"conditional": true})
	require.Equal(t, "conditional", begin.json["mediation"])
	resp, err := b.dev.Register(b.publicKey(begin), webauthntest.WithoutUserPresence(), webauthntest.WithoutUserVerification())
	require.NoError(t, err)
	r = b.post("/registration/finish", resp)
	require.Equal(t, http.StatusOK, r.status, r.String())
	require.Len(t, credentialIDs(b.call(http.MethodGet, "/credentials", nil)), 2)

	// Not for a sign-up, nor signed out.
	r = e.browser().post("/registration/begin", map[string]any{"username": "bob", "conditional": true})
	require.Equal(t, http.StatusBadRequest, r.status, r.String())
	r = e.browser().post("/registration/begin", map[string]any{"conditional": true})
	require.Equal(t, http.StatusUnauthorized, r.status, r.String())
}

func TestBuildingBlocksForOwnEndpoints(t *testing.T) {
	var h *httpadapter.Handler
	e := newEnv(t, func(c *envConfig) {
		c.mount = func(mux *http.ServeMux, hh *httpadapter.Handler) {
			h = hh
			mux.Handle("/passkeys/", http.StripPrefix("/passkeys", hh))
			mux.Handle("PATCH /acct/user", hh.UpdateUser())
			same := httpadapter.SameOrigin(hh.RelyingParty().Origins()...)
			mux.Handle("POST /own/login/begin", same(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, err := hh.RelyingParty().BeginLogin(r.Context(), webauthnkit.LoginRequest{})
				if err != nil {
					httpadapter.WriteError(w, r, err)
					return
				}
				hh.SetCeremony(w, r, b)
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(`{"publicKey":` + string(b.Options) + `}`))
			})))
			mux.Handle("POST /own/login/finish", hh.CheckOrigin(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<10))
				l, err := hh.RelyingParty().FinishLogin(r.Context(), hh.TakeCeremony(w, r), body)
				if err != nil {
					httpadapter.WriteError(w, r, err)
					return
				}
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(`{"name":"` + l.User.Name + `"}`))
			})))
		}
	})
	require.NotNil(t, h)
	b := e.browser()
	b.mustSignUp("alice")
	b.base = e.srv.URL + "/own"

	r := b.raw(http.MethodPost, b.base+"/login/begin", []byte("{}"), map[string]string{"Origin": "https://evil.example"})
	require.Equal(t, http.StatusForbidden, r.status, r.String())
	require.Equal(t, "forbidden_origin", r.code())
	r = b.raw(http.MethodPost, b.base+"/login/finish", []byte("{}"), map[string]string{"Origin": "-", "Sec-Fetch-Site": "cross-site"})
	require.Equal(t, http.StatusForbidden, r.status, r.String())

	begin := b.post("/login/begin", map[string]any{})
	require.Equal(t, "/own/login", setCookies(begin.header)[httpadapter.CeremonyCookie].Path)
	resp, err := b.dev.Login(b.publicKey(begin))
	require.NoError(t, err)
	r = b.post("/login/finish", resp)
	require.Equal(t, http.StatusOK, r.status, r.String())
	require.Equal(t, "alice", r.json["name"])
	// The per-endpoint PATCH user handler.
	r = b.raw(http.MethodPatch, e.srv.URL+"/acct/user", []byte(`{"displayName":"Alice A."}`), map[string]string{"Content-Type": "application/json"})
	require.Equal(t, http.StatusOK, r.status, r.String())
	require.Equal(t, "Alice A.", field(r.json, "user", "displayName"))
	// The ceremony is gone: a replay is a typed 401 from WriteError.
	r = b.post("/login/finish", resp)
	require.Equal(t, http.StatusUnauthorized, r.status, r.String())
	require.Equal(t, "ceremony_not_found", r.code())
}

// An app that owns its users (CurrentUser) changes the library's name
// itself: PATCH user is refused unless the app opts in, so a user cannot
// take another person's email as their passkey name.
func TestUpdateUserRefusedWhenTheAppOwnsUsers(t *testing.T) {
	handle := base64.RawURLEncoding.EncodeToString(appUserHandle)
	for _, tc := range []struct {
		name  string
		allow *bool
		want  int
	}{
		{"default", nil, http.StatusNotFound},
		{"opted_in", ptr(true), http.StatusOK},
		{"opted_out", ptr(false), http.StatusNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := appEnv(t, func(c *envConfig) { c.opts.AllowUserUpdate = tc.allow })
			b := e.browser()
			b.header.Set("X-App-User", handle)
			require.Equal(t, http.StatusOK, b.post("/registration/finish", b.registerResponse(map[string]any{})).status)
			r := b.call(http.MethodPatch, "/user", map[string]any{"name": "someone.else@example.com"})
			require.Equal(t, tc.want, r.status, r.String())
			u, err := e.rp.UserByHandle(context.Background(), appUserHandle)
			require.NoError(t, err)
			if tc.want == http.StatusOK {
				require.Equal(t, "someone.else@example.com", u.Name)
			} else {
				require.Equal(t, "alice@example.com", u.Name, "nothing changed")
			}
		})
	}
	// With the built-in session (library-owned users) it stays allowed.
	e := newEnv(t, func(c *envConfig) { c.opts.AllowUserUpdate = ptr(false) })
	b := e.browser()
	b.mustSignUp("carol")
	require.Equal(t, http.StatusNotFound, b.call(http.MethodPatch, "/user", map[string]any{"name": "carol2"}).status, "explicitly off")
}

// A second-factor key is enrolled with Options.SecondFactorUserVerification,
// so a PIN-less security key can be added where Config requires UV.
func TestSecondFactorRegistrationFollowsItsUserVerification(t *testing.T) {
	e := appEnv(t, func(c *envConfig) {
		c.rpCfg = func(cfg *webauthnkit.Config) { cfg.UserVerification = webauthnkit.UserVerificationRequired }
		c.opts.SecondFactorUserVerification = webauthnkit.UserVerificationDiscouraged
	})
	b := e.browser(webauthntest.SecurityKey(), webauthntest.WithUserVerification(false))
	b.header.Set("X-App-User", base64.RawURLEncoding.EncodeToString(appUserHandle))
	r := b.post("/registration/finish", b.registerResponse(map[string]any{"secondFactor": true}))
	require.Equal(t, http.StatusOK, r.status, "a PIN-less key enrolls as a second factor: %s", r)
	// A first-factor passkey still asks for UV (the PIN-less key refuses it,
	// as a browser would).
	begin := b.post("/registration/begin", map[string]any{})
	require.Contains(t, string(b.publicKey(begin)), `"userVerification":"required"`)
	_, err := b.dev.Register(b.publicKey(begin))
	require.ErrorIs(t, err, webauthntest.ErrNotAllowed)
}

func ptr[T any](v T) *T { return &v }

package httpadapter_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/httpadapter"
	"github.com/webauthnkit/webauthnkit/internal/storewrap"
	"github.com/webauthnkit/webauthnkit/webauthntest"
)

func TestNewValidatesOptions(t *testing.T) {
	e := newEnv(t)
	_, err := httpadapter.New(nil, httpadapter.Options{SessionSecret: testSecret})
	require.Error(t, err)

	_, err = httpadapter.New(e.rp, httpadapter.Options{})
	require.ErrorContains(t, err, "SessionSecret must be at least 32 bytes")

	_, err = httpadapter.New(e.rp, httpadapter.Options{SessionSecret: []byte("short")})
	require.ErrorContains(t, err, "SessionSecret")

	current := func(*http.Request) ([]byte, bool) { return nil, false }
	_, err = httpadapter.New(e.rp, httpadapter.Options{CurrentUser: current})
	require.NoError(t, err, "CurrentUser needs no secret")

	_, err = httpadapter.New(e.rp, httpadapter.Options{CurrentUser: current, SessionSecret: []byte("short")})
	require.Error(t, err, "a short secret is refused even when unused")

	_, err = httpadapter.New(e.rp, httpadapter.Options{SessionSecret: testSecret, SessionTTL: -1})
	require.Error(t, err)
	_, err = httpadapter.New(e.rp, httpadapter.Options{SessionSecret: testSecret, MaxBodyBytes: -1})
	require.Error(t, err)

	for _, bad := range []string{"http://example.com", "example.com", "https://example.com/path", "https://", "ftp://example.com", "https://u:p@example.com"} {
		_, err = httpadapter.New(e.rp, httpadapter.Options{SessionSecret: testSecret, RelatedOrigins: []string{bad}})
		require.Error(t, err, bad)
	}
	// An origin the RelyingParty does not accept would be served for
	// ceremonies that then fail: refused.
	_, err = httpadapter.New(e.rp, httpadapter.Options{SessionSecret: testSecret, RelatedOrigins: []string{"https://example.co.uk"}})
	require.ErrorContains(t, err, "Config.RelatedOrigins")
	_, err = httpadapter.New(e.rp, httpadapter.Options{SessionSecret: testSecret, RelatedOrigins: []string{e.origin}})
	require.NoError(t, err, "one of the RelyingParty's own origins")
	rel := newEnv(t, func(c *envConfig) {
		c.rpCfg = func(cfg *webauthnkit.Config) { cfg.RelatedOrigins = []string{"https://example.co.uk"} }
	})
	_, err = httpadapter.New(rel.rp, httpadapter.Options{SessionSecret: testSecret, RelatedOrigins: []string{"https://EXAMPLE.co.uk:443"}})
	require.NoError(t, err)
}

func TestFullFlow(t *testing.T) {
	e := newEnv(t)
	b := e.browser()

	// Signed out.
	r := b.call(http.MethodGet, "/session", nil)
	require.Equal(t, http.StatusUnauthorized, r.status)
	require.Equal(t, "not_signed_in", r.code())

	// Sign-up: options, ceremony cookie, then the finish signs the user in.
	begin := b.post("/registration/begin", map[string]string{"username": "Alice", "displayName": "Alice A."})
	require.Equal(t, http.StatusOK, begin.status, begin.String())
	require.Nil(t, field(begin.json, "mediation"))
	require.Equal(t, "alice", field(begin.json, "publicKey", "user", "name"))
	require.Equal(t, "localhost", field(begin.json, "publicKey", "rp", "id"))
	require.NotNil(t, b.cookie(httpadapter.CeremonyCookie))
	resp, err := b.dev.Register(b.publicKey(begin))
	require.NoError(t, err)
	r = b.post("/registration/finish", resp)
	require.Equal(t, http.StatusOK, r.status, r.String())
	assert.Equal(t, true, r.json["newUser"])
	assert.Equal(t, "alice", field(r.json, "user", "name"))
	assert.Equal(t, "Alice A.", field(r.json, "user", "displayName"))
	handle := field(r.json, "user", "handle").(string)
	firstID := field(r.json, "credential", "id").(string)
	assert.NotContains(t, string(r.body), "publicKey", "the public key is never sent")
	assert.Nil(t, field(r.json, "credential", "lastUsedAt"), "never used yet")
	assert.Equal(t, "00000000-0000-0000-0000-000000000000", field(r.json, "credential", "aaguid"))
	assert.Nil(t, b.cookie(httpadapter.CeremonyCookie), "finish clears the ceremony cookie")
	require.NotNil(t, b.cookie(httpadapter.SessionCookieInsecure), "sign-up signs in")

	r = b.call(http.MethodGet, "/session", nil)
	require.Equal(t, http.StatusOK, r.status, r.String())
	require.Equal(t, "alice", field(r.json, "user", "name"))
	require.Equal(t, handle, field(r.json, "user", "handle"))

	// The app's middleware sees the user.
	r = b.raw(http.MethodGet, e.srv.URL+"/me", nil, nil)
	require.Equal(t, "hello alice", string(r.body))

	// Add a second passkey (another device in the same browser session).
	e.clock.Advance(time.Minute)
	b2 := *b
	b2.dev = webauthntest.New(webauthntest.WithOrigin(e.origin), webauthntest.SecurityKey())
	r = b2.post("/registration/finish", b2.registerResponse(map[string]string{"name": "Yubikey"}))
	require.Equal(t, http.StatusOK, r.status, r.String())
	assert.Equal(t, false, r.json["newUser"])
	assert.Equal(t, handle, field(r.json, "user", "handle"))
	assert.Equal(t, "Yubikey", field(r.json, "credential", "name"))
	assert.Equal(t, "cross-platform", field(r.json, "credential", "attachment"))
	secondID := field(r.json, "credential", "id").(string)

	r = b.call(http.MethodGet, "/credentials", nil)
	require.Equal(t, http.StatusOK, r.status, r.String())
	assert.Equal(t, "localhost", r.json["rpId"])
	assert.Equal(t, handle, r.json["userHandle"])
	assert.Equal(t, "alice", field(r.json, "user", "name"))
	assert.Equal(t, []string{firstID, secondID}, credentialIDs(r))

	// Logout, then the session is gone.
	r = b.post("/logout", map[string]any{})
	require.Equal(t, http.StatusNoContent, r.status)
	require.Nil(t, b.cookie(httpadapter.SessionCookieInsecure))
	require.Equal(t, http.StatusUnauthorized, b.call(http.MethodGet, "/session", nil).status)
	require.Equal(t, http.StatusUnauthorized, b.call(http.MethodGet, "/credentials", nil).status)

	// Username-first login.
	r = b.login(map[string]string{"username": " ALICE "})
	require.Equal(t, http.StatusOK, r.status, r.String())
	assert.Equal(t, "alice", field(r.json, "user", "name"))
	assert.Equal(t, firstID, field(r.json, "credential", "id"))
	assert.Equal(t, true, r.json["userVerified"])
	assert.Equal(t, false, r.json["backedUp"])
	assert.NotNil(t, field(r.json, "credential", "lastUsedAt"))
	require.Equal(t, http.StatusOK, b.call(http.MethodGet, "/session", nil).status)

	// Usernameless login with the other device, from a fresh browser.
	fresh := e.browser()
	fresh.dev = b2.dev
	r = fresh.login(map[string]any{})
	require.Equal(t, http.StatusOK, r.status, r.String())
	assert.Equal(t, secondID, field(r.json, "credential", "id"))
	require.Equal(t, http.StatusOK, fresh.call(http.MethodGet, "/session", nil).status)

	// Autofill begin.
	r = fresh.post("/login/begin", map[string]any{"conditional": true})
	require.Equal(t, http.StatusOK, r.status)
	assert.Equal(t, "conditional", r.json["mediation"])

	// Rename, then revoke.
	r = b.call(http.MethodPatch, "/credentials/"+secondID, map[string]string{"name": "  Blue key  "})
	require.Equal(t, http.StatusOK, r.status, r.String())
	for _, c := range r.json["credentials"].([]any) {
		if c := c.(map[string]any); c["id"] == secondID {
			assert.Equal(t, "Blue key", c["name"])
		}
	}

	r = b.call(http.MethodDelete, "/credentials/"+secondID, nil)
	require.Equal(t, http.StatusUnsupportedMediaType, r.status, "DELETE is JSON-checked too")
	r = b.call(http.MethodDelete, "/credentials/"+secondID, map[string]any{})
	require.Equal(t, http.StatusOK, r.status, r.String())
	assert.Equal(t, []string{firstID}, credentialIDs(r))

	// The last passkey cannot be revoked.
	r = b.call(http.MethodDelete, "/credentials/"+firstID, map[string]any{})
	require.Equal(t, http.StatusConflict, r.status)
	assert.Equal(t, "last_credential", r.code())

	// The revoked passkey no longer signs in, and the browser is told so.
	fresh2 := e.browser()
	fresh2.dev = b2.dev
	r = fresh2.login(map[string]any{})
	require.Equal(t, http.StatusUnauthorized, r.status)
	require.Equal(t, "unknown_credential", r.code())
	assert.Equal(t, "localhost", field(r.json, "signal", "unknownCredential", "rpId"))
	assert.Equal(t, secondID, field(r.json, "signal", "unknownCredential", "credentialId"))
	assert.Nil(t, fresh2.cookie(httpadapter.SessionCookieInsecure))
}

func TestReplayedFinishFails(t *testing.T) {
	e := newEnv(t)
	b := e.browser()

	// Registration: replay with the cookie put back, and without it.
	begin := b.post("/registration/begin", map[string]string{"username": "alice"})
	ceremony := b.cookie(httpadapter.CeremonyCookie)
	require.NotNil(t, ceremony)
	resp, err := b.dev.Register(b.publicKey(begin))
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, b.post("/registration/finish", resp).status)

	b.setCookie(httpadapter.CeremonyCookie, ceremony.Value, "/passkeys")
	r := b.post("/registration/finish", resp)
	require.Equal(t, http.StatusUnauthorized, r.status, r.String())
	require.Equal(t, "ceremony_not_found", r.code())
	r = b.post("/registration/finish", resp)
	require.Equal(t, http.StatusUnauthorized, r.status, r.String())
	require.Equal(t, "ceremony_not_found", r.code())

	// Another browser replaying the response gets nothing either.
	other := e.browser()
	other.setCookie(httpadapter.CeremonyCookie, ceremony.Value, "/passkeys")
	require.Equal(t, http.StatusUnauthorized, other.post("/registration/finish", resp).status)

	creds, err := e.store.ListCredentials(context.Background(), unb64(t, b.cookieUser()))
	require.NoError(t, err)
	require.Len(t, creds, 1)

	// Login: same.
	begin = b.post("/login/begin", map[string]any{})
	ceremony = b.cookie(httpadapter.CeremonyCookie)
	resp, err = b.dev.Login(b.publicKey(begin))
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, b.post("/login/finish", resp).status)
	b.setCookie(httpadapter.CeremonyCookie, ceremony.Value, "/passkeys")
	r = b.post("/login/finish", resp)
	require.Equal(t, http.StatusUnauthorized, r.status)
	require.Equal(t, "ceremony_not_found", r.code())
	r = b.post("/login/finish", resp)
	require.Equal(t, http.StatusUnauthorized, r.status)
	require.Equal(t, "ceremony_not_found", r.code())

	// A registration ceremony cannot finish a login: the later begin
	// replaced the cookie.
	resp, err = b.dev.Login(b.publicKey(b.post("/login/begin", map[string]any{})))
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, b.post("/registration/begin", map[string]any{"name": "y"}).status)
	r = b.post("/login/finish", resp)
	require.Equal(t, http.StatusUnauthorized, r.status)
	require.Equal(t, "wrong_ceremony", r.code())
}

// cookieUser returns the user handle the browser is signed in as.
func (b *browser) cookieUser() string {
	b.t.Helper()
	r := b.call(http.MethodGet, "/session", nil)
	require.Equal(b.t, http.StatusOK, r.status, r.String())
	return field(r.json, "user", "handle").(string)
}

func TestSignUpWithExistingName(t *testing.T) {
	e := newEnv(t)
	alice := e.browser()
	alice.mustSignUp("alice")
	aliceHandle := unb64(t, alice.cookieUser())
	before, err := e.store.ListCredentials(context.Background(), aliceHandle)
	require.NoError(t, err)

	// Mallory, signed in to her own account, tries to sign up as alice, in
	// several spellings, with a fresh device.
	mallory := e.browser()
	mallory.mustSignUp("mallory")
	for _, name := range []string{"alice", "ALICE", " alice ", "Ａｌｉｃｅ"} {
		r := mallory.post("/registration/begin", map[string]string{"username": name})
		require.Equal(t, http.StatusConflict, r.status, "%q: %s", name, r)
		require.Equal(t, "username_taken", r.code())
		require.Nil(t, mallory.cookie(httpadapter.CeremonyCookie))
	}
	// A name taken between begin and finish also fails, without touching
	// the account.
	anon := e.browser()
	resp := anon.registerResponse(map[string]string{"username": "bob"})
	bob := e.browser()
	bob.mustSignUp("bob")
	bobHandle := unb64(t, bob.cookieUser())
	r := anon.post("/registration/finish", resp)
	require.Equal(t, http.StatusConflict, r.status, r.String())
	require.Equal(t, "username_taken", r.code())
	require.Nil(t, anon.cookie(httpadapter.SessionCookieInsecure))

	after, err := e.store.ListCredentials(context.Background(), aliceHandle)
	require.NoError(t, err)
	require.Equal(t, before, after, "alice's account is unchanged")
	bobCreds, err := e.store.ListCredentials(context.Background(), bobHandle)
	require.NoError(t, err)
	require.Len(t, bobCreds, 1)
	require.Equal(t, mallory.cookieUser() != alice.cookieUser(), true)
}

func TestAddPasskeyNeedsSession(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	for _, body := range []any{map[string]any{}, map[string]any{"name": "Laptop"}} {
		r := b.post("/registration/begin", body)
		require.Equal(t, http.StatusUnauthorized, r.status, r.String())
		require.Equal(t, "not_signed_in", r.code())
	}
	// displayName alone is not a sign-up.
	r := b.post("/registration/begin", map[string]any{"displayName": "Alice"})
	require.Equal(t, http.StatusBadRequest, r.status)
	// username: null is refused rather than read as "add a passkey".
	r = b.post("/registration/begin", `{"username": null}`)
	require.Equal(t, http.StatusBadRequest, r.status)

	// Signed in: the passkey goes to the signed-in account only.
	alice := e.browser()
	alice.mustSignUp("alice")
	bob := e.browser()
	bob.mustSignUp("bob")
	bob.dev = webauthntest.New(webauthntest.WithOrigin(e.origin)) // a second device
	r = bob.post("/registration/finish", bob.registerResponse(map[string]any{}))
	require.Equal(t, http.StatusOK, r.status, r.String())
	require.Equal(t, "bob", field(r.json, "user", "name"))
	ctx := context.Background()
	aliceCreds, _ := e.store.ListCredentials(ctx, unb64(t, alice.cookieUser()))
	bobCreds, _ := e.store.ListCredentials(ctx, unb64(t, bob.cookieUser()))
	require.Len(t, aliceCreds, 1)
	require.Len(t, bobCreds, 2)
}

func TestOtherUsersCredential(t *testing.T) {
	e := newEnv(t)
	alice := e.browser()
	aliceID := field(alice.mustSignUp("alice").json, "credential", "id").(string)
	bob := e.browser()
	bob.mustSignUp("bob")
	bob.dev = webauthntest.New(webauthntest.WithOrigin(e.origin))
	require.Equal(t, http.StatusOK, bob.post("/registration/finish", bob.registerResponse(map[string]any{})).status) // bob has two

	r := bob.call(http.MethodPatch, "/credentials/"+aliceID, map[string]string{"name": "mine now"})
	require.Equal(t, http.StatusNotFound, r.status, r.String())
	require.Equal(t, "not_found", r.code())
	r = bob.call(http.MethodDelete, "/credentials/"+aliceID, map[string]any{})
	require.Equal(t, http.StatusNotFound, r.status, r.String())

	// Malformed and unknown IDs are 404 too.
	for _, id := range []string{"not*base64", "AAAA", strings.Repeat("A", 2000), "%00"} {
		r = bob.call(http.MethodPatch, "/credentials/"+id, map[string]string{"name": "x"})
		require.Equal(t, http.StatusNotFound, r.status, "%q: %s", id, r)
	}

	cred, err := e.store.GetCredential(context.Background(), unb64(t, aliceID))
	require.NoError(t, err)
	require.NotEqual(t, "mine now", cred.Name)

	// Signed out: 401 before anything else.
	anon := e.browser()
	require.Equal(t, http.StatusUnauthorized, anon.call(http.MethodPatch, "/credentials/"+aliceID, map[string]string{"name": "x"}).status)
	require.Equal(t, http.StatusUnauthorized, anon.call(http.MethodDelete, "/credentials/"+aliceID, map[string]any{}).status)
}

func TestVerificationFailures(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	b.mustSignUp("alice")

	cases := []struct {
		name string
		opt  webauthntest.CallOption
		code string
	}{
		{"bad signature", webauthntest.BadSignature(), "invalid_response"},
		{"tampered authenticator data", webauthntest.TamperAuthenticatorData(), "invalid_response"},
		{"wrong origin", webauthntest.WrongOrigin("https://evil.example"), "origin_mismatch"},
		{"wrong challenge", webauthntest.WrongChallenge(), "challenge_mismatch"},
		{"wrong RP ID", webauthntest.WrongRPID("evil.example"), "rp_id_mismatch"},
		{"wrong type", webauthntest.WrongType(), "wrong_ceremony"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := b.login(map[string]string{"username": "alice"}, c.opt)
			require.Equal(t, http.StatusUnauthorized, r.status, r.String())
			require.Equal(t, c.code, r.code())
			require.Nil(t, r.json["signal"])
		})
	}
	// Registration with a tampered attestation signature.
	packed := e.browser(webauthntest.WithAttestation(webauthntest.AttestationPackedSelf))
	r := packed.post("/registration/finish", packed.registerResponse(map[string]string{"username": "carol"}, webauthntest.BadSignature()))
	require.Equal(t, http.StatusUnauthorized, r.status, r.String())
	require.Equal(t, "invalid_response", r.code())
	require.Nil(t, packed.cookie(httpadapter.SessionCookieInsecure))

	// Expired ceremony.
	begin := b.post("/login/begin", map[string]any{})
	resp, err := b.dev.Login(b.publicKey(begin))
	require.NoError(t, err)
	e.clock.Advance(e.rp.ChallengeTTL() + 1)
	r = b.post("/login/finish", resp)
	require.Equal(t, http.StatusUnauthorized, r.status)
	require.Equal(t, "ceremony_not_found", r.code(), "expired in the store")
}

func TestUnknownCredentialSignal(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	r := b.mustSignUp("alice")
	credID := field(r.json, "credential", "id").(string)
	handle := unb64(t, field(r.json, "user", "handle").(string))

	// A credential of another account: the core answers unknown_credential
	// but the browser must not be told to forget a passkey this site knows.
	bob := e.browser()
	bob.mustSignUp("bob")
	opts := b.publicKey(b.post("/login/begin", map[string]string{"username": "bob"}))
	var o map[string]any
	require.NoError(t, json.Unmarshal(opts, &o))
	o["allowCredentials"] = []any{map[string]any{"type": "public-key", "id": credID}}
	forged, _ := json.Marshal(o)
	resp, err := b.dev.Login(forged)
	require.NoError(t, err)
	r = b.post("/login/finish", resp)
	require.Equal(t, http.StatusUnauthorized, r.status, r.String())
	require.Equal(t, "unknown_credential", r.code())
	require.Nil(t, r.json["signal"], "the credential exists: no signal")

	// The account is deleted: the device still offers the passkey.
	require.NoError(t, e.rp.DeleteUser(context.Background(), handle))
	r = b.login(map[string]any{})
	require.Equal(t, http.StatusUnauthorized, r.status, r.String())
	require.Equal(t, "unknown_credential", r.code())
	require.Equal(t, map[string]any{"unknownCredential": map[string]any{"rpId": "localhost", "credentialId": credID}}, r.json["signal"])

	// The session of a deleted account is over.
	require.Equal(t, http.StatusUnauthorized, b.call(http.MethodGet, "/session", nil).status)
}

func TestStoreUnavailable(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	b.mustSignUp("alice")
	resp := b.loginResponse(map[string]any{})

	e.store.Fail(storewrap.ErrDown)
	check := func(r *response) {
		t.Helper()
		require.Equal(t, http.StatusServiceUnavailable, r.status, r.String())
		require.Equal(t, "store_unavailable", r.code())
		require.Equal(t, "5", r.header.Get("Retry-After"))
		require.NotContains(t, string(r.body), "10.0.0.1", "the cause stays out of the response")
	}
	check(b.post("/login/finish", resp))
	check(b.post("/login/begin", map[string]any{}))
	check(b.post("/login/begin", map[string]string{"username": "alice"}))
	check(b.post("/registration/begin", map[string]string{"username": "bob"}))
	check(b.post("/registration/begin", map[string]string{}))
	check(b.call(http.MethodGet, "/session", nil))
	check(b.call(http.MethodGet, "/credentials", nil))
	check(b.call(http.MethodPatch, "/credentials/AAAA", map[string]string{"name": "x"}))
	check(b.call(http.MethodDelete, "/credentials/AAAA", map[string]any{}))
	check(b.raw(http.MethodGet, e.srv.URL+"/me", nil, nil))
	// LoadUser degrades to anonymous.
	require.Equal(t, "anonymous", string(b.raw(http.MethodGet, e.srv.URL+"/maybe", nil, nil).body))
	require.Contains(t, e.logs.String(), "connection refused", "operators see the cause")

	e.store.Fail(nil)
	require.Equal(t, http.StatusOK, b.call(http.MethodGet, "/session", nil).status)
	require.Equal(t, http.StatusOK, b.login(map[string]any{}).status)
}

func TestHooksAndCurrentUser(t *testing.T) {
	var logins, regs int
	hookErr := error(nil)
	e := newEnv(t, func(c *envConfig) {
		c.noSession = true
		c.opts.CurrentUser = func(r *http.Request) ([]byte, bool) {
			h := r.Header.Get("X-App-User")
			if h == "" {
				return nil, false
			}
			b, err := base64.RawURLEncoding.DecodeString(h)
			return b, err == nil
		}
		c.opts.OnLogin = func(w http.ResponseWriter, r *http.Request, l *webauthnkit.Login) error {
			logins++
			http.SetCookie(w, &http.Cookie{Name: "app_session", Value: l.User.Name})
			return hookErr
		}
		c.opts.OnRegister = func(w http.ResponseWriter, r *http.Request, reg *webauthnkit.Registration) error {
			regs++
			return hookErr
		}
	})
	b := e.browser()
	r := b.mustSignUp("alice")
	handle := field(r.json, "user", "handle").(string)
	require.Equal(t, 1, regs)
	require.Nil(t, b.cookie(httpadapter.SessionCookieInsecure), "no built-in session with CurrentUser")
	require.Equal(t, http.StatusUnauthorized, b.call(http.MethodGet, "/session", nil).status)

	r = b.login(map[string]any{})
	require.Equal(t, http.StatusOK, r.status)
	require.Equal(t, 1, logins)
	require.Contains(t, setCookies(r.header), "app_session")

	// The app's session identifies the user.
	b.header.Set("X-App-User", handle)
	r = b.call(http.MethodGet, "/session", nil)
	require.Equal(t, http.StatusOK, r.status)
	require.Equal(t, "alice", field(r.json, "user", "name"))
	b.dev = webauthntest.New(webauthntest.WithOrigin(e.origin))
	r = b.post("/registration/finish", b.registerResponse(map[string]any{"name": "second"}))
	require.Equal(t, http.StatusOK, r.status, r.String())
	require.Equal(t, 2, regs)
	require.Len(t, credentialIDs(b.call(http.MethodGet, "/credentials", nil)), 2)
	// Logout has nothing to clear.
	require.Equal(t, http.StatusNoContent, b.post("/logout", nil).status)

	// A failing hook: 500 internal, and nothing leaks from the hook's error.
	hookErr = errors.New("session backend down: secret=hunter2")
	r = b.login(map[string]any{})
	require.Equal(t, http.StatusInternalServerError, r.status)
	require.Equal(t, "internal", r.code())
	require.NotContains(t, string(r.body), "hunter2")
}

func TestHookFailureWithdrawsBuiltInSession(t *testing.T) {
	fail := false
	e := newEnv(t, func(c *envConfig) {
		c.opts.OnLogin = func(w http.ResponseWriter, r *http.Request, l *webauthnkit.Login) error {
			http.SetCookie(w, &http.Cookie{Name: "app_cookie", Value: "1"})
			if fail {
				return errors.New("nope")
			}
			return nil
		}
	})
	b := e.browser()
	b.mustSignUp("alice")
	require.Equal(t, http.StatusNoContent, b.post("/logout", map[string]any{}).status)
	fail = true
	r := b.login(map[string]any{})
	require.Equal(t, http.StatusInternalServerError, r.status)
	cookies := setCookies(r.header)
	require.NotContains(t, cookies, httpadapter.SessionCookieInsecure, "the session cookie is withdrawn")
	require.Contains(t, cookies, "app_cookie", "the hook's own cookies stay")
	require.Equal(t, http.StatusUnauthorized, b.call(http.MethodGet, "/session", nil).status)
}

func TestRecoverAnswersJSON(t *testing.T) {
	e := newEnv(t, func(c *envConfig) {
		c.allowPanic = true
		c.opts.OnRegister = func(http.ResponseWriter, *http.Request, *webauthnkit.Registration) error {
			panic("app bug")
		}
	})
	b := e.browser()
	r := b.signUp("alice")
	require.Equal(t, http.StatusInternalServerError, r.status)
	require.Equal(t, "internal", r.code())
	require.Contains(t, e.logs.String(), "panic serving request")
	// Still serving.
	require.Equal(t, http.StatusOK, b.post("/login/begin", map[string]any{}).status)
}

func TestPerEndpointHandlers(t *testing.T) {
	e := newEnv(t, func(c *envConfig) {
		c.mount = func(mux *http.ServeMux, h *httpadapter.Handler) {
			mux.Handle("POST /auth/registration/begin", h.BeginRegistration())
			mux.Handle("POST /auth/registration/finish", h.FinishRegistration())
			mux.Handle("POST /auth/login/begin", h.BeginLogin())
			mux.Handle("POST /auth/login/finish", h.FinishLogin())
			mux.Handle("GET /auth/credentials", h.ListCredentials())
			mux.Handle("PATCH /auth/credentials/{id}", h.RenameCredential())
			mux.Handle("DELETE /auth/credentials/{id}", h.RevokeCredential())
			mux.Handle("GET /auth/session", h.Session())
			mux.Handle("POST /auth/logout", h.Logout())
			mux.Handle("GET /auth/client.js", h.ClientJS())
			// Without a wildcard the last segment is the ID.
			mux.Handle("/other/rename/", h.RenameCredential())
		}
	})
	b := e.browser()
	b.base = e.srv.URL + "/auth"
	begin := b.post("/registration/begin", map[string]string{"username": "alice"})
	c := setCookies(begin.header)[httpadapter.CeremonyCookie]
	require.NotNil(t, c)
	require.Equal(t, "/auth", c.Path)
	resp, err := b.dev.Register(b.publicKey(begin))
	require.NoError(t, err)
	r := b.post("/registration/finish", resp)
	require.Equal(t, http.StatusOK, r.status, r.String())
	id := field(r.json, "credential", "id").(string)
	require.Equal(t, http.StatusOK, b.call(http.MethodPatch, "/credentials/"+id, map[string]string{"name": "A"}).status)
	r = b.raw(http.MethodPatch, e.srv.URL+"/other/rename/"+id, []byte(`{"name":"B"}`), map[string]string{"Content-Type": "application/json"})
	require.Equal(t, http.StatusOK, r.status, r.String())
	require.Equal(t, "B", r.json["credentials"].([]any)[0].(map[string]any)["name"])
	require.Equal(t, http.StatusMethodNotAllowed, b.raw(http.MethodGet, e.srv.URL+"/other/rename/"+id, nil, nil).status)
	require.Equal(t, http.StatusNoContent, b.post("/logout", nil).status)
	require.Equal(t, http.StatusOK, b.login(map[string]any{}).status)
	require.Equal(t, http.StatusOK, b.call(http.MethodGet, "/session", nil).status)
	require.Equal(t, http.StatusOK, b.call(http.MethodGet, "/client.js", nil).status)
}

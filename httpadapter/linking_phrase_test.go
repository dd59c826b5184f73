package httpadapter_test

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/httpadapter"
)

// link/approve takes the words the user typed: none is 400 (nothing
// spent), loosely typed right words approve, wrong words are 400
// link_phrase_mismatch and deny the request (B polls "denied"; one guess).
func TestLinkApprovePhrase(t *testing.T) {
	e := newEnv(t)
	a := e.browser()
	a.mustSignUp("alice")

	b := e.browser()
	ls := startLink(t, b)
	require.Equal(t, http.StatusOK, a.post("/link/lookup", map[string]any{"code": ls.code}).status)
	for _, body := range []any{map[string]any{"linkId": ls.linkID}, map[string]any{"linkId": ls.linkID, "phrase": "  "}} {
		r := a.post("/link/approve", body)
		require.Equal(t, http.StatusBadRequest, r.status, "%s", r)
		require.Equal(t, string(webauthnkit.CodeInvalidRequest), r.code())
	}
	require.Equal(t, "pending", poll(t, b).json["status"], "no words: nothing spent")
	w := strings.Fields(ls.phrase)
	typed := strings.ToUpper(w[0]) + "  " + w[1] + "-" + strings.ToUpper(w[2][:1]) + w[2][1:]
	require.Equal(t, http.StatusOK, a.post("/link/approve", map[string]any{"linkId": ls.linkID, "phrase": typed}).status)
	linkedDevice(t, b, "alice")

	b2 := e.browser()
	ls2 := startLink(t, b2)
	require.Equal(t, http.StatusOK, a.post("/link/lookup", map[string]any{"code": ls2.code}).status)
	wrong := "otter otter otter"
	if ls2.phrase == wrong {
		wrong = "tiger tiger tiger"
	}
	r := a.post("/link/approve", map[string]any{"linkId": ls2.linkID, "phrase": wrong})
	require.Equal(t, http.StatusBadRequest, r.status, "%s", r)
	require.Equal(t, "link_phrase_mismatch", r.code())
	again := a.post("/link/approve", map[string]any{"linkId": ls2.linkID, "phrase": ls2.phrase})
	require.Equal(t, http.StatusNotFound, again.status, "one guess: %s", again)
	p := poll(t, b2)
	require.Equal(t, http.StatusOK, p.status, "%s", p)
	require.Equal(t, "denied", p.json["status"])
	require.Nil(t, p.json["grant"])
	require.NotContains(t, e.logs.String(), wrong, "typed words are not logged")
	require.NotContains(t, e.logs.String(), ls2.phrase)
}

// With Options.CurrentUser and no Options.AuthenticatedAt the adapter
// cannot know when the user last authenticated: approving a device fails
// closed (403 reauth_required, as RequireFreshAuth), unless
// FreshAuthMaxAge is negative (the documented opt-out).
func TestLinkApproveFailsClosedWithoutAuthTime(t *testing.T) {
	for _, optOut := range []bool{false, true} {
		e := appEnv(t, func(c *envConfig) {
			if optOut {
				c.opts.FreshAuthMaxAge = -1
			}
		})
		a := e.browser()
		a.header.Set("X-App-User", base64.RawURLEncoding.EncodeToString(appUserHandle))
		first := a.post("/registration/finish", a.registerResponse(map[string]any{}))
		require.Equal(t, http.StatusOK, first.status, "%s", first)

		b := e.browser()
		ls := startLink(t, b)
		require.Equal(t, http.StatusOK, a.post("/link/lookup", map[string]any{"code": ls.code}).status)
		r := a.post("/link/approve", map[string]any{"linkId": ls.linkID, "phrase": ls.phrase})
		if optOut {
			require.Equal(t, http.StatusOK, r.status, "FreshAuthMaxAge < 0: %s", r)
			require.Equal(t, "approved", poll(t, b).json["status"])
			continue
		}
		require.Equal(t, http.StatusForbidden, r.status, "%s", r)
		require.Equal(t, "reauth_required", r.code())
		require.Equal(t, "pending", poll(t, b).json["status"])
	}
}

// The poll-token cookie is cleared with the Path it was set with, even
// when link/start and link/poll are mounted under different prefixes
// (here start's path does not end in link/start at all: Path "/").
func TestLinkCookieClearedWithItsPath(t *testing.T) {
	e := newEnv(t, func(c *envConfig) {
		c.mount = func(mux *http.ServeMux, h *httpadapter.Handler) {
			mux.Handle("/passkeys/", http.StripPrefix("/passkeys", h))
			mux.Handle("POST /api/device-link-start", h.StartLink())
			mux.Handle("POST /api/link/poll", h.PollLink())
		}
	})
	a := e.browser()
	a.mustSignUp("alice")
	b := e.browser()
	start := b.raw(http.MethodPost, e.origin+"/api/device-link-start", []byte(`{}`), map[string]string{"Content-Type": "application/json"})
	require.Equal(t, http.StatusOK, start.status, "%s", start)
	set := setCookies(start.header)[httpadapter.LinkCookie]
	require.NotNil(t, set)
	require.Equal(t, "/", set.Path)

	code, linkID := start.json["code"].(string), start.json["linkId"].(string)
	require.Equal(t, http.StatusOK, a.post("/link/lookup", map[string]any{"code": code}).status)
	require.Equal(t, http.StatusOK, a.post("/link/deny", map[string]any{"linkId": linkID}).status)

	p := b.raw(http.MethodPost, e.origin+"/api/link/poll", []byte(`{}`), map[string]string{"Content-Type": "application/json"})
	require.Equal(t, http.StatusOK, p.status, "%s", p)
	require.Equal(t, "denied", p.json["status"])
	cleared := setCookies(p.header)[httpadapter.LinkCookie]
	require.NotNil(t, cleared, "a final answer clears the cookie")
	require.Equal(t, -1, cleared.MaxAge)
	require.Equal(t, set.Path, cleared.Path, "cleared with the Path it was set with")
	require.Empty(t, b.jar.Cookies(mustURL(t, e.origin+"/api/link/poll")), "the browser dropped it")

	// A forged Path in the cookie is not echoed unless it is a plain path.
	b2 := e.browser()
	b2.jar.SetCookies(mustURL(t, e.origin+"/"), []*http.Cookie{{Name: httpadapter.LinkCookie, Value: "x|no-slash", Path: "/"}})
	bad := b2.raw(http.MethodPost, e.origin+"/api/link/poll", []byte(`{}`), map[string]string{"Content-Type": "application/json"})
	require.Equal(t, http.StatusNotFound, bad.status)
	require.Equal(t, "/api", setCookies(bad.header)[httpadapter.LinkCookie].Path, "falls back to link/poll's mount path")
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	require.NoError(t, err)
	return u
}

package httpadapter

import (
	"log/slog"
	"net/http"
	"strings"

	"github.com/webauthnkit/webauthnkit"
)

// This file exports the adapter's building blocks for apps that write their
// own endpoints around a RelyingParty: the origin/CSRF check, the ceremony
// cookie and the error writer (WriteError, in errors.go).

// CheckOrigin is the adapter's origin/CSRF check as middleware: a request
// whose Origin is not one of the RelyingParty's origins, or (without
// Origin) a state-changing one that Sec-Fetch-Site marks cross-site, is
// answered 403 {"error":"forbidden_origin"}.
//
//	mux.Handle("POST /mfa/begin", h.CheckOrigin(beginMFA))
func (h *Handler) CheckOrigin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h.checkOrigin(r); err != nil {
			h.fail(w, r, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// SameOrigin is CheckOrigin without a Handler: origins are the allowed
// origins exactly as in webauthnkit.Config.Origins
// ("https://example.com").
//
//	protect := httpadapter.SameOrigin(rp.Origins()...)
//	mux.Handle("POST /mfa/begin", protect(beginMFA))
func SameOrigin(origins ...string) func(http.Handler) http.Handler {
	h := &Handler{origins: make(map[string]bool, len(origins)), originList: strings.Join(origins, " "), log: slog.Default()}
	for _, o := range origins {
		h.origins[strings.ToLower(o)] = true
	}
	return h.CheckOrigin
}

// SetCeremony binds a ceremony begun by the app's own endpoint to this
// browser: b.CeremonyID goes into an HttpOnly, SameSite=Strict cookie whose
// Path is the begin endpoint's directory ("/mfa" for "/mfa/begin"), so the
// finish endpoint must sit in the same directory ("/mfa/finish").
// TakeCeremony reads it back there.
//
//	b, err := rp.BeginLogin(ctx, webauthnkit.LoginRequest{UserHandle: handle})
//	if err != nil { httpadapter.WriteError(w, r, err); return }
//	h.SetCeremony(w, r, b)
//	// ... write b.Options; in /mfa/finish:
//	login, err := rp.FinishLogin(ctx, h.TakeCeremony(w, r), body)
func (h *Handler) SetCeremony(w http.ResponseWriter, r *http.Request, b *webauthnkit.Begin) {
	h.setCeremony(w, r, lastSegment(r), b)
}

// TakeCeremony returns the ceremony ID set by SetCeremony in this
// directory and clears the cookie ("" when there is none; the core then
// answers ceremony_not_found). The core consumes the ceremony exactly once
// whatever happens to the cookie.
func (h *Handler) TakeCeremony(w http.ResponseWriter, r *http.Request) string {
	return h.takeCeremony(w, r, lastSegment(r))
}

// lastSegment is the last segment of r's path: the "endpoint" whose
// directory is the ceremony cookie's Path.
func lastSegment(r *http.Request) string {
	p := strings.TrimSuffix(r.URL.Path, "/")
	return p[strings.LastIndexByte(p, '/')+1:]
}

// RelyingParty returns the RelyingParty h serves, for the app's own
// endpoints beside it.
func (h *Handler) RelyingParty() *webauthnkit.RelyingParty { return h.rp }

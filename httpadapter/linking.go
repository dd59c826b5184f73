package httpadapter

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/account"
	"github.com/webauthnkit/webauthnkit/internal/qrcode"
)

// Device linking (docs/device-linking.md): a new device B, signed out,
// gets a passkey of its own for the account of a signed-in device A that
// approves it. The endpoints map the core's StartLink, PollLink,
// LookupLink, ApproveLink and DenyLink:
//
//	POST link/start    {} (B) -> {linkId, code, phrase, approvalUrl, qrCode, expiresAt, interval};
//	                   the poll token goes into the HttpOnly cookie LinkCookie
//	POST link/poll     {} (B, the cookie) -> {status, expiresAt} and, once approved,
//	                   {grant, username} for registration/begin {"grant"} (which signs B in)
//	POST link/lookup   {"code"} (A, signed in) -> {linkId, browser, os, createdAt, expiresAt};
//	                   binds the request to A's account and spends the code; no phrase:
//	                   A never shows it, the user reads it on B and types it on A
//	POST link/approve  {"linkId", "phrase"} (A) -> {}; phrase is what the user typed
//	                   (400 invalid_request when empty: nothing spent; 400
//	                   link_phrase_mismatch when wrong: the request is denied);
//	                   needs a fresh user-verified sign-in (403 reauth_required:
//	                   re-authenticate, then retry)
//	POST link/deny     {"linkId"} (A) -> {}
//
// lookup, approve and deny count against RateLimit.Link per client (on top
// of the core's per-account lookup budget), so wrong codes cannot be tried
// fast. start counts as a begin (it stores a record, like a ceremony: the
// global begin ceiling applies) and against RateLimit.Link too: drawing
// its QR code costs about 2 ms of CPU (boombuler's encoder tries all eight
// masks), far more than a begin, so one address cannot make the server
// draw more than the Link budget allows.

// LinkCookie holds the new device's poll token (HttpOnly, SameSite=Strict,
// scoped to the mount path of link/start, until the request expires). Its
// value also carries that Path, so that link/poll clears the cookie with
// the Path it was set with, wherever each endpoint is mounted.
const LinkCookie = "webauthnkit_link"

// DefaultLinkURL is the default of Options.LinkURL.
const DefaultLinkURL = "/link"

// LinkPollInterval is the delay between polls the adapter suggests to the
// new device (link/start's "interval", in seconds); client.js grows it by
// half after each pending answer, up to 10 seconds.
const LinkPollInterval = 2 * time.Second

// linkQRSize is the pixel size of the QR code's SVG (it scales without blur).
const linkQRSize = 256

// maxLinkURL bounds Options.LinkURL: with the origin and the code, the
// QR code's text stays far below qrcode.MaxInput.
const maxLinkURL = 512

// linkRoutes checks Options.LinkURL and adds the device-linking endpoints.
func (h *Handler) linkRoutes() error {
	if l := h.opts.LinkURL; l != "" {
		u, err := url.Parse(l)
		ok := err == nil && len(l) <= maxLinkURL && u.Fragment == "" && !strings.Contains(l, "#") && u.User == nil
		if ok && u.Scheme == "" {
			ok = u.Host == "" && strings.HasPrefix(l, "/") && !strings.HasPrefix(l, "//")
		} else if ok {
			ok = (u.Scheme == "https" || u.Scheme == "http") && u.Host != ""
		}
		if !ok {
			return fmt.Errorf("httpadapter: Options.LinkURL %q: want a path like /link or an http(s) URL without a fragment, at most %d bytes", clip(l, 64), maxLinkURL)
		}
	}
	h.routes["link/start"] = route{classBegin, []string{http.MethodPost}, h.startLink}
	h.routes["link/poll"] = route{classManage, []string{http.MethodPost}, h.pollLink}
	h.routes["link/lookup"] = route{classLink, []string{http.MethodPost}, h.lookupLink}
	h.routes["link/approve"] = route{classLink, []string{http.MethodPost}, h.approveLink}
	h.routes["link/deny"] = route{classLink, []string{http.MethodPost}, h.denyLink}
	return nil
}

// StartLink serves POST link/start on its own, for routers.
func (h *Handler) StartLink() http.HandlerFunc { return h.endpoint("link/start") }

// PollLink serves POST link/poll on its own.
func (h *Handler) PollLink() http.HandlerFunc { return h.endpoint("link/poll") }

// LookupLink serves POST link/lookup on its own.
func (h *Handler) LookupLink() http.HandlerFunc { return h.endpoint("link/lookup") }

// ApproveLink serves POST link/approve on its own.
func (h *Handler) ApproveLink() http.HandlerFunc { return h.endpoint("link/approve") }

// DenyLink serves POST link/deny on its own.
func (h *Handler) DenyLink() http.HandlerFunc { return h.endpoint("link/deny") }

type linkStartResponse struct {
	LinkID      string    `json:"linkId"`
	Code        string    `json:"code"`
	Phrase      string    `json:"phrase"`
	ApprovalURL string    `json:"approvalUrl"`
	QRCode      string    `json:"qrCode"` // data:image/svg+xml;base64,...
	ExpiresAt   time.Time `json:"expiresAt"`
	Interval    int       `json:"interval"` // seconds
}

type linkPollResponse struct {
	Status    string    `json:"status"`
	Grant     string    `json:"grant,omitempty"`
	Username  string    `json:"username,omitempty"`
	ExpiresAt time.Time `json:"expiresAt,omitzero"`
}

type linkRequestResponse struct {
	LinkID    string    `json:"linkId"`
	Browser   string    `json:"browser"`
	OS        string    `json:"os"`
	CreatedAt time.Time `json:"createdAt"`
	ExpiresAt time.Time `json:"expiresAt"`
}

// startLink starts a request on the new device. It must not be signed in
// to anything in particular: the account is chosen on the approving device.
func (h *Handler) startLink(w http.ResponseWriter, r *http.Request) {
	body, err := h.jsonRequest(w, r)
	if err == nil {
		err = decodeObject(body, &struct{}{}, true)
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if !h.admit(w, r, classLink) {
		return
	}
	ls, err := h.rp.StartLink(r.Context(), webauthnkit.LinkStartRequest{UserAgent: r.UserAgent()})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	approval := h.linkApprovalURL(r, ls.Code)
	modules, err := qrcode.Modules(approval)
	if err != nil {
		h.fail(w, r, err) // cannot happen: New bounds Options.LinkURL
		return
	}
	svg := qrcode.SVG(modules, linkQRSize)
	maxAge := int(ls.ExpiresAt.Sub(h.now()).Seconds()) + 1
	path := mountPath(r, "link/start")
	http.SetCookie(w, &http.Cookie{
		Name:     LinkCookie,
		Value:    ls.PollToken + linkCookieSep + path,
		Path:     path,
		MaxAge:   max(min(maxAge, int(webauthnkit.MaxLinkTTL.Seconds())+1), 1),
		HttpOnly: true,
		Secure:   !h.insecure(r),
		SameSite: http.SameSiteStrictMode,
	})
	h.respond(w, r, linkStartResponse{
		LinkID:      ls.LinkID,
		Code:        ls.Code,
		Phrase:      ls.MatchPhrase,
		ApprovalURL: approval,
		QRCode:      "data:image/svg+xml;base64," + base64.StdEncoding.EncodeToString([]byte(svg)),
		ExpiresAt:   ls.ExpiresAt.UTC(),
		Interval:    int(LinkPollInterval / time.Second),
	})
}

// linkApprovalURL is Options.LinkURL with the code in the fragment: the
// fragment never reaches a server (no access log, no Referer), and the
// approval page reads it in the browser. A relative LinkURL is resolved
// against the origin of the request (one of the RelyingParty's origins,
// checked), else the first origin.
func (h *Handler) linkApprovalURL(r *http.Request, code string) string {
	link := h.opts.LinkURL
	if link == "" {
		link = DefaultLinkURL
	}
	if !strings.Contains(link, "://") {
		origin := ""
		if o := r.Header.Get("Origin"); o != "" && h.origins[strings.ToLower(o)] {
			origin = o
		} else if os := h.rp.Origins(); len(os) > 0 {
			origin = os[0]
		}
		link = strings.TrimSuffix(origin, "/") + link
	}
	return link + "#code=" + url.QueryEscape(code)
}

// pollLink tells the new device what became of its request. The poll
// token comes from LinkCookie; a final answer clears it.
func (h *Handler) pollLink(w http.ResponseWriter, r *http.Request) {
	body, err := h.jsonRequest(w, r)
	if err == nil {
		err = decodeObject(body, &struct{}{}, true)
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	token, path := "", ""
	if c, err := r.Cookie(LinkCookie); err == nil {
		token, path = parseLinkCookie(c.Value)
	}
	if path == "" {
		path = mountPath(r, "link/poll")
	}
	if token == "" {
		h.fail(w, r, webauthnkit.ErrLinkNotFound)
		return
	}
	p, err := h.rp.PollLink(r.Context(), token)
	if err != nil {
		if errors.Is(err, webauthnkit.ErrLinkNotFound) {
			h.clearLinkCookie(w, r, path)
		}
		h.fail(w, r, err)
		return
	}
	if p.Status != webauthnkit.LinkPending {
		h.clearLinkCookie(w, r, path)
	}
	h.respond(w, r, linkPollResponse{Status: string(p.Status), Grant: p.Grant, Username: p.Username, ExpiresAt: p.ExpiresAt.UTC()})
}

// linkCookieSep separates the poll token (base64url) from the cookie's
// Path in LinkCookie's value.
const linkCookieSep = "|"

// parseLinkCookie splits LinkCookie's value into the poll token and the
// Path the cookie was set with ("" when absent or not a path mountPath
// could have made: the caller then uses link/poll's mount path).
func parseLinkCookie(v string) (token, path string) {
	token, path, _ = strings.Cut(v, linkCookieSep)
	if !strings.HasPrefix(path, "/") || len(path) > maxCookiePath {
		return token, ""
	}
	for i := 0; i < len(path); i++ {
		if c := path[i]; c <= ' ' || c >= 0x7f || c == ';' || c == ',' || c == '"' || c == '\\' {
			return token, ""
		}
	}
	return token, path
}

// maxCookiePath bounds the Path read back from LinkCookie.
const maxCookiePath = 1024

// clearLinkCookie deletes LinkCookie, set with Path path.
func (h *Handler) clearLinkCookie(w http.ResponseWriter, r *http.Request, path string) {
	http.SetCookie(w, &http.Cookie{
		Name:     LinkCookie,
		Value:    "",
		Path:     path,
		MaxAge:   -1,
		HttpOnly: true,
		Secure:   !h.insecure(r),
		SameSite: http.SameSiteStrictMode,
	})
}

// maxLinkField bounds a code or link ID before the core sees it (a code is
// 11 characters, an ID about 43).
const maxLinkField = 128

// lookupLink binds the request of a code to the signed-in account and
// shows where it comes from.
func (h *Handler) lookupLink(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Code string `json:"code"`
	}
	if !h.decodeAccountRequest(w, r, &req) {
		return
	}
	u, _, err := h.signedInUser(w, r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if req.Code == "" || len(req.Code) > maxLinkField {
		h.fail(w, r, webauthnkit.ErrLinkNotFound)
		return
	}
	lr, err := h.rp.LookupLink(r.Context(), u.Handle, req.Code)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.respond(w, r, linkRequestResponse{
		LinkID:    lr.LinkID,
		Browser:   lr.Device.Browser,
		OS:        lr.Device.OS,
		CreatedAt: lr.CreatedAt.UTC(),
		ExpiresAt: lr.ExpiresAt.UTC(),
	})
}

// linkDecisionRequest is the body of link/approve and link/deny.
type linkDecisionRequest struct {
	LinkID string `json:"linkId"`
	// Phrase: link/approve only, the words the user typed.
	Phrase string `json:"phrase"`
}

// linkDecision reads {"linkId"} (and "phrase") and the signed-in session.
func (h *Handler) linkDecision(w http.ResponseWriter, r *http.Request) (webauthnkit.User, session, linkDecisionRequest, bool) {
	var req linkDecisionRequest
	if !h.decodeAccountRequest(w, r, &req) {
		return webauthnkit.User{}, session{}, req, false
	}
	u, s, err := h.signedInUser(w, r)
	if err != nil {
		h.fail(w, r, err)
		return webauthnkit.User{}, session{}, req, false
	}
	if req.LinkID == "" || len(req.LinkID) > maxLinkField {
		h.fail(w, r, webauthnkit.ErrLinkNotFound)
		return webauthnkit.User{}, session{}, req, false
	}
	return u, s, req, true
}

// approveLink approves a looked-up request for the signed-in account,
// if the typed phrase is the new device's (else 400 link_phrase_mismatch,
// and the request is denied) and its last user-verified authentication is
// fresh (else 403 reauth_required), and mails the account's owner
// (Options.Accounts).
func (h *Handler) approveLink(w http.ResponseWriter, r *http.Request) {
	u, s, req, ok := h.linkDecision(w, r)
	if !ok {
		return
	}
	authAt, maxAge := h.freshAuthFor(s)
	err := h.rp.ApproveLink(r.Context(), webauthnkit.LinkApproval{
		LinkID:          req.LinkID,
		MatchPhrase:     req.Phrase,
		UserHandle:      u.Handle,
		AuthenticatedAt: authAt,
		MaxAge:          maxAge,
	})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if h.opts.Accounts != nil {
		// The notice is the owner's chance to notice an approval they were
		// tricked into (docs/device-linking.md); one that cannot go out
		// does not undo the approval.
		if nerr := h.opts.Accounts.Notify(r.Context(), u.Handle, account.KindDeviceLinked, account.NotifyData{}); nerr != nil {
			h.log.WarnContext(r.Context(), "httpadapter: device-linked notice not sent",
				"rateLimited", errors.Is(nerr, account.ErrRateLimited), "mailUnavailable", errors.Is(nerr, account.ErrMailUnavailable))
		}
	}
	writeJSONBytes(w, http.StatusOK, []byte("{}\n"))
}

func (h *Handler) denyLink(w http.ResponseWriter, r *http.Request) {
	u, _, req, ok := h.linkDecision(w, r)
	if !ok {
		return
	}
	if err := h.rp.DenyLink(r.Context(), req.LinkID, u.Handle); err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSONBytes(w, http.StatusOK, []byte("{}\n"))
}

package httpadapter

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// checkOrigin refuses cross-origin requests: an Origin header must be one of
// the RelyingParty's origins; without Origin, a state-changing request whose
// Sec-Fetch-Site says it comes from another site is refused too. Requests
// from non-browser clients (neither header) pass: they carry no ambient
// browser credentials to abuse.
//
// A refusal is logged at Info with the origin received and the ones
// expected: the usual cause is a page opened at another address than
// Config.Origins (http://127.0.0.1:8080 for http://localhost:8080), which
// the browser only shows as a 403.
func (h *Handler) checkOrigin(r *http.Request) error {
	if origin := r.Header.Get("Origin"); origin != "" {
		if h.origins[strings.ToLower(origin)] {
			return nil
		}
		h.log.InfoContext(r.Context(), "httpadapter: request refused: its Origin is not one of the RelyingParty's origins (open the pages at one of them)",
			"code", string(CodeForbiddenOrigin), "path", r.URL.Path, "origin", clip(origin, maxLoggedOrigin), "expected", h.originList)
		return &httpError{http.StatusForbidden, CodeForbiddenOrigin, "requests from this origin are not allowed"}
	}
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return nil
	}
	switch site := r.Header.Get("Sec-Fetch-Site"); site {
	case "cross-site", "same-site":
		h.log.InfoContext(r.Context(), "httpadapter: request refused: sent by another site (Sec-Fetch-Site) without an Origin header",
			"code", string(CodeForbiddenOrigin), "path", r.URL.Path, "secFetchSite", site, "expected", h.originList)
		return &httpError{http.StatusForbidden, CodeForbiddenOrigin, "cross-site requests are not allowed"}
	}
	return nil
}

// maxLoggedOrigin caps the attacker-chosen Origin in the log: a real origin
// is far shorter.
const maxLoggedOrigin = 256

// clip returns s cut to at most n bytes, marked when cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// checkJSONType requires Content-Type application/json (charset utf-8 only,
// if given).
func checkJSONType(r *http.Request) error {
	ct := r.Header.Get("Content-Type")
	mt, params, err := mime.ParseMediaType(ct)
	if err == nil && mt == "application/json" {
		cs, ok := params["charset"]
		if !ok || strings.EqualFold(cs, "utf-8") || strings.EqualFold(cs, "utf8") {
			return nil
		}
	}
	return &httpError{http.StatusUnsupportedMediaType, CodeUnsupportedMediaType, "send Content-Type: application/json"}
}

// readBody reads the capped request body.
func (h *Handler) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	tooLarge := &httpError{http.StatusRequestEntityTooLarge, CodeRequestTooLarge, "request body too large"}
	if r.ContentLength > h.maxBody {
		return nil, tooLarge
	}
	if r.Body == nil {
		return nil, nil
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.maxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, tooLarge
		}
		return nil, badRequest("could not read the request body")
	}
	return body, nil
}

// jsonRequest runs the checks of a JSON endpoint (origin, content type,
// size) and returns the body.
func (h *Handler) jsonRequest(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if err := h.checkOrigin(r); err != nil {
		return nil, err
	}
	if err := checkJSONType(r); err != nil {
		return nil, err
	}
	return h.readBody(w, r)
}

// decodeObject decodes a small JSON object request strictly: one object,
// known fields only, nothing after it. An empty body is allowed only when
// emptyOK (it then decodes as {}).
func decodeObject(body []byte, v any, emptyOK bool) error {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		if emptyOK {
			return nil
		}
		return badRequest("the request body must be a JSON object")
	}
	if trimmed[0] != '{' {
		return badRequest("the request body must be a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var ute *json.UnmarshalTypeError
		if errors.As(err, &ute) && ute.Field != "" {
			return badRequest("field " + safeField(ute.Field) + " has the wrong type")
		}
		if strings.HasPrefix(err.Error(), "json: unknown field ") {
			return badRequest("unknown field in the request body")
		}
		return badRequest("the request body is not valid JSON")
	}
	if _, err := dec.Token(); err != io.EOF {
		return badRequest("unexpected data after the JSON object")
	}
	return nil
}

// safeField returns a JSON field path for an error message if it is made of
// the characters our own field names use (it comes from our struct tags, but
// keep messages free of client text anyway).
func safeField(f string) string {
	for _, c := range f {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '.') {
			return "(unknown)"
		}
	}
	return f
}

// isLoopback reports whether host (no port) is localhost or a loopback IP.
func isLoopback(host string) bool {
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// insecureDev reports whether the request comes from a development page on
// http://localhost (or a loopback IP): cookies then cannot be Secure (Safari
// refuses Secure cookies over http, even on localhost). Everything else gets
// Secure cookies.
func insecureDev(r *http.Request) bool {
	if origin := r.Header.Get("Origin"); origin != "" && origin != "null" {
		u, err := url.Parse(origin)
		return err == nil && u.Scheme == "http" && isLoopback(u.Hostname())
	}
	if r.TLS != nil {
		return false
	}
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	return isLoopback(host)
}

// insecure reports whether cookies for r cannot be Secure: only when the
// RelyingParty itself allows an http://localhost (or loopback IP) origin,
// and r comes from such a page. A production configuration (https origins
// only) always gets Secure cookies and the "__Host-" session cookie,
// whatever the request's Host or Origin say.
func (h *Handler) insecure(r *http.Request) bool {
	return h.devOrigins && insecureDev(r)
}

// mountPath returns the path prefix under which endpoint (e.g.
// "registration/begin") was requested: "/passkeys" for
// "/passkeys/registration/begin", "/" if it cannot tell. It is the Path of
// the ceremony cookie, so begin and finish share the cookie whatever the
// mount point, with or without StripPrefix.
func mountPath(r *http.Request, endpoint string) string {
	p := ""
	if r.RequestURI != "" {
		if u, err := url.ParseRequestURI(r.RequestURI); err == nil {
			p = u.EscapedPath()
		}
	}
	if p == "" && r.URL != nil {
		p = r.URL.EscapedPath()
	}
	prefix, ok := strings.CutSuffix(p, "/"+endpoint)
	if !ok || prefix == "" || !strings.HasPrefix(prefix, "/") {
		return "/"
	}
	for i := 0; i < len(prefix); i++ {
		c := prefix[i]
		// Only characters that need no quoting in a cookie attribute.
		if c <= ' ' || c >= 0x7f || c == ';' || c == ',' || c == '"' || c == '\\' {
			return "/"
		}
	}
	return prefix
}

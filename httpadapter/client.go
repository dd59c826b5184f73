package httpadapter

import (
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
)

// clientJS is the browser client, served at client.js. Plain ES2020, no
// build step; it defines window.webauthnkit.
//
//go:embed client.js
var clientJS []byte

// clientETag is a strong ETag: a hash of the content.
var clientETag = func() string {
	sum := sha256.Sum256(clientJS)
	return `"` + hex.EncodeToString(sum[:16]) + `"`
}()

func (h *Handler) clientJS(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("ETag", clientETag)
	hd.Set("Cache-Control", "public, max-age=3600")
	hd.Set("X-Content-Type-Options", "nosniff")
	if etagMatches(r.Header.Get("If-None-Match"), clientETag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	hd.Set("Content-Type", "text/javascript; charset=utf-8")
	hd.Set("Content-Length", strconv.Itoa(len(clientJS)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(clientJS)
	}
}

// etagMatches implements the weak comparison of If-None-Match (RFC 9110
// 13.1.2): "*" or any listed tag, W/ prefix ignored.
func etagMatches(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == etag {
			return true
		}
	}
	return false
}

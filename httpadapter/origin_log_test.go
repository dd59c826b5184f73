package httpadapter_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestForbiddenOriginIsLogged: a page opened at http://127.0.0.1:<port>
// while the RelyingParty expects http://localhost:<port> gets a 403 that the
// browser shows without a reason; the log must say which origin came and
// which were expected, at Info.
func TestForbiddenOriginIsLogged(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	wrong := strings.Replace(e.origin, "127.0.0.1", "localhost", 1)
	if wrong == e.origin {
		wrong = "http://127.0.0.1:1"
	}
	r := b.raw(http.MethodPost, b.base+"/login/begin", []byte(`{}`), map[string]string{"Origin": wrong, "Content-Type": "application/json"})
	require.Equal(t, http.StatusForbidden, r.status)
	require.Equal(t, "forbidden_origin", r.code())

	line := logLine(t, e.logs.String(), "forbidden_origin")
	require.Contains(t, line, "level=INFO")
	require.Contains(t, line, "origin="+wrong)
	require.Contains(t, line, "expected="+e.origin)
	require.Contains(t, line, "path=/login/begin")

	// Without Origin, a cross-site POST is refused and logged too.
	r = b.raw(http.MethodPost, b.base+"/logout", []byte(`{}`), map[string]string{"Origin": "-", "Sec-Fetch-Site": "cross-site", "Content-Type": "application/json"})
	require.Equal(t, http.StatusForbidden, r.status)
	require.Contains(t, logLine(t, e.logs.String(), "secFetchSite=cross-site"), "level=INFO")

	// A hostile Origin is capped in the log.
	long := "https://" + strings.Repeat("a", 10_000) + ".example"
	r = b.raw(http.MethodPost, b.base+"/login/begin", []byte(`{}`), map[string]string{"Origin": long, "Content-Type": "application/json"})
	require.Equal(t, http.StatusForbidden, r.status)
	require.NotContains(t, e.logs.String(), strings.Repeat("a", 1000))
}

// logLine returns the last log line containing s.
func logLine(t *testing.T, logs, s string) string {
	t.Helper()
	lines := strings.Split(logs, "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.Contains(lines[i], s) {
			return lines[i]
		}
	}
	t.Fatalf("no log line contains %q:\n%s", s, logs)
	return ""
}

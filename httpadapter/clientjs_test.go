package httpadapter_test

import (
	"encoding/json"
	"os/exec"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit/internal/testenv"
)

// TestClientJSUpgradeAndUpdateUser runs client.js in Node with stubbed
// browser APIs: upgrade() does nothing without conditionalCreate and calls
// create({mediation: "conditional"}) with it; updateUser() passes the
// server's details to signalCurrentUserDetails.
func TestClientJSUpgradeAndUpdateUser(t *testing.T) {
	node := nodeBinary(t)
	out, err := exec.Command(node, "testdata/client_upgrade.js", "client.js").Output()
	require.NoError(t, err, "%s", out)
	var got struct {
		Unsupported    any              `json:"unsupported"`
		UnsupportedLog []map[string]any `json:"unsupportedLog"`
		Supported      map[string]any   `json:"supported"`
		SupportedLog   []map[string]any `json:"supportedLog"`
		UpdateLog      []map[string]any `json:"updateLog"`
	}
	require.NoError(t, json.Unmarshal(out, &got), "%s", out)

	require.Nil(t, got.Unsupported)
	require.Empty(t, got.UnsupportedLog, "no request, no prompt without conditionalCreate")

	require.NotNil(t, got.Supported)
	require.Len(t, got.SupportedLog, 3, "%v", got.SupportedLog)
	require.Equal(t, map[string]any{"url": "/passkeys/registration/begin", "method": "POST", "body": map[string]any{"conditional": true}}, got.SupportedLog[0]["fetch"])
	require.Equal(t, map[string]any{"mediation": "conditional"}, got.SupportedLog[1]["create"])
	require.Equal(t, "/passkeys/registration/finish", got.SupportedLog[2]["fetch"].(map[string]any)["url"])

	require.Len(t, got.UpdateLog, 2, "%v", got.UpdateLog)
	require.Equal(t, "PATCH", got.UpdateLog[0]["fetch"].(map[string]any)["method"])
	require.Equal(t, "signalCurrentUserDetails", got.UpdateLog[1]["signal"])
	require.Equal(t, map[string]any{"rpId": "example.com", "userId": "dQ", "name": "new@example.com", "displayName": "New"}, got.UpdateLog[1]["arg"])
}

// TestClientJSAccountHelpers runs the account-flow helpers of client.js in
// Node with a stubbed fetch: each posts to its endpoint with only the
// fields given, registerWithGrant sends the grant to registration/begin,
// and errors carry the server's code, status and Retry-After.
func TestClientJSAccountHelpers(t *testing.T) {
	node := nodeBinary(t)
	out, err := exec.Command(node, "testdata/client_account.js", "client.js").Output()
	require.NoError(t, err, "%s", out)
	var got struct {
		Errors map[string]map[string]any `json:"errors"`
		Log    []struct {
			URL    string         `json:"url"`
			Method string         `json:"method"`
			Body   map[string]any `json:"body"`
		} `json:"log"`
		Registered map[string]any `json:"registered"`
		Codes      map[string]any `json:"codes"`
		Left       map[string]any `json:"left"`
	}
	require.NoError(t, json.Unmarshal(out, &got), "%s", out)
	require.Equal(t, map[string]any{"code": "mail_unavailable", "status": 503.0, "retryAfter": 60.0}, got.Errors["startSignUp"])
	require.Equal(t, map[string]any{"code": "too_many_attempts", "status": 429.0, "retryAfter": 30.0}, got.Errors["confirmRecovery"])
	type call struct {
		url, method string
		body        map[string]any
	}
	want := []call{
		{"/passkeys/signup/start", "POST", map[string]any{"email": "a@example.com", "username": "a"}},
		{"/passkeys/signup/confirm", "POST", map[string]any{"token": "T"}},
		{"/passkeys/registration/begin", "POST", map[string]any{"grant": "G", "name": "Phone"}},
		{"/passkeys/registration/finish", "POST", nil},
		{"/passkeys/recovery/start", "POST", map[string]any{"identifier": "a"}},
		{"/passkeys/recovery/confirm", "POST", map[string]any{"identifier": "a", "code": "123456"}},
		{"/passkeys/recovery/code", "POST", map[string]any{"username": "a", "code": "x-y"}},
		{"/passkeys/recovery/codes", "POST", map[string]any{}},
		{"/passkeys/recovery/codes", "GET", nil},
		{"/passkeys/email", "POST", map[string]any{"email": "b@example.com"}},
		{"/passkeys/email/verify", "POST", map[string]any{"code": "654321"}},
	}
	require.Len(t, got.Log, len(want), "%s", out)
	for i, w := range want {
		require.Equal(t, w.url, got.Log[i].URL)
		require.Equal(t, w.method, got.Log[i].Method, w.url)
		if w.body != nil {
			require.Equal(t, w.body, got.Log[i].Body, w.url)
		}
	}
	require.Equal(t, true, got.Registered["recovered"])
	require.Equal(t, []any{"a", "b"}, got.Codes["codes"])
	require.EqualValues(t, 9, got.Left["left"])
}

// nodeBinary finds Node.js for the JS client's tests: missing, the test
// skips, or fails under CI=true.
func nodeBinary(t *testing.T) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		testenv.Unavailable(t, "Node.js", "PATH", err, "apt-get install -y nodejs")
	}
	return node
}

// TestClientJSLinkHelpers runs the device-linking helpers of client.js in
// Node with a stubbed fetch: waitForLink polls with a growing delay up to
// its ceiling, waits out a 429's Retry-After, resolves on "approved" and
// throws link_denied / link_expired / aborted; completeLink registers with
// the grant; lookup posts the code, approve and deny the link ID, and
// approve answers 403 reauth_required by re-authenticating and retrying.
func TestClientJSLinkHelpers(t *testing.T) {
	node := nodeBinary(t)
	out, err := exec.Command(node, "testdata/client_link.js", "client.js").Output()
	require.NoError(t, err, "%s", out)
	var got struct {
		Outcomes map[string]map[string]any `json:"outcomes"`
		Started  map[string]any            `json:"started"`
		Gaps     []float64                 `json:"gaps"`
		Seen     []string                  `json:"seen"`
		Log      []struct {
			URL    string         `json:"url"`
			Method string         `json:"method"`
			Body   map[string]any `json:"body"`
		} `json:"log"`
		Registered        map[string]any `json:"registered"`
		Looked            map[string]any `json:"looked"`
		PollsPastDeadline int            `json:"pollsPastDeadline"`
	}
	require.NoError(t, json.Unmarshal(out, &got), "%s", out)
	require.Equal(t, "amber otter", got.Started["phrase"])
	require.Equal(t, map[string]any{"ok": map[string]any{"status": "approved", "grant": "G"}}, got.Outcomes["approved"])
	require.Equal(t, []string{"pending", "pending", "pending", "approved"}, got.Seen, "a 429 is not an answer")
	require.Len(t, got.Gaps, 5, "%v", got.Gaps)
	// 50 ms, 75 ms, then the 120 ms ceiling; after the 429, its Retry-After (1 s).
	require.InDelta(t, 50, got.Gaps[0], 40)
	require.Greater(t, got.Gaps[1], got.Gaps[0]-5)
	require.InDelta(t, 120, got.Gaps[3], 60)
	require.GreaterOrEqual(t, got.Gaps[4], 990.0)
	require.Equal(t, "link_denied", got.Outcomes["denied"]["code"])
	require.Equal(t, "link_expired", got.Outcomes["expired"]["code"])
	require.Equal(t, "link_expired", got.Outcomes["pastDeadline"]["code"])
	require.Zero(t, got.PollsPastDeadline, "no poll after the deadline")
	require.Equal(t, "aborted", got.Outcomes["aborted"]["code"])
	require.Equal(t, "link_not_found", got.Outcomes["badCode"]["code"])
	require.Equal(t, true, got.Registered["linked"])
	require.Equal(t, "Linux", got.Looked["os"])
	require.Equal(t, "link_phrase_mismatch", got.Outcomes["wrongWords"]["code"], "wrong words are not retried")
	type call struct {
		url  string
		body map[string]any
	}
	want := []call{
		{"/passkeys/link/start", map[string]any{}},
		{"/passkeys/registration/begin", map[string]any{"grant": "G", "name": "Laptop"}},
		{"/passkeys/registration/finish", nil},
		{"/passkeys/link/lookup", map[string]any{"code": "WRONG"}},
		{"/passkeys/link/lookup", map[string]any{"code": "ABCD-EFGH"}},
		{"/passkeys/link/approve", map[string]any{"linkId": "L1", "phrase": "Amber Otter"}},
		{"/passkeys/reauth/begin", map[string]any{}},
		{"/passkeys/reauth/finish", nil},
		{"/passkeys/link/approve", map[string]any{"linkId": "L1", "phrase": "Amber Otter"}},
		{"/passkeys/link/approve", map[string]any{"linkId": "L1", "phrase": "tiger"}},
		{"/passkeys/link/deny", map[string]any{"linkId": "L1"}},
	}
	require.Len(t, got.Log, len(want), "%s", out)
	for i, w := range want {
		require.Equal(t, w.url, got.Log[i].URL)
		require.Equal(t, "POST", got.Log[i].Method, w.url)
		if w.body != nil {
			require.Equal(t, w.body, got.Log[i].Body, w.url)
		}
	}
}

// TestClientJSReauth runs client.js in Node with a stubbed server that
// answers 403 reauth_required until a re-authentication: revokeCredential,
// register (adding a passkey) and fetch re-authenticate and retry once;
// a second refusal, reauth: false and a declined beforeReauth throw;
// upgrade() never prompts.
func TestClientJSReauth(t *testing.T) {
	node := nodeBinary(t)
	out, err := exec.Command(node, "testdata/client_reauth.js", "client.js").Output()
	require.NoError(t, err, "%s", out)
	type step struct {
		Result any              `json:"result"`
		Error  string           `json:"error"`
		Status float64          `json:"status"`
		Log    []map[string]any `json:"log"`
	}
	var got map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(out, &got), "%s", out)
	parse := func(name string) step {
		var s step
		require.NoError(t, json.Unmarshal(got[name], &s), name)
		return s
	}
	fetch := func(url, method string) map[string]any { return map[string]any{"url": url, "method": method} }
	reauth := []map[string]any{fetch("/passkeys/reauth/begin", "POST"), {"get": "RE"}, fetch("/passkeys/reauth/finish", "POST")}
	seq := func(parts ...[]map[string]any) []map[string]any {
		var all []map[string]any
		for _, p := range parts {
			all = append(all, p...)
		}
		return all
	}
	del := []map[string]any{fetch("/passkeys/credentials/XY", "DELETE")}

	s := parse("revoke")
	require.Empty(t, s.Error)
	require.Equal(t, seq(del, reauth, del), s.Log)

	s = parse("register")
	require.Empty(t, s.Error)
	begin := []map[string]any{fetch("/passkeys/registration/begin", "POST")}
	require.Equal(t, seq(begin, reauth, begin, []map[string]any{{"create": "modal"}, fetch("/passkeys/registration/finish", "POST")}), s.Log)

	s = parse("fetch")
	require.Empty(t, s.Error)
	app := []map[string]any{fetch("/app/sensitive", "POST")}
	require.Equal(t, seq(app, reauth, app), s.Log)
	require.Equal(t, map[string]any{"ok": true}, s.Result)

	s = parse("setEmail")
	require.Empty(t, s.Error)
	email := []map[string]any{fetch("/passkeys/email", "POST")}
	require.Equal(t, seq(email, reauth, email), s.Log, "a new address re-authenticates first")

	s = parse("upgrade")
	require.Empty(t, s.Error)
	require.Nil(t, s.Result, "a silent upgrade gives up instead of prompting")
	require.Equal(t, begin, s.Log)

	s = parse("twice")
	require.Equal(t, "reauth_required", s.Error, "retried once only")
	require.EqualValues(t, 403, s.Status)
	require.Equal(t, seq(del, reauth, del), s.Log)

	for _, name := range []string{"off", "declined"} {
		s = parse(name)
		require.Equal(t, "reauth_required", s.Error, name)
		require.Equal(t, del, s.Log, name)
	}
	s = parse("confirmed")
	require.Empty(t, s.Error)
	require.Equal(t, seq(del, reauth, del), s.Log)
	require.JSONEq(t, "1", string(got["asked"]))
}

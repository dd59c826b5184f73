package audit_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/account"
	"github.com/webauthnkit/webauthnkit/audit"
	"github.com/webauthnkit/webauthnkit/httpadapter"
	"github.com/webauthnkit/webauthnkit/memstore"
	"github.com/webauthnkit/webauthnkit/webauthntest"
)

const (
	rpID   = "example.com"
	origin = "https://example.com"
)

var epoch = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// lines decodes the JSON lines written to buf.
func lines(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for line := range strings.SplitSeq(strings.TrimSpace(buf.String()), "\n") {
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &m), "%s", line)
		out = append(out, m)
	}
	buf.Reset()
	return out
}

func keys(m map[string]any) []string {
	var k []string
	for key := range m {
		k = append(k, key)
	}
	slices.Sort(k)
	return k
}

type fixture struct {
	rp     *webauthnkit.RelyingParty
	out    *bytes.Buffer
	secret [][]byte // what must never appear: challenges, keys, signatures
}

func newFixture(t *testing.T, opts audit.Options) *fixture {
	now := func() time.Time { return epoch }
	mem, err := memstore.New(memstore.WithClock(now))
	require.NoError(t, err)
	t.Cleanup(func() { mem.Close() })
	f := &fixture{out: &bytes.Buffer{}}
	al := audit.NewJSON(f.out, opts)
	f.rp, err = webauthnkit.New(webauthnkit.Config{
		RPID: rpID, Origins: []string{origin}, Credentials: mem, Ceremonies: mem,
		Now: now, OnEvent: al.OnEvent,
	})
	require.NoError(t, err)
	return f
}

// begin records the ceremony's challenge among the secrets.
func (f *fixture) begin(t *testing.T) func(*webauthnkit.Begin, error) *webauthnkit.Begin {
	return func(b *webauthnkit.Begin, err error) *webauthnkit.Begin {
		require.NoError(t, err)
		var o struct{ Challenge string }
		require.NoError(t, json.Unmarshal(b.Options, &o))
		f.secret = append(f.secret, []byte(o.Challenge), []byte(b.CeremonyID))
		return b
	}
}

// response records the signature and keys of a browser response.
func (f *fixture) response(t *testing.T, body []byte) []byte {
	var r struct {
		Response struct {
			Signature, PublicKey, AttestationObject, ClientDataJSON string
		}
	}
	require.NoError(t, json.Unmarshal(body, &r))
	for _, s := range []string{r.Response.Signature, r.Response.PublicKey, r.Response.AttestationObject, r.Response.ClientDataJSON} {
		if s != "" {
			f.secret = append(f.secret, []byte(s))
		}
	}
	return body
}

func (f *fixture) requireNoSecret(t *testing.T, text string, personal ...string) {
	t.Helper()
	for _, s := range f.secret {
		require.NotContains(t, text, string(s))
	}
	for _, p := range personal {
		require.NotContains(t, text, p)
	}
}

// Every line has exactly the documented fields for its event, and no
// secret: not the challenge, ceremony ID, signature, key, error text or
// (by default) the user's name.
func TestAuditLinesExactFields(t *testing.T) {
	f := newFixture(t, audit.Options{})
	ctx := context.Background()
	key := webauthntest.New(webauthntest.WithOrigin(origin), webauthntest.SecurityKey())

	b := f.begin(t)(f.rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{Username: "alice@example.com"}))
	body, err := key.Register(b.Options)
	require.NoError(t, err)
	reg, err := f.rp.FinishRegistration(ctx, b.CeremonyID, f.response(t, body))
	require.NoError(t, err)

	b = f.begin(t)(f.rp.BeginLogin(ctx, webauthnkit.LoginRequest{}))
	body, err = key.Login(b.Options)
	require.NoError(t, err)
	_, err = f.rp.FinishLogin(ctx, b.CeremonyID, f.response(t, body))
	require.NoError(t, err)

	// A forged signature: invalid_response, whose error text quotes
	// go-webauthn's details.
	b = f.begin(t)(f.rp.BeginLogin(ctx, webauthnkit.LoginRequest{}))
	body, err = key.Login(b.Options, webauthntest.BadSignature())
	require.NoError(t, err)
	_, err = f.rp.FinishLogin(ctx, b.CeremonyID, f.response(t, body))
	require.ErrorIs(t, err, webauthnkit.ErrInvalidResponse)
	errText := err.Error()

	// A clone: the counter goes backwards.
	require.True(t, key.SetSignCount(reg.Credential.ID, 0))
	b = f.begin(t)(f.rp.BeginLogin(ctx, webauthnkit.LoginRequest{}))
	body, err = key.Login(b.Options)
	require.NoError(t, err)
	_, err = f.rp.FinishLogin(ctx, b.CeremonyID, f.response(t, body))
	require.ErrorIs(t, err, webauthnkit.ErrCounterRegression)

	_, err = f.rp.EndSessions(ctx, reg.User.Handle)
	require.NoError(t, err)

	text := f.out.String()
	f.requireNoSecret(t, text, "alice", errText, string(reg.Credential.PublicKey), b64(reg.Credential.PublicKey))
	got := lines(t, f.out)
	handle, cred := b64(reg.User.Handle), b64(reg.Credential.ID)
	time := epoch.Format(time.RFC3339)

	type line = map[string]any
	want := []line{
		{"time": time, "level": "INFO", "msg": audit.Message, "event": "registration.succeeded", "outcome": "success",
			"user_handle": handle, "credential_id": cred},
		{"time": time, "level": "INFO", "msg": audit.Message, "event": "login.succeeded", "outcome": "success",
			"user_handle": handle, "credential_id": cred},
		{"time": time, "level": "WARN", "msg": audit.Message, "event": "login.failed", "outcome": "failure",
			"code": "invalid_response", "credential_id": cred},
		{"time": time, "level": "WARN", "msg": audit.Message, "event": "credential.counter_regression", "outcome": "failure",
			"user_handle": handle, "credential_id": cred},
		{"time": time, "level": "WARN", "msg": audit.Message, "event": "login.failed", "outcome": "failure",
			"code": "counter_regression", "credential_id": cred},
		{"time": time, "level": "INFO", "msg": audit.Message, "event": "sessions.ended", "outcome": "success",
			"user_handle": handle},
	}
	require.Len(t, got, len(want))
	for i := range want {
		// duration_ms is on the ceremony outcomes, a positive number.
		if strings.HasPrefix(want[i]["event"].(string), "login.") || strings.HasPrefix(want[i]["event"].(string), "registration.") {
			d, ok := got[i]["duration_ms"].(float64)
			require.True(t, ok, "line %d: %v", i, got[i])
			require.Positive(t, d)
			want[i]["duration_ms"] = d
		}
		require.Equal(t, keys(want[i]), keys(got[i]), "line %d", i)
		require.Equal(t, want[i], got[i], "line %d", i)
	}
}

// With IncludeUsername the name is added where the event has it, and
// ContextAttrs adds the application's fields.
func TestAuditUsernameAndContext(t *testing.T) {
	type reqID struct{}
	f := newFixture(t, audit.Options{
		IncludeUsername: true,
		ContextAttrs: func(ctx context.Context) []slog.Attr {
			if id, ok := ctx.Value(reqID{}).(string); ok {
				return []slog.Attr{slog.String("request_id", id)}
			}
			return nil
		},
	})
	ctx := context.WithValue(context.Background(), reqID{}, "r-17")
	key := webauthntest.New(webauthntest.WithOrigin(origin), webauthntest.SyncedPasskey())
	b := f.begin(t)(f.rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{Username: "bob"}))
	body, err := key.Register(b.Options)
	require.NoError(t, err)
	_, err = f.rp.FinishRegistration(ctx, b.CeremonyID, f.response(t, body))
	require.NoError(t, err)
	got := lines(t, f.out)
	require.Len(t, got, 1)
	require.Equal(t, "bob", got[0]["username"])
	require.Equal(t, "r-17", got[0]["request_id"])
	require.Equal(t, []string{"credential_id", "duration_ms", "event", "level", "msg", "outcome", "request_id", "time", "user_handle", "username"}, keys(got[0]))
}

// Account events and rate-limit refusals have their own fields; an
// account event's name is left out by default.
func TestAuditAccountAndRateLimit(t *testing.T) {
	var buf bytes.Buffer
	al := audit.NewJSON(&buf, audit.Options{})
	al.OnAccountEvent(account.Event{Type: account.EventNotified, Time: epoch, UserHandle: []byte{1, 2, 3}, Username: "carol@example.com", Kind: account.Kind("passkey_added")})
	al.OnAccountEvent(account.Event{Type: account.EventSignUpStarted, Time: epoch, Username: "dave@example.com"})
	r := httptest.NewRequest("POST", "/passkeys/login/begin", nil)
	al.OnRateLimited(r, httpadapter.Refusal{Class: "begin", Client: netip.MustParseAddr("2001:db8::7"), Global: true, RetryAfter: time.Second})
	al.OnRateLimited(r, httpadapter.Refusal{Class: "finish"}) // counted under RateLimit.Key: no address
	require.NotContains(t, buf.String(), "example.com")
	got := lines(t, &buf)
	require.Len(t, got, 4)
	ts := epoch.Format(time.RFC3339)
	require.Equal(t, map[string]any{"time": ts, "level": "INFO", "msg": audit.Message, "event": "account.notified", "outcome": "success",
		"user_handle": "AQID", "kind": "passkey_added"}, got[0])
	require.Equal(t, map[string]any{"time": ts, "level": "INFO", "msg": audit.Message, "event": "account.sign_up_started", "outcome": "success"}, got[1])
	delete(got[2], "time") // the refusal's own time
	require.Equal(t, map[string]any{"level": "WARN", "msg": audit.Message, "event": "http.rate_limited", "outcome": "failure",
		"code": "rate_limited", "class": "begin", "budget": "global", "client_ip": "2001:db8::7"}, got[2])
	require.Equal(t, []string{"budget", "class", "code", "event", "level", "msg", "outcome", "time"}, keys(got[3]))
}

// A hostile client's oversized credential ID is not copied into the log.
func TestAuditOversizedCredentialID(t *testing.T) {
	var buf bytes.Buffer
	al := audit.NewJSON(&buf, audit.Options{})
	al.OnEvent(context.Background(), webauthnkit.Event{Type: webauthnkit.EventLoginFailed, Time: epoch,
		Code: webauthnkit.CodeUnknownCredential, CredentialID: bytes.Repeat([]byte{7}, 1024)})
	al.OnEvent(context.Background(), webauthnkit.Event{Type: webauthnkit.EventLoginFailed, Time: epoch,
		Code: webauthnkit.CodeUnknownCredential, CredentialID: bytes.Repeat([]byte{7}, 1023)})
	got := lines(t, &buf)
	require.NotContains(t, got[0], "credential_id")
	require.Len(t, got[1]["credential_id"], 1364)
}

// A flood cannot write a line per refused request: the lines are capped,
// and every refusal not written is counted in a later line.
func TestAuditRateLimitedCapped(t *testing.T) {
	var buf bytes.Buffer
	al := audit.NewJSON(&buf, audit.Options{RateLimitedLines: 50}) // bursts of 500
	r := httptest.NewRequest("POST", "/passkeys/login/begin", nil)
	ref := httpadapter.Refusal{Class: "begin", Client: netip.MustParseAddr("203.0.113.9")}
	const flood = 5000
	for range flood {
		al.OnRateLimited(r, ref)
	}
	time.Sleep(100 * time.Millisecond) // a few tokens back
	al.OnRateLimited(r, ref)
	got := lines(t, &buf)
	require.Less(t, len(got), flood/2, "the cap must hold")
	total := 0
	for _, l := range got {
		total++
		if n, ok := l["suppressed"].(float64); ok {
			total += int(n)
		}
	}
	require.Equal(t, flood+1, total, "every refusal is written or counted")
	require.Contains(t, got[len(got)-1], "suppressed")

	// Negative: no cap.
	al = audit.NewJSON(&buf, audit.Options{RateLimitedLines: -1})
	for range 1000 {
		al.OnRateLimited(r, ref)
	}
	require.Len(t, lines(t, &buf), 1000)
}

package webauthnkit_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/internal/storewrap"
	"github.com/webauthnkit/webauthnkit/webauthntest"
)

var (
	goodModel    = [16]byte{0x11, 1}
	revokedModel = [16]byte{0x22, 2}
)

// revokes is an audit evaluation that refuses one authenticator model, as
// a metadata update revoking it would.
func revokes(model [16]byte) webauthnkit.AuditFunc {
	return func(_ context.Context, c webauthnkit.Credential) (webauthnkit.AuditVerdict, error) {
		if bytes.Equal(c.AAGUID, model[:]) {
			return webauthnkit.AuditVerdict{Trust: "revoked", Refuse: true, Reason: "authenticator model revoked"}, nil
		}
		return webauthnkit.AuditVerdict{Trust: "trusted"}, nil
	}
}

func acceptsAll(context.Context, webauthnkit.Credential) (webauthnkit.AuditVerdict, error) {
	return webauthnkit.AuditVerdict{Trust: "trusted"}, nil
}

func (l *eventLog) ofType(typ webauthnkit.EventType) []webauthnkit.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []webauthnkit.Event
	for _, e := range l.events {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

// TestRegistrationKeepsAttestation: a registration with an attestation
// statement stores its attestation object and client data hash, which the
// attestation signature covers; one with "none" stores neither.
func TestRegistrationKeepsAttestation(t *testing.T) {
	e := newEnv(t)
	auth := webauthntest.New(webauthntest.WithOrigin(testOrigin), webauthntest.WithAttestation(webauthntest.AttestationPackedSelf))
	begin, err := e.rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{Username: "packed"})
	require.NoError(t, err)
	body, err := auth.Register(begin.Options)
	require.NoError(t, err)
	reg, err := e.rp.FinishRegistration(ctx, begin.CeremonyID, body)
	require.NoError(t, err)
	var resp struct {
		Response struct {
			ClientDataJSON    string `json:"clientDataJSON"`
			AttestationObject string `json:"attestationObject"`
		} `json:"response"`
	}
	require.NoError(t, json.Unmarshal(body, &resp))
	stored, err := e.store.GetCredential(ctx, reg.Credential.ID)
	require.NoError(t, err)
	require.Equal(t, "packed", stored.AttestationFormat)
	require.Equal(t, b64url(t, resp.Response.AttestationObject), stored.AttestationObject)
	h := sha256.Sum256(b64url(t, resp.Response.ClientDataJSON))
	require.Equal(t, h[:], stored.AttestationClientDataHash)
	require.True(t, stored.QuarantinedAt.IsZero())

	none, _ := e.signUp(t, "none")
	stored, err = e.store.GetCredential(ctx, none.Credential.ID)
	require.NoError(t, err)
	require.Nil(t, stored.AttestationObject, `"none" proves nothing: not kept`)
	require.Nil(t, stored.AttestationClientDataHash)
}

// TestAuditQuarantine: an audit against metadata that revoked a model
// quarantines its passkeys (events, report), whose logins then fail with
// ErrCredentialQuarantined after the signature check, while other passkeys
// sign in; a later audit against metadata that clears the model lifts the
// quarantine. An application's own quarantine is not lifted by an audit,
// only by ReleaseCredential.
func TestAuditQuarantine(t *testing.T) {
	e := newEnv(t)
	packed := webauthntest.WithAttestation(webauthntest.AttestationPackedSelf)
	_, revokedAuth := e.signUp(t, "alice", packed, webauthntest.WithAAGUID(revokedModel))
	_, goodAuth := e.signUp(t, "bob", packed, webauthntest.WithAAGUID(goodModel))
	for _, name := range []string{"carol", "dave", "erin"} {
		e.signUp(t, name, webauthntest.WithAAGUID(goodModel))
	}
	aliceCred := revokedAuth.Credentials()[0].ID

	var progress []webauthnkit.AuditReport
	report, err := e.rp.AuditCredentials(ctx, webauthnkit.AuditRequest{
		Evaluate: revokes(revokedModel), Quarantine: true, PageSize: 2,
		Progress: func(r webauthnkit.AuditReport) { progress = append(progress, r) },
	})
	require.NoError(t, err)
	require.Equal(t, webauthnkit.AuditReport{Scanned: 5, Refused: 1, Quarantined: 1, Updated: 5}, report)
	require.Len(t, progress, 3, "one progress report per page of 2")
	require.NotEmpty(t, progress[0].Cursor)
	require.Empty(t, progress[2].Cursor)

	quarantined := e.events.ofType(webauthnkit.EventCredentialQuarantined)
	require.Len(t, quarantined, 1)
	require.Equal(t, aliceCred, quarantined[0].CredentialID)
	require.ErrorIs(t, quarantined[0].Err, webauthnkit.ErrCredentialQuarantined)
	require.Contains(t, quarantined[0].Err.Error(), "authenticator model revoked")
	require.Len(t, e.events.ofType(webauthnkit.EventAuditRefused), 1)

	stored, err := e.store.GetCredential(ctx, aliceCred)
	require.NoError(t, err)
	require.Equal(t, "revoked", stored.AttestationTrust)
	require.Equal(t, e.clock.Now(), stored.QuarantinedAt)
	require.Equal(t, "audit: authenticator model revoked", stored.QuarantineReason)

	_, err = e.login(t, revokedAuth, "alice")
	require.ErrorIs(t, err, webauthnkit.ErrCredentialQuarantined)
	require.Equal(t, webauthnkit.CodeCredentialQuarantined, webauthnkit.ErrorCode(err))
	last := e.events.last()
	require.Equal(t, webauthnkit.EventLoginFailed, last.Type)
	require.Equal(t, webauthnkit.CodeCredentialQuarantined, last.Code)
	require.Equal(t, aliceCred, last.CredentialID)
	after, err := e.store.GetCredential(ctx, aliceCred)
	require.NoError(t, err)
	require.Equal(t, stored.SignCount, after.SignCount, "a refused login writes nothing back")
	_, err = e.login(t, goodAuth, "bob")
	require.NoError(t, err, "other passkeys sign in")

	// A second audit against the same metadata changes nothing.
	report, err = e.rp.AuditCredentials(ctx, webauthnkit.AuditRequest{Evaluate: revokes(revokedModel), Quarantine: true})
	require.NoError(t, err)
	require.Equal(t, webauthnkit.AuditReport{Scanned: 5, Refused: 1}, report)

	// The metadata clears the model: the audit's quarantine is lifted.
	report, err = e.rp.AuditCredentials(ctx, webauthnkit.AuditRequest{Evaluate: acceptsAll, Quarantine: true})
	require.NoError(t, err)
	require.Equal(t, webauthnkit.AuditReport{Scanned: 5, Released: 1, Updated: 1}, report)
	require.Len(t, e.events.ofType(webauthnkit.EventCredentialReleased), 1)
	login, err := e.login(t, revokedAuth, "alice")
	require.NoError(t, err)
	require.True(t, login.Credential.QuarantinedAt.IsZero())

	// The application's own quarantine outlives audits.
	require.NoError(t, e.rp.QuarantineCredential(ctx, aliceCred, "lost key reported"))
	_, err = e.rp.AuditCredentials(ctx, webauthnkit.AuditRequest{Evaluate: acceptsAll, Quarantine: true})
	require.NoError(t, err)
	_, err = e.login(t, revokedAuth, "alice")
	require.ErrorIs(t, err, webauthnkit.ErrCredentialQuarantined)
	require.NoError(t, e.rp.ReleaseCredential(ctx, aliceCred))
	_, err = e.login(t, revokedAuth, "alice")
	require.NoError(t, err)

	require.ErrorIs(t, e.rp.QuarantineCredential(ctx, []byte("nope"), "x"), webauthnkit.ErrNotFound)
	require.ErrorIs(t, e.rp.QuarantineCredential(ctx, aliceCred, "audit: forged"), webauthnkit.ErrInvalidRequest)
	require.ErrorIs(t, e.rp.QuarantineCredential(ctx, aliceCred, string(make([]byte, webauthnkit.MaxAuditTextLength+1))), webauthnkit.ErrInvalidRequest)
}

// TestAuditReportOnly: without Quarantine the audit records the trust and
// emits events, and logins go on.
func TestAuditReportOnly(t *testing.T) {
	e := newEnv(t)
	_, auth := e.signUp(t, "alice", webauthntest.WithAAGUID(revokedModel))
	report, err := e.rp.AuditCredentials(ctx, webauthnkit.AuditRequest{Evaluate: revokes(revokedModel)})
	require.NoError(t, err)
	require.Equal(t, webauthnkit.AuditReport{Scanned: 1, Refused: 1, Updated: 1}, report)
	require.Len(t, e.events.ofType(webauthnkit.EventAuditRefused), 1)
	require.Empty(t, e.events.ofType(webauthnkit.EventCredentialQuarantined))
	login, err := e.login(t, auth, "alice")
	require.NoError(t, err)
	require.Equal(t, "revoked", login.Credential.AttestationTrust)
	require.Equal(t, e.clock.Now(), login.Credential.AttestationCheckedAt)
}

// TestAuditResumes: an audit canceled between pages returns ErrCanceled and
// the cursor to resume from; the resumed run reads the rest.
func TestAuditResumes(t *testing.T) {
	e := newEnv(t)
	for _, name := range []string{"a1", "a2", "a3", "a4", "a5", "a6", "a7"} {
		e.signUp(t, name)
	}
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	report, err := e.rp.AuditCredentials(cctx, webauthnkit.AuditRequest{Evaluate: acceptsAll, PageSize: 3,
		Progress: func(webauthnkit.AuditReport) { cancel() }})
	require.ErrorIs(t, err, webauthnkit.ErrCanceled)
	require.Equal(t, 3, report.Scanned)
	require.NotEmpty(t, report.Cursor)

	rest, err := e.rp.AuditCredentials(ctx, webauthnkit.AuditRequest{Evaluate: acceptsAll, PageSize: 3, Cursor: report.Cursor})
	require.NoError(t, err)
	require.Equal(t, 4, rest.Scanned, "the resumed audit reads the other credentials")
	require.Empty(t, rest.Cursor)

	_, err = e.rp.AuditCredentials(ctx, webauthnkit.AuditRequest{Evaluate: acceptsAll, Cursor: "garbage"})
	require.ErrorIs(t, err, webauthnkit.ErrInvalidRequest)
}

// TestAuditEvaluationErrors: a credential whose evaluation fails is counted
// and reported, and the audit goes on; a verdict with an oversized Trust
// is an evaluation error too.
func TestAuditEvaluationErrors(t *testing.T) {
	e := newEnv(t)
	bad, _ := e.signUp(t, "bad")
	e.signUp(t, "good")
	report, err := e.rp.AuditCredentials(ctx, webauthnkit.AuditRequest{
		Evaluate: func(_ context.Context, c webauthnkit.Credential) (webauthnkit.AuditVerdict, error) {
			if bytes.Equal(c.ID, bad.Credential.ID) {
				return webauthnkit.AuditVerdict{}, errors.New("malformed attestation")
			}
			return webauthnkit.AuditVerdict{Trust: string(make([]byte, webauthnkit.MaxAuditTextLength+1))}, nil
		},
		Quarantine: true,
	})
	require.NoError(t, err)
	require.Equal(t, webauthnkit.AuditReport{Scanned: 2, Failed: 2}, report)
	failed := e.events.ofType(webauthnkit.EventAuditFailed)
	require.Len(t, failed, 2)
}

// TestAuditNeedsStoreAndEvaluation: a store that does not declare Audit,
// or no evaluation, is ErrInvalidRequest; so is a page size out of range.
func TestAuditNeedsStoreAndEvaluation(t *testing.T) {
	e := newEnv(t)
	_, err := e.rp.AuditCredentials(ctx, webauthnkit.AuditRequest{})
	require.ErrorIs(t, err, webauthnkit.ErrInvalidRequest)
	_, err = e.rp.AuditCredentials(ctx, webauthnkit.AuditRequest{Evaluate: acceptsAll, PageSize: webauthnkit.MaxScanPageSize + 1})
	require.ErrorIs(t, err, webauthnkit.ErrInvalidRequest)

	store := newMemStore(t)
	wrapped := storewrap.New(store, store, storewrap.WithoutAudit())
	require.False(t, wrapped.Features().Audit)
	rp, err := webauthnkit.New(webauthnkit.Config{RPID: testRPID, Origins: []string{testOrigin}, Credentials: wrapped, Ceremonies: wrapped, Secret: make([]byte, 32)})
	require.NoError(t, err)
	_, err = rp.AuditCredentials(ctx, webauthnkit.AuditRequest{Evaluate: acceptsAll})
	require.ErrorIs(t, err, webauthnkit.ErrInvalidRequest)
	require.ErrorIs(t, rp.QuarantineCredential(ctx, []byte("x"), "r"), webauthnkit.ErrInvalidRequest)
}

func b64url(t testing.TB, s string) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	require.NoError(t, err)
	return b
}

// TestAuditStoreOutage: a store failing during an audit stops it with
// ErrStoreUnavailable and a cursor; once the store is back, the audit
// resumed from the cursor finishes the job.
func TestAuditStoreOutage(t *testing.T) {
	store := newMemStore(t)
	wrapped := storewrap.New(store, store)
	require.True(t, wrapped.Features().Audit, "forwarded")
	e := newEnv(t, func(c *webauthnkit.Config) { c.Credentials, c.Ceremonies = wrapped, wrapped })
	for _, name := range []string{"a1", "a2", "a3", "a4", "a5"} {
		e.signUp(t, name, webauthntest.WithAAGUID(revokedModel))
	}
	wrapped.Fail(storewrap.ErrDown, storewrap.SetCredentialAudit)
	report, err := e.rp.AuditCredentials(ctx, webauthnkit.AuditRequest{Evaluate: revokes(revokedModel), Quarantine: true, PageSize: 2})
	require.ErrorIs(t, err, webauthnkit.ErrStoreUnavailable)
	require.Zero(t, report.Quarantined)
	require.Empty(t, report.Cursor, "stopped on the first page: resume from the start")

	wrapped.Fail(nil)
	report, err = e.rp.AuditCredentials(ctx, webauthnkit.AuditRequest{Evaluate: revokes(revokedModel), Quarantine: true, PageSize: 2,
		Progress: func(r webauthnkit.AuditReport) {
			if r.Scanned == 2 {
				wrapped.Fail(storewrap.ErrDown, storewrap.ScanCredentials)
			}
		}})
	require.ErrorIs(t, err, webauthnkit.ErrStoreUnavailable)
	require.Equal(t, 2, report.Quarantined)
	require.NotEmpty(t, report.Cursor)

	wrapped.Fail(nil)
	rest, err := e.rp.AuditCredentials(ctx, webauthnkit.AuditRequest{Evaluate: revokes(revokedModel), Quarantine: true, PageSize: 2, Cursor: report.Cursor})
	require.NoError(t, err)
	require.Equal(t, 3, rest.Quarantined, "the rest, once each")
	require.Equal(t, 3, rest.Scanned)
}

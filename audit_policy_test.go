package webauthnkit_test

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/go-webauthn/webauthn/metadata"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/internal/backendtest"
	"github.com/webauthnkit/webauthnkit/webauthntest"
)

// TestAuditByPolicyEveryBackend: on every backend, an audit with the
// default evaluation (Config.Attestation against the current metadata)
// quarantines the passkeys of a model the metadata revoked after their
// registration, from the attestation object kept at registration; their
// logins are refused; passkeys without attestation ("none") are left
// alone; and once the metadata clears the model, the next audit lifts the
// quarantine.
func TestAuditByPolicyEveryBackend(t *testing.T) {
	for _, b := range backendtest.All() {
		t.Run(b.Name, func(t *testing.T) {
			w := newAttWorld(t)
			clock := &fakeClock{t: time.Now().UTC().Truncate(time.Millisecond)}
			store := b.Open(t, clock.Now)
			e := &env{clock: clock, events: &eventLog{}}
			rp, err := webauthnkit.New(webauthnkit.Config{
				RPID: testRPID, Origins: []string{testOrigin}, Credentials: store, Ceremonies: store,
				Secret: make([]byte, 32), Now: clock.Now, OnEvent: e.events.record,
				Logger:      slog.New(slog.DiscardHandler),
				Attestation: w.policy(webauthnkit.AttestationEnforce),
			})
			require.NoError(t, err)
			e.rp = rp
			reg, key := e.signUp(t, "alice", device(w.good)...)
			require.NotNil(t, reg.Credential.AttestationObject, "packed x5c: kept")
			require.Equal(t, "trusted", reg.Credential.AttestationTrust)
			_, passkey := e.signUp(t, "bob")

			report, err := rp.AuditCredentials(ctx, webauthnkit.AuditRequest{Quarantine: true})
			require.NoError(t, err)
			require.Equal(t, 2, report.Scanned)
			require.Zero(t, report.Refused)

			w.setEntry(w.good, "Good Key", webauthntest.StatusReport{Status: "REVOKED", EffectiveDate: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)})
			w.publish(t)
			report, err = rp.AuditCredentials(ctx, webauthnkit.AuditRequest{Quarantine: true, PageSize: 1})
			require.NoError(t, err)
			require.Equal(t, 2, report.Scanned)
			require.Equal(t, 1, report.Quarantined)
			_, err = e.login(t, key, "alice")
			require.ErrorIs(t, err, webauthnkit.ErrCredentialQuarantined)
			_, err = e.login(t, passkey, "bob")
			require.NoError(t, err)
			stored, err := store.GetCredential(ctx, reg.Credential.ID)
			require.NoError(t, err)
			require.Equal(t, "revoked", stored.AttestationTrust)
			require.Contains(t, stored.QuarantineReason, "REVOKED")
			q := e.events.ofType(webauthnkit.EventCredentialQuarantined)
			require.Len(t, q, 1)
			require.NotNil(t, q[0].Attestation, "the event carries the policy's result")
			require.Equal(t, webauthnkit.AttestationRevoked, q[0].Attestation.Trust)
			require.Equal(t, "Good Key", q[0].Attestation.Description)

			w.setEntry(w.good, "Good Key")
			w.publish(t)
			report, err = rp.AuditCredentials(ctx, webauthnkit.AuditRequest{Quarantine: true})
			require.NoError(t, err)
			require.Equal(t, 1, report.Released)
			_, err = e.login(t, key, "alice")
			require.NoError(t, err)
		})
	}
}

// downMetadata is a metadata source that cannot be read.
type downMetadata struct{}

func (downMetadata) MetadataEntry(context.Context, uuid.UUID, []string) (*metadata.Entry, error) {
	return nil, errors.New("metadata BLOB expired and refresh failed")
}

// TestAuditStopsWhenMetadataUnavailable: under enforce, unreadable metadata
// would make every credential untrusted; the audit stops instead, changes
// nothing and can be resumed.
func TestAuditStopsWhenMetadataUnavailable(t *testing.T) {
	w := newAttWorld(t)
	policy := w.policy(webauthnkit.AttestationEnforce)
	e := newEnv(t, func(c *webauthnkit.Config) { c.Attestation = policy })
	reg, _ := e.signUp(t, "alice", device(w.good)...)
	down := newEnv(t, func(c *webauthnkit.Config) {
		c.Attestation = webauthnkit.AttestationPolicy{Mode: webauthnkit.AttestationEnforce, Metadata: downMetadata{}}
		c.Credentials, c.Ceremonies = e.store, e.store
	})
	report, err := down.rp.AuditCredentials(ctx, webauthnkit.AuditRequest{Quarantine: true})
	require.ErrorIs(t, err, webauthnkit.ErrInternal)
	require.Zero(t, report.Quarantined)
	require.Zero(t, report.Updated)
	stored, err := e.store.GetCredential(ctx, reg.Credential.ID)
	require.NoError(t, err)
	require.True(t, stored.QuarantinedAt.IsZero())
	require.Equal(t, "trusted", stored.AttestationTrust)
}

// TestAuditWithoutEvidence: passkeys without an attestation object ("none")
// are judged by their model only: RequireAttestation turned on later does
// not quarantine them, a denied AAGUID does.
func TestAuditWithoutEvidence(t *testing.T) {
	w := newAttWorld(t)
	e := newEnv(t, func(c *webauthnkit.Config) { c.Attestation = w.policy(webauthnkit.AttestationEnforce) })
	synced, _ := e.signUp(t, "bob", webauthntest.WithAAGUID(goodModel))
	require.Nil(t, synced.Credential.AttestationObject)
	e.signUp(t, "carol", webauthntest.WithAAGUID(revokedModel))

	strict := newEnv(t, func(c *webauthnkit.Config) {
		c.Attestation = w.policy(webauthnkit.AttestationEnforce)
		c.Attestation.RequireAttestation = true
		c.Credentials, c.Ceremonies = e.store, e.store
	})
	report, err := strict.rp.AuditCredentials(ctx, webauthnkit.AuditRequest{Quarantine: true})
	require.NoError(t, err)
	require.Equal(t, 2, report.Scanned)
	require.Zero(t, report.Quarantined, "no evidence is not a reason to quarantine")

	denying := newEnv(t, func(c *webauthnkit.Config) {
		c.Attestation = w.policy(webauthnkit.AttestationEnforce)
		c.Attestation.DenyAAGUIDs = []string{uuid.UUID(revokedModel).String()}
		c.Credentials, c.Ceremonies = e.store, e.store
	})
	report, err = denying.rp.AuditCredentials(ctx, webauthnkit.AuditRequest{Quarantine: true})
	require.NoError(t, err)
	require.Equal(t, 1, report.Quarantined, "a denied model is")
}

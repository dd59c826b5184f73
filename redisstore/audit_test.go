package redisstore

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit"
)

// TestAuditOldRecords: a credential record written before the attestation
// and audit fields existed (the previous release wrote none of them) reads
// back with no attestation object and no audit state, is returned by a
// scan, and can be audited.
func TestAuditOldRecords(t *testing.T) {
	c := testClient(t)
	s := testStore(t, c)
	ctx := t.Context()
	u, cr := createTestUser(t, s)
	require.NoError(t, c.HDel(ctx, s.credKey(cr.ID), fAttObject, fAttCDHash, fAttTrust, fAttCheckedAt, fQuarantineAt, fQuarantineRs).Err())

	got, err := s.GetCredential(ctx, cr.ID)
	require.NoError(t, err)
	require.Nil(t, got.AttestationObject)
	require.Nil(t, got.AttestationClientDataHash)
	require.Empty(t, got.AttestationTrust)
	require.True(t, got.AttestationCheckedAt.IsZero())
	require.True(t, got.QuarantinedAt.IsZero(), "an old record is not quarantined")
	require.Empty(t, got.QuarantineReason)
	require.Equal(t, cr.Name, got.Name, "the rest is unchanged")
	require.Equal(t, cr.SecondFactorOnly, got.SecondFactorOnly)

	found := false
	for cursor := ""; ; {
		page, next, err := s.ScanCredentials(ctx, cursor, 3)
		require.NoError(t, err)
		for _, p := range page {
			if string(p.ID) == string(cr.ID) {
				found = true
			}
		}
		if next == "" {
			break
		}
		cursor = next
	}
	require.True(t, found, "the old record is scanned")

	q := webauthnkit.CredentialAudit{Trust: "revoked", CheckedAt: time.Now(), QuarantinedAt: time.Now(), QuarantineReason: "model revoked"}
	require.NoError(t, s.SetCredentialAudit(ctx, cr.ID, q))
	got, err = s.GetCredential(ctx, cr.ID)
	require.NoError(t, err)
	require.Equal(t, "revoked", got.AttestationTrust)
	require.False(t, got.QuarantinedAt.IsZero())
	list, err := s.ListCredentials(ctx, u.Handle)
	require.NoError(t, err)
	require.Len(t, list, 1)
	require.Equal(t, "model revoked", list[0].QuarantineReason)
}

// TestScanCursorMalformed: cursors that decode but are not the store's
// shape, and oversized ones, are refused before any SCAN.
func TestScanCursorMalformed(t *testing.T) {
	for _, cursor := range []string{"r1.", "r1.!!", "r1.e30", "s1.AAAA", cursorPrefix + "eyJwIjpbIiJdfQ"} {
		_, err := decodeScanCursor(cursor)
		if cursor == "r1.e30" { // "{}": a fresh state, harmless
			require.NoError(t, err)
			continue
		}
		require.Error(t, err, "cursor %q", cursor)
	}
	big := make([]byte, maxCursorLen)
	for i := range big {
		big[i] = 'A'
	}
	_, err := decodeScanCursor(cursorPrefix + string(big))
	require.Error(t, err)
}

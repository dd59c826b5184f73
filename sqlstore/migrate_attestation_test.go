package sqlstore_test

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/sqlstore"
	"github.com/webauthnkit/webauthnkit/storetest"
)

// insertCredentialAsRelease4 stores a credential with the INSERT of the
// release before migration 005: it names none of the attestation columns.
func insertCredentialAsRelease4(ctx context.Context, t *testing.T, db *sql.DB, d sqlstore.Dialect, prefix string, id, userHandle []byte) {
	t.Helper()
	_, err := db.ExecContext(ctx, rebindAll(d, "INSERT INTO "+prefix+"credentials "+
		"(id, user_handle, public_key, sign_count, aaguid, attestation_format, transports, "+
		"user_present, user_verified, backup_eligible, backup_state, attachment, name, "+
		"created_at, last_used_at, clone_suspected, second_factor_only) "+
		"VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, ?)"),
		id, userHandle, []byte("cose key"), 9, make([]byte, 16), "packed", `["usb"]`,
		true, true, false, false, "cross-platform", "Release 4 key", timeValue(d, time.Now()), false, true)
	require.NoError(t, err)
}

// TestMigrateAttestationAudit: migration 005 adds the attestation and audit
// columns to a database with credentials in it (they read back with no
// attestation object and no audit state, the rest unchanged), the previous
// release's INSERT still works on the migrated table, old rows can be
// scanned and audited, the store keeps every new field, the down file
// removes the columns, and New refuses tables without them.
func TestMigrateAttestationAudit(t *testing.T) {
	columns := []string{"attestation_object", "attestation_client_data_hash", "attestation_trust",
		"attestation_checked_at", "quarantined_at", "quarantine_reason"}
	forEachBackend(t, func(t *testing.T, b backend) {
		db := b.open(t)
		ctx := t.Context()
		prefix := uniquePrefix()
		opt := sqlstore.WithTablePrefix(prefix)
		dropTablesAtEnd(t, db, prefix)

		require.NoError(t, sqlstore.Migrate(ctx, db, b.dialect, opt))
		revertToVersion(t, db, b.dialect, prefix, 4)
		for _, c := range columns {
			require.False(t, columnExists(t, db, b.dialect, prefix+"credentials", c), "005 down drops %s", c)
		}
		require.True(t, columnExists(t, db, b.dialect, prefix+"credentials", "second_factor_only"), "003 stays")
		_, err := sqlstore.New(db, b.dialect, opt)
		require.ErrorContains(t, err, "run sqlstore.Migrate", "New on a schema without the attestation columns")

		handle := storetest.RandomBytes(16)
		_, err = db.ExecContext(ctx, rebindAll(b.dialect, "INSERT INTO "+prefix+
			"users (handle, name, display_name, created_at, session_epoch) VALUES (?, ?, ?, ?, 0)"),
			handle, "old-user", "Old User", timeValue(b.dialect, time.Now()))
		require.NoError(t, err)
		oldID := storetest.RandomBytes(20)
		insertCredentialAsRelease4(ctx, t, db, b.dialect, prefix, oldID, handle)

		require.NoError(t, sqlstore.Migrate(ctx, db, b.dialect, opt))
		require.Equal(t, allVersions, versionRows(t, db, prefix))
		for _, c := range columns {
			require.True(t, columnExists(t, db, b.dialect, prefix+"credentials", c), c)
		}
		s, err := sqlstore.New(db, b.dialect, opt)
		require.NoError(t, err)
		old, err := s.GetCredential(ctx, oldID)
		require.NoError(t, err)
		require.Nil(t, old.AttestationObject, "no attestation object was kept before 005")
		require.Nil(t, old.AttestationClientDataHash)
		require.Empty(t, old.AttestationTrust)
		require.True(t, old.AttestationCheckedAt.IsZero())
		require.True(t, old.QuarantinedAt.IsZero(), "existing credentials are not quarantined")
		require.Empty(t, old.QuarantineReason)
		require.Equal(t, "Release 4 key", old.Name, "and are otherwise unchanged")
		require.EqualValues(t, 9, old.SignCount)
		require.True(t, old.SecondFactorOnly)

		// The previous release, still running during a rolling deploy.
		rollingID := storetest.RandomBytes(20)
		insertCredentialAsRelease4(ctx, t, db, b.dialect, prefix, rollingID, handle)
		rolling, err := s.GetCredential(ctx, rollingID)
		require.NoError(t, err)
		require.True(t, rolling.QuarantinedAt.IsZero())

		// Old rows are scanned and can be audited.
		seen := map[string]bool{}
		for cursor := ""; ; {
			page, next, err := s.ScanCredentials(ctx, cursor, 1)
			require.NoError(t, err)
			for _, c := range page {
				seen[string(c.ID)] = true
			}
			if next == "" {
				break
			}
			cursor = next
		}
		require.Equal(t, map[string]bool{string(oldID): true, string(rollingID): true}, seen)
		q := webauthnkit.CredentialAudit{Trust: "revoked", CheckedAt: time.Now(), QuarantinedAt: time.Now(), QuarantineReason: "model revoked"}
		require.NoError(t, s.SetCredentialAudit(ctx, oldID, q))
		old, err = s.GetCredential(ctx, oldID)
		require.NoError(t, err)
		require.Equal(t, "revoked", old.AttestationTrust)
		require.False(t, old.QuarantinedAt.IsZero())

		// This release stores every field.
		c := storetest.RandomCredential(handle)
		c.AttestationObject = storetest.RandomBytes(webauthnkit.MaxAttestationObjectSize)
		require.NoError(t, s.AddCredential(ctx, c))
		got, err := s.GetCredential(ctx, c.ID)
		require.NoError(t, err)
		storetest.AssertCredentialEqual(t, c, got)
		// And refuses an attestation object over the bound.
		big := storetest.RandomCredential(handle)
		big.AttestationObject = make([]byte, webauthnkit.MaxAttestationObjectSize+1)
		require.Error(t, s.AddCredential(ctx, big))

		require.NoError(t, sqlstore.MigrateDown(ctx, db, b.dialect, opt))
		requireTables(t, db, b.dialect, prefix, false)
	})
}

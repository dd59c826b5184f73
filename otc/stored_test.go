package otc_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit/otc"
	"github.com/webauthnkit/webauthnkit/sqlstore"
	"github.com/webauthnkit/webauthnkit/sqlstore/sqlitedb"
)

// The store holds keyed hashes only: read the SQLite table behind the
// ChallengeStore and look for the code, the token and the account in every
// record's ID and data.
func TestStoredRecordsHoldNoSecrets(t *testing.T) {
	c := newClock()
	db, err := sqlitedb.Open(t.TempDir() + "/otc.db")
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	ctx := context.Background()
	prefix := sqlstore.WithTablePrefix("otcx_")
	require.NoError(t, sqlstore.Migrate(ctx, db, sqlstore.SQLite, prefix))
	store, err := sqlstore.New(db, sqlstore.SQLite, prefix, sqlstore.WithClock(c.Now))
	require.NoError(t, err)
	t.Cleanup(func() { store.Close() })
	codes := newCodes(t, c, store)

	acct := []byte("alice@example.com")
	code, err := codes.Issue(ctx, otc.PurposeRecoverAccount, acct)
	require.NoError(t, err)
	require.ErrorIs(t, codes.Verify(ctx, otc.PurposeRecoverAccount, acct, wrongCode(code.Code)), otc.ErrInvalidCode)
	rawToken, err := base64.RawURLEncoding.DecodeString(code.LinkToken)
	require.NoError(t, err)

	rows, err := db.QueryContext(ctx, "SELECT id, data FROM otcx_ceremonies")
	require.NoError(t, err)
	defer rows.Close()
	n := 0
	for rows.Next() {
		var id string
		var data []byte
		require.NoError(t, rows.Scan(&id, &data))
		n++
		for _, secret := range [][]byte{[]byte(code.Code), []byte(code.LinkToken), rawToken, acct} {
			require.False(t, bytes.Contains([]byte(id), secret), "record ID %q", id)
			require.False(t, bytes.Contains(data, secret), "record %q", id)
		}
	}
	require.NoError(t, rows.Err())
	// The code record, the link record and the counted wrong attempt.
	require.Equal(t, 3, n)
}

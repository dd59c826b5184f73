package sqlstore_test

import (
	"database/sql"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/sqlstore"
	"github.com/webauthnkit/webauthnkit/storetest"
)

// The conformance suites run against one Store per backend: the suite uses
// random keys everywhere and allows subtests to share a store, and one
// migration per backend keeps the run short (MariaDB DDL is slow).

func TestCredentialStore(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s := newStore(t, b.open(t), b.dialect)
		storetest.TestCredentialStore(t, func(t *testing.T) webauthnkit.CredentialStore { return s })
	})
}

func TestChallengeStore(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s := newStore(t, b.open(t), b.dialect)
		storetest.TestChallengeStore(t, func(t *testing.T) webauthnkit.ChallengeStore { return s })
	})
}

// TestChallengeStoreTransactionalTake runs the ChallengeStore suite with the
// take used on MySQL proper (SELECT ... FOR UPDATE, then DELETE, in a
// transaction), against MariaDB, which would otherwise use DELETE ...
// RETURNING.
func TestChallengeStoreTransactionalTake(t *testing.T) {
	db := openMySQL(t, mysqlDSN)
	s := newStore(t, db, sqlstore.MySQL, sqlstore.WithoutDeleteReturning())
	require.False(t, sqlstore.UsesDeleteReturning(s))
	storetest.TestChallengeStore(t, func(t *testing.T) webauthnkit.ChallengeStore { return s })
}

// TestExpiredCeremoniesDoNotAccumulate is the contract clause the suite
// leaves to each store: here DeleteExpired and the janitor.
func TestExpiredCeremoniesDoNotAccumulate(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		db := b.open(t)
		now := time.Now()
		s := newStore(t, db, b.dialect, sqlstore.WithClock(func() time.Time { return now }))
		ctx := t.Context()

		for i := range 5 {
			require.NoError(t, s.PutCeremony(ctx, storetest.RandomCeremonyID(), []byte("x"), now.Add(time.Duration(i+1)*time.Minute)))
		}
		live := storetest.RandomCeremonyID()
		require.NoError(t, s.PutCeremony(ctx, live, []byte("live"), now.Add(time.Hour)))

		n, err := s.DeleteExpired(ctx)
		require.NoError(t, err)
		require.Zero(t, n, "nothing has expired yet")

		now = now.Add(5 * time.Minute) // expires_at == now counts as expired
		n, err = s.DeleteExpired(ctx)
		require.NoError(t, err)
		require.EqualValues(t, 5, n)
		n, err = s.DeleteExpired(ctx)
		require.NoError(t, err)
		require.Zero(t, n)

		data, err := s.TakeCeremony(ctx, live)
		require.NoError(t, err)
		require.Equal(t, []byte("live"), data)
	})
}

func TestJanitorDeletesExpiredCeremonies(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		db := b.open(t)
		// A store without janitor to put rows, one with a janitor to remove them.
		plain := newStore(t, db, b.dialect)
		id := storetest.RandomCeremonyID()
		require.NoError(t, plain.PutCeremony(t.Context(), id, []byte("x"), time.Now().Add(-time.Second)))

		withJanitor, err := sqlstore.New(db, b.dialect, sqlstore.WithTablePrefix(sqlstore.TablePrefix(plain)),
			sqlstore.WithJanitor(20*time.Millisecond))
		require.NoError(t, err)
		defer withJanitor.Close()
		require.Eventually(t, func() bool {
			return countCeremonies(t, db, plain) == 0
		}, 10*time.Second, 20*time.Millisecond, "the janitor did not delete the expired ceremony")

		// Close stops it, and can be called twice.
		require.NoError(t, withJanitor.Close())
		require.NoError(t, withJanitor.Close())
		require.NoError(t, plain.PutCeremony(t.Context(), id, []byte("x"), time.Now().Add(-time.Second)))
		time.Sleep(100 * time.Millisecond)
		require.Equal(t, 1, countCeremonies(t, db, plain), "the janitor ran after Close")
	})
}

func countCeremonies(t *testing.T, db *sql.DB, s *sqlstore.Store) int {
	t.Helper()
	var n int
	require.NoError(t, db.QueryRow("SELECT COUNT(*) FROM "+sqlstore.TablePrefix(s)+"ceremonies").Scan(&n))
	return n
}

package sqlstore_test

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/sqlstore"
	"github.com/webauthnkit/webauthnkit/storetest"
)

func randomEmail() string {
	return "u" + strings.ToLower(storetest.RandomName()) + "@example.com"
}

// TestSetEmailRace: of two users claiming one free address at once, exactly
// one succeeds, the other gets ErrUserExists and keeps its address, and the
// error does not quote the address. 30 trials per backend; the unique index
// on users.email decides (a read-then-write would let both through).
func TestSetEmailRace(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s := newStore(t, b.open(t), b.dialect)
		ctx := t.Context()
		for trial := range 30 {
			users := []webauthnkit.User{storetest.RandomUser(), storetest.RandomUser()}
			users[1].Email = randomEmail() // one with an address, one without
			for _, u := range users {
				require.NoError(t, s.CreateUser(ctx, u, nil))
			}
			target := randomEmail()
			verified := time.Now()
			errs := make([]error, len(users))
			start := make(chan struct{})
			var wg sync.WaitGroup
			for i, u := range users {
				wg.Go(func() {
					<-start
					errs[i] = s.SetEmail(ctx, u.Handle, target, verified)
				})
			}
			close(start)
			wg.Wait()

			winner := -1
			for i, err := range errs {
				switch {
				case err == nil:
					require.Equal(t, -1, winner, "trial %d: two users got one address", trial)
					winner = i
				case errors.Is(err, webauthnkit.ErrUserExists):
					requireNoValue(t, err, []byte(target), "email")
				default:
					require.NoError(t, err, "trial %d: SetEmail %d", trial, i)
				}
			}
			require.NotEqual(t, -1, winner, "trial %d: no SetEmail succeeded", trial)
			got, err := s.GetUserByEmail(ctx, target)
			require.NoError(t, err)
			require.Equal(t, users[winner].Handle, got.Handle, "trial %d: the address belongs to the winner", trial)
			loser := users[1-winner]
			got, err = s.GetUserByHandle(ctx, loser.Handle)
			require.NoError(t, err)
			require.Equal(t, loser.Email, got.Email, "trial %d: a refused SetEmail changes nothing", trial)
			require.True(t, got.EmailVerifiedAt.IsZero(), "trial %d: a refused SetEmail changes nothing", trial)
			if old := users[winner].Email; old != "" {
				// The winner's old address is free.
				_, err := s.GetUserByEmail(ctx, old)
				require.ErrorIs(t, err, webauthnkit.ErrNotFound)
				reuse := storetest.RandomUser()
				reuse.Email = old
				require.NoError(t, s.CreateUser(ctx, reuse, nil), "trial %d: the old address is free for others", trial)
			}
		}
	})
}

// TestDuplicateEmailErrorNamesTheKey: a taken address, in CreateUser and in
// SetEmail, is ErrUserExists whose text names the unique key (or, on
// SQLite, the column) and not the address.
func TestDuplicateEmailErrorNamesTheKey(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s := newStore(t, b.open(t), b.dialect)
		ctx := t.Context()
		owner := storetest.RandomUser()
		owner.Email = "secret-owner-" + randomEmail()
		require.NoError(t, s.CreateUser(ctx, owner, nil))

		other := storetest.RandomUser()
		other.Email = owner.Email
		err := s.CreateUser(ctx, other, nil)
		require.ErrorIs(t, err, webauthnkit.ErrUserExists)
		requireServerError(t, b.dialect, err, "email") // users_email_key; users.email on SQLite
		requireNoValue(t, err, []byte(owner.Email), "email")

		other.Email = ""
		require.NoError(t, s.CreateUser(ctx, other, nil))
		err = s.SetEmail(ctx, other.Handle, owner.Email, time.Time{})
		require.ErrorIs(t, err, webauthnkit.ErrUserExists)
		requireServerError(t, b.dialect, err, "email") // users_email_key; users.email on SQLite
		requireNoValue(t, err, []byte(owner.Email), "email")

		// Too long for the column: refused before the database sees it.
		long := strings.Repeat("a", 1025)
		require.ErrorContains(t, s.SetEmail(ctx, other.Handle, long, time.Time{}), "1025 bytes")
		_, err = s.GetUserByEmail(ctx, long)
		require.ErrorIs(t, err, webauthnkit.ErrNotFound)
	})
}

// TestUseRecoveryCodeRace: of 16 concurrent uses of one recovery code
// exactly one succeeds and the others get ErrNotFound; the user's other
// codes stay. 20 trials per backend; the DELETE's row count decides.
func TestUseRecoveryCodeRace(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s := newStore(t, b.open(t), b.dialect)
		ctx := t.Context()
		u := storetest.RandomUser()
		require.NoError(t, s.CreateUser(ctx, u, nil))
		for trial := range 20 {
			codes := [][]byte{storetest.RandomBytes(32), storetest.RandomBytes(32), storetest.RandomBytes(32)}
			require.NoError(t, s.SetRecoveryCodes(ctx, u.Handle, codes))
			const n = 16
			errs := make([]error, n)
			start := make(chan struct{})
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					<-start
					errs[i] = s.UseRecoveryCode(ctx, u.Handle, codes[1])
				})
			}
			close(start)
			wg.Wait()
			wins := 0
			for i, err := range errs {
				if err == nil {
					wins++
					continue
				}
				require.ErrorIs(t, err, webauthnkit.ErrNotFound, "trial %d: use %d", trial, i)
			}
			require.Equal(t, 1, wins, "trial %d: uses of one code that succeeded", trial)
			left, err := s.RecoveryCodesLeft(ctx, u.Handle)
			require.NoError(t, err)
			require.Equal(t, 2, left, "trial %d", trial)
			require.NoError(t, s.UseRecoveryCode(ctx, u.Handle, codes[0]), "trial %d: another code still works", trial)
		}
	})
}

// TestRecoveryCodesWithTheUser: SetRecoveryCodes replaces the set, refuses
// an unknown user (also with an empty set) and more than 32 codes, and
// DeleteUser removes the codes (ON DELETE CASCADE: no orphan rows).
func TestRecoveryCodesWithTheUser(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		db := b.open(t)
		s := newStore(t, db, b.dialect)
		ctx := t.Context()
		u := storetest.RandomUser()
		require.NoError(t, s.CreateUser(ctx, u, nil))

		old := storetest.RandomBytes(32)
		require.NoError(t, s.SetRecoveryCodes(ctx, u.Handle, [][]byte{old}))
		fresh := make([][]byte, 32)
		for i := range fresh {
			fresh[i] = storetest.RandomBytes(32)
		}
		require.NoError(t, s.SetRecoveryCodes(ctx, u.Handle, fresh))
		require.ErrorIs(t, s.UseRecoveryCode(ctx, u.Handle, old), webauthnkit.ErrNotFound, "regenerating invalidates the old set")
		require.ErrorContains(t, s.SetRecoveryCodes(ctx, u.Handle, append(fresh, storetest.RandomBytes(32))), "at most 32")
		left, err := s.RecoveryCodesLeft(ctx, u.Handle)
		require.NoError(t, err)
		require.Equal(t, 32, left, "a refused SetRecoveryCodes changes nothing")

		stranger := storetest.RandomHandle()
		require.ErrorIs(t, s.SetRecoveryCodes(ctx, stranger, fresh[:1]), webauthnkit.ErrNotFound)
		require.ErrorIs(t, s.SetRecoveryCodes(ctx, stranger, nil), webauthnkit.ErrNotFound)
		require.ErrorIs(t, s.UseRecoveryCode(ctx, stranger, fresh[0]), webauthnkit.ErrNotFound, "another user's code")

		require.NoError(t, s.DeleteUser(ctx, u.Handle))
		var rows int
		require.NoError(t, db.QueryRowContext(ctx, rebindAll(b.dialect, "SELECT COUNT(*) FROM "+
			sqlstore.TablePrefix(s)+"recovery_codes WHERE user_handle = ?"), u.Handle).Scan(&rows))
		require.Zero(t, rows, "DeleteUser leaves no recovery codes behind")
	})
}

// TestMySQLClientFoundRowsRecoveryCodes: with clientFoundRows MySQL counts
// matched rows for UPDATE; for DELETE it still counts deleted rows, so a
// second use of a code is ErrNotFound, and SetEmail to the stored values
// still succeeds.
func TestMySQLClientFoundRowsRecoveryCodes(t *testing.T) {
	cfg, err := mysql.ParseDSN(mysqlDSN)
	require.NoError(t, err)
	cfg.ClientFoundRows = true
	s := newStoreWithMigrationDB(t, openMySQL(t, mysqlDSN), openMySQL(t, cfg.FormatDSN()), sqlstore.MySQL)
	ctx := t.Context()
	u := storetest.RandomUser()
	require.NoError(t, s.CreateUser(ctx, u, nil))
	code := storetest.RandomBytes(32)
	require.NoError(t, s.SetRecoveryCodes(ctx, u.Handle, [][]byte{code}))
	require.NoError(t, s.UseRecoveryCode(ctx, u.Handle, code))
	require.ErrorIs(t, s.UseRecoveryCode(ctx, u.Handle, code), webauthnkit.ErrNotFound, "a used code")
	email := randomEmail()
	require.NoError(t, s.SetEmail(ctx, u.Handle, email, time.Time{}))
	require.NoError(t, s.SetEmail(ctx, u.Handle, email, time.Time{}), "the same values again")
	require.ErrorIs(t, s.SetEmail(ctx, storetest.RandomHandle(), email, time.Time{}), webauthnkit.ErrNotFound)
}

// TestMySQLSetEmailThatChangesNothing: without clientFoundRows, MySQL
// counts changed rows, so SetEmail to the values already stored reports 0
// rows: still success, and still ErrNotFound for an unknown user.
func TestMySQLSetEmailThatChangesNothing(t *testing.T) {
	s := newStore(t, openMySQL(t, mysqlDSN), sqlstore.MySQL) // no clientFoundRows
	ctx := t.Context()
	u := storetest.RandomUser()
	require.NoError(t, s.CreateUser(ctx, u, nil))
	email, verified := randomEmail(), time.Now()
	require.NoError(t, s.SetEmail(ctx, u.Handle, email, verified))
	require.NoError(t, s.SetEmail(ctx, u.Handle, email, verified), "the same values again")
	require.NoError(t, s.SetEmail(ctx, u.Handle, "", time.Time{}))
	require.NoError(t, s.SetEmail(ctx, u.Handle, "", time.Time{}), "no address, again")
	require.ErrorIs(t, s.SetEmail(ctx, storetest.RandomHandle(), "", time.Time{}), webauthnkit.ErrNotFound)
}

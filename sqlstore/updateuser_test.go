package sqlstore_test

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/sqlstore"
	"github.com/webauthnkit/webauthnkit/storetest"
)

// TestUpdateUserRenameRace: of concurrent renames of several users to one
// free name exactly one succeeds, the others get ErrUserExists and keep
// their names, and the winner's old name is free at once. 30 trials with two
// users and 10 with four, on each backend; the unique index on users.name
// is what decides (a read-then-write rename would let two through).
func TestUpdateUserRenameRace(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s := newStore(t, b.open(t), b.dialect)
		requireOneRenameWins(t, s, 2, 30)
		requireOneRenameWins(t, s, 4, 10)
	})
}

func requireOneRenameWins(t *testing.T, s *sqlstore.Store, n, trials int) {
	t.Helper()
	ctx := t.Context()
	for trial := range trials {
		users := make([]webauthnkit.User, n)
		for i := range users {
			users[i] = storetest.RandomUser()
			var first *webauthnkit.Credential
			if i%2 == 0 { // with and without a credential
				first = new(storetest.RandomCredential(users[i].Handle))
			}
			require.NoError(t, s.CreateUser(ctx, users[i], first))
		}
		target := storetest.RandomName()
		errs := make([]error, n)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i, u := range users {
			wg.Go(func() {
				<-start
				errs[i] = s.UpdateUser(ctx, u.Handle, target, fmt.Sprintf("Contender %d", i))
			})
		}
		close(start)
		wg.Wait()

		winner := -1
		for i, err := range errs {
			switch {
			case err == nil:
				require.Equal(t, -1, winner, "%d users, trial %d: two renames to one name succeeded", n, trial)
				winner = i
			case errors.Is(err, webauthnkit.ErrUserExists):
				requireNoValue(t, err, []byte(target), "new name")
			default:
				require.NoError(t, err, "%d users, trial %d: rename %d", n, trial, i)
			}
		}
		require.NotEqual(t, -1, winner, "%d users, trial %d: no rename succeeded", n, trial)

		byName, err := s.GetUserByName(ctx, target)
		require.NoError(t, err)
		require.Equal(t, users[winner].Handle, byName.Handle, "trial %d: the name belongs to the winner", trial)
		require.Equal(t, fmt.Sprintf("Contender %d", winner), byName.DisplayName)
		for i, u := range users {
			if i == winner {
				continue
			}
			got, err := s.GetUserByHandle(ctx, u.Handle)
			require.NoError(t, err)
			require.Equal(t, u.Name, got.Name, "trial %d: a refused rename changes nothing", trial)
			require.Equal(t, u.DisplayName, got.DisplayName, "trial %d: a refused rename changes nothing", trial)
		}
		// The winner's old name is free.
		_, err = s.GetUserByName(ctx, users[winner].Name)
		require.ErrorIs(t, err, webauthnkit.ErrNotFound)
		reuse := storetest.RandomUser()
		reuse.Name = users[winner].Name
		require.NoError(t, s.CreateUser(ctx, reuse, nil), "trial %d: the old name is free for others", trial)
	}
}

// TestUpdateUserRaceWithCreateUser: a rename and a new user racing for one
// free name: exactly one of them gets it.
func TestUpdateUserRaceWithCreateUser(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s := newStore(t, b.open(t), b.dialect)
		ctx := t.Context()
		for trial := range 30 {
			existing := storetest.RandomUser()
			require.NoError(t, s.CreateUser(ctx, existing, nil))
			newcomer := storetest.RandomUser()
			newcomer.Name = storetest.RandomName()
			var renameErr, createErr error
			start := make(chan struct{})
			var wg sync.WaitGroup
			wg.Go(func() { <-start; renameErr = s.UpdateUser(ctx, existing.Handle, newcomer.Name, "Renamed") })
			wg.Go(func() {
				<-start
				createErr = s.CreateUser(ctx, newcomer, new(storetest.RandomCredential(newcomer.Handle)))
			})
			close(start)
			wg.Wait()
			require.True(t, (renameErr == nil) != (createErr == nil),
				"trial %d: exactly one gets the name (rename: %v, create: %v)", trial, renameErr, createErr)
			for _, err := range []error{renameErr, createErr} {
				if err != nil {
					require.ErrorIs(t, err, webauthnkit.ErrUserExists)
				}
			}
			if createErr != nil {
				creds, err := s.ListCredentials(ctx, newcomer.Handle)
				require.NoError(t, err)
				require.Empty(t, creds, "trial %d: a refused CreateUser stores no credential", trial)
			}
		}
	})
}

// TestUserNameAndHandleSizes: the largest values the library passes fit
// every dialect's columns and indexes and come back byte for byte: a name
// of 254 four-byte characters (1016 bytes; MySQL's users.name is
// VARBINARY(1024), PostgreSQL's unique B-tree entry may hold about 2700
// bytes) and application-chosen handles of 1 and 64 bytes. A name over
// 1024 bytes is refused before it reaches any database.
func TestUserNameAndHandleSizes(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s := newStore(t, b.open(t), b.dialect)
		ctx := t.Context()
		longName := strings.Repeat("😀", 254)
		require.Len(t, longName, 1016)

		for _, handle := range [][]byte{{0x00}, storetest.RandomBytes(64)} {
			u := storetest.RandomUser()
			u.Handle = handle
			u.Name = storetest.RandomName()
			require.NoError(t, s.CreateUser(ctx, u, new(storetest.RandomCredential(handle))), "a %d-byte handle", len(handle))
			got, err := s.GetUserByHandle(ctx, handle)
			require.NoError(t, err)
			storetest.AssertUserEqual(t, u, got)
		}
		require.Error(t, s.CreateUser(ctx, webauthnkit.User{Handle: storetest.RandomBytes(65), Name: storetest.RandomName()}, nil), "a 65-byte handle")

		// CreateUser, then UpdateUser, with the longest name.
		u := storetest.RandomUser()
		u.Name = longName
		require.NoError(t, s.CreateUser(ctx, u, nil))
		got, err := s.GetUserByName(ctx, longName)
		require.NoError(t, err)
		require.Equal(t, longName, got.Name)
		require.NoError(t, s.DeleteUser(ctx, u.Handle))

		renamed := storetest.RandomUser()
		require.NoError(t, s.CreateUser(ctx, renamed, nil))
		require.NoError(t, s.UpdateUser(ctx, renamed.Handle, longName, strings.Repeat("é", 254)))
		got, err = s.GetUserByName(ctx, longName)
		require.NoError(t, err)
		require.Equal(t, renamed.Handle, got.Handle)
		require.Equal(t, strings.Repeat("é", 254), got.DisplayName)

		tooLong := strings.Repeat("a", 1025)
		require.Error(t, s.UpdateUser(ctx, renamed.Handle, tooLong, "x"))
		require.Error(t, s.CreateUser(ctx, webauthnkit.User{Handle: storetest.RandomHandle(), Name: tooLong}, nil))
	})
}

// TestUpdateUserErrors: an unknown handle is ErrNotFound, a taken name
// ErrUserExists with neither user changed, and neither error text quotes
// the name (MariaDB's duplicate-key message does).
func TestUpdateUserErrors(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s := newStore(t, b.open(t), b.dialect)
		ctx := t.Context()
		alice := storetest.RandomUser()
		alice.Name = "secret-alice-" + storetest.RandomName()
		bob := storetest.RandomUser()
		require.NoError(t, s.CreateUser(ctx, alice, nil))
		require.NoError(t, s.CreateUser(ctx, bob, new(storetest.RandomCredential(bob.Handle))))

		err := s.UpdateUser(ctx, storetest.RandomHandle(), "nobody-"+storetest.RandomName(), "Nobody")
		require.ErrorIs(t, err, webauthnkit.ErrNotFound)
		require.Regexp(t, `^sqlstore: UpdateUser: `, err.Error())

		err = s.UpdateUser(ctx, bob.Handle, alice.Name, "Bob as Alice")
		require.ErrorIs(t, err, webauthnkit.ErrUserExists)
		require.Regexp(t, `^sqlstore: UpdateUser: `, err.Error())
		requireNoValue(t, err, []byte(alice.Name), "user name")
		requireServerError(t, b.dialect, err, "name")
		got, err := s.GetUserByHandle(ctx, bob.Handle)
		require.NoError(t, err)
		storetest.AssertUserEqual(t, bob, got)

		// Its own name, with the same or another display name.
		require.NoError(t, s.UpdateUser(ctx, alice.Handle, alice.Name, alice.DisplayName), "unchanged")
		require.NoError(t, s.UpdateUser(ctx, alice.Handle, alice.Name, "Alice B."), "own name, new display name")
		got, err = s.GetUserByHandle(ctx, alice.Handle)
		require.NoError(t, err)
		want := alice
		want.DisplayName = "Alice B."
		storetest.AssertUserEqual(t, want, got, "only the display name changed")
	})
}

package sqlstore_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit/sqlstore"
	"github.com/webauthnkit/webauthnkit/storetest"
)

// The cost of the session epoch and of the last-passkey guard, per call:
//
//	go test -run '^$' -bench 'GetUserByHandle|EndSessions|DeleteCredential' -benchmem -benchtime=1000x ./sqlstore

// BenchmarkGetUserByHandle is what a session layer pays per request to
// check a session's epoch without a cache: one user read.
func BenchmarkGetUserByHandle(b *testing.B) {
	forEachBackendB(b, func(b *testing.B, s *sqlstore.Store) {
		ctx := context.Background()
		u := storetest.RandomUser()
		require.NoError(b, s.CreateUser(ctx, u, new(storetest.RandomCredential(u.Handle))))
		for b.Loop() {
			if _, err := s.GetUserByHandle(ctx, u.Handle); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkEndSessions(b *testing.B) {
	forEachBackendB(b, func(b *testing.B, s *sqlstore.Store) {
		ctx := context.Background()
		u := storetest.RandomUser()
		require.NoError(b, s.CreateUser(ctx, u, new(storetest.RandomCredential(u.Handle))))
		for b.Loop() {
			if _, err := s.EndSessions(ctx, u.Handle); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkDeleteCredential: each iteration adds a credential and deletes
// it, with allowLast true (a plain DELETE) and false (the guard's
// transaction); the difference between the two is the guard's cost.
func BenchmarkDeleteCredential(b *testing.B) {
	forEachBackendB(b, func(b *testing.B, s *sqlstore.Store) {
		ctx := context.Background()
		u := storetest.RandomUser()
		require.NoError(b, s.CreateUser(ctx, u, new(storetest.RandomCredential(u.Handle))))
		for _, allowLast := range []bool{true, false} {
			name := "guarded"
			if allowLast {
				name = "allowLast"
			}
			b.Run(name, func(b *testing.B) {
				for b.Loop() {
					c := storetest.RandomCredential(u.Handle)
					if err := s.AddCredential(ctx, c); err != nil {
						b.Fatal(err)
					}
					if err := s.DeleteCredential(ctx, u.Handle, c.ID, allowLast); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	})
}

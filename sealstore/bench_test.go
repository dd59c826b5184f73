package sealstore_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/internal/loginbench"
	"github.com/webauthnkit/webauthnkit/internal/testenv"
	"github.com/webauthnkit/webauthnkit/memstore"
	"github.com/webauthnkit/webauthnkit/sealstore"
)

// BenchmarkLoginSealed measures what sealing adds to a whole sign-in
// (BeginLogin then FinishLogin, on memstore, where the store costs least
// and sealing's share is largest): plain memstore against the same
// memstore wrapped by sealstore. Two kinds of login:
//
//   - discoverable: FinishLogin opens the credential's record and the
//     user's (GetCredentialWithUser);
//   - username: BeginLogin also computes the name's blind index and opens
//     the user's record and every credential's (GetUserByName,
//     ListCredentials).
//
// cpu-ns/op is the process CPU time per login (getrusage), the figure to
// compare; run with -count 6 so the two variants alternate:
//
//	go test -run '^$' -bench BenchmarkLoginSealed -benchmem -count 6 ./sealstore/
func BenchmarkLoginSealed(b *testing.B) {
	for _, kind := range []string{"discoverable", "username"} {
		for _, variant := range []string{"plain", "sealed"} {
			b.Run(kind+"/"+variant, func(b *testing.B) {
				mem, err := memstore.New()
				require.NoError(b, err)
				b.Cleanup(func() { mem.Close() })
				var creds webauthnkit.CredentialStore = mem
				if variant == "sealed" {
					creds, err = sealstore.New(mem, sealstore.Config{Keyring: testKeyring(b, nil)})
					require.NoError(b, err)
				}
				f := loginbench.New(b, creds, mem)
				req := webauthnkit.LoginRequest{}
				if kind == "username" {
					req.Username = f.Registration.User.Name
				}
				ctx := context.Background()
				b.ReportAllocs()
				b.ResetTimer()
				cpu := testenv.ProcessCPU()
				for range b.N {
					begin, err := f.RP.BeginLogin(ctx, req)
					if err != nil {
						b.Fatal(err)
					}
					if _, err := f.RP.FinishLogin(ctx, begin.CeremonyID, f.Body); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64((testenv.ProcessCPU()-cpu).Nanoseconds())/float64(b.N), "cpu-ns/op")
			})
		}
	}
}

// BenchmarkOpen is the cost of the primitives alone: opening a
// credential's record and a user's, and one blind index.
func BenchmarkOpen(b *testing.B) {
	kr := testKeyring(b, nil)
	mem, err := memstore.New()
	require.NoError(b, err)
	defer mem.Close()
	s, err := sealstore.New(mem, sealstore.Config{Keyring: kr})
	require.NoError(b, err)
	u := storetestUser()
	c := storetestCredential(u.Handle)
	require.NoError(b, s.CreateUser(context.Background(), u, &c))
	b.Run("GetCredential/plain", func(b *testing.B) {
		for range b.N {
			_, _ = mem.GetCredential(context.Background(), c.ID)
		}
	})
	b.Run("GetCredential/sealed", func(b *testing.B) {
		for range b.N {
			_, _ = s.GetCredential(context.Background(), c.ID)
		}
	})
	b.Run("GetUserByName/sealed", func(b *testing.B) {
		for range b.N {
			_, _ = s.GetUserByName(context.Background(), u.Name)
		}
	})
}

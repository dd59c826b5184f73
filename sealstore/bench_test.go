package sealstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/internal/loginbench"
	"github.com/webauthnkit/webauthnkit/internal/storewrap"
	"github.com/webauthnkit/webauthnkit/internal/testenv"
	"github.com/webauthnkit/webauthnkit/memstore"
	"github.com/webauthnkit/webauthnkit/sealstore"
)

// BenchmarkLoginSealed measures what sealing adds to a whole sign-in
// (BeginLogin then FinishLogin, on memstore, where the store costs least
// and sealing's share is largest): plain memstore against the same
// memstore wrapped by sealstore ("sealed"), and with its ceremony records
// sealed too ("sealed+ceremonies", Store.Ceremonies, as the demo runs).
// Two kinds of login:
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
		for _, variant := range []string{"plain", "sealed", "sealed+ceremonies"} {
			b.Run(kind+"/"+variant, func(b *testing.B) {
				mem, err := memstore.New()
				require.NoError(b, err)
				b.Cleanup(func() { mem.Close() })
				var creds webauthnkit.CredentialStore = mem
				var cers webauthnkit.ChallengeStore = mem
				if variant != "plain" {
					sealed, err := sealstore.New(mem, sealstore.Config{Keyring: testKeyring(b, nil)})
					require.NoError(b, err)
					creds = sealed
					if variant == "sealed+ceremonies" {
						cers = sealed.Ceremonies(mem)
					}
				}
				f := loginbench.New(b, creds, cers)
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

// BenchmarkLoginStoreCalls isolates what sealing adds to a login from the
// rest of the login (signature check, JSON, ceremony), which on a shared
// machine is noisy enough to hide it: it records, with internal/storewrap,
// the credential-store calls one login makes (discoverable:
// GetCredentialWithUser and UpdateCredentialUse; username: GetUserByName,
// ListCredentials, then the finish's reads and UpdateCredentialUse), and
// replays exactly those calls on plain memstore and on sealed memstore.
// The ceremony's put and take are replayed with the login's real record
// (plain, or through Store.Ceremonies). The difference of the variants is
// the cost sealing adds per login; compare it with BenchmarkLoginSealed's
// plain cpu-ns/op.
func BenchmarkLoginStoreCalls(b *testing.B) {
	for _, kind := range []string{"discoverable", "username"} {
		for _, variant := range []string{"plain", "sealed", "sealed+ceremonies"} {
			b.Run(kind+"/"+variant, func(b *testing.B) {
				mem, err := memstore.New()
				require.NoError(b, err)
				b.Cleanup(func() { mem.Close() })
				var creds webauthnkit.CredentialStore = mem
				var cers webauthnkit.ChallengeStore = mem
				if variant != "plain" {
					sealed, err := sealstore.New(mem, sealstore.Config{Keyring: testKeyring(b, nil)})
					require.NoError(b, err)
					creds = sealed
					if variant == "sealed+ceremonies" {
						cers = sealed.Ceremonies(mem)
					}
				}
				rec := &lastPut{ChallengeStore: mem}
				probe := storewrap.New(creds, rec, storewrap.WithCallLog())
				f := loginbench.New(b, probe, probe)
				req := webauthnkit.LoginRequest{}
				if kind == "username" {
					req.Username = f.Registration.User.Name
				}
				ctx := context.Background()
				probe.TakeCalls()
				begin, err := f.RP.BeginLogin(ctx, req)
				require.NoError(b, err)
				_, err = f.RP.FinishLogin(ctx, begin.CeremonyID, f.Body)
				require.NoError(b, err)
				calls := probe.TakeCalls()
				b.Logf("%s login: %v (ceremony record: %d bytes)", kind, calls, len(rec.data))
				u, c := f.Registration.User, f.Registration.Credential
				getter, _ := creds.(webauthnkit.CredentialUserGetter)
				b.ReportAllocs()
				b.ResetTimer()
				cpu := testenv.ProcessCPU()
				for range b.N {
					for _, call := range calls {
						var err error
						switch call {
						case "GetCredentialWithUser":
							_, _, err = getter.GetCredentialWithUser(ctx, c.ID)
						case "GetCredential":
							_, err = creds.GetCredential(ctx, c.ID)
						case "GetUserByName":
							_, err = creds.GetUserByName(ctx, u.Name)
						case "GetUserByHandle":
							_, err = creds.GetUserByHandle(ctx, u.Handle)
						case "ListCredentials":
							_, err = creds.ListCredentials(ctx, u.Handle)
						case "UpdateCredentialUse":
							err = creds.UpdateCredentialUse(ctx, c.ID, 0, webauthnkit.CredentialUse{LastUsedAt: c.CreatedAt})
						case "PutCeremony":
							err = cers.PutCeremony(ctx, "bench", rec.data, rec.expires)
						case "TakeCeremony":
							_, err = cers.TakeCeremony(ctx, "bench")
						default:
							b.Fatalf("unexpected call %s", call)
						}
						if err != nil {
							b.Fatal(call, err)
						}
					}
				}
				b.ReportMetric(float64((testenv.ProcessCPU()-cpu).Nanoseconds())/float64(b.N), "cpu-ns/op")
			})
		}
	}
}

// lastPut forwards to a ChallengeStore and keeps the last record put, so
// BenchmarkLoginStoreCalls can replay a real ceremony record.
type lastPut struct {
	webauthnkit.ChallengeStore
	data    []byte
	expires time.Time
}

func (l *lastPut) PutCeremony(ctx context.Context, id string, data []byte, expiresAt time.Time) error {
	l.data, l.expires = append([]byte(nil), data...), expiresAt
	return l.ChallengeStore.PutCeremony(ctx, id, data, expiresAt)
}

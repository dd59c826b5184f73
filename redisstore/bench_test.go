package redisstore

import (
	"bytes"
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/internal/loginbench"
	"github.com/webauthnkit/webauthnkit/storetest"
)

// Benchmarks against the Redis at WEBAUTHNKIT_REDIS_ADDR:
//
//	go test -run '^$' -bench . -benchmem ./redisstore
//
// Each reports roundtrips/op: the commands (or pipelines) sent to Redis per
// operation, counted by a go-redis hook.

// roundTrips is a go-redis hook counting commands and pipelines sent.
type roundTrips struct{ n atomic.Int64 }

func (*roundTrips) DialHook(next redis.DialHook) redis.DialHook { return next }
func (r *roundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		r.n.Add(1)
		return next(ctx, cmd)
	}
}
func (r *roundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		r.n.Add(1)
		return next(ctx, cmds)
	}
}

// benchStore returns a store on its own client, with a round-trip counter.
// The scripts are loaded first, so no NOSCRIPT fallback is counted.
func benchStore(b *testing.B) (*Store, *roundTrips) {
	testClient(b)
	c := redis.NewClient(&redis.Options{Addr: redisAddr})
	b.Cleanup(func() { c.Close() })
	s := testStore(b, c)
	// Warm up: load every script used below.
	u, cr := createBenchUser(b, s, 1)
	ctx := context.Background()
	require.NoError(b, s.UpdateCredentialUse(ctx, cr.ID, cr.SignCount, webauthnkit.CredentialUse{SignCount: cr.SignCount}))
	require.NoError(b, s.RenameCredential(ctx, u.Handle, cr.ID, "x"))
	require.NoError(b, s.PutCeremony(ctx, "warm-"+randomHex(8), nil, time.Now().Add(time.Second)))
	_, err := s.EndSessions(ctx, u.Handle)
	require.NoError(b, err)
	second := storetest.RandomCredential(u.Handle)
	require.NoError(b, s.AddCredential(ctx, second))
	require.NoError(b, s.DeleteCredential(ctx, u.Handle, second.ID, false))
	require.ErrorIs(b, s.DeleteCredential(ctx, u.Handle, cr.ID, false), webauthnkit.ErrLastCredential)
	require.NoError(b, s.UpdateUser(ctx, u.Handle, storetest.RandomName(), "x"))
	require.NoError(b, s.DeleteUser(ctx, u.Handle))
	rt := &roundTrips{}
	c.AddHook(rt)
	return s, rt
}

// measure resets the timer and returns a function reporting roundtrips/op.
func measure(b *testing.B, rt *roundTrips) func() {
	b.ReportAllocs()
	start := rt.n.Load()
	b.ResetTimer()
	return func() {
		b.StopTimer()
		b.ReportMetric(float64(rt.n.Load()-start)/float64(b.N), "roundtrips/op")
	}
}

func createBenchUser(b *testing.B, s *Store, creds int) (webauthnkit.User, webauthnkit.Credential) {
	b.Helper()
	ctx := context.Background()
	u := storetest.RandomUser()
	first := storetest.RandomCredential(u.Handle)
	require.NoError(b, s.CreateUser(ctx, u, &first))
	for range creds - 1 {
		require.NoError(b, s.AddCredential(ctx, storetest.RandomCredential(u.Handle)))
	}
	return u, first
}

func BenchmarkPutCeremony(b *testing.B) {
	s, rt := benchStore(b)
	ctx := context.Background()
	data := bytes.Repeat([]byte{1}, 300) // about the size of a login ceremony
	prefix := "bench-" + randomHex(6) + "-"
	exp := time.Now().Add(5 * time.Minute)
	done := measure(b, rt)
	for i := range b.N {
		if err := s.PutCeremony(ctx, prefix+strconv.Itoa(i), data, exp); err != nil {
			b.Fatal(err)
		}
	}
	done()
}

func BenchmarkTakeCeremony(b *testing.B) {
	s, rt := benchStore(b)
	ctx := context.Background()
	data := bytes.Repeat([]byte{1}, 300)
	prefix := "bench-" + randomHex(6) + "-"
	exp := time.Now().Add(5 * time.Minute)
	for i := range b.N {
		require.NoError(b, s.PutCeremony(ctx, prefix+strconv.Itoa(i), data, exp))
	}
	done := measure(b, rt)
	for i := range b.N {
		if _, err := s.TakeCeremony(ctx, prefix+strconv.Itoa(i)); err != nil {
			b.Fatal(err)
		}
	}
	done()
}

// BenchmarkCeremonyPutTake is the store's share of one ceremony: the put of
// Begin* and the take of Finish*.
func BenchmarkCeremonyPutTake(b *testing.B) {
	s, rt := benchStore(b)
	ctx := context.Background()
	data := bytes.Repeat([]byte{1}, 300)
	prefix := "bench-" + randomHex(6) + "-"
	done := measure(b, rt)
	for i := range b.N {
		id := prefix + strconv.Itoa(i)
		if err := s.PutCeremony(ctx, id, data, time.Now().Add(5*time.Minute)); err != nil {
			b.Fatal(err)
		}
		if _, err := s.TakeCeremony(ctx, id); err != nil {
			b.Fatal(err)
		}
	}
	done()
}

func BenchmarkGetCredential(b *testing.B) {
	s, rt := benchStore(b)
	_, cr := createBenchUser(b, s, 1)
	ctx := context.Background()
	b.Run("serial", func(b *testing.B) {
		done := measure(b, rt)
		for range b.N {
			if _, err := s.GetCredential(ctx, cr.ID); err != nil {
				b.Fatal(err)
			}
		}
		done()
	})
	b.Run("parallel", func(b *testing.B) {
		done := measure(b, rt)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := s.GetCredential(ctx, cr.ID); err != nil {
					b.Error(err)
					return
				}
			}
		})
		done()
	})
}

func BenchmarkUpdateCredentialUse(b *testing.B) {
	s, rt := benchStore(b)
	_, cr := createBenchUser(b, s, 1)
	ctx := context.Background()
	count := cr.SignCount
	done := measure(b, rt)
	for range b.N {
		use := webauthnkit.CredentialUse{SignCount: count + 1, UserVerified: true, BackupState: true, LastUsedAt: time.Now()}
		if err := s.UpdateCredentialUse(ctx, cr.ID, count, use); err != nil {
			b.Fatal(err)
		}
		count++
	}
	done()
}

func BenchmarkCreateUser(b *testing.B) {
	s, rt := benchStore(b)
	ctx := context.Background()
	users := make([]webauthnkit.User, b.N)
	creds := make([]webauthnkit.Credential, b.N)
	for i := range users {
		users[i] = storetest.RandomUser()
		creds[i] = storetest.RandomCredential(users[i].Handle)
	}
	done := measure(b, rt)
	for i := range b.N {
		if err := s.CreateUser(ctx, users[i], &creds[i]); err != nil {
			b.Fatal(err)
		}
	}
	done()
}

// BenchmarkCreateUserWithoutCredential: a user of an existing app, with no
// passkey yet.
func BenchmarkCreateUserWithoutCredential(b *testing.B) {
	s, rt := benchStore(b)
	ctx := context.Background()
	users := make([]webauthnkit.User, b.N)
	for i := range users {
		users[i] = storetest.RandomUser()
	}
	done := measure(b, rt)
	for i := range b.N {
		if err := s.CreateUser(ctx, users[i], nil); err != nil {
			b.Fatal(err)
		}
	}
	done()
}

// BenchmarkUpdateUser: a rename to a new free name each iteration, and
// a display-name change that keeps the name.
func BenchmarkUpdateUser(b *testing.B) {
	b.Run("rename", func(b *testing.B) {
		s, rt := benchStore(b)
		u, _ := createBenchUser(b, s, 1)
		ctx := context.Background()
		names := make([]string, b.N)
		for i := range names {
			names[i] = storetest.RandomName()
		}
		done := measure(b, rt)
		for i := range b.N {
			if err := s.UpdateUser(ctx, u.Handle, names[i], "Display"); err != nil {
				b.Fatal(err)
			}
		}
		done()
	})
	b.Run("same_name", func(b *testing.B) {
		s, rt := benchStore(b)
		u, _ := createBenchUser(b, s, 1)
		ctx := context.Background()
		done := measure(b, rt)
		for i := range b.N {
			if err := s.UpdateUser(ctx, u.Handle, u.Name, "Display "+strconv.Itoa(i)); err != nil {
				b.Fatal(err)
			}
		}
		done()
	})
}

// BenchmarkDeleteCredential: a user with two passkeys loses one and gets
// it back (AddCredential, not timed) every iteration.
func BenchmarkDeleteCredential(b *testing.B) {
	for _, allowLast := range []bool{true, false} {
		name := "guarded"
		if allowLast {
			name = "allowLast"
		}
		b.Run(name, func(b *testing.B) {
			s, rt := benchStore(b)
			u, _ := createBenchUser(b, s, 2)
			ctx := context.Background()
			var untimed int64
			done := measure(b, rt)
			for range b.N {
				b.StopTimer()
				before := rt.n.Load()
				cr := storetest.RandomCredential(u.Handle)
				if err := s.AddCredential(ctx, cr); err != nil {
					b.Fatal(err)
				}
				untimed += rt.n.Load() - before
				b.StartTimer()
				if err := s.DeleteCredential(ctx, u.Handle, cr.ID, allowLast); err != nil {
					b.Fatal(err)
				}
			}
			rt.n.Add(-untimed)
			done()
		})
	}
}

func BenchmarkEndSessions(b *testing.B) {
	s, rt := benchStore(b)
	u, _ := createBenchUser(b, s, 1)
	ctx := context.Background()
	done := measure(b, rt)
	for range b.N {
		if _, err := s.EndSessions(ctx, u.Handle); err != nil {
			b.Fatal(err)
		}
	}
	done()
}

func BenchmarkListCredentials(b *testing.B) {
	s, rt := benchStore(b)
	u, _ := createBenchUser(b, s, 3)
	ctx := context.Background()
	done := measure(b, rt)
	for range b.N {
		list, err := s.ListCredentials(ctx, u.Handle)
		if err != nil || len(list) != 3 {
			b.Fatal(len(list), err)
		}
	}
	done()
}

// BenchmarkFinishLogin is the library's whole login check with Redis
// holding the ceremonies and the credentials: take the ceremony, parse,
// look up the credential and user, verify the ES256 signature,
// compare-and-set the counter. Ceremonies are begun before the timer starts.
func BenchmarkFinishLogin(b *testing.B) {
	s, rt := benchStore(b)
	f := loginbench.New(b, s, s)
	ctx := context.Background()
	ids := f.Begin(b, b.N)
	done := measure(b, rt)
	for i := range b.N {
		if _, err := f.RP.FinishLogin(ctx, ids[i], f.Body); err != nil {
			b.Fatal(err)
		}
	}
	done()
}

// BenchmarkLoginCeremony is one whole login, BeginLogin then FinishLogin:
// its roundtrips/op is the Redis cost of a sign-in.
func BenchmarkLoginCeremony(b *testing.B) {
	s, rt := benchStore(b)
	f := loginbench.New(b, s, s)
	ctx := context.Background()
	done := measure(b, rt)
	for range b.N {
		begin, err := f.RP.BeginLogin(ctx, webauthnkit.LoginRequest{})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := f.RP.FinishLogin(ctx, begin.CeremonyID, f.Body); err != nil {
			b.Fatal(err)
		}
	}
	done()
}

// BenchmarkSetEmail: a switch to a new free address each iteration (the
// rename protocol in the email space), and GetUserByEmail.
func BenchmarkSetEmail(b *testing.B) {
	s, rt := benchStore(b)
	u, _ := createBenchUser(b, s, 1)
	ctx := context.Background()
	emails := make([]string, b.N)
	for i := range emails {
		emails[i] = storetest.RandomName() + "@example.com"
	}
	verified := time.Now()
	done := measure(b, rt)
	for i := range b.N {
		if err := s.SetEmail(ctx, u.Handle, emails[i], verified); err != nil {
			b.Fatal(err)
		}
	}
	done()
}

func BenchmarkGetUserByEmail(b *testing.B) {
	s, rt := benchStore(b)
	u, _ := createBenchUser(b, s, 1)
	ctx := context.Background()
	email := storetest.RandomName() + "@example.com"
	require.NoError(b, s.SetEmail(ctx, u.Handle, email, time.Time{}))
	done := measure(b, rt)
	for range b.N {
		if _, err := s.GetUserByEmail(ctx, email); err != nil {
			b.Fatal(err)
		}
	}
	done()
}

// BenchmarkUseRecoveryCode: one code used per iteration; the set is
// refilled (not timed) every 32 uses.
func BenchmarkUseRecoveryCode(b *testing.B) {
	s, rt := benchStore(b)
	u, _ := createBenchUser(b, s, 1)
	ctx := context.Background()
	var hashes [][]byte
	done := measure(b, rt)
	for i := range b.N {
		if i%webauthnkit.MaxRecoveryCodes == 0 {
			b.StopTimer()
			hashes = randomCodeHashes(webauthnkit.MaxRecoveryCodes)
			require.NoError(b, s.SetRecoveryCodes(ctx, u.Handle, hashes))
			rt.n.Add(-1) // the refill is not the operation measured
			b.StartTimer()
		}
		if err := s.UseRecoveryCode(ctx, u.Handle, hashes[i%webauthnkit.MaxRecoveryCodes]); err != nil {
			b.Fatal(err)
		}
	}
	done()
}

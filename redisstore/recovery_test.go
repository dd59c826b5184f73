package redisstore

import (
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/storetest"
)

// Tests of the recovery codes that only this backend needs: a use raced by
// many clients, a use resent after a lost reply, and the keys left behind.

func TestUseRecoveryCodeRace(t *testing.T) { testUseRecoveryCodeRace(t, testClient(t)) }

func randomCodeHashes(n int) [][]byte {
	h := make([][]byte, n)
	for i := range h {
		h[i] = storetest.RandomBytes(webauthnkit.RecoveryCodeHashSize)
	}
	return h
}

// testUseRecoveryCodeRace: of 16 concurrent uses of one code, each through
// its own client, exactly one succeeds; the rest get ErrNotFound and the
// other codes stay.
func testUseRecoveryCodeRace(t *testing.T, c redis.UniversalClient) {
	ctx := t.Context()
	const racers, trials = 16, 10
	stores := make([]*Store, racers)
	for i := range stores {
		stores[i] = testStore(t, newClientLike(t, c))
	}
	for trial := range trials {
		u, _ := createTestUser(t, stores[0])
		hashes := randomCodeHashes(10)
		require.NoError(t, stores[0].SetRecoveryCodes(ctx, u.Handle, hashes))
		errs := make([]error, racers)
		var start, done sync.WaitGroup
		start.Add(1)
		for i, s := range stores {
			done.Go(func() { start.Wait(); errs[i] = s.UseRecoveryCode(ctx, u.Handle, hashes[3]) })
		}
		start.Done()
		done.Wait()
		winners := 0
		for i, err := range errs {
			if err == nil {
				winners++
			} else {
				require.ErrorIs(t, err, webauthnkit.ErrNotFound, "trial %d, racer %d", trial, i)
			}
		}
		require.Equal(t, 1, winners, "trial %d: %v", trial, errs)
		left, err := stores[1].RecoveryCodesLeft(ctx, u.Handle)
		require.NoError(t, err)
		require.Equal(t, 9, left, "trial %d", trial)
		require.NoError(t, stores[0].DeleteUser(ctx, u.Handle))
		requireNoKeys(t, c, stores[0].recoveryKey(tag(u.Handle)), stores[0].recoveryUseKey(tag(u.Handle)))
	}
}

func TestRecoveryCodes(t *testing.T) {
	c := testClient(t)
	ctx := t.Context()

	t.Run("use_resent_after_lost_reply_succeeds_once", func(t *testing.T) {
		// go-redis resends a script whose reply was lost: the resent run
		// must answer as the first did, not report the code it just used
		// as unknown. Another call with the same code still fails.
		rc := redis.NewClient(&redis.Options{Addr: redisAddr})
		t.Cleanup(func() { rc.Close() })
		s := testStore(t, rc)
		u, _ := createTestUser(t, s)
		hashes := randomCodeHashes(2)
		require.NoError(t, s.SetRecoveryCodes(ctx, u.Handle, hashes))
		require.ErrorIs(t, s.UseRecoveryCode(ctx, u.Handle, storetest.RandomBytes(32)), webauthnkit.ErrNotFound) // loads the script
		rc.AddHook(newReplayHook(scriptUseRecoveryCode))
		require.NoError(t, s.UseRecoveryCode(ctx, u.Handle, hashes[0]))
		require.ErrorIs(t, s.UseRecoveryCode(ctx, u.Handle, hashes[0]), webauthnkit.ErrNotFound)
		left, err := s.RecoveryCodesLeft(ctx, u.Handle)
		require.NoError(t, err)
		require.Equal(t, 1, left)
		require.NoError(t, s.DeleteUser(ctx, u.Handle))
	})

	t.Run("set_for_deleted_user_creates_no_key", func(t *testing.T) {
		s := testStore(t, c)
		u, _ := createTestUser(t, s)
		require.NoError(t, s.DeleteUser(ctx, u.Handle))
		require.ErrorIs(t, s.SetRecoveryCodes(ctx, u.Handle, randomCodeHashes(3)), webauthnkit.ErrNotFound)
		requireNoKeys(t, c, s.recoveryKey(tag(u.Handle)))
	})

	t.Run("recreated_handle_starts_without_codes", func(t *testing.T) {
		// A set left by anything but DeleteUser (which removes it with the
		// user) does not pass to a user created with the same handle.
		s := testStore(t, c)
		u := storetest.RandomUser()
		require.NoError(t, c.SAdd(ctx, s.recoveryKey(tag(u.Handle)), storetest.RandomBytes(32)).Err())
		require.NoError(t, s.CreateUser(ctx, u, nil))
		left, err := s.RecoveryCodesLeft(ctx, u.Handle)
		require.NoError(t, err)
		require.Zero(t, left)
		require.NoError(t, s.DeleteUser(ctx, u.Handle))
	})

	t.Run("codes_share_the_user_slot", func(t *testing.T) {
		s := testStore(t, c)
		h := tag(storetest.RandomHandle())
		require.Equal(t, "{"+h+"}", s.recoveryKey(h)[len(s.prefix+"recovery:"):])
		require.Equal(t, "{"+h+"}", s.recoveryUseKey(h)[len(s.prefix+"recoveryused:"):])
	})
}

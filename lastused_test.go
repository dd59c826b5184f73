package webauthnkit_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/webauthntest"
)

// A counterless (synced) passkey signing in again within
// Config.LastUsedResolution costs no store write; one that moves its
// counter, changes a flag or signs in after the interval does.
func TestLastUsedCoalesced(t *testing.T) {
	e := newEnv(t)
	reg, synced := e.signUp(t, "sam", webauthntest.SyncedPasskey())
	stored := func() webauthnkit.Credential {
		c, err := e.store.GetCredential(ctx, reg.Credential.ID)
		require.NoError(t, err)
		return c
	}
	require.True(t, stored().LastUsedAt.IsZero())

	first, err := e.login(t, synced, "sam")
	require.NoError(t, err)
	t0 := e.clock.Now()
	require.True(t, stored().LastUsedAt.Equal(t0), "the first login is written")
	require.True(t, first.Credential.LastUsedAt.Equal(t0))

	e.clock.Advance(30 * time.Second)
	again, err := e.login(t, synced, "sam")
	require.NoError(t, err)
	require.True(t, stored().LastUsedAt.Equal(t0), "a login within the resolution changed the stored last use")
	require.True(t, again.Credential.LastUsedAt.Equal(t0), "Login.Credential is what is stored")
	require.True(t, again.AuthenticatedAt.Equal(e.clock.Now()), "AuthenticatedAt is this login's time, not the coalesced last use (step-up freshness)")

	e.clock.Advance(31 * time.Second) // 61 s after the written use
	_, err = e.login(t, synced, "sam")
	require.NoError(t, err)
	require.True(t, stored().LastUsedAt.Equal(e.clock.Now()), "a login after the resolution is written")

	// A counter that moves is always written (compare-and-set).
	reg2, device := e.signUp(t, "dana")
	for i := range 3 {
		e.clock.Advance(time.Second)
		l, err := e.login(t, device, "dana")
		require.NoError(t, err)
		c, err := e.store.GetCredential(ctx, reg2.Credential.ID)
		require.NoError(t, err)
		require.Equal(t, l.Credential.SignCount, c.SignCount, "login %d", i)
		require.True(t, c.LastUsedAt.Equal(e.clock.Now()), "login %d", i)
	}
}

func TestLastUsedEveryLogin(t *testing.T) {
	e := newEnv(t, func(c *webauthnkit.Config) { c.LastUsedResolution = -1 })
	reg, synced := e.signUp(t, "sam", webauthntest.SyncedPasskey())
	for range 3 {
		e.clock.Advance(time.Second)
		_, err := e.login(t, synced, "sam")
		require.NoError(t, err)
		c, err := e.store.GetCredential(ctx, reg.Credential.ID)
		require.NoError(t, err)
		require.True(t, c.LastUsedAt.Equal(e.clock.Now()))
	}
}

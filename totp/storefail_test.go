package totp_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/memstore"
	"github.com/webauthnkit/webauthnkit/totp"
)

// A store that cannot take the record fails the verification closed: a
// right code whose use cannot be recorded is not accepted.
func TestStoreFailureFailsClosed(t *testing.T) {
	c := newClock()
	// Room for two records: Confirm's attempt and its used-code record.
	ms := newMemStore(t, memstore.WithClock(c.Now), memstore.WithMaxCeremonies(2))
	t.Cleanup(func() { ms.Close() })
	f := newFixtureOn(t, c, ms, nil)
	sealed, secret := f.enrol(userID(1))

	err := f.totp.Verify(context.Background(), sealed, userID(1), f.code(secret, 0))
	require.ErrorIs(t, err, totp.ErrStore)
	require.ErrorIs(t, err, webauthnkit.ErrStoreUnavailable, "the store's sentinel is reachable")

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	c.Add(30 * time.Second)
	err = f.totp.Verify(ctx, sealed, userID(1), f.code(secret, 0))
	require.ErrorIs(t, err, context.Canceled)
}

// Package loginbench sets up the login benchmarks of the core, sqlstore and
// redisstore the same way, so that their figures compare: a RelyingParty on
// the given stores, one registered synced passkey, and one assertion that
// is valid for every login ceremony (the challenge is fixed and a synced
// passkey's counter stays 0), so a benchmark can finish b.N ceremonies with
// one body.
package loginbench

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/storetest"
	"github.com/webauthnkit/webauthnkit/webauthntest"
)

// The relying party of every login benchmark.
const (
	RPID   = "example.com"
	Origin = "https://example.com"
)

// Challenge is the fixed challenge of every ceremony of a Fixture.
var Challenge = bytes.Repeat([]byte{0x42}, 32)

// Fixture is a RelyingParty with one registered passkey and a login
// assertion valid for all its ceremonies.
type Fixture struct {
	RP *webauthnkit.RelyingParty
	// Registration is the passkey's registration (its user and credential).
	Registration *webauthnkit.Registration
	// Device is the authenticator holding the passkey.
	Device *webauthntest.Authenticator
	// Body is a FinishLogin body valid for every ceremony (a discoverable
	// login), already checked once.
	Body []byte
}

// New registers a synced passkey (on an authenticator with the given extra
// options, e.g. a key type) with a RelyingParty over creds and cers, and
// signs in once to get Body. The user name is random: stores may be shared.
func New(tb testing.TB, creds webauthnkit.CredentialStore, cers webauthnkit.ChallengeStore, device ...webauthntest.Option) *Fixture {
	tb.Helper()
	ctx := context.Background()
	rp, err := webauthnkit.New(webauthnkit.Config{
		RPID: RPID, Origins: []string{Origin},
		Credentials: creds, Ceremonies: cers,
		NewChallenge: func() ([]byte, error) { return Challenge, nil },
		// Required with a shared store (sqlstore, redisstore).
		Secret: bytes.Repeat([]byte{0x5e}, 32),
	})
	require.NoError(tb, err)
	opts := append([]webauthntest.Option{webauthntest.WithOrigin(Origin), webauthntest.SyncedPasskey()}, device...)
	d := webauthntest.New(opts...)
	begin, err := rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{Username: storetest.RandomName()})
	require.NoError(tb, err)
	body, err := d.Register(begin.Options)
	require.NoError(tb, err)
	reg, err := rp.FinishRegistration(ctx, begin.CeremonyID, body)
	require.NoError(tb, err)
	login, err := rp.BeginLogin(ctx, webauthnkit.LoginRequest{})
	require.NoError(tb, err)
	body, err = d.Login(login.Options)
	require.NoError(tb, err)
	_, err = rp.FinishLogin(ctx, login.CeremonyID, body)
	require.NoError(tb, err)
	return &Fixture{RP: rp, Registration: reg, Device: d, Body: body}
}

// Begin begins n discoverable login ceremonies (before a benchmark's timer
// starts) and returns their IDs.
func (f *Fixture) Begin(tb testing.TB, n int) []string {
	tb.Helper()
	ids := make([]string, n)
	for i := range ids {
		begin, err := f.RP.BeginLogin(context.Background(), webauthnkit.LoginRequest{})
		require.NoError(tb, err)
		ids[i] = begin.CeremonyID
	}
	return ids
}

package account_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/webauthntest"
)

// OldPasskeys names each passkey's provider, so the removal prompt after a
// recovery can say which one was on the lost device.
func TestOldPasskeysProviderName(t *testing.T) {
	e := newEnv(t)
	first, _ := e.signUp(t, "pat@example.com", "pat")
	yubi := [16]byte{0x2f, 0xc0, 0x57, 0x9f, 0x81, 0x13, 0x47, 0xea, 0xb1, 0x16, 0xbb, 0x5a, 0x8d, 0xb9, 0x20, 0x2a}
	key := webauthntest.New(webauthntest.WithOrigin(testOrigin), webauthntest.WithAAGUID(yubi))
	begin, err := e.rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{UserHandle: first.User.Handle})
	require.NoError(t, err)
	body, err := key.Register(begin.Options)
	require.NoError(t, err)
	_, err = e.rp.FinishRegistration(ctx, begin.CeremonyID, body)
	require.NoError(t, err)

	old, err := e.acc.OldPasskeys(ctx, first.User.Handle, first.Credential.ID)
	require.NoError(t, err)
	require.Len(t, old, 1)
	assert.Equal(t, "YubiKey 5 Series with NFC", old[0].ProviderName)
}

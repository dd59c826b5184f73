package webauthnkit_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/webauthntest"
)

// go-webauthn's DevInfo and Details echo client input (an unsupported
// attestation format's name, a token binding status, a parse error): the
// failure log line carries them bounded, printable and with encoded
// values scrubbed, as (*Error).Error() does.
func TestFailureLogBoundsClientText(t *testing.T) {
	e := newEnv(t)
	begin, err := e.rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{Username: "alice"})
	require.NoError(t, err)
	format := "evil" + strings.Repeat("Z", 20000) + " msg=forged"
	body, err := webauthntest.New(webauthntest.WithOrigin(testOrigin)).Register(begin.Options,
		webauthntest.WithAttestationStatement(format, map[string]any{}))
	require.NoError(t, err)
	before := len(e.logs.String())
	_, err = e.rp.FinishRegistration(ctx, begin.CeremonyID, body)
	require.ErrorIs(t, err, webauthnkit.ErrInvalidResponse)
	logged := e.logs.String()[before:]
	assert.Contains(t, logged, "ceremony failed")
	assert.NotContains(t, logged, "ZZZZZZZZZZZZZZZZ", "client text is scrubbed and bounded")
	assert.Less(t, len(logged), 2000, logged[:min(len(logged), 500)])
}

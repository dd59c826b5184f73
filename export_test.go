package webauthnkit_test

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit"
)

// TestExportUser: RelyingParty.ExportUser returns the account and its
// passkeys as JSON (the registration's attestation object included); an
// unknown handle is ErrUserNotFound; after DeleteUser nothing is left.
func TestExportUser(t *testing.T) {
	e := newEnv(t)
	reg, _ := e.signUp(t, "zoe")
	_, err := e.rp.SetEmail(ctx, reg.User.Handle, "zoe@example.org", true)
	require.NoError(t, err)

	exp, err := e.rp.ExportUser(ctx, reg.User.Handle)
	require.NoError(t, err)
	require.Equal(t, webauthnkit.UserExportFormat, exp.Format)
	raw, err := json.Marshal(exp)
	require.NoError(t, err)
	text := string(raw)
	for _, want := range []string{`"name":"zoe"`, `"email":"zoe@example.org"`, `"email_verified_at":"`,
		base64.RawURLEncoding.EncodeToString(reg.Credential.ID), base64.RawURLEncoding.EncodeToString(reg.Credential.PublicKey)} {
		require.Contains(t, text, want)
	}
	require.Len(t, exp.Credentials, 1)
	if len(reg.Credential.AttestationObject) > 0 {
		require.Equal(t, base64.RawURLEncoding.EncodeToString(reg.Credential.AttestationObject), exp.Credentials[0].AttestationObject)
	}
	require.False(t, strings.Contains(text, "recovery_code_hash"), "code hashes are not exported")

	require.NoError(t, e.rp.DeleteUser(ctx, reg.User.Handle))
	_, err = e.rp.ExportUser(ctx, reg.User.Handle)
	require.ErrorIs(t, err, webauthnkit.ErrUserNotFound)
}

package httpadapter_test

import (
	"context"
	"encoding/base64"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestQuarantinedPasskey: the passkey list marks a quarantined passkey, and
// a sign-in with it is answered 403 credential_quarantined.
func TestQuarantinedPasskey(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	b.mustSignUp("alice")
	r := b.call(http.MethodGet, "/credentials", nil)
	require.Equal(t, http.StatusOK, r.status, r.String())
	list := r.json["credentials"].([]any)
	require.Len(t, list, 1)
	require.Equal(t, false, list[0].(map[string]any)["quarantined"])
	id, err := base64.RawURLEncoding.DecodeString(credentialIDs(r)[0])
	require.NoError(t, err)

	require.NoError(t, e.rp.QuarantineCredential(context.Background(), id, "model withdrawn"))
	r = b.call(http.MethodGet, "/credentials", nil)
	require.Equal(t, true, r.json["credentials"].([]any)[0].(map[string]any)["quarantined"])

	r = b.login(map[string]any{})
	require.Equal(t, http.StatusForbidden, r.status, r.String())
	require.Equal(t, "credential_quarantined", r.json["error"])
}

package httpadapter_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit/webauthntest"
)

// Credentials in responses carry the authenticator's name from its AAGUID
// ("" when the AAGUID is all zero).
func TestCredentialProviderNameJSON(t *testing.T) {
	e := newEnv(t)
	gpm := [16]byte{0xea, 0x9b, 0x8d, 0x66, 0x4d, 0x01, 0x1d, 0x21, 0x3c, 0xe4, 0xb6, 0xb4, 0x8c, 0xb5, 0x75, 0xd4}
	b := e.browser(webauthntest.WithAAGUID(gpm), webauthntest.WithBackup(true, true))
	r := b.mustSignUp("alice")
	assert.Equal(t, "Google Password Manager", field(r.json, "credential", "providerName"))
	assert.Equal(t, "ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4", field(r.json, "credential", "aaguid"))

	r = b.login(map[string]string{"username": "alice"})
	require.Equal(t, http.StatusOK, r.status, r.String())
	assert.Equal(t, "Google Password Manager", field(r.json, "credential", "providerName"))

	r = b.call(http.MethodGet, "/credentials", nil)
	require.Equal(t, http.StatusOK, r.status, r.String())
	creds := r.json["credentials"].([]any)
	require.Len(t, creds, 1)
	assert.Equal(t, "Google Password Manager", creds[0].(map[string]any)["providerName"])
	assert.Equal(t, "Google Password Manager", creds[0].(map[string]any)["name"], "default name")

	other := e.browser()
	r = other.mustSignUp("bob")
	assert.Equal(t, "", field(r.json, "credential", "providerName"), "all-zero AAGUID: present, empty")
}

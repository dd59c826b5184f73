package webauthnkit_test

import (
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/webauthntest"
)

func aaguid(t testing.TB, s string) [16]byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, "-", ""))
	require.NoError(t, err)
	require.Len(t, b, 16)
	return [16]byte(b)
}

const (
	aaguidGPM    = "ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4"
	aaguidYubi5  = "2fc0579f-8113-47ea-b116-bb5a8db9202a"
	aaguidApple  = "fbfc3007-154e-4ecc-8c0b-6e020557d7bd"
	aaguidAcme   = "0a0b0c0d-0000-4000-8000-000000000001" // in no table
	aaguidWinHel = "08987058-cadc-4b81-b6e1-30de50dcbe96"
)

func TestAuthenticatorName(t *testing.T) {
	for id, want := range map[string]string{
		aaguidGPM:    "Google Password Manager",
		aaguidYubi5:  "YubiKey 5 Series with NFC",
		aaguidApple:  "Apple Passwords",
		aaguidWinHel: "Windows Hello",
		aaguidAcme:   "",
	} {
		a := aaguid(t, id)
		assert.Equal(t, want, webauthnkit.AuthenticatorName(a[:]), id)
	}
	assert.Equal(t, "", webauthnkit.AuthenticatorName(make([]byte, 16)), "all zero")
	gpm := aaguid(t, aaguidGPM)
	for n := 0; n < 100; n++ {
		if n == 16 {
			continue
		}
		hostile := []byte(strings.Repeat(string(gpm[:]), 7))[:n]
		assert.Equal(t, "", webauthnkit.AuthenticatorName(hostile), "%d bytes", n)
	}
	assert.Equal(t, "", webauthnkit.AuthenticatorName(nil))
}

// namer is a Config.AuthenticatorNames standing in for FIDO metadata.
type namer struct {
	mu    sync.Mutex
	names map[[16]byte]string
	asked [][]byte
}

func (n *namer) AuthenticatorName(aaguid []byte) string {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.asked = append(n.asked, aaguid)
	return n.names[[16]byte(aaguid)]
}

// Credentials the RelyingParty returns carry the provider name; the store
// never gets it; a new passkey without a name is named after it.
func TestCredentialProviderName(t *testing.T) {
	e := newEnv(t)
	reg, auth := e.signUp(t, "alice", webauthntest.WithAAGUID(aaguid(t, aaguidGPM)), webauthntest.WithBackup(true, true))
	assert.Equal(t, "Google Password Manager", reg.Credential.ProviderName)
	assert.Equal(t, "Google Password Manager", reg.Credential.Name, "default name")
	stored, err := e.store.GetCredential(ctx, reg.Credential.ID)
	require.NoError(t, err)
	assert.Equal(t, "", stored.ProviderName, "not stored")

	login, err := e.login(t, auth, "alice")
	require.NoError(t, err)
	assert.Equal(t, "Google Password Manager", login.Credential.ProviderName)

	// A named passkey keeps its name; one with an all-zero AAGUID (most
	// platforms without attestation) has no provider name.
	e.clock.Advance(time.Second)
	register(t, e.rp, webauthnkit.RegistrationRequest{UserHandle: reg.User.Handle, CredentialName: "My key"}, webauthntest.WithAAGUID(aaguid(t, aaguidYubi5)), webauthntest.WithAttachment(webauthntest.CrossPlatform))
	e.clock.Advance(time.Second)
	zero, _ := register(t, e.rp, webauthnkit.RegistrationRequest{UserHandle: reg.User.Handle}, webauthntest.WithBackup(true, true))
	assert.Equal(t, "", zero.Credential.ProviderName)
	assert.Equal(t, "Synced passkey", zero.Credential.Name)

	creds, err := e.rp.ListCredentials(ctx, reg.User.Handle)
	require.NoError(t, err)
	require.Len(t, creds, 3)
	assert.Equal(t, []string{"Google Password Manager", "YubiKey 5 Series with NFC", ""},
		[]string{creds[0].ProviderName, creds[1].ProviderName, creds[2].ProviderName})
	assert.Equal(t, "My key", creds[1].Name)
}

// Config.AuthenticatorNames (FIDO metadata) answers first; the table fills
// in what it does not know or answers badly; it is never asked about an
// all-zero AAGUID.
func TestAuthenticatorNamesHook(t *testing.T) {
	n := &namer{names: map[[16]byte]string{
		aaguid(t, aaguidAcme):  "  Acme Key  ",
		aaguid(t, aaguidYubi5): "YubiKey 5 NFC (from MDS)",
		aaguid(t, aaguidGPM):   "Google\x00Password", // refused: the table's name is used
		aaguid(t, aaguidApple): strings.Repeat("x", 129),
	}}
	e := newEnv(t, func(c *webauthnkit.Config) { c.AuthenticatorNames = n })
	for id, want := range map[string]string{
		aaguidAcme:   "Acme Key",
		aaguidYubi5:  "YubiKey 5 NFC (from MDS)",
		aaguidGPM:    "Google Password Manager",
		aaguidApple:  "Apple Passwords",
		aaguidWinHel: "Windows Hello",
	} {
		a := aaguid(t, id)
		assert.Equal(t, want, e.rp.AuthenticatorName(a[:]), id)
	}
	n.asked = nil
	assert.Equal(t, "", e.rp.AuthenticatorName(make([]byte, 16)))
	assert.Equal(t, "", e.rp.AuthenticatorName(make([]byte, 15)))
	assert.Empty(t, n.asked, "not asked about all-zero or malformed AAGUIDs")

	reg, _ := e.signUp(t, "bob", webauthntest.WithAAGUID(aaguid(t, aaguidAcme)))
	assert.Equal(t, "Acme Key", reg.Credential.ProviderName)
	creds, err := e.rp.ListCredentials(ctx, reg.User.Handle)
	require.NoError(t, err)
	assert.Equal(t, "Acme Key", creds[0].ProviderName)
}

func ExampleAuthenticatorName() {
	id, _ := hex.DecodeString("ea9b8d664d011d213ce4b6b48cb575d4")
	fmt.Printf("%q\n", webauthnkit.AuthenticatorName(id))
	fmt.Printf("%q\n", webauthnkit.AuthenticatorName(make([]byte, 16))) // model hidden
	// Output:
	// "Google Password Manager"
	// ""
}

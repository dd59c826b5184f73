package webauthnkit

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/webauthnkit/webauthnkit/internal/aaguids"
)

// AuthenticatorNamer names authenticator models (passkey providers) by
// AAGUID, e.g. from FIDO metadata (MDS3). Config.AuthenticatorNames is
// asked first; when it returns "" the embedded table is used (see
// AuthenticatorName). Implementations must be safe for concurrent use and
// fast (no I/O: a lookup in memory), since they run for every credential a
// RelyingParty returns.
type AuthenticatorNamer interface {
	// AuthenticatorName returns the model's name for display ("YubiKey 5
	// Series with NFC"), or "" when unknown. aaguid is 16 bytes, never all
	// zero.
	AuthenticatorName(aaguid []byte) string
}

// maxProviderName bounds a name from Config.AuthenticatorNames.
const maxProviderName = 128

// AuthenticatorName returns the name of the authenticator model or passkey
// provider with this AAGUID ("Google Password Manager", "Windows Hello",
// "YubiKey 5 Series with NFC") from the table embedded in the library, or
// "" when the table does not list it, the AAGUID is all zero (many
// platforms hide their model when no attestation is asked for) or not 16
// bytes long.
//
// The table is generated from the community list
// github.com/passkeydeveloper/passkey-authenticator-aaguids (names only; see
// internal/aaguids). The AAGUID is asserted by the authenticator and
// verified only by attestation: show the name to users, base no security
// decision on it.
func AuthenticatorName(aaguid []byte) string { return aaguids.Name(aaguid) }

// AuthenticatorName returns the name of the authenticator model with this
// AAGUID: Config.AuthenticatorNames' answer when it has one (bounded to 128
// bytes of printable text, else ignored), else the embedded table's (the
// package function AuthenticatorName), else "".
func (rp *RelyingParty) AuthenticatorName(aaguid []byte) string {
	if len(aaguid) != 16 || allZero(aaguid) {
		return ""
	}
	if rp.cfg.AuthenticatorNames != nil {
		if name := cleanProviderName(rp.cfg.AuthenticatorNames.AuthenticatorName(aaguid)); name != "" {
			return name
		}
	}
	return aaguids.Name(aaguid)
}

// withProviderName fills c.ProviderName (never stored) for a credential
// the RelyingParty returns.
func (rp *RelyingParty) withProviderName(c Credential) Credential {
	c.ProviderName = rp.AuthenticatorName(c.AAGUID)
	return c
}

func allZero(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}

// cleanProviderName returns name trimmed, or "" when it is empty, longer
// than maxProviderName or holds anything but printable text.
func cleanProviderName(name string) string {
	name = strings.TrimSpace(name)
	if name == "" || len(name) > maxProviderName || !utf8.ValidString(name) {
		return ""
	}
	for _, r := range name {
		if !unicode.IsPrint(r) {
			return ""
		}
	}
	return name
}

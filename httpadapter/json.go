package httpadapter

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"time"

	"github.com/webauthnkit/webauthnkit"
)

// userJSON is a user as sent to clients.
type userJSON struct {
	Handle      string `json:"handle"` // base64url
	Name        string `json:"name"`
	DisplayName string `json:"displayName"`
}

// credentialJSON is a passkey as sent to clients. It never carries the
// public key or the signature counter.
type credentialJSON struct {
	ID             string    `json:"id"` // base64url
	Name           string    `json:"name"`
	CreatedAt      time.Time `json:"createdAt"`
	LastUsedAt     time.Time `json:"lastUsedAt,omitzero"`
	BackupEligible bool      `json:"backupEligible"`
	BackedUp       bool      `json:"backedUp"`
	Attachment     string    `json:"attachment"`
	Transports     []string  `json:"transports"`
	// AAGUID in UUID form ("01234567-89ab-cdef-0123-456789abcdef"); all
	// zeros for many platforms with attestation "none"; empty if unknown.
	AAGUID string `json:"aaguid"`
	// ProviderName names the authenticator model or passkey provider
	// ("Google Password Manager", "YubiKey 5 Series with NFC"), from
	// webauthnkit.Credential.ProviderName; "" when unknown. For display.
	ProviderName string `json:"providerName"`
	// SecondFactorOnly: usable only in a login bound to its user.
	SecondFactorOnly bool `json:"secondFactorOnly"`
	// Quarantined: suspended by an audit or the application; its logins
	// fail with credential_quarantined (see docs/audit.md).
	Quarantined bool `json:"quarantined"`
}

// newUserJSON converts a user for a response.
func newUserJSON(u webauthnkit.User) userJSON {
	return userJSON{Handle: b64(u.Handle), Name: u.Name, DisplayName: u.DisplayName}
}

// newCredentialJSON converts a credential for a response.
func newCredentialJSON(c webauthnkit.Credential) credentialJSON {
	transports := c.Transports
	if transports == nil {
		transports = []string{}
	}
	return credentialJSON{
		ID:             b64(c.ID),
		Name:           c.Name,
		CreatedAt:      c.CreatedAt.UTC(),
		LastUsedAt:     c.LastUsedAt.UTC(),
		BackupEligible: c.BackupEligible,
		BackedUp:       c.BackupState,
		Attachment:     c.Attachment,
		Transports:     transports,
		AAGUID:         uuid(c.AAGUID),
		ProviderName:   c.ProviderName,

		SecondFactorOnly: c.SecondFactorOnly,
		Quarantined:      !c.QuarantinedAt.IsZero(),
	}
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func uuid(b []byte) string {
	if len(b) != 16 {
		return ""
	}
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// beginResponse is the answer of registration/begin and login/begin.
type beginResponse struct {
	PublicKey json.RawMessage `json:"publicKey"`
	Mediation string          `json:"mediation,omitempty"`
}

type registrationResponse struct {
	User       userJSON       `json:"user"`
	Credential credentialJSON `json:"credential"`
	NewUser    bool           `json:"newUser"`
	// Recovered: registered with a recovery grant; the client should
	// list the old passkeys (GET credentials) and offer removing the lost one.
	Recovered bool `json:"recovered,omitempty"`
	// Linked: registered with a device-linking grant (the new device of
	// an approval); the adapter signed it in.
	Linked bool `json:"linked,omitempty"`
}

type loginResponse struct {
	User         userJSON       `json:"user"`
	Credential   credentialJSON `json:"credential"`
	UserVerified bool           `json:"userVerified"`
	BackedUp     bool           `json:"backedUp"`
	// Factors the login proves (webauthnkit.Login.Factors): 2 for a
	// user-verified passkey, so the app can skip its second step.
	Factors int `json:"factors"`
	// CrossDevice: the passkey is on another device (a phone over the
	// hybrid transport, a security key): offer to create a passkey on this
	// device (webauthnkit.Login.CrossDevice).
	CrossDevice bool `json:"crossDevice"`
}

// credentialsResponse answers GET credentials, and PATCH / DELETE
// credentials/{id} with the list after the change. User is there so that the
// client can call PublicKeyCredential.signalCurrentUserDetails.
type credentialsResponse struct {
	RPID        string           `json:"rpId"`
	UserHandle  string           `json:"userHandle"`
	User        userJSON         `json:"user"`
	Credentials []credentialJSON `json:"credentials"`
}

// sessionResponse answers GET session: Passkeys 0 is "signed in, no
// passkey yet" (signed out is 401).
type sessionResponse struct {
	User     userJSON `json:"user"`
	Passkeys int      `json:"passkeys"`
}

// userUpdateResponse answers PATCH user. Signal.CurrentUserDetails is the
// argument of PublicKeyCredential.signalCurrentUserDetails.
type userUpdateResponse struct {
	User   userJSON `json:"user"`
	Signal signal   `json:"signal"`
}

package webauthnkit

import (
	"log/slog"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
)

// RelyingParty runs WebAuthn ceremonies over a CredentialStore and a
// ChallengeStore. It is safe for concurrent use. Build one with New at start.
type RelyingParty struct {
	cfg   Config
	wa    *webauthn.WebAuthn
	log   *slog.Logger
	creds CredentialStore
	cers  ChallengeStore
	// ceremonyKeys authenticate ceremony records (ceremony_mac.go).
	ceremonyKeys ceremonyKeys
	// dummyKey is verified against when an unknown name's fake credential
	// is presented (enumeration.go).
	dummyKey []byte
	// credParams is cfg.Algorithms as go-webauthn's pubKeyCredParams.
	credParams []protocol.CredentialParameter
	// keyChecks remembers stored keys that passed the key limits
	// (keys_cache.go).
	keyChecks keyCheckCache
}

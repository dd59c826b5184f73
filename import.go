package webauthnkit

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"time"

	"github.com/go-webauthn/webauthn/protocol/webauthncbor"
)

// EventCredentialImported: a passkey was imported from another system
// (ImportCredential).
const EventCredentialImported EventType = "credential.imported"

// MaxCredentialIDLength is the longest credential ID WebAuthn allows
// (§5.8.3), and the longest ImportCredential accepts.
const MaxCredentialIDLength = 1023

// ImportedCredential is a passkey registered by another system, to be
// moved into this one with ImportCredential. The authenticator keeps its
// private key; what moves is the credential record: the ID, the COSE public
// key and the flags. The other system's RP ID must be this Config.RPID (a
// passkey is bound to its RP ID), and the user's handle must be the one
// the authenticator holds (the other system's user.id), or usernameless
// logins with it fail.
type ImportedCredential struct {
	// ID is the credential ID (1 to 1023 bytes). Required.
	ID []byte
	// UserHandle is the owner: an existing account (create it first with
	// CreateUser, with the other system's user handle, 1 to 64 bytes, which
	// the authenticator returns in usernameless logins). Required.
	UserHandle []byte
	// PublicKey is the credential public key as a COSE_Key (what
	// go-webauthn and most libraries store; from the registration's
	// attestedCredentialData). Keys in SubjectPublicKeyInfo form (from
	// response.getPublicKey()) convert with COSEKeyFromSPKI. Checked like the key
	// of a registration: an algorithm in Config.Algorithms and the public
	// key limits (MaxRSAModulusBits...). Required.
	PublicKey []byte
	// SignCount is the last signature counter seen (0 if unknown or for
	// synced passkeys): a later login must present a greater one unless
	// both are 0.
	SignCount uint32
	// BackupEligible and BackupState are the BE and BS flags the other
	// system recorded at registration (and last login). Required: the
	// authenticator reports BE in every assertion, and a login whose BE
	// differs from the stored one fails (go-webauthn refuses it as a
	// changed authenticator). A synced passkey (iCloud Keychain, Google
	// Password Manager) has BE true; a security key false. If the other
	// system did not record them, read them from a stored authenticator
	// data (flags byte: BE 0x08, BS 0x10), or ask the user to register a new
	// passkey instead.
	BackupEligible *bool
	BackupState    *bool
	// UserVerified: the authenticator verified the user at registration.
	UserVerified bool
	// AAGUID is the authenticator model (16 bytes), or nil if unknown.
	AAGUID []byte
	// AttestationFormat as recorded ("none" if unknown, the default).
	AttestationFormat string
	// Transports are the hints recorded ("internal", "hybrid", "usb",
	// "nfc", "ble", "smart-card"); others are dropped.
	Transports []string
	// Attachment is "platform", "cross-platform" or "".
	Attachment string
	// Name labels the passkey; default as for a registration ("Synced
	// passkey", "Security key", ...).
	Name string
	// CreatedAt is when it was registered in the other system. Default:
	// now.
	CreatedAt time.Time
	// LastUsedAt is when it last signed in there; zero if unknown.
	LastUsedAt time.Time
	// SecondFactorOnly as for RegistrationRequest.SecondFactorOnly.
	SecondFactorOnly bool
}

// ImportCredential stores a passkey registered by another system (a
// migration), after the checks a registration makes on what it can check
// without the authenticator: the lengths of the ID and user handle, the
// COSE public key (algorithm allowed, key limits), the flags, an existing
// owner, and a credential ID registered nowhere. It returns the stored
// record and emits EventCredentialImported. Nothing is verified against
// the authenticator: the first login with the passkey is what proves the
// record right (a wrong key or BE flag makes that login fail with
// ErrInvalidResponse). See docs/import.md.
//
// Errors: ErrInvalidRequest (a missing or malformed field, BackupEligible
// or BackupState nil, BS without BE; for the key, wrapping
// ErrKeyNotAllowed), ErrUserNotFound, ErrCredentialExists (the ID
// is registered, to any account), ErrAttestationRefused (under
// AttestationEnforce, a model the AAGUID lists deny or the metadata
// revoked), ErrStoreUnavailable.
func (rp *RelyingParty) ImportCredential(ctx context.Context, in ImportedCredential) (Credential, error) {
	rec, err := rp.importRecord(in)
	if err != nil {
		return Credential{}, err
	}
	if err := rp.importPolicy(ctx, &rec); err != nil {
		return Credential{}, err
	}
	if _, err := rp.creds.GetUserByHandle(ctx, rec.UserHandle); err != nil {
		if errors.Is(err, ErrNotFound) {
			return Credential{}, &Error{Code: CodeUserNotFound, Message: "unknown user: create the account first", Err: err}
		}
		return Credential{}, rp.storeErr(ctx, "GetUserByHandle", err)
	}
	// A fake ID of a login by an unknown name is refused like a taken one,
	// as at registration (enumeration.go).
	if rp.isFakeCredentialID(rec.ID) {
		return Credential{}, &Error{Code: CodeCredentialExists, Message: "this passkey is already registered", Err: ErrDuplicate}
	}
	err = rp.creds.AddCredential(ctx, rec)
	switch {
	case err == nil:
	case errors.Is(err, ErrCredentialExists):
		return Credential{}, &Error{Code: CodeCredentialExists, Message: "this passkey is already registered", Err: err}
	case errors.Is(err, ErrNotFound):
		return Credential{}, &Error{Code: CodeUserNotFound, Message: "the account no longer exists", Err: err}
	default:
		return Credential{}, rp.storeErr(ctx, "AddCredential", err)
	}
	rp.emit(ctx, Event{Type: EventCredentialImported, UserHandle: rec.UserHandle, CredentialID: rec.ID})
	return rec, nil
}

// importPolicy applies Config.Attestation to an imported record, which
// carries no attestation: as for a stored record without its attestation
// object (auditByPolicy), enforce refuses it only for its model (denied by
// the AAGUID lists or revoked by the metadata), not for the evidence it
// cannot have. The verdict is stored as the record's audit state.
func (rp *RelyingParty) importPolicy(ctx context.Context, rec *Credential) error {
	if rp.cfg.Attestation.Mode == AttestationOff {
		return nil
	}
	res, err := rp.EvaluateAttestation(ctx, AttestationInput{Format: rec.AttestationFormat, AAGUID: rec.AAGUID})
	if err != nil {
		return err
	}
	if res.MetadataErr != nil && rp.cfg.Attestation.Mode == AttestationEnforce {
		return &Error{Code: CodeInternal, Message: "the attestation metadata is unavailable: import later", Err: res.MetadataErr}
	}
	if rp.cfg.Attestation.Mode == AttestationEnforce && (res.Denied || res.Trust == AttestationRevoked) {
		res.Refused = true
		return &Error{Code: CodeAttestationRefused, Message: ErrAttestationRefused.Message, Err: &AttestationRefusal{Result: res}}
	}
	rec.AttestationTrust, rec.AttestationCheckedAt = cutText(string(res.Trust), MaxAuditTextLength), rp.cfg.Now().UTC()
	return nil
}

// importRecord validates in and builds the record to store.
func (rp *RelyingParty) importRecord(in ImportedCredential) (Credential, error) {
	bad := func(msg string) (Credential, error) {
		return Credential{}, &Error{Code: CodeInvalidRequest, Message: msg}
	}
	switch {
	case len(in.ID) == 0 || len(in.ID) > MaxCredentialIDLength:
		return bad("the credential ID must have 1 to 1023 bytes")
	case len(in.UserHandle) == 0 || len(in.UserHandle) > MaxUserHandleLength:
		return bad("the user handle must have 1 to 64 bytes")
	case in.BackupEligible == nil || in.BackupState == nil:
		return bad("BackupEligible and BackupState are required: a wrong backup-eligible flag makes every login fail")
	case *in.BackupState && !*in.BackupEligible:
		return bad("BackupState without BackupEligible is not a valid flag combination")
	case in.AAGUID != nil && len(in.AAGUID) != 16:
		return bad("the AAGUID must have 16 bytes")
	case len(in.PublicKey) == 0:
		return bad("the public key is required (a COSE_Key)")
	case len(in.PublicKey) > MaxResponseSize:
		return bad("the public key is too large")
	}
	switch in.Attachment {
	case "", "platform", "cross-platform":
	default:
		return bad(`the attachment must be "platform", "cross-platform" or empty`)
	}
	format := in.AttestationFormat
	if format == "" {
		format = "none"
	}
	if len(format) > 64 {
		return bad("the attestation format is too long")
	}
	if _, err := checkCredentialKey(in.PublicKey, rp.cfg.Algorithms); err != nil {
		// Not a response: the caller's input is refused.
		return Credential{}, &Error{Code: CodeInvalidRequest, Message: err.(*Error).Message, Err: ErrKeyNotAllowed}
	}
	name, err := cleanText("credential name", in.Name)
	if err != nil {
		return Credential{}, err
	}
	var transports []string
	for _, t := range in.Transports {
		switch t {
		case "usb", "nfc", "ble", "smart-card", "hybrid", "internal":
			if !slices.Contains(transports, t) {
				transports = append(transports, t)
			}
		}
	}
	created := in.CreatedAt
	if created.IsZero() {
		created = rp.cfg.Now()
	}
	rec := Credential{
		ID:                slices.Clone(in.ID),
		UserHandle:        slices.Clone(in.UserHandle),
		PublicKey:         slices.Clone(in.PublicKey),
		SignCount:         in.SignCount,
		AAGUID:            slices.Clone(in.AAGUID),
		AttestationFormat: format,
		Transports:        transports,
		UserPresent:       true,
		UserVerified:      in.UserVerified,
		BackupEligible:    *in.BackupEligible,
		BackupState:       *in.BackupState,
		Attachment:        in.Attachment,
		Name:              name,
		CreatedAt:         created.UTC(),
		SecondFactorOnly:  in.SecondFactorOnly,
	}
	if !in.LastUsedAt.IsZero() {
		rec.LastUsedAt = in.LastUsedAt.UTC()
	}
	if rec.AAGUID == nil {
		rec.AAGUID = make([]byte, 16)
	}
	if rec.Name == "" {
		rec.Name = defaultCredentialName(rec)
	}
	return rec, nil
}

// maxSPKISize bounds COSEKeyFromSPKI's input: an RSA-4096
// SubjectPublicKeyInfo is 550 bytes.
const maxSPKISize = 4096

// COSEKeyFromSPKI converts a public key in SubjectPublicKeyInfo DER form
// (what response.getPublicKey() returns, and what some systems store) to
// the COSE_Key ImportCredential takes, for the credential algorithm alg
// (ES256, ES384, ES512, EdDSA, or an RSA one: the key alone does not say
// whether it signs RS256 or PS256). The key limits are applied by
// ImportCredential, not here.
func COSEKeyFromSPKI(der []byte, alg Algorithm) ([]byte, error) {
	bad := func(msg string) ([]byte, error) {
		return nil, &Error{Code: CodeInvalidRequest, Message: "public key: " + msg}
	}
	if len(der) > maxSPKISize {
		return bad("too large for a SubjectPublicKeyInfo")
	}
	spec, ok := keySpecs[alg]
	if !ok {
		return bad("unknown algorithm")
	}
	pub, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return bad("not a SubjectPublicKeyInfo")
	}
	var m map[int]any
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if spec.kty != coseKtyEC2 || (k.Curve.Params().BitSize+7)/8 != spec.size {
			return bad(fmt.Sprintf("an ECDSA key on %s is not a %v key", k.Curve.Params().Name, alg))
		}
		pt, err := k.Bytes() // 0x04 || x || y, each left-padded to the field size
		if err != nil {
			return bad("invalid ECDSA key")
		}
		n := (len(pt) - 1) / 2
		m = map[int]any{1: coseKtyEC2, 3: int64(alg), -1: spec.crv, -2: pt[1 : 1+n], -3: pt[1+n:]}
	case ed25519.PublicKey:
		if alg != AlgEdDSA {
			return bad(fmt.Sprintf("an Ed25519 key is not a %v key", alg))
		}
		m = map[int]any{1: coseKtyOKP, 3: int64(alg), -1: coseCrvEd25519, -2: []byte(k)}
	case *rsa.PublicKey:
		if spec.kty != coseKtyRSA {
			return bad(fmt.Sprintf("an RSA key is not a %v key", alg))
		}
		m = map[int]any{1: coseKtyRSA, 3: int64(alg), -1: k.N.Bytes(), -2: big.NewInt(int64(k.E)).Bytes()}
	default:
		return bad(fmt.Sprintf("unsupported key type %T", pub))
	}
	return webauthncbor.Marshal(m)
}

package webauthnkit

import (
	"context"
	"encoding/base64"
	"errors"
	"time"
)

// UserExport is everything a CredentialStore holds about one person, for a
// data-access request (GDPR art. 15): the account, every passkey with all
// its stored fields, and how many recovery codes are left (the store keeps
// only keyed hashes of the codes, which are useless to the person and are
// not exported). Marshal it with encoding/json. Byte fields are base64url
// (no padding); times are RFC 3339 in UTC, null when never set.
//
// In-flight ceremonies, emailed codes and TOTP replay records live in the
// ChallengeStore for minutes, keyed by random or keyed-hash IDs, and are
// not included: they cannot be found by user (see docs/privacy.md).
type UserExport struct {
	Format            string               `json:"format"` // "webauthnkit.user-export.v1"
	ExportedAt        time.Time            `json:"exported_at"`
	User              ExportedUser         `json:"user"`
	Credentials       []ExportedCredential `json:"credentials"`
	RecoveryCodesLeft int                  `json:"recovery_codes_left"`
}

// ExportedUser is User as exported.
type ExportedUser struct {
	Handle          string     `json:"handle"`
	Name            string     `json:"name"`
	DisplayName     string     `json:"display_name"`
	Email           string     `json:"email,omitempty"`
	EmailVerifiedAt *time.Time `json:"email_verified_at"`
	CreatedAt       time.Time  `json:"created_at"`
	SessionEpoch    uint64     `json:"session_epoch"`
}

// ExportedCredential is Credential as exported.
type ExportedCredential struct {
	ID                string     `json:"id"`
	Name              string     `json:"name"`
	PublicKey         string     `json:"public_key"`
	SignCount         uint32     `json:"sign_count"`
	AAGUID            string     `json:"aaguid"`
	AttestationFormat string     `json:"attestation_format"`
	Transports        []string   `json:"transports"`
	Attachment        string     `json:"attachment"`
	UserPresent       bool       `json:"user_present"`
	UserVerified      bool       `json:"user_verified"`
	BackupEligible    bool       `json:"backup_eligible"`
	BackupState       bool       `json:"backup_state"`
	CloneSuspected    bool       `json:"clone_suspected"`
	SecondFactorOnly  bool       `json:"second_factor_only"`
	CreatedAt         time.Time  `json:"created_at"`
	LastUsedAt        *time.Time `json:"last_used_at"`

	AttestationObject         string     `json:"attestation_object,omitempty"`
	AttestationClientDataHash string     `json:"attestation_client_data_hash,omitempty"`
	AttestationTrust          string     `json:"attestation_trust,omitempty"`
	AttestationCheckedAt      *time.Time `json:"attestation_checked_at,omitempty"`
	QuarantinedAt             *time.Time `json:"quarantined_at,omitempty"`
	QuarantineReason          string     `json:"quarantine_reason,omitempty"`
}

// UserExportFormat names the layout of UserExport.
const UserExportFormat = "webauthnkit.user-export.v1"

// ExportUser reads everything store holds about the user with this handle
// (three reads: the user, its credentials, its recovery-code count). It
// works on any CredentialStore, a sealed one included (values come back
// opened). Errors: a wrapping of ErrNotFound for an unknown user, or the
// store's error.
func ExportUser(ctx context.Context, store CredentialStore, handle []byte) (*UserExport, error) {
	u, err := store.GetUserByHandle(ctx, handle)
	if err != nil {
		return nil, err
	}
	creds, err := store.ListCredentials(ctx, handle)
	if err != nil {
		return nil, err
	}
	left, err := store.RecoveryCodesLeft(ctx, handle)
	if err != nil {
		return nil, err
	}
	enc := base64.RawURLEncoding.EncodeToString
	out := &UserExport{
		Format:     UserExportFormat,
		ExportedAt: time.Now().UTC(),
		User: ExportedUser{
			Handle:          enc(u.Handle),
			Name:            u.Name,
			DisplayName:     u.DisplayName,
			Email:           u.Email,
			EmailVerifiedAt: optionalTime(u.EmailVerifiedAt),
			CreatedAt:       u.CreatedAt.UTC(),
			SessionEpoch:    u.SessionEpoch,
		},
		Credentials:       make([]ExportedCredential, 0, len(creds)),
		RecoveryCodesLeft: left,
	}
	for _, c := range creds {
		out.Credentials = append(out.Credentials, ExportedCredential{
			ID:                enc(c.ID),
			Name:              c.Name,
			PublicKey:         enc(c.PublicKey),
			SignCount:         c.SignCount,
			AAGUID:            enc(c.AAGUID),
			AttestationFormat: c.AttestationFormat,
			Transports:        append([]string{}, c.Transports...),
			Attachment:        c.Attachment,
			UserPresent:       c.UserPresent,
			UserVerified:      c.UserVerified,
			BackupEligible:    c.BackupEligible,
			BackupState:       c.BackupState,
			CloneSuspected:    c.CloneSuspected,
			SecondFactorOnly:  c.SecondFactorOnly,
			CreatedAt:         c.CreatedAt.UTC(),
			LastUsedAt:        optionalTime(c.LastUsedAt),

			AttestationObject:         enc(c.AttestationObject),
			AttestationClientDataHash: enc(c.AttestationClientDataHash),
			AttestationTrust:          c.AttestationTrust,
			AttestationCheckedAt:      optionalTime(c.AttestationCheckedAt),
			QuarantinedAt:             optionalTime(c.QuarantinedAt),
			QuarantineReason:          c.QuarantineReason,
		})
	}
	return out, nil
}

func optionalTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

// ExportUser is the package function ExportUser over the RelyingParty's
// CredentialStore, with its errors: ErrUserNotFound, ErrStoreUnavailable.
func (rp *RelyingParty) ExportUser(ctx context.Context, userHandle []byte) (*UserExport, error) {
	out, err := ExportUser(ctx, rp.creds, userHandle)
	if errors.Is(err, ErrNotFound) {
		return nil, &Error{Code: CodeUserNotFound, Message: "unknown user", Err: err}
	}
	if err != nil {
		return nil, rp.storeErr(ctx, "ExportUser", err)
	}
	return out, nil
}

package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/webauthnkit/webauthnkit"
)

// Record encoding. Users and credentials are Redis hashes with short field
// names; byte slices are stored raw (Redis strings are binary-safe), times
// as Unix microseconds in decimal ("" for the zero time), booleans as "0" or
// "1", transports as a JSON array.

// User hash fields.
const (
	fUserName    = "n"
	fUserDisplay = "d"
	fUserCreated = "c"
	fUserEpoch   = "e" // session epoch (decimal uint64; absent: 0)
	fTx          = "t" // also in credentials
	// fUserNameTx is the transaction whose name claim backs the current
	// name: set by UpdateUser; absent until the first rename, when the
	// claim is the CreateUser's (fTx).
	fUserNameTx = "nt"
	// fUserEmail is the email address ("" or absent: none), fUserEmailAt
	// when it was verified (µs; "" while unverified), and fUserEmailTx the
	// transaction whose email claim backs it: set by SetEmail; absent
	// until the first SetEmail, when the claim is the CreateUser's (fTx).
	fUserEmail   = "m"
	fUserEmailAt = "mv"
	fUserEmailTx = "mt"
)

// claimTx returns the transaction of a user record's claim in sp (its name
// or email claim): the one that last switched it, else the CreateUser's.
func claimTx(m map[string]string, sp claimSpace) string {
	if t, ok := m[sp.txField]; ok {
		return t
	}
	return m[fTx]
}

// Credential hash fields.
const (
	fState       = "s"
	fOwner       = "o"
	fPublicKey   = "pk"
	fSignCount   = "sc"
	fAAGUID      = "ag"
	fAttFormat   = "af"
	fTransports  = "tr"
	fUP          = "up"
	fUV          = "uv"
	fBE          = "be"
	fBS          = "bs"
	fAttachment  = "at"
	fCredName    = "n"
	fCreatedAt   = "ca"
	fLastUsedAt  = "lu"
	fCloneSuspec = "cs"
	fUpdateNonce = "un" // nonce of the last UpdateCredentialUse (scriptUpdateUse)
	fDeletingTx  = "dx" // DeleteCredential transaction that marked the record (scriptMarkDeleting)
	fSecondOnly  = "sf" // SecondFactorOnly ("0"/"1"; absent in older records: false)
	// Issue 16, all absent in older records (no attestation kept, never
	// audited, not quarantined): the attestation object and its client
	// data hash (raw bytes; absent when nil), and the audit state
	// (scriptSetAudit).
	fAttObject    = "ao"
	fAttCDHash    = "ah"
	fAttTrust     = "atr"
	fAttCheckedAt = "ack"
	fQuarantineAt = "qa"
	fQuarantineRs = "qr"
)

const (
	statePending   = "p"
	stateCommitted = "c"
	stateDeleting  = "d" // committed, marked by a DeleteCredential that may commit
)

// errMalformedNumber replaces strconv's errors when decoding records: those
// quote the stored text, and error texts must not carry stored values.
var errMalformedNumber = errors.New("not a decimal number in range")

func encTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return strconv.FormatInt(t.UnixMicro(), 10)
}

func decTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, errMalformedNumber
	}
	return time.UnixMicro(v).UTC(), nil
}

func encBool(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// userFields returns the field/value pairs of a user hash.
func userFields(u webauthnkit.User, tx string) []any {
	return []any{
		fUserName, u.Name,
		fUserDisplay, u.DisplayName,
		fUserCreated, encTime(u.CreatedAt),
		fUserEpoch, strconv.FormatUint(u.SessionEpoch, 10),
		fUserEmail, u.Email,
		fUserEmailAt, encTime(u.EmailVerifiedAt),
		fTx, tx,
	}
}

func decodeUser(handle []byte, m map[string]string) (webauthnkit.User, error) {
	created, err := decTime(m[fUserCreated])
	if err != nil {
		return webauthnkit.User{}, fmt.Errorf("malformed user record, field %q: %w", fUserCreated, err)
	}
	verified, err := decTime(m[fUserEmailAt])
	if err != nil {
		return webauthnkit.User{}, fmt.Errorf("malformed user record, field %q: %w", fUserEmailAt, err)
	}
	var epoch uint64
	if e, ok := m[fUserEpoch]; ok { // absent in records written before epochs existed
		if epoch, err = strconv.ParseUint(e, 10, 64); err != nil {
			return webauthnkit.User{}, fmt.Errorf("malformed user record, field %q: %w", fUserEpoch, errMalformedNumber)
		}
	}
	return webauthnkit.User{
		Handle:       append([]byte(nil), handle...),
		Name:         m[fUserName],
		DisplayName:  m[fUserDisplay],
		CreatedAt:    created,
		SessionEpoch: epoch,
		// Absent in records written before emails existed: none.
		Email:           m[fUserEmail],
		EmailVerifiedAt: verified,
	}, nil
}

// credentialFields returns the field/value pairs of a new, pending
// credential record created by transaction tx.
func credentialFields(c webauthnkit.Credential, tx string) ([]any, error) {
	f := make([]any, 0, 48)
	// State, owner and transaction come first, in this order:
	// scriptClaimCred reads them at fixed positions.
	f = append(f,
		fState, statePending,
		fOwner, c.UserHandle,
		fTx, tx,
		fSignCount, strconv.FormatUint(uint64(c.SignCount), 10),
		fAttFormat, c.AttestationFormat,
		fUP, encBool(c.UserPresent),
		fUV, encBool(c.UserVerified),
		fBE, encBool(c.BackupEligible),
		fBS, encBool(c.BackupState),
		fAttachment, c.Attachment,
		fCredName, c.Name,
		fCreatedAt, encTime(c.CreatedAt),
		fLastUsedAt, encTime(c.LastUsedAt),
		fCloneSuspec, encBool(c.CloneSuspected),
		fSecondOnly, encBool(c.SecondFactorOnly),
		fAttTrust, c.AttestationTrust,
		fAttCheckedAt, encTime(c.AttestationCheckedAt),
		fQuarantineAt, encTime(c.QuarantinedAt),
		fQuarantineRs, c.QuarantineReason,
	)
	// Absent fields decode as nil, "" as empty: nil and empty survive.
	if c.PublicKey != nil {
		f = append(f, fPublicKey, c.PublicKey)
	}
	if c.AAGUID != nil {
		f = append(f, fAAGUID, c.AAGUID)
	}
	if c.AttestationObject != nil {
		f = append(f, fAttObject, c.AttestationObject)
	}
	if c.AttestationClientDataHash != nil {
		f = append(f, fAttCDHash, c.AttestationClientDataHash)
	}
	if c.Transports != nil {
		tr, err := json.Marshal(c.Transports)
		if err != nil {
			return nil, err
		}
		f = append(f, fTransports, tr)
	}
	return f, nil
}

// credFields are the fields read from a credential hash (HMGET), in the
// order of the cr* indexes.
var credFields = []string{
	fState, fOwner, fTx, fPublicKey, fSignCount, fAAGUID, fAttFormat, fTransports,
	fUP, fUV, fBE, fBS, fAttachment, fCredName, fCreatedAt, fLastUsedAt, fCloneSuspec,
	fDeletingTx, fSecondOnly,
	fAttObject, fAttCDHash, fAttTrust, fAttCheckedAt, fQuarantineAt, fQuarantineRs,
}

const (
	crState = iota
	crOwner
	crTx
	crPublicKey
	crSignCount
	crAAGUID
	crAttFormat
	crTransports
	crUP
	crUV
	crBE
	crBS
	crAttachment
	crName
	crCreatedAt
	crLastUsedAt
	crCloneSuspec
	crDeletingTx
	crSecondOnly
	crAttObject
	crAttCDHash
	crAttTrust
	crAttCheckedAt
	crQuarantineAt
	crQuarantineRs
)

// credFieldArgs is credFields as command arguments, boxed once.
var credFieldArgs = func() []any {
	a := make([]any, len(credFields))
	for i, f := range credFields {
		a[i] = f
	}
	return a
}()

// hmgetCred sends HMGET key credFields... through c (a client or a
// pipeline), without boxing the field names on every call.
func hmgetCred(ctx context.Context, c interface {
	Process(context.Context, redis.Cmder) error
}, key string) *redis.SliceCmd {
	args := make([]any, 0, 2+len(credFieldArgs))
	args = append(args, "hmget", key)
	args = append(args, credFieldArgs...)
	cmd := redis.NewSliceCmd(ctx, args...)
	_ = c.Process(ctx, cmd)
	return cmd
}

// credRecord is the reply of HMGET key credFields...: a string per field,
// nil for an absent one.
type credRecord []any

func (r credRecord) str(i int) string {
	s, _ := r[i].(string)
	return s
}

// bytes returns the field as a new slice, nil if the field is absent.
func (r credRecord) bytes(i int) []byte {
	s, ok := r[i].(string)
	if !ok {
		return nil
	}
	return []byte(s)
}

// decodeCredential decodes a credential record.
func decodeCredential(id []byte, r credRecord) (webauthnkit.Credential, error) {
	bad := func(field string, err error) (webauthnkit.Credential, error) {
		return webauthnkit.Credential{}, fmt.Errorf("malformed credential record, field %q: %w", field, err)
	}
	if len(r) != len(credFields) {
		return webauthnkit.Credential{}, fmt.Errorf("malformed credential record: %d fields", len(r))
	}
	c := webauthnkit.Credential{
		ID:                append([]byte(nil), id...),
		UserHandle:        r.bytes(crOwner),
		PublicKey:         r.bytes(crPublicKey),
		AAGUID:            r.bytes(crAAGUID),
		AttestationFormat: r.str(crAttFormat),
		UserPresent:       r.str(crUP) == "1",
		UserVerified:      r.str(crUV) == "1",
		BackupEligible:    r.str(crBE) == "1",
		BackupState:       r.str(crBS) == "1",
		Attachment:        r.str(crAttachment),
		Name:              r.str(crName),
		CloneSuspected:    r.str(crCloneSuspec) == "1",
		SecondFactorOnly:  r.str(crSecondOnly) == "1",

		AttestationObject:         r.bytes(crAttObject),
		AttestationClientDataHash: r.bytes(crAttCDHash),
		AttestationTrust:          r.str(crAttTrust),
		QuarantineReason:          r.str(crQuarantineRs),
	}
	if v, ok := r[crTransports].(string); ok {
		if err := json.Unmarshal([]byte(v), &c.Transports); err != nil {
			// json's message may quote the stored text.
			return bad(fTransports, errors.New("not a JSON array of strings"))
		}
	}
	sc, err := strconv.ParseUint(r.str(crSignCount), 10, 32)
	if err != nil {
		return bad(fSignCount, errMalformedNumber)
	}
	c.SignCount = uint32(sc)
	if c.CreatedAt, err = decTime(r.str(crCreatedAt)); err != nil {
		return bad(fCreatedAt, err)
	}
	if c.LastUsedAt, err = decTime(r.str(crLastUsedAt)); err != nil {
		return bad(fLastUsedAt, err)
	}
	if c.AttestationCheckedAt, err = decTime(r.str(crAttCheckedAt)); err != nil {
		return bad(fAttCheckedAt, err)
	}
	if c.QuarantinedAt, err = decTime(r.str(crQuarantineAt)); err != nil {
		return bad(fQuarantineAt, err)
	}
	return c, nil
}

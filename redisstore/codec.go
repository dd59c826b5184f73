package redisstore

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

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
	fTx          = "t" // also in credentials
)

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
)

const (
	statePending   = "p"
	stateCommitted = "c"
)

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
		return time.Time{}, err
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
		fTx, tx,
	}
}

func decodeUser(handle []byte, m map[string]string) (webauthnkit.User, error) {
	created, err := decTime(m[fUserCreated])
	if err != nil {
		return webauthnkit.User{}, fmt.Errorf("malformed user record: %w", err)
	}
	return webauthnkit.User{
		Handle:      append([]byte(nil), handle...),
		Name:        m[fUserName],
		DisplayName: m[fUserDisplay],
		CreatedAt:   created,
	}, nil
}

// credentialFields returns the field/value pairs of a new, pending
// credential record created by transaction tx.
func credentialFields(c webauthnkit.Credential, tx string) ([]any, error) {
	f := make([]any, 0, 34)
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
	)
	// Absent fields decode as nil, "" as empty: nil and empty survive.
	if c.PublicKey != nil {
		f = append(f, fPublicKey, c.PublicKey)
	}
	if c.AAGUID != nil {
		f = append(f, fAAGUID, c.AAGUID)
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

// decodeCredential decodes a credential hash (as returned by HGETALL).
func decodeCredential(id []byte, m map[string]string) (webauthnkit.Credential, error) {
	bad := func(field string, err error) (webauthnkit.Credential, error) {
		return webauthnkit.Credential{}, fmt.Errorf("malformed credential record, field %q: %w", field, err)
	}
	c := webauthnkit.Credential{
		ID:                append([]byte(nil), id...),
		UserHandle:        []byte(m[fOwner]),
		AttestationFormat: m[fAttFormat],
		UserPresent:       m[fUP] == "1",
		UserVerified:      m[fUV] == "1",
		BackupEligible:    m[fBE] == "1",
		BackupState:       m[fBS] == "1",
		Attachment:        m[fAttachment],
		Name:              m[fCredName],
		CloneSuspected:    m[fCloneSuspec] == "1",
	}
	if v, ok := m[fPublicKey]; ok {
		c.PublicKey = []byte(v)
	}
	if v, ok := m[fAAGUID]; ok {
		c.AAGUID = []byte(v)
	}
	if v, ok := m[fTransports]; ok {
		if err := json.Unmarshal([]byte(v), &c.Transports); err != nil {
			return bad(fTransports, err)
		}
	}
	sc, err := strconv.ParseUint(m[fSignCount], 10, 32)
	if err != nil {
		return bad(fSignCount, err)
	}
	c.SignCount = uint32(sc)
	if c.CreatedAt, err = decTime(m[fCreatedAt]); err != nil {
		return bad(fCreatedAt, err)
	}
	if c.LastUsedAt, err = decTime(m[fLastUsedAt]); err != nil {
		return bad(fLastUsedAt, err)
	}
	return c, nil
}

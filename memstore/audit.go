package memstore

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/webauthnkit/webauthnkit"
)

// cursorPrefix marks the cursors ScanCredentials makes: the prefix, then the
// last ID returned, base64url without padding.
const cursorPrefix = "m1."

// ScanCredentials returns up to limit credentials with IDs after the cursor,
// in ID order (bytes.Compare), and the cursor of the next page
// (webauthnkit.CredentialAuditor). Each page reads every credential under
// the read lock to pick the next limit IDs (O(n log limit)): a full scan of
// n credentials costs O(n²/limit), fine for the sizes memstore is meant for.
func (s *Store) ScanCredentials(ctx context.Context, cursor string, limit int) ([]webauthnkit.Credential, string, error) {
	const op = "ScanCredentials"
	if err := ctx.Err(); err != nil {
		return nil, "", fail(op, err)
	}
	if limit < 1 || limit > webauthnkit.MaxScanPageSize {
		return nil, "", fail(op, fmt.Errorf("limit %d outside 1..%d", limit, webauthnkit.MaxScanPageSize))
	}
	after, err := decodeCursor(cursor)
	if err != nil {
		return nil, "", fail(op, err)
	}
	st := s.st
	st.mu.RLock()
	defer st.mu.RUnlock()
	// The limit+1 smallest IDs after the cursor (one more tells whether
	// another page follows), kept sorted.
	best := make([]*webauthnkit.Credential, 0, limit+1)
	for _, c := range st.creds {
		if after != nil && bytes.Compare(c.ID, after) <= 0 {
			continue
		}
		if len(best) == limit+1 && bytes.Compare(c.ID, best[limit].ID) >= 0 {
			continue
		}
		i, _ := slices.BinarySearchFunc(best, c, func(a, b *webauthnkit.Credential) int { return bytes.Compare(a.ID, b.ID) })
		best = slices.Insert(best, i, c)
		if len(best) > limit+1 {
			best = best[:limit+1]
		}
	}
	next := ""
	if len(best) > limit {
		best = best[:limit]
		next = cursorPrefix + base64.RawURLEncoding.EncodeToString(best[limit-1].ID)
	}
	out := make([]webauthnkit.Credential, len(best))
	for i, c := range best {
		out[i] = exportCredential(c)
	}
	return out, next, nil
}

// decodeCursor returns the last ID of the previous page, nil for "".
func decodeCursor(cursor string) ([]byte, error) {
	if cursor == "" {
		return nil, nil
	}
	rest, ok := strings.CutPrefix(cursor, cursorPrefix)
	if !ok {
		return nil, errors.New("malformed cursor")
	}
	id, err := base64.RawURLEncoding.DecodeString(rest)
	if err != nil || len(id) == 0 {
		return nil, errors.New("malformed cursor")
	}
	return id, nil
}

// SetCredentialAudit replaces the credential's audit fields, or returns
// webauthnkit.ErrNotFound (webauthnkit.CredentialAuditor).
func (s *Store) SetCredentialAudit(ctx context.Context, id []byte, a webauthnkit.CredentialAudit) error {
	const op = "SetCredentialAudit"
	if err := ctx.Err(); err != nil {
		return fail(op, err)
	}
	if len(a.Trust) > webauthnkit.MaxAuditTextLength || len(a.QuarantineReason) > webauthnkit.MaxAuditTextLength {
		return fail(op, fmt.Errorf("audit text longer than %d bytes", webauthnkit.MaxAuditTextLength))
	}
	st := s.st
	st.mu.Lock()
	defer st.mu.Unlock()
	c, ok := st.creds[string(id)]
	if !ok {
		return fail(op, webauthnkit.ErrNotFound)
	}
	c.AttestationTrust = a.Trust
	c.AttestationCheckedAt = storedTime(a.CheckedAt)
	c.QuarantinedAt = storedTime(a.QuarantinedAt)
	c.QuarantineReason = a.QuarantineReason
	return nil
}

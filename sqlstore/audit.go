package sqlstore

import (
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/webauthnkit/webauthnkit"
)

// The webauthnkit.CredentialAuditor methods (issue 16): a keyset-paged scan
// over all credentials and the audit state of one.

// cursorPrefix marks the cursors ScanCredentials makes: the prefix, then the
// last ID of the page, base64url without padding.
const cursorPrefix = "s1."

// ScanCredentials returns up to limit credentials with IDs after the
// cursor's, in ID order (byte order on every dialect), and the cursor of
// the next page, "" after the last. Each page is one SELECT ... WHERE id > ?
// ORDER BY id LIMIT ? on the primary key: its cost does not grow with the
// pages already read, nothing is held between pages, and a scan interrupted
// by a restart resumes from the cursor.
func (s *Store) ScanCredentials(ctx context.Context, cursor string, limit int) ([]webauthnkit.Credential, string, error) {
	const op = "ScanCredentials"
	if err := ctx.Err(); err != nil {
		return nil, "", fmt.Errorf("sqlstore: %s: %w", op, err)
	}
	if limit < 1 || limit > webauthnkit.MaxScanPageSize {
		return nil, "", fmt.Errorf("sqlstore: %s: limit %d outside 1..%d", op, limit, webauthnkit.MaxScanPageSize)
	}
	after := []byte{} // every ID is greater (IDs are 1 to 1023 bytes)
	if cursor != "" {
		rest, ok := strings.CutPrefix(cursor, cursorPrefix)
		id, err := base64.RawURLEncoding.DecodeString(rest)
		if !ok || err != nil || len(id) == 0 || len(id) > maxCredentialIDLen {
			return nil, "", fmt.Errorf("sqlstore: %s: malformed cursor", op)
		}
		after = id
	}
	// One more row than asked tells whether another page follows.
	rows, err := s.db.QueryContext(ctx, s.q.scanCredentials, after, limit+1)
	if err != nil {
		return nil, "", s.fail(ctx, op, err, nil)
	}
	defer rows.Close()
	page := make([]webauthnkit.Credential, 0, min(limit+1, 64))
	for rows.Next() {
		c, err := s.scanCredential(rows)
		if err != nil {
			return nil, "", s.fail(ctx, op, err, nil)
		}
		page = append(page, c)
	}
	if err := rows.Err(); err != nil {
		return nil, "", s.fail(ctx, op, err, nil)
	}
	if len(page) <= limit {
		return page, "", nil
	}
	page = page[:limit]
	return page, cursorPrefix + base64.RawURLEncoding.EncodeToString(page[limit-1].ID), nil
}

// SetCredentialAudit replaces the credential's four audit fields in one
// UPDATE, or returns ErrNotFound.
func (s *Store) SetCredentialAudit(ctx context.Context, id []byte, a webauthnkit.CredentialAudit) error {
	const op = "SetCredentialAudit"
	if err := checkAuditTexts(a.Trust, a.QuarantineReason); err != nil {
		return fmt.Errorf("sqlstore: %s: %w", op, err)
	}
	res, err := s.execWrite(ctx, s.q.setAudit, a.Trust, s.dialect.nullTimeArg(a.CheckedAt),
		s.dialect.nullTimeArg(a.QuarantinedAt), a.QuarantineReason, id)
	if err != nil {
		return s.fail(ctx, op, err, nil)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return s.fail(ctx, op, err, nil)
	}
	if n == 0 && s.dialect == MySQL {
		// MySQL counts changed rows: writing the values already stored
		// changes none (see UpdateCredentialUse). Is the credential there?
		var one int
		err := s.db.QueryRowContext(ctx, s.q.credentialExists, id).Scan(&one)
		if err == nil {
			return nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return s.fail(ctx, op, err, nil)
		}
	}
	if n == 0 {
		return fmt.Errorf("sqlstore: %s: %w", op, webauthnkit.ErrNotFound)
	}
	return nil
}

// checkAuditTexts bounds the audit texts (VARCHAR(256) on MySQL).
func checkAuditTexts(trust, reason string) error {
	if len(trust) > webauthnkit.MaxAuditTextLength || len(reason) > webauthnkit.MaxAuditTextLength {
		return fmt.Errorf("audit text longer than %d bytes", webauthnkit.MaxAuditTextLength)
	}
	return nil
}

// nilBytes binds a nil byte slice as NULL (the nullable attestation
// columns), and an empty one as an empty value.
func nilBytes(b []byte) any {
	if b == nil {
		return nil
	}
	return b
}

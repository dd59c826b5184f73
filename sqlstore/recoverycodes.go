package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/webauthnkit/webauthnkit"
)

// Recovery codes are stored as the library hands them over: keyed hashes
// (webauthnkit.RecoveryCodeHashSize bytes), one row each in
// <prefix>recovery_codes, whose primary key is (user_handle, hash). ON
// DELETE CASCADE removes them with their user.

// SetRecoveryCodes replaces the user's recovery codes with hashes in one
// transaction: delete the old set, insert the new one (duplicates count
// once). The user's row is locked first (on SQLite the DELETE takes the
// database's write lock), so concurrent calls for one user apply one after
// the other and the last one's set is what remains. ErrNotFound for an
// unknown user.
func (s *Store) SetRecoveryCodes(ctx context.Context, handle []byte, hashes [][]byte) error {
	const op = "SetRecoveryCodes"
	if len(hashes) > webauthnkit.MaxRecoveryCodes {
		return fmt.Errorf("sqlstore: %s: %d recovery code hashes, want at most %d", op, len(hashes), webauthnkit.MaxRecoveryCodes)
	}
	seen := make(map[string]bool, len(hashes))
	unique := make([][]byte, 0, len(hashes))
	for _, h := range hashes {
		if len(h) != webauthnkit.RecoveryCodeHashSize {
			return fmt.Errorf("sqlstore: %s: a recovery code hash is %d bytes, want %d", op, len(h), webauthnkit.RecoveryCodeHashSize)
		}
		if !seen[string(h)] {
			seen[string(h)] = true
			unique = append(unique, h)
		}
	}

	if err := s.writes.lock(ctx); err != nil {
		return s.fail(ctx, op, err, nil)
	}
	defer s.writes.unlock()
	err := s.inTx(ctx, nil, func(tx *sql.Tx) error {
		if s.dialect != SQLite {
			if err := tx.QueryRowContext(ctx, s.q.lockUser, handle).Scan(new(int)); err != nil {
				return err // sql.ErrNoRows: ErrNotFound
			}
		}
		if _, err := tx.ExecContext(ctx, s.q.deleteRecovery, handle); err != nil {
			return err
		}
		if s.dialect == SQLite {
			// SQLite has no FOR UPDATE; the DELETE above holds the write
			// lock until commit, so the user cannot go away after this.
			if err := tx.QueryRowContext(ctx, s.q.userExists, handle).Scan(new(int)); err != nil {
				return err // sql.ErrNoRows: ErrNotFound
			}
		}
		if len(unique) == 0 {
			return nil
		}
		query, args := s.insertRecoveryCodes(handle, unique)
		_, err := tx.ExecContext(ctx, query, args...)
		return err
	})
	return s.fail(ctx, op, err, nil)
}

// insertRecoveryCodes is one multi-row INSERT of the codes (at most 32 rows,
// 64 arguments).
func (s *Store) insertRecoveryCodes(handle []byte, hashes [][]byte) (string, []any) {
	var b strings.Builder
	b.WriteString(s.q.insertRecoveryRow)
	args := make([]any, 0, 2*len(hashes))
	for i, h := range hashes {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("(?, ?)")
		args = append(args, handle, h)
	}
	return s.dialect.rebind(b.String()), args
}

// UseRecoveryCode removes one recovery code in one DELETE ... WHERE
// user_handle = ? AND hash = ?: of concurrent uses of a code, the DELETE
// that removes the row succeeds and the others find no row (ErrNotFound),
// under every isolation level, since a DELETE reads the latest committed
// row. DELETE counts deleted rows on every dialect, MySQL's clientFoundRows
// included (it changes only what UPDATE counts).
func (s *Store) UseRecoveryCode(ctx context.Context, handle []byte, hash []byte) error {
	const op = "UseRecoveryCode"
	if len(hash) != webauthnkit.RecoveryCodeHashSize {
		return fmt.Errorf("sqlstore: %s: %w", op, webauthnkit.ErrNotFound)
	}
	res, err := s.execWrite(ctx, s.q.useRecoveryCode, handle, hash)
	return s.expectOneRow(ctx, op, res, err)
}

// RecoveryCodesLeft counts the user's recovery codes: 0 for an unknown
// user.
func (s *Store) RecoveryCodesLeft(ctx context.Context, handle []byte) (int, error) {
	const op = "RecoveryCodesLeft"
	var n int
	if err := s.db.QueryRowContext(ctx, s.q.countRecovery, handle).Scan(&n); err != nil {
		return 0, s.fail(ctx, op, err, nil)
	}
	return n, nil
}

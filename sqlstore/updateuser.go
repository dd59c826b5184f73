package sqlstore

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/webauthnkit/webauthnkit"
)

// UpdateUser sets the name and display name of the user with this handle in
// one UPDATE. The unique index on the name makes a taken name a unique
// violation (ErrUserExists, nothing changed) and lets exactly one of
// concurrent renames to a free name win; the old name is free as soon as
// the UPDATE commits. ErrNotFound for an unknown user.
func (s *Store) UpdateUser(ctx context.Context, handle []byte, name, displayName string) error {
	const op = "UpdateUser"
	if err := checkUserName(name); err != nil {
		return fmt.Errorf("sqlstore: %s: %w", op, err)
	}
	res, err := s.execWrite(ctx, s.q.updateUser, name, displayName, handle)
	if err != nil {
		return s.fail(ctx, op, err, webauthnkit.ErrUserExists)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return s.fail(ctx, op, err, nil)
	}
	switch {
	case n > 0:
		return nil
	case s.dialect != MySQL:
		// PostgreSQL and SQLite count matched rows: no user has this handle.
		return fmt.Errorf("sqlstore: %s: %w", op, webauthnkit.ErrNotFound)
	}
	// MySQL counts changed rows (unless the DSN sets clientFoundRows), so 0
	// also means "the user already had this name and display name". The
	// UPDATE changed nothing either way, so the call may take effect now
	// instead: lock the user's row, so that it cannot be deleted or renamed
	// in between, and update it again.
	err = s.inTx(ctx, nil, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, s.q.lockUser, handle).Scan(new(int)); err != nil {
			return err // sql.ErrNoRows: ErrNotFound
		}
		_, err := tx.ExecContext(ctx, s.q.updateUser, name, displayName, handle)
		return err
	})
	return s.fail(ctx, op, err, webauthnkit.ErrUserExists)
}

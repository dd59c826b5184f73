package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/webauthnkit/webauthnkit"
)

// maxEmailLen is the most bytes users.email holds (MySQL's VARBINARY(1024));
// the library allows 254 characters, at most 1016 bytes of UTF-8. Checked
// before the database sees it, so that no dialect truncates or refuses it
// differently.
const maxEmailLen = 1024

// GetUserByEmail returns the user with this email address (compared byte
// for byte), or ErrNotFound, also for the empty string: a user without an
// address has NULL there, which no lookup matches.
func (s *Store) GetUserByEmail(ctx context.Context, email string) (webauthnkit.User, error) {
	const op = "GetUserByEmail"
	if email == "" || len(email) > maxEmailLen {
		return webauthnkit.User{}, fmt.Errorf("sqlstore: %s: %w", op, webauthnkit.ErrNotFound)
	}
	return s.getUser(ctx, op, s.q.userByEmail, email)
}

// SetEmail sets the email address and its verification time of the user
// with this handle in one UPDATE. The unique index on email makes an address
// another user has a unique violation (ErrUserExists, nothing changed) and
// lets exactly one of concurrent claims of a free address win; the old
// address is free as soon as the UPDATE commits. An empty email is stored as
// NULL, which the index ignores. ErrNotFound for an unknown user.
func (s *Store) SetEmail(ctx context.Context, handle []byte, email string, verifiedAt time.Time) error {
	const op = "SetEmail"
	if err := checkEmail(email); err != nil {
		return fmt.Errorf("sqlstore: %s: %w", op, err)
	}
	args := []any{emailArg(email), s.dialect.nullTimeArg(verifiedAt), handle}
	res, err := s.execWrite(ctx, s.q.setEmail, args...)
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
	// MySQL counts changed rows (unless the DSN sets clientFoundRows): 0 may
	// also mean "already set to these values". As in UpdateUser, lock the
	// user's row and update it again, so that an unknown user is told apart.
	err = s.inTx(ctx, nil, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, s.q.lockUser, handle).Scan(new(int)); err != nil {
			return err // sql.ErrNoRows: ErrNotFound
		}
		_, err := tx.ExecContext(ctx, s.q.setEmail, args...)
		return err
	})
	return s.fail(ctx, op, err, webauthnkit.ErrUserExists)
}

// checkEmail refuses an address longer than the column holds.
func checkEmail(email string) error {
	if len(email) > maxEmailLen {
		return fmt.Errorf("user email is %d bytes, want at most %d", len(email), maxEmailLen)
	}
	return nil
}

// emailArg binds an email: the empty string (no address) as NULL, so that
// the unique index holds only among users that have one.
func emailArg(email string) any {
	if email == "" {
		return nil
	}
	return email
}

// emailScanner reads users.email into *dst: NULL is the empty string.
// (MySQL returns VARBINARY as []byte, the others as string.)
type emailScanner struct{ dst *string }

func (e emailScanner) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*e.dst = ""
	case string:
		*e.dst = v
	case []byte:
		*e.dst = string(v)
	default:
		return fmt.Errorf("sqlstore: cannot read an email from %T", src)
	}
	return nil
}

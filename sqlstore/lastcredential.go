package sqlstore

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"

	"github.com/webauthnkit/webauthnkit"
)

// DeleteCredential removes a credential owned by userHandle. With allowLast
// false it deletes only if the user keeps another credential, as one atomic
// step (see deleteGuarded), and otherwise returns ErrLastCredential.
func (s *Store) DeleteCredential(ctx context.Context, userHandle, id []byte, allowLast bool) error {
	const op = "DeleteCredential"
	if allowLast {
		res, err := s.execWrite(ctx, s.q.deleteCredential, id, userHandle)
		return s.expectOneRow(ctx, op, res, err)
	}
	err := s.deleteGuarded(ctx, userHandle, id)
	if errors.Is(err, webauthnkit.ErrLastCredential) {
		return fmt.Errorf("sqlstore: %s: %w", op, err)
	}
	return s.fail(ctx, op, err, nil)
}

// errNotOwned is deleteGuarded's "no such credential of this user", which
// fail turns into ErrNotFound like a missing row.
var errNotOwned = fmt.Errorf("credential: %w", sql.ErrNoRows)

// deleteGuarded deletes the credential if the user has another one. It
// returns nil, ErrLastCredential, errNotOwned or a database error.
//
// A DELETE whose WHERE checks for another credential (EXISTS) is not enough
// on its own under READ COMMITTED (PostgreSQL's default) or REPEATABLE READ
// (InnoDB's): each of two concurrent deletes of a user's last two
// credentials reads a snapshot in which the other credential still exists,
// and both delete. So on PostgreSQL and MySQL the guarded deletes of one
// user queue on that user's row, locked first in a transaction; the check
// then runs after the previous delete has committed and sees its result.
// On SQLite a writing statement holds the database write lock from its
// start, which serialises it with every other write, so one conditional
// DELETE is atomic.
func (s *Store) deleteGuarded(ctx context.Context, userHandle, id []byte) error {
	switch s.dialect {
	case SQLite:
		if err := s.writes.lock(ctx); err != nil {
			return err
		}
		defer s.writes.unlock()
		res, err := s.db.ExecContext(ctx, s.q.deleteGuardedCredential, id, userHandle, userHandle, id)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n > 0 {
			return err
		}
		// Nothing deleted: tell "last" from "not found". The write lock keeps
		// this process's writes out in between; a write by another process
		// could only turn "last" into "not found", an answer that was also
		// true a moment later.
		var name string
		if err := s.db.QueryRowContext(ctx, s.q.ownedCredentialName, id, userHandle).Scan(&name); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return errNotOwned
			}
			return err
		}
		return webauthnkit.ErrLastCredential
	case Postgres:
		// READ COMMITTED whatever the server's default: under REPEATABLE
		// READ or SERIALIZABLE the snapshot would be older than the lock.
		return s.inTx(ctx, &sql.TxOptions{Isolation: sql.LevelReadCommitted}, func(tx *sql.Tx) error {
			if err := tx.QueryRowContext(ctx, s.q.lockUser, userHandle).Scan(new(int)); err != nil {
				return notOwnedIfNoRows(err) // no user, so no credential of theirs
			}
			var (
				deleted int64
				exists  bool
			)
			if err := tx.QueryRowContext(ctx, s.q.deleteGuardedCredential, userHandle, id, userHandle, id).Scan(&deleted, &exists); err != nil {
				return err
			}
			switch {
			case deleted > 0:
				return nil
			case exists:
				return webauthnkit.ErrLastCredential
			}
			return errNotOwned
		})
	default: // MySQL
		// Locking reads (FOR UPDATE) read the latest committed rows under any
		// isolation level, so the server's default is fine here.
		return s.inTx(ctx, nil, func(tx *sql.Tx) error {
			if err := tx.QueryRowContext(ctx, s.q.lockUser, userHandle).Scan(new(int)); err != nil {
				return notOwnedIfNoRows(err)
			}
			ids, err := queryIDs(ctx, tx, s.q.lockUserCredentials, userHandle)
			if err != nil {
				return err
			}
			switch {
			case !slices.ContainsFunc(ids, func(owned []byte) bool { return bytes.Equal(owned, id) }):
				return errNotOwned
			case len(ids) < 2:
				return webauthnkit.ErrLastCredential
			}
			_, err = tx.ExecContext(ctx, s.q.deleteCredential, id, userHandle)
			return err
		})
	}
}

func notOwnedIfNoRows(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return errNotOwned
	}
	return err
}

// inTx runs fn in a transaction, which commits if fn returns nil and rolls
// back otherwise. It returns fn's error or the database's, unwrapped (the
// caller passes it to fail).
func (s *Store) inTx(ctx context.Context, opts *sql.TxOptions, fn func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, opts)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// queryIDs returns the single []byte column of query's rows.
func queryIDs(ctx context.Context, tx *sql.Tx, query string, args ...any) ([][]byte, error) {
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids [][]byte
	for rows.Next() {
		var id []byte
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

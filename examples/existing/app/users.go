package app

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"strconv"
	"strings"
)

// The app's own users table, as it was before passkeys, plus two columns:
//
//   - webauthn_handle: the WebAuthn user handle of this user (16 random
//     bytes, made at sign-up). It is the link to the library's account
//     (webauthnkit.NewUser.Handle): authenticators store it, so it is an
//     opaque value rather than the row ID, which SQLite may reuse after a
//     delete and which counts users.
//   - totp_secret: the TOTP secret sealed by package totp (NULL: no TOTP).
//
// The library's own tables live in the same file with the prefix
// "passkeys_" (see New).
const schema = `
CREATE TABLE IF NOT EXISTS users (
	id              INTEGER PRIMARY KEY AUTOINCREMENT,
	email           TEXT    NOT NULL UNIQUE COLLATE NOCASE,
	password_hash   BLOB    NOT NULL,
	webauthn_handle BLOB    NOT NULL UNIQUE,
	totp_secret     BLOB,
	session_epoch   INTEGER NOT NULL DEFAULT 0
)`

type user struct {
	ID           int64
	Email        string
	PasswordHash []byte
	Handle       []byte // the WebAuthn user handle
	TOTPSecret   []byte // sealed; nil: TOTP off
	SessionEpoch int64  // bumped at sign-out: ends every session of the user
}

// totpID is the user ID package totp binds the sealed secret to.
func (u user) totpID() []byte { return []byte(strconv.FormatInt(u.ID, 10)) }

var errEmailTaken = errors.New("email taken")

const userColumns = `id, email, password_hash, webauthn_handle, totp_secret, session_epoch`

func scanUser(row *sql.Row) (user, error) {
	var u user
	err := row.Scan(&u.ID, &u.Email, &u.PasswordHash, &u.Handle, &u.TOTPSecret, &u.SessionEpoch)
	return u, err
}

func (a *App) userByID(ctx context.Context, id int64) (user, error) {
	return scanUser(a.db.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE id = ?`, id))
}

func (a *App) userByEmail(ctx context.Context, email string) (user, error) {
	return scanUser(a.db.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE email = ?`, email))
}

func (a *App) userByHandle(ctx context.Context, handle []byte) (user, error) {
	return scanUser(a.db.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE webauthn_handle = ?`, handle))
}

func (a *App) createUser(ctx context.Context, email string, hash []byte) (user, error) {
	handle := make([]byte, 16)
	if _, err := rand.Read(handle); err != nil {
		return user{}, err
	}
	res, err := a.db.ExecContext(ctx, `INSERT INTO users (email, password_hash, webauthn_handle) VALUES (?, ?, ?)`, email, hash, handle)
	if isUniqueViolation(err) {
		return user{}, errEmailTaken
	}
	if err != nil {
		return user{}, err
	}
	id, err := res.LastInsertId()
	if err != nil {
		return user{}, err
	}
	return a.userByID(ctx, id)
}

func (a *App) setEmail(ctx context.Context, id int64, email string) error {
	_, err := a.db.ExecContext(ctx, `UPDATE users SET email = ? WHERE id = ?`, email, id)
	if isUniqueViolation(err) {
		return errEmailTaken
	}
	return err
}

func (a *App) setTOTPSecret(ctx context.Context, id int64, sealed []byte) error {
	_, err := a.db.ExecContext(ctx, `UPDATE users SET totp_secret = ? WHERE id = ?`, sealed, id)
	return err
}

func (a *App) deleteUser(ctx context.Context, id int64) error {
	_, err := a.db.ExecContext(ctx, `DELETE FROM users WHERE id = ?`, id)
	return err
}

func (a *App) bumpSessionEpoch(ctx context.Context, id int64) error {
	_, err := a.db.ExecContext(ctx, `UPDATE users SET session_epoch = session_epoch + 1 WHERE id = ?`, id)
	return err
}

func isUniqueViolation(err error) bool {
	return err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed")
}

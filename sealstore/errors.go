package sealstore

import (
	"errors"
	"fmt"
)

// ErrTampered: a stored value did not open. Its authentication tag failed
// (a byte was changed), it was moved from another row or field (the
// associated data binds it to its row), a public key or a protected flag
// was edited beside it, a lookup column points at a row that holds another
// value, or the value is not a sealed value at all (a row written around
// the wrapper). The read fails: a login with such a credential is refused,
// never accepted with unverified data. Config.OnTamper is told.
var ErrTampered = errors.New("sealstore: stored value failed its integrity check")

// ErrKeyMissing: a stored value names a key that is not in the keyring
// (retired too early, or a process started with an old keyring). Matched
// by every *KeyMissingError; the read fails rather than return garbage.
var ErrKeyMissing = errors.New("sealstore: sealing key not in the keyring")

// KeyMissingError says which key ID a value names. errors.Is(err,
// ErrKeyMissing) holds.
type KeyMissingError struct {
	KeyID string
}

func (e *KeyMissingError) Error() string {
	return fmt.Sprintf("sealstore: value sealed with key %q, which is not in the keyring", e.KeyID)
}

// Is makes errors.Is(err, ErrKeyMissing) hold.
func (e *KeyMissingError) Is(target error) bool { return target == ErrKeyMissing }

var (
	errMalformed = fmt.Errorf("%w (not a sealed value)", ErrTampered)
	errAuth      = fmt.Errorf("%w (authentication failed)", ErrTampered)
	errMismatch  = fmt.Errorf("%w (lookup column and sealed value disagree)", ErrTampered)
	errMissing   = fmt.Errorf("%w (sealed value missing)", ErrTampered)
)

// opError prefixes an error with "sealstore: <op>: " and wraps it, so
// errors.Is finds the inner store's sentinels (webauthnkit.ErrNotFound...)
// and the context's error.
type opError struct {
	op  string
	err error
}

func (e *opError) Error() string { return "sealstore: " + e.op + ": " + e.err.Error() }
func (e *opError) Unwrap() error { return e.err }

func fail(op string, err error) error {
	if err == nil {
		return nil
	}
	return &opError{op: op, err: err}
}

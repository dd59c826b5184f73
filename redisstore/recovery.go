package redisstore

import (
	"context"
	"fmt"

	"github.com/webauthnkit/webauthnkit"
)

// Recovery codes: a set recovery:{H} of code hashes in the user's slot, so
// that a use is one atomic SREM and DeleteUser removes the set in the same
// script as the user.

// errRecoveryCodes is SetRecoveryCodes' answer to hashes outside the
// contract's bounds; it names the bounds, never the values.
var errRecoveryCodes = fmt.Errorf("at most %d recovery code hashes of %d bytes each",
	webauthnkit.MaxRecoveryCodes, webauthnkit.RecoveryCodeHashSize)

// SetRecoveryCodes replaces the user's recovery codes with hashes (at most
// webauthnkit.MaxRecoveryCodes, each webauthnkit.RecoveryCodeHashSize
// bytes; a repeated hash counts once); an empty list removes them all. It returns an error
// wrapping webauthnkit.ErrNotFound for an unknown user. One script: the
// old set is gone and the new one in place in the same step.
func (s *Store) SetRecoveryCodes(ctx context.Context, handle []byte, hashes [][]byte) error {
	const op = "SetRecoveryCodes"
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("redisstore: %s: %w", op, err)
	}
	if len(handle) == 0 {
		return errorf(op, webauthnkit.ErrNotFound)
	}
	if len(hashes) > webauthnkit.MaxRecoveryCodes {
		return fmt.Errorf("redisstore: %s: %w", op, errRecoveryCodes)
	}
	args := make([]any, len(hashes))
	for i, h := range hashes {
		if len(h) != webauthnkit.RecoveryCodeHashSize {
			return fmt.Errorf("redisstore: %s: %w", op, errRecoveryCodes)
		}
		args[i] = h
	}
	htag := tag(handle)
	ok, err := s.runAcked(ctx, scriptSetRecoveryCodes, []string{s.userKey(htag), s.recoveryKey(htag)}, args...).Int()
	if err != nil {
		return wrapErr(ctx, op, err)
	}
	if ok != 1 {
		return errorf(op, webauthnkit.ErrNotFound)
	}
	return nil
}

// UseRecoveryCode removes hash from the user's recovery codes in one atomic
// step (SREM) and succeeds only if it was there: of concurrent uses of one
// code exactly one succeeds. The others, an unknown code and an unknown
// user get an error wrapping webauthnkit.ErrNotFound. A resent call (its
// reply lost) is recognised by a nonce and succeeds as the first run did.
func (s *Store) UseRecoveryCode(ctx context.Context, handle []byte, hash []byte) error {
	const op = "UseRecoveryCode"
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("redisstore: %s: %w", op, err)
	}
	if len(handle) == 0 || len(hash) != webauthnkit.RecoveryCodeHashSize {
		return errorf(op, webauthnkit.ErrNotFound) // no such hash can be stored
	}
	htag := tag(handle)
	ok, err := s.runAcked(ctx, scriptUseRecoveryCode, []string{s.recoveryKey(htag), s.recoveryUseKey(htag)}, hash, newTx()).Int()
	if err != nil {
		return wrapErr(ctx, op, err)
	}
	if ok != 1 {
		return errorf(op, webauthnkit.ErrNotFound)
	}
	return nil
}

// RecoveryCodesLeft returns how many recovery codes the user has left (0
// for an unknown user): one SCARD.
func (s *Store) RecoveryCodesLeft(ctx context.Context, handle []byte) (int, error) {
	const op = "RecoveryCodesLeft"
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("redisstore: %s: %w", op, err)
	}
	if len(handle) == 0 {
		return 0, nil
	}
	n, err := s.c.SCard(ctx, s.recoveryKey(tag(handle))).Result()
	if err != nil {
		return 0, wrapErr(ctx, op, err)
	}
	return int(n), nil
}

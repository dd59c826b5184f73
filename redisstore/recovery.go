package redisstore

import (
	"context"
	"fmt"

	"github.com/webauthnkit/webauthnkit"
)

// Recovery codes: a set recovery:{H} of code hashes in the user's slot, so
// that a use is one atomic SREM and DeleteUser removes the set in the same
// script as the user.

const (
	// maxRecoveryCodes and recoveryHashLen bound what SetRecoveryCodes
	// stores (the contract's limits): at most 32 hashes of 32 bytes.
	maxRecoveryCodes = 32
	recoveryHashLen  = 32
)

// SetRecoveryCodes replaces the user's recovery codes with hashes (at most
// 32, each 32 bytes); an empty list removes them all. It returns an error
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
	if len(hashes) > maxRecoveryCodes {
		return fmt.Errorf("redisstore: %s: %d hashes, at most %d", op, len(hashes), maxRecoveryCodes)
	}
	args := make([]any, len(hashes))
	for i, h := range hashes {
		if len(h) != recoveryHashLen {
			return fmt.Errorf("redisstore: %s: a hash of %d bytes, want %d", op, len(h), recoveryHashLen)
		}
		args[i] = h
	}
	htag := tag(handle)
	ok, err := scriptSetRecoveryCodes.Run(ctx, s.c, []string{s.userKey(htag), s.recoveryKey(htag)}, args...).Int()
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
	if len(handle) == 0 || len(hash) != recoveryHashLen {
		return errorf(op, webauthnkit.ErrNotFound) // no such hash can be stored
	}
	htag := tag(handle)
	ok, err := scriptUseRecoveryCode.Run(ctx, s.c, []string{s.recoveryKey(htag), s.recoveryUseKey(htag)}, hash, newTx()).Int()
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

package redisstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/webauthnkit/webauthnkit"
)

// UpdateUser sets the name and display name of the user with this handle.
// It returns an error wrapping webauthnkit.ErrNotFound for an unknown user
// and webauthnkit.ErrUserExists if another user has the name (nothing
// changes then). Renaming a user to its own name only sets the display
// name. Of concurrent renames of two users to one free name exactly one
// succeeds; the old name is free for others once UpdateUser returns.
//
// The name claim lives in the name's slot, the user record in the handle's,
// so a rename is a transaction like CreateUser, whose commit point is the
// switch of the user record:
//
//  1. Begin (user's slot): check the user, read its name and the
//     transaction of that name's claim, take a lease lease:{H}:RX.
//  2. Claim the new name: set name:{N'} to RX+H, if absent, or taking over a
//     dead claim (a claim in progress is waited for, a valid one means
//     ErrUserExists), exactly as CreateUser does.
//  3. Commit (user's slot), only while the lease lives and consuming it, and
//     only if the user still has the name and name transaction read in 1:
//     set the name, the display name and the name transaction RX. From here
//     on the new claim is valid (the record carries N' under RX) and the
//     old one stale (the record no longer carries its name).
//  4. Release the old claim, if it still holds the old value.
//
// A crash after 2 leaves a claim that readers ignore (the record does not
// carry the name) and that others wait for until the lease expires, then
// take over. A crash after 3 leaves the old claim: stale, ignored by
// readers and taken over at once by the next claimant. The user is never
// seen under two names or none.
func (s *Store) UpdateUser(ctx context.Context, handle []byte, name, displayName string) (err error) {
	const op = "UpdateUser"
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("redisstore: %s: %w", op, err)
	}
	if len(handle) == 0 {
		return errorf(op, webauthnkit.ErrNotFound)
	}
	for range maxAttempts {
		done, err := s.rename(ctx, op, handle, name, displayName)
		if err != nil || done {
			return err
		}
		// A concurrent rename of the same user committed between our
		// begin and our commit: start over from the name it set.
	}
	return fmt.Errorf("redisstore: %s: %w", op, errTooMuchContention)
}

// rename runs one attempt of UpdateUser. It reports false (and no error)
// when the user was renamed by someone else meanwhile and the caller should
// start over.
func (s *Store) rename(ctx context.Context, op string, handle []byte, name, displayName string) (done bool, err error) {
	htag := tag(handle)
	rx := newTx()
	userKey, leaseKey := s.userKey(htag), s.leaseKey(htag, rx)

	// 1. Begin.
	res, err := scriptBeginRename.Run(ctx, s.c, []string{userKey, leaseKey}, name, displayName, s.lease.Milliseconds()).Slice()
	if err != nil {
		return false, wrapErr(ctx, op, err)
	}
	switch st, _ := res[0].(string); st {
	case "notfound":
		return false, errorf(op, webauthnkit.ErrNotFound)
	case "same":
		return true, nil
	case "ok":
	default:
		return false, fmt.Errorf("redisstore: %s: unexpected script reply %q", op, st)
	}
	oldName, _ := res[1].(string)
	oldNameTx, _ := res[2].(string)
	if err := s.step(op + ":begun"); err != nil {
		return false, err
	}

	// Until the commit is sent, a failure releases the new claim and the
	// lease. Releasing is an optimisation: a claim whose lease is gone
	// without a commit is dead and taken over by the next claimant.
	newValue := rx + string(handle)
	commitSent := false
	defer func() {
		if commitSent || s.failpointHit(err) {
			return
		}
		cctx, cancel := cleanupCtx(ctx)
		defer cancel()
		// The lease goes first, so that the claim is dead before it goes.
		s.c.Del(cctx, leaseKey)
		scriptReleaseName.Run(cctx, s.c, []string{s.nameKey(name)}, newValue)
	}()

	renew := func(ctx context.Context) error {
		ok, err := s.c.PExpire(ctx, leaseKey, s.lease).Result()
		if err != nil {
			return err
		}
		if !ok {
			return errLeaseExpired
		}
		return nil
	}

	// 2. Claim the new name.
	if err := s.claimName(ctx, name, newValue, renew); err != nil {
		var se sentinelErr
		if errors.As(err, &se) && se.err == webauthnkit.ErrUserExists {
			// Taken, unless by this very user: a concurrent UpdateUser of
			// the same user to the same name committed after our begin.
			// Start over, and the begin answers "same".
			if mine, ierr := s.hasName(ctx, userKey, name); ierr == nil && mine {
				return false, nil
			}
		}
		return false, s.opErr(ctx, op, err)
	}
	if err := s.step(op + ":claimedName"); err != nil {
		return false, err
	}

	// 3. Commit, in the user's slot.
	commitSent = true
	st, err := scriptCommitRename.Run(ctx, s.c, []string{userKey, leaseKey}, name, displayName, rx, oldName, oldNameTx).Text()
	if err != nil {
		// It may or may not have committed: keep the claims, they resolve
		// by themselves (the new one is valid if it committed, dead
		// otherwise; the old one the other way round).
		return false, wrapErr(ctx, op, err)
	}
	if st != "ok" {
		// Not committed, and the lease is gone: the new claim is dead.
		s.releaseName(ctx, name, newValue)
		switch st {
		case "notfound":
			return false, errorf(op, webauthnkit.ErrNotFound)
		case "changed":
			return false, nil
		case "expired":
			return false, fmt.Errorf("redisstore: %s: %w", op, errLeaseExpired)
		}
		return false, fmt.Errorf("redisstore: %s: unexpected script reply %q", op, st)
	}
	if err := s.step(op + ":committed"); err != nil {
		return false, err
	}

	// 4. The old name is stale now: free it. Best effort: a claim left
	// behind is ignored by readers and taken over by the next claimant.
	s.releaseName(ctx, oldName, oldNameTx+string(handle))
	return true, nil
}

// hasName reports whether the user record carries name.
func (s *Store) hasName(ctx context.Context, userKey, name string) (bool, error) {
	cur, err := s.c.HGet(ctx, userKey, fUserName).Result()
	if errors.Is(err, redis.Nil) {
		return false, nil
	}
	return cur == name, err
}

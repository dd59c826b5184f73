package redisstore

import (
	"context"
	"errors"
	"fmt"
	"time"

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
	return s.switchValue(ctx, op, names, handle, name, fUserDisplay, displayName)
}

// SetEmail sets the email address and its verified time of the user with
// this handle; an empty email removes the address (and its claim). It
// returns an error wrapping webauthnkit.ErrNotFound for an unknown user and
// webauthnkit.ErrUserExists if another user has the email (nothing changes
// then). Setting the user's own address only sets the verified time. Of
// concurrent SetEmail calls of two users with one free address exactly one
// succeeds; the old address is free for others once SetEmail returns.
//
// The email claim (email:{E}) lives in the address's slot, so SetEmail is
// the rename protocol of UpdateUser in the email space, with field "mt"
// (the email transaction) in the role of "nt":
//
//  1. Begin (user's slot): check the user, read its email E and the
//     transaction of E's claim, take a lease lease:{H}:MX.
//  2. Claim E' (skipped when removing the address): set email:{E'} to
//     MX+H, as CreateUser claims a name.
//  3. Commit (user's slot), only while the lease lives and consuming it,
//     and only if the user still has E under the transaction read in 1:
//     set E', the verified time and the email transaction MX.
//  4. Release the claim of E, if it still holds its old value.
//
// A crash after 1 leaves a lease that expires by itself. A crash after 2
// leaves a claim of E' that readers ignore (the record does not carry E')
// and that other claimants wait for until the lease expires, then take
// over. A crash after 3 leaves the claim of E: stale (the record no longer
// carries E), ignored by GetUserByEmail and taken over at once by the next
// claimant. The user is never found under two addresses.
func (s *Store) SetEmail(ctx context.Context, handle []byte, email string, verifiedAt time.Time) error {
	const op = "SetEmail"
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("redisstore: %s: %w", op, err)
	}
	if len(handle) == 0 {
		return errorf(op, webauthnkit.ErrNotFound)
	}
	return s.switchValue(ctx, op, emails, handle, email, fUserEmailAt, encTime(verifiedAt))
}

// switchValue moves a user to a new value in a claim space (UpdateUser:
// names, SetEmail: emails) and sets one more field of the record with it
// (the display name, the verified time).
func (s *Store) switchValue(ctx context.Context, op string, sp claimSpace, handle []byte, value, extraField, extraValue string) error {
	for range maxAttempts {
		done, err := s.switchOnce(ctx, op, sp, handle, value, extraField, extraValue)
		if err != nil || done {
			return err
		}
		// A concurrent switch of the same user committed between our
		// begin and our commit: start over from the value it set.
	}
	return fmt.Errorf("redisstore: %s: %w", op, errTooMuchContention)
}

// switchOnce runs one attempt of switchValue. It reports false (and no
// error) when the user was switched by someone else meanwhile and the
// caller should start over.
func (s *Store) switchOnce(ctx context.Context, op string, sp claimSpace, handle []byte, value, extraField, extraValue string) (done bool, err error) {
	htag := tag(handle)
	rx := newTx()
	userKey, leaseKey := s.userKey(htag), s.leaseKey(htag, rx)

	// 1. Begin.
	res, err := scriptBeginSwitch.Run(ctx, s.c, []string{userKey, leaseKey},
		sp.valueField, sp.txField, value, s.lease.Milliseconds(), extraField, extraValue).Slice()
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
	oldValue, _ := res[1].(string)
	oldTx, _ := res[2].(string)
	if err := s.step(op + ":begun"); err != nil {
		return false, err
	}

	// Until the commit is sent, a failure releases the new claim and the
	// lease. Releasing is an optimisation: a claim whose lease is gone
	// without a commit is dead and taken over by the next claimant.
	newClaim := rx + string(handle)
	commitSent := false
	defer func() {
		if commitSent || s.failpointHit(err) {
			return
		}
		cctx, cancel := cleanupCtx(ctx)
		defer cancel()
		// The lease goes first, so that the claim is dead before it goes.
		s.c.Del(cctx, leaseKey)
		s.releaseIn(cctx, sp, value, newClaim)
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

	// 2. Claim the new value (an optional space's empty value has none).
	if value != "" || !sp.optional {
		if err := s.claim(ctx, sp, value, newClaim, renew); err != nil {
			var se sentinelErr
			if errors.As(err, &se) && se.err == webauthnkit.ErrUserExists {
				// Taken, unless by this very user: a concurrent switch of
				// the same user to the same value committed after our
				// begin. Start over, and the begin answers "same".
				if mine, ierr := s.hasValue(ctx, sp, userKey, value); ierr == nil && mine {
					return false, nil
				}
			}
			return false, s.opErr(ctx, op, err)
		}
		if err := s.step(op + ":" + sp.step); err != nil {
			return false, err
		}
	}

	// 3. Commit, in the user's slot.
	commitSent = true
	st, err := s.runAcked(ctx, scriptCommitSwitch, []string{userKey, leaseKey},
		sp.valueField, sp.txField, value, rx, oldValue, oldTx, extraField, extraValue).Text()
	if err != nil {
		// It may or may not have committed: keep the claims, they resolve
		// by themselves (the new one is valid if it committed, dead
		// otherwise; the old one the other way round).
		return false, wrapErr(ctx, op, err)
	}
	if st != "ok" {
		// Not committed, and the lease is gone: the new claim is dead.
		s.release(ctx, sp, value, newClaim)
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

	// 4. The old value is stale now: free it. Best effort: a claim left
	// behind is ignored by readers and taken over by the next claimant.
	s.release(ctx, sp, oldValue, oldTx+string(handle))
	return true, nil
}

// hasValue reports whether the user record carries value in sp.
func (s *Store) hasValue(ctx context.Context, sp claimSpace, userKey, value string) (bool, error) {
	cur, err := s.c.HGet(ctx, userKey, sp.valueField).Result()
	if errors.Is(err, redis.Nil) {
		return false, nil
	}
	return cur == value, err
}

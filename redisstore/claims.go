package redisstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/webauthnkit/webauthnkit"
)

// The cross-slot claim protocol behind CreateUser and AddCredential (and,
// through claim, UpdateUser and SetEmail: rename.go), and
// the reader-side settling of records it leaves pending: see the package
// documentation ("Data model", "Consistency across slots") and
// docs/redisstore.md.

// maxAttempts bounds the retry loops (claim take-overs, DeleteUser) that
// only repeat when another writer changed the same keys in between.
const maxAttempts = 50

// errLeaseExpired: a write took longer than its lease (a stalled process or
// a very slow network); its claims may have been taken over.
var errLeaseExpired = fmt.Errorf("%w: the write took longer than its lease", webauthnkit.ErrStoreUnavailable)

var errTooMuchContention = fmt.Errorf("gave up after %d attempts because of concurrent changes: %w", maxAttempts, webauthnkit.ErrConflict)

// write runs the claim/commit transaction of CreateUser (user != nil) and
// AddCredential (user == nil). cred is nil for a user created without a
// credential: then only the name (and the email, if any) is claimed.
func (s *Store) write(ctx context.Context, op string, handle []byte, user *webauthnkit.User, cred *webauthnkit.Credential) (err error) {
	htag := tag(handle)
	tx := newTx()
	userKey, credsKey, leaseKey := s.userKey(htag), s.userCredsKey(htag), s.leaseKey(htag, tx)
	mode := "add"
	if user != nil {
		mode = "create"
	}
	var credKey string
	var credID []byte // empty: no credential, the commit adds no index entry
	var fields []any
	if cred != nil {
		credKey, credID = s.credKey(cred.ID), cred.ID
		if fields, err = credentialFields(*cred, tx); err != nil {
			return fmt.Errorf("redisstore: %s: encoding transports: %w", op, err)
		}
	}

	// 1. Begin: check the user and take the lease that the commit needs.
	st, err := scriptBegin.Run(ctx, s.c, []string{userKey, leaseKey}, mode, s.lease.Milliseconds()).Text()
	if err != nil {
		return wrapErr(ctx, op, err)
	}
	switch st {
	case "exists":
		return errorf(op, webauthnkit.ErrUserExists)
	case "notfound":
		return errorf(op, webauthnkit.ErrNotFound)
	}
	if err := s.step(op + ":begun"); err != nil {
		return err
	}

	// From here on, a failure before the commit releases what was claimed.
	// Releasing is an optimisation: claims of a transaction whose lease has
	// gone without a commit are dead and taken over by the next claimant.
	var claimValue string // tx+handle, once a name or email claim was tried
	emailClaimed := false
	var credClaimed bool
	keepClaims := false // once the commit was sent
	defer func() {
		if keepClaims || s.failpointHit(err) {
			return
		}
		cctx, cancel := cleanupCtx(ctx)
		defer cancel()
		if credClaimed {
			scriptDeleteCredIf.Run(cctx, s.c, []string{credKey}, handle, tx)
		}
		if claimValue != "" {
			s.releaseIn(cctx, names, user.Name, claimValue)
			if emailClaimed {
				s.releaseIn(cctx, emails, user.Email, claimValue)
			}
		}
		s.c.Del(cctx, leaseKey)
	}()

	// Waiting for another writer's claim must not use up our own lease.
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

	// 2. Claim the name and the email, if any (CreateUser only).
	if user != nil {
		claimValue = tx + string(handle)
		if err := s.claim(ctx, names, user.Name, claimValue, renew); err != nil {
			return s.opErr(ctx, op, err)
		}
		if err := s.step(op + ":" + names.step); err != nil {
			return err
		}
		if user.Email != "" {
			emailClaimed = true // even on error: the claim may have been made
			if err := s.claim(ctx, emails, user.Email, claimValue, renew); err != nil {
				return s.opErr(ctx, op, err)
			}
			if err := s.step(op + ":" + emails.step); err != nil {
				return err
			}
		}
	}

	// 3. Claim the credential ID.
	if cred != nil {
		credClaimed = true // even on error: the claim may have been made
		if err := s.claimCred(ctx, credKey, cred.ID, fields, renew); err != nil {
			return s.opErr(ctx, op, err)
		}
		if err := s.step(op + ":claimedCredential"); err != nil {
			return err
		}
	}

	// 4. Commit, in the user's slot.
	args := []any{mode, tx, credID}
	if user != nil {
		args = append(args, userFields(*user, tx)...)
	}
	st, err = s.runAcked(ctx, scriptCommit, []string{userKey, credsKey, leaseKey, s.recoveryKey(htag)}, args...).Text()
	if err != nil {
		// The commit may or may not have happened: keep the claims, they
		// resolve by themselves (valid if it committed, dead otherwise).
		keepClaims = true
		return wrapErr(ctx, op, err)
	}
	switch st {
	case "exists":
		return errorf(op, webauthnkit.ErrUserExists)
	case "notfound":
		return errorf(op, webauthnkit.ErrNotFound)
	case "expired":
		return fmt.Errorf("redisstore: %s: %w", op, errLeaseExpired)
	}
	keepClaims = true
	if err := s.step(op + ":committed"); err != nil {
		return err
	}

	// 5. Mark the credential record committed, so that GetCredential needs
	// one round trip. Best effort: readers resolve a pending record against
	// the user's credential index and finish this step themselves.
	if cred == nil {
		return nil
	}
	cctx, cancel := cleanupCtx(ctx)
	defer cancel()
	scriptMarkCommitted.Run(cctx, s.c, []string{credKey}, tx)
	return nil
}

// errFailpoint wraps errors returned by test failpoints, which simulate a
// crash: no clean-up runs after them.
type errFailpoint struct{ err error }

func (e errFailpoint) Error() string { return e.err.Error() }
func (e errFailpoint) Unwrap() error { return e.err }

func (s *Store) failpointHit(err error) bool {
	var fp errFailpoint
	return errors.As(err, &fp)
}

// opErr prefixes an error from a helper: sentinel errors are wrapped as they
// are, Redis errors are classified by wrapErr.
func (s *Store) opErr(ctx context.Context, op string, err error) error {
	var se sentinelErr
	if errors.As(err, &se) {
		return errorf(op, se.err)
	}
	return wrapErr(ctx, op, err)
}

// sentinelErr carries a webauthnkit sentinel out of a helper.
//
// This and the package's other error wrappers name their field rather than
// embed error: go/doc counts an embedded error as a type of the package, and
// then lists New apart from Store.
type sentinelErr struct{ err error }

func (e sentinelErr) Error() string { return e.err.Error() }

// resolution is the fate of a claim made by another transaction.
type resolution string

const (
	busy  resolution = "busy"  // its transaction is in progress
	valid resolution = "valid" // it committed and is still current
	dead  resolution = "dead"  // it never committed, or was deleted since
)

// claimSpace is a namespace of unique user attributes (names, emails): each
// value has a claim key of its own, holding the claiming transaction
// followed by the owner's handle, and is backed by two fields of the owner's
// record: the value and the transaction of its claim.
type claimSpace struct {
	what       string // for error texts
	prefix     string // key prefix after the store's, before the braces
	valueField string // user hash field holding the value
	txField    string // user hash field naming the claim's transaction; absent: fTx
	optional   bool   // the empty value means none: it has no claim
	step       string // failpoint step after the claim, "claimed<What>"
}

var (
	names  = claimSpace{what: "name", prefix: "name:", valueField: fUserName, txField: fUserNameTx, step: "claimedName"}
	emails = claimSpace{what: "email", prefix: "email:", valueField: fUserEmail, txField: fUserEmailTx, optional: true, step: "claimedEmail"}
)

// claimKey is the key of value's claim in the space sp.
func (s *Store) claimKey(sp claimSpace, value string) string {
	return s.prefix + sp.prefix + "{" + tag([]byte(value)) + "}"
}

func (s *Store) nameKey(name string) string   { return s.claimKey(names, name) }
func (s *Store) emailKey(email string) string { return s.claimKey(emails, email) }

// claim claims value in the space sp for claimValue (tx followed by the
// handle). A claim held by a transaction in progress is waited for (at most
// the lease), a dead one is taken over, a valid one means the value is
// taken (ErrUserExists).
func (s *Store) claim(ctx context.Context, sp claimSpace, value, claimValue string, renew func(context.Context) error) error {
	key := s.claimKey(sp, value)
	expected := ""
	wait := newWaiter(s.lease)
	for range maxAttempts {
		res, err := s.runAcked(ctx, scriptClaim, []string{key}, claimValue, expected).Slice()
		if err != nil {
			return err
		}
		if ok, _ := res[0].(int64); ok == 1 {
			return nil
		}
		cur, _ := res[1].(string)
		if len(cur) <= txLen {
			return fmt.Errorf("malformed %s claim", sp.what) // the key would name the user
		}
		r, err := s.resolveClaim(ctx, sp, []byte(cur[txLen:]), value, cur[:txLen])
		if err != nil {
			return err
		}
		switch r {
		case valid:
			return sentinelErr{err: webauthnkit.ErrUserExists}
		case dead:
			expected = cur
		case busy:
			expected = ""
			if !wait.sleep(ctx) {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				return sentinelErr{err: webauthnkit.ErrUserExists}
			}
			if err := renew(ctx); err != nil {
				return err
			}
		}
	}
	return errTooMuchContention
}

// claimCred creates the pending credential record. A committed record means
// the ID is taken; a pending one is resolved like a name claim.
func (s *Store) claimCred(ctx context.Context, key string, id []byte, fields []any, renew func(context.Context) error) error {
	var expOwner, expTx string
	wait := newWaiter(s.lease)
	for range maxAttempts {
		args := append([]any{expOwner, expTx}, fields...)
		res, err := s.runAcked(ctx, scriptClaimCred, []string{key}, args...).Slice()
		if err != nil {
			return err
		}
		if ok, _ := res[0].(int64); ok == 1 {
			return nil
		}
		state, _ := res[1].(string)
		owner, _ := res[2].(string)
		tx, _ := res[3].(string)
		if state == stateDeleting {
			// Live unless its deletion committed; then settleDeleting
			// deleted the record, and the next attempt claims the ID.
			dx, _ := res[4].(string)
			live, err := s.settleDeleting(ctx, key, id, owner, tx, dx)
			if err != nil {
				return err
			}
			if live {
				return sentinelErr{err: webauthnkit.ErrCredentialExists}
			}
			expOwner, expTx = "", ""
			continue
		}
		if state != statePending {
			return sentinelErr{err: webauthnkit.ErrCredentialExists}
		}
		r, err := s.resolveCred(ctx, []byte(owner), id, tx)
		if err != nil {
			return err
		}
		switch r {
		case valid:
			s.markCommitted(ctx, key, tx)
			return sentinelErr{err: webauthnkit.ErrCredentialExists}
		case dead:
			expOwner, expTx = owner, tx
		case busy:
			expOwner, expTx = "", ""
			if !wait.sleep(ctx) {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				return sentinelErr{err: webauthnkit.ErrCredentialExists}
			}
			if err := renew(ctx); err != nil {
				return err
			}
		}
	}
	return errTooMuchContention
}

// resolveClaim decides a claim of value in sp made by transaction tx of the
// user owner, in the owner's slot.
func (s *Store) resolveClaim(ctx context.Context, sp claimSpace, owner []byte, value, tx string) (resolution, error) {
	htag := tag(owner)
	r, err := scriptResolveClaim.Run(ctx, s.c, []string{s.leaseKey(htag, tx), s.userKey(htag)},
		value, tx, sp.valueField, sp.txField).Text()
	return resolution(r), err
}

func (s *Store) resolveCred(ctx context.Context, owner, id []byte, tx string) (resolution, error) {
	htag := tag(owner)
	r, err := scriptResolveCred.Run(ctx, s.c, []string{s.leaseKey(htag, tx), s.userCredsKey(htag)}, id, tx).Text()
	return resolution(r), err
}

// markCommitted finishes step 5 of a write for a reader. Best effort.
func (s *Store) markCommitted(ctx context.Context, key, tx string) {
	cctx, cancel := cleanupCtx(ctx)
	defer cancel()
	scriptMarkCommitted.Run(cctx, s.c, []string{key}, tx)
}

// settle resolves a pending credential record found by a reader or an
// update: it reports whether the record is committed (and marks it so). A
// dead record is deleted.
func (s *Store) settle(ctx context.Context, key string, id []byte, owner, tx string) (bool, error) {
	r, err := s.resolveCred(ctx, []byte(owner), id, tx)
	if err != nil {
		return false, err
	}
	switch r {
	case valid:
		s.markCommitted(ctx, key, tx)
		return true, nil
	case dead:
		cctx, cancel := cleanupCtx(ctx)
		defer cancel()
		scriptDeleteCredIf.Run(cctx, s.c, []string{key}, owner, tx)
	}
	return false, nil
}

// waiter sleeps with exponential backoff while a claim is busy, for at most
// a little longer than a lease (a busy claim cannot outlive its lease).
type waiter struct {
	delay    time.Duration
	deadline time.Time
}

func newWaiter(lease time.Duration) *waiter {
	return &waiter{delay: time.Millisecond, deadline: time.Now().Add(lease + time.Second)}
}

// sleep waits before the next attempt. It returns false when the caller
// should give up: the context is done or the wait is over.
func (w *waiter) sleep(ctx context.Context) bool {
	if time.Now().After(w.deadline) {
		return false
	}
	t := time.NewTimer(w.delay)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
	}
	w.delay = min(2*w.delay, 50*time.Millisecond)
	return true
}

// release deletes the claim of value in sp if it still holds claimValue.
// Best effort, within a clean-up context of its own (see cleanupCtx).
func (s *Store) release(ctx context.Context, sp claimSpace, value, claimValue string) {
	cctx, cancel := cleanupCtx(ctx)
	defer cancel()
	s.releaseIn(cctx, sp, value, claimValue)
}

// releaseIn is release within cctx, a clean-up context the caller made:
// clean-ups of several steps share one, so they are bounded together by
// the caller's deadline. An empty value (no email) has no claim.
func (s *Store) releaseIn(cctx context.Context, sp claimSpace, value, claimValue string) {
	if value == "" && sp.optional {
		return
	}
	scriptReleaseClaim.Run(cctx, s.c, []string{s.claimKey(sp, value)}, claimValue)
}

// modify runs a single-key credential script that answers {"ok", ...},
// {"notfound"}, {"conflict"}, {"pending", owner, tx} or {"deleting", owner,
// tx, deletion tx}. A pending record is settled and, if committed, the
// script runs again; so does a record being deleted that is still live,
// with its deletion tx passed to run (the script then accepts the mark).
func (s *Store) modify(ctx context.Context, op, key string, id []byte, run func(liveDeletingTx string) ([]any, error)) error {
	liveDx := ""
	for range 3 {
		res, err := run(liveDx)
		if err != nil {
			return wrapErr(ctx, op, err)
		}
		st, _ := res[0].(string)
		switch st {
		case "ok":
			return nil
		case "notfound":
			return errorf(op, webauthnkit.ErrNotFound)
		case "conflict":
			return errorf(op, webauthnkit.ErrConflict)
		case "pending", "deleting":
			owner, _ := res[1].(string)
			tx, _ := res[2].(string)
			var live bool
			if st == "pending" {
				live, err = s.settle(ctx, key, id, owner, tx)
			} else {
				liveDx, _ = res[3].(string)
				live, err = s.settleDeleting(ctx, key, id, owner, tx, liveDx)
			}
			if err != nil {
				return wrapErr(ctx, op, err)
			}
			if !live {
				return errorf(op, webauthnkit.ErrNotFound)
			}
		default:
			return fmt.Errorf("redisstore: %s: unexpected script reply %q", op, st)
		}
	}
	return fmt.Errorf("redisstore: %s: %w", op, errTooMuchContention)
}

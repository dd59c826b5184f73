package redisstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/webauthnkit/webauthnkit"
)

// See the package documentation ("Data model" and "Consistency") for the
// protocol these methods follow.

// maxAttempts bounds the retry loops (claim take-overs, DeleteUser) that
// only repeat when another writer changed the same keys in between.
const maxAttempts = 50

// errLeaseExpired: a write took longer than its lease (a stalled process or
// a very slow network); its claims may have been taken over.
var errLeaseExpired = fmt.Errorf("%w: the write took longer than its lease", webauthnkit.ErrStoreUnavailable)

var errTooMuchContention = fmt.Errorf("gave up after %d attempts because of concurrent changes: %w", maxAttempts, webauthnkit.ErrConflict)

// CreateUser stores user and its first credential. The credential must
// belong to the user (first.UserHandle equal to user.Handle).
//
// The write spans the slots of the name, the credential ID and the user
// handle: it claims the name, then the credential ID, then commits the user
// record and its credential index in one script. Readers see nothing until
// that commit; on failure the claims are released. It returns an error
// wrapping webauthnkit.ErrUserExists if the name or handle is taken, and
// webauthnkit.ErrCredentialExists if the credential ID is; nothing is stored
// then.
func (s *Store) CreateUser(ctx context.Context, user webauthnkit.User, first webauthnkit.Credential) error {
	const op = "CreateUser"
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("redisstore: %s: %w", op, err)
	}
	if len(user.Handle) == 0 {
		return errors.New("redisstore: CreateUser: empty user handle")
	}
	if len(first.ID) == 0 {
		return errors.New("redisstore: CreateUser: empty credential ID")
	}
	if !bytes.Equal(first.UserHandle, user.Handle) {
		return errors.New("redisstore: CreateUser: first.UserHandle differs from user.Handle")
	}
	return s.write(ctx, op, user.Handle, &user, first)
}

// AddCredential stores one more credential for an existing user. It returns
// an error wrapping webauthnkit.ErrNotFound if cred.UserHandle names no user
// and webauthnkit.ErrCredentialExists if the ID is already stored.
func (s *Store) AddCredential(ctx context.Context, cred webauthnkit.Credential) error {
	const op = "AddCredential"
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("redisstore: %s: %w", op, err)
	}
	if len(cred.UserHandle) == 0 {
		return errorf(op, webauthnkit.ErrNotFound)
	}
	if len(cred.ID) == 0 {
		return errors.New("redisstore: AddCredential: empty credential ID")
	}
	return s.write(ctx, op, cred.UserHandle, nil, cred)
}

// write runs the claim/commit transaction of CreateUser (user != nil) and
// AddCredential (user == nil).
func (s *Store) write(ctx context.Context, op string, handle []byte, user *webauthnkit.User, cred webauthnkit.Credential) (err error) {
	htag := tag(handle)
	tx := newTx()
	userKey, credsKey, leaseKey := s.userKey(htag), s.userCredsKey(htag), s.leaseKey(htag, tx)
	credKey := s.credKey(cred.ID)
	mode := "add"
	if user != nil {
		mode = "create"
	}
	fields, err := credentialFields(cred, tx)
	if err != nil {
		return fmt.Errorf("redisstore: %s: encoding transports: %w", op, err)
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
	var nameValue string
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
		if nameValue != "" {
			scriptReleaseName.Run(cctx, s.c, []string{s.nameKey(user.Name)}, nameValue)
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

	// 2. Claim the name (CreateUser only).
	if user != nil {
		nameValue = tx + string(handle)
		if err := s.claimName(ctx, user.Name, nameValue, renew); err != nil {
			return s.opErr(ctx, op, err)
		}
		if err := s.step(op + ":claimedName"); err != nil {
			return err
		}
	}

	// 3. Claim the credential ID.
	credClaimed = true // even on error: the claim may have been made
	if err := s.claimCred(ctx, credKey, cred.ID, fields, renew); err != nil {
		return s.opErr(ctx, op, err)
	}
	if err := s.step(op + ":claimedCredential"); err != nil {
		return err
	}

	// 4. Commit, in the user's slot.
	args := []any{mode, tx, cred.ID}
	if user != nil {
		args = append(args, userFields(*user, tx)...)
	}
	st, err = scriptCommit.Run(ctx, s.c, []string{userKey, credsKey, leaseKey}, args...).Text()
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
	cctx, cancel := cleanupCtx(ctx)
	defer cancel()
	scriptMarkCommitted.Run(cctx, s.c, []string{credKey}, tx)
	return nil
}

// errFailpoint wraps errors returned by test failpoints, which simulate a
// crash: no clean-up runs after them.
type errFailpoint struct{ error }

func (e errFailpoint) Unwrap() error { return e.error }

func (s *Store) failpointHit(err error) bool {
	var fp errFailpoint
	return errors.As(err, &fp)
}

// opErr prefixes an error from a helper: sentinel errors are wrapped as they
// are, Redis errors are classified by wrapErr.
func (s *Store) opErr(ctx context.Context, op string, err error) error {
	var se sentinelErr
	if errors.As(err, &se) {
		return errorf(op, se.error)
	}
	return wrapErr(ctx, op, err)
}

// sentinelErr carries a webauthnkit sentinel out of a helper.
type sentinelErr struct{ error }

// resolution is the fate of a claim made by another transaction.
type resolution string

const (
	busy  resolution = "busy"  // its transaction is in progress
	valid resolution = "valid" // it committed and is still current
	dead  resolution = "dead"  // it never committed, or was deleted since
)

// claimName claims the name key for value (tx followed by the handle). A
// claim held by a transaction in progress is waited for (at most the lease),
// a dead one is taken over, a valid one means the name is taken.
func (s *Store) claimName(ctx context.Context, name, value string, renew func(context.Context) error) error {
	key := s.nameKey(name)
	expected := ""
	wait := newWaiter(s.lease)
	for range maxAttempts {
		res, err := scriptClaimName.Run(ctx, s.c, []string{key}, value, expected).Slice()
		if err != nil {
			return err
		}
		if ok, _ := res[0].(int64); ok == 1 {
			return nil
		}
		cur, _ := res[1].(string)
		if len(cur) <= txLen {
			return errors.New("malformed name claim") // the key would name the user
		}
		r, err := s.resolveName(ctx, []byte(cur[txLen:]), name, cur[:txLen])
		if err != nil {
			return err
		}
		switch r {
		case valid:
			return sentinelErr{webauthnkit.ErrUserExists}
		case dead:
			expected = cur
		case busy:
			expected = ""
			if !wait.sleep(ctx) {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				return sentinelErr{webauthnkit.ErrUserExists}
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
		res, err := scriptClaimCred.Run(ctx, s.c, []string{key}, args...).Slice()
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
				return sentinelErr{webauthnkit.ErrCredentialExists}
			}
			expOwner, expTx = "", ""
			continue
		}
		if state != statePending {
			return sentinelErr{webauthnkit.ErrCredentialExists}
		}
		r, err := s.resolveCred(ctx, []byte(owner), id, tx)
		if err != nil {
			return err
		}
		switch r {
		case valid:
			s.markCommitted(ctx, key, tx)
			return sentinelErr{webauthnkit.ErrCredentialExists}
		case dead:
			expOwner, expTx = owner, tx
		case busy:
			expOwner, expTx = "", ""
			if !wait.sleep(ctx) {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				return sentinelErr{webauthnkit.ErrCredentialExists}
			}
			if err := renew(ctx); err != nil {
				return err
			}
		}
	}
	return errTooMuchContention
}

func (s *Store) resolveName(ctx context.Context, owner []byte, name, tx string) (resolution, error) {
	htag := tag(owner)
	r, err := scriptResolveName.Run(ctx, s.c, []string{s.leaseKey(htag, tx), s.userKey(htag)}, name, tx).Text()
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

// GetUserByHandle returns the user with the given handle: one HGETALL.
func (s *Store) GetUserByHandle(ctx context.Context, handle []byte) (webauthnkit.User, error) {
	const op = "GetUserByHandle"
	if err := ctx.Err(); err != nil {
		return webauthnkit.User{}, fmt.Errorf("redisstore: %s: %w", op, err)
	}
	if len(handle) == 0 {
		return webauthnkit.User{}, errorf(op, webauthnkit.ErrNotFound)
	}
	m, err := s.c.HGetAll(ctx, s.userKey(tag(handle))).Result()
	if err != nil {
		return webauthnkit.User{}, wrapErr(ctx, op, err)
	}
	if m[fTx] == "" {
		return webauthnkit.User{}, errorf(op, webauthnkit.ErrNotFound)
	}
	u, err := decodeUser(handle, m)
	if err != nil {
		return webauthnkit.User{}, fmt.Errorf("redisstore: %s: %w", op, err)
	}
	return u, nil
}

// GetUserByName returns the user with the given name: a GET of the name
// claim, then an HGETALL of the user it names, which must carry the same name
// and transaction (a claim left by a crashed or deleted writer is ignored).
func (s *Store) GetUserByName(ctx context.Context, name string) (webauthnkit.User, error) {
	const op = "GetUserByName"
	if err := ctx.Err(); err != nil {
		return webauthnkit.User{}, fmt.Errorf("redisstore: %s: %w", op, err)
	}
	cur, err := s.c.Get(ctx, s.nameKey(name)).Result()
	if errors.Is(err, redis.Nil) {
		return webauthnkit.User{}, errorf(op, webauthnkit.ErrNotFound)
	}
	if err != nil {
		return webauthnkit.User{}, wrapErr(ctx, op, err)
	}
	if len(cur) <= txLen {
		return webauthnkit.User{}, fmt.Errorf("redisstore: %s: malformed name claim", op)
	}
	tx, handle := cur[:txLen], []byte(cur[txLen:])
	m, err := s.c.HGetAll(ctx, s.userKey(tag(handle))).Result()
	if err != nil {
		return webauthnkit.User{}, wrapErr(ctx, op, err)
	}
	if m[fTx] != tx || m[fUserName] != name {
		return webauthnkit.User{}, errorf(op, webauthnkit.ErrNotFound)
	}
	u, err := decodeUser(handle, m)
	if err != nil {
		return webauthnkit.User{}, fmt.Errorf("redisstore: %s: %w", op, err)
	}
	return u, nil
}

// DeleteUser removes the user, its credentials and its name. It deletes the
// credential records first, then (atomically, if no credential was added or
// removed meanwhile) the user record and its index, then the name claim. A
// crash part-way leaves either a user with fewer credentials (call
// DeleteUser again) or a stale name claim that readers ignore and the next
// CreateUser with that name takes over.
//
// It returns an error wrapping webauthnkit.ErrNotFound if the user does not
// exist when the call starts. A user found by the call and deleted by a
// concurrent DeleteUser before it finishes counts as deleted (nil): that
// is also how a resent final script, after a lost reply, looks.
func (s *Store) DeleteUser(ctx context.Context, handle []byte) error {
	const op = "DeleteUser"
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("redisstore: %s: %w", op, err)
	}
	if len(handle) == 0 {
		return errorf(op, webauthnkit.ErrNotFound)
	}
	htag := tag(handle)
	userKey, credsKey := s.userKey(htag), s.userCredsKey(htag)
	var userTx, name string
	deleted := false
	for range maxAttempts {
		res, err := scriptReadUser.Run(ctx, s.c, []string{userKey, credsKey}).Slice()
		if err != nil {
			return wrapErr(ctx, op, err)
		}
		if len(res) < 3 {
			return errorf(op, webauthnkit.ErrNotFound)
		}
		userTx, _ = res[0].(string)
		name, _ = res[1].(string)
		index, _ := res[2].([]any)
		args := make([]any, 0, 1+len(index))
		args = append(args, userTx)
		for i := 0; i+1 < len(index); i += 2 {
			id, _ := index[i].(string)
			tx, _ := index[i+1].(string)
			if err := scriptDeleteCredIf.Run(ctx, s.c, []string{s.credKey([]byte(id))}, handle, tx).Err(); err != nil {
				return wrapErr(ctx, op, err)
			}
			args = append(args, id, tx)
		}
		if err := s.step(op + ":credentialsDeleted"); err != nil {
			return err
		}
		st, err := scriptDeleteUser.Run(ctx, s.c, []string{userKey, credsKey}, args...).Text()
		if err != nil {
			return wrapErr(ctx, op, err)
		}
		if st == "notfound" {
			// The user this call found was deleted since: by this very
			// script, run twice because its reply was lost, or by a
			// concurrent DeleteUser. Either way it is gone, as asked, and
			// its name claim is stale.
			deleted = true
			break
		}
		if st == "ok" {
			deleted = true
			break
		}
		// "retry": a credential was added or removed meanwhile.
	}
	if !deleted {
		return fmt.Errorf("redisstore: %s: %w", op, errTooMuchContention)
	}
	if err := s.step(op + ":userDeleted"); err != nil {
		return err
	}
	// The user is gone: a name claim left behind (if this fails) is stale,
	// ignored by readers and taken over by the next claimant.
	s.releaseName(ctx, name, userTx+string(handle))
	return nil
}

// releaseName deletes a name claim if it still holds value. Best effort.
func (s *Store) releaseName(ctx context.Context, name, value string) {
	cctx, cancel := cleanupCtx(ctx)
	defer cancel()
	scriptReleaseName.Run(cctx, s.c, []string{s.nameKey(name)}, value)
}

// GetCredential returns the credential with the given ID: one HMGET (a
// record still pending after a writer's crash costs a resolution first).
func (s *Store) GetCredential(ctx context.Context, id []byte) (webauthnkit.Credential, error) {
	const op = "GetCredential"
	if err := ctx.Err(); err != nil {
		return webauthnkit.Credential{}, fmt.Errorf("redisstore: %s: %w", op, err)
	}
	if len(id) == 0 {
		return webauthnkit.Credential{}, errorf(op, webauthnkit.ErrNotFound)
	}
	key := s.credKey(id)
	vals, err := hmgetCred(ctx, s.c, key).Result()
	if err != nil {
		return webauthnkit.Credential{}, wrapErr(ctx, op, err)
	}
	r := credRecord(vals)
	switch r.str(crState) {
	case stateCommitted:
	case stateDeleting:
		live, err := s.settleDeleting(ctx, key, id, r.str(crOwner), r.str(crTx), r.str(crDeletingTx))
		if err != nil {
			return webauthnkit.Credential{}, wrapErr(ctx, op, err)
		}
		if !live {
			return webauthnkit.Credential{}, errorf(op, webauthnkit.ErrNotFound)
		}
	case statePending:
		ok, err := s.settle(ctx, key, id, r.str(crOwner), r.str(crTx))
		if err != nil {
			return webauthnkit.Credential{}, wrapErr(ctx, op, err)
		}
		if !ok {
			return webauthnkit.Credential{}, errorf(op, webauthnkit.ErrNotFound)
		}
	default:
		return webauthnkit.Credential{}, errorf(op, webauthnkit.ErrNotFound)
	}
	c, err := decodeCredential(id, r)
	if err != nil {
		return webauthnkit.Credential{}, fmt.Errorf("redisstore: %s: %w", op, err)
	}
	return c, nil
}

// ListCredentials returns the user's credentials ordered by CreatedAt, then
// ID: an HGETALL of the user's credential index, then one pipelined HMGET
// per credential (split by node on a Cluster).
func (s *Store) ListCredentials(ctx context.Context, userHandle []byte) ([]webauthnkit.Credential, error) {
	const op = "ListCredentials"
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("redisstore: %s: %w", op, err)
	}
	if len(userHandle) == 0 {
		return nil, nil
	}
	index, err := s.c.HGetAll(ctx, s.userCredsKey(tag(userHandle))).Result()
	if err != nil {
		return nil, wrapErr(ctx, op, err)
	}
	if len(index) == 0 {
		return nil, nil
	}
	ids := make([]string, 0, len(index))
	for id := range index {
		ids = append(ids, id)
	}
	cmds := make([]*redis.SliceCmd, len(ids))
	_, err = s.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, id := range ids {
			cmds[i] = hmgetCred(ctx, p, s.credKey([]byte(id)))
		}
		return nil
	})
	if err != nil {
		return nil, wrapErr(ctx, op, err)
	}
	creds := make([]webauthnkit.Credential, 0, len(ids))
	for i, id := range ids {
		r := credRecord(cmds[i].Val())
		// An index entry counts only if the record is the one its
		// transaction wrote for this user; entries left by a crash are
		// skipped. A matching pending record is committed: the entry is
		// the commit.
		if r.str(crOwner) != string(userHandle) || r.str(crTx) != index[id] {
			continue
		}
		c, err := decodeCredential([]byte(id), r)
		if err != nil {
			return nil, fmt.Errorf("redisstore: %s: %w", op, err)
		}
		creds = append(creds, c)
	}
	slices.SortFunc(creds, func(a, b webauthnkit.Credential) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return bytes.Compare(a.ID, b.ID)
	})
	return creds, nil
}

// UpdateCredentialUse applies use to the credential if its stored sign
// count is still expectedSignCount: one script, a compare-and-set on the
// credential record. It returns an error wrapping webauthnkit.ErrConflict if
// the count differs and webauthnkit.ErrNotFound if there is no such
// credential.
func (s *Store) UpdateCredentialUse(ctx context.Context, id []byte, expectedSignCount uint32, use webauthnkit.CredentialUse) error {
	const op = "UpdateCredentialUse"
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("redisstore: %s: %w", op, err)
	}
	if len(id) == 0 {
		return errorf(op, webauthnkit.ErrNotFound)
	}
	key := s.credKey(id)
	nonce := newTx() // identifies this call if go-redis resends it
	return s.modify(ctx, op, key, id, func(liveDx string) ([]any, error) {
		return scriptUpdateUse.Run(ctx, s.c, []string{key},
			strconv.FormatUint(uint64(expectedSignCount), 10),
			strconv.FormatUint(uint64(use.SignCount), 10),
			encBool(use.UserVerified), encBool(use.BackupState),
			encTime(use.LastUsedAt), encBool(use.CloneSuspected), nonce, liveDx,
		).Slice()
	})
}

// RenameCredential sets the name of a credential owned by userHandle. It
// returns an error wrapping webauthnkit.ErrNotFound if there is no such
// credential or another user owns it.
func (s *Store) RenameCredential(ctx context.Context, userHandle, id []byte, name string) error {
	const op = "RenameCredential"
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("redisstore: %s: %w", op, err)
	}
	if len(id) == 0 || len(userHandle) == 0 {
		return errorf(op, webauthnkit.ErrNotFound)
	}
	key := s.credKey(id)
	return s.modify(ctx, op, key, id, func(liveDx string) ([]any, error) {
		return scriptRename.Run(ctx, s.c, []string{key}, userHandle, name, liveDx).Slice()
	})
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

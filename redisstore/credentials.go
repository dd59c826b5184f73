package redisstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/redis/go-redis/v9"

	"github.com/webauthnkit/webauthnkit"
)

// The CredentialStore methods. CreateUser and AddCredential write through
// the claim protocol in claims.go; see the package documentation ("Data
// model" and "Consistency across slots").

// CreateUser stores user and, when first is not nil, its first credential,
// which must belong to the user (first.UserHandle equal to user.Handle).
//
// The write spans the slots of the name, the email (if any), the credential
// ID and the user handle: it claims the name, then the email, then the
// credential ID (if any), then commits the user record and its credential
// index in one script. Readers see nothing until that commit; on failure
// the claims are released. It returns an error wrapping
// webauthnkit.ErrUserExists if the name, email or handle is taken, and
// webauthnkit.ErrCredentialExists if the credential ID is; nothing is
// stored then.
func (s *Store) CreateUser(ctx context.Context, user webauthnkit.User, first *webauthnkit.Credential) error {
	const op = "CreateUser"
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("redisstore: %s: %w", op, err)
	}
	if len(user.Handle) == 0 {
		return errors.New("redisstore: CreateUser: empty user handle")
	}
	if first != nil {
		if len(first.ID) == 0 {
			return errors.New("redisstore: CreateUser: empty credential ID")
		}
		if !bytes.Equal(first.UserHandle, user.Handle) {
			return errors.New("redisstore: CreateUser: first.UserHandle differs from user.Handle")
		}
		if err := checkAttestation(first); err != nil {
			return fmt.Errorf("redisstore: %s: %w", op, err)
		}
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
	if err := checkAttestation(&cred); err != nil {
		return fmt.Errorf("redisstore: %s: %w", op, err)
	}
	return s.write(ctx, op, cred.UserHandle, nil, &cred)
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
// and name transaction (a claim left by a crashed writer, a deleted user or
// a rename is ignored).
func (s *Store) GetUserByName(ctx context.Context, name string) (webauthnkit.User, error) {
	return s.getUserByClaim(ctx, "GetUserByName", names, name)
}

// GetUserByEmail returns the user with the given email address, compared
// byte for byte: like GetUserByName, a GET of the email claim, then an
// HGETALL of the user it names, which must carry the same email and email
// transaction. The empty address names no user.
func (s *Store) GetUserByEmail(ctx context.Context, email string) (webauthnkit.User, error) {
	const op = "GetUserByEmail"
	if email == "" {
		if err := ctx.Err(); err != nil {
			return webauthnkit.User{}, fmt.Errorf("redisstore: %s: %w", op, err)
		}
		return webauthnkit.User{}, errorf(op, webauthnkit.ErrNotFound)
	}
	return s.getUserByClaim(ctx, op, emails, email)
}

// getUserByClaim returns the user whose record carries value in sp, found
// through value's claim.
func (s *Store) getUserByClaim(ctx context.Context, op string, sp claimSpace, value string) (webauthnkit.User, error) {
	if err := ctx.Err(); err != nil {
		return webauthnkit.User{}, fmt.Errorf("redisstore: %s: %w", op, err)
	}
	cur, err := s.c.Get(ctx, s.claimKey(sp, value)).Result()
	if errors.Is(err, redis.Nil) {
		return webauthnkit.User{}, errorf(op, webauthnkit.ErrNotFound)
	}
	if err != nil {
		return webauthnkit.User{}, wrapErr(ctx, op, err)
	}
	if len(cur) <= txLen {
		return webauthnkit.User{}, fmt.Errorf("redisstore: %s: malformed %s claim", op, sp.what)
	}
	tx, handle := cur[:txLen], []byte(cur[txLen:])
	m, err := s.c.HGetAll(ctx, s.userKey(tag(handle))).Result()
	if err != nil {
		return webauthnkit.User{}, wrapErr(ctx, op, err)
	}
	if m[fTx] == "" || claimTx(m, sp) != tx || m[sp.valueField] != value {
		return webauthnkit.User{}, errorf(op, webauthnkit.ErrNotFound)
	}
	u, err := decodeUser(handle, m)
	if err != nil {
		return webauthnkit.User{}, fmt.Errorf("redisstore: %s: %w", op, err)
	}
	return u, nil
}

// DeleteUser removes the user, its credentials, name, email and recovery
// codes. It deletes the credential records first, then (atomically, if no
// credential was added or removed, and the name and email unchanged,
// meanwhile) the user record, its index and its recovery codes, then the
// name and email claims. A crash part-way leaves either a user with fewer
// credentials (call DeleteUser again) or stale claims that readers ignore
// and the next claimant takes over.
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
	var userTx, nameTx, name, emailTx, email string
	deleted := false
	for range maxAttempts {
		res, err := scriptReadUser.Run(ctx, s.c, []string{userKey, credsKey}).Slice()
		if err != nil {
			return wrapErr(ctx, op, err)
		}
		if len(res) < 6 {
			return errorf(op, webauthnkit.ErrNotFound)
		}
		userTx, _ = res[0].(string)
		name, _ = res[1].(string)
		index, _ := res[2].([]any)
		nameTx, _ = res[3].(string)
		email, _ = res[4].(string)
		emailTx, _ = res[5].(string)
		args := make([]any, 0, 3+len(index))
		args = append(args, userTx, nameTx, emailTx)
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
		st, err := s.runAcked(ctx, scriptDeleteUser, []string{userKey, credsKey, s.recoveryKey(htag), s.recoveryUseKey(htag)}, args...).Text()
		if err != nil {
			return wrapErr(ctx, op, err)
		}
		if st == "notfound" {
			// The user this call found was deleted since: by this very
			// script, run twice because its reply was lost, or by a
			// concurrent DeleteUser. Either way it is gone, as asked, and
			// its claims are stale.
			deleted = true
			break
		}
		if st == "ok" {
			deleted = true
			break
		}
		// "retry": a credential was added or removed, or the user
		// renamed or its email changed, meanwhile.
	}
	if !deleted {
		return fmt.Errorf("redisstore: %s: %w", op, errTooMuchContention)
	}
	if err := s.step(op + ":userDeleted"); err != nil {
		return err
	}
	// The user is gone: a claim left behind (if this fails) is stale,
	// ignored by readers and taken over by the next claimant.
	cctx, cancel := cleanupCtx(ctx)
	defer cancel()
	s.releaseIn(cctx, names, name, nameTx+string(handle))
	s.releaseIn(cctx, emails, email, emailTx+string(handle))
	return nil
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
		return s.runAcked(ctx, scriptUpdateUse, []string{key},
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
		return s.runAcked(ctx, scriptRename, []string{key}, userHandle, name, liveDx).Slice()
	})
}

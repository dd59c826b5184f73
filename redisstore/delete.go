package redisstore

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/webauthnkit/webauthnkit"
)

// DeleteCredential deletes a credential owned by userHandle. With allowLast
// false it deletes only if the user keeps at least one other credential,
// and otherwise returns an error wrapping webauthnkit.ErrLastCredential; of
// concurrent deletes of a user's last two credentials exactly one succeeds.
// It returns an error wrapping webauthnkit.ErrNotFound if there is no such
// credential or another user owns it.
//
// The credential record and the user's credential index are in different
// slots, so the delete is a transaction like AddCredential, whose commit
// point is in the user's slot, where the index lives:
//
//  1. Begin (user's slot): check the user, take a lease lease:{H}:DX for
//     this deletion DX and, for a guarded delete, read the index.
//  2. Mark (credential's slot): set the record's state to "d" with DX. The
//     credential is still live: readers that meet the mark look in the
//     index, and the credential exists while its entry does.
//  3. Guarded delete only: read the records of the other index entries and
//     note the stale ones (record gone or rewritten by another write; left
//     by a crash, and stale for good since every write has its own tx).
//  4. Commit (user's slot, one script, only while the lease is open): drop
//     the stale entries, refuse if fewer than two entries remain (guarded),
//     else remove the credential's entry. This is where the credential
//     stops existing, and where two guarded deletes are serialised: the
//     second sees one entry left and refuses.
//  5. Delete the record (credential's slot).
//
// A crash after 2 leaves a marked record whose entry is still in the index:
// live. Readers pay one more round trip for it until the lease expires,
// then remove the mark (the commit needs the lease, so DX can no longer
// commit). A crash after 4 leaves a marked record without an entry: gone;
// the first reader (or a registration of the same ID) deletes it. Neither
// is visible as a half-deleted credential: a login with it works exactly
// until the commit.
func (s *Store) DeleteCredential(ctx context.Context, userHandle, id []byte, allowLast bool) (err error) {
	const op = "DeleteCredential"
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("redisstore: %s: %w", op, err)
	}
	if len(id) == 0 || len(userHandle) == 0 {
		return errorf(op, webauthnkit.ErrNotFound)
	}
	htag := tag(userHandle)
	dx := newTx()
	credKey, credsKey, leaseKey := s.credKey(id), s.userCredsKey(htag), s.leaseKey(htag, dx)

	// 1. Begin.
	res, err := scriptBeginDelete.Run(ctx, s.c, []string{s.userKey(htag), credsKey, leaseKey},
		s.lease.Milliseconds(), encBool(!allowLast)).Slice()
	if err != nil {
		return wrapErr(ctx, op, err)
	}
	if st, _ := res[0].(string); st != "ok" {
		return errorf(op, webauthnkit.ErrNotFound)
	}
	index, _ := res[1].([]any)
	if err := s.step(op + ":begun"); err != nil {
		return err
	}

	// Until the commit is sent, a failure ends the deletion: close the
	// lease first (so DX can never commit), then remove our mark. If this
	// does not run, the lease expires and readers remove the mark.
	commitSent := false
	defer func() {
		if commitSent || s.failpointHit(err) {
			return
		}
		cctx, cancel := cleanupCtx(ctx)
		defer cancel()
		if s.c.Del(cctx, leaseKey).Err() == nil {
			scriptUnmarkDeleting.Run(cctx, s.c, []string{credKey}, dx)
		}
	}()

	// 2. Mark.
	tx, err := s.markDeleting(ctx, credKey, id, userHandle, dx)
	if err != nil {
		return s.opErr(ctx, op, err)
	}
	if err := s.step(op + ":marked"); err != nil {
		return err
	}

	// 3. Stale index entries (guarded delete only).
	args := []any{id, tx, encBool(allowLast)}
	if !allowLast {
		stale, err := s.staleEntries(ctx, userHandle, id, index)
		if err != nil {
			return wrapErr(ctx, op, err)
		}
		args = append(args, stale...)
	}

	// 4. Commit.
	commitSent = true
	st, err := s.runAcked(ctx, scriptCommitDelete, []string{credsKey, leaseKey}, args...).Text()
	if err != nil {
		// It may or may not have committed: leave the mark, readers
		// decide it from the index (and remove it once the lease is gone).
		return wrapErr(ctx, op, err)
	}
	cctx, cancel := cleanupCtx(ctx)
	defer cancel()
	switch st {
	case "ok":
		if err := s.step(op + ":committed"); err != nil {
			return err
		}
		// 5. The credential is gone; its record is garbage. Best effort:
		// a record left behind is deleted by its next reader.
		scriptDeleteCredIf.Run(cctx, s.c, []string{credKey}, userHandle, tx)
		return nil
	case "last":
		// Refused, and DX can no longer commit: remove our mark.
		scriptUnmarkDeleting.Run(cctx, s.c, []string{credKey}, dx)
		return errorf(op, webauthnkit.ErrLastCredential)
	case "notfound":
		// Deleted meanwhile by another call (or with its user): the
		// record is garbage.
		scriptDeleteCredIf.Run(cctx, s.c, []string{credKey}, userHandle, tx)
		return errorf(op, webauthnkit.ErrNotFound)
	case "expired":
		scriptUnmarkDeleting.Run(cctx, s.c, []string{credKey}, dx)
		return fmt.Errorf("redisstore: %s: %w", op, errLeaseExpired)
	}
	return fmt.Errorf("redisstore: %s: unexpected script reply %q", op, st)
}

// markDeleting marks the credential record as being deleted by dx and
// returns the transaction that created it. A pending record is settled
// first (it may be committed, its writer having stopped before step 5).
func (s *Store) markDeleting(ctx context.Context, key string, id, owner []byte, dx string) (string, error) {
	for range 3 {
		res, err := scriptMarkDeleting.Run(ctx, s.c, []string{key}, owner, dx).Slice()
		if err != nil {
			return "", err
		}
		switch st, _ := res[0].(string); st {
		case "ok":
			tx, _ := res[1].(string)
			return tx, nil
		case "pending":
			tx, _ := res[2].(string)
			live, err := s.settle(ctx, key, id, string(owner), tx)
			if err != nil {
				return "", err
			}
			if !live {
				return "", sentinelErr{err: webauthnkit.ErrNotFound}
			}
		default:
			return "", sentinelErr{err: webauthnkit.ErrNotFound}
		}
	}
	return "", errTooMuchContention
}

// staleEntries returns, as ID, tx pairs, the entries of a user's credential
// index (HGETALL reply) other than id whose credential record is gone or is
// not the one the entry's write created. One pipelined round trip.
func (s *Store) staleEntries(ctx context.Context, owner, id []byte, index []any) ([]any, error) {
	type entry struct {
		id, tx string
		cmd    *redis.SliceCmd
	}
	var others []entry
	for i := 0; i+1 < len(index); i += 2 {
		eid, _ := index[i].(string)
		etx, _ := index[i+1].(string)
		if eid != string(id) {
			others = append(others, entry{id: eid, tx: etx})
		}
	}
	if len(others) == 0 {
		return nil, nil
	}
	_, err := s.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i := range others {
			others[i].cmd = p.HMGet(ctx, s.credKey([]byte(others[i].id)), fOwner, fTx)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var stale []any
	for _, e := range others {
		r := credRecord(e.cmd.Val())
		if len(r) != 2 || r.str(0) != string(owner) || r.str(1) != e.tx {
			stale = append(stale, e.id, e.tx)
		}
	}
	return stale, nil
}

// settleDeleting decides a credential record marked "d" by deletion dx, for
// a reader or a writer that met it: it reports whether the credential is
// live. A record whose deletion committed is deleted; the mark of a
// deletion that can no longer commit is removed.
func (s *Store) settleDeleting(ctx context.Context, key string, id []byte, owner, tx, dx string) (bool, error) {
	htag := tag([]byte(owner))
	r, err := scriptResolveDelete.Run(ctx, s.c, []string{s.userCredsKey(htag), s.leaseKey(htag, dx)}, id, tx).Text()
	if err != nil {
		return false, err
	}
	cctx, cancel := cleanupCtx(ctx)
	defer cancel()
	switch r {
	case "gone":
		scriptDeleteCredIf.Run(cctx, s.c, []string{key}, owner, tx)
		return false, nil
	case "idle":
		scriptUnmarkDeleting.Run(cctx, s.c, []string{key}, dx)
	}
	return true, nil
}

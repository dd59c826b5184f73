package sealstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/webauthnkit/webauthnkit"
)

// RekeyOptions configures Rekey.
type RekeyOptions struct {
	// After resumes an interrupted run: pass the Cursor of the last
	// RekeyProgress seen (users up to and including it are done). Default
	// nil: start with the first user.
	After []byte
	// PageSize is how many users each ListUserHandles page holds (1 to
	// webauthnkit.MaxUserHandlePage). Default 100.
	PageSize int
	// CheckOnly counts the values that are not sealed with the primary key
	// (Pending) without writing anything: run it before retiring a key.
	// Default false.
	CheckOnly bool
	// Progress, if set, is called after each page (from the goroutine
	// running Rekey). Default nil.
	Progress func(RekeyProgress)
}

// RekeyProgress reports a Rekey run so far.
type RekeyProgress struct {
	// Cursor is the handle of the last user done: RekeyOptions.After
	// resumes after it. Nil before the first user.
	Cursor []byte
	// Users and Credentials count the rows visited.
	Users, Credentials int
	// Resealed counts the values re-sealed with the primary key; Pending,
	// with CheckOnly, the values that would be.
	Resealed, Pending int
	// Failed counts the values that did not open (ErrTampered or
	// ErrKeyMissing, each reported to Config.OnTamper); they are left as
	// they are.
	Failed int
	// Done is true in the last report of a run that visited every user.
	Done bool
}

// Rekey re-seals, with the keyring's primary key, every value sealed with
// another key, one user at a time (its record, then its credentials'),
// paging through the wrapped store's users (it must declare
// Features().ListUserHandles). Run it in the background after making a new
// key primary; reads keep working with every key in the ring meanwhile, and
// logins are not blocked (a login's counter update and a re-seal touch
// different columns). Cancel ctx to stop; resume with RekeyOptions.After.
//
// When it returns nil, every value that existed throughout the run is
// sealed with the primary key (values written meanwhile are sealed with it
// anyway), and the other keys can be retired with SetKeyring. It returns an
// error matching ErrTampered (or ErrKeyMissing) if some values did not open
// (RekeyProgress.Failed): those still need the old key, or an
// investigation.
//
// In this process, Rekey's read-then-write of a user is serialised with
// UpdateUser, SetEmail and RenameCredential of that user. Another process
// renaming the same user or passkey in the instant between Rekey's read
// and write can have its change overwritten (the wrapped store has no
// compare-and-set on these columns): run Rekey when renames are rare, or in
// the process that serves them.
func (s *Store) Rekey(ctx context.Context, opts RekeyOptions) (RekeyProgress, error) {
	const op = "Rekey"
	p := RekeyProgress{Cursor: bytes.Clone(opts.After)}
	if s.lister == nil {
		return p, fail(op, errNoLister)
	}
	size := opts.PageSize
	if size == 0 {
		size = 100
	}
	if size < 1 || size > webauthnkit.MaxUserHandlePage {
		return p, fail(op, fmt.Errorf("PageSize %d not in 1 to %d", size, webauthnkit.MaxUserHandlePage))
	}
	var firstFailure error
	for {
		page, err := s.lister.ListUserHandles(ctx, p.Cursor, size)
		if err != nil {
			return p, fail(op, err)
		}
		for _, h := range page {
			if err := s.rekeyUser(ctx, h, opts.CheckOnly, &p); err != nil {
				if !errors.Is(err, ErrTampered) && !errors.Is(err, ErrKeyMissing) {
					return p, fail(op, err)
				}
				if firstFailure == nil {
					firstFailure = err
				}
			}
			p.Cursor = h
		}
		p.Done = len(page) < size
		if opts.Progress != nil {
			rp := p
			rp.Cursor = bytes.Clone(p.Cursor)
			opts.Progress(rp)
		}
		if p.Done {
			break
		}
	}
	if p.Failed > 0 {
		return p, fail(op, fmt.Errorf("%d values did not open, the first: %w", p.Failed, firstFailure))
	}
	return p, nil
}

// rekeyUser re-seals one user's values. Rows deleted meanwhile are
// skipped. An integrity failure is counted, reported and returned after
// the user's other values are done.
func (s *Store) rekeyUser(ctx context.Context, handle []byte, check bool, p *RekeyProgress) error {
	const op = "Rekey"
	defer s.lock(handle)()
	kr := s.ring.Load()
	primary := kr.Primary()
	var failure error
	row, err := s.inner.GetUserByHandle(ctx, handle)
	switch {
	case errors.Is(err, webauthnkit.ErrNotFound):
		return nil // deleted since it was listed
	case err != nil:
		return err
	}
	p.Users++
	u, rec, keyID, err := kr.openUser(row)
	switch {
	case err != nil:
		p.Failed++
		failure = s.report(ctx, op, handle, nil, err)
	case keyID != primary && check:
		p.Pending++
	case keyID != primary:
		rec.Emails = emailsOf(u.Email) // drop an address left by an interrupted SetEmail
		sealed := kr.sealUser(u, rec)
		err := s.inner.UpdateUser(ctx, handle, row.Name, sealed.DisplayName)
		if err != nil && !errors.Is(err, webauthnkit.ErrNotFound) {
			return err
		}
		if err == nil {
			p.Resealed++
		}
	}
	rows, err := s.inner.ListCredentials(ctx, handle)
	if err != nil {
		return err
	}
	for _, row := range rows {
		p.Credentials++
		c, keyID, err := kr.openCredential(row)
		switch {
		case err != nil:
			p.Failed++
			if failure == nil {
				failure = s.report(ctx, op, handle, row.ID, err)
			} else {
				_ = s.report(ctx, op, handle, row.ID, err)
			}
		case keyID != primary && check:
			p.Pending++
		case keyID != primary:
			err := s.inner.RenameCredential(ctx, handle, row.ID, kr.sealCredential(c).Name)
			if err != nil && !errors.Is(err, webauthnkit.ErrNotFound) {
				return err
			}
			if err == nil {
				p.Resealed++
			}
		}
	}
	return failure
}

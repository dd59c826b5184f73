package sealstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/webauthnkit/webauthnkit"
)

// CopyOptions configures Copy.
type CopyOptions struct {
	// After resumes an interrupted copy: the Cursor of the last progress
	// report. Default nil: from the first user.
	After []byte
	// PageSize: users per page of the source's ListUserHandles (1 to
	// webauthnkit.MaxUserHandlePage). Default 100.
	PageSize int
	// Progress, if set, is called after each page. Default nil.
	Progress func(CopyProgress)
}

// CopyProgress reports a Copy so far.
type CopyProgress struct {
	// Cursor is the handle of the last user copied: CopyOptions.After
	// resumes after it.
	Cursor []byte
	// Users and Credentials count what was written to the sealed store;
	// Skipped the users already there (a re-run).
	Users, Credentials, Skipped int
	// RecoveryCodesLost counts the users who had recovery codes: a store
	// hands out no code hashes, so they cannot be copied; those users need
	// new codes.
	RecoveryCodesLost int
	// Done is true in the last report of a copy that visited every user.
	Done bool
}

// Copy seals an existing store's accounts into a Store over another,
// empty one (new tables, another key prefix): the way to turn sealing on
// for data stored in clear, since a Store cannot open rows it did not
// write. It pages through from's users (from must declare
// Features().ListUserHandles) and writes each user (session epoch
// included) with its credentials through to. Users already in to are
// skipped, so a copy can be re-run or resumed (CopyOptions.After). Run it
// while nothing writes to from (sign-ups and logins stopped, or a
// snapshot), then switch the application to the sealed store and drop
// the clear one.
func Copy(ctx context.Context, from webauthnkit.CredentialStore, to *Store, opts CopyOptions) (CopyProgress, error) {
	const op = "Copy"
	p := CopyProgress{Cursor: bytes.Clone(opts.After)}
	l, ok := from.(webauthnkit.UserHandleLister)
	if !ok || !from.Features().ListUserHandles {
		return p, fail(op, errors.New("the source store does not declare Features().ListUserHandles"))
	}
	size := opts.PageSize
	if size == 0 {
		size = 100
	}
	if size < 1 || size > webauthnkit.MaxUserHandlePage {
		return p, fail(op, fmt.Errorf("PageSize %d not in 1 to %d", size, webauthnkit.MaxUserHandlePage))
	}
	for {
		page, err := l.ListUserHandles(ctx, p.Cursor, size)
		if err != nil {
			return p, fail(op, err)
		}
		for _, h := range page {
			if err := copyUser(ctx, from, to, h, &p); err != nil {
				return p, fail(op, err)
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
			return p, nil
		}
	}
}

func copyUser(ctx context.Context, from webauthnkit.CredentialStore, to *Store, handle []byte, p *CopyProgress) error {
	u, err := from.GetUserByHandle(ctx, handle)
	if errors.Is(err, webauthnkit.ErrNotFound) {
		return nil // deleted since it was listed
	}
	if err != nil {
		return err
	}
	if _, err := to.GetUserByHandle(ctx, handle); err == nil {
		p.Skipped++
		return nil
	} else if !errors.Is(err, webauthnkit.ErrNotFound) {
		return err
	}
	creds, err := from.ListCredentials(ctx, handle)
	if err != nil {
		return err
	}
	var first *webauthnkit.Credential
	if len(creds) > 0 {
		first = &creds[0]
	}
	if err := to.CreateUser(ctx, u, first); err != nil {
		return err
	}
	p.Users++
	if first != nil {
		p.Credentials++
	}
	for _, c := range creds[min(1, len(creds)):] {
		if err := to.AddCredential(ctx, c); err != nil {
			return err
		}
		p.Credentials++
	}
	n, err := from.RecoveryCodesLeft(ctx, handle)
	if err != nil {
		return err
	}
	if n > 0 {
		p.RecoveryCodesLost++
	}
	return nil
}

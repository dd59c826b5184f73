package storetest_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/memstore"
)

// Broken stores for the email and recovery-code clauses (issue 14),
// registered in mutations by init.

func init() {
	creds := func(f func(*memstore.Store) webauthnkit.CredentialStore, mustFail ...string) mutation {
		return mutation{creds: f, mustFail: mustFail}
	}
	codes := func(bug string, mustFail ...string) mutation {
		return creds(func(s *memstore.Store) webauthnkit.CredentialStore {
			return &brokenCodes{Store: s, bug: bug, codes: map[string]map[string]bool{}, setSize: map[string]int{}}
		}, mustFail...)
	}
	for name, m := range map[string]mutation{
		"email_dropped_on_create": creds(func(s *memstore.Store) webauthnkit.CredentialStore { return dropsEmail{s} },
			"Email/create_stores_email_and_verified_time"),
		"email_verified_time_truncated_to_ms": creds(func(s *memstore.Store) webauthnkit.CredentialStore { return truncatesVerifiedAt{s} },
			"Email/create_stores_email_and_verified_time", "SetEmail/sets"),
		"email_unverified_stored_as_epoch": creds(func(s *memstore.Store) webauthnkit.CredentialStore { return epochForZero{s} },
			"Email/create_unverified_stays_zero", "SetEmail/verified_and_unverified"),
		"email_not_unique_on_create": creds(func(s *memstore.Store) webauthnkit.CredentialStore { return acceptsDuplicateEmail{s} },
			"Email/create_duplicate_email"),
		"email_empty_is_an_address": creds(func(s *memstore.Store) webauthnkit.CredentialStore { return &emptyEmailIsAddress{Store: s} },
			"Email/empty_emails_never_collide", "GetUserByEmail/empty_string_not_found", "SetEmail/removes"),
		"email_case_insensitive": creds(func(s *memstore.Store) webauthnkit.CredentialStore { return foldsEmails{s} },
			"Email/compared_byte_for_byte"),
		"email_unknown_found": creds(func(s *memstore.Store) webauthnkit.CredentialStore { return unknownEmailFound{s} },
			"GetUserByEmail/not_found"),
		"set_email_drops_verified_time": creds(func(s *memstore.Store) webauthnkit.CredentialStore { return dropsVerifiedOnSet{s} },
			"SetEmail/sets", "SetEmail/verified_and_unverified"),
		"set_email_refuses_own_address": creds(func(s *memstore.Store) webauthnkit.CredentialStore { return refusesOwnEmail{s} },
			"SetEmail/verified_and_unverified"),
		"set_email_keeps_old_address_reserved": creds(func(s *memstore.Store) webauthnkit.CredentialStore { return &reservesOldEmails{Store: s} },
			"SetEmail/changes_and_frees_old_address"),
		"set_email_empty_ignored": creds(func(s *memstore.Store) webauthnkit.CredentialStore { return ignoresEmptyEmail{s} },
			"SetEmail/removes"),
		"set_email_changes_verified_time_on_refusal": creds(func(s *memstore.Store) webauthnkit.CredentialStore { return partialSetEmail{s} },
			"SetEmail/address_of_another_user"),
		"set_email_unknown_handle_ok": creds(func(s *memstore.Store) webauthnkit.CredentialStore { return setEmailUnknownOK{s} },
			"SetEmail/not_found"),
		"set_email_check_not_atomic": creds(func(s *memstore.Store) webauthnkit.CredentialStore { return &racySetEmail{Store: s} },
			"SetEmail/concurrent_same_free_address_one_winner"),
		"error_text_echoes_email": creds(func(s *memstore.Store) webauthnkit.CredentialStore { return echoesEmail{s} },
			"ErrorTexts/email"),

		"recovery_codes_left_counts_used":   codes("left_counts_set", "RecoveryCodes/set_use_count"),
		"recovery_codes_set_appends":        codes("appends", "RecoveryCodes/replace_invalidates_old_set"),
		"recovery_codes_clear_ignored":      codes("clear_noop", "RecoveryCodes/clear"),
		"recovery_code_not_consumed":        codes("not_consumed", "RecoveryCodes/use_once"),
		"recovery_code_of_any_user":         codes("any_user", "RecoveryCodes/unknown_code_or_user_not_found"),
		"recovery_codes_survive_delete":     codes("survive_delete", "RecoveryCodes/deleted_with_user"),
		"recovery_codes_unbounded":          codes("no_bounds", "RecoveryCodes/at_most_32_hashes_of_32_bytes"),
		"recovery_code_use_not_atomic":      codes("racy", "RecoveryCodes/concurrent_same_code_one_winner"),
		"recovery_code_use_rewrites_set":    codes("lost_update", "RecoveryCodes/concurrent_different_codes_all_succeed"),
		"recovery_codes_input_retained":     codes("retains", "RecoveryCodes/input_hashes_not_retained"),
		"recovery_codes_ignore_context":     codes("ignores_context", "ContextCanceled"),
		"error_text_echoes_recovery_hash":   codes("echoes_hash", "ErrorTexts/recovery_codes"),
		"recovery_codes_unknown_user_error": codes("left_unknown_errors", "RecoveryCodes/unknown_code_or_user_not_found"),
	} {
		if _, dup := mutations[name]; dup {
			panic("duplicate mutation " + name)
		}
		mutations[name] = m
	}
}

// dropsEmail forgets the email at creation, as an INSERT listing the
// columns known before issue 14 does.
type dropsEmail struct{ *memstore.Store }

func (s dropsEmail) CreateUser(ctx context.Context, u webauthnkit.User, c *webauthnkit.Credential) error {
	u.Email, u.EmailVerifiedAt = "", time.Time{}
	return s.Store.CreateUser(ctx, u, c)
}

// truncatesVerifiedAt keeps EmailVerifiedAt to the millisecond.
type truncatesVerifiedAt struct{ *memstore.Store }

func (s truncatesVerifiedAt) CreateUser(ctx context.Context, u webauthnkit.User, c *webauthnkit.Credential) error {
	u.EmailVerifiedAt = u.EmailVerifiedAt.Truncate(time.Millisecond)
	return s.Store.CreateUser(ctx, u, c)
}

func (s truncatesVerifiedAt) SetEmail(ctx context.Context, h []byte, email string, at time.Time) error {
	return s.Store.SetEmail(ctx, h, email, at.Truncate(time.Millisecond))
}

// epochForZero stores a zero time as the Unix epoch (a NOT NULL column
// with 0 in it).
type epochForZero struct{ *memstore.Store }

func epoch(t time.Time) time.Time {
	if t.IsZero() {
		return time.Unix(0, 0).UTC()
	}
	return t
}

func (s epochForZero) CreateUser(ctx context.Context, u webauthnkit.User, c *webauthnkit.Credential) error {
	u.EmailVerifiedAt = epoch(u.EmailVerifiedAt)
	return s.Store.CreateUser(ctx, u, c)
}

func (s epochForZero) SetEmail(ctx context.Context, h []byte, email string, at time.Time) error {
	return s.Store.SetEmail(ctx, h, email, epoch(at))
}

// acceptsDuplicateEmail stores a user whose address is taken, without it
// (a store without a unique index on the address).
type acceptsDuplicateEmail struct{ *memstore.Store }

func (s acceptsDuplicateEmail) CreateUser(ctx context.Context, u webauthnkit.User, c *webauthnkit.Credential) error {
	if _, err := s.Store.GetUserByEmail(ctx, u.Email); err == nil {
		u.Email = ""
	}
	return s.Store.CreateUser(ctx, u, c)
}

// emptyEmailIsAddress treats "" as an address like any other: the first
// user without one owns it.
type emptyEmailIsAddress struct {
	*memstore.Store
	mu    sync.Mutex
	owner []byte
}

func (s *emptyEmailIsAddress) claim(h []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.owner != nil && !bytes.Equal(s.owner, h) {
		return webauthnkit.ErrUserExists
	}
	s.owner = bytes.Clone(h)
	return nil
}

func (s *emptyEmailIsAddress) CreateUser(ctx context.Context, u webauthnkit.User, c *webauthnkit.Credential) error {
	if u.Email == "" {
		if err := s.claim(u.Handle); err != nil {
			return err
		}
	}
	return s.Store.CreateUser(ctx, u, c)
}

func (s *emptyEmailIsAddress) SetEmail(ctx context.Context, h []byte, email string, at time.Time) error {
	if email == "" {
		if err := s.claim(h); err != nil {
			return err
		}
	}
	return s.Store.SetEmail(ctx, h, email, at)
}

func (s *emptyEmailIsAddress) GetUserByEmail(ctx context.Context, email string) (webauthnkit.User, error) {
	s.mu.Lock()
	owner := s.owner
	s.mu.Unlock()
	if email == "" && owner != nil {
		return s.Store.GetUserByHandle(ctx, owner)
	}
	return s.Store.GetUserByEmail(ctx, email)
}

// foldsEmails compares addresses case-insensitively (a _ci collation).
type foldsEmails struct{ *memstore.Store }

func (s foldsEmails) GetUserByEmail(ctx context.Context, email string) (webauthnkit.User, error) {
	u, err := s.Store.GetUserByEmail(ctx, email)
	if errors.Is(err, webauthnkit.ErrNotFound) {
		if lu, lerr := s.Store.GetUserByEmail(ctx, strings.ToLower(email)); lerr == nil {
			return lu, nil
		}
	}
	return u, err
}

// unknownEmailFound answers a lookup that matched nothing with a zero user.
type unknownEmailFound struct{ *memstore.Store }

func (s unknownEmailFound) GetUserByEmail(ctx context.Context, email string) (webauthnkit.User, error) {
	u, err := s.Store.GetUserByEmail(ctx, email)
	if errors.Is(err, webauthnkit.ErrNotFound) {
		return webauthnkit.User{}, nil
	}
	return u, err
}

// dropsVerifiedOnSet stores every address set by SetEmail as unverified.
type dropsVerifiedOnSet struct{ *memstore.Store }

func (s dropsVerifiedOnSet) SetEmail(ctx context.Context, h []byte, email string, _ time.Time) error {
	return s.Store.SetEmail(ctx, h, email, time.Time{})
}

// reservesOldEmails never frees an address it has given out.
type reservesOldEmails struct {
	*memstore.Store
	mu  sync.Mutex
	old map[string]bool
}

func (s *reservesOldEmails) reserved(email string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.old[email]
}

func (s *reservesOldEmails) CreateUser(ctx context.Context, u webauthnkit.User, c *webauthnkit.Credential) error {
	if s.reserved(u.Email) {
		return webauthnkit.ErrUserExists
	}
	return s.Store.CreateUser(ctx, u, c)
}

func (s *reservesOldEmails) SetEmail(ctx context.Context, h []byte, email string, at time.Time) error {
	if s.reserved(email) {
		return webauthnkit.ErrUserExists
	}
	u, err := s.Store.GetUserByHandle(ctx, h)
	if err != nil {
		return err
	}
	if err := s.Store.SetEmail(ctx, h, email, at); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.old == nil {
		s.old = map[string]bool{}
	}
	if u.Email != "" && u.Email != email {
		s.old[u.Email] = true
	}
	return nil
}

// refusesOwnEmail finds the address "taken" by the user setting it.
type refusesOwnEmail struct{ *memstore.Store }

func (s refusesOwnEmail) SetEmail(ctx context.Context, h []byte, email string, at time.Time) error {
	if _, err := s.GetUserByEmail(ctx, email); err == nil {
		return webauthnkit.ErrUserExists
	}
	return s.Store.SetEmail(ctx, h, email, at)
}

// ignoresEmptyEmail treats SetEmail("") as "no change".
type ignoresEmptyEmail struct{ *memstore.Store }

func (s ignoresEmptyEmail) SetEmail(ctx context.Context, h []byte, email string, at time.Time) error {
	if email == "" {
		return nil
	}
	return s.Store.SetEmail(ctx, h, email, at)
}

// partialSetEmail writes the verified time before finding the address taken.
type partialSetEmail struct{ *memstore.Store }

func (s partialSetEmail) SetEmail(ctx context.Context, h []byte, email string, at time.Time) error {
	u, err := s.Store.GetUserByHandle(ctx, h)
	if err != nil {
		return err
	}
	if err := s.Store.SetEmail(ctx, h, u.Email, at); err != nil {
		return err
	}
	return s.Store.SetEmail(ctx, h, email, at)
}

// setEmailUnknownOK answers an UPDATE that matched no row with success.
type setEmailUnknownOK struct{ *memstore.Store }

func (s setEmailUnknownOK) SetEmail(ctx context.Context, h []byte, email string, at time.Time) error {
	if err := s.Store.SetEmail(ctx, h, email, at); !errors.Is(err, webauthnkit.ErrNotFound) {
		return err
	}
	return nil
}

// racySetEmail checks that the address is free, then sets it in a second
// step (the pause stands for a round trip): two concurrent claims of one
// free address both pass the check. It keeps the addresses it set itself,
// over the ones memstore stored at creation.
type racySetEmail struct {
	*memstore.Store
	mu  sync.Mutex
	set map[string]emailSet // by handle
}

type emailSet struct {
	email string
	at    time.Time
}

func (s *racySetEmail) override(u webauthnkit.User) webauthnkit.User {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.set[string(u.Handle)]; ok {
		u.Email, u.EmailVerifiedAt = e.email, e.at
	}
	return u
}

func (s *racySetEmail) SetEmail(ctx context.Context, h []byte, email string, at time.Time) error {
	if _, err := s.GetUserByHandle(ctx, h); err != nil {
		return err
	}
	if other, err := s.GetUserByEmail(ctx, email); err == nil && !bytes.Equal(other.Handle, h) {
		return webauthnkit.ErrUserExists
	}
	time.Sleep(time.Millisecond)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.set == nil {
		s.set = map[string]emailSet{}
	}
	if !at.IsZero() {
		at = at.UTC()
	}
	s.set[string(h)] = emailSet{email, at}
	return nil
}

func (s *racySetEmail) GetUserByHandle(ctx context.Context, h []byte) (webauthnkit.User, error) {
	u, err := s.Store.GetUserByHandle(ctx, h)
	if err != nil {
		return u, err
	}
	return s.override(u), nil
}

func (s *racySetEmail) GetUserByName(ctx context.Context, name string) (webauthnkit.User, error) {
	u, err := s.Store.GetUserByName(ctx, name)
	if err != nil {
		return u, err
	}
	return s.override(u), nil
}

func (s *racySetEmail) GetUserByEmail(ctx context.Context, email string) (webauthnkit.User, error) {
	s.mu.Lock()
	var handle []byte
	for h, e := range s.set {
		if e.email == email && email != "" {
			handle = []byte(h)
			break
		}
	}
	s.mu.Unlock()
	if handle != nil {
		return s.GetUserByHandle(ctx, handle)
	}
	u, err := s.Store.GetUserByEmail(ctx, email)
	if err == nil && s.override(u).Email != email {
		return webauthnkit.User{}, webauthnkit.ErrNotFound // moved away
	}
	return u, err
}

// echoesEmail passes on a driver-style duplicate message quoting the
// address.
type echoesEmail struct{ *memstore.Store }

func (s echoesEmail) CreateUser(ctx context.Context, u webauthnkit.User, c *webauthnkit.Credential) error {
	err := s.Store.CreateUser(ctx, u, c)
	if errors.Is(err, webauthnkit.ErrUserExists) && u.Email != "" {
		return fmt.Errorf("%w: Key (email)=(%s) already exists", err, u.Email)
	}
	return err
}

func (s echoesEmail) SetEmail(ctx context.Context, h []byte, email string, at time.Time) error {
	err := s.Store.SetEmail(ctx, h, email, at)
	if errors.Is(err, webauthnkit.ErrUserExists) {
		return fmt.Errorf("%w: Key (email)=(%s) already exists", err, email)
	}
	return err
}

// brokenCodes keeps recovery codes itself, over memstore's users, with the
// one bug its name says.
type brokenCodes struct {
	*memstore.Store
	bug     string
	mu      sync.Mutex
	codes   map[string]map[string]bool // handle → hashes
	setSize map[string]int             // handle → size of the last set
	kept    map[string][][]byte        // handle → the caller's slices ("retains")
}

func (s *brokenCodes) SetRecoveryCodes(ctx context.Context, h []byte, hashes [][]byte) error {
	if err := ctx.Err(); err != nil && s.bug != "ignores_context" {
		return err
	}
	if s.bug != "no_bounds" {
		if len(hashes) > webauthnkit.MaxRecoveryCodes {
			return errors.New("too many")
		}
		for _, x := range hashes {
			if len(x) != webauthnkit.RecoveryCodeHashSize {
				return errors.New("wrong size")
			}
		}
	}
	if _, err := s.Store.GetUserByHandle(context.WithoutCancel(ctx), h); err != nil {
		return err
	}
	if len(hashes) == 0 && s.bug == "clear_noop" {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	set := map[string]bool{}
	if s.bug == "appends" {
		for x := range s.codes[string(h)] {
			set[x] = true
		}
	}
	for _, x := range hashes {
		set[string(x)] = true
	}
	s.codes[string(h)] = set
	s.setSize[string(h)] = len(set)
	if s.bug == "retains" {
		if s.kept == nil {
			s.kept = map[string][][]byte{}
		}
		s.kept[string(h)] = hashes
	}
	return nil
}

func (s *brokenCodes) UseRecoveryCode(ctx context.Context, h []byte, hash []byte) error {
	if err := ctx.Err(); err != nil && s.bug != "ignores_context" {
		return err
	}
	var notFound error = webauthnkit.ErrNotFound
	if s.bug == "echoes_hash" {
		notFound = fmt.Errorf("%w: no code %x", webauthnkit.ErrNotFound, hash)
	}
	s.mu.Lock()
	set := s.codes[string(h)]
	if s.bug == "retains" {
		set = map[string]bool{}
		for _, x := range s.kept[string(h)] {
			set[string(x)] = true
		}
		found := set[string(hash)]
		if found {
			for i, x := range s.kept[string(h)] {
				if string(x) == string(hash) {
					s.kept[string(h)] = append(s.kept[string(h)][:i:i], s.kept[string(h)][i+1:]...)
					break
				}
			}
		}
		s.mu.Unlock()
		if !found {
			return notFound
		}
		return nil
	}
	if s.bug == "any_user" && !set[string(hash)] {
		for _, other := range s.codes {
			if other[string(hash)] {
				set = other
			}
		}
	}
	if !set[string(hash)] {
		s.mu.Unlock()
		return notFound
	}
	switch s.bug {
	case "not_consumed":
	case "racy":
		s.mu.Unlock()
		time.Sleep(time.Millisecond)
		s.mu.Lock()
		delete(set, string(hash))
	case "lost_update":
		cp := make(map[string]bool, len(set))
		for x := range set {
			cp[x] = true
		}
		s.mu.Unlock()
		time.Sleep(time.Millisecond)
		delete(cp, string(hash))
		s.mu.Lock()
		s.codes[string(h)] = cp
	default:
		delete(set, string(hash))
	}
	s.mu.Unlock()
	return nil
}

func (s *brokenCodes) RecoveryCodesLeft(ctx context.Context, h []byte) (int, error) {
	if err := ctx.Err(); err != nil && s.bug != "ignores_context" {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	set, ok := s.codes[string(h)]
	if !ok && s.bug == "left_unknown_errors" {
		if _, err := s.Store.GetUserByHandle(ctx, h); err != nil {
			return 0, err
		}
	}
	if s.bug == "left_counts_set" {
		return s.setSize[string(h)], nil
	}
	return len(set), nil
}

func (s *brokenCodes) DeleteUser(ctx context.Context, h []byte) error {
	if err := s.Store.DeleteUser(ctx, h); err != nil {
		return err
	}
	if s.bug != "survive_delete" {
		s.mu.Lock()
		delete(s.codes, string(h))
		s.mu.Unlock()
	}
	return nil
}

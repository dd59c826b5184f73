package sealstore

import (
	"bytes"
	"context"
	"errors"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"

	"github.com/webauthnkit/webauthnkit"
)

// Config configures a Store.
type Config struct {
	// Keyring holds the sealing keys and the blind-index key. Required (no
	// default): see LoadKeyringFile, KeyringFromEnv and OpenWrappedKeyring.
	Keyring *Keyring
	// OnTamper, if set, is called (synchronously, before the failing call
	// returns) each time a stored value fails to open: ErrTampered or
	// ErrKeyMissing. Use it to alert: a database writer may be at work.
	// Default nil (nothing is called; the error is still returned).
	OnTamper func(context.Context, Tamper)
}

// Tamper describes a stored value that failed to open. It carries no
// stored value, only identifiers.
type Tamper struct {
	// Op is the Store method that read the value ("GetCredential").
	Op string
	// UserHandle and CredentialID name the row (CredentialID is nil for a
	// user's value; UserHandle may be nil when a lookup by name or email
	// hit a row whose value did not match).
	UserHandle   []byte
	CredentialID []byte
	// Err is the error returned (matches ErrTampered or ErrKeyMissing).
	Err error
}

// Store seals the values of a wrapped webauthnkit.CredentialStore. It is a
// CredentialStore itself, and forwards the wrapped store's
// CredentialUserGetter and UserHandleLister when the wrapped store declares
// them (Features says which). Safe for concurrent use.
type Store struct {
	inner    webauthnkit.CredentialStore
	join     webauthnkit.CredentialUserGetter
	lister   webauthnkit.UserHandleLister
	auditor  webauthnkit.CredentialAuditor
	ring     atomic.Pointer[Keyring]
	onTamper func(context.Context, Tamper)

	// locks serialise this process's read-modify-write of one user's
	// sealed values (UpdateUser, SetEmail, RenameCredential, Rekey), by a
	// hash of the handle.
	seed  maphash.Seed
	locks [64]sync.Mutex
}

var (
	_ webauthnkit.CredentialStore      = (*Store)(nil)
	_ webauthnkit.CredentialUserGetter = (*Store)(nil)
	_ webauthnkit.UserHandleLister     = (*Store)(nil)
	_ webauthnkit.CredentialAuditor    = (*Store)(nil)
)

// New wraps inner. Values written through the Store are sealed with
// cfg.Keyring's primary key; the wrapped store must hold only values
// written through a Store (a row written around it fails to open:
// ErrTampered).
func New(inner webauthnkit.CredentialStore, cfg Config) (*Store, error) {
	if inner == nil {
		return nil, errors.New("sealstore: New: nil CredentialStore")
	}
	if cfg.Keyring == nil {
		return nil, errors.New("sealstore: New: Config.Keyring is required")
	}
	s := &Store{inner: inner, onTamper: cfg.OnTamper, seed: maphash.MakeSeed()}
	f := inner.Features()
	if g, ok := inner.(webauthnkit.CredentialUserGetter); ok && f.CredentialWithUser {
		s.join = g
	}
	if l, ok := inner.(webauthnkit.UserHandleLister); ok && f.ListUserHandles {
		s.lister = l
	}
	if a, ok := inner.(webauthnkit.CredentialAuditor); ok && f.Audit {
		s.auditor = a
	}
	s.ring.Store(cfg.Keyring)
	return s, nil
}

// SetKeyring replaces the keyring: calls that start afterwards seal with
// its primary key and open values sealed with any of its keys. Rotation:
// SetKeyring with the new key first and the old one kept, Rekey, then
// SetKeyring without the old key. The blind-index key must stay the same
// (a new one needs a rebuild: see the package documentation); SetKeyring
// refuses another one.
func (s *Store) SetKeyring(kr *Keyring) error {
	if kr == nil {
		return errors.New("sealstore: SetKeyring: nil Keyring")
	}
	if !bytes.Equal(kr.index, s.ring.Load().index) {
		return errors.New("sealstore: SetKeyring: the index key differs: lookups by name and email would miss every user")
	}
	s.ring.Store(kr)
	return nil
}

// Keyring returns the keyring in use.
func (s *Store) Keyring() *Keyring { return s.ring.Load() }

// Unwrap returns the wrapped store.
func (s *Store) Unwrap() webauthnkit.CredentialStore { return s.inner }

// Features forwards the wrapped store's declaration of what the Store
// really forwards: ProcessLocal as declared; CredentialWithUser,
// ListUserHandles and Audit when the wrapped store declares and implements
// them.
func (s *Store) Features() webauthnkit.Features {
	return webauthnkit.Features{
		ProcessLocal:       s.inner.Features().ProcessLocal,
		CredentialWithUser: s.join != nil,
		ListUserHandles:    s.lister != nil,
		Audit:              s.auditor != nil,
	}
}

func (s *Store) lock(handle []byte) func() {
	m := &s.locks[maphash.Bytes(s.seed, handle)%uint64(len(s.locks))]
	m.Lock()
	return m.Unlock
}

// report calls OnTamper for an integrity failure and returns err prefixed.
func (s *Store) report(ctx context.Context, op string, handle, id []byte, err error) error {
	if s.onTamper != nil && (errors.Is(err, ErrTampered) || errors.Is(err, ErrKeyMissing)) {
		s.onTamper(ctx, Tamper{Op: op, UserHandle: bytes.Clone(handle), CredentialID: bytes.Clone(id), Err: err})
	}
	return fail(op, err)
}

// openUserRow opens a user row with kr, the keyring loaded before the row
// was read; if the row names a key kr lacks and the keyring has changed
// since (a rotation in progress), it tries the current one. Loading the
// ring before the read keeps a retired key usable for rows read before
// the retirement; the retry covers rows sealed with a key added after kr
// was loaded.
func (s *Store) openUserRow(kr *Keyring, row webauthnkit.User) (webauthnkit.User, userRecord, string, error) {
	u, rec, id, err := kr.openUser(row)
	if err != nil && errors.Is(err, ErrKeyMissing) {
		if cur := s.ring.Load(); cur != kr {
			return cur.openUser(row)
		}
	}
	return u, rec, id, err
}

// openCredentialRow is openUserRow for a credential row.
func (s *Store) openCredentialRow(kr *Keyring, row webauthnkit.Credential) (webauthnkit.Credential, string, error) {
	c, id, err := kr.openCredential(row)
	if err != nil && errors.Is(err, ErrKeyMissing) {
		if cur := s.ring.Load(); cur != kr {
			return cur.openCredential(row)
		}
	}
	return c, id, err
}

// ---- users ----

// sealUser returns the row stored for u: blind indexes in the name and
// email columns, the record sealed in the display-name column.
func (kr *Keyring) sealUser(u webauthnkit.User, rec userRecord) webauthnkit.User {
	out := u
	out.Name = kr.blindIndex("name", rec.Name)
	out.Email = ""
	if u.Email != "" {
		out.Email = kr.blindIndex("email", u.Email)
	}
	out.DisplayName = kr.sealText(rec.encode(), userAAD(u.Handle))
	return out
}

// openUser returns the user a stored row holds, the record and the ID of
// the key it was sealed with.
func (kr *Keyring) openUser(row webauthnkit.User) (webauthnkit.User, userRecord, string, error) {
	if row.DisplayName == "" {
		return webauthnkit.User{}, userRecord{}, "", errMissing
	}
	plain, keyID, err := kr.openText(row.DisplayName, userAAD(row.Handle))
	if err != nil {
		return webauthnkit.User{}, userRecord{}, keyID, err
	}
	rec, err := decodeUserRecord(plain)
	if err != nil {
		return webauthnkit.User{}, userRecord{}, keyID, err
	}
	if !kr.blindIndexEqual("name", rec.Name, row.Name) {
		return webauthnkit.User{}, userRecord{}, keyID, errMismatch
	}
	u := row
	u.Name = rec.Name
	u.DisplayName = rec.DisplayName
	u.Email = ""
	if row.Email != "" {
		found := false
		for _, e := range rec.Emails {
			if kr.blindIndexEqual("email", e, row.Email) {
				u.Email, found = e, true
				break
			}
		}
		if !found {
			return webauthnkit.User{}, userRecord{}, keyID, errMismatch
		}
	}
	return u, rec, keyID, nil
}

func emailsOf(email string) []string {
	if email == "" {
		return nil
	}
	return []string{email}
}

func (s *Store) CreateUser(ctx context.Context, user webauthnkit.User, first *webauthnkit.Credential) error {
	const op = "CreateUser"
	if err := ctx.Err(); err != nil {
		return fail(op, err)
	}
	kr := s.ring.Load()
	row := kr.sealUser(user, userRecord{Name: user.Name, DisplayName: user.DisplayName, Emails: emailsOf(user.Email)})
	var c *webauthnkit.Credential
	if first != nil {
		sc := kr.sealCredential(*first)
		c = &sc
	}
	return fail(op, s.inner.CreateUser(ctx, row, c))
}

func (s *Store) GetUserByHandle(ctx context.Context, handle []byte) (webauthnkit.User, error) {
	const op = "GetUserByHandle"
	kr := s.ring.Load()
	row, err := s.inner.GetUserByHandle(ctx, handle)
	if err != nil {
		return webauthnkit.User{}, fail(op, err)
	}
	u, _, _, err := s.openUserRow(kr, row)
	if err != nil {
		return webauthnkit.User{}, s.report(ctx, op, row.Handle, nil, err)
	}
	return u, nil
}

func (s *Store) GetUserByName(ctx context.Context, name string) (webauthnkit.User, error) {
	const op = "GetUserByName"
	return s.lookupUser(ctx, op, "name", name, s.inner.GetUserByName, func(u webauthnkit.User) string { return u.Name })
}

func (s *Store) GetUserByEmail(ctx context.Context, email string) (webauthnkit.User, error) {
	const op = "GetUserByEmail"
	if err := ctx.Err(); err != nil {
		return webauthnkit.User{}, fail(op, err)
	}
	if email == "" {
		return webauthnkit.User{}, fail(op, webauthnkit.ErrNotFound)
	}
	return s.lookupUser(ctx, op, "email", email, s.inner.GetUserByEmail, func(u webauthnkit.User) string { return u.Email })
}

// lookupUser finds a user by the blind index of value in field, opens the
// row and checks that the sealed value is the one looked up (a row whose
// index was copied from another fails closed).
func (s *Store) lookupUser(ctx context.Context, op, field, value string,
	get func(context.Context, string) (webauthnkit.User, error), sealed func(webauthnkit.User) string) (webauthnkit.User, error) {
	kr := s.ring.Load()
	row, err := get(ctx, kr.blindIndex(field, value))
	if err != nil {
		return webauthnkit.User{}, fail(op, err)
	}
	u, _, _, err := s.openUserRow(kr, row)
	if err == nil && sealed(u) != value {
		err = errMismatch
	}
	if err != nil {
		return webauthnkit.User{}, s.report(ctx, op, row.Handle, nil, err)
	}
	return u, nil
}

// readUser reads and opens a user for a read-modify-write (lock held).
func (s *Store) readUser(ctx context.Context, op string, handle []byte) (webauthnkit.User, webauthnkit.User, error) {
	kr := s.ring.Load()
	row, err := s.inner.GetUserByHandle(ctx, handle)
	if err != nil {
		return row, webauthnkit.User{}, fail(op, err)
	}
	u, _, _, err := s.openUserRow(kr, row)
	if err != nil {
		return row, u, s.report(ctx, op, handle, nil, err)
	}
	return row, u, nil
}

// UpdateUser reads the user (to keep its sealed email), then writes the
// new name's blind index and the re-sealed record in one call of the
// wrapped store's UpdateUser, which decides ErrUserExists atomically.
func (s *Store) UpdateUser(ctx context.Context, handle []byte, name, displayName string) error {
	const op = "UpdateUser"
	if err := ctx.Err(); err != nil {
		return fail(op, err)
	}
	defer s.lock(handle)()
	_, u, err := s.readUser(ctx, op, handle)
	if err != nil {
		return err
	}
	kr := s.ring.Load()
	u.Name, u.DisplayName = name, displayName
	row := kr.sealUser(u, userRecord{Name: name, DisplayName: displayName, Emails: emailsOf(u.Email)})
	return fail(op, s.inner.UpdateUser(ctx, handle, row.Name, row.DisplayName))
}

// SetEmail seals the new address into the user's record (beside the
// current one), then sets the blind index with the wrapped store's SetEmail
// (which decides uniqueness atomically), then drops the address that lost.
// A crash between the steps leaves both addresses sealed; reads pick the
// one the index column names.
func (s *Store) SetEmail(ctx context.Context, handle []byte, email string, verifiedAt time.Time) error {
	const op = "SetEmail"
	if err := ctx.Err(); err != nil {
		return fail(op, err)
	}
	defer s.lock(handle)()
	_, u, err := s.readUser(ctx, op, handle)
	if err != nil {
		return err
	}
	kr := s.ring.Load()
	rec := userRecord{Name: u.Name, DisplayName: u.DisplayName, Emails: emailsOf(u.Email)}
	write := func(rec userRecord) error {
		row := kr.sealUser(u, rec)
		return s.inner.UpdateUser(ctx, handle, row.Name, row.DisplayName)
	}
	if email != "" && email != u.Email {
		both := rec
		both.Emails = append(emailsOf(u.Email), email)
		if err := write(both); err != nil {
			return fail(op, err)
		}
	}
	index := ""
	if email != "" {
		index = kr.blindIndex("email", email)
	}
	if err := s.inner.SetEmail(ctx, handle, index, verifiedAt); err != nil {
		if email != "" && email != u.Email {
			// Drop the address that lost (best effort: reads ignore it).
			_ = write(rec)
		}
		return fail(op, err)
	}
	if email != u.Email {
		rec.Emails = emailsOf(email)
		if err := write(rec); err != nil {
			return fail(op, err)
		}
	}
	return nil
}

func (s *Store) DeleteUser(ctx context.Context, handle []byte) error {
	return fail("DeleteUser", s.inner.DeleteUser(ctx, handle))
}

func (s *Store) EndSessions(ctx context.Context, userHandle []byte) (uint64, error) {
	epoch, err := s.inner.EndSessions(ctx, userHandle)
	return epoch, fail("EndSessions", err)
}

// Recovery codes are keyed hashes already (the library never stores a
// code): forwarded unchanged.

func (s *Store) SetRecoveryCodes(ctx context.Context, handle []byte, hashes [][]byte) error {
	return fail("SetRecoveryCodes", s.inner.SetRecoveryCodes(ctx, handle, hashes))
}

func (s *Store) UseRecoveryCode(ctx context.Context, handle []byte, hash []byte) error {
	return fail("UseRecoveryCode", s.inner.UseRecoveryCode(ctx, handle, hash))
}

func (s *Store) RecoveryCodesLeft(ctx context.Context, handle []byte) (int, error) {
	n, err := s.inner.RecoveryCodesLeft(ctx, handle)
	return n, fail("RecoveryCodesLeft", err)
}

// ListUserHandles forwards to the wrapped store (handles are stored in
// clear); webauthnkit.ErrInternal-free error if it does not declare it.
func (s *Store) ListUserHandles(ctx context.Context, after []byte, limit int) ([][]byte, error) {
	if s.lister == nil {
		return nil, fail("ListUserHandles", errNoLister)
	}
	hs, err := s.lister.ListUserHandles(ctx, after, limit)
	return hs, fail("ListUserHandles", err)
}

var errNoLister = errors.New("the wrapped store does not declare Features().ListUserHandles")

// ---- credentials ----

// sealCredential returns the row stored for c: the private fields sealed
// into the name column (bound to the ID, owner, public key and immutable
// flags), their own columns empty.
func (kr *Keyring) sealCredential(c webauthnkit.Credential) webauthnkit.Credential {
	rec := credentialRecord{
		Name:              c.Name,
		AAGUID:            c.AAGUID,
		AttestationFormat: c.AttestationFormat,
		Transports:        c.Transports,
		Attachment:        c.Attachment,

		AttestationObject:         c.AttestationObject,
		AttestationClientDataHash: c.AttestationClientDataHash,
	}
	out := c
	out.AAGUID = nil
	out.AttestationFormat = ""
	out.Transports = nil
	out.Attachment = ""
	out.AttestationObject = nil
	out.AttestationClientDataHash = nil
	out.Name = kr.sealText(rec.encode(), credentialAAD(&c))
	return out
}

// openCredential returns the credential a stored row holds and the ID of
// the key its record was sealed with.
func (kr *Keyring) openCredential(row webauthnkit.Credential) (webauthnkit.Credential, string, error) {
	if row.Name == "" {
		return webauthnkit.Credential{}, "", errMissing
	}
	plain, keyID, err := kr.openText(row.Name, credentialAAD(&row))
	if err != nil {
		return webauthnkit.Credential{}, keyID, err
	}
	rec, err := decodeCredentialRecord(plain)
	if err != nil {
		return webauthnkit.Credential{}, keyID, err
	}
	c := row
	c.Name = rec.Name
	c.AAGUID = rec.AAGUID
	c.AttestationFormat = rec.AttestationFormat
	c.Transports = rec.Transports
	c.Attachment = rec.Attachment
	c.AttestationObject = rec.AttestationObject
	c.AttestationClientDataHash = rec.AttestationClientDataHash
	return c, keyID, nil
}

func (s *Store) AddCredential(ctx context.Context, cred webauthnkit.Credential) error {
	const op = "AddCredential"
	if err := ctx.Err(); err != nil {
		return fail(op, err)
	}
	return fail(op, s.inner.AddCredential(ctx, s.ring.Load().sealCredential(cred)))
}

func (s *Store) GetCredential(ctx context.Context, id []byte) (webauthnkit.Credential, error) {
	const op = "GetCredential"
	kr := s.ring.Load()
	row, err := s.inner.GetCredential(ctx, id)
	if err != nil {
		return webauthnkit.Credential{}, fail(op, err)
	}
	c, _, err := s.openCredentialRow(kr, row)
	if err == nil && !bytes.Equal(c.ID, id) {
		err = errMismatch
	}
	if err != nil {
		return webauthnkit.Credential{}, s.report(ctx, op, row.UserHandle, row.ID, err)
	}
	return c, nil
}

// GetCredentialWithUser forwards to the wrapped store's (when Features
// declares it) and opens both values.
func (s *Store) GetCredentialWithUser(ctx context.Context, id []byte) (webauthnkit.Credential, webauthnkit.User, error) {
	const op = "GetCredentialWithUser"
	if s.join == nil {
		return webauthnkit.Credential{}, webauthnkit.User{}, fail(op, errors.New("the wrapped store does not declare Features().CredentialWithUser"))
	}
	kr := s.ring.Load()
	row, urow, err := s.join.GetCredentialWithUser(ctx, id)
	if err != nil {
		return webauthnkit.Credential{}, webauthnkit.User{}, fail(op, err)
	}
	c, _, err := s.openCredentialRow(kr, row)
	if err == nil && (!bytes.Equal(c.ID, id) || !bytes.Equal(urow.Handle, c.UserHandle)) {
		err = errMismatch
	}
	if err != nil {
		return webauthnkit.Credential{}, webauthnkit.User{}, s.report(ctx, op, row.UserHandle, row.ID, err)
	}
	u, _, _, err := s.openUserRow(kr, urow)
	if err != nil {
		return webauthnkit.Credential{}, webauthnkit.User{}, s.report(ctx, op, urow.Handle, nil, err)
	}
	return c, u, nil
}

// ListCredentials opens every credential; one that fails makes the whole
// call fail (closed), naming it to OnTamper.
func (s *Store) ListCredentials(ctx context.Context, userHandle []byte) ([]webauthnkit.Credential, error) {
	const op = "ListCredentials"
	kr := s.ring.Load()
	rows, err := s.inner.ListCredentials(ctx, userHandle)
	if err != nil {
		return nil, fail(op, err)
	}
	for i, row := range rows {
		c, _, err := s.openCredentialRow(kr, row)
		if err == nil && !bytes.Equal(c.UserHandle, userHandle) {
			err = errMismatch
		}
		if err != nil {
			return nil, s.report(ctx, op, row.UserHandle, row.ID, err)
		}
		rows[i] = c
	}
	return rows, nil
}

// UpdateCredentialUse is forwarded: the counter, flags and times it writes
// are stored in clear (the counter is a compare-and-set).
func (s *Store) UpdateCredentialUse(ctx context.Context, id []byte, expectedSignCount uint32, use webauthnkit.CredentialUse) error {
	return fail("UpdateCredentialUse", s.inner.UpdateCredentialUse(ctx, id, expectedSignCount, use))
}

// RenameCredential re-seals the credential's record with the new name.
func (s *Store) RenameCredential(ctx context.Context, userHandle, id []byte, name string) error {
	const op = "RenameCredential"
	if err := ctx.Err(); err != nil {
		return fail(op, err)
	}
	defer s.lock(userHandle)()
	kr := s.ring.Load()
	row, err := s.inner.GetCredential(ctx, id)
	if err != nil {
		return fail(op, err)
	}
	if !bytes.Equal(row.UserHandle, userHandle) {
		return fail(op, webauthnkit.ErrNotFound)
	}
	c, _, err := s.openCredentialRow(kr, row)
	if err != nil {
		return s.report(ctx, op, row.UserHandle, row.ID, err)
	}
	c.Name = name
	return fail(op, s.inner.RenameCredential(ctx, userHandle, id, s.ring.Load().sealCredential(c).Name))
}

func (s *Store) DeleteCredential(ctx context.Context, userHandle, id []byte, allowLast bool) error {
	return fail("DeleteCredential", s.inner.DeleteCredential(ctx, userHandle, id, allowLast))
}

// ScanCredentials forwards to the wrapped store's CredentialAuditor (when
// Features declares it) and opens each credential; one that fails to open
// fails the page (reported to OnTamper), as in ListCredentials. The cursor
// is the wrapped store's.
func (s *Store) ScanCredentials(ctx context.Context, cursor string, limit int) ([]webauthnkit.Credential, string, error) {
	const op = "ScanCredentials"
	if s.auditor == nil {
		return nil, "", fail(op, errNoAuditor)
	}
	kr := s.ring.Load()
	rows, next, err := s.auditor.ScanCredentials(ctx, cursor, limit)
	if err != nil {
		return nil, "", fail(op, err)
	}
	for i, row := range rows {
		c, _, err := s.openCredentialRow(kr, row)
		if err != nil {
			return nil, "", s.report(ctx, op, row.UserHandle, row.ID, err)
		}
		rows[i] = c
	}
	return rows, next, nil
}

// SetCredentialAudit forwards: the audit state (trust, times, quarantine
// reason) is stored in clear, since the wrapped store writes it as one
// atomic step and reads of a quarantine must not need a key.
func (s *Store) SetCredentialAudit(ctx context.Context, id []byte, audit webauthnkit.CredentialAudit) error {
	if s.auditor == nil {
		return fail("SetCredentialAudit", errNoAuditor)
	}
	return fail("SetCredentialAudit", s.auditor.SetCredentialAudit(ctx, id, audit))
}

var errNoAuditor = errors.New("the wrapped store does not declare Features().Audit")

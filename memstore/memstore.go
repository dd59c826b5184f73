// Package memstore is an in-memory webauthnkit.CredentialStore and
// webauthnkit.ChallengeStore.
//
// It is meant for tests, demos and single-process applications: every user,
// credential and ceremony lives in the memory of the process and is lost on
// restart, and two processes never see each other's data. Use sqlstore or
// redisstore (or another shared store) as soon as more than one process
// serves the same users.
//
// One *Store implements both interfaces:
//
//	store, err := memstore.New()
//	if err != nil { ... }
//	defer store.Close()
//	rp, err := webauthnkit.New(webauthnkit.Config{
//		RPID:        "localhost",
//		Origins:     []string{"http://localhost:8080"},
//		Credentials: store,
//		Ceremonies:  store,
//	})
//
// It declares Features{ProcessLocal: true, CredentialWithUser: true,
// Audit: true} (webauthnkit.CredentialAuditor, for audits: audit.go): with
// memstore as both stores, webauthnkit.Config.Secret may be left unset (a
// random one per process is then made).
//
// A Store is safe for concurrent use. It copies every byte slice passed in
// and every slice it returns, so callers may reuse their buffers and own what
// they get back. Expired ceremonies are never returned and are removed by a
// background sweeper (see WithSweepInterval); Close stops it.
//
// Errors are prefixed "memstore: <method>:" and wrap the webauthnkit
// sentinels (ErrNotFound, ErrUserExists, ErrCredentialExists, ErrDuplicate,
// ErrConflict, ErrLastCredential) or the context's error, so errors.Is
// works on them. A full ceremony table (WithMaxCeremonies) wraps
// ErrStoreUnavailable; nothing else does.
//
// The three backends have one shape: New(<what the backend needs>,
// opts ...Option) (*Store, error), With* options, Features, and a Close
// that releases only what the Store started (see docs/backends.md).
package memstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/webauthnkit/webauthnkit"
)

// DefaultSweepInterval is how often the sweeper removes expired ceremonies
// unless WithSweepInterval says otherwise.
const DefaultSweepInterval = time.Minute

var (
	_ webauthnkit.CredentialStore      = (*Store)(nil)
	_ webauthnkit.CredentialUserGetter = (*Store)(nil)
	_ webauthnkit.CredentialAuditor    = (*Store)(nil)
	_ webauthnkit.ChallengeStore       = (*Store)(nil)
)

// errHandleMismatch is returned by CreateUser when the first credential does
// not belong to the user being created: a programming error in the caller.
var errHandleMismatch = errors.New("first.UserHandle differs from user.Handle")

// Option configures New. The options of the three backends (memstore,
// sqlstore, redisstore) have the same shape: With* functions over an
// unexported options struct.
type Option func(*options)

type options struct {
	sweepInterval time.Duration
	now           func() time.Time
	maxCeremonies int
}

// DefaultMaxCeremonies is how many ceremonies may be in flight at once
// unless WithMaxCeremonies says otherwise: about 100 MB of memory at most.
const DefaultMaxCeremonies = 100_000

// WithMaxCeremonies caps the ceremonies in flight (default
// DefaultMaxCeremonies). Every Begin* stores one for the ceremony's TTL, so
// without a cap a flood of begin requests would grow memory without bound.
// When the cap is reached PutCeremony first drops expired ceremonies (at
// most once a second), then fails with an error wrapping
// webauthnkit.ErrStoreUnavailable (the HTTP adapter answers 503). Zero keeps
// the default; New refuses a negative value.
func WithMaxCeremonies(n int) Option {
	return func(o *options) { o.maxCeremonies = n }
}

// WithSweepInterval sets how often the background sweeper removes expired
// ceremonies (default DefaultSweepInterval). Zero keeps the default; New
// refuses a negative value. Expired ceremonies are never returned whatever
// the interval: the sweeper only bounds memory.
func WithSweepInterval(d time.Duration) Option {
	return func(o *options) { o.sweepInterval = d }
}

// WithClock sets the clock used to decide whether a ceremony has expired
// (default time.Now). If you give webauthnkit.Config.Now a clock, give the
// store the same one. A nil function keeps the default.
func WithClock(now func() time.Time) Option {
	return func(o *options) { o.now = now }
}

// newOptions applies opts over the defaults and checks the result.
func newOptions(opts []Option) (options, error) {
	var o options
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	switch {
	case o.maxCeremonies < 0:
		return o, fmt.Errorf("memstore: New: WithMaxCeremonies(%d): the cap must not be negative", o.maxCeremonies)
	case o.sweepInterval < 0:
		return o, fmt.Errorf("memstore: New: WithSweepInterval(%v): the interval must not be negative", o.sweepInterval)
	}
	if o.maxCeremonies == 0 {
		o.maxCeremonies = DefaultMaxCeremonies
	}
	if o.sweepInterval == 0 {
		o.sweepInterval = DefaultSweepInterval
	}
	if o.now == nil {
		o.now = time.Now
	}
	return o, nil
}

// Store is an in-memory credential and ceremony store. Build it with New and
// stop its sweeper with Close. The zero value is not usable.
type Store struct {
	st *state
}

// state is everything the sweeper goroutine needs. It never points back to
// the Store, so a Store that is dropped without Close becomes unreachable and
// its cleanup stops the sweeper.
type state struct {
	now func() time.Time

	mu    sync.RWMutex
	users map[string]*user                   // by string(Handle)
	names map[string]*user                   // by Name
	email map[string]*user                   // by Email, for users that have one
	creds map[string]*webauthnkit.Credential // by string(ID)

	cmu           sync.Mutex
	ceremonies    map[string]ceremony
	maxCeremonies int
	lastFullSweep time.Time // when PutCeremony last swept because the cap was reached

	stopOnce sync.Once
	stop     chan struct{}
	done     chan struct{}
}

type user struct {
	u webauthnkit.User
	// creds is the user's credentials ordered by CreatedAt, then ID: the
	// order ListCredentials returns. Shared with state.creds.
	creds []*webauthnkit.Credential
	// recoveryCodes holds the hashes of the unused recovery codes.
	recoveryCodes map[string]struct{}
}

type ceremony struct {
	data      []byte
	expiresAt time.Time
}

// New returns an empty Store and starts its sweeper goroutine. Call Close
// when done with it. It fails only on an invalid option (a negative cap or
// interval): it returns an error, like sqlstore.New and redisstore.New, so
// that the three backends are built the same way.
func New(opts ...Option) (*Store, error) {
	cfg, err := newOptions(opts)
	if err != nil {
		return nil, err
	}
	st := &state{
		now:           cfg.now,
		users:         make(map[string]*user),
		names:         make(map[string]*user),
		email:         make(map[string]*user),
		creds:         make(map[string]*webauthnkit.Credential),
		ceremonies:    make(map[string]ceremony),
		maxCeremonies: cfg.maxCeremonies,
		stop:          make(chan struct{}),
		done:          make(chan struct{}),
	}
	go st.sweepLoop(cfg.sweepInterval)
	s := &Store{st: st}
	// Stop the sweeper of a Store that was never closed once it is garbage.
	runtime.AddCleanup(s, func(st *state) { st.signalStop() }, st)
	return s, nil
}

// Close stops the sweeper goroutine, waits for it to exit and returns nil.
// The data stays readable and writable; only the background removal of
// expired ceremonies stops. Close may be called more than once: the same
// contract as sqlstore's and redisstore's Close.
func (s *Store) Close() error {
	s.st.close()
	return nil
}

// close stops the sweeper and waits for it to exit.
func (st *state) close() {
	st.signalStop()
	<-st.done
}

// signalStop tells the sweeper to stop, without waiting.
func (st *state) signalStop() {
	st.stopOnce.Do(func() { close(st.stop) })
}

func (st *state) sweepLoop(every time.Duration) {
	defer close(st.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-st.stop:
			return
		case <-t.C:
			st.sweep()
		}
	}
}

// sweep removes every expired ceremony and returns how many it removed.
func (st *state) sweep() int {
	st.cmu.Lock()
	defer st.cmu.Unlock()
	return st.sweepLocked(st.now())
}

// sweepLocked removes the ceremonies expired at now; st.cmu is held.
func (st *state) sweepLocked(now time.Time) int {
	n := 0
	for id, c := range st.ceremonies {
		if !now.Before(c.expiresAt) {
			delete(st.ceremonies, id)
			n++
		}
	}
	return n
}

// ceremonyCount returns the number of ceremonies held, expired or not.
func (st *state) ceremonyCount() int {
	st.cmu.Lock()
	defer st.cmu.Unlock()
	return len(st.ceremonies)
}

// ---- ChallengeStore ----

// PutCeremony stores a copy of data under id until expiresAt. It returns
// webauthnkit.ErrDuplicate if id is held and not expired. A ceremony that is
// already expired is not stored (a later TakeCeremony returns ErrNotFound).
func (s *Store) PutCeremony(ctx context.Context, id string, data []byte, expiresAt time.Time) error {
	const op = "PutCeremony"
	if err := ctx.Err(); err != nil {
		return fail(op, err)
	}
	st := s.st
	st.cmu.Lock()
	defer st.cmu.Unlock()
	now := st.now()
	if old, ok := st.ceremonies[id]; ok {
		if now.Before(old.expiresAt) {
			return fail(op, webauthnkit.ErrDuplicate)
		}
		delete(st.ceremonies, id)
	}
	if !now.Before(expiresAt) {
		return nil
	}
	if len(st.ceremonies) >= st.maxCeremonies {
		if now.Sub(st.lastFullSweep) >= time.Second {
			st.lastFullSweep = now
			st.sweepLocked(now)
		}
		if len(st.ceremonies) >= st.maxCeremonies {
			return fail(op, fmt.Errorf("%w: %d ceremonies in flight (WithMaxCeremonies)", webauthnkit.ErrStoreUnavailable, len(st.ceremonies)))
		}
	}
	st.ceremonies[id] = ceremony{data: bytes.Clone(data), expiresAt: expiresAt}
	return nil
}

// TakeCeremony returns the data stored under id and removes it, in one step.
// It returns webauthnkit.ErrNotFound if id is unknown, already taken or
// expired.
func (s *Store) TakeCeremony(ctx context.Context, id string) ([]byte, error) {
	const op = "TakeCeremony"
	if err := ctx.Err(); err != nil {
		return nil, fail(op, err)
	}
	st := s.st
	st.cmu.Lock()
	c, ok := st.ceremonies[id]
	if ok {
		delete(st.ceremonies, id)
	}
	st.cmu.Unlock()
	if !ok || !st.now().Before(c.expiresAt) {
		return nil, fail(op, webauthnkit.ErrNotFound)
	}
	// The store no longer references c.data (it was copied in by
	// PutCeremony), so the caller can own it without another copy.
	return c.data, nil
}

// ---- CredentialStore ----

// CreateUser stores user and, when first is not nil, its first credential,
// or neither. It returns webauthnkit.ErrUserExists if the handle or name is
// taken and webauthnkit.ErrCredentialExists if the credential ID is.
// first.UserHandle must equal user.Handle.
func (s *Store) CreateUser(ctx context.Context, u webauthnkit.User, first *webauthnkit.Credential) error {
	const op = "CreateUser"
	if err := ctx.Err(); err != nil {
		return fail(op, err)
	}
	if first != nil && !bytes.Equal(u.Handle, first.UserHandle) {
		return fail(op, errHandleMismatch)
	}
	st := s.st
	st.mu.Lock()
	defer st.mu.Unlock()
	if _, ok := st.users[string(u.Handle)]; ok {
		return fail(op, webauthnkit.ErrUserExists)
	}
	if _, ok := st.names[u.Name]; ok {
		return fail(op, webauthnkit.ErrUserExists)
	}
	if _, ok := st.email[u.Email]; ok && u.Email != "" {
		return fail(op, webauthnkit.ErrUserExists)
	}
	if first != nil {
		if _, ok := st.creds[string(first.ID)]; ok {
			return fail(op, webauthnkit.ErrCredentialExists)
		}
	}
	nu := &user{u: webauthnkit.User{
		Handle:          bytes.Clone(u.Handle),
		Name:            u.Name,
		DisplayName:     u.DisplayName,
		CreatedAt:       u.CreatedAt.UTC(),
		SessionEpoch:    u.SessionEpoch,
		Email:           u.Email,
		EmailVerifiedAt: storedTime(u.EmailVerifiedAt),
	}}
	st.users[string(nu.u.Handle)] = nu
	st.names[nu.u.Name] = nu
	if nu.u.Email != "" {
		st.email[nu.u.Email] = nu
	}
	if first != nil {
		st.insertCredential(nu, *first)
	}
	return nil
}

// UpdateUser sets the name and display name of the user with this handle.
// It returns webauthnkit.ErrNotFound for an unknown user and
// webauthnkit.ErrUserExists if another user has the name; the check and the
// rename happen under one lock, so of concurrent renames to one free name
// exactly one succeeds.
func (s *Store) UpdateUser(ctx context.Context, handle []byte, name, displayName string) error {
	const op = "UpdateUser"
	if err := ctx.Err(); err != nil {
		return fail(op, err)
	}
	st := s.st
	st.mu.Lock()
	defer st.mu.Unlock()
	u, ok := st.users[string(handle)]
	if !ok {
		return fail(op, webauthnkit.ErrNotFound)
	}
	if other, ok := st.names[name]; ok && other != u {
		return fail(op, webauthnkit.ErrUserExists)
	}
	delete(st.names, u.u.Name)
	u.u.Name, u.u.DisplayName = name, displayName
	st.names[name] = u
	return nil
}

// GetUserByHandle returns the user with this handle or webauthnkit.ErrNotFound.
func (s *Store) GetUserByHandle(ctx context.Context, handle []byte) (webauthnkit.User, error) {
	const op = "GetUserByHandle"
	if err := ctx.Err(); err != nil {
		return webauthnkit.User{}, fail(op, err)
	}
	st := s.st
	st.mu.RLock()
	defer st.mu.RUnlock()
	u, ok := st.users[string(handle)]
	if !ok {
		return webauthnkit.User{}, fail(op, webauthnkit.ErrNotFound)
	}
	return u.export(), nil
}

// GetUserByName returns the user with this exact name (compared byte for
// byte) or webauthnkit.ErrNotFound.
func (s *Store) GetUserByName(ctx context.Context, name string) (webauthnkit.User, error) {
	const op = "GetUserByName"
	if err := ctx.Err(); err != nil {
		return webauthnkit.User{}, fail(op, err)
	}
	st := s.st
	st.mu.RLock()
	defer st.mu.RUnlock()
	u, ok := st.names[name]
	if !ok {
		return webauthnkit.User{}, fail(op, webauthnkit.ErrNotFound)
	}
	return u.export(), nil
}

// DeleteUser removes the user and all its credentials, or returns
// webauthnkit.ErrNotFound.
func (s *Store) DeleteUser(ctx context.Context, handle []byte) error {
	const op = "DeleteUser"
	if err := ctx.Err(); err != nil {
		return fail(op, err)
	}
	st := s.st
	st.mu.Lock()
	defer st.mu.Unlock()
	u, ok := st.users[string(handle)]
	if !ok {
		return fail(op, webauthnkit.ErrNotFound)
	}
	for _, c := range u.creds {
		delete(st.creds, string(c.ID))
	}
	delete(st.names, u.u.Name)
	if u.u.Email != "" {
		delete(st.email, u.u.Email)
	}
	delete(st.users, string(handle))
	return nil
}

// GetUserByEmail returns the user with this exact email (compared byte for
// byte) or webauthnkit.ErrNotFound, also for the empty string.
func (s *Store) GetUserByEmail(ctx context.Context, email string) (webauthnkit.User, error) {
	const op = "GetUserByEmail"
	if err := ctx.Err(); err != nil {
		return webauthnkit.User{}, fail(op, err)
	}
	st := s.st
	st.mu.RLock()
	defer st.mu.RUnlock()
	u, ok := st.email[email]
	if !ok || email == "" {
		return webauthnkit.User{}, fail(op, webauthnkit.ErrNotFound)
	}
	return u.export(), nil
}

// SetEmail sets the email and its verified time of the user with this
// handle (an empty email removes it). It returns webauthnkit.ErrNotFound for
// an unknown user and webauthnkit.ErrUserExists if another user has the
// email; the check and the change happen under one lock, so of concurrent
// claims of one free address exactly one succeeds.
func (s *Store) SetEmail(ctx context.Context, handle []byte, email string, verifiedAt time.Time) error {
	const op = "SetEmail"
	if err := ctx.Err(); err != nil {
		return fail(op, err)
	}
	st := s.st
	st.mu.Lock()
	defer st.mu.Unlock()
	u, ok := st.users[string(handle)]
	if !ok {
		return fail(op, webauthnkit.ErrNotFound)
	}
	if other, ok := st.email[email]; ok && other != u && email != "" {
		return fail(op, webauthnkit.ErrUserExists)
	}
	if u.u.Email != "" {
		delete(st.email, u.u.Email)
	}
	u.u.Email, u.u.EmailVerifiedAt = email, storedTime(verifiedAt)
	if email != "" {
		st.email[email] = u
	}
	return nil
}

// errRecoveryCodes is SetRecoveryCodes' answer to hashes outside the
// contract's bounds; it names the bounds, never the values.
var errRecoveryCodes = fmt.Errorf("at most %d recovery code hashes of %d bytes each", webauthnkit.MaxRecoveryCodes, webauthnkit.RecoveryCodeHashSize)

// SetRecoveryCodes replaces the user's recovery code hashes (a set: a
// repeated hash counts once); an empty list removes them. It returns
// webauthnkit.ErrNotFound for an unknown user and an error for more than
// webauthnkit.MaxRecoveryCodes hashes or one not
// webauthnkit.RecoveryCodeHashSize bytes long.
func (s *Store) SetRecoveryCodes(ctx context.Context, handle []byte, hashes [][]byte) error {
	const op = "SetRecoveryCodes"
	if err := ctx.Err(); err != nil {
		return fail(op, err)
	}
	if len(hashes) > webauthnkit.MaxRecoveryCodes {
		return fail(op, errRecoveryCodes)
	}
	set := make(map[string]struct{}, len(hashes))
	for _, h := range hashes {
		if len(h) != webauthnkit.RecoveryCodeHashSize {
			return fail(op, errRecoveryCodes)
		}
		set[string(h)] = struct{}{}
	}
	st := s.st
	st.mu.Lock()
	defer st.mu.Unlock()
	u, ok := st.users[string(handle)]
	if !ok {
		return fail(op, webauthnkit.ErrNotFound)
	}
	if len(set) == 0 {
		set = nil
	}
	u.recoveryCodes = set
	return nil
}

// UseRecoveryCode removes hash from the user's recovery codes under one
// lock, so a code is used once; webauthnkit.ErrNotFound if the user or the
// code is unknown (or the code was used).
func (s *Store) UseRecoveryCode(ctx context.Context, handle []byte, hash []byte) error {
	const op = "UseRecoveryCode"
	if err := ctx.Err(); err != nil {
		return fail(op, err)
	}
	st := s.st
	st.mu.Lock()
	defer st.mu.Unlock()
	u, ok := st.users[string(handle)]
	if !ok {
		return fail(op, webauthnkit.ErrNotFound)
	}
	if _, ok := u.recoveryCodes[string(hash)]; !ok {
		return fail(op, webauthnkit.ErrNotFound)
	}
	delete(u.recoveryCodes, string(hash))
	return nil
}

// RecoveryCodesLeft returns how many recovery codes the user has not used;
// 0 for an unknown user.
func (s *Store) RecoveryCodesLeft(ctx context.Context, handle []byte) (int, error) {
	const op = "RecoveryCodesLeft"
	if err := ctx.Err(); err != nil {
		return 0, fail(op, err)
	}
	st := s.st
	st.mu.RLock()
	defer st.mu.RUnlock()
	u, ok := st.users[string(handle)]
	if !ok {
		return 0, nil
	}
	return len(u.recoveryCodes), nil
}

// AddCredential stores one more credential for an existing user. It returns
// webauthnkit.ErrNotFound if cred.UserHandle names no user and
// webauthnkit.ErrCredentialExists if the ID is taken.
func (s *Store) AddCredential(ctx context.Context, cred webauthnkit.Credential) error {
	const op = "AddCredential"
	if err := ctx.Err(); err != nil {
		return fail(op, err)
	}
	st := s.st
	st.mu.Lock()
	defer st.mu.Unlock()
	u, ok := st.users[string(cred.UserHandle)]
	if !ok {
		return fail(op, webauthnkit.ErrNotFound)
	}
	if _, ok := st.creds[string(cred.ID)]; ok {
		return fail(op, webauthnkit.ErrCredentialExists)
	}
	st.insertCredential(u, cred)
	return nil
}

// GetCredential returns the credential with this ID or webauthnkit.ErrNotFound.
func (s *Store) GetCredential(ctx context.Context, id []byte) (webauthnkit.Credential, error) {
	const op = "GetCredential"
	if err := ctx.Err(); err != nil {
		return webauthnkit.Credential{}, fail(op, err)
	}
	st := s.st
	st.mu.RLock()
	defer st.mu.RUnlock()
	c, ok := st.creds[string(id)]
	if !ok {
		return webauthnkit.Credential{}, fail(op, webauthnkit.ErrNotFound)
	}
	return exportCredential(c), nil
}

// GetCredentialWithUser returns the credential with this ID and its owner,
// read under one lock, or webauthnkit.ErrNotFound
// (webauthnkit.CredentialUserGetter).
func (s *Store) GetCredentialWithUser(ctx context.Context, id []byte) (webauthnkit.Credential, webauthnkit.User, error) {
	const op = "GetCredentialWithUser"
	if err := ctx.Err(); err != nil {
		return webauthnkit.Credential{}, webauthnkit.User{}, fail(op, err)
	}
	st := s.st
	st.mu.RLock()
	defer st.mu.RUnlock()
	c, ok := st.creds[string(id)]
	if !ok {
		return webauthnkit.Credential{}, webauthnkit.User{}, fail(op, webauthnkit.ErrNotFound)
	}
	cred := exportCredential(c)
	u, ok := st.users[string(cred.UserHandle)]
	if !ok {
		return webauthnkit.Credential{}, webauthnkit.User{}, fail(op, webauthnkit.ErrNotFound)
	}
	return cred, u.export(), nil
}

// ListCredentials returns the user's credentials ordered by CreatedAt, then
// ID; nil when the user has none or does not exist.
func (s *Store) ListCredentials(ctx context.Context, userHandle []byte) ([]webauthnkit.Credential, error) {
	const op = "ListCredentials"
	if err := ctx.Err(); err != nil {
		return nil, fail(op, err)
	}
	st := s.st
	st.mu.RLock()
	defer st.mu.RUnlock()
	u, ok := st.users[string(userHandle)]
	if !ok || len(u.creds) == 0 {
		return nil, nil
	}
	out := make([]webauthnkit.Credential, len(u.creds))
	for i, c := range u.creds {
		out[i] = exportCredential(c)
	}
	return out, nil
}

// UpdateCredentialUse applies use if the stored SignCount equals
// expectedSignCount. It returns webauthnkit.ErrConflict if it does not and
// webauthnkit.ErrNotFound if the credential does not exist.
func (s *Store) UpdateCredentialUse(ctx context.Context, id []byte, expectedSignCount uint32, use webauthnkit.CredentialUse) error {
	const op = "UpdateCredentialUse"
	if err := ctx.Err(); err != nil {
		return fail(op, err)
	}
	st := s.st
	st.mu.Lock()
	defer st.mu.Unlock()
	c, ok := st.creds[string(id)]
	if !ok {
		return fail(op, webauthnkit.ErrNotFound)
	}
	if c.SignCount != expectedSignCount {
		return fail(op, webauthnkit.ErrConflict)
	}
	c.SignCount = use.SignCount
	c.BackupState = use.BackupState
	c.UserVerified = use.UserVerified
	c.LastUsedAt = use.LastUsedAt.UTC()
	c.CloneSuspected = use.CloneSuspected
	return nil
}

// RenameCredential sets the name of a credential owned by userHandle, or
// returns webauthnkit.ErrNotFound.
func (s *Store) RenameCredential(ctx context.Context, userHandle, id []byte, name string) error {
	const op = "RenameCredential"
	if err := ctx.Err(); err != nil {
		return fail(op, err)
	}
	st := s.st
	st.mu.Lock()
	defer st.mu.Unlock()
	c, ok := st.creds[string(id)]
	if !ok || !bytes.Equal(c.UserHandle, userHandle) {
		return fail(op, webauthnkit.ErrNotFound)
	}
	c.Name = name
	return nil
}

// DeleteCredential removes a credential owned by userHandle, or returns
// webauthnkit.ErrNotFound. With allowLast false it refuses, with
// webauthnkit.ErrLastCredential, to remove the user's only credential; the
// check and the delete happen under one lock, so of concurrent deletes of a
// user's last two credentials exactly one succeeds.
func (s *Store) DeleteCredential(ctx context.Context, userHandle, id []byte, allowLast bool) error {
	const op = "DeleteCredential"
	if err := ctx.Err(); err != nil {
		return fail(op, err)
	}
	st := s.st
	st.mu.Lock()
	defer st.mu.Unlock()
	c, ok := st.creds[string(id)]
	if !ok || !bytes.Equal(c.UserHandle, userHandle) {
		return fail(op, webauthnkit.ErrNotFound)
	}
	u := st.users[string(userHandle)]
	if !allowLast && len(u.creds) <= 1 {
		return fail(op, webauthnkit.ErrLastCredential)
	}
	u.creds = slices.DeleteFunc(u.creds, func(x *webauthnkit.Credential) bool { return x == c })
	delete(st.creds, string(id))
	return nil
}

// EndSessions increments the user's SessionEpoch and returns the new value,
// or returns webauthnkit.ErrNotFound.
func (s *Store) EndSessions(ctx context.Context, userHandle []byte) (uint64, error) {
	const op = "EndSessions"
	if err := ctx.Err(); err != nil {
		return 0, fail(op, err)
	}
	st := s.st
	st.mu.Lock()
	defer st.mu.Unlock()
	u, ok := st.users[string(userHandle)]
	if !ok {
		return 0, fail(op, webauthnkit.ErrNotFound)
	}
	u.u.SessionEpoch++
	return u.u.SessionEpoch, nil
}

// Features declares that the data lives in this process only and that
// GetCredentialWithUser, ListUserHandles (listusers.go), ScanCredentials
// and SetCredentialAudit are implemented.
func (s *Store) Features() webauthnkit.Features {
	return webauthnkit.Features{ProcessLocal: true, CredentialWithUser: true, ListUserHandles: true, Audit: true}
}

// insertCredential stores a deep copy of cred for u, keeping u.creds sorted.
// The caller holds st.mu and has checked that the ID is free.
func (st *state) insertCredential(u *user, cred webauthnkit.Credential) {
	c := cred
	c.ID = bytes.Clone(cred.ID)
	c.UserHandle = u.u.Handle // same bytes, already owned by the store
	c.PublicKey = bytes.Clone(cred.PublicKey)
	c.AAGUID = bytes.Clone(cred.AAGUID)
	c.AttestationObject = bytes.Clone(cred.AttestationObject)
	c.AttestationClientDataHash = bytes.Clone(cred.AttestationClientDataHash)
	c.Transports = slices.Clone(cred.Transports)
	c.CreatedAt = cred.CreatedAt.UTC()
	c.LastUsedAt = cred.LastUsedAt.UTC()
	c.AttestationCheckedAt = storedTime(cred.AttestationCheckedAt)
	c.QuarantinedAt = storedTime(cred.QuarantinedAt)
	p := &c
	i, _ := slices.BinarySearchFunc(u.creds, p, compareCredentials)
	u.creds = slices.Insert(u.creds, i, p)
	st.creds[string(c.ID)] = p
}

// compareCredentials orders credentials by CreatedAt, then ID.
func compareCredentials(a, b *webauthnkit.Credential) int {
	if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
		return c
	}
	return bytes.Compare(a.ID, b.ID)
}

// storedTime returns t in UTC, keeping the zero time zero (UTC() of a
// zero time in another location would not be IsZero).
func storedTime(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC()
}

func (u *user) export() webauthnkit.User {
	out := u.u
	out.Handle = bytes.Clone(u.u.Handle)
	return out
}

// exportCredential returns a copy of c that shares no memory with the store.
// All byte slices share one allocation (each capped so that appending to one
// never overwrites another); strings are immutable and need no copy.
func exportCredential(c *webauthnkit.Credential) webauthnkit.Credential {
	out := *c
	buf := make([]byte, 0, len(c.ID)+len(c.UserHandle)+len(c.PublicKey)+len(c.AAGUID)+
		len(c.AttestationObject)+len(c.AttestationClientDataHash))
	out.ID, buf = carve(buf, c.ID)
	out.UserHandle, buf = carve(buf, c.UserHandle)
	out.PublicKey, buf = carve(buf, c.PublicKey)
	out.AAGUID, buf = carve(buf, c.AAGUID)
	out.AttestationObject, buf = carve(buf, c.AttestationObject)
	out.AttestationClientDataHash, _ = carve(buf, c.AttestationClientDataHash)
	if c.Transports != nil {
		out.Transports = slices.Clone(c.Transports)
	}
	return out
}

// carve appends src to buf and returns the appended part (nil if src is nil)
// with its capacity capped, and the rest of buf.
func carve(buf, src []byte) (part, rest []byte) {
	if src == nil {
		return nil, buf
	}
	n := len(buf)
	buf = append(buf, src...)
	return buf[n:len(buf):len(buf)], buf
}

// fail returns err prefixed with "memstore: op: ", wrapping it, so that
// errors.Is finds the webauthnkit sentinel or context error inside.
func fail(op string, err error) error {
	return &opError{op: op, err: err}
}

// opError is fail's error: cheaper than fmt.Errorf on the paths where a
// miss is routine (an unknown credential at sign-in, a taken ceremony).
type opError struct {
	op  string
	err error
}

func (e *opError) Error() string { return "memstore: " + e.op + ": " + e.err.Error() }
func (e *opError) Unwrap() error { return e.err }

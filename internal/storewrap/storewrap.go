// Package storewrap wraps a real CredentialStore and ChallengeStore to
// count their calls and inject faults (errors, latency). It is the one such
// wrapper of the module: the core's and httpadapter's tests use it for
// outage and round-trip tests, and cmd/webauthnkit-load counts store calls
// per login with it. It is a probe around a real store, never a replacement
// for one.
//
// Every method is forwarded explicitly, never by embedding: an embedded
// store would expose its optional methods (GetCredentialWithUser) unwrapped,
// without the faults and counts. Features declares only what the wrapper
// really forwards.
package storewrap

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/webauthnkit/webauthnkit"
)

// Method names a store method.
type Method int

// The store methods, CredentialStore's then ChallengeStore's.
const (
	CreateUser Method = iota
	UpdateUser
	GetUserByHandle
	GetUserByName
	DeleteUser
	AddCredential
	GetCredential
	ListCredentials
	UpdateCredentialUse
	RenameCredential
	DeleteCredential
	EndSessions
	GetUserByEmail
	SetEmail
	SetRecoveryCodes
	UseRecoveryCode
	RecoveryCodesLeft
	GetCredentialWithUser
	PutCeremony
	TakeCeremony
	// CredentialAuditor's, forwarded when the store declares Audit.
	ScanCredentials
	SetCredentialAudit
	numMethods
)

var methodNames = [numMethods]string{
	"CreateUser", "UpdateUser", "GetUserByHandle", "GetUserByName", "DeleteUser",
	"AddCredential", "GetCredential", "ListCredentials", "UpdateCredentialUse",
	"RenameCredential", "DeleteCredential", "EndSessions", "GetUserByEmail", "SetEmail",
	"SetRecoveryCodes", "UseRecoveryCode", "RecoveryCodesLeft", "GetCredentialWithUser",
	"PutCeremony", "TakeCeremony", "ScanCredentials", "SetCredentialAudit",
}

// String returns the method's Go name, e.g. "GetCredential".
func (m Method) String() string {
	if m < 0 || m >= numMethods {
		return "Method(?)"
	}
	return methodNames[m]
}

// ErrDown is a typical backend outage, for Fail: it wraps
// webauthnkit.ErrStoreUnavailable and a dial error, as a real store's
// error would.
var ErrDown = fmt.Errorf("storewrap: %w: %w", webauthnkit.ErrStoreUnavailable, errors.New("dial tcp 10.0.0.1:5432: connection refused"))

// ErrNotForwarded is returned (and the call counted) when
// GetCredentialWithUser, ScanCredentials or SetCredentialAudit is called on
// a Store whose Features do not declare it: the library must go by the
// declaration, and a test sees the call.
var ErrNotForwarded = errors.New("storewrap: an optional method called but not declared in Features")

// Option configures a Store.
type Option func(*Store)

// WithCallLog keeps the order of the calls for TakeCalls. Without it only
// the per-method counts are kept (an atomic add per call, which a load test
// can afford; a log of every call it cannot).
func WithCallLog() Option { return func(s *Store) { s.logCalls = true } }

// WithoutCredentialWithUser hides the wrapped store's CredentialUserGetter:
// Features declares CredentialWithUser false even if the store declares it.
func WithoutCredentialWithUser() Option { return func(s *Store) { s.hideJoin = true } }

// WithoutAudit hides the wrapped store's CredentialAuditor: Features
// declares Audit false even if the store declares it.
func WithoutAudit() Option { return func(s *Store) { s.hideAudit = true } }

// Store is a CredentialStore and ChallengeStore forwarding to the wrapped
// ones. Safe for concurrent use; faults and the delay may be changed while
// calls run.
type Store struct {
	creds webauthnkit.CredentialStore
	cers  webauthnkit.ChallengeStore
	// join is the wrapped store's GetCredentialWithUser, nil unless the
	// store implements and declares it and the wrapper forwards it.
	join     webauthnkit.CredentialUserGetter
	hideJoin bool
	// audit is the wrapped store's CredentialAuditor, nil unless the store
	// implements and declares it.
	audit     webauthnkit.CredentialAuditor
	hideAudit bool
	logCalls  bool

	counts [numMethods]atomic.Int64
	faults [numMethods]atomic.Pointer[error]
	delay  atomic.Int64 // time.Duration

	mu  sync.Mutex
	log []Method
}

var (
	_ webauthnkit.CredentialStore      = (*Store)(nil)
	_ webauthnkit.CredentialUserGetter = (*Store)(nil)
	_ webauthnkit.CredentialAuditor    = (*Store)(nil)
	_ webauthnkit.ChallengeStore       = (*Store)(nil)
)

// New wraps creds and cers (often one store passed twice).
func New(creds webauthnkit.CredentialStore, cers webauthnkit.ChallengeStore, opts ...Option) *Store {
	s := &Store{creds: creds, cers: cers}
	for _, o := range opts {
		o(s)
	}
	if g, ok := creds.(webauthnkit.CredentialUserGetter); ok && creds.Features().CredentialWithUser && !s.hideJoin {
		s.join = g
	}
	if a, ok := creds.(webauthnkit.CredentialAuditor); ok && creds.Features().Audit && !s.hideAudit {
		s.audit = a
	}
	return s
}

// Features: process-local only if both wrapped stores are;
// CredentialWithUser only if the credential store declares it and the
// wrapper forwards it (with its counts and faults); Audit when the
// credential store declares it.
func (s *Store) Features() webauthnkit.Features {
	return webauthnkit.Features{
		ProcessLocal:       s.creds.Features().ProcessLocal && s.cers.Features().ProcessLocal,
		CredentialWithUser: s.join != nil,
		Audit:              s.audit != nil,
	}
}

// Fail makes the named methods (every method if none is named) return err
// without reaching the store; a nil err lets them through again.
func (s *Store) Fail(err error, methods ...Method) {
	var p *error
	if err != nil {
		p = &err
	}
	if len(methods) == 0 {
		for m := range numMethods {
			s.faults[m].Store(p)
		}
		return
	}
	for _, m := range methods {
		s.faults[m].Store(p)
	}
}

// SetDelay makes every call wait d before it goes on (or fails); a call
// whose context ends first returns the context's error.
func (s *Store) SetDelay(d time.Duration) { s.delay.Store(int64(d)) }

// Count returns how many times m was called.
func (s *Store) Count(m Method) int64 { return s.counts[m].Load() }

// Counts returns the number of calls of each method called at least once,
// by method name.
func (s *Store) Counts() map[string]int64 {
	out := make(map[string]int64, numMethods)
	for m := range numMethods {
		if n := s.counts[m].Load(); n != 0 {
			out[m.String()] = n
		}
	}
	return out
}

// TakeCalls returns the methods called since the last TakeCalls, in call
// order, and forgets them. Always empty without WithCallLog.
func (s *Store) TakeCalls() []string {
	s.mu.Lock()
	log := s.log
	s.log = nil
	s.mu.Unlock()
	out := make([]string, len(log))
	for i, m := range log {
		out[i] = m.String()
	}
	return out
}

// enter records a call of m, waits out the delay and returns the injected
// fault, if any.
func (s *Store) enter(ctx context.Context, m Method) error {
	s.counts[m].Add(1)
	if s.logCalls {
		s.mu.Lock()
		s.log = append(s.log, m)
		s.mu.Unlock()
	}
	if d := time.Duration(s.delay.Load()); d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
	}
	if p := s.faults[m].Load(); p != nil {
		return *p
	}
	return nil
}

// The store methods: each records the call, waits out the delay, returns
// the injected fault if any, and otherwise forwards to the wrapped store.

func (s *Store) CreateUser(ctx context.Context, user webauthnkit.User, first *webauthnkit.Credential) error {
	if err := s.enter(ctx, CreateUser); err != nil {
		return err
	}
	return s.creds.CreateUser(ctx, user, first)
}

func (s *Store) UpdateUser(ctx context.Context, handle []byte, name, displayName string) error {
	if err := s.enter(ctx, UpdateUser); err != nil {
		return err
	}
	return s.creds.UpdateUser(ctx, handle, name, displayName)
}

func (s *Store) GetUserByHandle(ctx context.Context, handle []byte) (webauthnkit.User, error) {
	if err := s.enter(ctx, GetUserByHandle); err != nil {
		return webauthnkit.User{}, err
	}
	return s.creds.GetUserByHandle(ctx, handle)
}

func (s *Store) GetUserByName(ctx context.Context, name string) (webauthnkit.User, error) {
	if err := s.enter(ctx, GetUserByName); err != nil {
		return webauthnkit.User{}, err
	}
	return s.creds.GetUserByName(ctx, name)
}

func (s *Store) DeleteUser(ctx context.Context, handle []byte) error {
	if err := s.enter(ctx, DeleteUser); err != nil {
		return err
	}
	return s.creds.DeleteUser(ctx, handle)
}

func (s *Store) AddCredential(ctx context.Context, cred webauthnkit.Credential) error {
	if err := s.enter(ctx, AddCredential); err != nil {
		return err
	}
	return s.creds.AddCredential(ctx, cred)
}

func (s *Store) GetCredential(ctx context.Context, id []byte) (webauthnkit.Credential, error) {
	if err := s.enter(ctx, GetCredential); err != nil {
		return webauthnkit.Credential{}, err
	}
	return s.creds.GetCredential(ctx, id)
}

func (s *Store) ListCredentials(ctx context.Context, userHandle []byte) ([]webauthnkit.Credential, error) {
	if err := s.enter(ctx, ListCredentials); err != nil {
		return nil, err
	}
	return s.creds.ListCredentials(ctx, userHandle)
}

func (s *Store) UpdateCredentialUse(ctx context.Context, id []byte, expectedSignCount uint32, use webauthnkit.CredentialUse) error {
	if err := s.enter(ctx, UpdateCredentialUse); err != nil {
		return err
	}
	return s.creds.UpdateCredentialUse(ctx, id, expectedSignCount, use)
}

func (s *Store) RenameCredential(ctx context.Context, userHandle, id []byte, name string) error {
	if err := s.enter(ctx, RenameCredential); err != nil {
		return err
	}
	return s.creds.RenameCredential(ctx, userHandle, id, name)
}

func (s *Store) DeleteCredential(ctx context.Context, userHandle, id []byte, allowLast bool) error {
	if err := s.enter(ctx, DeleteCredential); err != nil {
		return err
	}
	return s.creds.DeleteCredential(ctx, userHandle, id, allowLast)
}

func (s *Store) EndSessions(ctx context.Context, userHandle []byte) (uint64, error) {
	if err := s.enter(ctx, EndSessions); err != nil {
		return 0, err
	}
	return s.creds.EndSessions(ctx, userHandle)
}

func (s *Store) GetUserByEmail(ctx context.Context, email string) (webauthnkit.User, error) {
	if err := s.enter(ctx, GetUserByEmail); err != nil {
		return webauthnkit.User{}, err
	}
	return s.creds.GetUserByEmail(ctx, email)
}

func (s *Store) SetEmail(ctx context.Context, handle []byte, email string, verifiedAt time.Time) error {
	if err := s.enter(ctx, SetEmail); err != nil {
		return err
	}
	return s.creds.SetEmail(ctx, handle, email, verifiedAt)
}

func (s *Store) SetRecoveryCodes(ctx context.Context, handle []byte, hashes [][]byte) error {
	if err := s.enter(ctx, SetRecoveryCodes); err != nil {
		return err
	}
	return s.creds.SetRecoveryCodes(ctx, handle, hashes)
}

func (s *Store) UseRecoveryCode(ctx context.Context, handle []byte, hash []byte) error {
	if err := s.enter(ctx, UseRecoveryCode); err != nil {
		return err
	}
	return s.creds.UseRecoveryCode(ctx, handle, hash)
}

func (s *Store) RecoveryCodesLeft(ctx context.Context, handle []byte) (int, error) {
	if err := s.enter(ctx, RecoveryCodesLeft); err != nil {
		return 0, err
	}
	return s.creds.RecoveryCodesLeft(ctx, handle)
}

// GetCredentialWithUser forwards to the wrapped store when Features
// declares it, and returns ErrNotForwarded otherwise.
func (s *Store) GetCredentialWithUser(ctx context.Context, id []byte) (webauthnkit.Credential, webauthnkit.User, error) {
	if err := s.enter(ctx, GetCredentialWithUser); err != nil {
		return webauthnkit.Credential{}, webauthnkit.User{}, err
	}
	if s.join == nil {
		return webauthnkit.Credential{}, webauthnkit.User{}, ErrNotForwarded
	}
	return s.join.GetCredentialWithUser(ctx, id)
}

func (s *Store) PutCeremony(ctx context.Context, id string, data []byte, expiresAt time.Time) error {
	if err := s.enter(ctx, PutCeremony); err != nil {
		return err
	}
	return s.cers.PutCeremony(ctx, id, data, expiresAt)
}

func (s *Store) TakeCeremony(ctx context.Context, id string) ([]byte, error) {
	if err := s.enter(ctx, TakeCeremony); err != nil {
		return nil, err
	}
	return s.cers.TakeCeremony(ctx, id)
}

// ScanCredentials forwards to the wrapped store when Features declares
// Audit; otherwise it returns ErrNotForwarded (and counts the call).
func (s *Store) ScanCredentials(ctx context.Context, cursor string, limit int) ([]webauthnkit.Credential, string, error) {
	if err := s.enter(ctx, ScanCredentials); err != nil {
		return nil, "", err
	}
	if s.audit == nil {
		return nil, "", ErrNotForwarded
	}
	return s.audit.ScanCredentials(ctx, cursor, limit)
}

// SetCredentialAudit forwards like ScanCredentials.
func (s *Store) SetCredentialAudit(ctx context.Context, id []byte, a webauthnkit.CredentialAudit) error {
	if err := s.enter(ctx, SetCredentialAudit); err != nil {
		return err
	}
	if s.audit == nil {
		return ErrNotForwarded
	}
	return s.audit.SetCredentialAudit(ctx, id, a)
}

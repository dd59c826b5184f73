package webauthnkit_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/memstore"
)

// faultyStore wraps a real store and fails every call while down is set: a
// fault injector for outage tests, not a replacement for the store.
type faultyStore struct {
	*memstore.Store
	down atomic.Bool
}

func (f *faultyStore) fail() error {
	if f.down.Load() {
		return fmt.Errorf("faulty: %w: %w", webauthnkit.ErrStoreUnavailable, errors.New("connection refused"))
	}
	return nil
}

func (f *faultyStore) PutCeremony(ctx context.Context, id string, data []byte, exp time.Time) error {
	if err := f.fail(); err != nil {
		return err
	}
	return f.Store.PutCeremony(ctx, id, data, exp)
}

func (f *faultyStore) TakeCeremony(ctx context.Context, id string) ([]byte, error) {
	if err := f.fail(); err != nil {
		return nil, err
	}
	return f.Store.TakeCeremony(ctx, id)
}

func (f *faultyStore) GetCredential(ctx context.Context, id []byte) (webauthnkit.Credential, error) {
	if err := f.fail(); err != nil {
		return webauthnkit.Credential{}, err
	}
	return f.Store.GetCredential(ctx, id)
}

func (f *faultyStore) GetUserByName(ctx context.Context, name string) (webauthnkit.User, error) {
	if err := f.fail(); err != nil {
		return webauthnkit.User{}, err
	}
	return f.Store.GetUserByName(ctx, name)
}

func (f *faultyStore) GetCredentialWithUser(ctx context.Context, id []byte) (webauthnkit.Credential, webauthnkit.User, error) {
	if err := f.fail(); err != nil {
		return webauthnkit.Credential{}, webauthnkit.User{}, err
	}
	return f.Store.GetCredentialWithUser(ctx, id)
}

// Features: the login path's reads, GetCredentialWithUser included, go
// through the fault above.
func (f *faultyStore) Features() webauthnkit.Features {
	return webauthnkit.Features{ProcessLocal: true, CredentialWithUser: true}
}

// countingStore records the store calls of the login path. It does not
// count memstore's GetCredentialWithUser, which it still has (promoted from
// the embedded store), so it declares CredentialWithUser false: the library
// must go by the declaration and not call the method (an uncounted call
// would show up in the tests as a GetCredential missing).
type countingStore struct {
	*memstore.Store
	mu    sync.Mutex
	calls []string
}

func (c *countingStore) Features() webauthnkit.Features {
	return webauthnkit.Features{ProcessLocal: true}
}

// joiningStore is a countingStore that counts GetCredentialWithUser and
// declares it.
type joiningStore struct{ *countingStore }

func (c joiningStore) GetCredentialWithUser(ctx context.Context, id []byte) (webauthnkit.Credential, webauthnkit.User, error) {
	c.record("GetCredentialWithUser")
	return c.Store.GetCredentialWithUser(ctx, id)
}

func (c joiningStore) Features() webauthnkit.Features {
	return webauthnkit.Features{ProcessLocal: true, CredentialWithUser: true}
}

var (
	_ webauthnkit.CredentialUserGetter = joiningStore{}
	_ webauthnkit.CredentialUserGetter = (*countingStore)(nil) // it has the method, but does not declare it
)

func (c *countingStore) record(name string) {
	c.mu.Lock()
	c.calls = append(c.calls, name)
	c.mu.Unlock()
}

func (c *countingStore) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.calls
	c.calls = nil
	return out
}

func (c *countingStore) PutCeremony(ctx context.Context, id string, data []byte, exp time.Time) error {
	c.record("PutCeremony")
	return c.Store.PutCeremony(ctx, id, data, exp)
}

func (c *countingStore) TakeCeremony(ctx context.Context, id string) ([]byte, error) {
	c.record("TakeCeremony")
	return c.Store.TakeCeremony(ctx, id)
}

func (c *countingStore) GetCredential(ctx context.Context, id []byte) (webauthnkit.Credential, error) {
	c.record("GetCredential")
	return c.Store.GetCredential(ctx, id)
}

func (c *countingStore) ListCredentials(ctx context.Context, h []byte) ([]webauthnkit.Credential, error) {
	c.record("ListCredentials")
	return c.Store.ListCredentials(ctx, h)
}

func (c *countingStore) GetUserByName(ctx context.Context, name string) (webauthnkit.User, error) {
	c.record("GetUserByName")
	return c.Store.GetUserByName(ctx, name)
}

func (c *countingStore) GetUserByHandle(ctx context.Context, h []byte) (webauthnkit.User, error) {
	c.record("GetUserByHandle")
	return c.Store.GetUserByHandle(ctx, h)
}

func (c *countingStore) UpdateCredentialUse(ctx context.Context, id []byte, expected uint32, use webauthnkit.CredentialUse) error {
	c.record("UpdateCredentialUse")
	return c.Store.UpdateCredentialUse(ctx, id, expected, use)
}

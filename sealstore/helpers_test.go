package sealstore_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/storetest"
	"github.com/webauthnkit/webauthnkit/webauthntest"

	"github.com/webauthnkit/webauthnkit/internal/backendtest"
	"github.com/webauthnkit/webauthnkit/sealstore"
)

// testKeyring returns a keyring with one random key named id (and a
// random index key).
func testKeyring(t testing.TB, index []byte, keys ...sealstore.Key) *sealstore.Keyring {
	t.Helper()
	if index == nil {
		index = sealstore.RandomSecret()
	}
	if len(keys) == 0 {
		keys = []sealstore.Key{sealstore.NewKey("k1")}
	}
	kr, err := sealstore.NewKeyring(index, keys...)
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

// sealed wraps a fresh backend store.
func sealed(t testing.TB, b backendtest.Backend, kr *sealstore.Keyring, onTamper func(sealstore.Tamper)) (*sealstore.Store, backendtest.Store) {
	t.Helper()
	inner := b.Open(t, time.Now)
	cfg := sealstore.Config{Keyring: kr}
	if onTamper != nil {
		cfg.OnTamper = func(_ context.Context, tp sealstore.Tamper) { onTamper(tp) }
	}
	s, err := sealstore.New(inner, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s, inner
}

const (
	testRPID   = "example.com"
	testOrigin = "https://example.com"
)

// site is a RelyingParty over a sealed store, with registered accounts.
type site struct {
	rp    *webauthnkit.RelyingParty
	store *sealstore.Store
	inner backendtest.Store
}

// account is a registered user and the device holding its passkey.
type account struct {
	name   string
	reg    *webauthnkit.Registration
	device *webauthntest.Authenticator
}

func newSite(t testing.TB, s *sealstore.Store, inner backendtest.Store, onEvent func(webauthnkit.Event)) *site {
	t.Helper()
	rp, err := webauthnkit.New(webauthnkit.Config{
		RPID: testRPID, Origins: []string{testOrigin},
		Credentials: s, Ceremonies: inner,
		Secret: bytes.Repeat([]byte{0x5e}, 32),
		OnEvent: func(_ context.Context, ev webauthnkit.Event) {
			if onEvent != nil {
				onEvent(ev)
			}
		},
	})
	require.NoError(t, err)
	return &site{rp: rp, store: s, inner: inner}
}

// register signs a new user up with a new device.
func (s *site) register(t testing.TB) *account {
	t.Helper()
	ctx := context.Background()
	name := storetest.RandomName()
	d := webauthntest.New(webauthntest.WithOrigin(testOrigin))
	begin, err := s.rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{Username: name, DisplayName: "Zoë " + name, CredentialName: "Laptop of " + name})
	require.NoError(t, err)
	body, err := d.Register(begin.Options)
	require.NoError(t, err)
	reg, err := s.rp.FinishRegistration(ctx, begin.CeremonyID, body)
	require.NoError(t, err)
	return &account{name: name, reg: reg, device: d}
}

// login signs a in by username (GetUserByName, ListCredentials, then the
// credential's update), or without one (discoverable).
func (s *site) login(a *account, username bool) (*webauthnkit.Login, error) {
	ctx := context.Background()
	req := webauthnkit.LoginRequest{}
	if username {
		req.Username = a.name
	}
	begin, err := s.rp.BeginLogin(ctx, req)
	if err != nil {
		return nil, err
	}
	body, err := a.device.Login(begin.Options)
	if err != nil {
		return nil, err
	}
	return s.rp.FinishLogin(ctx, begin.CeremonyID, body)
}

func storetestUser() webauthnkit.User { return storetest.RandomUser() }

func storetestCredential(h []byte) webauthnkit.Credential { return storetest.RandomCredential(h) }

func sealedMem(t testing.TB, kr *sealstore.Keyring) (*sealstore.Store, backendtest.Store) {
	t.Helper()
	be, _ := backendtest.Named("memstore")
	return sealed(t, be, kr, nil)
}

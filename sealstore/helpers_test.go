package sealstore_test

import (
	"context"
	"testing"
	"time"

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

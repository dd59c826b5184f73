package backendtest

import (
	"strings"
	"testing"
	"time"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/sealstore"
)

// SealedSuffix, appended to a backend's name ("sqlite+sealed"), names the
// backend wrapped by package sealstore (Named understands it): the
// packages that run their tests once per backend can run them over sealed
// stores too.
const SealedSuffix = "+sealed"

// Sealed returns b with its stores wrapped by sealstore (credential store
// and ceremony records, one random keyring per store).
func Sealed(b Backend) Backend {
	return Backend{Name: b.Name + SealedSuffix, Open: func(t testing.TB, now func() time.Time) Store {
		inner := b.Open(t, now)
		kr, err := sealstore.NewKeyring(sealstore.RandomSecret(), sealstore.NewKey("test"))
		if err != nil {
			t.Fatal(err)
		}
		s, err := sealstore.New(inner, sealstore.Config{Keyring: kr})
		if err != nil {
			t.Fatal(err)
		}
		return sealedStore{Store: s, Ceremonies: s.Ceremonies(inner)}
	}}
}

// sealedStore is a sealed store in both roles.
type sealedStore struct {
	*sealstore.Store
	*sealstore.Ceremonies
}

// Features is the credential store's declaration (the ceremony wrapper
// declares the same ProcessLocal).
func (s sealedStore) Features() webauthnkit.Features { return s.Store.Features() }

func namedSealed(name string) (Backend, bool) {
	base, ok := strings.CutSuffix(name, SealedSuffix)
	if !ok {
		return Backend{}, false
	}
	b, ok := Named(base)
	if !ok {
		return Backend{}, false
	}
	return Sealed(b), true
}

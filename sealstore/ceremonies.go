package sealstore

import (
	"context"
	"errors"
	"time"

	"github.com/webauthnkit/webauthnkit"
)

// Ceremonies seals the data of a wrapped webauthnkit.ChallengeStore. The
// records kept there for minutes hold personal data in clear otherwise: a
// login ceremony carries the user it found (name, display name, email), a
// registration the new account's name, package account's pending sign-ups
// the email address and username. Each record is sealed with the keyring's
// primary key, bound to its ceremony ID (a record moved to another ID does
// not open: TakeCeremony returns ErrTampered, and the record is gone).
//
// Records live minutes, so rotation needs no Rekey: keep a retired key in
// the ring for the longest record lifetime (the library's ChallengeTTL,
// package account's code lifetimes) before removing it.
type Ceremonies struct {
	inner    webauthnkit.ChallengeStore
	store    *Store // keyring and OnTamper, shared with a Store; nil: own
	ring     *Keyring
	onTamper func(context.Context, Tamper)
}

var _ webauthnkit.ChallengeStore = (*Ceremonies)(nil)

// NewCeremonies wraps inner with cfg's keyring. Use Store.Ceremonies
// instead to share a Store's keyring (and its rotation).
func NewCeremonies(inner webauthnkit.ChallengeStore, cfg Config) (*Ceremonies, error) {
	if inner == nil {
		return nil, errors.New("sealstore: NewCeremonies: nil ChallengeStore")
	}
	if cfg.Keyring == nil {
		return nil, errors.New("sealstore: NewCeremonies: Config.Keyring is required")
	}
	return &Ceremonies{inner: inner, ring: cfg.Keyring, onTamper: cfg.OnTamper}, nil
}

// Ceremonies wraps inner with the Store's keyring: SetKeyring on the Store
// applies to both.
func (s *Store) Ceremonies(inner webauthnkit.ChallengeStore) *Ceremonies {
	return &Ceremonies{inner: inner, store: s}
}

func (c *Ceremonies) keyring() *Keyring {
	if c.store != nil {
		return c.store.ring.Load()
	}
	return c.ring
}

const fieldCeremony = "ceremony"

func ceremonyAAD(id string) []byte {
	b := make([]byte, 0, len(aadPrefix)+len(fieldCeremony)+1+2+len(id))
	b = append(b, aadPrefix...)
	b = append(b, fieldCeremony...)
	b = append(b, 0)
	return appendBytes(b, []byte(id))
}

// PutCeremony seals data (bound to id) and stores it.
func (c *Ceremonies) PutCeremony(ctx context.Context, id string, data []byte, expiresAt time.Time) error {
	return fail("PutCeremony", c.inner.PutCeremony(ctx, id, c.keyring().seal(data, ceremonyAAD(id)), expiresAt))
}

// TakeCeremony takes the record and opens it.
func (c *Ceremonies) TakeCeremony(ctx context.Context, id string) ([]byte, error) {
	const op = "TakeCeremony"
	kr := c.keyring()
	sealed, err := c.inner.TakeCeremony(ctx, id)
	if err != nil {
		return nil, fail(op, err)
	}
	data, _, err := kr.open(sealed, ceremonyAAD(id))
	if err != nil && errors.Is(err, ErrKeyMissing) && c.store != nil {
		if cur := c.store.ring.Load(); cur != kr {
			data, _, err = cur.open(sealed, ceremonyAAD(id))
		}
	}
	if err != nil {
		onTamper := c.onTamper
		if c.store != nil {
			onTamper = c.store.onTamper
		}
		if onTamper != nil {
			onTamper(ctx, Tamper{Op: op, Err: err})
		}
		return nil, fail(op, err)
	}
	if data == nil {
		data = []byte{}
	}
	return data, nil
}

// Features forwards the wrapped store's ProcessLocal.
func (c *Ceremonies) Features() webauthnkit.Features {
	return webauthnkit.Features{ProcessLocal: c.inner.Features().ProcessLocal}
}

package sealstore_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/internal/backendtest"
	"github.com/webauthnkit/webauthnkit/sealstore"
)

// The tamper tests play a database writer: they change rows through the
// wrapped (inner) store, around the seal, as someone with write access to
// the tables or keys would, and check that every read of a changed row
// fails closed (ErrTampered, OnTamper told, the login refused with an event)
// and that untouched rows still work.

// tamperLog collects OnTamper reports and login failure events.
type tamperLog struct {
	mu      sync.Mutex
	tampers []sealstore.Tamper
	events  []webauthnkit.Event
}

func (l *tamperLog) tamper(tp sealstore.Tamper) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.tampers = append(l.tampers, tp)
}

func (l *tamperLog) event(ev webauthnkit.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if ev.Type == webauthnkit.EventLoginFailed {
		l.events = append(l.events, ev)
	}
}

// reported says whether OnTamper named this credential (or user, id nil).
func (l *tamperLog) reported(handle, id []byte) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, tp := range l.tampers {
		if bytes.Equal(tp.CredentialID, id) && (handle == nil || bytes.Equal(tp.UserHandle, handle)) {
			return true
		}
	}
	return false
}

type tamperFixture struct {
	*site
	log  *tamperLog
	a, b *account
}

func newTamperFixture(t *testing.T, be backendtest.Backend) *tamperFixture {
	log := &tamperLog{}
	s, inner := sealed(t, be, testKeyring(t, nil), log.tamper)
	st := newSite(t, s, inner, log.event)
	f := &tamperFixture{site: st, log: log, a: st.register(t), b: st.register(t)}
	for _, acc := range []*account{f.a, f.b} {
		_, err := st.login(acc, true)
		require.NoError(t, err, "login before tampering")
	}
	return f
}

func (f *tamperFixture) handle(a *account) []byte { return a.reg.User.Handle }
func (f *tamperFixture) credID(a *account) []byte { return a.reg.Credential.ID }

// innerCred reads a credential's stored row, around the seal.
func (f *tamperFixture) innerCred(t *testing.T, a *account) webauthnkit.Credential {
	t.Helper()
	c, err := f.inner.GetCredential(t.Context(), f.credID(a))
	require.NoError(t, err)
	return c
}

func (f *tamperFixture) innerUser(t *testing.T, a *account) webauthnkit.User {
	t.Helper()
	u, err := f.inner.GetUserByHandle(t.Context(), f.handle(a))
	require.NoError(t, err)
	return u
}

// replaceCred writes row in place of the stored credential with the same
// ID (a DB writer's UPDATE; the inner API has no update of a public key or
// owner, so: delete, then insert).
func (f *tamperFixture) replaceCred(t *testing.T, oldOwner []byte, row webauthnkit.Credential) {
	t.Helper()
	require.NoError(t, f.inner.DeleteCredential(t.Context(), oldOwner, row.ID, true))
	require.NoError(t, f.inner.AddCredential(t.Context(), row))
}

// requireCredRefused checks that every read of a's credential fails closed
// and that a's login is refused: by BeginLogin for a login by username
// (the allow list cannot be read), by FinishLogin with a login.failed
// event for a discoverable one.
func (f *tamperFixture) requireCredRefused(t *testing.T, a *account, viaUsername bool) {
	t.Helper()
	f.requireCredRefusedWith(t, a, viaUsername, sealstore.ErrTampered)
}

func (f *tamperFixture) requireCredRefusedWith(t *testing.T, a *account, viaUsername bool, want error) {
	t.Helper()
	_, err := f.store.GetCredential(t.Context(), f.credID(a))
	require.ErrorIs(t, err, want, "GetCredential of a tampered row")
	require.True(t, f.log.reported(nil, f.credID(a)), "OnTamper not told about the credential")
	_, err = f.login(a, viaUsername)
	require.Error(t, err, "a login with a tampered credential was accepted")
	require.ErrorIs(t, err, want, "the login error names the cause")
	var we *webauthnkit.Error
	require.True(t, errors.As(err, &we))
	require.Equal(t, webauthnkit.CodeInternal, we.Code)
	if viaUsername {
		return // refused by BeginLogin (ListCredentials failed): no ceremony, no event; OnTamper was told
	}
	f.log.mu.Lock()
	defer f.log.mu.Unlock()
	require.NotEmpty(t, f.log.events, "no login.failed event")
	require.ErrorIs(t, f.log.events[len(f.log.events)-1].Err, want)
}

func (f *tamperFixture) requireLoginWorks(t *testing.T, a *account) {
	t.Helper()
	_, err := f.login(a, true)
	require.NoError(t, err, "an untouched account must still sign in")
}

func flipByte(t *testing.T, sealed string, i int) string {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(sealed)
	require.NoError(t, err)
	if i < 0 {
		i += len(raw)
	}
	raw[i] ^= 0x01
	return base64.RawURLEncoding.EncodeToString(raw)
}

func forEachBackend(t *testing.T, f func(t *testing.T, be backendtest.Backend)) {
	for _, be := range backendtest.All() {
		t.Run(be.Name, func(t *testing.T) { f(t, be) })
	}
}

// TestTamperFlipByte: one flipped bit anywhere in a sealed value (format
// byte, key ID, nonce, ciphertext, tag) makes it fail closed: ErrTampered,
// or ErrKeyMissing when the flip renames the key ("k1" -> "j1").
func TestTamperFlipByte(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be backendtest.Backend) {
		for _, pos := range []int{0, 2, 5, 20, -1} {
			f := newTamperFixture(t, be)
			row := f.innerCred(t, f.a)
			require.NoError(t, f.inner.RenameCredential(t.Context(), f.handle(f.a), row.ID, flipByte(t, row.Name, pos)))
			want := sealstore.ErrTampered
			if pos == 2 {
				want = sealstore.ErrKeyMissing
			}
			f.requireCredRefusedWith(t, f.a, pos%2 == 0, want)

			urow := f.innerUser(t, f.b)
			require.NoError(t, f.inner.UpdateUser(t.Context(), urow.Handle, urow.Name, flipByte(t, urow.DisplayName, pos)))
			_, err := f.store.GetUserByHandle(t.Context(), urow.Handle)
			require.ErrorIs(t, err, want, "byte %d of the user record", pos)
			_, err = f.store.GetUserByName(t.Context(), f.b.name)
			require.ErrorIs(t, err, want)
			require.True(t, f.log.reported(urow.Handle, nil))
			_, err = f.login(f.b, true)
			require.ErrorIs(t, err, want, "login of a user whose record was changed")
		}
	})
}

// TestTamperSwapRows: values moved between rows or fields do not open.
func TestTamperSwapRows(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be backendtest.Backend) {
		t.Run("credential_records", func(t *testing.T) {
			f := newTamperFixture(t, be)
			ra, rb := f.innerCred(t, f.a), f.innerCred(t, f.b)
			require.NoError(t, f.inner.RenameCredential(t.Context(), ra.UserHandle, ra.ID, rb.Name))
			require.NoError(t, f.inner.RenameCredential(t.Context(), rb.UserHandle, rb.ID, ra.Name))
			f.requireCredRefused(t, f.a, true)
			f.requireCredRefused(t, f.b, false)
		})
		t.Run("user_records", func(t *testing.T) {
			f := newTamperFixture(t, be)
			ua, ub := f.innerUser(t, f.a), f.innerUser(t, f.b)
			require.NoError(t, f.inner.UpdateUser(t.Context(), ua.Handle, ua.Name, ub.DisplayName))
			require.NoError(t, f.inner.UpdateUser(t.Context(), ub.Handle, ub.Name, ua.DisplayName))
			for _, acc := range []*account{f.a, f.b} {
				_, err := f.store.GetUserByHandle(t.Context(), f.handle(acc))
				require.ErrorIs(t, err, sealstore.ErrTampered)
				_, err = f.login(acc, false)
				require.ErrorIs(t, err, sealstore.ErrTampered)
			}
		})
		t.Run("name_index", func(t *testing.T) {
			// a's name now leads to b's row: the lookup must not return b.
			f := newTamperFixture(t, be)
			ua, ub := f.innerUser(t, f.a), f.innerUser(t, f.b)
			require.NoError(t, f.inner.UpdateUser(t.Context(), ua.Handle, "tmp-"+ua.Name, ua.DisplayName))
			require.NoError(t, f.inner.UpdateUser(t.Context(), ub.Handle, ua.Name, ub.DisplayName))
			require.NoError(t, f.inner.UpdateUser(t.Context(), ua.Handle, ub.Name, ua.DisplayName))
			_, err := f.store.GetUserByName(t.Context(), f.a.name)
			require.ErrorIs(t, err, sealstore.ErrTampered)
			_, err = f.login(f.a, true)
			require.ErrorIs(t, err, sealstore.ErrTampered)
		})
		t.Run("credential_record_into_user_field", func(t *testing.T) {
			f := newTamperFixture(t, be)
			ra, ua := f.innerCred(t, f.a), f.innerUser(t, f.a)
			require.NoError(t, f.inner.UpdateUser(t.Context(), ua.Handle, ua.Name, ra.Name))
			_, err := f.store.GetUserByHandle(t.Context(), ua.Handle)
			require.ErrorIs(t, err, sealstore.ErrTampered)
		})
	})
}

// TestTamperPublicKeys: a database writer cannot swap keys between
// accounts, edit a key, give an account a passkey of their own, or flip a
// protected flag: the changed credential fails closed.
func TestTamperPublicKeys(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be backendtest.Backend) {
		t.Run("swap_between_accounts", func(t *testing.T) {
			f := newTamperFixture(t, be)
			ra, rb := f.innerCred(t, f.a), f.innerCred(t, f.b)
			ra.PublicKey, rb.PublicKey = rb.PublicKey, ra.PublicKey
			f.replaceCred(t, ra.UserHandle, ra)
			f.replaceCred(t, rb.UserHandle, rb)
			f.requireCredRefused(t, f.a, true)
			f.requireCredRefused(t, f.b, false)
		})
		t.Run("edited_key", func(t *testing.T) {
			f := newTamperFixture(t, be)
			ra := f.innerCred(t, f.a)
			ra.PublicKey[len(ra.PublicKey)-1] ^= 1
			f.replaceCred(t, ra.UserHandle, ra)
			f.requireCredRefused(t, f.a, false)
			f.requireLoginWorks(t, f.b)
		})
		t.Run("attackers_passkey_moved_to_victim", func(t *testing.T) {
			// The attacker signs up legitimately, then moves the row of
			// their passkey (record and all) to the victim's account.
			f := newTamperFixture(t, be)
			mallory := f.register(t)
			rm := f.innerCred(t, mallory)
			moved := rm
			moved.UserHandle = f.handle(f.a)
			f.replaceCred(t, rm.UserHandle, moved)
			_, err := f.store.GetCredential(t.Context(), rm.ID)
			require.ErrorIs(t, err, sealstore.ErrTampered)
			_, err = f.store.ListCredentials(t.Context(), f.handle(f.a))
			require.ErrorIs(t, err, sealstore.ErrTampered, "the victim's list holds a planted passkey")
			_, err = f.login(mallory, false)
			require.ErrorIs(t, err, sealstore.ErrTampered, "the planted passkey signs in")
		})
		t.Run("row_written_around_the_seal", func(t *testing.T) {
			f := newTamperFixture(t, be)
			planted := f.innerCred(t, f.a)
			planted.ID = bytes.Repeat([]byte{7}, 32)
			planted.Name = "" // no sealed record
			require.NoError(t, f.inner.AddCredential(t.Context(), planted))
			_, err := f.store.GetCredential(t.Context(), planted.ID)
			require.ErrorIs(t, err, sealstore.ErrTampered)
			planted.ID = bytes.Repeat([]byte{8}, 32)
			planted.Name = f.innerCred(t, f.a).Name // a's record, copied
			require.NoError(t, f.inner.AddCredential(t.Context(), planted))
			_, err = f.store.GetCredential(t.Context(), planted.ID)
			require.ErrorIs(t, err, sealstore.ErrTampered)
		})
		t.Run("second_factor_only_flag", func(t *testing.T) {
			f := newTamperFixture(t, be)
			ra := f.innerCred(t, f.a)
			ra.SecondFactorOnly = !ra.SecondFactorOnly
			f.replaceCred(t, ra.UserHandle, ra)
			_, err := f.store.GetCredential(t.Context(), ra.ID)
			require.ErrorIs(t, err, sealstore.ErrTampered)
		})
	})
}

// TestKeyRemoved: a value whose key is not in the ring fails with
// ErrKeyMissing naming the key; a different secret under the same ID fails
// authentication. Neither returns data.
func TestKeyRemoved(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be backendtest.Backend) {
		index := sealstore.RandomSecret()
		k1 := sealstore.NewKey("k1")
		log := &tamperLog{}
		s, inner := sealed(t, be, testKeyring(t, index, k1), log.tamper)
		st := newSite(t, s, inner, log.event)
		acc := st.register(t)

		without, err := sealstore.New(inner, sealstore.Config{Keyring: testKeyring(t, index, sealstore.NewKey("k2")), OnTamper: func(_ context.Context, tp sealstore.Tamper) { log.tamper(tp) }})
		require.NoError(t, err)
		_, err = without.GetUserByHandle(t.Context(), acc.reg.User.Handle)
		require.ErrorIs(t, err, sealstore.ErrKeyMissing)
		var km *sealstore.KeyMissingError
		require.ErrorAs(t, err, &km)
		require.Equal(t, "k1", km.KeyID)
		require.NotErrorIs(t, err, sealstore.ErrTampered)
		_, err = without.GetCredential(t.Context(), acc.reg.Credential.ID)
		require.ErrorIs(t, err, sealstore.ErrKeyMissing)
		require.True(t, log.reported(nil, acc.reg.Credential.ID))

		impostor, err := sealstore.New(inner, sealstore.Config{Keyring: testKeyring(t, index, sealstore.NewKey("k1"))})
		require.NoError(t, err)
		_, err = impostor.GetCredential(t.Context(), acc.reg.Credential.ID)
		require.ErrorIs(t, err, sealstore.ErrTampered, "another secret under the same ID")

		// The lookup by name needs the index key: with another one the
		// user is simply not found (the index differs), never another user.
		other, err := sealstore.New(inner, sealstore.Config{Keyring: testKeyring(t, nil, k1)})
		require.NoError(t, err)
		_, err = other.GetUserByName(t.Context(), acc.name)
		require.ErrorIs(t, err, webauthnkit.ErrNotFound)

		// The original ring still opens everything.
		_, err = st.login(acc, true)
		require.NoError(t, err)
	})
}

// TestNothingInClear: what reaches the wrapped store holds no name,
// display name, email, passkey name, AAGUID or transport.
func TestNothingInClear(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be backendtest.Backend) {
		s, inner := sealed(t, be, testKeyring(t, nil), nil)
		u := storetestUser()
		c := storetestCredential(u.Handle)
		require.NoError(t, s.CreateUser(t.Context(), u, &c))
		require.NoError(t, s.SetEmail(t.Context(), u.Handle, "zoe@example.org", u.CreatedAt))
		row, err := inner.GetUserByHandle(t.Context(), u.Handle)
		require.NoError(t, err)
		crow, err := inner.GetCredential(t.Context(), c.ID)
		require.NoError(t, err)
		all := row.Name + row.DisplayName + row.Email + crow.Name + string(crow.AAGUID) + crow.AttestationFormat + crow.Attachment
		for _, tr := range crow.Transports {
			all += tr
		}
		for _, secret := range []string{u.Name, u.DisplayName, "zoe@example.org", c.Name, string(c.AAGUID), c.AttestationFormat, c.Attachment, "internal", "hybrid"} {
			require.NotContains(t, all, secret)
		}
		require.Equal(t, c.PublicKey, crow.PublicKey, "the public key is stored in clear (bound to the record)")
		require.Equal(t, c.SignCount, crow.SignCount, "the counter stays in clear for the compare-and-set")
		got, err := s.GetUserByEmail(t.Context(), "zoe@example.org")
		require.NoError(t, err)
		require.Equal(t, u.Name, got.Name)
	})
}

package webauthnkit_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/internal/storewrap"
)

func TestNormalizeEmail(t *testing.T) {
	local64 := strings.Repeat("a", 64)
	domain := func(n int) string { // a valid domain of n bytes
		var labels []string
		for n > 0 {
			l := min(n, 63)
			if n-l == 1 { // no empty last label
				l--
			}
			labels = append(labels, strings.Repeat("d", l))
			n -= l + 1
		}
		return strings.Join(labels, ".")
	}
	longest := local64 + "@" + domain(webauthnkit.MaxEmailLength-65)
	require.Len(t, longest, webauthnkit.MaxEmailLength)
	for in, want := range map[string]string{
		"alice@example.com":          "alice@example.com",
		"  Alice@Example.COM \n":     "alice@example.com", // the whole address lower-cased
		"a+tag@sub.example.org":      "a+tag@sub.example.org",
		"user@bücher.example":        "user@xn--bcher-kva.example", // IDNA to ASCII
		"user@BÜCHER.example":        "user@xn--bcher-kva.example",
		"user@xn--bcher-kva.example": "user@xn--bcher-kva.example",
		"a@ＥＸＡＭＰＬＥ.com":              "a@example.com", // full-width folded by the UTS #46 mapping
		"ÄLICE@example.com":          "älice@example.com",
		"A\u0308lice@example.com":    "älice@example.com", // NFC
		longest:                      longest,
	} {
		got, err := webauthnkit.NormalizeEmail(in)
		if assert.NoError(t, err, "%q", in) {
			assert.Equal(t, want, got, "%q", in)
		}
	}
	for _, in := range []string{
		"", "   ",
		"alice", "@example.com", "alice@", "alice@@example.com",
		"Alice <alice@example.com>", // a display name
		"alice@example.com (Alice)", // a comment
		`"alice smith"@example.com`, // a quoted local part
		`"alice"@example.com`,       // quoted without need: not the bare address
		"alice@[192.0.2.1]",         // a domain literal
		"a..b@example.com", ".a@example.com", "a@example..com", "a@example.com.",
		"a@-example.com", "a@exa_mple.com",
		"ali\u200bce@example.com", // zero-width space
		"alice@exa\u200bmple.com", // in the domain
		"ali\u00adce@example.com", // soft hyphen
		"\u202eali@example.com",   // bidi override
		"ali\u3164ce@example.com", // Hangul filler
		"ali\ufe0fce@example.com", // variation selector
		"ali\x00ce@example.com", "ali\tce@example.com", "alice\u00a0@example.com",
		"alice@example.com\x7f",
		"al\xffice@example.com",                               // invalid UTF-8
		strings.Repeat("a", 65) + "@example.com",              // local part > 64
		local64 + "@" + domain(webauthnkit.MaxEmailLength-64), // 255 bytes
		strings.Repeat("a", 5000) + "@example.com",
	} {
		got, err := webauthnkit.NormalizeEmail(in)
		require.ErrorIs(t, err, webauthnkit.ErrInvalidRequest, "%q gave %q", in, got)
		assert.Empty(t, got)
		if len(in) > 3 {
			assert.NotContains(t, err.Error(), strings.TrimSpace(in), "the error repeats the address")
		}
	}
}

// The same mailbox written in two cases is one account: a second account
// cannot take it, and the lookup finds it whatever the case.
func TestCreateUserWithEmail(t *testing.T) {
	e := newEnv(t)
	u, err := e.rp.CreateUser(ctx, webauthnkit.NewUser{Name: "alice", Email: " Alice@Example.COM "})
	require.NoError(t, err)
	assert.Equal(t, "alice@example.com", u.Email)
	assert.True(t, u.EmailVerifiedAt.IsZero(), "unverified by default")
	stored, err := e.rp.UserByHandle(ctx, u.Handle)
	require.NoError(t, err)
	assert.Equal(t, u, stored)

	v, err := e.rp.CreateUser(ctx, webauthnkit.NewUser{Name: "bob", Email: "bob@example.com", EmailVerified: true})
	require.NoError(t, err)
	assert.Equal(t, e.clock.Now().UTC(), v.EmailVerifiedAt)
	assert.Equal(t, time.UTC, v.EmailVerifiedAt.Location())

	none, err := e.rp.CreateUser(ctx, webauthnkit.NewUser{Name: "carol", EmailVerified: true})
	require.NoError(t, err)
	assert.Empty(t, none.Email)
	assert.True(t, none.EmailVerifiedAt.IsZero(), "no address, nothing verified")
	_, err = e.rp.CreateUser(ctx, webauthnkit.NewUser{Name: "dave"})
	require.NoError(t, err, "two accounts without an address")

	_, err = e.rp.CreateUser(ctx, webauthnkit.NewUser{Name: "mallory", Email: "ALICE@example.com"})
	require.ErrorIs(t, err, webauthnkit.ErrEmailTaken)
	require.NotErrorIs(t, err, webauthnkit.ErrUsernameTaken)
	assert.NotContains(t, err.Error(), "alice@example.com")
	_, err = e.store.GetUserByName(ctx, "mallory")
	require.ErrorIs(t, err, webauthnkit.ErrNotFound, "nothing stored")

	_, err = e.rp.CreateUser(ctx, webauthnkit.NewUser{Name: "alice", Email: "alice@example.com"})
	require.ErrorIs(t, err, webauthnkit.ErrUsernameTaken, "both taken: the name is reported")
	_, err = e.rp.CreateUser(ctx, webauthnkit.NewUser{Name: "alice", Email: "new@example.com"})
	require.ErrorIs(t, err, webauthnkit.ErrUsernameTaken)

	_, err = e.rp.CreateUser(ctx, webauthnkit.NewUser{Name: "erin", Email: "Erin <erin@example.com>"})
	require.ErrorIs(t, err, webauthnkit.ErrInvalidRequest)
	_, err = e.store.GetUserByName(ctx, "erin")
	require.ErrorIs(t, err, webauthnkit.ErrNotFound, "nothing stored")
}

// An application-chosen handle in use is still reported as such when the
// new account also has an address.
func TestCreateUserWithEmailHandleTaken(t *testing.T) {
	e := newEnv(t)
	_, err := e.rp.CreateUser(ctx, webauthnkit.NewUser{Handle: []byte("app-1"), Name: "alice", Email: "alice@example.com"})
	require.NoError(t, err)
	_, err = e.rp.CreateUser(ctx, webauthnkit.NewUser{Handle: []byte("app-1"), Name: "bob", Email: "bob@example.com"})
	require.ErrorIs(t, err, webauthnkit.ErrUserExists)
	require.NotErrorIs(t, err, webauthnkit.ErrEmailTaken)
}

func TestUserByEmail(t *testing.T) {
	e := newEnv(t)
	u, err := e.rp.CreateUser(ctx, webauthnkit.NewUser{Name: "alice", Email: "alice@bücher.example"})
	require.NoError(t, err)
	for _, in := range []string{"alice@bücher.example", " ALICE@xn--bcher-kva.example"} {
		got, err := e.rp.UserByEmail(ctx, in)
		require.NoError(t, err, "%q", in)
		assert.Equal(t, u, got)
	}
	_, err = e.rp.UserByEmail(ctx, "bob@example.com")
	require.ErrorIs(t, err, webauthnkit.ErrUserNotFound)
	for _, in := range []string{"", "not an address", "Alice <alice@bücher.example>"} {
		_, err = e.rp.UserByEmail(ctx, in)
		require.ErrorIs(t, err, webauthnkit.ErrInvalidRequest, "%q", in)
	}
}

func TestUserByEmailStoreDown(t *testing.T) {
	s := newCountingStore(t)
	e := newEnv(t, func(c *webauthnkit.Config) { c.Credentials, c.Ceremonies = s, s })
	s.Fail(storewrap.ErrDown, storewrap.GetUserByEmail)
	_, err := e.rp.UserByEmail(ctx, "alice@example.com")
	require.ErrorIs(t, err, webauthnkit.ErrStoreUnavailable)
}

func TestSetEmail(t *testing.T) {
	e := newEnv(t)
	alice, err := e.rp.CreateUser(ctx, webauthnkit.NewUser{Name: "alice"})
	require.NoError(t, err)
	bob, err := e.rp.CreateUser(ctx, webauthnkit.NewUser{Name: "bob", Email: "bob@example.com", EmailVerified: true})
	require.NoError(t, err)
	events := func() int { return len(e.events.types()) }

	// Set, unverified.
	u, err := e.rp.SetEmail(ctx, alice.Handle, "Alice@Example.com", false)
	require.NoError(t, err)
	assert.Equal(t, "alice@example.com", u.Email)
	assert.True(t, u.EmailVerifiedAt.IsZero())
	ev := e.events.last()
	assert.Equal(t, webauthnkit.Event{Type: webauthnkit.EventEmailChanged, Time: e.clock.Now(), UserHandle: alice.Handle}, ev,
		"the event carries the handle only, no address and no name")
	requireStored(t, e, u)

	// Verified: now.
	e.clock.Advance(time.Minute)
	verifiedAt := e.clock.Now().UTC()
	u, err = e.rp.SetEmail(ctx, alice.Handle, "alice@example.com", true)
	require.NoError(t, err)
	assert.Equal(t, verifiedAt, u.EmailVerifiedAt)
	requireStored(t, e, u)

	// Verified again: the first proof's time is kept, nothing changes.
	n := events()
	e.clock.Advance(time.Minute)
	u, err = e.rp.SetEmail(ctx, alice.Handle, "ALICE@example.com", true)
	require.NoError(t, err)
	assert.Equal(t, verifiedAt, u.EmailVerifiedAt)
	assert.Equal(t, n, events(), "no change, no event")

	// Another account's address: refused, nothing changes.
	_, err = e.rp.SetEmail(ctx, alice.Handle, "BOB@example.com", true)
	require.ErrorIs(t, err, webauthnkit.ErrEmailTaken)
	assert.NotContains(t, err.Error(), "bob@example.com")
	assert.Equal(t, n, events())
	requireStored(t, e, u)
	requireStored(t, e, bob)

	// Changed: unverified, the old address free.
	u, err = e.rp.SetEmail(ctx, alice.Handle, "alice@new.example", false)
	require.NoError(t, err)
	assert.True(t, u.EmailVerifiedAt.IsZero())
	requireStored(t, e, u)
	_, err = e.rp.UserByEmail(ctx, "alice@example.com")
	require.ErrorIs(t, err, webauthnkit.ErrUserNotFound)
	_, err = e.rp.SetEmail(ctx, bob.Handle, "alice@example.com", false)
	require.NoError(t, err, "the old address is free")

	// Changed while verified: a new address needs its own proof, so
	// verified=true stamps a new time.
	e.clock.Advance(time.Minute)
	u, err = e.rp.SetEmail(ctx, alice.Handle, "alice@third.example", true)
	require.NoError(t, err)
	assert.Equal(t, e.clock.Now().UTC(), u.EmailVerifiedAt)

	// Unverified again, then removed.
	u, err = e.rp.SetEmail(ctx, alice.Handle, "alice@third.example", false)
	require.NoError(t, err)
	assert.True(t, u.EmailVerifiedAt.IsZero())
	n = events()
	u, err = e.rp.SetEmail(ctx, alice.Handle, "  ", false)
	require.NoError(t, err)
	assert.Empty(t, u.Email)
	assert.Equal(t, n+1, events())
	requireStored(t, e, u)
	_, err = e.rp.UserByEmail(ctx, "alice@third.example")
	require.ErrorIs(t, err, webauthnkit.ErrUserNotFound)

	// Bad input.
	_, err = e.rp.SetEmail(ctx, alice.Handle, "", true)
	require.ErrorIs(t, err, webauthnkit.ErrInvalidRequest, "an empty address cannot be verified")
	_, err = e.rp.SetEmail(ctx, alice.Handle, "alice@exa\u200bmple.com", false)
	require.ErrorIs(t, err, webauthnkit.ErrInvalidRequest)
	_, err = e.rp.SetEmail(ctx, []byte("nobody"), "x@example.com", false)
	require.ErrorIs(t, err, webauthnkit.ErrUserNotFound)
	for _, ev := range e.events.events {
		if ev.Type == webauthnkit.EventEmailChanged {
			assert.Empty(t, ev.Username, "no personal data in email events")
			assert.Nil(t, ev.Err)
		}
	}
}

// Of two accounts claiming one free address at once, exactly one gets it.
func TestSetEmailConcurrent(t *testing.T) {
	e := newEnv(t)
	for trial := range 10 {
		var handles [2][]byte
		for i := range handles {
			u, err := e.rp.CreateUser(ctx, webauthnkit.NewUser{Name: "user" + string(rune('a'+i)) + strings.Repeat("x", trial)})
			require.NoError(t, err)
			handles[i] = u.Handle
		}
		addr := "shared" + strings.Repeat("x", trial) + "@example.com"
		var errs [2]error
		start := make(chan struct{})
		done := make(chan int)
		for i := range handles {
			go func() {
				<-start
				_, errs[i] = e.rp.SetEmail(ctx, handles[i], addr, false)
				done <- i
			}()
		}
		close(start)
		<-done
		<-done
		wins := 0
		for _, err := range errs {
			if err == nil {
				wins++
			} else {
				require.ErrorIs(t, err, webauthnkit.ErrEmailTaken)
			}
		}
		require.Equal(t, 1, wins)
	}
}

func TestSetEmailStoreDown(t *testing.T) {
	s := newCountingStore(t)
	e := newEnv(t, func(c *webauthnkit.Config) { c.Credentials, c.Ceremonies = s, s })
	u, err := e.rp.CreateUser(ctx, webauthnkit.NewUser{Name: "alice"})
	require.NoError(t, err)
	s.Fail(storewrap.ErrDown, storewrap.SetEmail)
	_, err = e.rp.SetEmail(ctx, u.Handle, "alice@example.com", false)
	require.ErrorIs(t, err, webauthnkit.ErrStoreUnavailable)
	assert.NotEqual(t, webauthnkit.EventEmailChanged, e.events.last().Type)
}

// requireStored checks that the store holds want for its handle.
func requireStored(t *testing.T, e *env, want webauthnkit.User) {
	t.Helper()
	got, err := e.rp.UserByHandle(ctx, want.Handle)
	require.NoError(t, err)
	assert.Equal(t, want, got)
	if want.Email != "" {
		got, err = e.rp.UserByEmail(ctx, want.Email)
		require.NoError(t, err)
		assert.Equal(t, want, got)
	}
}

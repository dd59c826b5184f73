package totp_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image/png"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit/memstore"
	"github.com/webauthnkit/webauthnkit/totp"
)

func TestEnrollConfirmVerify(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	user := userID(1)

	e, err := f.totp.Begin(ctx, user, "alice@example.com")
	require.NoError(t, err)
	u, err := url.Parse(e.URI)
	require.NoError(t, err)
	require.Equal(t, "otpauth", u.Scheme)
	require.Equal(t, "totp", u.Host)
	require.Equal(t, "/Example:alice@example.com", u.Path)
	q := u.Query()
	require.Equal(t, e.Secret, q.Get("secret"))
	require.Equal(t, "Example", q.Get("issuer"))
	require.Equal(t, "SHA1", q.Get("algorithm"))
	require.Equal(t, "6", q.Get("digits"))
	require.Equal(t, "30", q.Get("period"))
	require.Len(t, e.Secret, 32, "160-bit secret in base32")
	img, err := png.Decode(bytes.NewReader(e.QRCodePNG))
	require.NoError(t, err)
	require.Equal(t, 256, img.Bounds().Dx())
	require.Equal(t, start.Add(totp.DefaultPendingTTL), e.ExpiresAt)
	require.LessOrEqual(t, len(e.Sealed), totp.MaxSealedLen)

	// A pending value is not a confirmed one.
	require.ErrorIs(t, f.totp.Verify(ctx, e.Sealed, user, f.code(e.Secret, 0)), totp.ErrSealedValue)

	confirmCode := f.code(e.Secret, 0)
	sealed, err := f.totp.Confirm(ctx, e.Sealed, user, confirmCode)
	require.NoError(t, err)
	require.LessOrEqual(t, len(sealed), totp.MaxSealedLen)
	require.NotContains(t, string(sealed), e.Secret)

	// The confirmation code was consumed.
	require.ErrorIs(t, f.totp.Verify(ctx, sealed, user, confirmCode), totp.ErrCodeReused)

	f.clock.Add(30 * time.Second)
	require.NoError(t, f.totp.Verify(ctx, sealed, user, f.code(e.Secret, 0)))
	f.clock.Add(30 * time.Second)
	code := f.code(e.Secret, 0)
	require.NoError(t, f.totp.Verify(ctx, sealed, user, code[:3]+" "+code[3:]+" "), "spaces as apps display them")
}

func TestConfirmWrongCodeAndExpiry(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	user := userID(1)
	e, err := f.totp.Begin(ctx, user, "alice")
	require.NoError(t, err)

	_, err = f.totp.Confirm(ctx, e.Sealed, user, f.wrongCode(e.Secret))
	require.ErrorIs(t, err, totp.ErrInvalidCode)
	_, err = f.totp.Confirm(ctx, e.Sealed, userID(2), f.code(e.Secret, 0))
	require.ErrorIs(t, err, totp.ErrSealedValue, "a pending value is bound to the user of Begin")

	f.clock.Add(totp.DefaultPendingTTL + time.Second)
	_, err = f.totp.Confirm(ctx, e.Sealed, user, f.code(e.Secret, 0))
	require.ErrorIs(t, err, totp.ErrEnrollExpired)
}

func TestVerifySkew(t *testing.T) {
	for _, tc := range []struct {
		steps int
		ok    bool
	}{{-2, false}, {-1, true}, {0, true}, {1, true}, {2, false}} {
		t.Run(fmt.Sprintf("step%+d", tc.steps), func(t *testing.T) {
			f := newFixture(t, nil)
			sealed, secret := f.enrol(userID(1))
			// Past the step Confirm used, in the middle of a step, so that
			// ±n steps are unambiguous.
			f.clock.Add(45 * time.Second)
			err := f.totp.Verify(context.Background(), sealed, userID(1), f.code(secret, time.Duration(tc.steps)*30*time.Second))
			if tc.ok {
				require.NoError(t, err)
			} else {
				require.ErrorIs(t, err, totp.ErrInvalidCode)
			}
		})
	}
	t.Run("NoSkew", func(t *testing.T) {
		f := newFixture(t, func(c *totp.Config) { c.NoSkew = true })
		sealed, secret := f.enrol(userID(1))
		require.ErrorIs(t, f.totp.Verify(context.Background(), sealed, userID(1), f.code(secret, -30*time.Second)), totp.ErrInvalidCode)
		require.NoError(t, f.totp.Verify(context.Background(), sealed, userID(1), f.code(secret, 0)))
	})
}

func TestVerifyRefusesReuse(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	sealed, secret := f.enrol(userID(1))
	code := f.code(secret, 0)
	require.NoError(t, f.totp.Verify(ctx, sealed, userID(1), code))
	require.ErrorIs(t, f.totp.Verify(ctx, sealed, userID(1), code), totp.ErrCodeReused)
	// Still refused one step later, while the code is within the skew.
	f.clock.Add(30 * time.Second)
	require.ErrorIs(t, f.totp.Verify(ctx, sealed, userID(1), code), totp.ErrCodeReused)
	// A second instance sharing the store sees the use too.
	second := newFixtureOn(t, f.clock, f.store, nil)
	require.ErrorIs(t, second.totp.Verify(ctx, sealed, userID(1), code), totp.ErrCodeReused)
}

// raceSameCode verifies one valid code from 20 goroutines (through two
// TOTP instances sharing store) and requires exactly one success; the
// others must be ErrCodeReused.
func raceSameCode(t *testing.T, f, g *fixture) {
	t.Helper()
	ctx := context.Background()
	user := userID(7)
	sealed, secret := f.enrol(user)
	code := f.code(secret, 0)
	const n = 20
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		inst := f
		if i%2 == 1 {
			inst = g
		}
		wg.Go(func() { errs[i] = inst.totp.Verify(ctx, sealed, user, code) })
	}
	wg.Wait()
	ok, reused := 0, 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, totp.ErrCodeReused):
			reused++
		default:
			t.Errorf("unexpected error: %v", err)
		}
	}
	require.Equal(t, 1, ok, "exactly one of %d concurrent verifications of one code succeeds", n)
	require.Equal(t, n-1, reused)
}

func TestVerifyConcurrentReuse(t *testing.T) {
	f := newFixture(t, func(c *totp.Config) { c.MaxAttempts = 50 })
	g := newFixtureOn(t, f.clock, f.store, func(c *totp.Config) { c.MaxAttempts = 50 })
	raceSameCode(t, f, g)
}

func TestTooManyAttempts(t *testing.T) {
	f := newFixture(t, func(c *totp.Config) { c.MaxAttempts = 3 })
	ctx := context.Background()
	user := userID(1)
	sealed, secret := f.enrol(user) // the clock is now start+30s
	for range 3 {
		require.ErrorIs(t, f.totp.Verify(ctx, sealed, user, f.wrongCode(secret)), totp.ErrInvalidCode)
	}
	// Even the right code is refused now: it is not compared at all.
	err := f.totp.Verify(ctx, sealed, user, f.code(secret, 0))
	require.ErrorIs(t, err, totp.ErrTooManyAttempts)
	var te *totp.Error
	require.ErrorAs(t, err, &te)
	require.Equal(t, 15*time.Minute-30*time.Second, te.RetryAfter, "until the end of the fixed window")
	require.Contains(t, err.Error(), "retry after 870s")

	// Another instance on the same store is limited as well.
	second := newFixtureOn(t, f.clock, f.store, func(c *totp.Config) { c.MaxAttempts = 3 })
	require.ErrorIs(t, second.totp.Verify(ctx, sealed, user, f.code(secret, 0)), totp.ErrTooManyAttempts)
	// Other users are not.
	sealed2, secret2 := f.enrol(userID(2))
	require.NoError(t, f.totp.Verify(ctx, sealed2, userID(2), f.code(secret2, 0)))

	// The next window renews the budget.
	f.clock.Add(te.RetryAfter)
	require.NoError(t, f.totp.Verify(ctx, sealed, user, f.code(secret, 0)))
}

func TestCorrectCodeGivesAttemptBack(t *testing.T) {
	f := newFixture(t, func(c *totp.Config) { c.MaxAttempts = 1 })
	ctx := context.Background()
	user := userID(1)
	sealed, secret := f.enrol(user) // Confirm's attempt was given back
	for range 3 {
		require.NoError(t, f.totp.Verify(ctx, sealed, user, f.code(secret, 0)))
		f.clock.Add(30 * time.Second)
	}
	require.ErrorIs(t, f.totp.Verify(ctx, sealed, user, f.wrongCode(secret)), totp.ErrInvalidCode)
	require.ErrorIs(t, f.totp.Verify(ctx, sealed, user, f.code(secret, 0)), totp.ErrTooManyAttempts)
}

func TestConcurrentWrongCodesCountedOnce(t *testing.T) {
	f := newFixture(t, nil) // MaxAttempts 5
	g := newFixtureOn(t, f.clock, f.store, nil)
	raceWrongCodes(t, f, g)
}

// raceWrongCodes submits one wrong code from 20 goroutines through two
// instances sharing a store: exactly MaxAttempts are compared (wrong), the
// others are refused as too many attempts.
func raceWrongCodes(t *testing.T, f, g *fixture) {
	t.Helper()
	user := userID(1)
	sealed, secret := f.enrol(user)
	wrong := f.wrongCode(secret)
	const n = 20
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		inst := f
		if i%2 == 1 {
			inst = g
		}
		wg.Go(func() { errs[i] = inst.totp.Verify(context.Background(), sealed, user, wrong) })
	}
	wg.Wait()
	invalid, limited := 0, 0
	for _, err := range errs {
		switch {
		case errors.Is(err, totp.ErrInvalidCode):
			invalid++
		case errors.Is(err, totp.ErrTooManyAttempts):
			limited++
		default:
			t.Errorf("unexpected: %v", err)
		}
	}
	require.Equal(t, f.totpMaxAttempts(), invalid, "at most MaxAttempts codes are compared per window, across instances")
	require.Equal(t, n-f.totpMaxAttempts(), limited)
}

func TestMalformedCodeDoesNotTouchStore(t *testing.T) {
	c := newClock()
	ms := newMemStore(t, memstore.WithClock(c.Now))
	t.Cleanup(func() { ms.Close() })
	cs := &countingStore{ChallengeStore: ms}
	f := newFixtureOn(t, c, cs, func(c *totp.Config) { c.MaxAttempts = 1 })
	sealed, secret := f.enrol(userID(1))
	before := cs.calls.Load()
	code := f.code(secret, 0)
	for _, bad := range []string{
		"", "12345", "1234567", "123456789", "12a456", "abcdef", "12345\x00",
		"１２３４５６", "+12345", "-12345", "12345.", code + "00", // 8 digits for a 6-digit secret
		string(make([]byte, 1<<20)), "1 2 3 4 5",
	} {
		err := f.totp.Verify(context.Background(), sealed, userID(1), bad)
		require.ErrorIs(t, err, totp.ErrInvalidCode, "%q", bad)
		if len(bad) >= 3 {
			require.NotContains(t, err.Error(), bad)
		}
	}
	require.Equal(t, before, cs.calls.Load(), "malformed codes are refused before the store")
	require.NoError(t, f.totp.Verify(context.Background(), sealed, userID(1), code), "and no attempt was counted")
}

func TestArguments(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	for _, name := range []string{"", "a:b", "x\ny", string(bytes.Repeat([]byte("a"), 255))} {
		_, err := f.totp.Begin(ctx, userID(1), name)
		require.ErrorIs(t, err, totp.ErrInvalidArgument, "%q", name)
	}
	_, err := f.totp.Begin(ctx, string254User(), "x")
	require.ErrorIs(t, err, totp.ErrInvalidArgument)
	_, err = f.totp.Begin(ctx, nil, "x")
	require.ErrorIs(t, err, totp.ErrInvalidArgument)
	_, err = f.totp.Begin(ctx, userID(1), string(bytes.Repeat([]byte("a"), 254)))
	require.NoError(t, err, "an email of 254 bytes")
	require.ErrorIs(t, f.totp.Verify(ctx, []byte{1}, nil, "123456"), totp.ErrInvalidArgument)
}

func string254User() []byte { return bytes.Repeat([]byte("u"), 256) }

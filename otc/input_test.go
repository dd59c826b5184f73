package otc_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit/internal/storewrap"
	"github.com/webauthnkit/webauthnkit/memstore"
	"github.com/webauthnkit/webauthnkit/otc"
)

// Malformed codes, tokens, purposes and accounts are refused before any
// store call: hostile input costs no round trip and no attempt.
func TestMalformedInputWithoutStoreCall(t *testing.T) {
	c := newClock()
	mem := newMemStore(t, memstore.WithClock(c.Now))
	probe := storewrap.New(mem, mem)
	codes := newCodes(t, c, probe)
	ctx := context.Background()
	acct := []byte("acct")

	for _, code := range []string{
		"", " ", "12345", "1234567", "12a456", "123 456", "+12345", "-12345",
		"１２３４５６",                           // full-width digits
		"١٢٣٤٥٦",                           // Arabic-Indic digits
		"123456\x00",                       // NUL
		"\n123456",                         // newline is not a space
		strings.Repeat(" ", 60) + "123456", // over the input bound before trimming
		strings.Repeat("1", 1<<20),
	} {
		require.ErrorIs(t, codes.Verify(ctx, otc.PurposeRecoverAccount, acct, code), otc.ErrInvalidCode, "%q", code)
	}
	for _, token := range []string{
		"", "abc", strings.Repeat("A", 42), strings.Repeat("A", 44), strings.Repeat("=", 43),
		strings.Repeat("+", 43), strings.Repeat("A", 1<<20),
	} {
		_, err := codes.VerifyLink(ctx, otc.PurposeRecoverAccount, token)
		require.ErrorIs(t, err, otc.ErrInvalidCode, "%q", token)
	}
	for _, p := range []otc.Purpose{"", "Recover", "recover-account", "a b", otc.Purpose(strings.Repeat("a", 33)), "é"} {
		_, err := codes.Issue(ctx, p, acct)
		require.ErrorIs(t, err, otc.ErrInvalidArgument, "%q", p)
		require.ErrorIs(t, codes.Verify(ctx, p, acct, "123456"), otc.ErrInvalidArgument)
		_, err = codes.VerifyLink(ctx, p, strings.Repeat("A", 43))
		require.ErrorIs(t, err, otc.ErrInvalidArgument)
	}
	for _, a := range [][]byte{nil, {}, make([]byte, 65)} {
		_, err := codes.Issue(ctx, otc.PurposeRecoverAccount, a)
		require.ErrorIs(t, err, otc.ErrInvalidArgument)
		require.ErrorIs(t, codes.Verify(ctx, otc.PurposeRecoverAccount, a, "123456"), otc.ErrInvalidArgument)
	}
	require.Zero(t, probe.Count(storewrap.PutCeremony)+probe.Count(storewrap.TakeCeremony), "store calls: %v", probe.Counts())

	// The bounds themselves are accepted.
	_, err := codes.Issue(ctx, otc.Purpose(strings.Repeat("a", 32)), make([]byte, 64))
	require.NoError(t, err)
}

// Malformed codes do not spend the account's attempts either.
func TestMalformedCodesDoNotCount(t *testing.T) {
	c := newClock()
	codes := newCodes(t, c, newMemStore(t, memstore.WithClock(c.Now)), func(cfg *otc.Config) { cfg.MaxAttemptsPerAccount = 1 })
	ctx := context.Background()
	code, err := codes.Issue(ctx, otc.PurposeRecoverAccount, []byte("acct"))
	require.NoError(t, err)
	for range 20 {
		require.ErrorIs(t, codes.Verify(ctx, otc.PurposeRecoverAccount, []byte("acct"), "12x456"), otc.ErrInvalidCode)
	}
	require.NoError(t, codes.Verify(ctx, otc.PurposeRecoverAccount, []byte("acct"), code.Code))
}

func TestDigitsConfig(t *testing.T) {
	c := newClock()
	for _, d := range []int{6, 7, 8} {
		codes := newCodes(t, c, newMemStore(t, memstore.WithClock(c.Now)), func(cfg *otc.Config) { cfg.Digits = d })
		code, err := codes.Issue(context.Background(), otc.PurposeVerifyEmail, []byte("acct"))
		require.NoError(t, err)
		require.Len(t, code.Code, d)
		require.Error(t, codes.Verify(context.Background(), otc.PurposeVerifyEmail, []byte("acct"), code.Code[1:]))
		require.NoError(t, codes.Verify(context.Background(), otc.PurposeVerifyEmail, []byte("acct"), code.Code))
	}
}

// Codes are uniform over all Digits-digit strings, leading zeros included:
// a chi-squared test on the first digit and the last digit of 20000 codes.
func TestCodesUniform(t *testing.T) {
	c := newClock()
	codes := newCodes(t, c, newMemStore(t, memstore.WithClock(c.Now)), func(cfg *otc.Config) { cfg.Links = false })
	const n = 20000
	var first, last [10]int
	for i := range n {
		code, err := codes.Issue(context.Background(), otc.PurposeVerifyEmail, []byte{byte(i), byte(i >> 8)})
		require.NoError(t, err)
		first[code.Code[0]-'0']++
		last[code.Code[5]-'0']++
	}
	for _, counts := range [][10]int{first, last} {
		chi := 0.0
		for _, k := range counts {
			d := float64(k) - n/10
			chi += d * d / (n / 10)
		}
		require.Less(t, chi, 33.7, "counts %v (chi² 9 d.o.f., p=0.0001 bound)", counts)
	}
}

func TestConfigErrors(t *testing.T) {
	store := newMemStore(t)
	for _, tc := range []struct {
		field string
		edit  func(*otc.Config)
	}{
		{"Store", func(cfg *otc.Config) { cfg.Store = nil }},
		{"Secret", func(cfg *otc.Config) { cfg.Secret = testSecret[:31] }},
		{"TTL", func(cfg *otc.Config) { cfg.TTL = 25 * 60 * 60 * 1e9 }},
		{"TTL", func(cfg *otc.Config) { cfg.TTL = 1e9 }},
		{"Digits", func(cfg *otc.Config) { cfg.Digits = 5 }},
		{"Digits", func(cfg *otc.Config) { cfg.Digits = 9 }},
		{"MaxAttemptsPerCode", func(cfg *otc.Config) { cfg.MaxAttemptsPerCode = -1 }},
		{"MaxAttemptsPerCode", func(cfg *otc.Config) { cfg.MaxAttemptsPerCode = 21 }},
		{"MaxAttemptsPerAccount", func(cfg *otc.Config) { cfg.MaxAttemptsPerAccount = 101 }},
		{"AccountWindow", func(cfg *otc.Config) { cfg.AccountWindow = 1e9 }},
	} {
		cfg := otc.Config{Store: store, Secret: testSecret}
		tc.edit(&cfg)
		_, err := otc.New(cfg)
		var ce *otc.ConfigError
		require.ErrorAs(t, err, &ce, tc.field)
		require.Equal(t, tc.field, ce.Field)
		require.True(t, strings.HasPrefix(err.Error(), "otc: "))
	}
}

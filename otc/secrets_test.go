package otc_test

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/internal/storewrap"
	"github.com/webauthnkit/webauthnkit/internal/testenv"
	"github.com/webauthnkit/webauthnkit/memstore"
	"github.com/webauthnkit/webauthnkit/otc"
)

// Nothing secret (codes, tokens, the account, the secret) reaches the log
// or an error text, through every outcome: issue, right, wrong, dead,
// throttled, link, store outage.
func TestNothingSecretInLogsOrErrors(t *testing.T) {
	var logs testenv.SyncBuffer
	c := newClock()
	mem := newMemStore(t, memstore.WithClock(c.Now))
	probe := storewrap.New(mem, mem)
	codes := newCodes(t, c, probe, func(cfg *otc.Config) {
		cfg.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug, ReplaceAttr: dropTime}))
		cfg.MaxAttemptsPerAccount = 6
	})
	ctx := context.Background()
	acct := []byte("alice@example.com")
	p := otc.PurposeRecoverAccount
	var secrets []string
	var errs []error
	record := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}

	code, err := codes.Issue(ctx, p, acct)
	require.NoError(t, err)
	secrets = append(secrets, code.Code, code.LinkToken)
	logs.Write([]byte(fmt.Sprintf("%v %+v %s\n", code, code, code)))
	slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{ReplaceAttr: dropTime})).Info("issued", "code", code)
	for range otc.DefaultMaxAttemptsPerCode {
		record(codes.Verify(ctx, p, acct, wrongCode(code.Code)))
	}
	code, err = codes.Issue(ctx, p, acct)
	require.NoError(t, err)
	secrets = append(secrets, code.Code, code.LinkToken)
	got, err := codes.VerifyLink(ctx, p, code.LinkToken)
	require.NoError(t, err)
	require.Equal(t, acct, got)
	record(codes.Verify(ctx, p, acct, code.Code)) // used
	record(codes.Verify(ctx, p, acct, code.Code)) // throttled
	require.ErrorIs(t, errs[len(errs)-1], otc.ErrTooManyAttempts)

	probe.Fail(storewrap.ErrDown)
	_, err = codes.Issue(ctx, otc.PurposeVerifyEmail, acct)
	record(err)
	record(codes.Verify(ctx, otc.PurposeVerifyEmail, acct, "123456"))
	_, err = codes.VerifyLink(ctx, p, code.LinkToken)
	record(err)

	text := logs.String()
	for _, err := range errs {
		text += "\n" + err.Error()
	}
	require.Contains(t, text, "otc: wrong code")
	forbidden := append(secrets, string(acct), hex.EncodeToString(acct), base64.StdEncoding.EncodeToString(acct),
		base64.RawURLEncoding.EncodeToString(acct), hex.EncodeToString(testSecret))
	for _, s := range forbidden {
		require.NotContains(t, text, s)
	}
}

// dropTime removes the record time, whose digits could contain a code by
// chance.
func dropTime(groups []string, a slog.Attr) slog.Attr {
	if len(groups) == 0 && a.Key == slog.TimeKey {
		return slog.Attr{}
	}
	return a
}

// A store outage is a clear error that fails closed and matches the
// store's own sentinel.
func TestStoreOutageFailsClosed(t *testing.T) {
	c := newClock()
	mem := newMemStore(t, memstore.WithClock(c.Now))
	probe := storewrap.New(mem, mem)
	codes := newCodes(t, c, probe)
	ctx := context.Background()
	acct := []byte("acct")
	code, err := codes.Issue(ctx, otc.PurposeRecoverAccount, acct)
	require.NoError(t, err)

	for _, m := range []storewrap.Method{storewrap.PutCeremony, storewrap.TakeCeremony} {
		probe.Fail(storewrap.ErrDown, m)
		_, err := codes.Issue(ctx, otc.PurposeRecoverAccount, acct)
		require.ErrorIs(t, err, otc.ErrStore)
		require.ErrorIs(t, err, webauthnkit.ErrStoreUnavailable)
		err = codes.Verify(ctx, otc.PurposeRecoverAccount, acct, code.Code)
		require.ErrorIs(t, err, otc.ErrStore)
		require.ErrorIs(t, err, webauthnkit.ErrStoreUnavailable)
		if m == storewrap.TakeCeremony { // (VerifyLink makes no put)
			_, err = codes.VerifyLink(ctx, otc.PurposeRecoverAccount, code.LinkToken)
			require.ErrorIs(t, err, otc.ErrStore)
		}
		probe.Fail(nil)
	}
	// The outage consumed nothing: the code still works.
	require.NoError(t, codes.Verify(ctx, otc.PurposeRecoverAccount, acct, code.Code))
}

func TestCodeStringRedacted(t *testing.T) {
	code := &otc.Code{Code: "123456", LinkToken: "tok"}
	require.False(t, strings.Contains(fmt.Sprint(code), "123456"))
	require.False(t, errors.Is(otc.ErrInvalidCode, otc.ErrTooManyAttempts))
}

package account_test

import (
	"errors"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/account"
	"github.com/webauthnkit/webauthnkit/internal/storewrap"
	"github.com/webauthnkit/webauthnkit/internal/testsmtp"
	"github.com/webauthnkit/webauthnkit/mail"
	"github.com/webauthnkit/webauthnkit/otc"
)

func mustCodes(t testing.TB, e *env) *otc.Codes {
	c, err := otc.New(otc.Config{Store: e.store, Secret: make([]byte, 32)})
	require.NoError(t, err)
	return c
}

// Recovery on a new device: code from the mail, a grant, a second
// authenticator registers, the old passkey is listed with its last use and
// revoked; its sessions end (epoch changed) and it no longer signs in.
func TestRecoveryEndToEndOnANewDevice(t *testing.T) {
	e := newEnv(t)
	first, oldDevice := e.signUp(t, "ivy@example.com", "ivy")
	e.clock.Add(time.Minute)
	login, err := e.login(t, oldDevice)
	require.NoError(t, err)
	usedAt := e.clock.Now()

	e.clock.Add(time.Hour)
	require.NoError(t, e.acc.StartRecovery(ctx, "ivy"))
	m := e.inbox(t, "ivy@example.com")
	require.Contains(t, m.Subject, "recovery")
	code, token := codeFrom(t, m)

	grant, user, err := e.acc.ConfirmRecovery(ctx, "IVY@example.com", code)
	require.NoError(t, err)
	require.Equal(t, first.User.Handle, user.Handle)
	require.Contains(t, e.inbox(t, "ivy@example.com").Subject, "recovery", "recovery_started notice")
	_, _, err = e.acc.ConfirmRecoveryLink(ctx, token)
	require.ErrorIs(t, err, account.ErrInvalidCode, "the link died with the code")

	reg, newDevice := e.register(t, webauthnkit.RegistrationRequest{Grant: grant})
	require.Equal(t, first.User.Handle, reg.User.Handle)
	require.NoError(t, e.acc.CompleteRecovery(ctx, reg))
	last := e.inbox(t, "ivy@example.com")
	require.Contains(t, last.Text+last.Subject, "recover")

	old, err := e.acc.OldPasskeys(ctx, reg.User.Handle, reg.Credential.ID)
	require.NoError(t, err)
	require.Len(t, old, 1)
	require.Equal(t, first.Credential.ID, old[0].ID)
	require.WithinDuration(t, usedAt, old[0].LastUsedAt, time.Second)

	require.NoError(t, e.rp.RevokeCredential(ctx, reg.User.Handle, old[0].ID, false))
	u, err := e.rp.UserByHandle(ctx, reg.User.Handle)
	require.NoError(t, err)
	require.NotEqual(t, login.User.SessionEpoch, u.SessionEpoch, "sessions of the lost passkey end")
	_, err = e.login(t, oldDevice)
	require.Error(t, err)
	_, err = e.login(t, newDevice)
	require.NoError(t, err)
	e.noSecretsLogged(t, code, token, grant)

	_, err = e.rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{Grant: grant})
	require.ErrorIs(t, err, webauthnkit.ErrInvalidGrant)
}

// Unknown username or email, or an account without a verified address:
// the same answer, no mail, and any code fails the same way.
func TestRecoveryUnknownAccountSameAnswerNoMail(t *testing.T) {
	e := newEnv(t)
	e.register(t, webauthnkit.RegistrationRequest{Username: "noemail"})
	for _, id := range []string{"nobody", "nobody@example.com", "noemail", "", "\x00bad"} {
		require.NoError(t, e.acc.StartRecovery(ctx, id), id)
		_, _, err := e.acc.ConfirmRecovery(ctx, id, "123456")
		require.ErrorIs(t, err, account.ErrInvalidCode, id)
	}
	require.Empty(t, e.smtp.Messages())
}

func TestRecoveryWrongExpiredReusedAndOtherAccountsCodes(t *testing.T) {
	e := newEnv(t)
	e.signUp(t, "jay@example.com", "jay")
	e.signUp(t, "kim@example.com", "kim")
	require.NoError(t, e.acc.StartRecovery(ctx, "jay"))
	require.NoError(t, e.acc.StartRecovery(ctx, "kim@example.com"))
	jayCode, _ := codeFrom(t, e.inbox(t, "jay@example.com"))
	kimCode, _ := codeFrom(t, e.inbox(t, "kim@example.com"))
	if jayCode != kimCode {
		_, _, err := e.acc.ConfirmRecovery(ctx, "jay", kimCode)
		require.ErrorIs(t, err, account.ErrInvalidCode, "a code for another account")
	}
	_, _, err := e.acc.ConfirmRecovery(ctx, "jay", jayCode)
	require.NoError(t, err)
	_, _, err = e.acc.ConfirmRecovery(ctx, "jay", jayCode)
	require.ErrorIs(t, err, account.ErrInvalidCode, "reused")

	e.clock.Add(otc.DefaultTTL)
	_, _, err = e.acc.ConfirmRecovery(ctx, "kim", kimCode)
	require.ErrorIs(t, err, account.ErrInvalidCode, "expired")
}

// Wrong codes: the code dies after otc's per-code limit, recovery is then
// throttled with RetryAfter, and passkey sign-in still works.
func TestRecoveryWrongCodesThrottleRecoveryNotSignIn(t *testing.T) {
	e := newEnv(t)
	_, device := e.signUp(t, "lee@example.com", "lee")
	require.NoError(t, e.acc.StartRecovery(ctx, "lee"))
	code, _ := codeFrom(t, e.inbox(t, "lee@example.com"))
	wrong := "000000"
	if code == wrong {
		wrong = "111111"
	}
	for range otc.DefaultMaxAttemptsPerCode {
		_, _, err := e.acc.ConfirmRecovery(ctx, "lee", wrong)
		require.ErrorIs(t, err, account.ErrInvalidCode)
	}
	_, _, err := e.acc.ConfirmRecovery(ctx, "lee", code)
	require.ErrorIs(t, err, account.ErrInvalidCode, "the code is dead")
	for {
		_, _, err = e.acc.ConfirmRecovery(ctx, "lee", wrong)
		if !errors.Is(err, account.ErrInvalidCode) {
			break
		}
	}
	require.ErrorIs(t, err, account.ErrTooManyAttempts)
	var ae *account.Error
	require.True(t, errors.As(err, &ae))
	require.Positive(t, ae.RetryAfter)
	_, err = e.login(t, device)
	require.NoError(t, err, "sign-in is not throttled")
}

func TestRecoveryMailDownTypedErrorThenWorks(t *testing.T) {
	e := newEnv(t)
	e.signUp(t, "mo@example.com", "mo")
	n := e.mailsTo("mo@example.com")
	e.mailer.to(t, testsmtp.StartScripted(t, func(c net.Conn) {
		s := testsmtp.NewScript(c)
		_ = s.Reply("421 4.3.2 service not available")
	}))
	err := e.acc.StartRecovery(ctx, "mo")
	require.ErrorIs(t, err, mail.ErrUnavailable)
	require.ErrorIs(t, err, account.ErrMailUnavailable)
	e.mu.Lock()
	for _, ev := range e.events {
		require.NotEqual(t, account.EventRecoveryStarted, ev.Type, "no event for an undelivered code")
	}
	e.mu.Unlock()
	require.Equal(t, n, e.mailsTo("mo@example.com"))
	e.mailer.to(t, e.smtp.Addr)
	require.NoError(t, e.acc.StartRecovery(ctx, "mo"))
	code, _ := codeFrom(t, e.inbox(t, "mo@example.com"))
	_, _, err = e.acc.ConfirmRecovery(ctx, "mo", code)
	require.NoError(t, err)
}

func TestRecoveryCodes(t *testing.T) {
	e := newEnv(t)
	reg, _ := e.register(t, webauthnkit.RegistrationRequest{Username: "nia"})
	codes, err := e.acc.GenerateRecoveryCodes(ctx, reg.User.Handle)
	require.NoError(t, err)
	require.Len(t, codes, account.RecoveryCodeCount)
	require.Regexp(t, `^[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4}$`, codes[0])
	left, err := e.acc.RecoveryCodesLeft(ctx, reg.User.Handle)
	require.NoError(t, err)
	require.Equal(t, 10, left)

	grant, u, err := e.acc.RecoverWithCode(ctx, "nia", " "+codes[3]+" ")
	require.NoError(t, err)
	require.Equal(t, reg.User.Handle, u.Handle)
	r2, _ := e.register(t, webauthnkit.RegistrationRequest{Grant: grant})
	require.Equal(t, account.GrantPurposeRecovery, r2.GrantPurpose)
	_, _, err = e.acc.RecoverWithCode(ctx, "nia", codes[3])
	require.ErrorIs(t, err, account.ErrInvalidCode, "single use")
	_, _, err = e.acc.RecoverWithCode(ctx, "nobody", codes[4])
	require.ErrorIs(t, err, account.ErrInvalidCode, "unknown user: same answer")

	fresh, err := e.acc.GenerateRecoveryCodes(ctx, reg.User.Handle)
	require.NoError(t, err)
	_, _, err = e.acc.RecoverWithCode(ctx, "nia", codes[4])
	require.ErrorIs(t, err, account.ErrInvalidCode, "regenerating invalidates the old set")
	_, _, err = e.acc.RecoverWithCode(ctx, "nia", fresh[0])
	require.NoError(t, err)
	e.noSecretsLogged(t, append(codes, fresh...)...)
}

func TestRecoveryCodeAttemptsThrottled(t *testing.T) {
	e := newEnv(t, func(c *account.Config) { c.CodeAttempts = 3 })
	reg, device := e.register(t, webauthnkit.RegistrationRequest{Username: "oz"})
	codes, err := e.acc.GenerateRecoveryCodes(ctx, reg.User.Handle)
	require.NoError(t, err)
	for range 3 {
		_, _, err := e.acc.RecoverWithCode(ctx, "oz", "0000-0000-0000-0000")
		require.ErrorIs(t, err, account.ErrInvalidCode)
	}
	_, _, err = e.acc.RecoverWithCode(ctx, "oz", codes[0])
	require.ErrorIs(t, err, account.ErrTooManyAttempts, "even the right code waits")
	_, err = e.login(t, device)
	require.NoError(t, err)
	e.clock.Add(time.Hour)
	_, _, err = e.acc.RecoverWithCode(ctx, "oz", codes[0])
	require.NoError(t, err)
}

// Notices: passkey added/removed through the core's events, email change
// to both addresses, and at most MailsPerAddress per window.
func TestNotificationsAndTheirRateLimit(t *testing.T) {
	e := newEnv(t, func(c *account.Config) { c.MailsPerAddress = 4 })
	reg, _ := e.signUp(t, "pat@example.com", "pat") // 1 mail (code)
	added, _ := e.register(t, webauthnkit.RegistrationRequest{UserHandle: reg.User.Handle})
	require.Contains(t, e.inbox(t, "pat@example.com").Subject, "passkey") // 2
	require.NoError(t, e.rp.RevokeCredential(ctx, reg.User.Handle, added.Credential.ID, false))
	require.Equal(t, 3, e.mailsTo("pat@example.com"))

	require.NoError(t, e.acc.Notify(ctx, reg.User.Handle, account.KindEmailChanged, account.NotifyData{OldEmail: "pat@example.com", NewEmail: "pat2@example.com"}))
	require.Equal(t, 4, e.mailsTo("pat@example.com"))
	require.Equal(t, 1, e.mailsTo("pat2@example.com"))

	err := e.acc.Notify(ctx, reg.User.Handle, account.KindPasskeyAdded, account.NotifyData{Device: "x"})
	require.ErrorIs(t, err, account.ErrRateLimited)
	require.Equal(t, 4, e.mailsTo("pat@example.com"))
	require.ErrorIs(t, e.acc.Notify(ctx, reg.User.Handle, "bogus", account.NotifyData{}), account.ErrInvalidArgument)
}

// Start* is budgeted per identifier, existing or not, with one answer.
func TestStartRecoveryBudgetSameForUnknown(t *testing.T) {
	e := newEnv(t, func(c *account.Config) { c.StartsPerAccount = 2 })
	e.signUp(t, "quinn@example.com", "quinn")
	for _, id := range []string{"quinn", "ghost"} {
		require.NoError(t, e.acc.StartRecovery(ctx, id))
		require.NoError(t, e.acc.StartRecovery(ctx, id))
		require.ErrorIs(t, e.acc.StartRecovery(ctx, id), account.ErrTooManyAttempts, id)
	}
}

// An address that had its share of mail gets no recovery code, and the
// answer stays that of an unknown account (nil), not a 429 that would tell
// the account exists.
func TestStartRecoverySpentMailBudgetAnswersAsUnknown(t *testing.T) {
	e := newEnv(t, func(c *account.Config) { c.MailsPerAddress = 1 })
	e.signUp(t, "rae@example.com", "rae")
	require.NoError(t, e.acc.StartRecovery(ctx, "rae"))
	require.Equal(t, 1, e.mailsTo("rae@example.com"))
}

// Unknown handles are the core's ErrUserNotFound (404), not a store outage.
func TestUnknownHandleIsUserNotFound(t *testing.T) {
	e := newEnv(t)
	_, err := e.acc.GenerateRecoveryCodes(ctx, []byte("nobody"))
	require.ErrorIs(t, err, webauthnkit.ErrUserNotFound)
	require.ErrorIs(t, e.acc.Notify(ctx, []byte("nobody"), account.KindPasskeyAdded, account.NotifyData{}), webauthnkit.ErrUserNotFound)
	require.ErrorIs(t, e.acc.SendEmailVerification(ctx, []byte("nobody")), webauthnkit.ErrUserNotFound)
}

// A store outage fails closed: ErrStore (matching the store's
// ErrStoreUnavailable), no mail sent, no grant.
func TestStoreOutageFailsClosed(t *testing.T) {
	var wrapped *storewrap.Store
	e := newEnv(t, func(c *account.Config) {
		wrapped = storewrap.New(c.Users, c.Challenges)
		c.Users, c.Challenges = wrapped, wrapped
	})
	e.signUp(t, "vic@example.com", "vic")
	n := len(e.smtp.Messages())
	for _, m := range []storewrap.Method{storewrap.PutCeremony, storewrap.GetUserByName} {
		wrapped.Fail(webauthnkit.ErrStoreUnavailable, m)
		err := e.acc.StartRecovery(ctx, "vic")
		require.ErrorIs(t, err, account.ErrStore, m.String())
		require.ErrorIs(t, err, webauthnkit.ErrStoreUnavailable, m.String())
		_, _, err = e.acc.RecoverWithCode(ctx, "vic", "0000-0000-0000-0000")
		require.ErrorIs(t, err, account.ErrStore, m.String())
		wrapped.Fail(nil)
	}
	require.Len(t, e.smtp.Messages(), n)
}

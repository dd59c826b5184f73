package account_test

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/account"
	"github.com/webauthnkit/webauthnkit/internal/testsmtp"
	"github.com/webauthnkit/webauthnkit/mail"
)

// Flow (a) end to end: the code read from the captured mail yields a grant
// that registers the first passkey of a new account with the verified
// address; the passkey then signs in.
func TestVerifyFirstSignUpEndToEnd(t *testing.T) {
	e := newEnv(t)
	require.NoError(t, e.acc.StartSignUp(ctx, "Alice@Example.COM", "alice"))
	m := e.inbox(t, "alice@example.com")
	require.Contains(t, m.Subject, "verify your email")
	code, token := codeFrom(t, m)

	grant, err := e.acc.ConfirmSignUp(ctx, "alice@EXAMPLE.com", code)
	require.NoError(t, err)
	reg, auth := e.register(t, webauthnkit.RegistrationRequest{Grant: grant})
	require.True(t, reg.NewUser)
	require.Equal(t, account.GrantPurposeSignUp, reg.GrantPurpose)
	u, err := e.rp.UserByHandle(ctx, reg.User.Handle)
	require.NoError(t, err)
	require.Equal(t, "alice@example.com", u.Email)
	require.False(t, u.EmailVerifiedAt.IsZero())
	_, err = e.login(t, auth)
	require.NoError(t, err)

	// The code and the link are spent; the grant too.
	_, err = e.acc.ConfirmSignUp(ctx, "alice@example.com", code)
	require.ErrorIs(t, err, account.ErrInvalidCode)
	_, err = e.acc.ConfirmSignUpLink(ctx, token)
	require.ErrorIs(t, err, account.ErrInvalidCode)
	_, err = e.rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{Grant: grant})
	require.ErrorIs(t, err, webauthnkit.ErrInvalidGrant)
	e.noSecretsLogged(t, code, token, grant)
}

func TestVerifyFirstSignUpByLink(t *testing.T) {
	e := newEnv(t)
	require.NoError(t, e.acc.StartSignUp(ctx, "bob@example.com", "bob"))
	_, token := codeFrom(t, e.inbox(t, "bob@example.com"))
	grant, err := e.acc.ConfirmSignUpLink(ctx, token)
	require.NoError(t, err)
	reg, _ := e.register(t, webauthnkit.RegistrationRequest{Grant: grant})
	require.Equal(t, "bob", reg.User.Name)
	require.Equal(t, "bob@example.com", reg.User.Email)
}

// A sign-up with an address that a verified account holds answers the
// same and sends nothing; ConfirmSignUp then fails for any code.
func TestSignUpWithATakenAddressSendsNothing(t *testing.T) {
	e := newEnv(t)
	e.signUp(t, "carol@example.com", "carol")
	before := e.mailsTo("carol@example.com")
	require.NoError(t, e.acc.StartSignUp(ctx, "carol@example.com", "mallory"))
	require.Equal(t, before, e.mailsTo("carol@example.com"))
	_, err := e.acc.ConfirmSignUp(ctx, "carol@example.com", "123456")
	require.ErrorIs(t, err, account.ErrInvalidCode)
}

// A code of one address does not confirm another.
func TestSignUpCodeForAnotherAddress(t *testing.T) {
	e := newEnv(t)
	require.NoError(t, e.acc.StartSignUp(ctx, "dan@example.com", "dan"))
	require.NoError(t, e.acc.StartSignUp(ctx, "eve@example.com", "eve"))
	code, _ := codeFrom(t, e.inbox(t, "eve@example.com"))
	_, err := e.acc.ConfirmSignUp(ctx, "dan@example.com", code)
	require.ErrorIs(t, err, account.ErrInvalidCode)
	_, err = e.acc.ConfirmSignUp(ctx, "eve@example.com", code)
	require.NoError(t, err, "a wrong try on dan's address does not touch eve's code")
}

// Flow (b): register, set the address unverified, verify it by code.
func TestRegisterThenVerify(t *testing.T) {
	e := newEnv(t)
	reg, _ := e.register(t, webauthnkit.RegistrationRequest{Username: "frank"})
	require.ErrorIs(t, e.acc.SendEmailVerification(ctx, reg.User.Handle), account.ErrNoEmail)
	_, err := e.rp.SetEmail(ctx, reg.User.Handle, "frank@example.com", false)
	require.NoError(t, err)
	require.NoError(t, e.acc.SendEmailVerification(ctx, reg.User.Handle))
	code, _ := codeFrom(t, e.inbox(t, "frank@example.com"))

	_, err = e.acc.ConfirmEmail(ctx, reg.User.Handle, "000000")
	if code == "000000" {
		err = account.ErrInvalidCode
	}
	require.ErrorIs(t, err, account.ErrInvalidCode)
	u, err := e.acc.ConfirmEmail(ctx, reg.User.Handle, code)
	require.NoError(t, err)
	require.False(t, u.EmailVerifiedAt.IsZero())
	stored, err := e.rp.UserByHandle(ctx, reg.User.Handle)
	require.NoError(t, err)
	require.Equal(t, u.EmailVerifiedAt.UTC(), stored.EmailVerifiedAt.UTC())
}

// A code sent to one address does not verify the account's next address.
func TestRegisterThenVerifyCodeBoundToAddress(t *testing.T) {
	e := newEnv(t)
	reg, _ := e.register(t, webauthnkit.RegistrationRequest{Username: "gina"})
	_, err := e.rp.SetEmail(ctx, reg.User.Handle, "gina@example.com", false)
	require.NoError(t, err)
	require.NoError(t, e.acc.SendEmailVerification(ctx, reg.User.Handle))
	code, _ := codeFrom(t, e.inbox(t, "gina@example.com"))
	_, err = e.rp.SetEmail(ctx, reg.User.Handle, "victim@example.com", false)
	require.NoError(t, err)
	_, err = e.acc.ConfirmEmail(ctx, reg.User.Handle, code)
	require.ErrorIs(t, err, account.ErrInvalidCode)
}

// The real owner of an address squatted unverified (flow b) takes it with
// flow (a): the squatter's account loses the address.
func TestSignUpTakesAnAddressHeldUnverified(t *testing.T) {
	e := newEnv(t)
	squat, _ := e.register(t, webauthnkit.RegistrationRequest{Username: "squatter"})
	_, err := e.rp.SetEmail(ctx, squat.User.Handle, "owner@example.com", false)
	require.NoError(t, err)
	reg, _ := e.signUp(t, "owner@example.com", "owner")
	require.Equal(t, "owner@example.com", reg.User.Email)
	s, err := e.rp.UserByHandle(ctx, squat.User.Handle)
	require.NoError(t, err)
	require.Empty(t, s.Email)
}

// Mail server down: a typed error matching mail.ErrUnavailable with a retry
// hint, and nothing usable left (the pending sign-up is withdrawn, so even
// the right code confirms nothing). Then it works once the server is back.
func TestSignUpMailDownNothingHalfDone(t *testing.T) {
	for name, addr := range map[string]func(testing.TB) string{
		"closed port": testsmtp.ClosedPort,
		"hanging":     testsmtp.StartHanging,
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			e.mailer.to(t, addr(t))
			err := e.acc.StartSignUp(ctx, "hank@example.com", "hank")
			require.ErrorIs(t, err, account.ErrMailUnavailable)
			require.ErrorIs(t, err, mail.ErrUnavailable)
			var ae *account.Error
			require.True(t, errors.As(err, &ae))
			require.Positive(t, ae.RetryAfter)
			e.mailer.to(t, e.smtp.Addr)
			require.NoError(t, e.acc.StartSignUp(ctx, "hank@example.com", "hank"))
			code, _ := codeFrom(t, e.inbox(t, "hank@example.com"))
			_, err = e.acc.ConfirmSignUp(ctx, "hank@example.com", code)
			require.NoError(t, err)
		})
	}
}

func TestConfigValidation(t *testing.T) {
	_, err := account.New(account.Config{})
	var ce *account.ConfigError
	require.ErrorAs(t, err, &ce)
	require.Equal(t, "RP", ce.Field)
	e := newEnv(t, func(c *account.Config) {})
	_ = e
	for _, bad := range []func(*account.Config){
		func(c *account.Config) { c.Secret = []byte("short") },
		func(c *account.Config) { c.LinkBase = "javascript:alert(1)" },
		func(c *account.Config) { c.MailsPerAddress = 1000 },
		func(c *account.Config) { c.GrantTTL = 2 * time.Hour },
	} {
		cfg := account.Config{RP: e.rp, Users: e.store, Challenges: e.store, Mailer: e.mailer, Secret: make([]byte, 32)}
		cfg.Codes = mustCodes(t, e)
		bad(&cfg)
		_, err := account.New(cfg)
		require.ErrorAs(t, err, &ce)
	}
}

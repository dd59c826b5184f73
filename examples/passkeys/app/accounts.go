package app

import (
	"fmt"
	"log/slog"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/account"
	"github.com/webauthnkit/webauthnkit/mail"
	"github.com/webauthnkit/webauthnkit/otc"
)

// newAccounts builds the email and recovery flows (package account) on the
// app's stores: one-time codes live in the ceremony store, so they hold
// across instances sharing Redis, like ceremonies. Its keys are derived from
// the webauthnkit secret (shared by every instance) under their own labels,
// so none of them equals the RP's or another's.
func newAccounts(cfg Config, rp *webauthnkit.RelyingParty, st *stores, webauthnSecret []byte, log *slog.Logger) (*account.Accounts, error) {
	codes, err := otc.New(otc.Config{
		Store:  st.ceremonies,
		Secret: derive(webauthnSecret, "one-time codes"),
		Now:    cfg.Now,
		Logger: log,
	})
	if err != nil {
		return nil, fmt.Errorf("app: one-time codes: %w", err)
	}
	mailer := cfg.Mailer
	if mailer == nil {
		// Development only: the codes are written to the log (the README
		// says so), since there is nobody to send them to.
		mailer = mail.NewDevelopment(log)
		log.Warn("passkeys: no SMTP server configured (-smtp): mails are NOT sent, their codes are written to this log")
	}
	return account.New(account.Config{
		RP:               rp,
		Users:            st.creds,
		Challenges:       st.ceremonies,
		Codes:            codes,
		Mailer:           mailer,
		Secret:           derive(webauthnSecret, "account flows"),
		AppName:          cfg.AppName,
		MinStartDuration: cfg.AccountsMinStartDuration,
		OnEvent:          monitorAccountEvents(cfg),
		Now:              cfg.Now,
		Logger:           log,
	})
}

package mail

import (
	"context"
	"log/slog"
)

// Development is a Mailer FOR DEVELOPMENT ONLY: it sends nothing and logs
// each message (recipient, subject and the whole text body, one-time codes
// and recovery links included) through slog at Info, so a developer can
// copy the code from the terminal.
//
// This is the one deliberate exception to the rule that codes never appear in
// logs: anyone who can read the log can take over any account that uses it.
// Every log line says so. Never use it in production; use NewSMTP.
type Development struct {
	logger *slog.Logger
}

// DevelopmentLogMessage is the message of every line Development logs.
const DevelopmentLogMessage = "mail: DEVELOPMENT MAILER, message NOT sent; it is logged with its codes and links; never use in production"

// NewDevelopment returns a development-only Mailer logging to logger
// (slog.Default() when nil).
func NewDevelopment(logger *slog.Logger) *Development {
	if logger == nil {
		logger = slog.Default()
	}
	return &Development{logger: logger}
}

// Send validates msg exactly as the SMTP mailer does (so injection bugs show
// in development too) and logs it.
func (d *Development) Send(ctx context.Context, msg Message) error {
	if _, err := msg.validate(); err != nil {
		return err
	}
	d.logger.LogAttrs(ctx, slog.LevelInfo, DevelopmentLogMessage,
		slog.String("to", msg.To),
		slog.String("subject", msg.Subject),
		slog.String("text", msg.Text),
	)
	return nil
}

package mail

import (
	"errors"
	"fmt"
)

var (
	// ErrUnavailable: the message could not be delivered now for a reason that
	// is not the recipient's address (connection refused, timeout, a 4xx reply,
	// a dropped connection, a TLS or authentication failure). Callers answer
	// 503 with a retry hint; nothing about the address is learnt.
	ErrUnavailable = errors.New("mail: delivery unavailable")

	// ErrRejected: the server permanently refused the recipient (a 5xx reply
	// to RCPT TO). Retrying the same address will not help.
	ErrRejected = errors.New("mail: recipient rejected")

	// ErrInvalidMessage: the Message itself is unacceptable (bad address,
	// CR/LF in a header, too large). Nothing was sent.
	ErrInvalidMessage = errors.New("mail: invalid message")
)

// SendError describes a failed delivery. errors.Is matches it against
// ErrRejected or ErrUnavailable (exactly one), and against its cause (for
// example context.DeadlineExceeded or a *textproto.Error).
type SendError struct {
	// Step is the SMTP step that failed: "dial", "greeting", "hello",
	// "starttls", "auth", "mail", "rcpt", "data", "quit".
	Step string
	// Code is the server's reply code, or 0 when there was no reply.
	Code int
	// Permanent reports a 5xx reply. Only a permanent reply to "rcpt" makes
	// the error ErrRejected; a 5xx elsewhere (bad credentials, sender refused)
	// is a configuration problem the user cannot fix, hence ErrUnavailable.
	Permanent bool
	// Err is the underlying cause.
	Err error
}

func (e *SendError) Error() string {
	if e.Code != 0 {
		return fmt.Sprintf("mail: %s: server replied %d: %v", e.Step, e.Code, e.Err)
	}
	return fmt.Sprintf("mail: %s: %v", e.Step, e.Err)
}

// Rejected reports whether the recipient was permanently refused.
func (e *SendError) Rejected() bool { return e.Step == "rcpt" && e.Permanent }

func (e *SendError) Unwrap() []error {
	kind := ErrUnavailable
	if e.Rejected() {
		kind = ErrRejected
	}
	return []error{kind, e.Err}
}

// ConfigError reports an invalid SMTPConfig field. It never includes the
// field's value (which may be a password).
type ConfigError struct {
	Field  string
	Reason string
}

func (e *ConfigError) Error() string {
	return "mail: invalid SMTPConfig." + e.Field + ": " + e.Reason
}

// invalidMessage builds an ErrInvalidMessage naming the field at fault.
func invalidMessage(field, reason string) error {
	return fmt.Errorf("%w: %s: %s", ErrInvalidMessage, field, reason)
}

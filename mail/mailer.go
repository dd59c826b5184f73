package mail

import "context"

// Mailer sends one message. Implementations must honour ctx's deadline and
// cancellation, and return errors matching ErrUnavailable, ErrRejected or
// ErrInvalidMessage.
type Mailer interface {
	Send(ctx context.Context, msg Message) error
}

// Message is one email to one recipient.
type Message struct {
	// To is one address, "user@example.com" or "Name <user@example.com>".
	To string
	// Subject is plain text (UTF-8 allowed; encoded per RFC 2047).
	Subject string
	// Text is the plain-text body; required (every message has a text part).
	Text string
	// HTML is the optional HTML alternative.
	HTML string
	// Headers are extra headers (for example List-Unsubscribe). Names must be
	// RFC 5322 field names and must not override the headers this package
	// writes (From, To, Subject, Date, Message-ID, MIME-Version, Content-*).
	Headers map[string]string
}

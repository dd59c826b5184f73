// Package mail delivers the library's emails: verification codes, recovery
// links and security notifications.
//
// It has three parts:
//
//   - [Mailer], the one-method interface the rest of the library sends through,
//     with [NewSMTP] (submission over STARTTLS or implicit TLS, every network
//     step bounded by a deadline) and [NewDevelopment] (logs the message; for
//     development only).
//   - [Message] validation and encoding: header injection is refused, addresses
//     are parsed with net/mail, bodies are multipart/alternative in
//     quoted-printable, subjects RFC 2047-encoded.
//   - [Templates]: plain-text and HTML templates (html/template, autoescaped)
//     with embedded defaults the application can replace one by one.
//
// Errors are prefixed "mail:". A failed Send matches exactly one of
// [ErrRejected] (the server permanently refused the recipient: tell the user
// the address cannot receive mail, a 4xx) or [ErrUnavailable] (outage,
// timeout, 4xx reply, server misconfiguration: answer 503 with a retry hint).
// Invalid messages match [ErrInvalidMessage].
package mail

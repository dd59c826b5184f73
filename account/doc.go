// Package account builds the email and recovery flows of issue 14 on the
// core (webauthnkit.RelyingParty), one-time codes (package otc) and mail
// (package mail): verify-first sign-up, register-then-verify, account
// recovery by email or recovery code, and security notifications. It is a
// library of primitives: an HTTP layer maps each method to one endpoint
// and each error to a status (ErrInvalidCode 400, ErrTooManyAttempts 429
// with RetryAfter, errors matching mail.ErrUnavailable 503).
//
// docs/recovery.md states the flows and their security argument.
//
// Every start of a flow answers the same whether the account or address
// exists: when it does not, the same store work is done (a code is issued
// for a keyed dummy account and never sent). Codes, link tokens and grants
// never appear in logs or events.
package account

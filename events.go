package webauthnkit

import (
	"context"
	"time"
)

// EventType names an outcome reported to Config.OnEvent.
type EventType string

const (
	EventRegistrationSucceeded EventType = "registration.succeeded"
	EventRegistrationFailed    EventType = "registration.failed"
	EventLoginSucceeded        EventType = "login.succeeded"
	EventLoginFailed           EventType = "login.failed"
	EventCounterRegression     EventType = "credential.counter_regression"
	EventCredentialRenamed     EventType = "credential.renamed"
	EventCredentialRevoked     EventType = "credential.revoked"
	EventUserDeleted           EventType = "user.deleted"
	// EventUserCreated: an account was created without a passkey
	// (RelyingParty.CreateUser). A sign-up with a passkey reports
	// EventRegistrationSucceeded instead.
	EventUserCreated EventType = "user.created"
	// EventUserUpdated: an account's name or display name changed
	// (RelyingParty.UpdateUser); Username is the new name.
	EventUserUpdated EventType = "user.updated"
	// EventSessionsEnded: every session of the account was ended
	// (EndSessions, or RevokeCredential, which ends them before the delete).
	EventSessionsEnded EventType = "sessions.ended"
	// EventEmailChanged: an account's email address was set, changed,
	// removed, verified or unverified (RelyingParty.SetEmail). It carries
	// the UserHandle only: the addresses are personal data, and the
	// application that made the change knows them.
	EventEmailChanged EventType = "user.email_changed"
)

// Event describes one outcome. Fields that do not apply are zero. It never
// carries challenges, signatures or keys.
type Event struct {
	Type         EventType
	Time         time.Time
	UserHandle   []byte
	Username     string
	CredentialID []byte
	// Code is set on failures.
	Code Code
	// Err is the full error on failures (for logging; not client-safe).
	Err error
	// Attestation is set on the attestation.* events (attestation.go).
	Attestation *AttestationResult
}

func (rp *RelyingParty) emit(ctx context.Context, ev Event) {
	if rp.cfg.OnEvent == nil {
		return
	}
	ev.Time = rp.cfg.Now()
	rp.cfg.OnEvent(ctx, ev)
}

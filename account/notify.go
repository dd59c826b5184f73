package account

import (
	"bytes"
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/mail"
)

// Kind is a security notification.
type Kind string

const (
	KindPasskeyAdded      Kind = mail.TemplatePasskeyAdded
	KindPasskeyRemoved    Kind = mail.TemplatePasskeyRemoved
	KindRecoveryStarted   Kind = mail.TemplateRecoveryStarted
	KindRecoveryCompleted Kind = mail.TemplateRecoveryCompleted
	KindEmailChanged      Kind = mail.TemplateEmailChanged
	// KindDeviceLinked: a signed-in device approved a new device (device
	// linking; httpadapter sends it on approval).
	KindDeviceLinked Kind = mail.TemplateDeviceLinked
)

// NotifyData is what a notice shows; every field is optional.
type NotifyData struct {
	Device string // passkey name or device description
	IP     string
	// OldEmail, NewEmail: KindEmailChanged, which goes to both.
	OldEmail, NewEmail string
}

// Notify mails a security notice of kind to the account's verified address
// (an unverified one gets nothing: it may be someone else's) and, for
// KindEmailChanged, to OldEmail and NewEmail. Each address gets at most
// Config.MailsPerAddress mails per MailWindow across instances; beyond,
// the notice is dropped with ErrRateLimited (the change itself stands).
// An account without a verified address is not an error. Errors:
// ErrInvalidArgument, ErrRateLimited, ErrMailUnavailable, ErrStore.
func (a *Accounts) Notify(ctx context.Context, handle []byte, kind Kind, d NotifyData) error {
	switch kind {
	case KindPasskeyAdded, KindPasskeyRemoved, KindRecoveryStarted, KindRecoveryCompleted, KindEmailChanged, KindDeviceLinked:
	default:
		return invalidArgument("unknown notification kind")
	}
	u, err := a.cfg.RP.UserByHandle(ctx, handle)
	if err != nil {
		return fromCore(err)
	}
	var to []string
	if kind == KindEmailChanged {
		for _, s := range []string{d.OldEmail, d.NewEmail} {
			if e, err := NormalizeEmail(s); err == nil && (len(to) == 0 || to[0] != e) {
				to = append(to, e)
			}
		}
	} else if recoverable(u) {
		to = append(to, u.Email)
	}
	data := mail.Data{Username: u.Name, Time: a.cfg.Now(), Device: d.Device, IP: d.IP, OldEmail: d.OldEmail, NewEmail: d.NewEmail}
	var errs []error
	for _, addr := range to {
		err := a.send(ctx, string(kind), addr, data)
		if errors.Is(err, ErrTooManyAttempts) {
			err = with(ErrRateLimited, err)
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	a.emit(Event{Type: EventNotified, UserHandle: u.Handle, Username: u.Name, Kind: kind})
	if len(errs) > 0 {
		return errs[0]
	}
	return nil
}

// HandleEvent sends the notices that follow core events: a passkey added
// to an existing account (not the first passkey of a new one; one added
// by recovery gets this notice too, and recovery_completed from
// CompleteRecovery) and a passkey removed. Wire it into webauthnkit.Config.OnEvent (the RP exists before
// Accounts, so through a variable):
//
//	var acc *account.Accounts
//	cfg.OnEvent = func(ctx context.Context, ev webauthnkit.Event) { acc.HandleEvent(ctx, ev) }
//
// Mail is sent synchronously; failures are logged, never returned. The
// notice does not share the request's deadline or cancellation (an HTTP
// adapter bounds a request's store work to a couple of seconds, and a
// client that went away must not stop a security notice): it runs on a
// context detached from them, bounded by NoticeTimeout.
func (a *Accounts) HandleEvent(ctx context.Context, ev webauthnkit.Event) {
	if a == nil {
		return
	}
	if ev.Type != webauthnkit.EventRegistrationSucceeded && ev.Type != webauthnkit.EventCredentialRevoked {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), NoticeTimeout)
	defer cancel()
	var kind Kind
	var device string
	switch ev.Type {
	case webauthnkit.EventRegistrationSucceeded:
		creds, err := a.cfg.RP.ListCredentials(ctx, ev.UserHandle)
		if err != nil || len(creds) < 2 {
			return
		}
		for _, c := range creds {
			if bytes.Equal(c.ID, ev.CredentialID) {
				device = c.Name
			}
		}
		kind = KindPasskeyAdded
	case webauthnkit.EventCredentialRevoked:
		kind = KindPasskeyRemoved
	default:
		return
	}
	if err := a.Notify(ctx, ev.UserHandle, kind, NotifyData{Device: device}); err != nil {
		a.cfg.Logger.WarnContext(ctx, "account: notice not sent", "kind", string(kind), "error", err)
	}
}

// NoticeTimeout bounds the sending of one notice by HandleEvent, store
// lookups included: the SMTP sender's own default (15 s) and a margin.
const NoticeTimeout = 20 * time.Second

// EventHook connects the core's events to Accounts, which can only be
// built after the RelyingParty whose Config.OnEvent needs the hook:
//
//	hook := &account.EventHook{Next: myOnEvent} // Next optional
//	rp, _ := webauthnkit.New(webauthnkit.Config{..., OnEvent: hook.OnEvent})
//	acc, _ := account.New(account.Config{RP: rp, ...})
//	hook.Set(acc)
//
// Events before Set reach only Next. Safe for concurrent use.
type EventHook struct {
	// Next, if set, receives every event first (the app's own handler).
	Next func(context.Context, webauthnkit.Event)
	acc  atomic.Pointer[Accounts]
}

// Set starts forwarding events to acc.HandleEvent.
func (h *EventHook) Set(acc *Accounts) { h.acc.Store(acc) }

// OnEvent is the webauthnkit.Config.OnEvent function.
func (h *EventHook) OnEvent(ctx context.Context, ev webauthnkit.Event) {
	if h.Next != nil {
		h.Next(ctx, ev)
	}
	h.acc.Load().HandleEvent(ctx, ev)
}

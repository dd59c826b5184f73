package app

import (
	"context"
	"encoding/base64"
	"log/slog"

	"github.com/webauthnkit/webauthnkit"
)

// eventLogger returns the Config.OnEvent that writes each webauthnkit event
// to the log, naming the user and the passkey so that a failure can be
// audited: user name, user handle and credential ID (base64url), and the
// error code. Never the error itself, challenges, signatures or keys.
//
// Events of a failed sign-in carry only the credential ID the browser sent,
// and renames or revocations only the handle: the owner is looked up in the
// store (one or two reads, on failures and account changes only, which the
// adapter's rate limits bound). An ID no account has stays unnamed.
func eventLogger(log *slog.Logger, creds webauthnkit.CredentialStore) func(context.Context, webauthnkit.Event) {
	return func(ctx context.Context, ev webauthnkit.Event) {
		handle, name := ev.UserHandle, ev.Username
		if len(handle) == 0 && len(ev.CredentialID) > 0 {
			if c, err := creds.GetCredential(ctx, ev.CredentialID); err == nil {
				handle = c.UserHandle
			}
		}
		if name == "" && len(handle) > 0 {
			if u, err := creds.GetUserByHandle(ctx, handle); err == nil {
				name = u.Name
			}
		}
		attrs := []slog.Attr{slog.String("event", string(ev.Type))}
		if name != "" {
			attrs = append(attrs, slog.String("user", name))
		}
		if len(handle) > 0 {
			attrs = append(attrs, slog.String("userHandle", base64.RawURLEncoding.EncodeToString(handle)))
		}
		if len(ev.CredentialID) > 0 {
			attrs = append(attrs, slog.String("credential", base64.RawURLEncoding.EncodeToString(ev.CredentialID)))
		}
		level := slog.LevelInfo
		if a := ev.Attestation; a != nil {
			attrs = append(attrs, slog.String("aaguid", a.AAGUID.String()), slog.String("trust", string(a.Trust)),
				slog.String("model", a.Description), slog.String("reason", a.Reason), slog.Bool("refused", a.Refused))
		}
		if ev.Code != "" {
			attrs = append(attrs, slog.String("code", string(ev.Code)))
			level = slog.LevelWarn
		}
		log.LogAttrs(ctx, level, "passkeys: event", attrs...)
	}
}

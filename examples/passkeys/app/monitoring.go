package app

import (
	"context"
	"net/http"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/account"
	"github.com/webauthnkit/webauthnkit/httpadapter"
)

// Monitoring (docs/monitoring.md): Config.Telemetry records metrics and
// spans, Config.AuditLog writes the audit lines. Both are fed by the same
// hooks as the event log: the core's events, the account flows' events
// and the rate limit's refusals; Telemetry also wraps the stores.

// instrumentStores wraps the stores for Config.Telemetry.
func instrumentStores(cfg Config, st *stores) {
	if cfg.Telemetry != nil {
		st.creds = cfg.Telemetry.CredentialStore(st.creds)
		st.ceremonies = cfg.Telemetry.ChallengeStore(st.ceremonies)
	}
}

// monitorEvents returns next, then the audit log, then the telemetry.
func monitorEvents(cfg Config, next func(context.Context, webauthnkit.Event)) func(context.Context, webauthnkit.Event) {
	if cfg.AuditLog == nil && cfg.Telemetry == nil {
		return next
	}
	return func(ctx context.Context, ev webauthnkit.Event) {
		next(ctx, ev)
		if cfg.AuditLog != nil {
			cfg.AuditLog.OnEvent(ctx, ev)
		}
		if cfg.Telemetry != nil {
			cfg.Telemetry.OnEvent(ctx, ev)
		}
	}
}

// monitorAccountEvents is account.Config.OnEvent: nil without monitoring.
func monitorAccountEvents(cfg Config) func(account.Event) {
	if cfg.AuditLog == nil && cfg.Telemetry == nil {
		return nil
	}
	return func(ev account.Event) {
		if cfg.AuditLog != nil {
			cfg.AuditLog.OnAccountEvent(ev)
		}
		if cfg.Telemetry != nil {
			cfg.Telemetry.OnAccountEvent(ev)
		}
	}
}

// monitorRefusals returns rl with an OnRefused that reports to the audit
// log and the telemetry after rl's own.
func monitorRefusals(cfg Config, rl httpadapter.RateLimit) httpadapter.RateLimit {
	if cfg.AuditLog == nil && cfg.Telemetry == nil {
		return rl
	}
	own := rl.OnRefused
	rl.OnRefused = func(r *http.Request, ref httpadapter.Refusal) {
		if own != nil {
			own(r, ref)
		}
		if cfg.AuditLog != nil {
			cfg.AuditLog.OnRateLimited(r, ref)
		}
		if cfg.Telemetry != nil {
			cfg.Telemetry.OnRateLimited(r, ref)
		}
	}
	return rl
}

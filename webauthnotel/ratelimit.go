package webauthnotel

import (
	"net/http"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/webauthnkit/webauthnkit/httpadapter"
)

const (
	attrClass  = attribute.Key("class")  // "begin", "finish", "manage", "account"
	attrBudget = attribute.Key("budget") // "client", "global"
)

// OnRateLimited counts a refusal in webauthnkit.ratelimit.refusals (by
// endpoint class, and budget "client" or "global": the client's own budget
// or the global begin budget) and adds a "webauthnkit.rate_limited" event
// to the request's span: use it as httpadapter.RateLimit.OnRefused. The
// client's address is not recorded (the audit log has it).
func (t *Telemetry) OnRateLimited(r *http.Request, ref httpadapter.Refusal) {
	budget := "client"
	if ref.Global {
		budget = "global"
	}
	ctx := r.Context()
	t.refusals.Add(ctx, 1, metric.WithAttributeSet(attribute.NewSet(attrClass.String(ref.Class), attrBudget.String(budget))))
	if span := trace.SpanFromContext(ctx); span.IsRecording() {
		span.AddEvent("webauthnkit.rate_limited", trace.WithAttributes(
			attribute.String("webauthnkit.ratelimit.class", ref.Class),
			attribute.String("webauthnkit.ratelimit.budget", budget)))
	}
}

package webauthnotel

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/account"
)

// Metric attribute keys (Prometheus labels) and span attribute keys.
const (
	attrCeremony = attribute.Key("ceremony") // "login", "registration"
	attrOutcome  = attribute.Key("outcome")  // "success", "failure"
	attrCode     = attribute.Key("code")     // webauthnkit.Code, failures only
	attrType     = attribute.Key("type")     // event type

	spanCeremony = attribute.Key("webauthnkit.ceremony")
	spanOutcome  = attribute.Key("webauthnkit.outcome")
	spanCode     = attribute.Key("webauthnkit.code")
	spanEvent    = attribute.Key("webauthnkit.event")
)

const (
	ceremonyLogin        = "login"
	ceremonyRegistration = "registration"
	outcomeSuccess       = "success"
	outcomeFailure       = "failure"
)

// knownEventTypes get precomputed attribute sets; other types work too.
var knownEventTypes = []string{
	string(webauthnkit.EventRegistrationSucceeded), string(webauthnkit.EventRegistrationFailed),
	string(webauthnkit.EventLoginSucceeded), string(webauthnkit.EventLoginFailed),
	string(webauthnkit.EventCounterRegression), string(webauthnkit.EventCredentialRenamed),
	string(webauthnkit.EventCredentialRevoked), string(webauthnkit.EventUserDeleted),
	string(webauthnkit.EventUserCreated), string(webauthnkit.EventUserUpdated),
	string(webauthnkit.EventSessionsEnded), string(webauthnkit.EventEmailChanged),
}

func ceremonyAttrs(ceremony, outcome string, code webauthnkit.Code) metric.MeasurementOption {
	if code == "" {
		return metric.WithAttributeSet(attribute.NewSet(attrCeremony.String(ceremony), attrOutcome.String(outcome)))
	}
	return metric.WithAttributeSet(attribute.NewSet(attrCeremony.String(ceremony), attrOutcome.String(outcome), attrCode.String(string(code))))
}

// OnEvent records ev: use it as webauthnkit.Config.OnEvent, or call it
// from yours. Every event counts in webauthnkit.events by type. A
// registration or login outcome is also measured in
// webauthnkit.ceremony.duration (Event.Duration) and, when ctx carries a
// recording span (an HTTP middleware's), becomes its child span
// "webauthnkit.FinishLogin" or "webauthnkit.FinishRegistration" (timed
// after the fact: the store calls made during the Finish are its siblings,
// not its children). Any other event is added to the span in ctx as a span
// event. No trace is started without a span in ctx. The span's status is Error on a failed ceremony,
// with the error code as its description; the error's text is never
// recorded (go-webauthn's texts may quote the challenge).
func (t *Telemetry) OnEvent(ctx context.Context, ev webauthnkit.Event) {
	t.countEvent(ctx, string(ev.Type))
	var ceremony, outcome string
	switch ev.Type {
	case webauthnkit.EventLoginSucceeded:
		ceremony, outcome = ceremonyLogin, outcomeSuccess
	case webauthnkit.EventLoginFailed:
		ceremony, outcome = ceremonyLogin, outcomeFailure
	case webauthnkit.EventRegistrationSucceeded:
		ceremony, outcome = ceremonyRegistration, outcomeSuccess
	case webauthnkit.EventRegistrationFailed:
		ceremony, outcome = ceremonyRegistration, outcomeFailure
	default:
		if span := trace.SpanFromContext(ctx); span.IsRecording() {
			attrs := []attribute.KeyValue{spanEvent.String(string(ev.Type))}
			if ev.Code != "" {
				attrs = append(attrs, spanCode.String(string(ev.Code)))
			}
			span.AddEvent(string(ev.Type), trace.WithAttributes(attrs...))
		}
		return
	}
	code := ev.Code
	if outcome == outcomeFailure && code == "" {
		code = webauthnkit.CodeInternal
	}
	var set metric.MeasurementOption
	switch {
	case outcome == outcomeFailure:
		set = ceremonyAttrs(ceremony, outcome, code)
	case ceremony == ceremonyLogin:
		set = t.loginOK
	default:
		set = t.regOK
	}
	t.ceremony.Record(ctx, ev.Duration.Seconds(), set)

	if !trace.SpanFromContext(ctx).IsRecording() {
		return // no request trace to add the span to
	}
	end := time.Now()
	name := "webauthnkit.FinishLogin"
	if ceremony == ceremonyRegistration {
		name = "webauthnkit.FinishRegistration"
	}
	attrs := []attribute.KeyValue{spanCeremony.String(ceremony), spanOutcome.String(outcome)}
	if outcome == outcomeFailure {
		attrs = append(attrs, spanCode.String(string(code)))
	}
	_, span := t.tracer.Start(ctx, name, trace.WithTimestamp(end.Add(-ev.Duration)),
		trace.WithSpanKind(trace.SpanKindInternal), trace.WithAttributes(attrs...))
	if outcome == outcomeFailure {
		span.SetStatus(codes.Error, string(code))
	}
	span.End(trace.WithTimestamp(end))
}

// OnAccountEvent counts an account event (account.Config.OnEvent) in
// webauthnkit.events by type.
func (t *Telemetry) OnAccountEvent(ev account.Event) {
	t.countEvent(context.Background(), string(ev.Type))
}

func (t *Telemetry) countEvent(ctx context.Context, typ string) {
	set, ok := t.eventSets[typ]
	if !ok {
		set = metric.WithAttributeSet(attribute.NewSet(attrType.String(typ)))
	}
	t.events.Add(ctx, 1, set)
}

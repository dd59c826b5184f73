package webauthnkit

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-webauthn/webauthn/protocol"
)

// Audit events (issue 16 item 3). Event.Err carries the reason, as an
// *Error with CodeCredentialQuarantined (a log-safe summary, never key
// material or attestation bytes).
const (
	// EventAuditRefused: AuditCredentials found a stored credential that
	// its evaluation refuses now (an authenticator model revoked, an AAGUID
	// denied), whether or not it was quarantined for it.
	EventAuditRefused EventType = "credential.audit_refused"
	// EventAuditFailed: the evaluation of one credential failed (malformed
	// stored attestation, evaluator error); the audit goes on.
	EventAuditFailed EventType = "credential.audit_failed"
	// EventCredentialQuarantined: a credential was quarantined, by
	// AuditCredentials or QuarantineCredential: logins with it are refused
	// with ErrCredentialQuarantined.
	EventCredentialQuarantined EventType = "credential.quarantined"
	// EventCredentialReleased: a quarantine was lifted, by AuditCredentials
	// (the metadata clears the credential again) or ReleaseCredential.
	EventCredentialReleased EventType = "credential.released"
)

// CodeCredentialQuarantined: the passkey is quarantined (see
// AuditCredentials) and cannot sign in. The HTTP adapter answers 403.
const CodeCredentialQuarantined Code = "credential_quarantined"

// ErrCredentialQuarantined is returned by FinishLogin for a quarantined
// passkey (after its signature was verified, so only its holder learns
// it), and emitted with EventLoginFailed. The user should sign in with
// another passkey or recover the account; the passkey stays stored until
// ReleaseCredential, a later audit or RevokeCredential.
var ErrCredentialQuarantined = &Error{Code: CodeCredentialQuarantined, Message: "this passkey has been suspended; sign in with another passkey or recover your account"}

// auditQuarantinePrefix starts the QuarantineReason of quarantines made by
// AuditCredentials: only those are lifted by a later audit. One made by
// QuarantineCredential stays until ReleaseCredential.
const auditQuarantinePrefix = "audit: "

// DefaultAuditPageSize is AuditRequest.PageSize's default.
const DefaultAuditPageSize = 100

// AuditVerdict is the outcome of evaluating one stored credential against
// the current metadata and policy.
type AuditVerdict struct {
	// Trust is stored as Credential.AttestationTrust ("trusted",
	// "untrusted", "revoked", "none", ...). At most MaxAuditTextLength
	// bytes.
	Trust string
	// Refuse: the policy would refuse this credential now.
	Refuse bool
	// Reason is a short, log-safe explanation of a refusal (it is stored,
	// logged and put in events). At most MaxAuditTextLength bytes with the
	// "audit: " prefix AuditCredentials adds.
	Reason string
	// Attestation is the policy's full result, when the evaluation is
	// EvaluateAttestation (the default); the audit events carry it in
	// Event.Attestation.
	Attestation *AttestationResult
}

// AuditFunc evaluates one stored credential (its AAGUID, attestation
// format and, when kept, AttestationObject and AttestationClientDataHash).
// It must be idempotent and must not write to the store.
type AuditFunc func(ctx context.Context, c Credential) (AuditVerdict, error)

// AuditRequest configures AuditCredentials.
type AuditRequest struct {
	// Cursor resumes an interrupted audit: AuditReport.Cursor of the run
	// that stopped. Default "": from the start.
	Cursor string
	// PageSize is how many credentials are read per store call, and so
	// held in memory at once. Default DefaultAuditPageSize (100); at most
	// MaxScanPageSize.
	PageSize int
	// Quarantine quarantines every credential the evaluation refuses
	// (logins with it then fail with ErrCredentialQuarantined) and lifts
	// the quarantines an earlier audit made on credentials it now accepts.
	// Default false: report and events only.
	Quarantine bool
	// Evaluate evaluates one credential. Default: the RelyingParty's
	// attestation policy against its current metadata, when it has one;
	// without either, AuditCredentials fails with ErrInvalidRequest.
	Evaluate AuditFunc
	// Progress, if set, is called after each page with the counts so far
	// and the cursor to resume from. It must not block for long.
	Progress func(AuditReport)
}

// AuditReport counts what AuditCredentials did.
type AuditReport struct {
	Scanned     int // credentials read
	Refused     int // evaluated as refused now (EventAuditRefused each)
	Failed      int // evaluation errors (EventAuditFailed each)
	Quarantined int // newly quarantined
	Released    int // quarantines lifted
	Updated     int // credentials whose stored audit state changed
	// Cursor is where to resume (AuditRequest.Cursor) after an error or a
	// canceled context; "" once the whole store was read.
	Cursor string
}

// AuditCredentials evaluates every stored credential again, for instance
// after a metadata update revoked an authenticator model: it reads the
// store page by page (CredentialAuditor.ScanCredentials: bounded memory,
// nothing held between pages, resumable from AuditReport.Cursor), calls
// req.Evaluate on each credential, emits EventAuditRefused or
// EventAuditFailed, and writes the outcome back when it changed
// (Credential.AttestationTrust and AttestationCheckedAt; with
// req.Quarantine, QuarantinedAt and QuarantineReason too, emitting
// EventCredentialQuarantined or EventCredentialReleased).
//
// It stops at the first store error, when the metadata cannot be read
// (ErrInternal), or when ctx is done, returning the
// report so far, whose Cursor resumes the audit; a credential may then be
// evaluated twice, which is harmless. Concurrent logins go on; a
// credential registered during the audit may be missed (registration
// evaluates it anyway). A credential's audit state is written with one
// SetCredentialAudit call: the last writer wins between an audit and a
// concurrent QuarantineCredential.
//
// Errors: ErrInvalidRequest (the store does not declare Features().Audit,
// no evaluation, PageSize out of range, malformed Cursor),
// ErrStoreUnavailable, ErrCanceled.
func (rp *RelyingParty) AuditCredentials(ctx context.Context, req AuditRequest) (AuditReport, error) {
	report := AuditReport{Cursor: req.Cursor}
	store, err := rp.auditor()
	if err != nil {
		return report, err
	}
	evaluate := req.Evaluate
	if evaluate == nil {
		evaluate = rp.defaultAuditFunc()
	}
	if evaluate == nil {
		return report, &Error{Code: CodeInvalidRequest, Message: "no attestation evaluation: set AuditRequest.Evaluate or configure an attestation policy"}
	}
	size := req.PageSize
	if size == 0 {
		size = DefaultAuditPageSize
	}
	if size < 1 || size > MaxScanPageSize {
		return report, &Error{Code: CodeInvalidRequest, Message: fmt.Sprintf("the page size must be 1 to %d", MaxScanPageSize)}
	}
	cursor := req.Cursor
	for {
		if err := ctx.Err(); err != nil {
			return report, rp.storeErr(ctx, "AuditCredentials", err)
		}
		page, next, err := store.ScanCredentials(ctx, cursor, size)
		if err != nil {
			if !errors.Is(err, ErrStoreUnavailable) && ctx.Err() == nil && cursor != "" && cursor == req.Cursor {
				return report, &Error{Code: CodeInvalidRequest, Message: "the audit cursor is not valid for this store", Err: err}
			}
			return report, rp.storeErr(ctx, "ScanCredentials", err)
		}
		for i := range page {
			if err := rp.auditOne(ctx, store, &page[i], evaluate, req.Quarantine, &report); err != nil {
				// Resume from this page: the credentials before this one
				// are evaluated again, harmlessly.
				return report, err
			}
		}
		cursor, report.Cursor = next, next
		if req.Progress != nil {
			req.Progress(report)
		}
		if next == "" {
			return report, nil
		}
	}
}

// auditOne evaluates one credential and writes back what changed. Only
// store errors are returned (they stop the audit).
func (rp *RelyingParty) auditOne(ctx context.Context, store CredentialAuditor, c *Credential, evaluate AuditFunc, quarantine bool, report *AuditReport) error {
	report.Scanned++
	v, err := evaluate(ctx, *c)
	if err == nil && (len(v.Trust) > MaxAuditTextLength || !utf8.ValidString(v.Trust)) {
		err = errors.New("the verdict's Trust is not valid UTF-8 of at most MaxAuditTextLength bytes")
	}
	if err != nil {
		if ctx.Err() != nil {
			return rp.storeErr(ctx, "AuditCredentials", ctx.Err())
		}
		if errors.Is(err, errMetadataUnavailable) {
			// Every credential would fail alike: stop, resumable.
			return &Error{Code: CodeInternal, Message: "the attestation metadata is unavailable: resume the audit later", Err: err}
		}
		report.Failed++
		rp.log.WarnContext(ctx, "webauthnkit: credential audit failed", "err", err)
		rp.emit(ctx, Event{Type: EventAuditFailed, UserHandle: c.UserHandle, CredentialID: c.ID, Code: CodeInternal, Err: err})
		return nil
	}
	reason := ""
	if v.Refuse {
		reason = auditReason(v.Reason)
		report.Refused++
		rp.emit(ctx, Event{Type: EventAuditRefused, UserHandle: c.UserHandle, CredentialID: c.ID,
			Code: CodeCredentialQuarantined, Err: &Error{Code: CodeCredentialQuarantined, Message: reason}, Attestation: v.Attestation})
	}
	next := CredentialAudit{Trust: v.Trust, CheckedAt: c.AttestationCheckedAt, QuarantinedAt: c.QuarantinedAt, QuarantineReason: c.QuarantineReason}
	var event EventType
	byAudit := strings.HasPrefix(c.QuarantineReason, auditQuarantinePrefix)
	switch {
	case !quarantine:
	case v.Refuse && c.QuarantinedAt.IsZero():
		next.QuarantinedAt, next.QuarantineReason = rp.cfg.Now().UTC(), reason
		event = EventCredentialQuarantined
	case v.Refuse && byAudit:
		next.QuarantineReason = reason // the current reason
	case !v.Refuse && !c.QuarantinedAt.IsZero() && byAudit:
		next.QuarantinedAt, next.QuarantineReason = time.Time{}, ""
		event = EventCredentialReleased
	}
	if next.Trust == c.AttestationTrust && next.QuarantinedAt.Equal(c.QuarantinedAt) && next.QuarantineReason == c.QuarantineReason {
		return nil
	}
	if next.Trust != c.AttestationTrust || next.CheckedAt.IsZero() {
		next.CheckedAt = rp.cfg.Now().UTC()
	}
	err = store.SetCredentialAudit(ctx, c.ID, next)
	if errors.Is(err, ErrNotFound) {
		return nil // deleted meanwhile
	}
	if err != nil {
		return rp.storeErr(ctx, "SetCredentialAudit", err)
	}
	report.Updated++
	switch event {
	case EventCredentialQuarantined:
		report.Quarantined++
		rp.emit(ctx, Event{Type: event, UserHandle: c.UserHandle, CredentialID: c.ID,
			Code: CodeCredentialQuarantined, Err: &Error{Code: CodeCredentialQuarantined, Message: reason}, Attestation: v.Attestation})
	case EventCredentialReleased:
		report.Released++
		rp.emit(ctx, Event{Type: event, UserHandle: c.UserHandle, CredentialID: c.ID, Attestation: v.Attestation})
	}
	return nil
}

// auditReason is the stored reason of an audit quarantine: the prefix and
// the verdict's reason, cut to MaxAuditTextLength bytes on a rune boundary.
func auditReason(r string) string {
	if r == "" {
		r = "refused by the attestation policy"
	}
	return cutText(auditQuarantinePrefix+strings.ToValidUTF8(r, "?"), MaxAuditTextLength)
}

// cutText cuts s to at most n bytes without splitting a rune.
func cutText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// auditor returns the store as a CredentialAuditor, by its declaration.
func (rp *RelyingParty) auditor() (CredentialAuditor, error) {
	a, ok := rp.creds.(CredentialAuditor)
	if !ok || !rp.creds.Features().Audit {
		return nil, &Error{Code: CodeInvalidRequest, Message: "the credential store does not support audits (Features().Audit)"}
	}
	return a, nil
}

// QuarantineCredential quarantines a passkey by its ID (an administrator's
// decision, e.g. a reported lost security key model): logins with it fail
// with ErrCredentialQuarantined until ReleaseCredential. reason is a short
// log-safe text (stored, logged, put in the event); at most
// MaxAuditTextLength bytes. AuditCredentials never lifts such a
// quarantine. Emits EventCredentialQuarantined.
//
// Errors: ErrInvalidRequest (store without Features().Audit, reason too
// long), ErrNotFound, ErrStoreUnavailable.
func (rp *RelyingParty) QuarantineCredential(ctx context.Context, credentialID []byte, reason string) error {
	if len(reason) > MaxAuditTextLength || !utf8.ValidString(reason) || strings.HasPrefix(reason, auditQuarantinePrefix) {
		return &Error{Code: CodeInvalidRequest, Message: fmt.Sprintf("the reason must be valid UTF-8 of at most %d bytes, not starting with %q", MaxAuditTextLength, auditQuarantinePrefix)}
	}
	if reason == "" {
		reason = "quarantined by the application"
	}
	return rp.setQuarantine(ctx, credentialID, rp.cfg.Now().UTC(), reason)
}

// ReleaseCredential lifts the quarantine of a passkey, whoever set it.
// Emits EventCredentialReleased (also when it was not quarantined).
//
// Errors: ErrInvalidRequest (store without Features().Audit), ErrNotFound,
// ErrStoreUnavailable.
func (rp *RelyingParty) ReleaseCredential(ctx context.Context, credentialID []byte) error {
	return rp.setQuarantine(ctx, credentialID, time.Time{}, "")
}

func (rp *RelyingParty) setQuarantine(ctx context.Context, id []byte, at time.Time, reason string) error {
	store, err := rp.auditor()
	if err != nil {
		return err
	}
	c, err := rp.creds.GetCredential(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return &Error{Code: CodeNotFound, Message: "no such passkey", Err: err}
	}
	if err != nil {
		return rp.storeErr(ctx, "GetCredential", err)
	}
	err = store.SetCredentialAudit(ctx, id, CredentialAudit{Trust: c.AttestationTrust, CheckedAt: c.AttestationCheckedAt, QuarantinedAt: at, QuarantineReason: reason})
	if errors.Is(err, ErrNotFound) {
		return &Error{Code: CodeNotFound, Message: "no such passkey", Err: err}
	}
	if err != nil {
		return rp.storeErr(ctx, "SetCredentialAudit", err)
	}
	ev := Event{Type: EventCredentialReleased, UserHandle: c.UserHandle, CredentialID: c.ID}
	if !at.IsZero() {
		ev.Type, ev.Code, ev.Err = EventCredentialQuarantined, CodeCredentialQuarantined, &Error{Code: CodeCredentialQuarantined, Message: reason}
	}
	rp.emit(ctx, ev)
	return nil
}

// checkQuarantine refuses a quarantined credential at login.
func (rp *RelyingParty) checkQuarantine(ctx context.Context, c *Credential) error {
	if c.QuarantinedAt.IsZero() {
		return nil
	}
	rp.log.InfoContext(ctx, "webauthnkit: login with a quarantined passkey refused", "reason", c.QuarantineReason)
	return &Error{Code: CodeCredentialQuarantined, Message: ErrCredentialQuarantined.Message}
}

// defaultAuditFunc is the evaluation AuditCredentials uses without
// AuditRequest.Evaluate: the configured attestation policy against the
// current metadata; nil without one.
func (rp *RelyingParty) defaultAuditFunc() AuditFunc {
	if rp.cfg.Attestation.Mode == AttestationOff {
		return nil
	}
	return rp.auditByPolicy
}

// errMetadataUnavailable: the metadata could not be read; the audit must
// not conclude anything (under enforce every credential would look
// untrusted).
var errMetadataUnavailable = errors.New("webauthnkit: attestation metadata unavailable")

// auditByPolicy evaluates a stored credential with EvaluateAttestation
// (Config.Attestation against the current metadata, at Config.Now). It
// refuses what FinishRegistration would refuse now, except that a
// credential stored without an attestation object ("none" attestation,
// registered before it was kept, or imported) is refused only for its
// model (denied by the AAGUID lists, or revoked), not for evidence it does
// not have: RequireAttestation, turned on later, does not quarantine every
// synced passkey. An unreadable metadata
// source is an evaluation error: nothing is concluded.
func (rp *RelyingParty) auditByPolicy(ctx context.Context, c Credential) (AuditVerdict, error) {
	res, err := rp.EvaluateAttestation(ctx, AttestationInput{Format: c.AttestationFormat, AAGUID: c.AAGUID, AttestationObject: c.AttestationObject})
	if err != nil {
		return AuditVerdict{}, err
	}
	if res.MetadataErr != nil {
		return AuditVerdict{}, fmt.Errorf("%w: %w", errMetadataUnavailable, res.MetadataErr)
	}
	refuse := res.Refused
	if refuse && c.AttestationObject == nil && !res.Denied && res.Trust != AttestationRevoked {
		refuse = false
	}
	return AuditVerdict{Trust: string(res.Trust), Refuse: refuse, Reason: res.Reason, Attestation: res}, nil
}

// keepAttestation stores the attestation object and the client data hash
// of a registration, for AuditCredentials. Not for format "none": it
// proves nothing, and the AAGUID and flags are stored anyway. The object
// is bounded by the body cap: a response of at most MaxResponseSize bytes
// carries at most MaxAttestationObjectSize bytes of it.
func keepAttestation(rec *Credential, parsed *protocol.ParsedCredentialCreationData) {
	raw := parsed.Raw.AttestationResponse
	if rec.AttestationFormat == "" || rec.AttestationFormat == string(protocol.AttestationFormatNone) ||
		len(raw.AttestationObject) == 0 || len(raw.AttestationObject) > MaxAttestationObjectSize {
		return
	}
	h := sha256.Sum256(raw.ClientDataJSON)
	rec.AttestationObject = bytes.Clone(raw.AttestationObject)
	rec.AttestationClientDataHash = h[:]
}

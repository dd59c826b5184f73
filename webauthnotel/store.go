package webauthnotel

import (
	"context"
	"errors"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/webauthnkit/webauthnkit"
)

// method is a store method, CredentialStore's then ChallengeStore's.
type method int

const (
	mCreateUser method = iota
	mUpdateUser
	mGetUserByEmail
	mSetEmail
	mSetRecoveryCodes
	mUseRecoveryCode
	mRecoveryCodesLeft
	mGetUserByHandle
	mGetUserByName
	mDeleteUser
	mAddCredential
	mGetCredential
	mListCredentials
	mUpdateCredentialUse
	mRenameCredential
	mDeleteCredential
	mEndSessions
	mGetCredentialWithUser
	mScanCredentials
	mSetCredentialAudit
	mListUserHandles
	mPutCeremony
	mTakeCeremony
	numMethods
)

var methodNames = [numMethods]string{
	"CreateUser", "UpdateUser", "GetUserByEmail", "SetEmail", "SetRecoveryCodes",
	"UseRecoveryCode", "RecoveryCodesLeft", "GetUserByHandle", "GetUserByName", "DeleteUser",
	"AddCredential", "GetCredential", "ListCredentials", "UpdateCredentialUse",
	"RenameCredential", "DeleteCredential", "EndSessions", "GetCredentialWithUser",
	"ScanCredentials", "SetCredentialAudit", "ListUserHandles",
	"PutCeremony", "TakeCeremony",
}

// Span names, made once.
var spanNames = func() (n [numMethods]string) {
	for m := range numMethods {
		n[m] = "webauthnkit.store." + methodNames[m]
	}
	return n
}()

const (
	attrStore  = attribute.Key("store")  // "credentials", "ceremonies"
	attrMethod = attribute.Key("method") // the Go method name
	attrResult = attribute.Key("result") // "ok" or the error's code

	spanMethod = attribute.Key("webauthnkit.store.method")
	spanResult = attribute.Key("webauthnkit.store.result")

	resultOK = "ok"
)

func storeKind(m method) string {
	if m >= mPutCeremony {
		return "ceremonies"
	}
	return "credentials"
}

func storeAttrs(m method, result string) metric.MeasurementOption {
	return metric.WithAttributeSet(attribute.NewSet(
		attrStore.String(storeKind(m)), attrMethod.String(methodNames[m]), attrResult.String(result)))
}

// result names a store call's outcome: "ok", the code of a webauthnkit
// error (not_found, conflict, user_exists, store_unavailable, ...), or
// "canceled" / "deadline_exceeded" for a context error, else "internal".
func result(err error) string {
	if err == nil {
		return resultOK
	}
	var e *webauthnkit.Error
	switch {
	case errors.As(err, &e):
		return string(e.Code)
	case errors.Is(err, context.DeadlineExceeded):
		return "deadline_exceeded"
	case errors.Is(err, context.Canceled):
		return string(webauthnkit.CodeCanceled)
	}
	return string(webauthnkit.CodeInternal)
}

// expected results are answers of the store's contract, not faults: their
// spans keep status Unset.
func expected(result string) bool {
	switch webauthnkit.Code(result) {
	case resultOK, webauthnkit.CodeNotFound, webauthnkit.CodeConflict, webauthnkit.CodeDuplicate,
		webauthnkit.CodeUserExists, webauthnkit.CodeCredentialExists, webauthnkit.CodeLastCredential:
		return true
	}
	return false
}

// call times one store call: a span, then the duration by result.
type call struct {
	t     *Telemetry
	m     method
	span  trace.Span // nil: not traced
	start time.Time
}

// begin starts timing a call of m, and its span if ctx carries a
// recording span (webauthnotel adds spans to a request's trace, never
// starts a trace of its own).
func (t *Telemetry) begin(ctx context.Context, m method) (context.Context, call) {
	c := call{t: t, m: m}
	if trace.SpanFromContext(ctx).IsRecording() {
		ctx, c.span = t.tracer.Start(ctx, spanNames[m], trace.WithSpanKind(trace.SpanKindInternal))
	}
	c.start = time.Now()
	return ctx, c
}

func (c call) end(ctx context.Context, err error) {
	d := time.Since(c.start)
	res := result(err)
	set := c.t.storeOK[c.m]
	if res != resultOK {
		set = storeAttrs(c.m, res)
	}
	c.t.store.Record(ctx, d.Seconds(), set)
	if c.span == nil {
		return
	}
	c.span.SetAttributes(spanMethod.String(methodNames[c.m]), spanResult.String(res))
	if !expected(res) {
		// The code only: error texts are the store's, and a span is no
		// place for them.
		c.span.SetStatus(codes.Error, res)
	}
	c.span.End()
}

// CredentialStore wraps s: every call is timed in
// webauthnkit.store.duration and, when its context carries a recording
// span (an HTTP middleware's), traced as its child span
// "webauthnkit.store.<Method>".
// Features are s's: the optional methods (GetCredentialWithUser, the
// audit's ScanCredentials and SetCredentialAudit, ListUserHandles) are
// forwarded (and timed) only if s implements and declares them.
func (t *Telemetry) CredentialStore(s webauthnkit.CredentialStore) webauthnkit.CredentialStore {
	w := &credStore{t: t, s: s}
	f := s.Features()
	if g, ok := s.(webauthnkit.CredentialUserGetter); ok && f.CredentialWithUser {
		w.join = g
	}
	if a, ok := s.(webauthnkit.CredentialAuditor); ok && f.Audit {
		w.audit = a
	}
	if l, ok := s.(webauthnkit.UserHandleLister); ok && f.ListUserHandles {
		w.lister = l
	}
	return w
}

// ChallengeStore wraps s like CredentialStore.
func (t *Telemetry) ChallengeStore(s webauthnkit.ChallengeStore) webauthnkit.ChallengeStore {
	return &challengeStore{t: t, s: s}
}

// credStore forwards every method explicitly (never by embedding: an
// embedded store would expose optional methods untimed).
type credStore struct {
	t      *Telemetry
	s      webauthnkit.CredentialStore
	join   webauthnkit.CredentialUserGetter // nil unless s has and declares it
	audit  webauthnkit.CredentialAuditor    // likewise
	lister webauthnkit.UserHandleLister     // likewise
}

var (
	_ webauthnkit.CredentialStore      = (*credStore)(nil)
	_ webauthnkit.CredentialUserGetter = (*credStore)(nil)
	_ webauthnkit.CredentialAuditor    = (*credStore)(nil)
	_ webauthnkit.UserHandleLister     = (*credStore)(nil)
	_ webauthnkit.ChallengeStore       = (*challengeStore)(nil)
)

// errNotDeclared answers an optional method on a wrapper whose Features
// do not declare it (the core never calls it then).
var errNotDeclared = errors.New("webauthnotel: the wrapped store does not declare this optional method")

func (w *credStore) ScanCredentials(ctx context.Context, cursor string, limit int) ([]webauthnkit.Credential, string, error) {
	ctx, c := w.t.begin(ctx, mScanCredentials)
	if w.audit == nil {
		c.end(ctx, errNotDeclared)
		return nil, "", errNotDeclared
	}
	page, next, err := w.audit.ScanCredentials(ctx, cursor, limit)
	c.end(ctx, err)
	return page, next, err
}

func (w *credStore) SetCredentialAudit(ctx context.Context, id []byte, audit webauthnkit.CredentialAudit) error {
	ctx, c := w.t.begin(ctx, mSetCredentialAudit)
	if w.audit == nil {
		c.end(ctx, errNotDeclared)
		return errNotDeclared
	}
	err := w.audit.SetCredentialAudit(ctx, id, audit)
	c.end(ctx, err)
	return err
}

func (w *credStore) ListUserHandles(ctx context.Context, after []byte, limit int) ([][]byte, error) {
	ctx, c := w.t.begin(ctx, mListUserHandles)
	if w.lister == nil {
		c.end(ctx, errNotDeclared)
		return nil, errNotDeclared
	}
	h, err := w.lister.ListUserHandles(ctx, after, limit)
	c.end(ctx, err)
	return h, err
}

func (w *credStore) Features() webauthnkit.Features {
	f := w.s.Features()
	return webauthnkit.Features{ProcessLocal: f.ProcessLocal, CredentialWithUser: w.join != nil,
		Audit: w.audit != nil, ListUserHandles: w.lister != nil}
}

func (w *credStore) CreateUser(ctx context.Context, user webauthnkit.User, first *webauthnkit.Credential) error {
	ctx, c := w.t.begin(ctx, mCreateUser)
	err := w.s.CreateUser(ctx, user, first)
	c.end(ctx, err)
	return err
}

func (w *credStore) UpdateUser(ctx context.Context, handle []byte, name, displayName string) error {
	ctx, c := w.t.begin(ctx, mUpdateUser)
	err := w.s.UpdateUser(ctx, handle, name, displayName)
	c.end(ctx, err)
	return err
}

func (w *credStore) GetUserByEmail(ctx context.Context, email string) (webauthnkit.User, error) {
	ctx, c := w.t.begin(ctx, mGetUserByEmail)
	u, err := w.s.GetUserByEmail(ctx, email)
	c.end(ctx, err)
	return u, err
}

func (w *credStore) SetEmail(ctx context.Context, handle []byte, email string, verifiedAt time.Time) error {
	ctx, c := w.t.begin(ctx, mSetEmail)
	err := w.s.SetEmail(ctx, handle, email, verifiedAt)
	c.end(ctx, err)
	return err
}

func (w *credStore) SetRecoveryCodes(ctx context.Context, handle []byte, hashes [][]byte) error {
	ctx, c := w.t.begin(ctx, mSetRecoveryCodes)
	err := w.s.SetRecoveryCodes(ctx, handle, hashes)
	c.end(ctx, err)
	return err
}

func (w *credStore) UseRecoveryCode(ctx context.Context, handle []byte, hash []byte) error {
	ctx, c := w.t.begin(ctx, mUseRecoveryCode)
	err := w.s.UseRecoveryCode(ctx, handle, hash)
	c.end(ctx, err)
	return err
}

func (w *credStore) RecoveryCodesLeft(ctx context.Context, handle []byte) (int, error) {
	ctx, c := w.t.begin(ctx, mRecoveryCodesLeft)
	n, err := w.s.RecoveryCodesLeft(ctx, handle)
	c.end(ctx, err)
	return n, err
}

func (w *credStore) GetUserByHandle(ctx context.Context, handle []byte) (webauthnkit.User, error) {
	ctx, c := w.t.begin(ctx, mGetUserByHandle)
	u, err := w.s.GetUserByHandle(ctx, handle)
	c.end(ctx, err)
	return u, err
}

func (w *credStore) GetUserByName(ctx context.Context, name string) (webauthnkit.User, error) {
	ctx, c := w.t.begin(ctx, mGetUserByName)
	u, err := w.s.GetUserByName(ctx, name)
	c.end(ctx, err)
	return u, err
}

func (w *credStore) DeleteUser(ctx context.Context, handle []byte) error {
	ctx, c := w.t.begin(ctx, mDeleteUser)
	err := w.s.DeleteUser(ctx, handle)
	c.end(ctx, err)
	return err
}

func (w *credStore) AddCredential(ctx context.Context, cred webauthnkit.Credential) error {
	ctx, c := w.t.begin(ctx, mAddCredential)
	err := w.s.AddCredential(ctx, cred)
	c.end(ctx, err)
	return err
}

func (w *credStore) GetCredential(ctx context.Context, id []byte) (webauthnkit.Credential, error) {
	ctx, c := w.t.begin(ctx, mGetCredential)
	cr, err := w.s.GetCredential(ctx, id)
	c.end(ctx, err)
	return cr, err
}

func (w *credStore) GetCredentialWithUser(ctx context.Context, id []byte) (webauthnkit.Credential, webauthnkit.User, error) {
	ctx, c := w.t.begin(ctx, mGetCredentialWithUser)
	if w.join == nil {
		c.end(ctx, errNotDeclared)
		return webauthnkit.Credential{}, webauthnkit.User{}, errNotDeclared
	}
	cr, u, err := w.join.GetCredentialWithUser(ctx, id)
	c.end(ctx, err)
	return cr, u, err
}

func (w *credStore) ListCredentials(ctx context.Context, userHandle []byte) ([]webauthnkit.Credential, error) {
	ctx, c := w.t.begin(ctx, mListCredentials)
	list, err := w.s.ListCredentials(ctx, userHandle)
	c.end(ctx, err)
	return list, err
}

func (w *credStore) UpdateCredentialUse(ctx context.Context, id []byte, expectedSignCount uint32, use webauthnkit.CredentialUse) error {
	ctx, c := w.t.begin(ctx, mUpdateCredentialUse)
	err := w.s.UpdateCredentialUse(ctx, id, expectedSignCount, use)
	c.end(ctx, err)
	return err
}

func (w *credStore) RenameCredential(ctx context.Context, userHandle, id []byte, name string) error {
	ctx, c := w.t.begin(ctx, mRenameCredential)
	err := w.s.RenameCredential(ctx, userHandle, id, name)
	c.end(ctx, err)
	return err
}

func (w *credStore) DeleteCredential(ctx context.Context, userHandle, id []byte, allowLast bool) error {
	ctx, c := w.t.begin(ctx, mDeleteCredential)
	err := w.s.DeleteCredential(ctx, userHandle, id, allowLast)
	c.end(ctx, err)
	return err
}

func (w *credStore) EndSessions(ctx context.Context, userHandle []byte) (uint64, error) {
	ctx, c := w.t.begin(ctx, mEndSessions)
	epoch, err := w.s.EndSessions(ctx, userHandle)
	c.end(ctx, err)
	return epoch, err
}

type challengeStore struct {
	t *Telemetry
	s webauthnkit.ChallengeStore
}

func (w *challengeStore) Features() webauthnkit.Features {
	return webauthnkit.Features{ProcessLocal: w.s.Features().ProcessLocal}
}

func (w *challengeStore) PutCeremony(ctx context.Context, id string, data []byte, expiresAt time.Time) error {
	ctx, c := w.t.begin(ctx, mPutCeremony)
	err := w.s.PutCeremony(ctx, id, data, expiresAt)
	c.end(ctx, err)
	return err
}

func (w *challengeStore) TakeCeremony(ctx context.Context, id string) ([]byte, error) {
	ctx, c := w.t.begin(ctx, mTakeCeremony)
	data, err := w.s.TakeCeremony(ctx, id)
	c.end(ctx, err)
	return data, err
}

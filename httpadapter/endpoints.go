package httpadapter

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"time"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/account"
)

// optString is a JSON string field that records whether it was present.
// null is refused: a client meaning "sign up" must not silently get "add a
// passkey to the signed-in account" instead.
type optString struct {
	set bool
	v   string
}

func (o *optString) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, []byte("null")) {
		return &json.UnmarshalTypeError{Value: "null", Type: reflect.TypeFor[string]()}
	}
	o.set = true
	return json.Unmarshal(b, &o.v)
}

// setCeremony binds the ceremony to this browser: an HttpOnly,
// SameSite=Strict cookie scoped to the mount path.
func (h *Handler) setCeremony(w http.ResponseWriter, r *http.Request, endpoint string, b *webauthnkit.Begin) {
	maxAge := int(b.ExpiresAt.Sub(h.now()).Seconds()) + 1
	if maxAge <= 0 || maxAge > int(h.ceremonyTTL.Seconds())+1 {
		maxAge = int(h.ceremonyTTL.Seconds()) + 1
	}
	http.SetCookie(w, &http.Cookie{
		Name:     CeremonyCookie,
		Value:    b.CeremonyID,
		Path:     mountPath(r, endpoint),
		MaxAge:   maxAge,
		HttpOnly: true,
		Secure:   !h.insecure(r),
		SameSite: http.SameSiteStrictMode,
	})
}

// takeCeremony reads and clears the ceremony cookie. The core consumes the
// ceremony itself atomically, so a replay fails whether or not the browser
// kept the cookie.
func (h *Handler) takeCeremony(w http.ResponseWriter, r *http.Request, endpoint string) string {
	id := ""
	if c, err := r.Cookie(CeremonyCookie); err == nil {
		id = c.Value
	}
	http.SetCookie(w, &http.Cookie{
		Name:     CeremonyCookie,
		Value:    "",
		Path:     mountPath(r, endpoint),
		MaxAge:   -1,
		HttpOnly: true,
		Secure:   !h.insecure(r),
		SameSite: http.SameSiteStrictMode,
	})
	return id
}

func (h *Handler) beginRegistration(w http.ResponseWriter, r *http.Request) {
	body, err := h.jsonRequest(w, r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	var req struct {
		Username    optString `json:"username"`
		DisplayName optString `json:"displayName"`
		Name        string    `json:"name"` // the passkey's label
		// SecondFactor registers a key usable only as a second factor.
		SecondFactor bool `json:"secondFactor"`
		// Conditional: automatic passkey upgrade (conditional create).
		Conditional bool `json:"conditional"`
		// Grant (account flows): the core binds the passkey to the
		// account the grant names; nothing else names one.
		Grant optString `json:"grant"`
	}
	if err := decodeObject(body, &req, false); err != nil {
		h.fail(w, r, err)
		return
	}
	if req.SecondFactor && req.Conditional {
		h.fail(w, r, badRequest("secondFactor and conditional exclude each other"))
		return
	}
	rr := webauthnkit.RegistrationRequest{CredentialName: req.Name}
	if req.Grant.set {
		if req.Username.set || req.DisplayName.set || req.SecondFactor || req.Conditional {
			h.fail(w, r, badRequest("a grant takes only a name"))
			return
		}
		if req.Grant.v == "" {
			h.fail(w, r, &httpError{http.StatusBadRequest, webauthnkit.CodeInvalidGrant, webauthnkit.ErrInvalidGrant.Message})
			return
		}
		rr.Grant = req.Grant.v
	} else if req.Username.set {
		// Sign-up. The core refuses a name in use (409 username_taken); it
		// never adds a passkey to an existing account from a name.
		if h.opts.DisableSignUp {
			h.fail(w, r, &httpError{http.StatusForbidden, CodeSignUpDisabled, "sign-up is disabled"})
			return
		}
		if req.SecondFactor || req.Conditional {
			h.fail(w, r, badRequest("secondFactor and conditional are for a signed-in user, not a sign-up"))
			return
		}
		rr.Username, rr.DisplayName = req.Username.v, req.DisplayName.v
	} else {
		if req.DisplayName.set {
			h.fail(w, r, badRequest("displayName needs a username (sign-up)"))
			return
		}
		// Add a passkey to the signed-in account, and only to it. An app
		// user without a library account gets one now, before the passkey
		// exists (Options.AccountFor).
		u, s, found, err := h.signedInAccount(w, r)
		if err == nil && !found {
			u, err = h.ensureAccount(r, u)
		} else if err == nil {
			err = h.needsFreshAuthToAdd(r, u, s)
		}
		if err != nil {
			h.fail(w, r, err)
			return
		}
		rr.UserHandle = u.Handle
		rr.SecondFactorOnly, rr.Conditional = req.SecondFactor, req.Conditional
		if req.SecondFactor {
			// The same requirement as the second-factor login, so a PIN-less
			// security key can be enrolled where Config asks for UV.
			rr.UserVerification = h.opts.SecondFactorUserVerification
		}
	}
	b, err := h.rp.BeginRegistration(r.Context(), rr)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.setCeremony(w, r, "registration/begin", b)
	h.respond(w, r, beginResponse{PublicKey: b.Options, Mediation: b.Mediation})
}

func (h *Handler) finishRegistration(w http.ResponseWriter, r *http.Request) {
	body, err := h.jsonRequest(w, r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	id := h.takeCeremony(w, r, "registration/finish")
	reg, err := h.rp.FinishRegistration(r.Context(), id, body)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	// A recovery signs the user in, as a sign-up does, and so does the
	// passkey of a device linked by approval.
	recovered := reg.GrantPurpose == account.GrantPurposeRecovery
	linked := reg.GrantPurpose == webauthnkit.LinkGrantPurpose
	var cookie string
	if h.opts.CurrentUser == nil && (reg.NewUser || recovered || linked) {
		// The new passkey was just used with user verification (or not).
		var authAt time.Time
		if reg.Credential.UserVerified {
			authAt = reg.Credential.CreatedAt
		}
		cookie = h.setSession(w, r, reg.User, authAt)
	}
	if h.opts.OnRegister != nil {
		if err := h.opts.OnRegister(w, r, reg); err != nil {
			// The client is told the registration failed: nothing of it
			// may stay, and its passkey manager should forget the passkey.
			if uerr := h.undoRegistration(r, reg); uerr != nil {
				h.log.ErrorContext(r.Context(), "httpadapter: could not undo a refused registration", "err", uerr)
			} else if !reg.NewUser {
				h.keepSessionAfterUndo(w, r, reg.User)
			}
			sig := &signal{UnknownCredential: &unknownCredentialSignal{RPID: h.rpID, CredentialID: b64(reg.Credential.ID)}}
			h.hookFailed(w, r, "OnRegister", err, cookie, sig)
			return
		}
	}
	h.completeRecovery(r, reg)
	h.respond(w, r, registrationResponse{
		User:       newUserJSON(reg.User),
		Credential: newCredentialJSON(reg.Credential),
		NewUser:    reg.NewUser,
		Recovered:  recovered,
		Linked:     linked,
	})
}

func (h *Handler) beginLogin(w http.ResponseWriter, r *http.Request) {
	body, err := h.jsonRequest(w, r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	var req struct {
		Username    string `json:"username"`
		Conditional bool   `json:"conditional"`
		// SecondFactor: a login bound to the user who passed the app's
		// first factor (Options.PendingSecondFactor).
		SecondFactor bool `json:"secondFactor"`
	}
	if err := decodeObject(body, &req, false); err != nil {
		h.fail(w, r, err)
		return
	}
	lr := webauthnkit.LoginRequest{Username: req.Username, Conditional: req.Conditional}
	if req.SecondFactor {
		if req.Username != "" || req.Conditional {
			h.fail(w, r, badRequest("secondFactor takes neither username nor conditional"))
			return
		}
		var handle []byte
		ok := false
		if h.opts.PendingSecondFactor != nil {
			handle, ok = h.opts.PendingSecondFactor(r)
		}
		if !ok || len(handle) == 0 {
			h.fail(w, r, &httpError{http.StatusUnauthorized, CodeNotSignedIn, "sign in with your password first"})
			return
		}
		lr = webauthnkit.LoginRequest{UserHandle: handle, UserVerification: h.opts.SecondFactorUserVerification}
	}
	b, err := h.rp.BeginLogin(r.Context(), lr)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.setCeremony(w, r, "login/begin", b)
	h.respond(w, r, beginResponse{PublicKey: b.Options, Mediation: b.Mediation})
}

func (h *Handler) finishLogin(w http.ResponseWriter, r *http.Request) {
	body, err := h.jsonRequest(w, r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	id := h.takeCeremony(w, r, "login/finish")
	login, err := h.rp.FinishLogin(r.Context(), id, body)
	if err != nil {
		h.failWith(w, r, err, h.unknownCredentialSignal(err))
		return
	}
	var cookie string
	if h.opts.CurrentUser == nil {
		var authAt time.Time
		if login.UserVerified {
			authAt = login.AuthenticatedAt
		}
		cookie = h.setSession(w, r, login.User, authAt)
	}
	if h.opts.OnLogin != nil {
		if err := h.opts.OnLogin(w, r, login); err != nil {
			h.hookFailed(w, r, "OnLogin", err, cookie, nil)
			return
		}
	}
	h.respond(w, r, loginResponse{
		User:         newUserJSON(login.User),
		Credential:   newCredentialJSON(login.Credential),
		UserVerified: login.UserVerified,
		BackedUp:     login.BackedUp,
		Factors:      login.Factors,
		CrossDevice:  login.CrossDevice,
	})
}

// unknownCredentialSignal builds the signal that lets the client call
// PublicKeyCredential.signalUnknownCredential, so the user's passkey
// provider can hide a passkey this site no longer knows. The core names the
// credential only when no account has it: a credential of another account
// must not be forgotten by the browser.
func (h *Handler) unknownCredentialSignal(err error) *signal {
	var ke *webauthnkit.Error
	if !errors.As(err, &ke) || len(ke.UnknownCredentialID) == 0 {
		return nil
	}
	return &signal{UnknownCredential: &unknownCredentialSignal{RPID: h.rpID, CredentialID: b64(ke.UnknownCredentialID)}}
}

// hookFailed answers after OnLogin / OnRegister failed, withdrawing the
// built-in session cookie set for this response: a refusal (Refuse) with
// its status and code, anything else with 500.
func (h *Handler) hookFailed(w http.ResponseWriter, r *http.Request, hook string, err error, cookie string, sig *signal) {
	if cookie != "" {
		withdrawCookie(w, cookie)
	}
	var he *httpError
	if errors.As(err, &he) {
		h.log.InfoContext(r.Context(), "httpadapter: "+hook+" refused", "status", he.status, "code", string(he.code))
		writeJSONError(w, he.status, errorBody{Error: string(he.code), Message: he.msg, Signal: sig})
		return
	}
	h.log.ErrorContext(r.Context(), "httpadapter: "+hook+" failed", "err", err)
	writeJSONError(w, http.StatusInternalServerError, errorBody{Error: string(webauthnkit.CodeInternal), Message: "internal error", Signal: sig})
}

// respond writes a 200 JSON response.
func (h *Handler) respond(w http.ResponseWriter, r *http.Request, v any) {
	if err := writeJSON(w, http.StatusOK, v); err != nil {
		h.fail(w, r, err)
	}
}

func (h *Handler) listCredentials(w http.ResponseWriter, r *http.Request) {
	if err := h.checkOrigin(r); err != nil {
		h.fail(w, r, err)
		return
	}
	u, _, found, err := h.signedInAccount(w, r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if !found { // signed in, no library account yet: no passkeys
		h.respond(w, r, credentialsResponse{RPID: h.rpID, UserHandle: b64(u.Handle), User: newUserJSON(u), Credentials: []credentialJSON{}})
		return
	}
	h.writeCredentials(w, r, u)
}

func (h *Handler) writeCredentials(w http.ResponseWriter, r *http.Request, u webauthnkit.User) {
	creds, err := h.rp.ListCredentials(r.Context(), u.Handle)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := credentialsResponse{
		RPID:        h.rpID,
		UserHandle:  b64(u.Handle),
		User:        newUserJSON(u),
		Credentials: make([]credentialJSON, 0, len(creds)),
	}
	for _, c := range creds {
		out.Credentials = append(out.Credentials, newCredentialJSON(c))
	}
	h.respond(w, r, out)
}

// credentialID reads the base64url credential ID from r.PathValue("id") or
// the last path segment.
func credentialID(r *http.Request) ([]byte, error) {
	s := r.PathValue("id")
	if s == "" {
		p := strings.TrimSuffix(r.URL.Path, "/")
		s = p[strings.LastIndexByte(p, '/')+1:]
	}
	notFound := &httpError{http.StatusNotFound, webauthnkit.CodeNotFound, "no such passkey"}
	if s == "" || len(s) > 1400 {
		return nil, notFound
	}
	id, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
	if err != nil || len(id) == 0 || len(id) > 1023 {
		return nil, notFound
	}
	return id, nil
}

// managedCredential runs the common part of PATCH and DELETE: checks,
// signed-in user, credential ID, body.
func (h *Handler) managedCredential(w http.ResponseWriter, r *http.Request) (webauthnkit.User, session, []byte, []byte, error) {
	body, err := h.jsonRequest(w, r)
	if err != nil {
		return webauthnkit.User{}, session{}, nil, nil, err
	}
	u, s, err := h.signedInUser(w, r)
	if err != nil {
		return webauthnkit.User{}, session{}, nil, nil, err
	}
	id, err := credentialID(r)
	if err != nil {
		return webauthnkit.User{}, session{}, nil, nil, err
	}
	return u, s, id, body, nil
}

func (h *Handler) renameCredential(w http.ResponseWriter, r *http.Request) {
	u, _, id, body, err := h.managedCredential(w, r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	var req struct {
		Name optString `json:"name"`
	}
	if err := decodeObject(body, &req, false); err != nil {
		h.fail(w, r, err)
		return
	}
	if !req.Name.set {
		h.fail(w, r, badRequest("name is required"))
		return
	}
	if err := h.rp.RenameCredential(r.Context(), u.Handle, id, req.Name.v); err != nil {
		h.fail(w, r, err)
		return
	}
	h.writeCredentials(w, r, u)
}

// revokeCredential removes a passkey. The core ends the account's sessions
// first (a cookie copied from a browser signed in with that passkey must
// stop working); the browser that asked keeps its session with a cookie
// re-issued under the new epoch.
func (h *Handler) revokeCredential(w http.ResponseWriter, r *http.Request) {
	u, s, id, body, err := h.managedCredential(w, r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	var req struct{}
	if err := decodeObject(body, &req, true); err != nil {
		h.fail(w, r, err)
		return
	}
	if err := h.checkFreshAuth(s); err != nil {
		h.fail(w, r, err)
		return
	}
	if err := h.rp.RevokeCredential(r.Context(), u.Handle, id, h.removeLastAllowed(r, u)); err != nil {
		h.fail(w, r, err)
		return
	}
	if s.builtin {
		// One more round trip, on removals only, for the new epoch.
		fresh, err := h.rp.UserByHandle(r.Context(), u.Handle)
		if err != nil {
			h.clearSession(w, r)
			h.fail(w, r, err)
			return
		}
		u = fresh
		s.epoch, s.refreshed = u.SessionEpoch, h.now()
		h.issueSession(w, r, s)
	}
	h.writeCredentials(w, r, u)
}

func (h *Handler) session(w http.ResponseWriter, r *http.Request) {
	if err := h.checkOrigin(r); err != nil {
		h.fail(w, r, err)
		return
	}
	u, _, found, err := h.signedInAccount(w, r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	n := 0
	if found {
		creds, err := h.rp.ListCredentials(r.Context(), u.Handle)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		n = len(creds)
	}
	h.respond(w, r, sessionResponse{User: newUserJSON(u), Passkeys: n})
}

// logout signs out (SignOut), or with {"everywhere": true} ends every
// session of the account (SignOutEverywhere; the same with the built-in
// session). A JSON body is read when Content-Type says JSON; any other body
// (a plain HTML form's) is ignored. Cross-site requests are refused.
func (h *Handler) logout(w http.ResponseWriter, r *http.Request) {
	if err := h.checkOrigin(r); err != nil {
		h.fail(w, r, err)
		return
	}
	var req struct {
		Everywhere bool `json:"everywhere"`
	}
	if checkJSONType(r) == nil {
		body, err := h.readBody(w, r)
		if err == nil {
			err = decodeObject(body, &req, true)
		}
		if err != nil {
			h.fail(w, r, err)
			return
		}
	}
	var err error
	if req.Everywhere {
		err = h.SignOutEverywhere(w, r)
	} else {
		err = h.SignOut(w, r)
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
}

package httpadapter

import (
	"errors"
	"net/http"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/account"
)

// The endpoints of the account flows (Options.Accounts; issue 14). Each maps
// one account method; errors are mapped by accountStatus. Starts answer 202
// {} whether the account or address exists (the account package does the
// same work either way), so a response tells nothing about who has an
// account.

// accountRoutes adds the account-flow endpoints; without Options.Accounts
// they do not exist (404).
func (h *Handler) accountRoutes() {
	if h.opts.Accounts == nil {
		return
	}
	h.routes["signup/start"] = route{classAccount, []string{http.MethodPost}, h.startSignUp}
	h.routes["signup/confirm"] = route{classAccount, []string{http.MethodPost}, h.confirmSignUp}
	h.routes["recovery/start"] = route{classAccount, []string{http.MethodPost}, h.startRecovery}
	h.routes["recovery/confirm"] = route{classAccount, []string{http.MethodPost}, h.confirmRecovery}
	h.routes["recovery/code"] = route{classAccount, []string{http.MethodPost}, h.recoverWithCode}
	h.routes["recovery/codes"] = route{classAccount, []string{http.MethodPost, http.MethodGet}, h.recoveryCodes}
	h.routes["email"] = route{classAccount, []string{http.MethodPost}, h.setEmail}
	h.routes["email/verify"] = route{classAccount, []string{http.MethodPost}, h.verifyEmail}
}

// accepted is the 202 {} of every start: the same bytes for every outcome
// that is not an error.
func accepted(w http.ResponseWriter) {
	writeJSONBytes(w, http.StatusAccepted, []byte("{}\n"))
}

type grantResponse struct {
	Grant string `json:"grant"`
}

// codeOrToken is the body of a confirmation: a code (with what it is for)
// or a link token, never both.
type codeOrToken struct {
	Code  optString `json:"code"`
	Token optString `json:"token"`
}

func (c codeOrToken) check() error {
	if c.Code.set == c.Token.set {
		return badRequest("give either code or token")
	}
	return nil
}

func (h *Handler) startSignUp(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Email    string `json:"email"`
		Username string `json:"username"`
	}
	if !h.decodeAccountRequest(w, r, &req) {
		return
	}
	if h.opts.DisableSignUp {
		h.fail(w, r, &httpError{http.StatusForbidden, CodeSignUpDisabled, "sign-up is disabled"})
		return
	}
	if err := h.opts.Accounts.StartSignUp(r.Context(), req.Email, req.Username); err != nil {
		h.fail(w, r, err)
		return
	}
	accepted(w)
}

func (h *Handler) confirmSignUp(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Email string `json:"email"`
		codeOrToken
	}
	if !h.decodeAccountRequest(w, r, &req) {
		return
	}
	if err := req.check(); err != nil {
		h.fail(w, r, err)
		return
	}
	var grant string
	var err error
	if req.Token.set {
		if req.Email != "" {
			h.fail(w, r, badRequest("a token needs no email"))
			return
		}
		grant, err = h.opts.Accounts.ConfirmSignUpLink(r.Context(), req.Token.v)
	} else {
		grant, err = h.opts.Accounts.ConfirmSignUp(r.Context(), req.Email, req.Code.v)
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.respond(w, r, grantResponse{Grant: grant})
}

func (h *Handler) startRecovery(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Identifier string `json:"identifier"`
	}
	if !h.decodeAccountRequest(w, r, &req) {
		return
	}
	if err := h.opts.Accounts.StartRecovery(r.Context(), req.Identifier); err != nil {
		h.fail(w, r, err)
		return
	}
	accepted(w)
}

func (h *Handler) confirmRecovery(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Identifier string `json:"identifier"`
		codeOrToken
	}
	if !h.decodeAccountRequest(w, r, &req) {
		return
	}
	if err := req.check(); err != nil {
		h.fail(w, r, err)
		return
	}
	var grant string
	var err error
	if req.Token.set {
		if req.Identifier != "" {
			h.fail(w, r, badRequest("a token needs no identifier"))
			return
		}
		grant, _, err = h.opts.Accounts.ConfirmRecoveryLink(r.Context(), req.Token.v)
	} else {
		grant, _, err = h.opts.Accounts.ConfirmRecovery(r.Context(), req.Identifier, req.Code.v)
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.respond(w, r, grantResponse{Grant: grant})
}

func (h *Handler) recoverWithCode(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Username string `json:"username"`
		Code     string `json:"code"`
	}
	if !h.decodeAccountRequest(w, r, &req) {
		return
	}
	grant, _, err := h.opts.Accounts.RecoverWithCode(r.Context(), req.Username, req.Code)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.respond(w, r, grantResponse{Grant: grant})
}

// recoveryCodes: POST generates a new set (replacing the old one; shown
// once), GET says how many are left. Signed in only.
func (h *Handler) recoveryCodes(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet {
		if err := h.checkOrigin(r); err != nil {
			h.fail(w, r, err)
			return
		}
		u, _, err := h.signedInUser(w, r)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		n, err := h.opts.Accounts.RecoveryCodesLeft(r.Context(), u.Handle)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		h.respond(w, r, struct {
			Left int `json:"left"`
		}{n})
		return
	}
	var req struct{}
	body, err := h.jsonRequest(w, r)
	if err == nil {
		err = decodeObject(body, &req, true)
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	u, s, err := h.signedInUser(w, r)
	if err == nil {
		// A new set replaces the old one: a step-up, as for passkeys.
		err = h.checkFreshAuth(s)
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	codes, err := h.opts.Accounts.GenerateRecoveryCodes(r.Context(), u.Handle)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.respond(w, r, struct {
		Codes []string `json:"codes"`
	}{codes})
}

// setEmail sets the signed-in account's email (unverified) and mails a
// verification code. If the mail cannot be sent (503) the address stays
// set and unverified; sending again is a retry. An address another account
// holds gets the same 202 and nothing changes.
func (h *Handler) setEmail(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Email string `json:"email"`
	}
	if !h.decodeAccountRequest(w, r, &req) {
		return
	}
	u, _, err := h.signedInUser(w, r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if req.Email == u.Email && !u.EmailVerifiedAt.IsZero() {
		accepted(w) // already verified: nothing to send
		return
	}
	if req.Email != u.Email {
		old := u
		u, err = h.rp.SetEmail(r.Context(), u.Handle, req.Email, false)
		if err == nil && old.Email != "" && !old.EmailVerifiedAt.IsZero() {
			// Tell the old, proven address (the new one gets its code): a
			// thief with a session must not move the account silently.
			// A notice that cannot go out does not undo the change.
			if nerr := h.opts.Accounts.Notify(r.Context(), u.Handle, account.KindEmailChanged,
				account.NotifyData{OldEmail: old.Email}); nerr != nil {
				h.log.WarnContext(r.Context(), "httpadapter: email-changed notice not sent",
					"rateLimited", errors.Is(nerr, account.ErrRateLimited), "mailUnavailable", errors.Is(nerr, account.ErrMailUnavailable))
			}
		}
		if errors.Is(err, webauthnkit.ErrEmailTaken) {
			// Another account has it: answer as if a code were sent (and
			// send none), so a signed-in user cannot probe for addresses.
			accepted(w)
			return
		}
		if err != nil {
			h.fail(w, r, err)
			return
		}
	}
	if err := h.opts.Accounts.SendEmailVerification(r.Context(), u.Handle); err != nil {
		h.fail(w, r, err)
		return
	}
	accepted(w)
}

// verifyEmail confirms the address: {"code"} for the signed-in account, or
// {"token"} from the mailed link (no session needed: the token names it).
func (h *Handler) verifyEmail(w http.ResponseWriter, r *http.Request) {
	var req codeOrToken
	if !h.decodeAccountRequest(w, r, &req) {
		return
	}
	if err := req.check(); err != nil {
		h.fail(w, r, err)
		return
	}
	var u webauthnkit.User
	var err error
	if req.Token.set {
		// Opened where the account is signed in: the session holder keeps
		// the passkeys. Anywhere else the link proves only the mailbox, and
		// ConfirmEmailLink removes the passkeys registered before it.
		if me, _, serr := h.signedInUser(w, r); serr == nil {
			u, err = h.opts.Accounts.ConfirmEmailLinkAs(r.Context(), me.Handle, req.Token.v)
		} else {
			u, err = h.opts.Accounts.ConfirmEmailLink(r.Context(), req.Token.v)
		}
	} else {
		var me webauthnkit.User
		if me, _, err = h.signedInUser(w, r); err == nil {
			u, err = h.opts.Accounts.ConfirmEmail(r.Context(), me.Handle, req.Code.v)
		}
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.respond(w, r, struct {
		User          userJSON `json:"user"`
		Email         string   `json:"email"`
		EmailVerified bool     `json:"emailVerified"`
	}{newUserJSON(u), u.Email, !u.EmailVerifiedAt.IsZero()})
}

// decodeAccountRequest runs the JSON checks and decodes a non-empty body
// into v, answering the error itself.
func (h *Handler) decodeAccountRequest(w http.ResponseWriter, r *http.Request, v any) bool {
	body, err := h.jsonRequest(w, r)
	if err == nil {
		err = decodeObject(body, v, false)
	}
	if err != nil {
		h.fail(w, r, err)
		return false
	}
	return true
}

// completeRecovery runs after a registration made with a grant: for a
// recovery it mails the notice (a failure is logged: the passkey exists).
func (h *Handler) completeRecovery(r *http.Request, reg *webauthnkit.Registration) {
	if h.opts.Accounts == nil || reg.GrantPurpose != account.GrantPurposeRecovery {
		return
	}
	if err := h.opts.Accounts.CompleteRecovery(r.Context(), reg); err != nil {
		h.log.WarnContext(r.Context(), "httpadapter: recovery notice not sent", "err", err)
	}
}

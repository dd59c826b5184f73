package httpadapter

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"

	"github.com/webauthnkit/webauthnkit"
)

// signedInAccount is signedInUser that also accepts an app user
// (Options.CurrentUser) who has no library account yet: found is then false
// and u holds the handle and, when Options.AccountFor gives them, the names
// the account would get. "Signed in, no passkey yet" is thus distinct from
// "signed out" (401).
func (h *Handler) signedInAccount(w http.ResponseWriter, r *http.Request) (webauthnkit.User, session, bool, error) {
	if h.opts.CurrentUser == nil {
		u, s, err := h.signedInUser(w, r)
		return u, s, err == nil, err
	}
	s, ok := h.currentSession(r)
	if !ok {
		return webauthnkit.User{}, session{}, false, errNotSignedIn()
	}
	u, err := h.rp.UserByHandle(r.Context(), s.handle)
	switch {
	case err == nil:
		return u, s, true, nil
	case !errors.Is(err, webauthnkit.ErrUserNotFound):
		return webauthnkit.User{}, session{}, false, err
	}
	u = webauthnkit.User{Handle: s.handle}
	nu, ok, err := h.accountFor(r, s.handle)
	if err != nil {
		return webauthnkit.User{}, session{}, false, err
	}
	if ok {
		u.Name, u.DisplayName = nu.Name, nu.DisplayName
	}
	return u, s, false, nil
}

// accountFor asks Options.AccountFor for the account of the app user with
// this handle.
func (h *Handler) accountFor(r *http.Request, handle []byte) (webauthnkit.NewUser, bool, error) {
	if h.opts.AccountFor == nil {
		return webauthnkit.NewUser{}, false, nil
	}
	nu, ok := h.opts.AccountFor(r)
	if !ok {
		return webauthnkit.NewUser{}, false, nil
	}
	if len(nu.Handle) == 0 {
		nu.Handle = handle
	}
	if !bytes.Equal(nu.Handle, handle) {
		return webauthnkit.NewUser{}, false, errors.New("httpadapter: Options.AccountFor returned another handle than Options.CurrentUser")
	}
	return nu, true, nil
}

// ensureAccount creates the library account of a signed-in app user who
// has none (Options.AccountFor), before a passkey ceremony begins: the
// passkey is then stored linked to the app's user, never to an account the
// app does not know. A concurrent request that created it first is fine.
func (h *Handler) ensureAccount(r *http.Request, u webauthnkit.User) (webauthnkit.User, error) {
	nu, ok, err := h.accountFor(r, u.Handle)
	if err != nil {
		return webauthnkit.User{}, err
	}
	if !ok {
		return webauthnkit.User{}, &httpError{http.StatusForbidden, CodeNoAccount, "this account cannot have passkeys yet"}
	}
	created, err := h.rp.CreateUser(r.Context(), nu)
	if err == nil {
		return created, nil
	}
	if existing, gerr := h.rp.UserByHandle(r.Context(), u.Handle); gerr == nil {
		return existing, nil // created by a concurrent request
	}
	return webauthnkit.User{}, err
}

// updateUser serves PATCH user {"name", "displayName"}: the signed-in
// user's sign-in name and display name (RelyingParty.UpdateUser). The
// answer carries the signal for PublicKeyCredential.signalCurrentUserDetails,
// so passkey managers show the new name.
func (h *Handler) updateUser(w http.ResponseWriter, r *http.Request) {
	if allowed := h.opts.AllowUserUpdate; (allowed == nil && h.opts.CurrentUser != nil) || (allowed != nil && !*allowed) {
		h.fail(w, r, &httpError{status: http.StatusNotFound, code: webauthnkit.CodeNotFound, msg: "not found"})
		return
	}
	body, err := h.jsonRequest(w, r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	var req struct {
		Name        optString `json:"name"`
		DisplayName optString `json:"displayName"`
	}
	if err := decodeObject(body, &req, false); err != nil {
		h.fail(w, r, err)
		return
	}
	if !req.Name.set && !req.DisplayName.set {
		h.fail(w, r, badRequest("name or displayName is required"))
		return
	}
	u, _, err := h.signedInUser(w, r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	upd := webauthnkit.UserUpdate{Name: u.Name, DisplayName: u.DisplayName}
	if req.Name.set {
		upd.Name = req.Name.v
	}
	if req.DisplayName.set {
		upd.DisplayName = req.DisplayName.v
	}
	u, err = h.rp.UpdateUser(r.Context(), u.Handle, upd)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.respond(w, r, userUpdateResponse{User: newUserJSON(u), Signal: h.userDetailsSignal(u)})
}

// userDetailsSignal is the signalCurrentUserDetails argument for u.
func (h *Handler) userDetailsSignal(u webauthnkit.User) signal {
	return signal{CurrentUserDetails: &currentUserDetailsSignal{RPID: h.rpID, UserID: b64(u.Handle), Name: u.Name, DisplayName: u.DisplayName}}
}

// removeLastAllowed applies Options.AllowRemoveLast.
func (h *Handler) removeLastAllowed(r *http.Request, u webauthnkit.User) bool {
	return h.opts.AllowRemoveLast != nil && h.opts.AllowRemoveLast(r, u)
}

// undoRegistration removes what a refused registration stored: the new
// account, or the passkey added to an existing one.
func (h *Handler) undoRegistration(r *http.Request, reg *webauthnkit.Registration) error {
	if reg.NewUser {
		return h.rp.DeleteUser(r.Context(), reg.User.Handle)
	}
	if err := h.rp.RevokeCredential(r.Context(), reg.User.Handle, reg.Credential.ID, true); err != nil {
		return fmt.Errorf("httpadapter: undo a refused registration: %w", err)
	}
	return nil
}

// keepSessionAfterUndo re-issues the built-in session of the browser that
// added a refused passkey: removing it ended the account's sessions (as
// any removal does), but this browser's session was valid before and stays.
func (h *Handler) keepSessionAfterUndo(w http.ResponseWriter, r *http.Request, before webauthnkit.User) {
	if h.opts.CurrentUser != nil {
		return
	}
	s, ok := h.currentSession(r)
	if !ok || !bytes.Equal(s.handle, before.Handle) || s.epoch != before.SessionEpoch {
		return
	}
	fresh, err := h.rp.UserByHandle(r.Context(), before.Handle)
	if err != nil {
		return
	}
	s.epoch, s.refreshed = fresh.SessionEpoch, h.now()
	h.issueSession(w, r, s)
}

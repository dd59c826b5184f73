package webauthnkit

import (
	"bytes"
	"context"
	"errors"
	"slices"
)

// UserByHandle returns the account with this handle, or ErrUserNotFound.
func (rp *RelyingParty) UserByHandle(ctx context.Context, handle []byte) (User, error) {
	u, err := rp.creds.GetUserByHandle(ctx, handle)
	if errors.Is(err, ErrNotFound) {
		return User{}, &Error{Code: CodeUserNotFound, Message: "unknown user", Err: err}
	}
	if err != nil {
		return User{}, rp.storeErr(ctx, "GetUserByHandle", err)
	}
	return u, nil
}

// ListCredentials returns the passkeys of an account, oldest first (none,
// and no error, for an unknown account), each with its ProviderName.
// Errors: ErrStoreUnavailable.
func (rp *RelyingParty) ListCredentials(ctx context.Context, userHandle []byte) ([]Credential, error) {
	creds, err := rp.creds.ListCredentials(ctx, userHandle)
	if err != nil {
		return nil, rp.storeErr(ctx, "ListCredentials", err)
	}
	for i := range creds {
		creds[i] = rp.withProviderName(creds[i])
	}
	return creds, nil
}

// RenameCredential sets the user-given name of one of the account's
// passkeys. Errors: ErrInvalidRequest (name too long, control characters),
// ErrNotFound (unknown, or another account's), ErrStoreUnavailable.
func (rp *RelyingParty) RenameCredential(ctx context.Context, userHandle, credentialID []byte, name string) error {
	name, err := cleanText("credential name", name)
	if err != nil {
		return err
	}
	err = rp.creds.RenameCredential(ctx, userHandle, credentialID, name)
	if errors.Is(err, ErrNotFound) {
		return &Error{Code: CodeNotFound, Message: "no such passkey", Err: err}
	}
	if err != nil {
		return rp.storeErr(ctx, "RenameCredential", err)
	}
	rp.emit(ctx, Event{Type: EventCredentialRenamed, UserHandle: userHandle, CredentialID: credentialID})
	return nil
}

// RevokeCredential deletes one of the account's passkeys and ends every
// session of the account (a session opened with the removed passkey must
// not outlive it). It refuses to delete the last one (ErrLastCredential),
// which would lock the user out, unless force is true. The store makes that
// check and the delete as one atomic step: of concurrent revokes of an
// account's last two passkeys, one fails with ErrLastCredential.
//
// Sessions are ended before the delete, so a failure between the two can
// only end sessions needlessly, never leave a removed passkey's sessions
// alive. The delete can still be refused after that when another revoke
// won the race; the usual refusal of an only passkey is answered earlier,
// from the list of passkeys, without ending anything.
//
// Errors: ErrNotFound, ErrLastCredential, ErrStoreUnavailable.
func (rp *RelyingParty) RevokeCredential(ctx context.Context, userHandle, credentialID []byte, force bool) error {
	notFound := func(cause error) error { return &Error{Code: CodeNotFound, Message: "no such passkey", Err: cause} }
	lastOne := func(cause error) error {
		return &Error{Code: CodeLastCredential, Message: "this is the account's only passkey; add another before removing it", Err: cause}
	}
	// Ownership first, so nobody ends the sessions of an account by naming
	// a passkey it does not own.
	creds, err := rp.creds.ListCredentials(ctx, userHandle)
	if err != nil {
		return rp.storeErr(ctx, "ListCredentials", err)
	}
	if !slices.ContainsFunc(creds, func(c Credential) bool { return bytes.Equal(c.ID, credentialID) }) {
		return notFound(nil)
	}
	if len(creds) == 1 && !force {
		return lastOne(nil)
	}
	if _, err := rp.endSessions(ctx, userHandle); err != nil {
		if errors.Is(err, ErrUserNotFound) { // account deleted meanwhile
			return notFound(err)
		}
		return err
	}
	err = rp.creds.DeleteCredential(ctx, userHandle, credentialID, force)
	switch {
	case errors.Is(err, ErrNotFound):
		return notFound(err)
	case errors.Is(err, ErrLastCredential):
		return lastOne(err)
	case err != nil:
		return rp.storeErr(ctx, "DeleteCredential", err)
	}
	rp.emit(ctx, Event{Type: EventCredentialRevoked, UserHandle: userHandle, CredentialID: credentialID})
	return nil
}

// EndSessions ends every session of the account ("sign out everywhere"):
// it increments the account's User.SessionEpoch and returns the new value.
// A session layer records the epoch a session was issued under
// (Login.User.SessionEpoch) and refuses it once the account's current epoch
// (UserByHandle) differs. It also cancels the account's device-link
// approvals whose new device has not begun its registration yet.
// Errors: ErrUserNotFound, ErrStoreUnavailable.
func (rp *RelyingParty) EndSessions(ctx context.Context, userHandle []byte) (uint64, error) {
	return rp.endSessions(ctx, userHandle)
}

func (rp *RelyingParty) endSessions(ctx context.Context, userHandle []byte) (uint64, error) {
	epoch, err := rp.creds.EndSessions(ctx, userHandle)
	if errors.Is(err, ErrNotFound) {
		return 0, &Error{Code: CodeUserNotFound, Message: "unknown user", Err: err}
	}
	if err != nil {
		return 0, rp.storeErr(ctx, "EndSessions", err)
	}
	rp.emit(ctx, Event{Type: EventSessionsEnded, UserHandle: userHandle})
	return epoch, nil
}

// DeleteUser deletes an account and all its passkeys. Errors:
// ErrUserNotFound, ErrStoreUnavailable.
func (rp *RelyingParty) DeleteUser(ctx context.Context, userHandle []byte) error {
	err := rp.creds.DeleteUser(ctx, userHandle)
	if errors.Is(err, ErrNotFound) {
		return &Error{Code: CodeUserNotFound, Message: "unknown user", Err: err}
	}
	if err != nil {
		return rp.storeErr(ctx, "DeleteUser", err)
	}
	rp.emit(ctx, Event{Type: EventUserDeleted, UserHandle: userHandle})
	return nil
}

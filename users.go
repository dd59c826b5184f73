package webauthnkit

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
)

// NewUser is an account to create without a passkey (CreateUser).
type NewUser struct {
	// Handle is the WebAuthn user handle, stored by the passkeys of this
	// account and returned by each of their logins. Optional: 32 random
	// bytes by default. An application may give its own stable identifier
	// for the user instead (1 to MaxUserHandleLength bytes), so that a
	// Login names its user directly; it must not contain personal data
	// (no email address or name: authenticators keep it, and WebAuthn
	// §14.6.1 forbids it) and must never be given to another user.
	Handle []byte
	// Name is the unique sign-in name (NormalizeUsername; at most
	// MaxNameLength characters, an email address fits). Required.
	Name string
	// DisplayName is shown in passkey pickers (at most MaxDisplayNameLength
	// characters). Default: Name as given, cut to MaxDisplayNameLength.
	DisplayName string
	// Email is the account's email address (NormalizeEmail), unique among
	// accounts. Optional: none by default.
	Email string
	// EmailVerified says the application has already proved that the user
	// receives mail at Email (EmailVerifiedAt is then now). Default false:
	// the address is stored unverified. Ignored without an Email.
	EmailVerified bool
}

// CreateUser creates an account without any passkey: typically the
// application's existing user, who adds a first passkey later with
// BeginRegistration{UserHandle: user.Handle} once signed in by the
// application's own means (password). It emits EventUserCreated.
//
// Errors: ErrInvalidRequest (bad name, display name, email or handle
// length), ErrUsernameTaken (the name is another account's), ErrEmailTaken
// (the email is another account's), ErrUserExists (an account with this
// Handle exists), ErrStoreUnavailable.
func (rp *RelyingParty) CreateUser(ctx context.Context, req NewUser) (User, error) {
	name, err := NormalizeUsername(req.Name)
	if err != nil {
		return User{}, err
	}
	display, err := cleanText("display name", req.DisplayName)
	if err != nil {
		return User{}, err
	}
	email, err := normalizeOptionalEmail(req.Email)
	if err != nil {
		return User{}, err
	}
	if display == "" {
		if display, err = defaultDisplayName(req.Name); err != nil {
			return User{}, err
		}
	}
	handle := bytes.Clone(req.Handle)
	chosen := handle != nil
	switch {
	case !chosen:
		if handle, err = randomBytes(32); err != nil {
			return User{}, err
		}
	case len(handle) == 0 || len(handle) > MaxUserHandleLength:
		return User{}, &Error{Code: CodeInvalidRequest, Message: "a user handle must have 1 to 64 bytes"}
	}
	epoch, err := initialSessionEpoch()
	if err != nil {
		return User{}, err
	}
	u := User{Handle: handle, Name: name, DisplayName: display, CreatedAt: rp.cfg.Now().UTC(), SessionEpoch: epoch, Email: email}
	if email != "" && req.EmailVerified {
		u.EmailVerifiedAt = u.CreatedAt
	}
	err = rp.creds.CreateUser(ctx, u, nil)
	if errors.Is(err, ErrUserExists) {
		return User{}, rp.whichUserExists(ctx, u, chosen, err)
	}
	if err != nil {
		return User{}, rp.storeErr(ctx, "CreateUser", err)
	}
	rp.emit(ctx, Event{Type: EventUserCreated, UserHandle: u.Handle, Username: u.Name})
	return u, nil
}

// whichUserExists tells a taken handle from a taken name or email after the
// store refused the new user u with ErrUserExists (cause), which covers all
// three. Only an application-chosen handle can be taken (a random one of 32
// bytes never is), and only a new user with an email can collide on it, so
// only then does each cost a lookup.
func (rp *RelyingParty) whichUserExists(ctx context.Context, u User, chosen bool, cause error) error {
	if chosen {
		_, err := rp.creds.GetUserByHandle(ctx, u.Handle)
		switch {
		case err == nil:
			return &Error{Code: CodeUserExists, Message: "an account with this user handle exists", Err: cause}
		case !errors.Is(err, ErrNotFound):
			return rp.storeErr(ctx, "GetUserByHandle", err)
		}
	}
	if u.Email != "" {
		// The name is checked first: when both are taken, the name is
		// what the user typed to sign up.
		_, err := rp.creds.GetUserByName(ctx, u.Name)
		switch {
		case errors.Is(err, ErrNotFound):
			return &Error{Code: CodeEmailTaken, Message: ErrEmailTaken.Message, Err: cause}
		case err != nil:
			return rp.storeErr(ctx, "GetUserByName", err)
		}
	}
	return &Error{Code: CodeUsernameTaken, Message: "this username is taken", Err: cause}
}

// UserUpdate is the change UpdateUser makes. An empty field is left
// unchanged.
type UserUpdate struct {
	// Name is the new sign-in name (NormalizeUsername). The old name is
	// free for others afterwards.
	Name string
	// DisplayName is the new display name (at most MaxDisplayNameLength
	// characters).
	DisplayName string
}

// UpdateUser changes the sign-in name and/or display name of an account
// (after an email change, say) and returns the account as stored. The
// passkeys, the handle and the sessions are kept. It emits EventUserUpdated
// when something changed.
//
// Passkey managers keep their own copy of the name and display name: send
// the returned User's Handle, Name and DisplayName to the browser, which
// passes them to PublicKeyCredential.signalCurrentUserDetails (the HTTP
// adapter does this), so the passkey shows the new name.
//
// The two fields are read, then written: of two concurrent updates of one
// account, the last one written wins for both fields. Of two concurrent
// renames of two accounts to the same free name exactly one succeeds.
//
// Errors: ErrInvalidRequest (bad name or display name), ErrUsernameTaken
// (the name is another account's; nothing changes), ErrUserNotFound,
// ErrStoreUnavailable.
func (rp *RelyingParty) UpdateUser(ctx context.Context, handle []byte, upd UserUpdate) (User, error) {
	var name, display string
	var err error
	if upd.Name != "" {
		if name, err = NormalizeUsername(upd.Name); err != nil {
			return User{}, err
		}
	}
	if display, err = cleanText("display name", upd.DisplayName); err != nil {
		return User{}, err
	}
	u, err := rp.UserByHandle(ctx, handle)
	if err != nil {
		return User{}, err
	}
	if name == "" {
		name = u.Name
	}
	if display == "" {
		display = u.DisplayName
	}
	if name == u.Name && display == u.DisplayName {
		return u, nil
	}
	err = rp.creds.UpdateUser(ctx, u.Handle, name, display)
	switch {
	case errors.Is(err, ErrUserExists):
		return User{}, &Error{Code: CodeUsernameTaken, Message: "this username is taken", Err: err}
	case errors.Is(err, ErrNotFound): // deleted meanwhile
		return User{}, &Error{Code: CodeUserNotFound, Message: "unknown user", Err: err}
	case err != nil:
		return User{}, rp.storeErr(ctx, "UpdateUser", err)
	}
	u.Name, u.DisplayName = name, display
	rp.emit(ctx, Event{Type: EventUserUpdated, UserHandle: u.Handle, Username: u.Name})
	return u, nil
}

// initialSessionEpoch is a new account's SessionEpoch: random (48 bits), not
// 0, so that sessions issued to an account that was deleted and created
// again under the same handle (an application-chosen one) do not match the
// new account's epoch and come back to life.
func initialSessionEpoch() (uint64, error) {
	b, err := randomBytes(8)
	if err != nil {
		return 0, err
	}
	return binary.BigEndian.Uint64(b) >> 16, nil
}

package webauthnkit_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/internal/storewrap"
)

// Error texts say code and message once, even when a store wrapped the
// sentinel with the same code, and keep the store's operation and cause.
func TestErrorText(t *testing.T) {
	dial := errors.New("dial tcp 127.0.0.1:5432: connect: connection refused")
	storeDown := fmt.Errorf("sqlstore: GetUserByName: %w: %w", webauthnkit.ErrStoreUnavailable, dial)
	for _, tc := range []struct {
		err  error
		want string
	}{
		{webauthnkit.ErrNotFound, "webauthnkit: not_found: not found"},
		{webauthnkit.ErrUserExists, "webauthnkit: user_exists: user already exists"},
		{webauthnkit.ErrCredentialExists, "webauthnkit: credential_exists: credential already exists"},
		{storeDown, "sqlstore: GetUserByName: webauthnkit: store_unavailable: storage is temporarily unavailable: " + dial.Error()},
		{
			&webauthnkit.Error{Code: webauthnkit.CodeStoreUnavailable, Message: "storage is temporarily unavailable", Err: storeDown},
			"webauthnkit: store_unavailable: storage is temporarily unavailable: sqlstore: GetUserByName: " + dial.Error(),
		},
		{
			&webauthnkit.Error{Code: webauthnkit.CodeCredentialExists, Message: "this passkey is already registered",
				Err: fmt.Errorf("sqlstore: AddCredential: %w", webauthnkit.ErrCredentialExists)},
			"webauthnkit: credential_exists: this passkey is already registered: sqlstore: AddCredential",
		},
		{
			&webauthnkit.Error{Code: webauthnkit.CodeNotFound, Message: "no such passkey", Err: webauthnkit.ErrNotFound},
			"webauthnkit: not_found: no such passkey",
		},
		{
			&webauthnkit.Error{Code: webauthnkit.CodeUsernameTaken, Message: "this username is taken",
				Err: fmt.Errorf("redisstore: CreateUser: %w", webauthnkit.ErrUserExists)},
			"webauthnkit: username_taken: this username is taken: redisstore: CreateUser: webauthnkit: user_exists: user already exists",
		},
		{
			&webauthnkit.Error{Code: webauthnkit.CodeInvalidResponse, Message: "could not be verified", Err: errors.New("client data echoes input")},
			"webauthnkit: invalid_response: could not be verified: cause *errors.errorString", // the type only: the text may echo client input
		},
		{
			&webauthnkit.Error{Code: webauthnkit.CodeCanceled, Message: "request canceled", Err: context.Canceled},
			"webauthnkit: canceled: request canceled: context canceled",
		},
	} {
		assert.Equal(t, tc.want, tc.err.Error())
	}
}

// A canceled request is ErrCanceled and wraps context.Canceled even when the
// store answered with something else (it did not look at the context).
func TestCanceledWrapsContextCanceled(t *testing.T) {
	mem := newMemStore(t)
	store := storewrap.New(mem, mem)
	rp, err := webauthnkit.New(webauthnkit.Config{RPID: testRPID, Origins: []string{testOrigin}, Credentials: store, Ceremonies: store})
	require.NoError(t, err)
	store.Fail(storewrap.ErrDown)
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err = rp.BeginLogin(cctx, webauthnkit.LoginRequest{Username: "alice"})
	require.ErrorIs(t, err, webauthnkit.ErrCanceled)
	assert.Equal(t, webauthnkit.CodeCanceled, webauthnkit.ErrorCode(err))
	assert.ErrorIs(t, err, context.Canceled)
}

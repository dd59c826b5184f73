package httpadapter_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit/httpadapter"
)

// Changing the account's email is adding a way in: a verified address
// recovers the account (recovery/start mails a grant's code to it, and the
// recovery registration signs in with a fresh session). Without a step-up,
// a stolen or left-open session moves the address to the thief's mailbox,
// recovers, and adds the thief's passkey: the step-up on registration/begin
// bypassed.
func TestStepUpEmailChange(t *testing.T) {
	ae := newAccountEnv(t)
	victim := ae.browser()
	victim.mustSignUp("vic")
	require.Equal(t, http.StatusAccepted, victim.post("/email", map[string]string{"email": "vic@example.com"}).status)
	code, _ := ae.mailTo(t, "vic@example.com")
	require.Equal(t, http.StatusOK, victim.post("/email/verify", map[string]string{"code": code}).status)

	// Later, the session is no longer fresh (a thief holds it).
	ae.clock.Advance(httpadapter.DefaultFreshAuthMaxAge + time.Second)
	r := victim.post("/email", map[string]string{"email": "thief@example.com"})
	require.Equal(t, http.StatusForbidden, r.status, "%s", r)
	require.Equal(t, "reauth_required", r.code())
	u, err := ae.rp.UserByEmail(context.Background(), "vic@example.com")
	require.NoError(t, err, "the address did not move")
	require.Equal(t, "vic", u.Name)
	require.Equal(t, 0, ae.mailsTo("thief@example.com"))
	// Sending the code again for the same address needs nothing.
	require.Equal(t, http.StatusAccepted, victim.post("/email", map[string]string{"email": "vic@example.com"}).status)

	// After a re-authentication the owner changes it.
	require.Equal(t, http.StatusOK, victim.reauth().status)
	r = victim.post("/email", map[string]string{"email": "vic.new@example.com"})
	require.Equal(t, http.StatusAccepted, r.status, "%s", r)
}

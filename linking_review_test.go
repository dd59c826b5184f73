package webauthnkit_test

import (
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/webauthnkit/webauthnkit"
)

// A ceremony ID, or a grant, comes from the client (a cookie, a JSON
// field). Device-linking records live in the same ChallengeStore under
// keys such as "link/lookup/<handle>/<window>/<slot>", hashed and MAC'd
// with the same keys as ceremonies: a client-chosen ID naming such a key
// must not reach them. Otherwise a signed-in attacker takes back his own
// spent lookup slots through login/finish (unlimited code guesses), and
// anyone probes or destroys pending codes without spending any budget.
func TestLinkRecordsAreNotCeremonies(t *testing.T) {
	f := newLinkFixture(t)
	now := f.clock.Now()
	f.clock.Advance(now.Truncate(webauthnkit.LinkLookupWindow).Add(webauthnkit.LinkLookupWindow).Sub(now))
	handle := base64.RawURLEncoding.EncodeToString(f.alice.User.Handle)
	window := f.clock.Now().Unix() / int64(webauthnkit.LinkLookupWindow/time.Second)

	for i := range webauthnkit.LinkLookupLimit {
		_, err := f.rp.LookupLink(ctx, f.alice.User.Handle, fmt.Sprintf("ZZZZZ%05d", i))
		require.ErrorIs(t, err, webauthnkit.ErrLinkNotFound)
	}
	_, err := f.rp.LookupLink(ctx, f.alice.User.Handle, "ZZZZZ-ZZZZZ")
	require.ErrorIs(t, err, webauthnkit.ErrTooManyAttempts)

	ls := f.start(t)
	code := strings.ReplaceAll(ls.Code, "-", "")
	body := []byte(`{}`)
	try := func(id string) []webauthnkit.Code {
		var codes []webauthnkit.Code
		_, err := f.rp.FinishLogin(ctx, id, body)
		codes = append(codes, webauthnkit.ErrorCode(err))
		_, err = f.rp.FinishReauth(ctx, f.alice.User.Handle, id, body)
		codes = append(codes, webauthnkit.ErrorCode(err))
		_, err = f.rp.FinishRegistration(ctx, id, body)
		codes = append(codes, webauthnkit.ErrorCode(err))
		_, err = f.rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{Grant: id})
		codes = append(codes, webauthnkit.ErrorCode(err))
		return codes
	}
	unknown := try("link/code/ZZZZZZZZZZ")
	for slot := range webauthnkit.LinkLookupLimit {
		id := fmt.Sprintf("link/lookup/%s/%d/%d", handle, window, slot)
		require.Equal(t, unknown, try(id), "a lookup slot answers as an unknown ceremony")
	}
	require.Equal(t, unknown, try("link/code/"+code), "a live code answers as an unknown one (no oracle)")

	// The budget is still spent.
	_, err = f.rp.LookupLink(ctx, f.alice.User.Handle, "ZZZZZ-ZZZZZ")
	require.ErrorIs(t, err, webauthnkit.ErrTooManyAttempts, "lookup slots taken back through a ceremony ID")
	// The code is still pending: another account looks it up.
	bob, _ := f.signUp(t, "bob")
	req, err := f.rp.LookupLink(ctx, bob.User.Handle, ls.Code)
	require.NoError(t, err, "a pending code taken through a ceremony ID")
	require.Equal(t, ls.LinkID, req.LinkID)
}

package webauthnkit_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/webauthntest"
)

// Event.Duration is the Finish call's duration on the four ceremony
// outcomes (on the real clock: the fake one does not move), and zero on
// every other event.
func TestEventDuration(t *testing.T) {
	e := newEnv(t)
	reg, auth := e.signUp(t, "alice")
	_, err := e.login(t, auth, "alice")
	require.NoError(t, err)
	_, err = e.login(t, auth, "alice", webauthntest.BadSignature())
	require.ErrorIs(t, err, webauthnkit.ErrInvalidResponse)
	_, err = e.rp.FinishRegistration(ctx, "no-such-ceremony", []byte(`{}`))
	require.Error(t, err)
	_, err = e.rp.EndSessions(ctx, reg.User.Handle)
	require.NoError(t, err)

	seen := map[webauthnkit.EventType]int{}
	for _, ev := range e.events.events {
		seen[ev.Type]++
		switch ev.Type {
		case webauthnkit.EventRegistrationSucceeded, webauthnkit.EventRegistrationFailed,
			webauthnkit.EventLoginSucceeded, webauthnkit.EventLoginFailed:
			require.Positive(t, ev.Duration, "%s", ev.Type)
			require.Less(t, ev.Duration, time.Minute, "%s", ev.Type)
		default:
			require.Zero(t, ev.Duration, "%s", ev.Type)
		}
	}
	require.Equal(t, map[webauthnkit.EventType]int{
		webauthnkit.EventRegistrationSucceeded: 1, webauthnkit.EventRegistrationFailed: 1,
		webauthnkit.EventLoginSucceeded: 1, webauthnkit.EventLoginFailed: 1, webauthnkit.EventSessionsEnded: 1,
	}, seen)
}

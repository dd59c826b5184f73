package webauthnkit_test

import (
	"bytes"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/internal/backendtest"
)

// TestLinkOnEveryBackend runs device linking over each shipped store
// (internal/backendtest: memstore, PostgreSQL, MariaDB, SQLite, Redis;
// servers skip when absent, fail under CI=true), with two RelyingParty
// instances sharing the store and the secret, as two servers would: the
// new device talks to one, the signed-in device to the other.
func TestLinkOnEveryBackend(t *testing.T) {
	for _, b := range backendtest.All() {
		t.Run(b.Name, func(t *testing.T) {
			clock := &fakeClock{t: time.Now().UTC().Truncate(time.Second)}
			store := b.Open(t, clock.Now)
			secret := bytes.Repeat([]byte{7}, 32)
			newRP := func() *env {
				events := &eventLog{}
				rp, err := webauthnkit.New(webauthnkit.Config{
					RPID: testRPID, Origins: []string{testOrigin}, Credentials: store, Ceremonies: store,
					Now: clock.Now, Secret: secret, OnEvent: events.record,
				})
				require.NoError(t, err)
				return &env{rp: rp, clock: clock, events: events}
			}
			srvB, srvA := newRP(), newRP()
			alice, authA := srvA.signUp(t, "alice")
			fresh := func(linkID, phrase string) webauthnkit.LinkApproval {
				login, err := srvA.reauth(t, alice.User.Handle, authA)
				require.NoError(t, err)
				return webauthnkit.LinkApproval{LinkID: linkID, MatchPhrase: phrase, UserHandle: alice.User.Handle, AuthenticatedAt: login.AuthenticatedAt}
			}

			t.Run("whole flow", func(t *testing.T) {
				ls, err := srvB.rp.StartLink(ctx, webauthnkit.LinkStartRequest{UserAgent: uaSafariMac})
				require.NoError(t, err)
				p, err := srvB.rp.PollLink(ctx, ls.PollToken)
				require.NoError(t, err)
				require.Equal(t, webauthnkit.LinkPending, p.Status)
				req, err := srvA.rp.LookupLink(ctx, alice.User.Handle, ls.Code)
				require.NoError(t, err)
				_, err = srvA.rp.LookupLink(ctx, alice.User.Handle, ls.Code)
				require.ErrorIs(t, err, webauthnkit.ErrLinkNotFound, "a code works once")
				require.NoError(t, srvA.rp.ApproveLink(ctx, fresh(req.LinkID, ls.MatchPhrase)))
				p, err = srvB.rp.PollLink(ctx, ls.PollToken)
				require.NoError(t, err)
				require.Equal(t, webauthnkit.LinkApproved, p.Status)
				reg, authB := register(t, srvB.rp, webauthnkit.RegistrationRequest{Grant: p.Grant})
				require.Equal(t, alice.User.Handle, reg.User.Handle)
				login, err := srvB.login(t, authB, "alice")
				require.NoError(t, err)
				require.Equal(t, alice.User.Handle, login.User.Handle)
			})

			t.Run("approvals race", func(t *testing.T) {
				ls, err := srvB.rp.StartLink(ctx, webauthnkit.LinkStartRequest{})
				require.NoError(t, err)
				req, err := srvA.rp.LookupLink(ctx, alice.User.Handle, ls.Code)
				require.NoError(t, err)
				a := fresh(req.LinkID, ls.MatchPhrase)
				const n = 8
				errs := make([]error, n)
				var wg sync.WaitGroup
				for i := range n {
					wg.Add(1)
					go func() {
						defer wg.Done()
						rp := srvA.rp
						if i%2 == 1 {
							rp = srvB.rp // the other server
						}
						if i%3 == 0 {
							errs[i] = rp.DenyLink(ctx, req.LinkID, alice.User.Handle)
						} else {
							errs[i] = rp.ApproveLink(ctx, a)
						}
					}()
				}
				wg.Wait()
				wins := 0
				for _, err := range errs {
					if err == nil {
						wins++
					} else {
						require.ErrorIs(t, err, webauthnkit.ErrLinkNotFound)
					}
				}
				require.Equal(t, 1, wins)
			})

			t.Run("deny and expiry", func(t *testing.T) {
				ls, err := srvB.rp.StartLink(ctx, webauthnkit.LinkStartRequest{TTL: time.Minute})
				require.NoError(t, err)
				req, err := srvA.rp.LookupLink(ctx, alice.User.Handle, ls.Code)
				require.NoError(t, err)
				require.NoError(t, srvA.rp.DenyLink(ctx, req.LinkID, alice.User.Handle))
				p, err := srvB.rp.PollLink(ctx, ls.PollToken)
				require.NoError(t, err)
				require.Equal(t, webauthnkit.LinkDenied, p.Status)

				ls, err = srvB.rp.StartLink(ctx, webauthnkit.LinkStartRequest{TTL: time.Minute})
				require.NoError(t, err)
				clock.Advance(time.Minute)
				_, err = srvA.rp.LookupLink(ctx, alice.User.Handle, ls.Code)
				require.ErrorIs(t, err, webauthnkit.ErrLinkNotFound)
				p, err = srvB.rp.PollLink(ctx, ls.PollToken)
				require.NoError(t, err)
				require.Equal(t, webauthnkit.LinkExpired, p.Status)
				require.Equal(t, webauthnkit.EventLinkExpired, srvB.events.last().Type)
			})
		})
	}
}

package webauthnkit_test

import (
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/webauthntest"
)

// enumerationFixture answers logins by name with the trick of issue 11
// (item 2): a response naming the ceremony's allowCredentials[0], signed by
// a passkey nobody registered, without userHandle.
type enumerationFixture struct {
	rp       *webauthnkit.RelyingParty
	stranger *webauthntest.Authenticator
}

func newEnumerationFixture(t testing.TB) *enumerationFixture {
	t.Helper()
	store := newMemStore(t)
	t.Cleanup(func() { store.Close() })
	rp, err := webauthnkit.New(webauthnkit.Config{RPID: testRPID, Origins: []string{testOrigin}, Credentials: store, Ceremonies: store})
	require.NoError(t, err)
	alice := webauthntest.New(webauthntest.WithOrigin(testOrigin))
	begin, err := rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{Username: "alice"})
	require.NoError(t, err)
	body, err := alice.Register(begin.Options)
	require.NoError(t, err)
	_, err = rp.FinishRegistration(ctx, begin.CeremonyID, body)
	require.NoError(t, err)
	f := &enumerationFixture{rp: rp, stranger: webauthntest.New(webauthntest.WithOrigin(testOrigin))}
	begin, err = rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{Username: "unused"})
	require.NoError(t, err)
	_, err = f.stranger.Register(begin.Options)
	require.NoError(t, err)
	return f
}

// probe begins a login for name and returns the ceremony and the forged
// response.
func (f *enumerationFixture) probe(t testing.TB, name string) (string, []byte) {
	begin, err := f.rp.BeginLogin(ctx, webauthnkit.LoginRequest{Username: name})
	require.NoError(t, err)
	body, err := f.stranger.Login(withoutAllowList(t, begin.Options))
	require.NoError(t, err)
	return begin.CeremonyID, setCredentialID(t, body, allowedIDs(t, begin.Options)[0], nil)
}

// finish runs FinishLogin and checks it fails as for a real account.
func (f *enumerationFixture) finish(t testing.TB, id string, body []byte) {
	_, err := f.rp.FinishLogin(ctx, id, body)
	require.ErrorIs(t, err, webauthnkit.ErrInvalidResponse)
}

// FinishLogin takes as long for an unknown name as for a real one. The two
// are measured interleaved (so load on the machine hits both alike) over a
// few hundred requests each, and their medians compared within a generous
// band: before the dummy verification, the unknown name's answer skipped
// the signature check and took about a quarter of the time.
func TestUnknownNameFinishTiming(t *testing.T) {
	f := newEnumerationFixture(t)
	const rounds = 300
	var real, unknown []time.Duration
	measure := func(name string) time.Duration {
		id, body := f.probe(t, name)
		start := time.Now()
		_, err := f.rp.FinishLogin(ctx, id, body)
		d := time.Since(start)
		require.Error(t, err, name) // which error is TestUnknownNameFinishLooksReal's business
		return d
	}
	for i := range rounds {
		if i%2 == 0 {
			real = append(real, measure("alice"))
			unknown = append(unknown, measure("nobody"))
		} else {
			unknown = append(unknown, measure("nobody"))
			real = append(real, measure("alice"))
		}
	}
	median := func(d []time.Duration) time.Duration {
		slices.Sort(d)
		return d[len(d)/2]
	}
	mr, mu := median(real), median(unknown)
	ratio := float64(mu) / float64(mr)
	t.Logf("FinishLogin median over %d: real name %v, unknown name %v (ratio %.2f)", rounds, mr, mu, ratio)
	if ratio < 0.6 || ratio > 1.6 {
		t.Errorf("an unknown name's FinishLogin takes %.2fx a real name's (%v vs %v): the difference tells which names exist", ratio, mu, mr)
	}
}

// BenchmarkFinishLoginByName compares FinishLogin's cost for the trick of
// issue 11 against a real and an unknown name; compare with benchstat.
func BenchmarkFinishLoginByName(b *testing.B) {
	for _, name := range []string{"alice", "nobody"} {
		b.Run(map[string]string{"alice": "real", "nobody": "unknown"}[name], func(b *testing.B) {
			f := newEnumerationFixture(b)
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				id, body := f.probe(b, name)
				b.StartTimer()
				f.finish(b, id, body)
			}
		})
	}
}

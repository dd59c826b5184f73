package webauthnkit_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/internal/storewrap"
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
	register(t, rp, webauthnkit.RegistrationRequest{Username: "alice"})
	f := &enumerationFixture{rp: rp, stranger: webauthntest.New(webauthntest.WithOrigin(testOrigin))}
	begin, err := rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{Username: "unused"})
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

func TestNoUsernameEnumeration(t *testing.T) {
	e := newEnv(t)
	_, _ = e.signUp(t, "alice")
	// bob exists but has no passkeys left.
	bob, _ := e.signUp(t, "bob")
	require.NoError(t, e.rp.RevokeCredential(ctx, bob.User.Handle, bob.Credential.ID, true))

	type allow struct {
		ID         string   `json:"id"`
		Type       string   `json:"type"`
		Transports []string `json:"transports"`
	}
	shape := func(name string) (keys []string, list []allow, begin *webauthnkit.Begin) {
		begin, err := e.rp.BeginLogin(ctx, webauthnkit.LoginRequest{Username: name})
		require.NoError(t, err)
		var m map[string]json.RawMessage
		require.NoError(t, json.Unmarshal(begin.Options, &m))
		for k := range m {
			keys = append(keys, k)
		}
		require.NoError(t, json.Unmarshal(m["allowCredentials"], &list))
		return keys, list, begin
	}
	realKeys, realList, _ := shape("alice")
	for _, name := range []string{"nobody", "bob"} {
		keys, list, begin := shape(name)
		assert.ElementsMatch(t, realKeys, keys, "same fields for %s", name)
		require.NotEmpty(t, list)
		assert.LessOrEqual(t, len(list), 2)
		id, err := base64.RawURLEncoding.DecodeString(list[0].ID)
		require.NoError(t, err)
		realID, _ := base64.RawURLEncoding.DecodeString(realList[0].ID)
		assert.Contains(t, []int{16, 20, 32, 64}, len(id), "fake credential ID has a realistic length")
		assert.NotEmpty(t, realID)
		assert.Equal(t, "public-key", list[0].Type)
		assert.NotEmpty(t, list[0].Transports)

		// Stable: asking again gives the same fake list.
		_, again, _ := shape(name)
		assert.Equal(t, list, again)

		// Finishing fails exactly like a wrong passkey for a real user.
		other := webauthntest.New(webauthntest.WithOrigin(testOrigin))
		rb, err := e.rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{Username: "x" + name})
		require.NoError(t, err)
		rbody, err := other.Register(rb.Options)
		require.NoError(t, err)
		_, err = e.rp.FinishRegistration(ctx, rb.CeremonyID, rbody)
		require.NoError(t, err)
		body, err := other.Login(withoutAllowList(t, begin.Options))
		require.NoError(t, err)
		_, err = e.rp.FinishLogin(ctx, begin.CeremonyID, body)
		require.ErrorIs(t, err, webauthnkit.ErrUnknownCredential)
	}
	// Different unknown names get different fake IDs.
	_, a, _ := shape("nobody1")
	_, b, _ := shape("nobody2")
	assert.NotEqual(t, a[0].ID, b[0].ID)
}

// The fake allow lists vary like real ones: one or two passkeys, several ID
// lengths and transport sets.
func TestFakeAllowListsVary(t *testing.T) {
	e := newEnv(t)
	counts, lengths, transports := map[int]bool{}, map[int]bool{}, map[string]bool{}
	for i := range 200 {
		begin, err := e.rp.BeginLogin(ctx, webauthnkit.LoginRequest{Username: fmt.Sprint("ghost", i)})
		require.NoError(t, err)
		var opts struct {
			AllowCredentials []struct {
				ID         string   `json:"id"`
				Transports []string `json:"transports"`
			} `json:"allowCredentials"`
		}
		require.NoError(t, json.Unmarshal(begin.Options, &opts))
		counts[len(opts.AllowCredentials)] = true
		for _, c := range opts.AllowCredentials {
			id, err := base64.RawURLEncoding.DecodeString(c.ID)
			require.NoError(t, err)
			lengths[len(id)] = true
			transports[strings.Join(c.Transports, ",")] = true
		}
	}
	assert.Equal(t, map[int]bool{1: true, 2: true}, counts)
	assert.Len(t, lengths, 4)
	assert.GreaterOrEqual(t, len(transports), 3)
}

// FinishLogin for an unknown name does what it does for a real one: the
// same store calls and the same error, so neither the answer nor its
// timing tells which names exist.
//
// Also with a store implementing webauthnkit.CredentialUserGetter, which a
// login by name (known or not) must not use.
func TestUnknownNameFinishLooksReal(t *testing.T) {
	for _, joining := range []bool{false, true} {
		t.Run(fmt.Sprint("CredentialUserGetter=", joining), func(t *testing.T) {
			var opts []storewrap.Option
			if !joining {
				opts = append(opts, storewrap.WithoutCredentialWithUser())
			}
			testUnknownNameFinishLooksReal(t, newCountingStore(t, opts...))
		})
	}
}

func testUnknownNameFinishLooksReal(t *testing.T, store *storewrap.Store) {
	rp, err := webauthnkit.New(webauthnkit.Config{RPID: testRPID, Origins: []string{testOrigin}, Credentials: store, Ceremonies: store})
	require.NoError(t, err)
	signUp := func(name string) (*webauthnkit.Registration, *webauthntest.Authenticator) {
		return register(t, rp, webauthnkit.RegistrationRequest{Username: name})
	}
	signUp("alice")
	_, carol := signUp("carol") // another account's passkey
	bob, _ := signUp("bob")     // an account whose passkeys are all gone
	require.NoError(t, rp.RevokeCredential(ctx, bob.User.Handle, bob.Credential.ID, true))

	stranger := webauthntest.New(webauthntest.WithOrigin(testOrigin)) // a passkey nobody registered
	reg, err := rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{Username: "unused"})
	require.NoError(t, err)
	_, err = stranger.Register(reg.Options)
	require.NoError(t, err)

	type outcome struct {
		code  webauthnkit.Code
		named bool
		calls []string
	}
	// Each probe answers the ceremony begun for a name, as an attacker who
	// controls the client can; allow holds the options' allowCredentials.
	probes := map[string]func(options []byte, allow [][]byte) []byte{
		"unregistered passkey": func(options []byte, _ [][]byte) []byte {
			body, err := stranger.Login(withoutAllowList(t, options))
			require.NoError(t, err)
			return body
		},
		"another account's passkey": func(options []byte, _ [][]byte) []byte {
			body, err := carol.Login(withoutAllowList(t, options))
			require.NoError(t, err)
			return body
		},
		// The trick of issue 11 (item 2): a response naming the ceremony's
		// own allowCredentials[0], signed by anything, without userHandle.
		"allowCredentials[0], no userHandle": func(options []byte, allow [][]byte) []byte {
			body, err := stranger.Login(withoutAllowList(t, options))
			require.NoError(t, err)
			return setCredentialID(t, body, allow[0], nil)
		},
		"allowCredentials[0], a userHandle": func(options []byte, allow [][]byte) []byte {
			body, err := stranger.Login(withoutAllowList(t, options))
			require.NoError(t, err)
			return setCredentialID(t, body, allow[0], bytes.Repeat([]byte{9}, 32))
		},
		"random ID": func(options []byte, _ [][]byte) []byte {
			body, err := stranger.Login(withoutAllowList(t, options))
			require.NoError(t, err)
			return setCredentialID(t, body, bytes.Repeat([]byte{7}, 20), nil)
		},
	}
	try := func(name string, probe func([]byte, [][]byte) []byte) outcome {
		begin, err := rp.BeginLogin(ctx, webauthnkit.LoginRequest{Username: name})
		require.NoError(t, err)
		body := probe(begin.Options, allowedIDs(t, begin.Options))
		store.TakeCalls()
		_, err = rp.FinishLogin(ctx, begin.CeremonyID, body)
		var ke *webauthnkit.Error
		require.ErrorAs(t, err, &ke)
		return outcome{ke.Code, ke.UnknownCredentialID != nil, store.TakeCalls()}
	}
	want := map[string]webauthnkit.Code{
		"unregistered passkey":               webauthnkit.CodeUnknownCredential,
		"another account's passkey":          webauthnkit.CodeUnknownCredential,
		"allowCredentials[0], no userHandle": webauthnkit.CodeInvalidResponse,
		"allowCredentials[0], a userHandle":  webauthnkit.CodeUnknownCredential,
		"random ID":                          webauthnkit.CodeUnknownCredential,
	}
	for what, probe := range probes {
		alice := try("alice", probe)
		assert.Equal(t, want[what], alice.code, what)
		assert.Equal(t, []string{"TakeCeremony", "GetCredential"}, alice.calls, what)
		for _, name := range []string{"nobody", "bob"} {
			assert.Equal(t, alice, try(name, probe), "%s, %s", what, name)
		}
	}
}

// An ID read from one name's allowCredentials and replayed in another
// ceremony (a login by another name, or a discoverable login) must not tell
// whether it is registered: before, a real account's ID was "found, not
// yours" (unknown_credential without a signal, or invalid_response in a
// discoverable login) while an unknown name's fake ID was "not found"
// (unknown_credential with UnknownCredentialID, which the HTTP adapter turns
// into signalUnknownCredential): an enumeration oracle across ceremonies.
func TestFakeIDsLookRegisteredInOtherCeremonies(t *testing.T) {
	for _, joining := range []bool{false, true} {
		t.Run(fmt.Sprint("CredentialUserGetter=", joining), func(t *testing.T) {
			var opts []storewrap.Option
			if !joining {
				opts = append(opts, storewrap.WithoutCredentialWithUser())
			}
			store := newCountingStore(t, opts...)
			rp, err := webauthnkit.New(webauthnkit.Config{RPID: testRPID, Origins: []string{testOrigin}, Credentials: store, Ceremonies: store})
			require.NoError(t, err)
			register(t, rp, webauthnkit.RegistrationRequest{Username: "alice"})
			register(t, rp, webauthnkit.RegistrationRequest{Username: "carol"})
			bob, _ := register(t, rp, webauthnkit.RegistrationRequest{Username: "bob"}) // no passkeys left
			require.NoError(t, rp.RevokeCredential(ctx, bob.User.Handle, bob.Credential.ID, true))
			_, stranger := register(t, rp, webauthnkit.RegistrationRequest{Username: "mallory"})

			type outcome struct {
				code  webauthnkit.Code
				named bool
				calls []string
			}
			// replay presents id in a ceremony begun for probeName ("" for
			// a discoverable login), signed by the attacker's own passkey.
			replay := func(id []byte, probeName string, userHandle []byte) outcome {
				begin, err := rp.BeginLogin(ctx, webauthnkit.LoginRequest{Username: probeName})
				require.NoError(t, err)
				body, err := stranger.Login(withoutAllowList(t, begin.Options))
				require.NoError(t, err)
				body = setCredentialID(t, body, id, userHandle)
				store.TakeCalls()
				_, err = rp.FinishLogin(ctx, begin.CeremonyID, body)
				var ke *webauthnkit.Error
				require.ErrorAs(t, err, &ke)
				return outcome{ke.Code, ke.UnknownCredentialID != nil, store.TakeCalls()}
			}
			listed := func(name string) []byte {
				begin, err := rp.BeginLogin(ctx, webauthnkit.LoginRequest{Username: name})
				require.NoError(t, err)
				return allowedIDs(t, begin.Options)[0]
			}
			aliceID := listed("alice")
			for _, probe := range []struct {
				name       string
				userHandle []byte
			}{
				{"zed", nil}, {"mallory", nil}, {"carol", nil}, {"", nil}, {"", bytes.Repeat([]byte{9}, 32)},
			} {
				want := replay(aliceID, probe.name, probe.userHandle)
				for _, name := range []string{"nobody", "bob"} {
					assert.Equal(t, want, replay(listed(name), probe.name, probe.userHandle),
						"the ID listed for %s, replayed in a login for %q (userHandle %v)", name, probe.name, probe.userHandle != nil)
				}
			}
		})
	}
}

// registerWithID signs up name with a passkey whose credential ID is id, as
// an attacker's own authenticator can ("none" attestation signs nothing).
func registerWithID(t *testing.T, rp *webauthnkit.RelyingParty, name string, id []byte) error {
	t.Helper()
	auth := webauthntest.New(webauthntest.WithOrigin(testOrigin), webauthntest.WithCredentialIDLength(len(id)))
	begin, err := rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{Username: name})
	require.NoError(t, err)
	body, err := auth.Register(begin.Options)
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(body, &m))
	old, err := base64.RawURLEncoding.DecodeString(m["rawId"].(string))
	require.NoError(t, err)
	resp := m["response"].(map[string]any)
	for _, k := range []string{"attestationObject", "authenticatorData"} {
		if s, ok := resp[k].(string); ok {
			raw, err := base64.RawURLEncoding.DecodeString(s)
			require.NoError(t, err)
			require.True(t, bytes.Contains(raw, old), k)
			resp[k] = base64.RawURLEncoding.EncodeToString(bytes.Replace(raw, old, id, 1))
		}
	}
	m["id"] = base64.RawURLEncoding.EncodeToString(id)
	m["rawId"] = m["id"]
	body, err = json.Marshal(m)
	require.NoError(t, err)
	_, err = rp.FinishRegistration(ctx, begin.CeremonyID, body)
	return err
}

// Registering a passkey under an ID read from a name's allowCredentials
// must not tell whether the name exists: before, a real account's ID was
// refused (credential_exists) and an unknown name's fake ID was accepted.
// Both are now refused, after the same store calls.
func TestRegisteringListedIDTellsNothing(t *testing.T) {
	store := newCountingStore(t)
	rp, err := webauthnkit.New(webauthnkit.Config{RPID: testRPID, Origins: []string{testOrigin}, Credentials: store, Ceremonies: store})
	require.NoError(t, err)
	register(t, rp, webauthnkit.RegistrationRequest{Username: "alice"})
	bob, _ := register(t, rp, webauthnkit.RegistrationRequest{Username: "bob"}) // no passkeys left
	require.NoError(t, rp.RevokeCredential(ctx, bob.User.Handle, bob.Credential.ID, true))

	type outcome struct {
		code  webauthnkit.Code
		calls []string
	}
	probes := 0
	try := func(name string) outcome {
		begin, err := rp.BeginLogin(ctx, webauthnkit.LoginRequest{Username: name})
		require.NoError(t, err)
		id := allowedIDs(t, begin.Options)[0]
		probes++
		store.TakeCalls()
		err = registerWithID(t, rp, fmt.Sprint("probe", probes), id)
		calls := store.TakeCalls()
		require.Error(t, err, "the ID listed for %s was registered", name)
		return outcome{webauthnkit.ErrorCode(err), calls[slices.Index(calls, "TakeCeremony"):]}
	}
	alice := try("alice")
	assert.Equal(t, webauthnkit.CodeCredentialExists, alice.code)
	for _, name := range []string{"nobody", "bob"} {
		assert.Equal(t, alice, try(name), name)
	}
}

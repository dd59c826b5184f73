package webauthnkit_test

// Recorded WebAuthn responses (real devices and the specification's
// reference vectors) replayed through the public API. Each vector is a JSON
// file in testdata/ described in testdata/README.md.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/protocol/webauthncbor"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/memstore"
)

// vectorUser is the account every vector registers or is seeded under.
const vectorUser = "vector-user"

type vectorFile struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	Source      struct {
		Repository string `json:"repository"`
		Path       string `json:"path"`
		Version    string `json:"version"`
		Commit     string `json:"commit"`
		License    string `json:"license"`
		Upstream   string `json:"upstream"`
		// DerivedFrom names where the upstream data itself comes from.
		DerivedFrom string `json:"derivedFrom"`
	} `json:"source"`
	Device            string `json:"device"`
	Kind              string `json:"kind"` // "registration" or "login"
	AttestationFormat string `json:"attestationFormat"`
	Algorithm         string `json:"algorithm"`
	RPID              string `json:"rpId"`
	Origin            string `json:"origin"`
	Challenge         string `json:"challenge"` // base64url
	Flags             struct {
		UserPresent    bool `json:"userPresent"`
		UserVerified   bool `json:"userVerified"`
		BackupEligible bool `json:"backupEligible"`
		BackupState    bool `json:"backupState"`
	} `json:"flags"`
	UserVerification string `json:"userVerification"`
	UserHandle       string `json:"userHandle"` // login: base64url, as in the response
	// Registration names the registration vector whose credential a login
	// vector uses; it is replayed through the API first.
	Registration string `json:"registration"`
	// Credential is the stored credential of a login vector. Without a
	// paired registration it is seeded directly into the store; with one,
	// the registration must produce the same public key.
	Credential *struct {
		ID             string `json:"id"`
		PublicKey      string `json:"publicKey"` // COSE, base64url
		SignCount      uint32 `json:"signCount"`
		BackupEligible bool   `json:"backupEligible"`
		BackupState    bool   `json:"backupState"`
	} `json:"credential"`
	Conversion string          `json:"conversion"`
	Response   json.RawMessage `json:"response"`
	Expected   struct {
		Outcome      string           `json:"outcome"` // "success" or "rejected"
		Code         webauthnkit.Code `json:"code"`    // when rejected
		Reason       string           `json:"reason"`
		SignCount    uint32           `json:"signCount"`
		CredentialID string           `json:"credentialId"`
		// ValidUntil (registration) is the earliest NotAfter of the
		// attestation certificates that go-webauthn checks against the
		// current time (packed x5c, the TPM AIK, the fido-u2f certificate).
		// Past it the vector is rejected with invalid_response: the
		// core cannot pass go-webauthn another verification time.
		ValidUntil time.Time `json:"validUntil"`
	} `json:"expected"`
}

// expired reports whether the vector's attestation certificates are past
// their validity now.
func (v *vectorFile) expired() bool {
	return !v.Expected.ValidUntil.IsZero() && time.Now().After(v.Expected.ValidUntil)
}

func (v *vectorFile) success() bool { return v.Expected.Outcome == "success" && !v.expired() }

// rejection returns the expected error code and reason of a vector that
// must not verify.
func (v *vectorFile) rejection() (webauthnkit.Code, string) {
	if v.Expected.Outcome == "success" && v.expired() {
		return webauthnkit.CodeInvalidResponse, "an attestation certificate expired on " +
			v.Expected.ValidUntil.Format(time.RFC3339) + " and go-webauthn v0.18.2 checks its validity at time.Now()"
	}
	return v.Expected.Code, v.Expected.Reason
}

func b64(t testing.TB, s string) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	require.NoError(t, err, "base64url %q", s)
	return b
}

func loadVectors(t *testing.T) []*vectorFile {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	require.NoError(t, err)
	sort.Strings(paths)
	var out []*vectorFile
	for _, p := range paths {
		raw, err := os.ReadFile(p)
		require.NoError(t, err)
		v := new(vectorFile)
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		require.NoError(t, dec.Decode(v), p)
		require.Equal(t, strings.TrimSuffix(filepath.Base(p), ".json"), v.Name, "file name must be the vector name")
		require.Contains(t, []string{"registration", "login"}, v.Kind, p)
		require.Contains(t, []string{"success", "rejected"}, v.Expected.Outcome, p)
		require.NotEmpty(t, v.Source.Repository, p)
		require.NotEmpty(t, v.Source.License, p)
		require.GreaterOrEqual(t, len(b64(t, v.Challenge)), 16, "%s: challenge shorter than 16 bytes", p)
		if v.Kind == "login" {
			require.True(t, v.Registration != "" || v.Credential != nil, "%s: a login vector needs a registration or a credential", p)
		}
		if !v.success() {
			require.NotEmpty(t, v.Expected.Code, "%s: a rejected vector names its error code", p)
			require.NotEmpty(t, v.Expected.Reason, "%s: a rejected vector says why", p)
		}
		out = append(out, v)
	}
	return out
}

// sentinel returns the webauthnkit sentinel for a code.
func sentinel(t testing.TB, c webauthnkit.Code) error {
	t.Helper()
	for _, s := range []*webauthnkit.Error{
		webauthnkit.ErrInvalidResponse, webauthnkit.ErrCeremonyNotFound, webauthnkit.ErrChallengeMismatch,
		webauthnkit.ErrOriginMismatch, webauthnkit.ErrRPIDMismatch, webauthnkit.ErrUserVerificationRequired,
		webauthnkit.ErrUnknownCredential, webauthnkit.ErrCounterRegression, webauthnkit.ErrCredentialExists,
		webauthnkit.ErrWrongCeremony,
	} {
		if s.Code == c {
			return s
		}
	}
	t.Fatalf("no sentinel for code %q", c)
	return nil
}

// rig is one relying party over a fresh memstore.
type rig struct {
	rp    *webauthnkit.RelyingParty
	store *memstore.Store
}

type rigOption func(*webauthnkit.Config)

func withOrigin(o string) rigOption { return func(c *webauthnkit.Config) { c.Origins = []string{o} } }
func withRPID(id string) rigOption  { return func(c *webauthnkit.Config) { c.RPID = id } }
func withChallenge(ch []byte) rigOption {
	return func(c *webauthnkit.Config) {
		c.NewChallenge = func() ([]byte, error) { return bytes.Clone(ch), nil }
	}
}
func withUV(uv webauthnkit.UserVerification) rigOption {
	return func(c *webauthnkit.Config) { c.UserVerification = uv }
}

func newRig(t *testing.T, v *vectorFile, opts ...rigOption) *rig {
	t.Helper()
	r, err := tryRig(t, v, opts...)
	require.NoError(t, err)
	return r
}

func tryRig(t *testing.T, v *vectorFile, opts ...rigOption) (*rig, error) {
	t.Helper()
	store := newMemStore(t)
	t.Cleanup(func() { _ = store.Close() })
	r := &rig{store: store}
	challenge := b64(t, v.Challenge)
	// The ceremony clock: a fixed instant, so nothing in these tests depends
	// on how long the (race-instrumented) run takes. It only drives the core's
	// ceremony expiry; go-webauthn's certificate checks use the real time.
	now := time.Now()
	cfg := webauthnkit.Config{
		RPID:             v.RPID,
		Origins:          []string{v.Origin},
		UserVerification: webauthnkit.UserVerification(v.UserVerification),
		NewChallenge:     func() ([]byte, error) { return bytes.Clone(challenge), nil },
		Now:              func() time.Time { return now },
		Credentials:      store,
		Ceremonies:       store,
	}
	for _, o := range opts {
		o(&cfg)
	}
	rp, err := webauthnkit.New(cfg)
	if err != nil {
		return nil, err
	}
	r.rp = rp
	return r, nil
}

// register runs BeginRegistration then FinishRegistration with body.
func (r *rig) register(t *testing.T, username string, body []byte) (*webauthnkit.Registration, string, error) {
	t.Helper()
	begin, err := r.rp.BeginRegistration(context.Background(), webauthnkit.RegistrationRequest{Username: username})
	require.NoError(t, err)
	reg, err := r.rp.FinishRegistration(context.Background(), begin.CeremonyID, body)
	return reg, begin.CeremonyID, err
}

// login runs BeginLogin (by username, or discoverable when username is
// empty) then FinishLogin with body.
func (r *rig) login(t *testing.T, username string, body []byte) (*webauthnkit.Login, string, error) {
	t.Helper()
	begin, err := r.rp.BeginLogin(context.Background(), webauthnkit.LoginRequest{Username: username})
	require.NoError(t, err)
	login, err := r.rp.FinishLogin(context.Background(), begin.CeremonyID, body)
	return login, begin.CeremonyID, err
}

// prepare stores a login vector's user and credential in r's store. With a
// paired registration vector, that registration is first replayed through
// the API of its own relying party (configured from the registration vector,
// so that r's configuration, possibly wrong on purpose, does not matter) and
// the account it made is copied; otherwise the vector's credential is seeded.
func (r *rig) prepare(t *testing.T, v *vectorFile, byName map[string]*vectorFile) {
	t.Helper()
	ctx := context.Background()
	if v.Registration != "" {
		reg := byName[v.Registration]
		require.NotNil(t, reg, "paired registration %q", v.Registration)
		require.True(t, reg.success(), "paired registration %q must verify", v.Registration)
		require.Empty(t, v.UserHandle, "a login paired with a registration cannot carry a recorded user handle (the core makes random handles)")
		created, _, err := newRig(t, reg).register(t, vectorUser, reg.Response)
		require.NoError(t, err, "paired registration %q", v.Registration)
		require.Equal(t, b64(t, reg.Expected.CredentialID), created.Credential.ID)
		if v.Credential != nil {
			require.Equal(t, b64(t, v.Credential.ID), created.Credential.ID)
			require.Equal(t, b64(t, v.Credential.PublicKey), created.Credential.PublicKey,
				"registration %q must yield the vector's public key", v.Registration)
		}
		require.NoError(t, r.store.CreateUser(ctx, created.User, &created.Credential))
		return
	}
	handle := make([]byte, 32)
	if v.UserHandle != "" {
		handle = b64(t, v.UserHandle)
	} else {
		_, err := rand.Read(handle)
		require.NoError(t, err)
	}
	c := v.Credential
	now := time.Now().UTC()
	err := r.store.CreateUser(ctx,
		webauthnkit.User{Handle: handle, Name: vectorUser, DisplayName: "Vector User", CreatedAt: now},
		&webauthnkit.Credential{
			ID:             b64(t, c.ID),
			UserHandle:     handle,
			PublicKey:      b64(t, c.PublicKey),
			SignCount:      c.SignCount,
			AAGUID:         make([]byte, 16),
			UserPresent:    true,
			BackupEligible: c.BackupEligible,
			BackupState:    c.BackupState,
			CreatedAt:      now,
		})
	require.NoError(t, err)
}

// editResponse returns body with response.<field> replaced by edit's result.
func editResponse(t *testing.T, body []byte, field string, edit func([]byte) []byte) []byte {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(body, &m))
	resp, ok := m["response"].(map[string]any)
	require.True(t, ok)
	s, ok := resp[field].(string)
	require.True(t, ok, "response.%s", field)
	resp[field] = base64.RawURLEncoding.EncodeToString(edit(b64(t, s)))
	out, err := json.Marshal(m)
	require.NoError(t, err)
	return out
}

type attestationObject struct {
	Fmt      string         `cbor:"fmt"`
	AttStmt  map[string]any `cbor:"attStmt"`
	AuthData []byte         `cbor:"authData"`
}

// flipUnique flips one bit of the last byte of the only occurrence of part
// in whole (a copy is returned).
func flipUnique(t *testing.T, whole, part []byte, at int) []byte {
	t.Helper()
	i := bytes.Index(whole, part)
	require.GreaterOrEqual(t, i, 0)
	require.Equal(t, i, bytes.LastIndex(whole, part), "ambiguous position")
	out := bytes.Clone(whole)
	out[i+at] ^= 0x01
	return out
}

// tamperAttestation flips a byte of the attestation statement signature, or
// for formats without one (apple) of the signed authenticator data. It
// reports false for "none", where nothing is signed.
func tamperAttestation(t *testing.T, body []byte) ([]byte, string, bool) {
	t.Helper()
	var what string
	ok := true
	out := editResponse(t, body, "attestationObject", func(raw []byte) []byte {
		var att attestationObject
		require.NoError(t, webauthncbor.Unmarshal(raw, &att))
		if sig, isBytes := att.AttStmt["sig"].([]byte); isBytes && len(sig) > 0 {
			what = "attStmt.sig"
			return flipUnique(t, raw, sig, len(sig)-1)
		}
		if att.Fmt == "none" {
			ok = false
			return raw
		}
		what = "authData (credential public key), covered by the " + att.Fmt + " attestation"
		return flipUnique(t, raw, att.AuthData, len(att.AuthData)-1)
	})
	return out, what, ok
}

// tamperRPIDHash flips the first byte of the rpIdHash in the response's
// authenticator data.
func tamperRPIDHash(t *testing.T, v *vectorFile) []byte {
	t.Helper()
	if v.Kind == "login" {
		return editResponse(t, v.Response, "authenticatorData", func(ad []byte) []byte {
			ad = bytes.Clone(ad)
			ad[0] ^= 0x01
			return ad
		})
	}
	return editResponse(t, v.Response, "attestationObject", func(raw []byte) []byte {
		var att attestationObject
		require.NoError(t, webauthncbor.Unmarshal(raw, &att))
		return flipUnique(t, raw, att.AuthData, 0)
	})
}

// wrongOrigin is an origin the core accepts for the vector's RP ID but that
// differs from the recorded one.
func wrongOrigin(t *testing.T, v *vectorFile) string {
	t.Helper()
	u, err := url.Parse(v.Origin)
	require.NoError(t, err)
	return "https://wrong-origin." + u.Host
}

// otherRPIDs returns RP IDs other than the vector's that the recorded
// origin may still use: the origin's host and the parent domains of the RP
// ID. Some may be refused by New (public suffixes).
func otherRPIDs(t *testing.T, v *vectorFile) []string {
	t.Helper()
	u, err := url.Parse(v.Origin)
	require.NoError(t, err)
	var out []string
	if host := u.Hostname(); host != v.RPID && net.ParseIP(host) == nil {
		out = append(out, host)
	}
	for d := v.RPID; strings.Contains(d, "."); {
		d = d[strings.IndexByte(d, '.')+1:]
		out = append(out, d)
	}
	return out
}

// cause describes the go-webauthn error behind a webauthnkit error (for
// test logs only: it is not client-safe).
func cause(err error) string {
	var pe *protocol.Error
	if errors.As(err, &pe) {
		return strings.TrimSpace(pe.Type + ": " + pe.Details + " " + pe.DevInfo)
	}
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

func flipLast(b []byte) []byte {
	b = bytes.Clone(b)
	b[len(b)-1] ^= 0x01
	return b
}

func TestVectors(t *testing.T) {
	vectors := loadVectors(t)
	require.GreaterOrEqual(t, len(vectors), 10, "testdata/ must hold at least 10 vectors")
	byName := make(map[string]*vectorFile, len(vectors))
	for _, v := range vectors {
		byName[v.Name] = v
	}
	for _, v := range vectors {
		t.Run(v.Name, func(t *testing.T) {
			t.Parallel()
			switch v.Kind {
			case "registration":
				testRegistrationVector(t, v)
			case "login":
				testLoginVector(t, v, byName)
			}
		})
	}
}

// TestVectorCoverage checks that testdata/ covers the attestation formats and
// assertion algorithms it is meant to, each with a vector that verifies.
func TestVectorCoverage(t *testing.T) {
	vectors := loadVectors(t)
	verifies := map[string]bool{} // recorded as verifying
	expired := map[string]bool{}  // ... but past its certificates' validity
	algs := map[string]bool{}
	for _, v := range vectors {
		if v.Expected.Outcome != "success" {
			continue
		}
		if v.Kind == "registration" {
			if v.success() {
				verifies[v.AttestationFormat] = true
			} else {
				expired[v.AttestationFormat] = true
			}
		} else {
			algs[v.Algorithm] = true
		}
	}
	for _, f := range []string{"packed", "tpm", "android-key", "fido-u2f", "apple", "none"} {
		if !verifies[f] && expired[f] {
			t.Logf("attestation format %q: every vector's certificates have expired; go-webauthn checks them at the current time", f)
			continue
		}
		assert.True(t, verifies[f], "no registration vector with attestation format %q verifies", f)
	}
	for _, a := range []string{"ES256", "RS256", "EdDSA"} {
		assert.True(t, algs[a], "no successful login vector with algorithm %s", a)
	}
}

func testRegistrationVector(t *testing.T, v *vectorFile) {
	ctx := context.Background()

	t.Run("verify", func(t *testing.T) {
		r := newRig(t, v)
		reg, ceremonyID, err := r.register(t, vectorUser, v.Response)
		if !v.success() {
			code, reason := v.rejection()
			require.Error(t, err, "expected rejection: %s", reason)
			require.ErrorIs(t, err, sentinel(t, code))
			t.Logf("rejected as expected (%s): %s", reason, cause(err))
		} else {
			require.NoError(t, err, cause(err))
			assert.Equal(t, b64(t, v.Expected.CredentialID), reg.Credential.ID)
			assert.Equal(t, v.AttestationFormat, reg.Credential.AttestationFormat)
			assert.Equal(t, v.Expected.SignCount, reg.Credential.SignCount)
			assert.Equal(t, v.Flags.UserVerified, reg.Credential.UserVerified)
			assert.Equal(t, v.Flags.BackupEligible, reg.Credential.BackupEligible)
			assert.True(t, reg.NewUser)
			stored, err := r.store.GetCredential(ctx, reg.Credential.ID)
			require.NoError(t, err)
			assert.Equal(t, reg.User.Handle, stored.UserHandle)
			assert.Equal(t, reg.Credential.PublicKey, stored.PublicKey)
			assert.Equal(t, v.Expected.SignCount, stored.SignCount)
		}

		// Replay with the same ceremony ID: the ceremony was consumed.
		_, err = r.rp.FinishRegistration(ctx, ceremonyID, v.Response)
		require.ErrorIs(t, err, webauthnkit.ErrCeremonyNotFound)

		// Replay in a new ceremony with the same (fixed) challenge: the
		// credential is already registered.
		if v.success() {
			_, _, err = r.register(t, vectorUser+"-2", v.Response)
			require.ErrorIs(t, err, webauthnkit.ErrCredentialExists)
		}
	})

	if v.Flags.UserVerified {
		t.Run("uv-required", func(t *testing.T) {
			r := newRig(t, v, withUV(webauthnkit.UserVerificationRequired))
			_, _, err := r.register(t, vectorUser, v.Response)
			if v.success() {
				require.NoError(t, err, cause(err))
			} else {
				code, _ := v.rejection()
				require.ErrorIs(t, err, sentinel(t, code))
			}
		})
	} else {
		t.Run("uv-required-rejects", func(t *testing.T) {
			r := newRig(t, v, withUV(webauthnkit.UserVerificationRequired))
			_, _, err := r.register(t, vectorUser, v.Response)
			require.ErrorIs(t, err, webauthnkit.ErrUserVerificationRequired)
		})
	}

	if v.success() {
		t.Run("attestation-monitor", func(t *testing.T) { testVectorAttestation(t, v) })
	}

	t.Run("tampered-signature", func(t *testing.T) {
		body, what, ok := tamperAttestation(t, v.Response)
		if !ok {
			t.Skip(`"none" attestation: nothing in a registration response is signed`)
		}
		r := newRig(t, v)
		_, _, err := r.register(t, vectorUser, body)
		require.ErrorIs(t, err, webauthnkit.ErrInvalidResponse, "tampered %s", what)
	})

	commonNegatives(t, v, func(t *testing.T, r *rig, body []byte) error {
		_, _, err := r.register(t, vectorUser, body)
		return err
	})
}

func testLoginVector(t *testing.T, v *vectorFile, byName map[string]*vectorFile) {
	ctx := context.Background()

	for _, mode := range []string{"username", "discoverable"} {
		t.Run("verify-"+mode, func(t *testing.T) {
			r := newRig(t, v)
			r.prepare(t, v, byName)
			username := vectorUser
			if mode == "discoverable" {
				username = ""
			}
			login, ceremonyID, err := r.login(t, username, v.Response)
			if !v.success() {
				code, reason := v.rejection()
				require.ErrorIs(t, err, sentinel(t, code), "expected rejection: %s", reason)
				return
			}
			require.NoError(t, err, cause(err))
			id := login.Credential.ID
			assert.Equal(t, vectorUser, login.User.Name)
			assert.Equal(t, v.Flags.UserVerified, login.UserVerified)
			assert.Equal(t, v.Expected.SignCount, login.Credential.SignCount)
			assert.False(t, login.CloneSuspected)
			stored, err := r.store.GetCredential(ctx, id)
			require.NoError(t, err)
			assert.Equal(t, v.Expected.SignCount, stored.SignCount, "sign count written back")
			assert.False(t, stored.LastUsedAt.IsZero())

			// Replay with the same ceremony ID: the ceremony was consumed.
			_, err = r.rp.FinishLogin(ctx, ceremonyID, v.Response)
			require.ErrorIs(t, err, webauthnkit.ErrCeremonyNotFound)

			// Replay in a new ceremony with the same (fixed) challenge.
			_, _, err = r.login(t, username, v.Response)
			if v.Expected.SignCount > 0 {
				require.ErrorIs(t, err, webauthnkit.ErrCounterRegression)
			} else {
				// An authenticator without a counter (0 -> 0) cannot be
				// caught here: only the challenge's uniqueness (random in
				// production) prevents such a replay.
				require.NoError(t, err)
			}
			stored, err = r.store.GetCredential(ctx, id)
			require.NoError(t, err)
			assert.Equal(t, v.Expected.SignCount, stored.SignCount, "counter unchanged by the replay")
		})
	}

	if v.Flags.UserVerified {
		t.Run("uv-required", func(t *testing.T) {
			r := newRig(t, v, withUV(webauthnkit.UserVerificationRequired))
			r.prepare(t, v, byName)
			_, _, err := r.login(t, vectorUser, v.Response)
			require.NoError(t, err, cause(err))
		})
	} else {
		t.Run("uv-required-rejects", func(t *testing.T) {
			r := newRig(t, v, withUV(webauthnkit.UserVerificationRequired))
			r.prepare(t, v, byName)
			_, _, err := r.login(t, vectorUser, v.Response)
			require.ErrorIs(t, err, webauthnkit.ErrUserVerificationRequired)
		})
	}

	t.Run("tampered-signature", func(t *testing.T) {
		r := newRig(t, v)
		r.prepare(t, v, byName)
		body := editResponse(t, v.Response, "signature", flipLast)
		_, _, err := r.login(t, vectorUser, body)
		require.ErrorIs(t, err, webauthnkit.ErrInvalidResponse)
		// The failed login must not have touched the stored counter.
		creds, err := r.store.ListCredentials(ctx, mustUser(t, r).Handle)
		require.NoError(t, err)
		require.Len(t, creds, 1)
		assert.True(t, creds[0].LastUsedAt.IsZero())
	})

	commonNegatives(t, v, func(t *testing.T, r *rig, body []byte) error {
		r.prepare(t, v, byName)
		_, _, err := r.login(t, vectorUser, body)
		return err
	})
}

func mustUser(t *testing.T, r *rig) webauthnkit.User {
	t.Helper()
	u, err := r.store.GetUserByName(context.Background(), vectorUser)
	require.NoError(t, err)
	return u
}

// commonNegatives checks the errors with a precise code: wrong origin, wrong
// challenge and wrong RP ID (in the configuration and in the response).
// run prepares r (for logins) and finishes a ceremony with body.
func commonNegatives(t *testing.T, v *vectorFile, run func(t *testing.T, r *rig, body []byte) error) {
	t.Run("wrong-origin", func(t *testing.T) {
		r := newRig(t, v, withOrigin(wrongOrigin(t, v)))
		require.ErrorIs(t, run(t, r, v.Response), webauthnkit.ErrOriginMismatch)
	})
	t.Run("wrong-challenge", func(t *testing.T) {
		r := newRig(t, v, withChallenge(flipLast(b64(t, v.Challenge))))
		require.ErrorIs(t, run(t, r, v.Response), webauthnkit.ErrChallengeMismatch)
	})
	t.Run("wrong-rp-id-in-response", func(t *testing.T) {
		r := newRig(t, v)
		require.ErrorIs(t, run(t, r, tamperRPIDHash(t, v)), webauthnkit.ErrRPIDMismatch)
	})
	t.Run("wrong-rp-id-in-config", func(t *testing.T) {
		for _, other := range otherRPIDs(t, v) {
			r, err := tryRig(t, v, withRPID(other))
			var cerr *webauthnkit.ConfigError
			if errors.As(err, &cerr) {
				continue // not a valid RP ID (e.g. a public suffix)
			}
			require.NoError(t, err)
			require.ErrorIs(t, run(t, r, v.Response), webauthnkit.ErrRPIDMismatch, "RPID %q", other)
			return
		}
		t.Skipf("no valid RP ID other than %q can serve origin %s (the response-side check covers it)", v.RPID, v.Origin)
	})
}

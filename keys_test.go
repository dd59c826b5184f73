package webauthnkit_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-webauthn/webauthn/protocol/webauthncose"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/webauthntest"
)

// hostileBudget is the wall time a hostile key may cost a Finish call. A
// valid ES256 ceremony costs about 0.1 ms; before the key limits a 46 KB RSA
// key cost 12-16 s per login. The best of up to three attempts counts, so a
// scheduler hiccup on a loaded machine cannot fail the test.
const hostileBudget = 50 * time.Millisecond

var hostileUsers atomic.Int64

// finishRegistrationTimed begins a sign-up, lets a fresh ES256 device answer
// with calls, and times FinishRegistration alone.
func finishRegistrationTimed(t testing.TB, e *env, calls ...webauthntest.CallOption) (time.Duration, error) {
	t.Helper()
	begin, err := e.rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{Username: fmt.Sprintf("hostile-%d", hostileUsers.Add(1))})
	require.NoError(t, err)
	body, err := webauthntest.New(webauthntest.WithOrigin(testOrigin)).Register(begin.Options, calls...)
	require.NoError(t, err)
	body = withoutOptionalCopies(t, body)
	start := time.Now()
	_, err = e.rp.FinishRegistration(ctx, begin.CeremonyID, body)
	return time.Since(start), err
}

// requireFastKeyRejection runs attempt until one is within hostileBudget
// (at most three times, and not again after one took over a second: that
// is no scheduler noise). Every attempt must fail with ErrInvalidResponse
// because of the key limits.
func requireFastKeyRejection(t *testing.T, attempt func() (time.Duration, error)) {
	t.Helper()
	best := time.Duration(1<<63 - 1)
	for range 3 {
		took, err := attempt()
		require.ErrorIs(t, err, webauthnkit.ErrInvalidResponse)
		require.ErrorIs(t, err, webauthnkit.ErrKeyNotAllowed, "refused by the key limits, not later: %v", err)
		best = min(best, took)
		if best < hostileBudget || took > time.Second {
			break
		}
	}
	assert.Less(t, best, hostileBudget, "a hostile key must be refused before any signature work")
}

func TestHostileCredentialKeys(t *testing.T) {
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	require.NoError(t, err)
	p384pt, err := p384.PublicKey.Bytes()
	require.NoError(t, err)
	p256, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	p256pt, err := p256.PublicKey.Bytes()
	require.NoError(t, err)
	offCurveY := append([]byte{}, p256pt[33:]...)
	offCurveY[31] ^= 1

	cases := []struct {
		name string
		key  []byte
	}{
		// "none" attestation signs nothing: before the limits these were
		// stored, and every login with them cost seconds.
		{"RSA 46000-byte modulus, e=2^31-1", rsaCOSE(t, -257, modulus(t, 46000), e2p31m1)},
		{"RSA 8192-bit", rsaCOSE(t, -257, modulus(t, 1024), e65537)},
		{"RSA 1024-bit", rsaCOSE(t, -257, modulus(t, 128), e65537)},
		{"RSA 2048-bit, e=2^31-1", rsaCOSE(t, -257, modulus(t, 256), e2p31m1)},
		{"RSA 2048-bit, e=3", rsaCOSE(t, -257, modulus(t, 256), []byte{3})},
		{"RSA 2048-bit, even modulus", rsaCOSE(t, -257, append(modulus(t, 255), 2), e65537)},
		{"RSA key with an EC2 algorithm", rsaCOSE(t, -7, modulus(t, 256), e65537)},
		{"ES256 key on P-384", coseKey(t, map[int]any{1: 2, 3: -7, -1: 2, -2: p384pt[1:49], -3: p384pt[49:]})},
		{"ES256 key on P-256 with P-384 coordinates", coseKey(t, map[int]any{1: 2, 3: -7, -1: 1, -2: p384pt[1:49], -3: p384pt[49:]})},
		{"ES256 key without curve", coseKey(t, map[int]any{1: 2, 3: -7, -2: p256pt[1:33], -3: p256pt[33:]})},
		{"ES256 point off the curve", coseKey(t, map[int]any{1: 2, 3: -7, -1: 1, -2: p256pt[1:33], -3: offCurveY})},
		{"OKP X25519", coseKey(t, map[int]any{1: 1, 3: -8, -1: 4, -2: randomBytes(t, 32)})},
		{"OKP Ed448", coseKey(t, map[int]any{1: 1, 3: -8, -1: 7, -2: randomBytes(t, 57)})},
		{"OKP Ed25519 with 31 bytes", coseKey(t, map[int]any{1: 1, 3: -8, -1: 6, -2: randomBytes(t, 31)})},
		{"ES256K (not offered)", coseKey(t, map[int]any{1: 2, 3: -47, -1: 8, -2: randomBytes(t, 32), -3: randomBytes(t, 32)})},
		{"PS256 (not offered by default)", rsaCOSE(t, -37, modulus(t, 256), e65537)},
	}
	e := newEnv(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			requireFastKeyRejection(t, func() (time.Duration, error) {
				return finishRegistrationTimed(t, e, webauthntest.WithCredentialKey(tc.key))
			})
		})
	}
}

// TestHostileAttestationKeys: keys that would be verified with during
// attestation, before the credential is stored.
func TestHostileAttestationKeys(t *testing.T) {
	e := newEnv(t)
	t.Run("packed self attestation with a 23000-byte modulus", func(t *testing.T) {
		// Before the limits: ~1.5 s per FinishRegistration, no account needed.
		n := modulus(t, 23000)
		requireFastKeyRejection(t, func() (time.Duration, error) {
			return finishRegistrationTimed(t, e,
				webauthntest.WithCredentialKey(rsaCOSE(t, -257, n, e2p31m1)),
				webauthntest.WithAttestationStatement("packed", map[string]any{"alg": -257, "sig": randomBytes(t, len(n))}))
		})
	})
	for _, tc := range []struct {
		name  string
		bytes int
		e     int
	}{
		{"packed x5c with a 23000-byte certificate key, e=2^31-1", 23000, 1<<31 - 1},
		{"packed x5c with a 1024-bit certificate key", 128, 65537},
		{"packed x5c with an 8192-bit certificate key", 1024, 65537},
	} {
		t.Run(tc.name, func(t *testing.T) {
			der := certificateWithRSAKey(t, new(big.Int).SetBytes(modulus(t, tc.bytes)), tc.e)
			for _, format := range []string{"packed", "tpm", "android-key", "fido-u2f", "apple"} {
				requireFastKeyRejection(t, func() (time.Duration, error) {
					return finishRegistrationTimed(t, e, webauthntest.WithAttestationStatement(format,
						map[string]any{"alg": -257, "sig": randomBytes(t, tc.bytes), "x5c": []any{der}, "ver": "2.0"}))
				})
			}
		})
	}
	t.Run("compound sub-statement with a huge certificate key", func(t *testing.T) {
		der := certificateWithRSAKey(t, new(big.Int).SetBytes(modulus(t, 15000)), 1<<31-1)
		hostile := map[string]any{"fmt": "packed", "attStmt": map[string]any{"alg": -257, "sig": randomBytes(t, 15000), "x5c": []any{der}}}
		self := map[string]any{"fmt": "packed", "attStmt": map[string]any{"alg": -7, "sig": randomBytes(t, 70)}}
		requireFastKeyRejection(t, func() (time.Duration, error) {
			return finishRegistrationTimed(t, e, webauthntest.WithAttestationStatement("compound", []any{self, hostile}))
		})
	})
	t.Run("android-safetynet JWS with a huge certificate key", func(t *testing.T) {
		der := certificateWithRSAKey(t, new(big.Int).SetBytes(modulus(t, 12000)), 65537)
		header, err := json.Marshal(map[string]any{"alg": "RS256", "x5c": []string{base64.StdEncoding.EncodeToString(der)}})
		require.NoError(t, err)
		jws := base64.RawURLEncoding.EncodeToString(header) + ".e30." + base64.RawURLEncoding.EncodeToString(randomBytes(t, 12000))
		requireFastKeyRejection(t, func() (time.Duration, error) {
			return finishRegistrationTimed(t, e, webauthntest.WithAttestationStatement("android-safetynet", map[string]any{"ver": "1", "response": []byte(jws)}))
		})
	})
	t.Run("x5c with too many certificates", func(t *testing.T) {
		der := certificateWithRSAKey(t, new(big.Int).SetBytes(modulus(t, 256)), 65537)
		chain := []any{der, der, der, der, der, der, der, der, der}
		requireFastKeyRejection(t, func() (time.Duration, error) {
			return finishRegistrationTimed(t, e, webauthntest.WithAttestationStatement("packed", map[string]any{"alg": -257, "sig": randomBytes(t, 256), "x5c": chain}))
		})
	})
}

// TestHostileStoredKey: a key stored before the limits existed (or written
// by someone with access to the store) is checked before a login verifies
// with it, and the log explains why without the key.
func TestHostileStoredKey(t *testing.T) {
	e := newEnv(t)
	reg, device := e.signUp(t, "mallory", webauthntest.SyncedPasskey())
	n := modulus(t, 46000)
	hostile := reg.Credential
	hostile.PublicKey = rsaCOSE(t, -257, n, e2p31m1)
	require.NoError(t, e.store.DeleteUser(ctx, reg.User.Handle))
	require.NoError(t, e.store.CreateUser(ctx, reg.User, &hostile))

	requireFastKeyRejection(t, func() (time.Duration, error) {
		begin, err := e.rp.BeginLogin(ctx, webauthnkit.LoginRequest{})
		require.NoError(t, err)
		body, err := device.Login(begin.Options)
		require.NoError(t, err)
		// A signature as long as the modulus, as the attacker would send:
		// a shorter one is refused by crypto/rsa before any arithmetic.
		body = setSignature(t, body, randomBytes(t, len(n)))
		start := time.Now()
		_, err = e.rp.FinishLogin(ctx, begin.CeremonyID, body)
		return time.Since(start), err
	})
	logs := e.logs.String()
	assert.Contains(t, logs, "stored credential key refused")
	assert.Contains(t, logs, "more than 4096 bits")
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawURLEncoding} {
		assert.NotContains(t, logs, enc.EncodeToString(n[:30])[:36], "the key must not be logged")
	}
	assert.NotContains(t, logs, fmt.Sprintf("%x", n[:20]))
}

func TestAlgorithmsConfig(t *testing.T) {
	offered := func(t *testing.T, e *env) []int {
		begin, err := e.rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{Username: "alice"})
		require.NoError(t, err)
		var opts struct {
			PubKeyCredParams []struct {
				Type string `json:"type"`
				Alg  int    `json:"alg"`
			} `json:"pubKeyCredParams"`
		}
		require.NoError(t, json.Unmarshal(begin.Options, &opts))
		var algs []int
		for _, p := range opts.PubKeyCredParams {
			assert.Equal(t, "public-key", p.Type)
			algs = append(algs, p.Alg)
		}
		return algs
	}

	t.Run("default", func(t *testing.T) {
		e := newEnv(t)
		assert.Equal(t, []int{-7, -8, -257}, offered(t, e))
		assert.Equal(t, []webauthnkit.Algorithm{webauthnkit.AlgES256, webauthnkit.AlgEdDSA, webauthnkit.AlgRS256}, webauthnkit.EffectiveConfig(e.rp).Algorithms)
		for _, alg := range []webauthntest.Alg{webauthntest.ES256, webauthntest.EdDSA, webauthntest.RS256} {
			_, device := e.signUp(t, "user-"+alg.String(), webauthntest.WithAlgorithm(alg))
			_, err := e.login(t, device, "user-"+alg.String())
			require.NoError(t, err, alg.String())
		}
	})

	t.Run("opt-in list offered exactly and accepted", func(t *testing.T) {
		algs := []webauthnkit.Algorithm{webauthnkit.AlgES384, webauthnkit.AlgPS256, webauthnkit.AlgES512, webauthnkit.AlgRS1, webauthnkit.AlgES256}
		e := newEnv(t, func(c *webauthnkit.Config) { c.Algorithms = algs })
		assert.Equal(t, []int{-35, -37, -36, -65535, -7}, offered(t, e))
		for _, alg := range []webauthntest.Alg{webauthntest.ES384, webauthntest.ES512, webauthntest.PS256, webauthntest.ES256} {
			_, device := e.signUp(t, "user-"+alg.String(), webauthntest.WithAlgorithm(alg))
			_, err := e.login(t, device, "user-"+alg.String())
			require.NoError(t, err, alg.String())
		}
	})

	t.Run("registration outside the list fails", func(t *testing.T) {
		e := newEnv(t) // ES256, EdDSA, RS256
		for _, alg := range []webauthntest.Alg{webauthntest.ES384, webauthntest.PS256} {
			begin, err := e.rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{Username: "eve-" + alg.String()})
			require.NoError(t, err)
			// A client that ignores pubKeyCredParams.
			options := strings.Replace(string(begin.Options), `"pubKeyCredParams":[`, fmt.Sprintf(`"pubKeyCredParams":[{"type":"public-key","alg":%d},`, int(alg)), 1)
			body, err := webauthntest.New(webauthntest.WithOrigin(testOrigin), webauthntest.WithAlgorithm(alg)).Register([]byte(options))
			require.NoError(t, err)
			_, err = e.rp.FinishRegistration(ctx, begin.CeremonyID, body)
			require.ErrorIs(t, err, webauthnkit.ErrInvalidResponse, alg.String())
			require.ErrorIs(t, err, webauthnkit.ErrKeyNotAllowed, alg.String())
			assert.Contains(t, err.Error(), "credential algorithm "+alg.String()+" is not accepted")
		}
	})

	t.Run("removing an algorithm refuses its passkeys", func(t *testing.T) {
		e := newEnv(t, func(c *webauthnkit.Config) {
			c.Algorithms = []webauthnkit.Algorithm{webauthnkit.AlgES256, webauthnkit.AlgES384}
		})
		_, device := e.signUp(t, "carol", webauthntest.WithAlgorithm(webauthntest.ES384))
		cfg := webauthnkit.EffectiveConfig(e.rp)
		cfg.Algorithms = nil // back to the default list, without ES384
		rp2, err := webauthnkit.New(cfg)
		require.NoError(t, err)
		begin, err := rp2.BeginLogin(ctx, webauthnkit.LoginRequest{Username: "carol"})
		require.NoError(t, err)
		body, err := device.Login(begin.Options)
		require.NoError(t, err)
		_, err = rp2.FinishLogin(ctx, begin.CeremonyID, body)
		require.ErrorIs(t, err, webauthnkit.ErrKeyNotAllowed)
		assert.Contains(t, e.logs.String(), "alg=ES384")
	})

	t.Run("New validates the list", func(t *testing.T) {
		mldsaBuilt := webauthncose.COSEAlgorithmIdentifier(-48).String() == "ML-DSA-44"
		for _, tc := range []struct {
			name string
			algs []webauthnkit.Algorithm
			want string
		}{
			{"empty", []webauthnkit.Algorithm{}, "empty"},
			{"unknown", []webauthnkit.Algorithm{webauthnkit.AlgES256, -1000}, "unknown COSE algorithm -1000"},
			{"ES256K", []webauthnkit.Algorithm{-47}, "unknown COSE algorithm -47"},
			{"duplicate", []webauthnkit.Algorithm{webauthnkit.AlgES256, webauthnkit.AlgRS256, webauthnkit.AlgES256}, "ES256 is listed twice"},
			{"ML-DSA", []webauthnkit.Algorithm{webauthnkit.AlgES256, webauthnkit.AlgMLDSA65}, "ML-DSA-65 cannot be verified by this build"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if tc.name == "ML-DSA" && mldsaBuilt {
					t.Skip("this go-webauthn build verifies ML-DSA")
				}
				store := newEnv(t).store
				_, err := webauthnkit.New(webauthnkit.Config{RPID: testRPID, Origins: []string{testOrigin}, Credentials: store, Ceremonies: store, Algorithms: tc.algs})
				var ce *webauthnkit.ConfigError
				require.True(t, errors.As(err, &ce), "%v", err)
				assert.Equal(t, "Algorithms", ce.Field)
				assert.Contains(t, ce.Reason, tc.want)
			})
		}
	})

	t.Run("names", func(t *testing.T) {
		assert.Equal(t, "ES256", webauthnkit.AlgES256.String())
		assert.Equal(t, "RS1", webauthnkit.AlgRS1.String())
		assert.Equal(t, "ML-DSA-87", webauthnkit.AlgMLDSA87.String())
		assert.Equal(t, "Algorithm(-1000)", webauthnkit.Algorithm(-1000).String())
	})
}

// TestLargestAcceptedKeys: the bounds themselves are accepted, and an
// RSA-4096 credential signs in.
func TestLargestAcceptedKeys(t *testing.T) {
	e := newEnv(t)
	key, err := rsa.GenerateKey(rand.Reader, 4096)
	require.NoError(t, err)
	_, device := e.signUp(t, "big", webauthntest.WithAlgorithm(webauthntest.RS256), webauthntest.WithKey(key),
		webauthntest.WithAttestation(webauthntest.AttestationPackedSelf))
	_, err = e.login(t, device, "big")
	require.NoError(t, err)

	// A 2048-bit modulus with leading zero bytes is still 2048 bits.
	_, err = finishRegistrationTimed(t, e, webauthntest.WithCredentialKey(rsaCOSE(t, -257, append([]byte{0, 0}, modulus(t, 256)...), []byte{0, 1, 0, 1})))
	require.NoError(t, err)
}

// BenchmarkCheckCredentialKey is what the key limits add to every
// registration and login.
func BenchmarkCheckCredentialKey(b *testing.B) {
	p256, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(b, err)
	pt, err := p256.PublicKey.Bytes()
	require.NoError(b, err)
	for _, k := range []struct {
		name string
		key  []byte
	}{
		{"ES256", coseKey(b, map[int]any{1: 2, 3: -7, -1: 1, -2: pt[1:33], -3: pt[33:]})},
		{"RS256-4096", rsaCOSE(b, -257, modulus(b, 512), e65537)},
		{"RS256-46000B-refused", rsaCOSE(b, -257, modulus(b, 46000), e2p31m1)},
	} {
		b.Run(k.name, func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				_, _ = webauthnkit.CheckCredentialKey(k.key, webauthnkit.DefaultAlgorithms())
			}
		})
	}
}

// FuzzCheckCredentialKey: the key check never panics, and a key it accepts
// is one go-webauthn parses the same way (same algorithm), so the two never
// read different keys from the same bytes.
func FuzzCheckCredentialKey(f *testing.F) {
	p256, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(f, err)
	pt, err := p256.PublicKey.Bytes()
	require.NoError(f, err)
	f.Add(coseKey(f, map[int]any{1: 2, 3: -7, -1: 1, -2: pt[1:33], -3: pt[33:]}))
	f.Add(coseKey(f, map[int]any{1: 1, 3: -8, -1: 6, -2: randomBytes(f, 32)}))
	f.Add(rsaCOSE(f, -257, modulus(f, 256), e65537))
	all := []webauthnkit.Algorithm{webauthnkit.AlgES256, webauthnkit.AlgEdDSA, webauthnkit.AlgRS256, webauthnkit.AlgES384,
		webauthnkit.AlgES512, webauthnkit.AlgPS256, webauthnkit.AlgPS384, webauthnkit.AlgPS512, webauthnkit.AlgRS384, webauthnkit.AlgRS512, webauthnkit.AlgRS1}
	f.Fuzz(func(t *testing.T, key []byte) {
		alg, err := webauthnkit.CheckCredentialKey(key, all)
		if err != nil {
			require.ErrorIs(t, err, webauthnkit.ErrKeyNotAllowed)
			return
		}
		parsed, err := webauthncose.ParsePublicKey(key)
		require.NoError(t, err, "accepted by the key check, refused by go-webauthn")
		var got int64
		switch k := parsed.(type) {
		case webauthncose.EC2PublicKeyData:
			got = k.Algorithm
		case webauthncose.OKPPublicKeyData:
			got = k.Algorithm
		case webauthncose.RSAPublicKeyData:
			got = k.Algorithm
			require.LessOrEqual(t, new(big.Int).SetBytes(k.Modulus).BitLen(), webauthnkit.MaxRSAModulusBits)
		default:
			t.Fatalf("unexpected key type %T", parsed)
		}
		require.Equal(t, int64(alg), got)
	})
}

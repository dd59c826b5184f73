package webauthnkit_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"math/big"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/internal/loginbench"
	"github.com/webauthnkit/webauthnkit/internal/testenv"
	"github.com/webauthnkit/webauthnkit/memstore"
	"github.com/webauthnkit/webauthnkit/webauthntest"
)

// Key limits (issue 11); see BENCHMARKS.md, "Key limits (issue 11)".
//
// BenchmarkKeySize compares the largest key accepted (RSA-4096; RSA-3072 for
// reference) with ES256, from the signature verification alone (Verify) to
// FinishRegistration with packed self attestation (one signature verified
// with the new key) and FinishLogin. cpu-ns/op is the process CPU time
// (getrusage) over the timed loop. Use a fixed -benchtime (e.g. 300x): every
// registration body is signed beforehand, and an RSA-4096 signature takes
// milliseconds.
func BenchmarkKeySize(b *testing.B) {
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(b, err)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 4096)
	require.NoError(b, err)
	rsa3072, err := rsa.GenerateKey(rand.Reader, 3072)
	require.NoError(b, err)
	for _, k := range []struct {
		name string
		alg  webauthntest.Alg
		key  crypto.Signer
	}{{"ES256", webauthntest.ES256, ecKey}, {"RS256-4096", webauthntest.RS256, rsaKey}, {"RS256-3072", webauthntest.RS256, rsa3072}} {
		device := []webauthntest.Option{webauthntest.WithOrigin(testOrigin), webauthntest.WithAlgorithm(k.alg), webauthntest.WithKey(k.key)}
		// The floor: sha256 and one signature verification.
		b.Run("Verify/"+k.name, func(b *testing.B) {
			msg := fixedChallenge
			digest := sha256.Sum256(msg)
			sig, err := k.key.Sign(rand.Reader, digest[:], crypto.SHA256)
			require.NoError(b, err)
			b.ReportAllocs()
			b.ResetTimer()
			cpu := testenv.ProcessCPU()
			for range b.N {
				d := sha256.Sum256(msg)
				switch pub := k.key.Public().(type) {
				case *ecdsa.PublicKey:
					if !ecdsa.VerifyASN1(pub, d[:], sig) {
						b.Fatal("bad signature")
					}
				case *rsa.PublicKey:
					if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, d[:], sig); err != nil {
						b.Fatal(err)
					}
				}
			}
			reportCPU(b, testenv.ProcessCPU()-cpu)
		})
		b.Run("FinishRegistration/"+k.name, func(b *testing.B) {
			rp, _ := benchRP(b)
			d := webauthntest.New(append(device, webauthntest.WithAttestation(webauthntest.AttestationPackedSelf))...)
			ids, bodies := make([]string, b.N), make([][]byte, b.N)
			for i := range b.N {
				begin, err := rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{Username: fmt.Sprintf("user-%d", i)})
				require.NoError(b, err)
				ids[i] = begin.CeremonyID
				bodies[i], err = d.Register(begin.Options)
				require.NoError(b, err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			cpu := testenv.ProcessCPU()
			for i := range b.N {
				if _, err := rp.FinishRegistration(ctx, ids[i], bodies[i]); err != nil {
					b.Fatal(err)
				}
			}
			reportCPU(b, testenv.ProcessCPU()-cpu)
		})
		b.Run("FinishLogin/"+k.name, func(b *testing.B) {
			store := newMemStore(b)
			f := loginbench.New(b, store, store, webauthntest.WithAlgorithm(k.alg), webauthntest.WithKey(k.key))
			ids, body, rp := f.Begin(b, b.N), f.Body, f.RP
			b.ReportAllocs()
			b.ResetTimer()
			cpu := testenv.ProcessCPU()
			for i := range b.N {
				if _, err := rp.FinishLogin(ctx, ids[i], body); err != nil {
					b.Fatal(err)
				}
			}
			reportCPU(b, testenv.ProcessCPU()-cpu)
		})
	}
}

// BenchmarkHostileKey measures what one hostile request costs. It compiles
// against the code before the key limits too (where each op takes seconds:
// run it there with -benchtime=1x), and errors are not failures: before the
// limits the "none" registration succeeds.
func BenchmarkHostileKey(b *testing.B) {
	n46k, n23k := modulus(b, 46000), modulus(b, 23000)
	registration := func(b *testing.B, calls ...webauthntest.CallOption) {
		rp, _ := benchRP(b)
		var cpu time.Duration
		var err error
		for i := range b.N {
			b.StopTimer()
			begin, berr := rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{Username: fmt.Sprintf("hostile-%d", i)})
			require.NoError(b, berr)
			body, berr := webauthntest.New(webauthntest.WithOrigin(testOrigin)).Register(begin.Options, calls...)
			require.NoError(b, berr)
			body = withoutOptionalCopies(b, body)
			b.StartTimer()
			start := testenv.ProcessCPU()
			_, err = rp.FinishRegistration(ctx, begin.CeremonyID, body)
			cpu += testenv.ProcessCPU() - start
		}
		reportCPU(b, cpu)
		b.Logf("outcome: %v", outcome(err))
	}
	b.Run("none-46000B-e2^31-1", func(b *testing.B) {
		registration(b, webauthntest.WithCredentialKey(rsaCOSE(b, -257, n46k, e2p31m1)))
	})
	b.Run("packed-self-23000B-e2^31-1", func(b *testing.B) {
		registration(b, webauthntest.WithCredentialKey(rsaCOSE(b, -257, n23k, e2p31m1)),
			webauthntest.WithAttestationStatement("packed", map[string]any{"alg": -257, "sig": randomBytes(b, len(n23k))}))
	})
	b.Run("packed-x5c-23000B-e2^31-1", func(b *testing.B) {
		der := certificateWithRSAKey(b, new(big.Int).SetBytes(n23k), 1<<31-1)
		registration(b, webauthntest.WithAttestationStatement("packed", map[string]any{"alg": -257, "sig": randomBytes(b, len(n23k)), "x5c": []any{der}}))
	})
	b.Run("stored-login-46000B-e2^31-1", func(b *testing.B) {
		rp, store := benchRP(b)
		device := webauthntest.New(webauthntest.WithOrigin(testOrigin), webauthntest.SyncedPasskey())
		begin, err := rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{Username: "mallory"})
		require.NoError(b, err)
		body, err := device.Register(begin.Options)
		require.NoError(b, err)
		reg, err := rp.FinishRegistration(ctx, begin.CeremonyID, body)
		require.NoError(b, err)
		hostile := reg.Credential
		hostile.PublicKey = rsaCOSE(b, -257, n46k, e2p31m1)
		require.NoError(b, store.DeleteUser(ctx, reg.User.Handle))
		require.NoError(b, store.CreateUser(ctx, reg.User, &hostile))
		var cpu time.Duration
		for range b.N {
			b.StopTimer()
			lb, err := rp.BeginLogin(ctx, webauthnkit.LoginRequest{})
			require.NoError(b, err)
			body, err := device.Login(lb.Options)
			require.NoError(b, err)
			body = setSignature(b, body, randomBytes(b, len(n46k)))
			b.StartTimer()
			start := testenv.ProcessCPU()
			_, err = rp.FinishLogin(ctx, lb.CeremonyID, body)
			cpu += testenv.ProcessCPU() - start
			if b.N == 1 {
				b.Logf("outcome: %v", outcome(err))
			}
		}
		reportCPU(b, cpu)
	})
}

func benchRP(b *testing.B) (*webauthnkit.RelyingParty, *memstore.Store) {
	store := newMemStore(b)
	b.Cleanup(func() { store.Close() })
	rp, err := webauthnkit.New(webauthnkit.Config{
		RPID: testRPID, Origins: []string{testOrigin},
		Credentials: store, Ceremonies: store,
		NewChallenge: func() ([]byte, error) { return fixedChallenge, nil },
	})
	require.NoError(b, err)
	return rp, store
}

func reportCPU(b *testing.B, cpu time.Duration) {
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
}

func outcome(err error) string {
	if err == nil {
		return "accepted"
	}
	return "refused: " + err.Error()
}

// withoutOptionalCopies drops response.authenticatorData and
// response.publicKey, copies of what attestationObject holds, as an
// attacker does to fit a bigger key into MaxResponseSize.
func withoutOptionalCopies(t testing.TB, body []byte) []byte {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(body, &m))
	delete(m["response"].(map[string]any), "authenticatorData")
	delete(m["response"].(map[string]any), "publicKey")
	out, err := json.Marshal(m)
	require.NoError(t, err)
	return out
}

package webauthnkit_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/internal/testenv"
	"github.com/webauthnkit/webauthnkit/mds"
	"github.com/webauthnkit/webauthnkit/webauthntest"
)

// Attestation policy cost (issue 16); see BENCHMARKS.md, "Attestation and
// metadata (issue 16)".
//
// BenchmarkAttestationRegistration compares FinishRegistration of a
// "none" attestation with the policy off (what a passkey site does) with
// packed attestation and an x5c chain (a security key) under
// AttestationEnforce, which adds go-webauthn's packed verification (one
// more ECDSA signature, certificate parsing) and the policy (chain
// verification to the MDS root, status reports). cpu-ns/op is process CPU
// time. Use a fixed -benchtime (e.g. 300x): bodies are made beforehand.
func BenchmarkAttestationRegistration(b *testing.B) {
	w := newAttWorld(b)
	cases := []struct {
		name   string
		policy webauthnkit.AttestationPolicy
		device []webauthntest.Option
	}{
		{"none/off", webauthnkit.AttestationPolicy{}, []webauthntest.Option{webauthntest.SyncedPasskey()}},
		{"packed-x5c/off", webauthnkit.AttestationPolicy{}, device(w.good)},
		{"packed-x5c/monitor", w.policy(webauthnkit.AttestationMonitor), device(w.good)},
		{"packed-x5c/enforce", w.policy(webauthnkit.AttestationEnforce), device(w.good)}, // one model: the chain cache hits
		{"none/enforce", w.policy(webauthnkit.AttestationEnforce), []webauthntest.Option{webauthntest.SyncedPasskey()}},
	}
	// distinct: one model per registration, each in the metadata, so that
	// no chain is verified twice (the verified-chain cache never hits).
	const distinctModels = 300
	var distinct []*webauthntest.AttestationModel
	for range distinctModels {
		m, err := w.ca.NewModel(uuid.New())
		require.NoError(b, err)
		w.setEntry(m, "Distinct Key")
		distinct = append(distinct, m)
	}
	w.publish(b)
	cases = append(cases, struct {
		name   string
		policy webauthnkit.AttestationPolicy
		device []webauthntest.Option
	}{"packed-x5c/enforce/distinct-models", w.policy(webauthnkit.AttestationEnforce), nil})
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			if tc.device == nil && b.N > distinctModels {
				b.Skipf("at most %d registrations (-benchtime=%dx)", distinctModels, distinctModels)
			}
			store := newMemStore(b)
			rp, err := webauthnkit.New(webauthnkit.Config{
				RPID: testRPID, Origins: []string{testOrigin},
				Credentials: store, Ceremonies: store,
				NewChallenge: func() ([]byte, error) { return fixedChallenge, nil },
				Attestation:  tc.policy,
			})
			require.NoError(b, err)
			d := webauthntest.New(append([]webauthntest.Option{webauthntest.WithOrigin(testOrigin)}, tc.device...)...)
			ids, bodies := make([]string, b.N), make([][]byte, b.N)
			for i := range b.N {
				begin, err := rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{Username: fmt.Sprintf("user-%d", i)})
				require.NoError(b, err)
				ids[i] = begin.CeremonyID
				if tc.device == nil {
					d = webauthntest.New(append(device(distinct[i]), webauthntest.WithOrigin(testOrigin))...)
				}
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
	}
}

// BenchmarkMDSLoad measures verifying and loading a BLOB of n entries
// (each ~2 KB of JSON, like the FIDO Alliance's; its BLOB is a few MB).
func BenchmarkMDSLoad(b *testing.B) {
	w := newAttWorld(b)
	for _, n := range []int{10, 1000} {
		entries := make([]map[string]any, n)
		for i := range entries {
			m, err := w.ca.NewModel(uuid.New())
			require.NoError(b, err)
			entries[i] = m.MetadataEntry(fmt.Sprintf("Key %d", i))
		}
		blob, err := w.root.BLOB(1, time.Now().AddDate(0, 1, 0), entries...)
		require.NoError(b, err)
		b.Run(fmt.Sprintf("Verify/%d-entries-%dKB", n, len(blob)>>10), func(b *testing.B) {
			b.ReportAllocs()
			cpu := testenv.ProcessCPU()
			for range b.N {
				if _, err := mds.Verify(blob, w.root.Cert, time.Now()); err != nil {
					b.Fatal(err)
				}
			}
			reportCPU(b, testenv.ProcessCPU()-cpu)
		})
		b.Run(fmt.Sprintf("NewFromReader/%d-entries-%dKB", n, len(blob)>>10), func(b *testing.B) {
			b.ReportAllocs()
			cpu := testenv.ProcessCPU()
			for range b.N {
				if _, err := mds.NewFromReader(bytes.NewReader(blob), mds.Options{Root: w.root.Cert}); err != nil {
					b.Fatal(err)
				}
			}
			reportCPU(b, testenv.ProcessCPU()-cpu)
		})
	}
}

// BenchmarkMDSRefresh measures Provider.Refresh: downloading a newer BLOB
// of 1,000 entries from a loopback HTTP server, verifying and installing
// it. Use a fixed -benchtime (e.g. 20x): a BLOB is minted per iteration
// beforehand.
func BenchmarkMDSRefresh(b *testing.B) {
	w := newAttWorld(b)
	entries := make([]map[string]any, 1000)
	for i := range entries {
		m, err := w.ca.NewModel(uuid.New())
		require.NoError(b, err)
		entries[i] = m.MetadataEntry(fmt.Sprintf("Key %d", i))
	}
	blobs := make([][]byte, b.N+1)
	for i := range blobs {
		var err error
		blobs[i], err = w.root.BLOB(i+1, time.Now().AddDate(0, 1, 0), entries...)
		require.NoError(b, err)
	}
	var next atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, _ *http.Request) {
		_, _ = rw.Write(blobs[next.Load()])
	}))
	b.Cleanup(srv.Close)
	p, err := mds.New(ctx, mds.Options{Root: w.root.Cert, URL: srv.URL})
	require.NoError(b, err)
	b.Cleanup(func() { _ = p.Close() })
	b.ReportAllocs()
	b.ResetTimer()
	cpu := testenv.ProcessCPU()
	for i := range b.N {
		next.Store(int32(i + 1))
		if err := p.Refresh(ctx); err != nil {
			b.Fatal(err)
		}
	}
	reportCPU(b, testenv.ProcessCPU()-cpu)
	b.ReportMetric(float64(len(blobs[0]))/1024, "blob-KB")
}

// BenchmarkEvaluateAttestation measures re-evaluating a stored packed x5c
// attestation object (what an audit does per credential), with the chain
// already verified once (warm: a batch of keys shares one certificate) and
// with a distinct model per evaluation, so that every chain is verified
// (cold).
func BenchmarkEvaluateAttestation(b *testing.B) {
	w := newAttWorld(b)
	const models = 300
	var objs [][]byte
	ms := []*webauthntest.AttestationModel{w.good}
	for range models - 1 {
		m, err := w.ca.NewModel(uuid.New())
		require.NoError(b, err)
		w.setEntry(m, "Distinct Key")
		ms = append(ms, m)
	}
	w.publish(b)
	rp, _ := benchRP(b)
	for _, m := range ms {
		begin, err := rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{Username: "u-" + m.AAGUIDString()})
		require.NoError(b, err)
		body, err := webauthntest.New(append(device(m), webauthntest.WithOrigin(testOrigin))...).Register(begin.Options)
		require.NoError(b, err)
		var resp struct {
			Response struct {
				AttestationObject string `json:"attestationObject"`
			} `json:"response"`
		}
		require.NoError(b, json.Unmarshal(body, &resp))
		objs = append(objs, b64(b, resp.Response.AttestationObject))
	}
	for _, warm := range []bool{true, false} {
		name := map[bool]string{true: "warm", false: "cold"}[warm]
		b.Run(name, func(b *testing.B) {
			if !warm && b.N > models {
				b.Skipf("at most %d evaluations (-benchtime=%dx)", models, models)
			}
			store := newMemStore(b)
			rp, err := webauthnkit.New(webauthnkit.Config{RPID: testRPID, Origins: []string{testOrigin},
				Credentials: store, Ceremonies: store, Attestation: w.policy(webauthnkit.AttestationEnforce)})
			require.NoError(b, err)
			if warm {
				_, err := rp.EvaluateAttestation(ctx, webauthnkit.AttestationInput{AttestationObject: objs[0]})
				require.NoError(b, err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			cpu := testenv.ProcessCPU()
			for i := range b.N {
				obj := objs[0]
				if !warm {
					obj = objs[i]
				}
				res, err := rp.EvaluateAttestation(ctx, webauthnkit.AttestationInput{AttestationObject: obj})
				if err != nil || res.Trust != webauthnkit.AttestationTrusted {
					b.Fatal(res, err)
				}
			}
			reportCPU(b, testenv.ProcessCPU()-cpu)
		})
	}
}

package webauthnkit_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/webauthntest"
)

// FuzzEvaluateAttestation feeds mutated attestation objects (what an audit
// reads back from a store), seeded with every recorded format and with a
// packed x5c object whose model is in the metadata, to EvaluateAttestation:
// a result or ErrInvalidRequest, never a panic, and never "trusted" for an
// object whose chain is not the seed's.
func FuzzEvaluateAttestation(f *testing.F) {
	w := newAttWorld(f)
	e := newEnv(f, func(c *webauthnkit.Config) { c.Attestation = w.policy(webauthnkit.AttestationEnforce) })
	files, _ := filepath.Glob("testdata/*.json")
	addResponse := func(body []byte) {
		var r struct {
			Response struct {
				AttestationObject string `json:"attestationObject"`
			} `json:"response"`
		}
		if json.Unmarshal(body, &r) == nil && r.Response.AttestationObject != "" {
			f.Add(b64(f, r.Response.AttestationObject))
		}
	}
	for _, file := range files {
		raw, err := os.ReadFile(file)
		require.NoError(f, err)
		var v recordedVector
		if json.Unmarshal(raw, &v) == nil && v.Kind == "registration" {
			addResponse(v.Response)
		}
	}
	begin, err := e.rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{Username: "seed"})
	require.NoError(f, err)
	body, err := webauthntest.New(append(device(w.good), webauthntest.WithOrigin(testOrigin))...).Register(begin.Options)
	require.NoError(f, err)
	addResponse(body)
	f.Fuzz(func(t *testing.T, obj []byte) {
		res, err := e.rp.EvaluateAttestation(ctx, webauthnkit.AttestationInput{AttestationObject: obj})
		if err != nil {
			require.ErrorIs(t, err, webauthnkit.ErrInvalidRequest)
			return
		}
		if res.Trust == webauthnkit.AttestationTrusted {
			require.Equal(t, w.good.AAGUID[:], res.AAGUID[:], "only the good model can be trusted")
			require.True(t, res.Attested)
		}
	})
}

package webauthnkit_test

import (
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/go-webauthn/webauthn/metadata"
	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/webauthntest"
)

// tryRegister runs a sign-up with a fresh authenticator and returns
// FinishRegistration's outcome, and the conveyance the options asked for.
func tryRegister(t *testing.T, rp *webauthnkit.RelyingParty, name string, opts ...webauthntest.Option) (*webauthnkit.Registration, string, error) {
	t.Helper()
	auth := webauthntest.New(append([]webauthntest.Option{webauthntest.WithOrigin(testOrigin)}, opts...)...)
	begin, err := rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{Username: name})
	require.NoError(t, err)
	var o struct {
		Attestation string `json:"attestation"`
	}
	require.NoError(t, json.Unmarshal(begin.Options, &o))
	body, err := auth.Register(begin.Options)
	require.NoError(t, err)
	reg, err := rp.FinishRegistration(ctx, begin.CeremonyID, body)
	return reg, o.Attestation, err
}

// attestationEvents returns the attestation.* events recorded.
func (l *eventLog) attestation() []webauthnkit.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []webauthnkit.Event
	for _, e := range l.events {
		if e.Attestation != nil {
			out = append(out, e)
		}
	}
	return out
}

func TestAttestationOff(t *testing.T) {
	w := newAttWorld(t)
	e := newEnv(t)
	reg, conveyance, err := tryRegister(t, e.rp, "alice", device(w.revoked)...)
	require.NoError(t, err, "off evaluates nothing, not even a revoked model")
	assert.Equal(t, "none", conveyance, "off requests no attestation")
	assert.Nil(t, reg.Attestation)
	assert.Empty(t, e.events.attestation())
	assert.Equal(t, webauthnkit.AttestationOff, e.rp.AttestationMode())
}

func TestAttestationMonitor(t *testing.T) {
	w := newAttWorld(t)
	e := newEnv(t, func(c *webauthnkit.Config) { c.Attestation = w.policy(webauthnkit.AttestationMonitor) })
	cases := []struct {
		name     string
		device   []webauthntest.Option
		trust    webauthnkit.AttestationTrust
		event    webauthnkit.EventType
		attested bool
		reason   string
	}{
		{"good", device(w.good), webauthnkit.AttestationTrusted, webauthnkit.EventAttestationTrusted, true, "verified"},
		{"revoked", device(w.revoked), webauthnkit.AttestationRevoked, webauthnkit.EventAttestationRevoked, true, "REVOKED"},
		{"compromised", device(w.compromised), webauthnkit.AttestationRevoked, webauthnkit.EventAttestationRevoked, true, "ATTESTATION_KEY_COMPROMISE"},
		{"revoked later", device(w.revokedLater), webauthnkit.AttestationTrusted, webauthnkit.EventAttestationTrusted, true, "verified"},
		{"unknown model", device(w.unknown), webauthnkit.AttestationUntrusted, webauthnkit.EventAttestationUntrusted, true, "not in the metadata"},
		{"none attestation", []webauthntest.Option{webauthntest.SyncedPasskey()}, webauthnkit.AttestationUntrusted, webauthnkit.EventAttestationUntrusted, false, "no attestation certificate"},
		{"self attestation", []webauthntest.Option{webauthntest.SecurityKey(), webauthntest.WithAttestation(webauthntest.AttestationPackedSelf)}, webauthnkit.AttestationUntrusted, webauthnkit.EventAttestationUntrusted, false, "no attestation certificate"},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := len(e.events.attestation())
			reg, conveyance, err := tryRegister(t, e.rp, "user"+string(rune('a'+i)), tc.device...)
			require.NoError(t, err, "monitor never refuses")
			assert.Equal(t, "direct", conveyance)
			require.NotNil(t, reg.Attestation)
			assert.Equal(t, tc.trust, reg.Attestation.Trust, reg.Attestation.Reason)
			assert.Equal(t, tc.attested, reg.Attestation.Attested)
			assert.Contains(t, reg.Attestation.Reason, tc.reason)
			assert.False(t, reg.Attestation.Refused)
			assert.Equal(t, uuid.UUID(reg.Credential.AAGUID), reg.Attestation.AAGUID)
			evs := e.events.attestation()
			require.Len(t, evs, before+1, "one attestation event per registration")
			ev := evs[len(evs)-1]
			assert.Equal(t, tc.event, ev.Type)
			assert.Equal(t, reg.Credential.ID, ev.CredentialID)
			assert.Same(t, reg.Attestation, ev.Attestation)
			if tc.trust == webauthnkit.AttestationRevoked {
				require.NotEmpty(t, reg.Attestation.StatusReports)
				assert.Contains(t, []metadata.AuthenticatorStatus{metadata.Revoked, metadata.AttestationKeyCompromise}, reg.Attestation.StatusReports[0].Status)
			}
		})
	}
	assert.Equal(t, webauthnkit.EventRegistrationSucceeded, e.events.last().Type)
}

func TestAttestationEnforce(t *testing.T) {
	w := newAttWorld(t)
	denied := w.good.AAGUIDString()
	other, err := w.ca.NewModel(uuid.New())
	require.NoError(t, err)
	w.setEntry(other, "Other Good Key")
	w.publish(t)

	type want struct {
		ok    bool
		event webauthnkit.EventType
	}
	cases := []struct {
		name   string
		policy func(*webauthnkit.AttestationPolicy)
		device []webauthntest.Option
		want   want
	}{
		{"good", nil, device(w.good), want{true, webauthnkit.EventAttestationTrusted}},
		{"revoked", nil, device(w.revoked), want{false, webauthnkit.EventAttestationRevoked}},
		{"compromised", nil, device(w.compromised), want{false, webauthnkit.EventAttestationRevoked}},
		{"unknown model", nil, device(w.unknown), want{false, webauthnkit.EventAttestationUntrusted}},
		{"none attestation accepted", nil, []webauthntest.Option{webauthntest.SyncedPasskey()}, want{true, webauthnkit.EventAttestationUntrusted}},
		{"none attestation refused when required", func(p *webauthnkit.AttestationPolicy) { p.RequireAttestation = true },
			[]webauthntest.Option{webauthntest.SyncedPasskey()}, want{false, webauthnkit.EventAttestationUntrusted}},
		{"self attestation refused when required", func(p *webauthnkit.AttestationPolicy) { p.RequireAttestation = true },
			[]webauthntest.Option{webauthntest.SecurityKey(), webauthntest.WithAttestation(webauthntest.AttestationPackedSelf)}, want{false, webauthnkit.EventAttestationUntrusted}},
		{"good when required", func(p *webauthnkit.AttestationPolicy) { p.RequireAttestation = true }, device(w.good), want{true, webauthnkit.EventAttestationTrusted}},
		{"denied AAGUID", func(p *webauthnkit.AttestationPolicy) { p.DenyAAGUIDs = []string{denied} }, device(w.good), want{false, webauthnkit.EventAttestationDenied}},
		{"allowed AAGUID", func(p *webauthnkit.AttestationPolicy) { p.AllowAAGUIDs = []string{denied} }, device(w.good), want{true, webauthnkit.EventAttestationTrusted}},
		{"AAGUID not in the allow list", func(p *webauthnkit.AttestationPolicy) { p.AllowAAGUIDs = []string{denied} }, device(other), want{false, webauthnkit.EventAttestationDenied}},
		{"revoked status not undesired by policy", func(p *webauthnkit.AttestationPolicy) {
			p.UndesiredStatuses = []metadata.AuthenticatorStatus{metadata.UserVerificationBypass}
		}, device(w.revoked), want{true, webauthnkit.EventAttestationTrusted}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, func(c *webauthnkit.Config) {
				c.Attestation = w.policy(webauthnkit.AttestationEnforce)
				if tc.policy != nil {
					tc.policy(&c.Attestation)
				}
			})
			reg, conveyance, err := tryRegister(t, e.rp, "alice", tc.device...)
			assert.Equal(t, "direct", conveyance)
			evs := e.events.attestation()
			require.Len(t, evs, 1)
			assert.Equal(t, tc.want.event, evs[0].Type, evs[0].Attestation.Reason)
			if tc.want.ok {
				require.NoError(t, err)
				assert.False(t, reg.Attestation.Refused)
				return
			}
			require.ErrorIs(t, err, webauthnkit.ErrAttestationRefused)
			assert.Equal(t, webauthnkit.CodeAttestationRefused, webauthnkit.ErrorCode(err))
			var refusal *webauthnkit.AttestationRefusal
			require.True(t, errors.As(err, &refusal))
			assert.True(t, refusal.Result.Refused)
			assert.Same(t, evs[0].Attestation, refusal.Result)
			last := e.events.last()
			assert.Equal(t, webauthnkit.EventRegistrationFailed, last.Type)
			assert.Equal(t, webauthnkit.CodeAttestationRefused, last.Code)
			_, err = e.store.GetUserByName(ctx, "alice")
			require.ErrorIs(t, err, webauthnkit.ErrNotFound, "a refused sign-up creates no account")
		})
	}
}

// Config.Now reaches the metadata checks: the status reports' effective
// dates and the attestation certificate's validity (which go-webauthn's
// own packed check measures against the wall clock instead).
func TestAttestationClock(t *testing.T) {
	w := newAttWorld(t)
	e := newEnv(t, func(c *webauthnkit.Config) { c.Attestation = w.policy(webauthnkit.AttestationEnforce) })
	_, _, err := tryRegister(t, e.rp, "before", device(w.revokedLater)...)
	require.NoError(t, err, "REVOKED is not in effect yet")
	e.clock.t = w.revokeDate.Add(time.Hour)
	_, _, err = tryRegister(t, e.rp, "after", device(w.revokedLater)...)
	require.ErrorIs(t, err, webauthnkit.ErrAttestationRefused, "REVOKED is in effect by Config.Now")

	// An attestation certificate valid by the wall clock but expired by
	// Config.Now: the chain does not verify at Config.Now.
	short, err := w.ca.NewModelValid(uuid.New(), webauthntest.DefaultCertificateNotBefore, time.Now().AddDate(1, 0, 0))
	require.NoError(t, err)
	w.setEntry(short, "Short-lived Key")
	w.publish(t)
	e.clock.t = time.Now()
	_, _, err = tryRegister(t, e.rp, "short-now", device(short)...)
	require.NoError(t, err)
	e.clock.t = time.Now().AddDate(2, 0, 0)
	_, _, err = tryRegister(t, e.rp, "short-later", device(short)...)
	require.ErrorIs(t, err, webauthnkit.ErrAttestationRefused)
	ev := e.events.attestation()
	assert.Contains(t, ev[len(ev)-1].Attestation.Reason, "certificate")
}

// EvaluateAttestation re-runs the policy on what a store kept, without a
// ceremony: a model revoked after registration is found.
func TestEvaluateAttestationAfterMetadataChange(t *testing.T) {
	w := newAttWorld(t)
	e := newEnv(t, func(c *webauthnkit.Config) { c.Attestation = w.policy(webauthnkit.AttestationMonitor) })
	auth := webauthntest.New(append(device(w.good), webauthntest.WithOrigin(testOrigin))...)
	begin, err := e.rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{Username: "alice"})
	require.NoError(t, err)
	body, err := auth.Register(begin.Options)
	require.NoError(t, err)
	reg, err := e.rp.FinishRegistration(ctx, begin.CeremonyID, body)
	require.NoError(t, err)
	require.Equal(t, webauthnkit.AttestationTrusted, reg.Attestation.Trust)
	var resp struct {
		Response struct {
			AttestationObject string `json:"attestationObject"`
		} `json:"response"`
	}
	require.NoError(t, json.Unmarshal(body, &resp))
	attObj := b64(t, resp.Response.AttestationObject)
	in := webauthnkit.AttestationInput{Format: reg.Credential.AttestationFormat, AAGUID: reg.Credential.AAGUID, AttestationObject: attObj}

	res, err := e.rp.EvaluateAttestation(ctx, in)
	require.NoError(t, err)
	assert.Equal(t, webauthnkit.AttestationTrusted, res.Trust)
	assert.Equal(t, "Good Key", res.Description)

	// The metadata now gives the model another root: the chain verified
	// (and remembered) before no longer leads to it.
	otherCA, err := webauthntest.NewAttestationCA("Other Vendor")
	require.NoError(t, err)
	impostor, err := otherCA.NewModel(w.good.AAGUID)
	require.NoError(t, err)
	w.entries[w.good] = impostor.MetadataEntry("Good Key")
	w.publish(t)
	res, err = e.rp.EvaluateAttestation(ctx, in)
	require.NoError(t, err)
	assert.Equal(t, webauthnkit.AttestationUntrusted, res.Trust)
	assert.Contains(t, res.Reason, "does not verify")

	w.setEntry(w.good, "Good Key", webauthntest.StatusReport{Status: "USER_VERIFICATION_BYPASS", EffectiveDate: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)})
	w.publish(t)
	res, err = e.rp.EvaluateAttestation(ctx, in)
	require.NoError(t, err)
	assert.Equal(t, webauthnkit.AttestationRevoked, res.Trust)
	assert.Equal(t, metadata.UserVerificationBypass, res.StatusReports[0].Status)
	assert.False(t, res.Refused, "monitor")

	// A report scoped to another certificate (batch) does not apply.
	otherBatch, err := w.ca.NewModel(w.good.AAGUID)
	require.NoError(t, err)
	w.setEntry(w.good, "Good Key", webauthntest.StatusReport{Status: "ATTESTATION_KEY_COMPROMISE", EffectiveDate: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), Certificate: otherBatch.Certificate})
	w.publish(t)
	res, err = e.rp.EvaluateAttestation(ctx, in)
	require.NoError(t, err)
	assert.Equal(t, webauthnkit.AttestationTrusted, res.Trust, res.Reason)
	w.setEntry(w.good, "Good Key", webauthntest.StatusReport{Status: "ATTESTATION_KEY_COMPROMISE", EffectiveDate: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), Certificate: w.good.Certificate})
	w.publish(t)
	res, err = e.rp.EvaluateAttestation(ctx, in)
	require.NoError(t, err)
	assert.Equal(t, webauthnkit.AttestationRevoked, res.Trust, res.Reason)

	// Without the attestation object, only the AAGUID's status applies.
	res, err = e.rp.EvaluateAttestation(ctx, webauthnkit.AttestationInput{Format: "packed", AAGUID: reg.Credential.AAGUID})
	require.NoError(t, err)
	assert.False(t, res.Attested)
	assert.Equal(t, webauthnkit.AttestationUntrusted, res.Trust, "the compromise is scoped to a certificate the input does not show")

	// Hostile or inconsistent input.
	for name, bad := range map[string]webauthnkit.AttestationInput{
		"garbage object":   {AttestationObject: []byte{0xa1, 0x01}},
		"short AAGUID":     {AAGUID: []byte{1, 2, 3}},
		"AAGUID mismatch":  {AAGUID: make([]byte, 16), AttestationObject: attObj},
		"format mismatch":  {Format: "tpm", AttestationObject: attObj},
		"oversized object": {AttestationObject: make([]byte, webauthnkit.MaxResponseSize+1)},
	} {
		_, err := e.rp.EvaluateAttestation(ctx, bad)
		require.ErrorIs(t, err, webauthnkit.ErrInvalidRequest, name)
	}
}

// The offered algorithms (pubKeyCredParams) are exactly those a
// registration may finish with.
func TestOfferedAlgorithmsAreAccepted(t *testing.T) {
	all := []webauthntest.Alg{webauthntest.ES256, webauthntest.EdDSA, webauthntest.ES384, webauthntest.ES512, webauthntest.PS256, webauthntest.RS256}
	for _, offered := range [][]webauthnkit.Algorithm{
		nil, // defaults
		{webauthnkit.AlgES256},
		{webauthnkit.AlgEdDSA, webauthnkit.AlgES384},
		{webauthnkit.AlgPS256, webauthnkit.AlgES512, webauthnkit.AlgRS256},
	} {
		e := newEnv(t, func(c *webauthnkit.Config) { c.Algorithms = offered })
		if offered == nil {
			offered = webauthnkit.DefaultAlgorithms()
		}
		begin, err := e.rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{Username: "probe"})
		require.NoError(t, err)
		var o struct {
			Params []struct {
				Alg int64 `json:"alg"`
			} `json:"pubKeyCredParams"`
		}
		require.NoError(t, json.Unmarshal(begin.Options, &o))
		var got []webauthnkit.Algorithm
		for _, p := range o.Params {
			got = append(got, webauthnkit.Algorithm(p.Alg))
		}
		require.Equal(t, offered, got, "pubKeyCredParams in the configured order")
		for i, alg := range all {
			in := false
			for _, a := range offered {
				in = in || int64(a) == int64(alg)
			}
			// The device ignores pubKeyCredParams (a client that does not
			// honour them): FinishRegistration must apply the same list.
			body := registerIgnoringParams(t, e.rp, "u"+alg.String()+string(rune('a'+i)), alg)
			if in {
				require.NoError(t, body, "%v offered, must be accepted", alg)
			} else {
				require.ErrorIs(t, body, webauthnkit.ErrInvalidResponse, "%v not offered, must be refused", alg)
				require.ErrorIs(t, body, webauthnkit.ErrKeyNotAllowed)
			}
		}
	}
}

// registerIgnoringParams signs up with a device of algorithm alg, whatever
// the options offer.
func registerIgnoringParams(t *testing.T, rp *webauthnkit.RelyingParty, name string, alg webauthntest.Alg) error {
	t.Helper()
	begin, err := rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{Username: name})
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(begin.Options, &m))
	m["pubKeyCredParams"] = []map[string]any{{"type": "public-key", "alg": int(alg)}}
	opts, err := json.Marshal(m)
	require.NoError(t, err)
	body, err := webauthntest.New(webauthntest.WithOrigin(testOrigin), webauthntest.WithAlgorithm(alg)).Register(opts)
	require.NoError(t, err)
	_, err = rp.FinishRegistration(ctx, begin.CeremonyID, body)
	return err
}

// A stored attestation whose certificate is another model's of the same
// vendor (same root) is not that model's attestation: go-webauthn refuses
// it at registration, and EvaluateAttestation on a stored object too.
func TestEvaluateAttestationCertificateOfAnotherModel(t *testing.T) {
	w := newAttWorld(t)
	e := newEnv(t, func(c *webauthnkit.Config) { c.Attestation = w.policy(webauthnkit.AttestationEnforce) })
	forged := append(device(w.good), webauthntest.WithAAGUID(w.revokedLater.AAGUID), webauthntest.WithOrigin(testOrigin))
	begin, err := e.rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{Username: "mallory"})
	require.NoError(t, err)
	body, err := webauthntest.New(forged...).Register(begin.Options)
	require.NoError(t, err)
	_, err = e.rp.FinishRegistration(ctx, begin.CeremonyID, body)
	require.ErrorIs(t, err, webauthnkit.ErrInvalidResponse, "go-webauthn: certificate AAGUID differs")

	var resp struct {
		Response struct {
			AttestationObject string `json:"attestationObject"`
		} `json:"response"`
	}
	require.NoError(t, json.Unmarshal(body, &resp))
	res, err := e.rp.EvaluateAttestation(ctx, webauthnkit.AttestationInput{AttestationObject: b64(t, resp.Response.AttestationObject)})
	require.NoError(t, err)
	assert.Equal(t, uuid.UUID(w.revokedLater.AAGUID), res.AAGUID)
	assert.Equal(t, webauthnkit.AttestationUntrusted, res.Trust, "the chain verifies to the vendor root, but names another model")
	assert.Contains(t, res.Reason, "another AAGUID")
	assert.True(t, res.Refused)
}

// Concurrent evaluations share the verified-chain cache (run with -race).
func TestEvaluateAttestationConcurrent(t *testing.T) {
	w := newAttWorld(t)
	e := newEnv(t, func(c *webauthnkit.Config) { c.Attestation = w.policy(webauthnkit.AttestationMonitor) })
	var objs [][]byte
	for _, m := range []*webauthntest.AttestationModel{w.good, w.revoked, w.revokedLater} {
		begin, err := e.rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{Username: "u" + m.AAGUIDString()[:8]})
		require.NoError(t, err)
		body, err := webauthntest.New(append(device(m), webauthntest.WithOrigin(testOrigin))...).Register(begin.Options)
		require.NoError(t, err)
		var resp struct {
			Response struct {
				AttestationObject string `json:"attestationObject"`
			} `json:"response"`
		}
		require.NoError(t, json.Unmarshal(body, &resp))
		objs = append(objs, b64(t, resp.Response.AttestationObject))
	}
	want := []webauthnkit.AttestationTrust{webauthnkit.AttestationTrusted, webauthnkit.AttestationRevoked, webauthnkit.AttestationTrusted}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 50 {
				k := (g + i) % len(objs)
				res, err := e.rp.EvaluateAttestation(ctx, webauthnkit.AttestationInput{AttestationObject: objs[k]})
				if err != nil || res.Trust != want[k] {
					t.Errorf("object %d: %v %v", k, res, err)
					return
				}
			}
		})
	}
	wg.Wait()
}

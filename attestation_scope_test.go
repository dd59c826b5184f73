package webauthnkit_test

import (
	"crypto/x509"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/webauthntest"
)

// A status report may name a certificate of the path other than those the
// authenticator sends: the model's root (a compromised attestation root or
// batch CA that the metadata lists). It applies to every attestation whose
// chain leads to it, and to no other.
func TestAttestationStatusReportOnRoot(t *testing.T) {
	w := newAttWorld(t)
	otherCA, err := webauthntest.NewAttestationCA("Other Vendor")
	require.NoError(t, err)
	certified := webauthntest.StatusReport{Status: "FIDO_CERTIFIED", EffectiveDate: webauthntest.DefaultCertificateNotBefore}
	compromise := func(c *x509.Certificate) webauthntest.StatusReport {
		return webauthntest.StatusReport{Status: "ATTESTATION_KEY_COMPROMISE", EffectiveDate: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), Certificate: c}
	}
	w.setEntry(w.good, "Good Key", certified, compromise(w.ca.Root))
	w.setEntry(w.revokedLater, "Other Key", certified, compromise(otherCA.Root))
	w.setEntry(w.unknown, "Intermediate Key", certified, compromise(w.ca.Intermediate))
	w.publish(t)
	e := newEnv(t, func(c *webauthnkit.Config) { c.Attestation = w.policy(webauthnkit.AttestationEnforce) })

	_, _, err = tryRegister(t, e.rp, "root", device(w.good)...)
	require.ErrorIs(t, err, webauthnkit.ErrAttestationRefused, "the chain leads to the compromised root")
	_, _, err = tryRegister(t, e.rp, "inter", device(w.unknown)...)
	require.ErrorIs(t, err, webauthnkit.ErrAttestationRefused, "the chain holds the compromised intermediate")
	reg, _, err := tryRegister(t, e.rp, "other", device(w.revokedLater)...)
	require.NoError(t, err, "a report on another vendor's root does not apply")
	assert.Equal(t, webauthnkit.AttestationTrusted, reg.Attestation.Trust, reg.Attestation.Reason)
	evs := e.events.attestation()
	require.Len(t, evs, 3)
	assert.Equal(t, webauthnkit.AttestationRevoked, evs[0].Attestation.Trust, evs[0].Attestation.Reason)
	assert.Equal(t, webauthnkit.AttestationRevoked, evs[1].Attestation.Trust, evs[1].Attestation.Reason)
}

package sealstore_test

import (
	"testing"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/internal/backendtest"
	"github.com/webauthnkit/webauthnkit/storetest"
)

// TestConformance runs the CredentialStore conformance suite, unchanged,
// over the sealed wrapper on every backend (one backend store per backend,
// shared by the subtests as the suite allows).
func TestConformance(t *testing.T) {
	for _, b := range backendtest.All() {
		t.Run(b.Name, func(t *testing.T) {
			s, _ := sealed(t, b, testKeyring(t, nil), nil)
			storetest.TestCredentialStore(t, func(t *testing.T) webauthnkit.CredentialStore { return s })
		})
	}
}

// TestCeremoniesConformance runs the ChallengeStore suite over Ceremonies
// on every backend.
func TestCeremoniesConformance(t *testing.T) {
	for _, b := range backendtest.All() {
		t.Run(b.Name, func(t *testing.T) {
			s, inner := sealed(t, b, testKeyring(t, nil), nil)
			c := s.Ceremonies(inner)
			storetest.TestChallengeStore(t, func(t *testing.T) webauthnkit.ChallengeStore { return c })
		})
	}
}

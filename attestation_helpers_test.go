package webauthnkit_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/mds"
	"github.com/webauthnkit/webauthnkit/mds/mdstest"
	"github.com/webauthnkit/webauthnkit/webauthntest"
)

// attWorld is a vendor CA with several authenticator models, a test MDS
// root and an mds.Provider holding a BLOB that describes them:
//   - good: FIDO_CERTIFIED
//   - revoked: REVOKED
//   - compromised: ATTESTATION_KEY_COMPROMISE
//   - revokedLater: REVOKED from revokeDate (after now)
//   - unknown: not in the BLOB
//
// Shared by the attestation policy tests and the audit tests.
type attWorld struct {
	root                                     *mdstest.Root
	ca                                       *webauthntest.AttestationCA
	good, revoked, compromised, revokedLater *webauthntest.AttestationModel
	unknown                                  *webauthntest.AttestationModel
	provider                                 *mds.Provider
	no                                       int
	revokeDate                               time.Time
	entries                                  map[*webauthntest.AttestationModel]map[string]any
	order                                    []*webauthntest.AttestationModel
}

func newAttWorld(t testing.TB) *attWorld {
	t.Helper()
	w := &attWorld{entries: map[*webauthntest.AttestationModel]map[string]any{}}
	var err error
	w.root, err = mdstest.NewRoot("Test MDS")
	require.NoError(t, err)
	w.ca, err = webauthntest.NewAttestationCA("Test Vendor")
	require.NoError(t, err)
	model := func() *webauthntest.AttestationModel {
		m, err := w.ca.NewModel(uuid.New())
		require.NoError(t, err)
		return m
	}
	w.good, w.revoked, w.compromised, w.revokedLater, w.unknown = model(), model(), model(), model(), model()
	certified := webauthntest.StatusReport{Status: "FIDO_CERTIFIED", EffectiveDate: webauthntest.DefaultCertificateNotBefore}
	w.revokeDate = time.Now().UTC().AddDate(0, 0, 10).Truncate(24 * time.Hour)
	w.setEntry(w.good, "Good Key", certified)
	w.setEntry(w.revoked, "Revoked Key", certified, webauthntest.StatusReport{Status: "REVOKED", EffectiveDate: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)})
	w.setEntry(w.compromised, "Compromised Key", certified, webauthntest.StatusReport{Status: "ATTESTATION_KEY_COMPROMISE", EffectiveDate: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)})
	w.setEntry(w.revokedLater, "Revoked Later Key", certified, webauthntest.StatusReport{Status: "REVOKED", EffectiveDate: w.revokeDate})
	w.provider, err = mds.NewFromReader(bytes.NewReader(w.blob(t)), mds.Options{Root: w.root.Cert})
	require.NoError(t, err)
	return w
}

// setEntry sets (or replaces) a model's entry for the next blob.
func (w *attWorld) setEntry(m *webauthntest.AttestationModel, description string, reports ...webauthntest.StatusReport) {
	if _, ok := w.entries[m]; !ok {
		w.order = append(w.order, m)
	}
	w.entries[m] = m.MetadataEntry(description, reports...)
}

// blob mints the next BLOB (serial number + 1) with the current entries.
func (w *attWorld) blob(t testing.TB) []byte {
	t.Helper()
	w.no++
	var entries []map[string]any
	for _, m := range w.order {
		entries = append(entries, w.entries[m])
	}
	b, err := w.root.BLOB(w.no, time.Now().AddDate(0, 1, 0), entries...)
	require.NoError(t, err)
	return b
}

// publish loads a new BLOB with the current entries into the provider, as
// a refresh would.
func (w *attWorld) publish(t testing.TB) {
	t.Helper()
	require.NoError(t, w.provider.Load(bytes.NewReader(w.blob(t))))
}

// policy returns an attestation policy over the world's provider.
func (w *attWorld) policy(mode webauthnkit.AttestationMode) webauthnkit.AttestationPolicy {
	return webauthnkit.AttestationPolicy{Mode: mode, Metadata: w.provider}
}

// device is a security key of model m.
func device(m *webauthntest.AttestationModel) []webauthntest.Option {
	return []webauthntest.Option{webauthntest.SecurityKey(), webauthntest.WithPackedAttestation(m)}
}

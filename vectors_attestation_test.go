package webauthnkit_test

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"testing"
	"time"

	"github.com/go-webauthn/webauthn/metadata"
	"github.com/go-webauthn/webauthn/protocol/webauthncbor"
	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/memstore"
)

// anchorProvider is metadata with one model: the vector's AAGUID (or, for
// the zero AAGUID, any attestation certificate key identifier), whose
// attestation root is the last certificate of the vector's own x5c.
type anchorProvider struct {
	aaguid uuid.UUID
	entry  *metadata.Entry
	keyIDs *[]string // the key identifiers asked for
}

func (p anchorProvider) MetadataEntry(_ context.Context, aaguid uuid.UUID, keyIDs []string) (*metadata.Entry, error) {
	*p.keyIDs = keyIDs
	if aaguid != p.aaguid || aaguid == uuid.Nil && len(keyIDs) == 0 {
		return nil, nil
	}
	return p.entry, nil
}

// testVectorAttestation replays a registration vector under
// AttestationMonitor: the policy reads the real attestation object of
// every format, walks its x5c chain (the TPM AIK's critical SAN included)
// to the anchor, and finds U2F models by key identifier.
func testVectorAttestation(t *testing.T, v *vectorFile) {
	var resp struct {
		Response struct {
			AttestationObject string `json:"attestationObject"`
		} `json:"response"`
	}
	require.NoError(t, json.Unmarshal(v.Response, &resp))
	var att attestationObject
	require.NoError(t, webauthncbor.Unmarshal(b64(t, resp.Response.AttestationObject), &att))
	x5c, _ := att.AttStmt["x5c"].([]any)
	var anchor *x509.Certificate
	// validAt is an instant at which every certificate of the chain is
	// valid (just after the latest NotBefore); expires is the earliest
	// NotAfter.
	var validAt, expires time.Time
	for i, c := range x5c {
		der, ok := c.([]byte)
		require.True(t, ok)
		cert, err := x509.ParseCertificate(der)
		require.NoError(t, err)
		if cert.NotBefore.After(validAt) {
			validAt = cert.NotBefore.Add(time.Minute)
		}
		if expires.IsZero() || cert.NotAfter.Before(expires) {
			expires = cert.NotAfter
		}
		if i == len(x5c)-1 {
			anchor = cert
		}
	}
	aaguid, err := uuid.FromBytes(att.AuthData[37:53])
	require.NoError(t, err)
	var asked []string
	p := anchorProvider{aaguid: aaguid, keyIDs: &asked, entry: &metadata.Entry{AaGUID: aaguid}}
	p.entry.MetadataStatement.Description = v.Device
	if anchor != nil {
		p.entry.MetadataStatement.AttestationRootCertificates = []*x509.Certificate{anchor}
	}
	monitor := func(c *webauthnkit.Config) {
		c.Attestation = webauthnkit.AttestationPolicy{Mode: webauthnkit.AttestationMonitor, Metadata: p}
	}
	if len(x5c) > 0 && time.Now().After(expires) {
		// By today's clock the chain has expired (go-webauthn still
		// accepts android-key and apple statements whose certificates
		// expired: it only checks who signed them); the policy says so.
		reg, _, err := newRig(t, v, monitor).register(t, vectorUser, v.Response)
		require.NoError(t, err, cause(err))
		assert.Equal(t, webauthnkit.AttestationUntrusted, reg.Attestation.Trust)
		assert.Contains(t, reg.Attestation.Reason, "expired")
	}
	// Config.Now at a time the chain was valid: it verifies.
	r := newRig(t, v, monitor, func(c *webauthnkit.Config) {
		if !validAt.IsZero() {
			c.Now = func() time.Time { return validAt }
			store := newMemStore(t, memstore.WithClock(c.Now))
			c.Credentials, c.Ceremonies = store, store
		}
	})
	reg, _, err := r.register(t, vectorUser, v.Response)
	require.NoError(t, err, cause(err))
	res := reg.Attestation
	require.NotNil(t, res)
	assert.Equal(t, v.AttestationFormat, res.Format)
	assert.Equal(t, aaguid, res.AAGUID)
	assert.Equal(t, len(x5c) > 0, res.Attested, "attested exactly when the statement has x5c")
	if len(x5c) == 0 {
		assert.Equal(t, webauthnkit.AttestationUntrusted, res.Trust)
		return
	}
	if v.AttestationFormat == "fido-u2f" && aaguid != uuid.Nil {
		// The WebAuthn spec's synthetic fido-u2f vector has a non-zero
		// AAGUID, which browsers never write and the U2F signature does
		// not cover: it vouches for no model (TestAttestationU2FAAGUIDNotVouched).
		assert.Equal(t, webauthnkit.AttestationUntrusted, res.Trust)
		assert.Contains(t, res.Reason, "does not cover")
		return
	}
	assert.Equal(t, webauthnkit.AttestationTrusted, res.Trust, res.Reason)
	assert.Equal(t, v.Device, res.Description)
	if aaguid == uuid.Nil {
		assert.NotEmpty(t, asked, "a zero AAGUID is looked up by key identifier")
	}
	t.Logf("%s: %d certificates, %s", v.AttestationFormat, len(x5c), res.Reason)
}

package mds_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit/mds"
	"github.com/webauthnkit/webauthnkit/mds/mdstest"
)

// The FIDO root is a public web PKI root (GlobalSign Root R46): any TLS
// certificate it issues chains to it. A BLOB signed with another
// customer's certificate must not verify; only one for the FIDO signer's
// name does. Here a test root stands for the public CA, with SignerName
// set as the default sets it for the FIDO root.
func TestBLOBSignerName(t *testing.T) {
	f := newFixture(t)
	ca, err := mdstest.NewRootSigners("Public CA", mds.FIDOSignerName)
	require.NoError(t, err)
	stranger, err := ca.AddSigner("www.attacker.example")
	require.NoError(t, err)
	next := day.AddDate(0, 1, 0)
	genuine, err := ca.BLOB(5, next, f.entry)
	require.NoError(t, err)
	forged, err := stranger.BLOB(6, next, f.entry)
	require.NoError(t, err)

	now := day
	opts := mds.Options{Root: ca.Cert, SignerName: mds.FIDOSignerName, Now: func() time.Time { return now }}
	_, err = mds.NewFromReader(bytes.NewReader(forged), opts)
	require.ErrorIs(t, err, mds.ErrSignature, "a certificate for another name under the same public root")
	p, err := mds.NewFromReader(bytes.NewReader(genuine), opts)
	require.NoError(t, err)
	require.ErrorIs(t, p.Load(bytes.NewReader(forged)), mds.ErrSignature)
	assert.Equal(t, 5, p.Status().Number)

	_, err = mds.VerifySigner(forged, ca.Cert, mds.FIDOSignerName, day)
	require.ErrorIs(t, err, mds.ErrSignature)
	_, err = mds.VerifySigner(genuine, ca.Cert, mds.FIDOSignerName, day)
	require.NoError(t, err)
	// A private root (no SignerName): any signer under it, as before.
	_, err = mds.Verify(forged, ca.Cert, day)
	require.NoError(t, err)
}

package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit/mds"
	"github.com/webauthnkit/webauthnkit/mds/mdstest"
	"github.com/webauthnkit/webauthnkit/webauthntest"
)

func TestDownloadAndVerify(t *testing.T) {
	root, err := mdstest.NewRoot("Test MDS")
	require.NoError(t, err)
	ca, err := webauthntest.NewAttestationCA("Vendor")
	require.NoError(t, err)
	model, err := ca.NewModel(uuid.New())
	require.NoError(t, err)
	entry := model.MetadataEntry("Test Key", webauthntest.StatusReport{Status: "REVOKED", EffectiveDate: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)})
	blob := func(no int) []byte {
		b, err := root.BLOB(no, time.Now().AddDate(0, 1, 0), entry)
		require.NoError(t, err)
		return b
	}
	serving := blob(5)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(serving) }))
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	rootFile := filepath.Join(dir, "root.pem")
	require.NoError(t, os.WriteFile(rootFile, root.PEM(), 0o600))
	out := filepath.Join(dir, "mds.jwt")

	var stdout bytes.Buffer
	require.NoError(t, run(context.Background(), []string{"-url", srv.URL, "-root", rootFile, "-out", out}, &stdout))
	assert.Contains(t, stdout.String(), "verified BLOB no 5")
	saved, err := os.ReadFile(out)
	require.NoError(t, err)
	assert.Equal(t, serving, saved)

	// Offline verification, with an entry's status.
	stdout.Reset()
	require.NoError(t, run(context.Background(), []string{"-verify", out, "-root", rootFile, "-aaguid", model.AAGUIDString()}, &stdout))
	assert.Contains(t, stdout.String(), "Test Key")
	assert.Contains(t, stdout.String(), "REVOKED since 2024-01-01")

	// The same serial again is not written over the file; an older one neither.
	err = run(context.Background(), []string{"-url", srv.URL, "-root", rootFile, "-out", out}, &stdout)
	require.ErrorIs(t, err, mds.ErrNotNewer)
	serving = blob(6)
	require.NoError(t, run(context.Background(), []string{"-url", srv.URL, "-root", rootFile, "-out", out}, &stdout))

	// The FIDO root (default) does not verify a test BLOB.
	err = run(context.Background(), []string{"-verify", out}, &stdout)
	require.ErrorIs(t, err, mds.ErrSignature)
}

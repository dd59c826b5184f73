package mds_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-webauthn/webauthn/metadata"
	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit/mds"
	"github.com/webauthnkit/webauthnkit/mds/mdstest"
	"github.com/webauthnkit/webauthnkit/webauthntest"
)

// day is the fake "today" of these tests.
var day = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

type fixture struct {
	root  *mdstest.Root
	model *webauthntest.AttestationModel
	entry map[string]any
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	root, err := mdstest.NewRoot("Test MDS")
	require.NoError(t, err)
	ca, err := webauthntest.NewAttestationCA("Test Vendor")
	require.NoError(t, err)
	model, err := ca.NewModel(uuid.New())
	require.NoError(t, err)
	return &fixture{root: root, model: model, entry: model.MetadataEntry("Test Key")}
}

func (f *fixture) blob(t testing.TB, no int, next time.Time) []byte {
	t.Helper()
	b, err := f.root.BLOB(no, next, f.entry)
	require.NoError(t, err)
	return b
}

func (f *fixture) opts(now *time.Time) mds.Options {
	return mds.Options{Root: f.root.Cert, Now: func() time.Time { return *now }}
}

func TestLoadGoodBLOB(t *testing.T) {
	f := newFixture(t)
	now := day
	p, err := mds.NewFromReader(bytes.NewReader(f.blob(t, 7, day.AddDate(0, 1, 0))), f.opts(&now))
	require.NoError(t, err)
	e, err := p.MetadataEntry(context.Background(), uuid.UUID(f.model.AAGUID), nil)
	require.NoError(t, err)
	require.NotNil(t, e)
	assert.Equal(t, "Test Key", e.MetadataStatement.Description)
	require.Len(t, e.MetadataStatement.AttestationRootCertificates, 1)
	assert.True(t, e.MetadataStatement.AttestationRootCertificates[0].Equal(f.model.CA.Root))
	st := p.Status()
	assert.Equal(t, 7, st.Number)
	assert.Equal(t, 1, st.Entries)
	assert.False(t, st.Stale)
	assert.NoError(t, st.LastError)

	other, err := p.MetadataEntry(context.Background(), uuid.New(), nil)
	require.NoError(t, err)
	assert.Nil(t, other, "a model not in the BLOB")
}

// The minted BLOB is what go-webauthn's own decoder accepts under the same
// root: the test BLOBs have the real format.
func TestMintedBLOBDecodesWithGoWebAuthn(t *testing.T) {
	f := newFixture(t)
	dec, err := metadata.NewDecoder(metadata.WithRootCertificate(base64.StdEncoding.EncodeToString(f.root.Cert.Raw)))
	require.NoError(t, err)
	payload, err := dec.DecodeBytes(f.blob(t, 3, day))
	require.NoError(t, err)
	md, err := dec.Parse(payload)
	require.NoError(t, err)
	require.Len(t, md.Parsed.Entries, 1)
	assert.Equal(t, 3, md.Parsed.Number)
}

func TestRefusedBLOBs(t *testing.T) {
	f := newFixture(t)
	now := day
	good := f.blob(t, 10, day.AddDate(0, 1, 0))
	p, err := mds.NewFromReader(bytes.NewReader(good), f.opts(&now))
	require.NoError(t, err)

	other, err := mdstest.NewRoot("Other MDS")
	require.NoError(t, err)
	wrongRoot, err := other.BLOB(11, day.AddDate(0, 1, 0), f.entry)
	require.NoError(t, err)
	tampered := bytes.Clone(f.blob(t, 11, day.AddDate(0, 1, 0)))
	parts := strings.Split(string(tampered), ".")
	parts[1] = base64.RawURLEncoding.EncodeToString([]byte(`{"no":99,"nextUpdate":"2030-01-01","entries":[]}`))
	tampered = []byte(strings.Join(parts, "."))
	noneAlg := []byte(base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none"}`)) + "." + parts[1] + ".")

	for _, tc := range []struct {
		name string
		blob []byte
		want error
	}{
		{"wrong root", wrongRoot, mds.ErrSignature},
		{"tampered payload", tampered, mds.ErrSignature},
		{"alg none", noneAlg, mds.ErrSignature},
		{"not a JWS", []byte("hello"), mds.ErrSignature},
		{"same serial", f.blob(t, 10, day.AddDate(0, 2, 0)), mds.ErrNotNewer},
		{"stale serial", f.blob(t, 9, day.AddDate(0, 2, 0)), mds.ErrNotNewer},
		{"expired nextUpdate", f.blob(t, 12, day.AddDate(0, 0, -8)), mds.ErrExpired},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := p.Load(bytes.NewReader(tc.blob))
			require.ErrorIs(t, err, tc.want)
			assert.Equal(t, 10, p.Status().Number, "the last good BLOB stays")
			e, err := p.MetadataEntry(context.Background(), uuid.UUID(f.model.AAGUID), nil)
			require.NoError(t, err)
			assert.NotNil(t, e)
		})
	}

	t.Run("within grace", func(t *testing.T) {
		require.NoError(t, p.Load(bytes.NewReader(f.blob(t, 13, day.AddDate(0, 0, -6)))))
		assert.Equal(t, 13, p.Status().Number)
	})
	t.Run("signing certificate expired by the provider's clock", func(t *testing.T) {
		late := day.AddDate(60, 0, 0) // past mdstest.NotAfter
		q, err := mds.NewFromReader(bytes.NewReader(f.blob(t, 1, late)), f.opts(&late))
		require.ErrorIs(t, err, mds.ErrSignature)
		assert.Nil(t, q)
	})
	t.Run("too large", func(t *testing.T) {
		o := f.opts(&now)
		o.MaxSize = 100
		_, err := mds.NewFromReader(bytes.NewReader(good), o)
		require.ErrorIs(t, err, mds.ErrTooLarge)
	})
}

// blobServer serves the BLOB held in cur; fail makes it answer 500.
type blobServer struct {
	mu   sync.Mutex
	cur  []byte
	fail bool
	hits atomic.Int32
	srv  *httptest.Server
}

func newBlobServer(t *testing.T, blob []byte) *blobServer {
	s := &blobServer{cur: blob}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.fail {
			http.Error(w, "down", http.StatusInternalServerError)
			return
		}
		_, _ = w.Write(s.cur)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *blobServer) set(blob []byte, fail bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cur, s.fail = blob, fail
}

func TestRefreshFromURL(t *testing.T) {
	f := newFixture(t)
	var mu sync.Mutex
	now := day
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	srv := newBlobServer(t, f.blob(t, 1, day.AddDate(0, 0, 1)))
	file := filepath.Join(t.TempDir(), "blob.jwt")
	p, err := mds.New(context.Background(), mds.Options{
		Root: f.root.Cert, URL: srv.srv.URL, File: file, Now: clock,
		RetryInterval: 20 * time.Millisecond, HTTPClient: &http.Client{Timeout: 5 * time.Second},
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = p.Close() })
	assert.Equal(t, 1, p.Status().Number)
	saved, err := os.ReadFile(file)
	require.NoError(t, err)
	assert.Equal(t, srv.cur, saved, "the fetched BLOB is saved for the next start")

	// Past nextUpdate the server is down: the last good BLOB stays.
	srv.set(nil, true)
	mu.Lock()
	now = day.AddDate(0, 0, 2)
	mu.Unlock()
	require.Eventually(t, func() bool { return p.Status().LastError != nil }, 5*time.Second, 10*time.Millisecond)
	assert.Equal(t, 1, p.Status().Number)
	e, err := p.MetadataEntry(context.Background(), uuid.UUID(f.model.AAGUID), nil)
	require.NoError(t, err)
	assert.NotNil(t, e)

	// It comes back with a newer BLOB: picked up in the background.
	srv.set(f.blob(t, 2, day.AddDate(0, 1, 0)), false)
	require.Eventually(t, func() bool { return p.Status().Number == 2 }, 5*time.Second, 10*time.Millisecond)
	assert.NoError(t, p.Status().LastError)
	require.NoError(t, p.Close())

	// A restart without network uses the saved file.
	q, err := mds.New(context.Background(), mds.Options{Root: f.root.Cert, File: file, Now: clock})
	require.NoError(t, err)
	t.Cleanup(func() { _ = q.Close() })
	assert.Equal(t, 2, q.Status().Number)
}

func TestStaleStatus(t *testing.T) {
	f := newFixture(t)
	now := day
	p, err := mds.NewFromReader(bytes.NewReader(f.blob(t, 1, day)), f.opts(&now))
	require.NoError(t, err)
	assert.False(t, p.Status().Stale)
	now = day.AddDate(0, 0, 8)
	assert.True(t, p.Status().Stale, "past nextUpdate + grace")
	e, err := p.MetadataEntry(context.Background(), uuid.UUID(f.model.AAGUID), nil)
	require.NoError(t, err)
	assert.NotNil(t, e, "a stale BLOB still answers: it is the last good one")
}

// countingTransport records every request and answers none.
type countingTransport struct{ n atomic.Int32 }

func (c *countingTransport) RoundTrip(*http.Request) (*http.Response, error) {
	c.n.Add(1)
	return nil, http.ErrHandlerTimeout
}

func TestOfflineByDefault(t *testing.T) {
	_, err := mds.New(context.Background(), mds.Options{})
	require.Error(t, err, "no file, no URL: nothing to load, nothing fetched")

	// A file only: past nextUpdate the provider re-reads the file, and
	// never touches the network.
	f := newFixture(t)
	file := filepath.Join(t.TempDir(), "mds.jwt")
	require.NoError(t, os.WriteFile(file, f.blob(t, 1, day), 0o600))
	var mu sync.Mutex
	now := day
	rt := &countingTransport{}
	p, err := mds.New(context.Background(), mds.Options{
		Root: f.root.Cert, File: file, HTTPClient: &http.Client{Transport: rt}, RetryInterval: 10 * time.Millisecond,
		Now: func() time.Time { mu.Lock(); defer mu.Unlock(); return now },
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = p.Close() })
	mu.Lock()
	now = day.AddDate(0, 0, 3)
	mu.Unlock()
	require.NoError(t, os.WriteFile(file, f.blob(t, 2, day.AddDate(0, 1, 0)), 0o600))
	require.Eventually(t, func() bool { return p.Status().Number == 2 }, 5*time.Second, 10*time.Millisecond, "a newer file is picked up")
	assert.Zero(t, rt.n.Load(), "no request without a URL")
}

package mds_test

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit/mds"
	"github.com/webauthnkit/webauthnkit/mds/mdstest"
)

// FuzzVerify: any input is refused or verified, never a panic, and nothing
// but the root's BLOBs verifies.
func FuzzVerify(f *testing.F) {
	root, err := mdstest.NewRoot("Fuzz MDS")
	require.NoError(f, err)
	good, err := root.BLOB(1, day, newFixture(f).entry)
	require.NoError(f, err)
	f.Add(good)
	f.Add([]byte("a.b.c"))
	f.Add([]byte("eyJhbGciOiJub25lIn0.e30."))
	f.Add(bytes.Repeat([]byte("."), 10))
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := mds.Verify(data, root.Cert, day)
		if err == nil && !bytes.Equal(bytes.TrimSpace(data), bytes.TrimSpace(good)) {
			// Another encoding of the same signed BLOB (padding) is fine;
			// anything verifying must carry the signed payload.
			require.Equal(t, 1, b.Number)
		}
	})
}

// Loads and lookups at once (run with -race): readers see the old or the
// new BLOB, never a torn one.
func TestConcurrentLoadAndLookup(t *testing.T) {
	f := newFixture(t)
	now := day
	p, err := mds.NewFromReader(bytes.NewReader(f.blob(t, 1, day.AddDate(0, 1, 0))), f.opts(&now))
	require.NoError(t, err)
	blobs := make([][]byte, 20)
	for i := range blobs {
		blobs[i] = f.blob(t, i+2, day.AddDate(0, 1, 0))
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				e, err := p.MetadataEntry(context.Background(), uuid.UUID(f.model.AAGUID), nil)
				if err != nil || e == nil {
					t.Errorf("lookup during reload: %v %v", e, err)
					return
				}
				_ = p.Status()
			}
		})
	}
	for _, b := range blobs {
		wg.Go(func() { _ = p.Load(bytes.NewReader(b)) }) // out of order: some are refused as not newer
	}
	time.Sleep(50 * time.Millisecond)
	close(stop)
	wg.Wait()
	require.Equal(t, 21, p.Status().Number, "the highest serial wins whatever the order")
}

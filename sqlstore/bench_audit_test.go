package sqlstore_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit/sqlstore"
	"github.com/webauthnkit/webauthnkit/storetest"
)

// BenchmarkScanCredentials: one op is a whole ScanCredentials walk over
// 2,000 credentials (each with a 1.5 KB attestation object, the size of a
// packed statement with a two-certificate x5c) in pages of 100; ns/cred is
// the cost per credential read.
//
//	go test -run '^$' -bench ScanCredentials -benchmem -count 6 ./sqlstore
func BenchmarkScanCredentials(b *testing.B) {
	const n = 2000
	forEachBackendB(b, func(b *testing.B, s *sqlstore.Store) {
		ctx := context.Background()
		for range n / 2 {
			u := storetest.RandomUser()
			c := storetest.RandomCredential(u.Handle)
			c.AttestationObject = storetest.RandomBytes(1500)
			require.NoError(b, s.CreateUser(ctx, u, &c))
			c2 := storetest.RandomCredential(u.Handle)
			c2.AttestationObject = storetest.RandomBytes(1500)
			require.NoError(b, s.AddCredential(ctx, c2))
		}
		for b.Loop() {
			seen := 0
			for cursor := ""; ; {
				page, next, err := s.ScanCredentials(ctx, cursor, 100)
				if err != nil {
					b.Fatal(err)
				}
				seen += len(page)
				if next == "" {
					break
				}
				cursor = next
			}
			if seen != n {
				b.Fatalf("scanned %d credentials, want %d", seen, n)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/cred")
	})
}

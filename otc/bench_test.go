package otc_test

import (
	"context"
	"encoding/binary"
	"testing"

	"github.com/webauthnkit/webauthnkit/memstore"
	"github.com/webauthnkit/webauthnkit/otc"
)

// BenchmarkIssueVerify is one Issue and one correct Verify on memstore:
// the library's own cost (HMACs, random, encoding) plus the in-memory
// store; a networked store adds its round trips (Issue: take + put, +1 put
// with Links; Verify: put (attempt claim) + take + take (release)).
func BenchmarkIssueVerify(b *testing.B) {
	for _, links := range []bool{false, true} {
		name := "code"
		if links {
			name = "code+link"
		}
		b.Run(name, func(b *testing.B) {
			c := newClock()
			codes := newCodes(b, c, newMemStore(b, memstore.WithClock(c.Now)), func(cfg *otc.Config) { cfg.Links = links })
			ctx := context.Background()
			acct := make([]byte, 16)
			b.ReportAllocs()
			i := uint64(0)
			for b.Loop() {
				i++
				binary.BigEndian.PutUint64(acct, i)
				code, err := codes.Issue(ctx, otc.PurposeRecoverAccount, acct)
				if err != nil {
					b.Fatal(err)
				}
				if err := codes.Verify(ctx, otc.PurposeRecoverAccount, acct, code.Code); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

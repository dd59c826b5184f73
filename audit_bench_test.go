package webauthnkit_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit"
)

// BenchmarkAudit: one op is an AuditCredentials over 200 stored security
// keys (packed attestation with an x5c chain under a test CA) on memstore,
// with the default evaluation (Config.Attestation against an MDS3 BLOB:
// the chain verified at Config.Now, status reports) or a trivial one (the
// audit's own cost: scan, loop, no write). ns/cred is per credential. The
// 200 keys share one model's certificate chain, so the policy's chain
// cache (attestation_cache.go) serves all but the first verification: on
// this machine about 55-80 µs per credential with it, 220-650 µs before it.
//
//	go test -run '^$' -bench Audit -benchmem -count 6 .
func BenchmarkAudit(b *testing.B) {
	const n = 200
	w := newAttWorld(b)
	e := newEnv(b, func(c *webauthnkit.Config) { c.Attestation = w.policy(webauthnkit.AttestationMonitor) })
	for i := range n {
		e.signUp(b, fmt.Sprintf("user%d", i), device(w.good)...)
	}
	// The first audit writes every verdict; the measured ones write nothing.
	_, err := e.rp.AuditCredentials(ctx, webauthnkit.AuditRequest{})
	require.NoError(b, err)
	for _, tc := range []struct {
		name string
		req  webauthnkit.AuditRequest
	}{
		{"policy", webauthnkit.AuditRequest{}},
		{"trivial", webauthnkit.AuditRequest{Evaluate: func(_ context.Context, c webauthnkit.Credential) (webauthnkit.AuditVerdict, error) {
			return webauthnkit.AuditVerdict{Trust: c.AttestationTrust}, nil
		}}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			for b.Loop() {
				r, err := e.rp.AuditCredentials(ctx, tc.req)
				if err != nil || r.Scanned != n || r.Updated != 0 {
					b.Fatalf("%+v %v", r, err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/cred")
		})
	}
}

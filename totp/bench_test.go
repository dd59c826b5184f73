package totp_test

import (
	"context"
	"testing"
	"time"

	"github.com/webauthnkit/webauthnkit/totp"
)

// BenchmarkVerify measures one successful verification on memstore: open
// the sealed secret, claim an attempt, compute and compare the 3 codes of
// the skew, record the used step, give the attempt back. Each iteration
// moves the clock one step on, so each uses a fresh code.
func BenchmarkVerify(b *testing.B) {
	f := newFixture(b, func(c *totp.Config) { c.MaxAttempts = 100 })
	user := userID(1)
	sealed, secret := f.enrol(user)
	codes := make([]string, b.N)
	for i := range codes {
		codes[i] = f.code(secret, time.Duration(i)*30*time.Second)
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if err := f.totp.Verify(ctx, sealed, user, codes[i]); err != nil {
			b.Fatal(err)
		}
		f.clock.Add(30 * time.Second)
	}
}

// BenchmarkVerifyMalformed is the cost of the cheapest refusal.
func BenchmarkVerifyMalformed(b *testing.B) {
	f := newFixture(b, nil)
	sealed, _ := f.enrol(userID(1))
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		_ = f.totp.Verify(ctx, sealed, userID(1), "12a456")
	}
}

// BenchmarkBegin is dominated by drawing and encoding the QR code PNG; an
// app should only offer enrolment to signed-in users.
func BenchmarkBegin(b *testing.B) {
	f := newFixture(b, nil)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.totp.Begin(ctx, userID(1), "alice@example.com"); err != nil {
			b.Fatal(err)
		}
	}
}

package totp_test

import (
	"testing"

	"github.com/webauthnkit/webauthnkit/memstore"
)

// newMemStore returns a memstore.Store closed when the test ends.
func newMemStore(tb testing.TB, opts ...memstore.Option) *memstore.Store {
	tb.Helper()
	s, err := memstore.New(opts...)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

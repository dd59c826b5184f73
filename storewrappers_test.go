package webauthnkit_test

import (
	"testing"

	"github.com/webauthnkit/webauthnkit/internal/storewrap"
)

// newCountingStore returns a memstore behind storewrap, logging the store
// calls in order (TakeCalls). Fault injection is storewrap's Fail.
func newCountingStore(t *testing.T, opts ...storewrap.Option) *storewrap.Store {
	t.Helper()
	mem := newMemStore(t)
	return storewrap.New(mem, mem, append(opts, storewrap.WithCallLog())...)
}

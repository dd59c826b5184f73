package otc_test

import (
	"testing"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/internal/backendtest"
)

// storeBackends are the ChallengeStore backends the store-backed tests run
// on (internal/backendtest: servers skip when absent, fail under CI=true).
var storeBackends = func() []storeBackend {
	var out []storeBackend
	for _, b := range backendtest.All() {
		out = append(out, storeBackend{b.Name, func(t *testing.T, c *clock) webauthnkit.ChallengeStore { return b.Open(t, c.Now) }})
	}
	return out
}()

type storeBackend struct {
	name string
	open func(t *testing.T, c *clock) webauthnkit.ChallengeStore
}

package account_test

import (
	"fmt"
	"os"
	"testing"

	"github.com/webauthnkit/webauthnkit/internal/backendtest"
)

// TestMain runs the whole suite on another backend than memstore when
// WEBAUTHNKIT_ACCOUNT_BACKEND names one (postgres, mariadb, sqlite or
// redis; with "+sealed", e.g. sqlite+sealed, wrapped by package sealstore);
// scripts/test.sh runs it once per backend. A server that cannot be
// reached skips each test, or fails it under CI=true (internal/backendtest).
func TestMain(m *testing.M) {
	if name := os.Getenv("WEBAUTHNKIT_ACCOUNT_BACKEND"); name != "" {
		b, ok := backendtest.Named(name)
		if !ok {
			fmt.Fprintf(os.Stderr, "account: unknown WEBAUTHNKIT_ACCOUNT_BACKEND %q\n", name)
			os.Exit(2)
		}
		openBackend = b.Open
	}
	os.Exit(m.Run())
}

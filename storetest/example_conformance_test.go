package storetest_test

import (
	"testing"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/memstore"
	"github.com/webauthnkit/webauthnkit/storetest"
)

// MyStore stands for a third-party store. Here it keeps its data in a
// memstore; yours talks to your database.
type MyStore struct {
	*memstore.Store
}

// Features declares what MyStore offers beyond the two interfaces. The
// library and the suite go by this declaration, never by the methods the
// type happens to have: with CredentialWithUser the suite runs the
// GetCredentialWithUser clauses (and fails if the method is missing);
// without it, they are skipped and the library never calls the method.
func (s MyStore) Features() webauthnkit.Features {
	return webauthnkit.Features{
		ProcessLocal:       true, // the data lives in this process
		CredentialWithUser: true, // GetCredentialWithUser is implemented
	}
}

// newMyStore opens a store for one subtest. Subtests may share the data
// (one database for the whole run): the suite uses random keys and never
// assumes the store is empty.
func newMyStore(t *testing.T) MyStore {
	mem, err := memstore.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mem.Close() })
	return MyStore{mem}
}

// myStoreConformance is the body of the store's conformance test:
//
//	func TestConformance(t *testing.T) { ... }
//
// in mystore_test.go. Each clause of the contracts is a named subtest, so
// a failure names the clause (for example
// TestConformance/CredentialStore/UpdateCredentialUse/concurrent_no_lost_update).
func myStoreConformance(t *testing.T) {
	t.Run("CredentialStore", func(t *testing.T) {
		storetest.TestCredentialStore(t, func(t *testing.T) webauthnkit.CredentialStore { return newMyStore(t) })
	})
	t.Run("ChallengeStore", func(t *testing.T) {
		storetest.TestChallengeStore(t, func(t *testing.T) webauthnkit.ChallengeStore { return newMyStore(t) })
	})
}

// A third-party store runs the conformance suite from an ordinary test,
// declaring its optional capabilities with Features. The suite needs a
// *testing.T, so this example is compiled but not run as an Example; the
// same code runs in TestExampleConformance.
func Example_conformance() {
	// func TestConformance(t *testing.T) { myStoreConformance(t) }
}

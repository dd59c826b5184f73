package storetest_test

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/webauthnkit/webauthnkit/memstore"
	"github.com/webauthnkit/webauthnkit/storetest"
)

// The Random* helpers make the values the suite stores: random enough that
// runs sharing one database never collide, and awkward on purpose (times
// with nanoseconds, in a zone other than UTC). A store's own tests can use
// them to write further clauses in the same style.
func ExampleRandomCredential() {
	alice := storetest.RandomUser()
	laptop := storetest.RandomCredential(alice.Handle)
	fmt.Println("handle bytes:", len(alice.Handle))
	fmt.Println("owned by alice:", bytes.Equal(laptop.UserHandle, alice.Handle))
	fmt.Println("another user, another name:", storetest.RandomUser().Name != alice.Name)
	fmt.Println("created in UTC:", laptop.CreatedAt.Location() == time.UTC)

	// A store keeps the instant and returns it in UTC (to the microsecond).
	store, err := memstore.New()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer store.Close()
	ctx := context.Background()
	if err := store.CreateUser(ctx, alice, &laptop); err != nil {
		fmt.Println(err)
		return
	}
	got, err := store.GetCredential(ctx, laptop.ID)
	fmt.Println("read back:", err, got.CreatedAt.Location() == time.UTC,
		got.CreatedAt.Truncate(time.Microsecond).Equal(laptop.CreatedAt.Truncate(time.Microsecond)))

	// Output:
	// handle bytes: 32
	// owned by alice: true
	// another user, another name: true
	// created in UTC: false
	// read back: <nil> true true
}

package memstore_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/memstore"
)

func Example() {
	store, err := memstore.New()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer store.Close()
	ctx := context.Background()

	// The library does this when a user registers a first passkey...
	alice := webauthnkit.User{
		Handle:      []byte("0123456789abcdef0123456789abcdef"),
		Name:        "alice",
		DisplayName: "Alice",
		CreatedAt:   time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC),
	}
	laptop := webauthnkit.Credential{
		ID:         []byte{0x01, 0x02, 0x03},
		UserHandle: alice.Handle,
		PublicKey:  []byte{0xa5, 0x01, 0x02},
		Name:       "Work laptop",
		CreatedAt:  alice.CreatedAt,
	}
	if err := store.CreateUser(ctx, alice, &laptop); err != nil {
		fmt.Println(err)
		return
	}
	err = store.CreateUser(ctx, alice, &laptop)
	fmt.Println("again:", errors.Is(err, webauthnkit.ErrUserExists))

	// ...and this on each login.
	err = store.UpdateCredentialUse(ctx, laptop.ID, 0, webauthnkit.CredentialUse{
		SignCount:  1,
		LastUsedAt: time.Date(2025, 3, 2, 9, 30, 0, 0, time.UTC),
	})
	fmt.Println("update:", err)
	err = store.UpdateCredentialUse(ctx, laptop.ID, 0, webauthnkit.CredentialUse{SignCount: 1})
	fmt.Println("stale update:", errors.Is(err, webauthnkit.ErrConflict))
	creds, _ := store.ListCredentials(ctx, alice.Handle)
	for _, c := range creds {
		fmt.Printf("%s: count %d, last used %s\n", c.Name, c.SignCount, c.LastUsedAt.Format(time.DateTime))
	}

	// Ceremonies can be taken once.
	_ = store.PutCeremony(ctx, "ceremony-1", []byte("state"), time.Now().Add(5*time.Minute))
	data, err := store.TakeCeremony(ctx, "ceremony-1")
	fmt.Println(string(data), err)
	_, err = store.TakeCeremony(ctx, "ceremony-1")
	fmt.Println(errors.Is(err, webauthnkit.ErrNotFound))

	// Output:
	// again: true
	// update: <nil>
	// stale update: true
	// Work laptop: count 1, last used 2025-03-02 09:30:00
	// state <nil>
	// true
}

// One Store serves as both stores of a RelyingParty.
func Example_relyingParty() {
	store, err := memstore.New()
	if err != nil {
		panic(err)
	}
	defer store.Close()
	rp, err := webauthnkit.New(webauthnkit.Config{
		RPID:        "localhost",
		Origins:     []string{"http://localhost:8080"},
		Credentials: store,
		Ceremonies:  store,
	})
	if err != nil {
		panic(err)
	}
	_ = rp
}

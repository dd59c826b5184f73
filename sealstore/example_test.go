package sealstore_test

import (
	"context"
	"fmt"
	"log"
	"strings"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/memstore"
	"github.com/webauthnkit/webauthnkit/sealstore"
)

// Sealing a store, then rotating its key: the wrapped store never sees a
// name, and after Rekey nothing needs the old key.
func Example() {
	ctx := context.Background()
	mem, err := memstore.New()
	if err != nil {
		log.Fatal(err)
	}
	defer mem.Close()

	// In production: sealstore.LoadKeyringFile, KeyringFromEnv or a KMS.
	index, k1 := sealstore.RandomSecret(), sealstore.NewKey("2026-01")
	kr, err := sealstore.NewKeyring(index, k1)
	if err != nil {
		log.Fatal(err)
	}
	store, err := sealstore.New(mem, sealstore.Config{Keyring: kr})
	if err != nil {
		log.Fatal(err)
	}
	alice := webauthnkit.User{Handle: []byte("handle-of-alice"), Name: "alice", DisplayName: "Alice Liddell", Email: "alice@example.org"}
	if err := store.CreateUser(ctx, alice, nil); err != nil {
		log.Fatal(err)
	}

	row, _ := mem.GetUserByHandle(ctx, alice.Handle) // what the database holds
	fmt.Println("stored name is a blind index:", len(row.Name) == 43 && row.Name != "alice")
	fmt.Println("stored display name holds no name:", !strings.Contains(row.DisplayName, "Alice"))
	u, _ := store.GetUserByEmail(ctx, "alice@example.org")
	fmt.Println("read through the store:", u.Name, "/", u.DisplayName)

	// Rotation: a new primary key, re-seal, check, retire the old key.
	k2 := sealstore.NewKey("2026-12")
	both, _ := sealstore.NewKeyring(index, k2, k1)
	if err := store.SetKeyring(both); err != nil {
		log.Fatal(err)
	}
	done, err := store.Rekey(ctx, sealstore.RekeyOptions{})
	fmt.Println("re-sealed:", done.Resealed, err)
	left, _ := store.Rekey(ctx, sealstore.RekeyOptions{CheckOnly: true})
	fmt.Println("still on the old key:", left.Pending)
	onlyNew, _ := sealstore.NewKeyring(index, k2)
	_ = store.SetKeyring(onlyNew)
	u, err = store.GetUserByName(ctx, "alice")
	fmt.Println("after retiring the old key:", u.DisplayName, err)
	// Output:
	// stored name is a blind index: true
	// stored display name holds no name: true
	// read through the store: alice / Alice Liddell
	// re-sealed: 1 <nil>
	// still on the old key: 0
	// after retiring the old key: Alice Liddell <nil>
}

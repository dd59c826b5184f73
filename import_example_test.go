package webauthnkit_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/memstore"
	"github.com/webauthnkit/webauthnkit/webauthntest"
)

// Migrating a passkey from another system: create the account under the
// user handle the authenticator holds, then import the credential record
// with the flags the other system stored (docs/import.md).
func ExampleRelyingParty_ImportCredential() {
	ctx := context.Background()
	store, err := memstore.New()
	if err != nil {
		panic(err)
	}
	defer store.Close()
	rp, err := webauthnkit.New(webauthnkit.Config{
		RPID:        "example.com", // the RP ID the passkey was registered for
		Origins:     []string{"https://example.com"},
		Credentials: store,
		Ceremonies:  store,
	})
	if err != nil {
		panic(err)
	}

	// One row of the old system's passkey table (here made up: an ES256
	// key as a COSE_Key, a synced passkey's flags).
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	point, _ := key.PublicKey.Bytes() // 0x04 || x || y
	cose, _ := webauthntest.MarshalCOSEKey(map[int]any{1: 2, 3: -7, -1: 1, -2: point[1:33], -3: point[33:]})
	row := struct {
		CredentialID, UserHandle, PublicKey []byte
		SignCount                           uint32
		BackupEligible, BackupState         bool
	}{[]byte("credential-id-16"), []byte("user-7f3a"), cose, 0, true, true}

	if _, err := rp.CreateUser(ctx, webauthnkit.NewUser{Handle: row.UserHandle, Name: "alice@example.com"}); err != nil {
		panic(err)
	}
	in := webauthnkit.ImportedCredential{
		ID:             row.CredentialID,
		UserHandle:     row.UserHandle,
		PublicKey:      row.PublicKey,
		SignCount:      row.SignCount,
		BackupEligible: &row.BackupEligible, // required: a wrong BE fails every login
		BackupState:    &row.BackupState,
	}
	cred, err := rp.ImportCredential(ctx, in)
	if err != nil {
		panic(err)
	}
	fmt.Println(cred.Name, cred.BackupEligible)

	_, err = rp.ImportCredential(ctx, in) // run twice: refused, nothing changes
	fmt.Println(errors.Is(err, webauthnkit.ErrCredentialExists))
	// Output:
	// Synced passkey true
	// true
}

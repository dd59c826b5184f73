package otc_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"

	"github.com/webauthnkit/webauthnkit/memstore"
	"github.com/webauthnkit/webauthnkit/otc"
)

// Recovery by an emailed code: issue, deliver (here: print its length),
// verify once. The codes are random, so the example prints only what does
// not depend on them.
func Example() {
	store, err := memstore.New() // sqlstore or redisstore with several instances
	if err != nil {
		panic(err)
	}
	defer store.Close()
	secret := make([]byte, 32) // in production: from a secret manager, the same on every instance
	rand.Read(secret)
	codes, err := otc.New(otc.Config{Store: store, Secret: secret, Links: true})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	account := []byte("user-handle-42")

	code, err := codes.Issue(ctx, otc.PurposeRecoverAccount, account)
	if err != nil {
		panic(err)
	}
	fmt.Println("digits:", len(code.Code), "link token:", len(code.LinkToken), "chars")
	fmt.Println("log-safe:", code)

	err = codes.Verify(ctx, otc.PurposeVerifyEmail, account, code.Code)
	fmt.Println("other purpose refused:", errors.Is(err, otc.ErrInvalidCode))
	err = codes.Verify(ctx, otc.PurposeRecoverAccount, account, code.Code)
	fmt.Println("verified:", err == nil)
	err = codes.Verify(ctx, otc.PurposeRecoverAccount, account, code.Code)
	fmt.Println("second use refused:", errors.Is(err, otc.ErrInvalidCode))
	// Output:
	// digits: 6 link token: 43 chars
	// log-safe: otc.Code{redacted}
	// other purpose refused: true
	// verified: true
	// second use refused: true
}

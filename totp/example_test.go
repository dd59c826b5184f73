package totp_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	pqtotp "github.com/pquerna/otp/totp"

	"github.com/webauthnkit/webauthnkit/memstore"
	"github.com/webauthnkit/webauthnkit/totp"
)

// An app adds TOTP as a second factor for its own user 42. The fixed clock
// only makes the output deterministic; real apps leave Now unset.
func Example() {
	ctx := context.Background()
	now := time.Date(2026, 12, 6, 7, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	store, err := memstore.New(memstore.WithClock(clock)) // sqlstore or redisstore with several instances
	if err != nil {
		panic(err)
	}
	defer store.Close()

	tp, err := totp.New(totp.Config{
		Issuer: "Example App",
		// A 32-byte key from the app's secret manager, never from the database.
		Keys:   []totp.Key{{ID: 1, Secret: []byte("0123456789abcdef0123456789abcdef")}},
		Replay: store,
		Now:    clock,
	})
	if err != nil {
		panic(err)
	}
	userID := []byte("42") // the app's own user ID

	// Settings page: show the QR code (e.QRCodePNG) or e.Secret; keep e.Sealed
	// in the session until the user types the first code.
	e, err := tp.Begin(ctx, userID, "alice@example.com")
	if err != nil {
		panic(err)
	}
	appCode := func() string { // what the user's authenticator app shows
		c, _ := pqtotp.GenerateCode(e.Secret, now)
		return c
	}
	sealed, err := tp.Confirm(ctx, e.Sealed, userID, appCode())
	fmt.Println("confirmed:", err == nil)
	// UPDATE users SET totp_secret = sealed WHERE id = 42

	// Sign-in, after the password check, 30 s later:
	now = now.Add(30 * time.Second)
	code := appCode()
	fmt.Println("second factor:", tp.Verify(ctx, sealed, userID, code) == nil)
	err = tp.Verify(ctx, sealed, userID, code)
	fmt.Println("same code again:", errors.Is(err, totp.ErrCodeReused))
	err = tp.Verify(ctx, sealed, []byte("43"), code)
	fmt.Println("another user's row:", errors.Is(err, totp.ErrSealedValue))
	fmt.Println(tp.Verify(ctx, sealed, userID, "12 34"))
	// Output:
	// confirmed: true
	// second factor: true
	// same code again: true
	// another user's row: true
	// totp: invalid_code: wrong code
}

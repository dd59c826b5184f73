package sqlstore_test

import (
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log"
	"os"
	"time"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/sqlstore"
	"github.com/webauthnkit/webauthnkit/sqlstore/sqlitedb"
)

// A store over SQLite (modernc.org/sqlite, pure Go), in memory here; pass a
// file path to sqlitedb.Open to keep the data.
func Example() {
	ctx := context.Background()
	db, err := sqlitedb.Open(sqlitedb.Memory)
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	if err := sqlstore.Migrate(ctx, db, sqlstore.SQLite); err != nil {
		log.Fatal(err)
	}
	store, err := sqlstore.New(db, sqlstore.SQLite, sqlstore.WithJanitor(5*time.Minute))
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	// The store goes into webauthnkit.Config as both Credentials and
	// Ceremonies. Here it is called directly, as the library would.
	alice := webauthnkit.User{Handle: []byte("handle-of-alice-32-random-bytes."), Name: "alice", DisplayName: "Alice", CreatedAt: time.Now()}
	passkey := webauthnkit.Credential{ID: []byte{0xC0, 0xFF, 0xEE}, UserHandle: alice.Handle, PublicKey: []byte("cose key"), CreatedAt: time.Now()}
	if err := store.CreateUser(ctx, alice, &passkey); err != nil {
		log.Fatal(err)
	}
	err = store.CreateUser(ctx, webauthnkit.User{Handle: []byte("another handle"), Name: "alice", CreatedAt: time.Now()},
		&webauthnkit.Credential{ID: []byte{1}, UserHandle: []byte("another handle"), CreatedAt: time.Now()})
	fmt.Println("second alice:", errors.Is(err, webauthnkit.ErrUserExists))

	// A login: compare-and-set on the signature counter.
	err = store.UpdateCredentialUse(ctx, passkey.ID, 0, webauthnkit.CredentialUse{SignCount: 1, LastUsedAt: time.Now()})
	fmt.Println("login:", err)
	err = store.UpdateCredentialUse(ctx, passkey.ID, 0, webauthnkit.CredentialUse{SignCount: 1, LastUsedAt: time.Now()})
	fmt.Println("replayed counter:", errors.Is(err, webauthnkit.ErrConflict))

	// The only passkey is not deleted unless allowLast says so; ending
	// the sessions moves the epoch on.
	err = store.DeleteCredential(ctx, alice.Handle, passkey.ID, false)
	fmt.Println("delete the only passkey:", errors.Is(err, webauthnkit.ErrLastCredential))
	epoch, err := store.EndSessions(ctx, alice.Handle)
	fmt.Println("sessions ended, epoch:", epoch, err)

	// Ceremonies are taken once.
	if err := store.PutCeremony(ctx, "ceremony-1", []byte("state"), time.Now().Add(5*time.Minute)); err != nil {
		log.Fatal(err)
	}
	data, err := store.TakeCeremony(ctx, "ceremony-1")
	fmt.Printf("take: %s %v\n", data, err)
	_, err = store.TakeCeremony(ctx, "ceremony-1")
	fmt.Println("take again:", errors.Is(err, webauthnkit.ErrNotFound))

	// Output:
	// second alice: true
	// login: <nil>
	// replayed counter: true
	// delete the only passkey: true
	// sessions ended, epoch: 1 <nil>
	// take: state <nil>
	// take again: true
}

// The schema as plain SQL files, for a migration tool instead of Migrate.
func ExampleMigrations() {
	fsys, err := sqlstore.Migrations(sqlstore.Postgres, sqlstore.WithTablePrefix("auth_"))
	if err != nil {
		log.Fatal(err)
	}
	names, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(names)
	// Output:
	// [001_init.down.sql 001_init.up.sql 002_session_epoch.down.sql 002_session_epoch.up.sql 003_second_factor_only.down.sql 003_second_factor_only.up.sql 004_email_recovery_codes.down.sql 004_email_recovery_codes.up.sql 005_attestation_audit.down.sql 005_attestation_audit.up.sql 006_sealed_values.down.sql 006_sealed_values.up.sql]
}

// Setup with PostgreSQL through pgx (import _ "github.com/jackc/pgx/v5/stdlib").
// MySQL and MariaDB are the same with sql.Open("mysql", dsn) and
// sqlstore.MySQL.
func Example_postgres() {
	ctx := context.Background()
	db, err := sql.Open("pgx", "postgres://app@db.internal:5432/app")
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	// Safe to run at every start, from every replica at once.
	if err := sqlstore.Migrate(ctx, db, sqlstore.Postgres); err != nil {
		log.Fatal(err)
	}
	store, err := sqlstore.New(db, sqlstore.Postgres, sqlstore.WithJanitor(5*time.Minute))
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	// Several processes share the database, so they must share the
	// secret too (New refuses a shared store without one): 32 or more
	// random bytes from the deployment's secret store.
	secret, err := hex.DecodeString(os.Getenv("PASSKEYS_SECRET_HEX"))
	if err != nil {
		log.Fatal(err)
	}
	rp, err := webauthnkit.New(webauthnkit.Config{
		RPID:        "example.com",
		Origins:     []string{"https://example.com"},
		Credentials: store,
		Ceremonies:  store,
		Secret:      secret,
	})
	if err != nil {
		log.Fatal(err)
	}
	_ = rp
}

package app_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/webauthnkit/webauthnkit/examples/passkeys/app"
	"github.com/webauthnkit/webauthnkit/sqlstore/sqlitedb"
)

// TestJourneySQLiteSealed: with a keyring file (the demo's default), the
// keyring is created (0600) on first run, the whole journey works, the
// database holds none of the names, and a restart reads everything back.
func TestJourneySQLiteSealed(t *testing.T) {
	dir := t.TempDir()
	cfg := app.Config{
		SQLitePath:         filepath.Join(dir, "passkeys.db"),
		SessionSecretFile:  filepath.Join(dir, "passkeys.db.secret"),
		WebauthnSecretFile: filepath.Join(dir, "passkeys.db.webauthn-secret"),
		SealKeyringFile:    filepath.Join(dir, "passkeys.db.keyring"),
	}
	a := start(t, cfg)
	journey(t, a)
	b := newBrowser(t, a)
	b.signUp("Carol", "Carol Lewis")
	fi, err := os.Stat(cfg.SealKeyringFile)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("keyring file mode %v, want 0600", fi.Mode().Perm())
	}
	a.stop()

	db, err := sqlitedb.Open(cfg.SQLitePath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var dump strings.Builder
	for _, q := range []string{
		"SELECT name || display_name || coalesce(email, '') FROM webauthnkit_users",
		"SELECT name || attestation_format || transports || attachment FROM webauthnkit_credentials",
	} {
		rows, err := db.QueryContext(t.Context(), q)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				t.Fatal(err)
			}
			dump.WriteString(s)
		}
		rows.Close()
	}
	for _, clear := range []string{"alice", "Alice Liddell", "Phone", "carol", "Carol Lewis", "platform", "internal", "hybrid"} {
		if strings.Contains(dump.String(), clear) {
			t.Errorf("the database holds %q in clear", clear)
		}
	}

	// Same address and browser: the keyring is read back from the file.
	b.app = restart(t, a, cfg)
	b.signOut()
	b.signIn("carol")
	if page := b.accountPage(); !strings.Contains(page, "Carol Lewis") {
		t.Error("after a restart the account page lacks the sealed display name")
	}
}

// TestSealRefusesClearAccounts: turning sealing on over accounts stored in
// clear would make them all fail to open: the app refuses to start, saying
// why.
func TestSealRefusesClearAccounts(t *testing.T) {
	dir := t.TempDir()
	cfg := app.Config{
		SQLitePath:         filepath.Join(dir, "passkeys.db"),
		SessionSecretFile:  filepath.Join(dir, "passkeys.db.secret"),
		WebauthnSecretFile: filepath.Join(dir, "passkeys.db.webauthn-secret"),
	}
	a := start(t, cfg)
	newBrowser(t, a).signUp("bob", "")
	a.stop()
	cfg.SealKeyringFile = filepath.Join(dir, "passkeys.db.keyring")
	_, _, err := app.New(cfg)
	if err == nil || !strings.Contains(err.Error(), "stored without sealing") {
		t.Fatalf("app.New over clear accounts = %v, want a refusal", err)
	}
	if _, err := os.Stat(cfg.SealKeyringFile); !os.IsNotExist(err) {
		t.Error("the refused start left a keyring file behind")
	}
}

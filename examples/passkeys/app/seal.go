package app

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/sealstore"
)

// sealStores wraps the stores with package sealstore when Config.SealKeys
// or Config.SealKeyringFile is set: names, display names, emails and
// passkey details are stored encrypted, public keys bound to their
// accounts, ceremony records sealed.
func sealStores(ctx context.Context, cfg Config, st *stores, log *slog.Logger) error {
	var (
		kr      *sealstore.Keyring
		err     error
		created bool
	)
	switch {
	case len(cfg.SealKeys) > 0:
		kr, err = sealstore.ParseKeyring(ctx, cfg.SealKeys, nil)
		if err != nil {
			return fmt.Errorf("app: the sealing keys: %w", err)
		}
	case cfg.SealKeyringFile != "":
		if _, err := os.Stat(cfg.SealKeyringFile); errors.Is(err, fs.ErrNotExist) {
			// A new keyring over accounts stored in clear would make every
			// one of them fail to open: refuse instead of starting broken.
			if n, err := anyUser(ctx, st.creds); err != nil {
				return err
			} else if n {
				return fmt.Errorf("app: %s holds accounts stored without sealing, and the keyring file %s does not exist: start over (delete the database) or run without sealing (-keyring-file off)", st.credsName, cfg.SealKeyringFile)
			}
		}
		kr, created, err = sealstore.LoadOrCreateKeyringFile(ctx, cfg.SealKeyringFile, "k1", nil)
		if err != nil {
			return fmt.Errorf("app: the keyring: %w", err)
		}
		if created {
			log.Info("passkeys: created a new keyring: users' data is sealed with it (keep it with the database, apart from its backups)", "file", cfg.SealKeyringFile)
		}
	default:
		return nil
	}
	sealed, err := sealstore.New(st.creds, sealstore.Config{
		Keyring: kr,
		OnTamper: func(ctx context.Context, tp sealstore.Tamper) {
			// Identifiers only, never a value.
			log.ErrorContext(ctx, "passkeys: a stored value failed its integrity check",
				"op", tp.Op, "user_handle", base64.RawURLEncoding.EncodeToString(tp.UserHandle),
				"credential_id", base64.RawURLEncoding.EncodeToString(tp.CredentialID), "err", tp.Err)
		},
	})
	if err != nil {
		return fmt.Errorf("app: %w", err)
	}
	st.creds = sealed
	st.ceremonies = sealed.Ceremonies(st.ceremonies)
	st.credsName += " (sealed, keys " + fmt.Sprint(kr.IDs()) + ")"
	return nil
}

// anyUser reports whether the store holds at least one user.
func anyUser(ctx context.Context, creds webauthnkit.CredentialStore) (bool, error) {
	l, ok := creds.(webauthnkit.UserHandleLister)
	if !ok || !creds.Features().ListUserHandles {
		return false, nil
	}
	page, err := l.ListUserHandles(ctx, nil, 1)
	if err != nil {
		return false, fmt.Errorf("app: looking for existing accounts: %w", err)
	}
	return len(page) > 0, nil
}

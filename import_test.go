package webauthnkit_test

import (
	"crypto/x509"
	"math/big"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/webauthntest"
)

func ptr[T any](v T) *T { return &v }

// registerElsewhere registers a passkey with another relying party (the
// system being migrated from: its own store, secret and ceremonies, same
// RP ID) and returns its record and the authenticator.
func registerElsewhere(t *testing.T, name string, opts ...webauthntest.Option) (webauthnkit.Credential, *webauthntest.Authenticator) {
	t.Helper()
	old := newEnv(t)
	reg, auth := old.signUp(t, name, opts...)
	return reg.Credential, auth
}

// importOf is the ImportedCredential another system's record gives.
func importOf(c webauthnkit.Credential) webauthnkit.ImportedCredential {
	return webauthnkit.ImportedCredential{
		ID: c.ID, UserHandle: c.UserHandle, PublicKey: c.PublicKey, SignCount: c.SignCount,
		BackupEligible: ptr(c.BackupEligible), BackupState: ptr(c.BackupState),
		UserVerified: c.UserVerified, AAGUID: c.AAGUID, AttestationFormat: c.AttestationFormat,
		Transports: c.Transports, Attachment: c.Attachment, Name: "Imported", CreatedAt: c.CreatedAt,
	}
}

// TestImportThenLogin: a passkey registered by another system is imported
// under the same user handle and signs in through FinishLogin, by username
// and usernameless, its counter written back.
func TestImportThenLogin(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []webauthntest.Option
	}{
		{"synced_passkey", []webauthntest.Option{webauthntest.WithBackup(true, true)}},
		{"security_key", []webauthntest.Option{webauthntest.WithAttachment(webauthntest.CrossPlatform), webauthntest.WithCounter(41, 1)}},
		{"rs256", []webauthntest.Option{webauthntest.WithAlgorithm(webauthntest.RS256)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			old, auth := registerElsewhere(t, "alice", tc.opts...)
			e := newEnv(t)
			_, err := e.rp.CreateUser(ctx, webauthnkit.NewUser{Handle: old.UserHandle, Name: "alice"})
			require.NoError(t, err)
			rec, err := e.rp.ImportCredential(ctx, importOf(old))
			require.NoError(t, err)
			require.Equal(t, old.BackupEligible, rec.BackupEligible)
			require.Equal(t, webauthnkit.EventCredentialImported, e.events.last().Type)
			stored, err := e.store.GetCredential(ctx, old.ID)
			require.NoError(t, err)
			require.Equal(t, "Imported", stored.Name)

			login, err := e.login(t, auth, "alice")
			require.NoError(t, err)
			require.Equal(t, old.UserHandle, login.User.Handle)
			require.Equal(t, old.SignCount+1, login.Credential.SignCount, "the counter moves on from the imported one")

			begin, err := e.rp.BeginLogin(ctx, webauthnkit.LoginRequest{})
			require.NoError(t, err)
			body, err := auth.Login(begin.Options)
			require.NoError(t, err)
			login, err = e.rp.FinishLogin(ctx, begin.CeremonyID, body)
			require.NoError(t, err, "usernameless: the handle the authenticator returns is the account's")
			require.Equal(t, "alice", login.User.Name)
		})
	}
}

// TestImportWrongBackupEligible documents the trap: a record imported with
// a BE flag other than the authenticator's fails every login with
// ErrInvalidResponse (go-webauthn refuses a changed BE), until the record
// is deleted and imported again with the right flag.
func TestImportWrongBackupEligible(t *testing.T) {
	old, auth := registerElsewhere(t, "alice", webauthntest.WithBackup(true, true))
	e := newEnv(t)
	_, err := e.rp.CreateUser(ctx, webauthnkit.NewUser{Handle: old.UserHandle, Name: "alice"})
	require.NoError(t, err)
	in := importOf(old)
	in.BackupEligible, in.BackupState = ptr(false), ptr(false)
	_, err = e.rp.ImportCredential(ctx, in)
	require.NoError(t, err, "nothing tells a wrong flag before a login")
	_, err = e.login(t, auth, "alice")
	require.ErrorIs(t, err, webauthnkit.ErrInvalidResponse)
	_, err = e.login(t, auth, "alice")
	require.ErrorIs(t, err, webauthnkit.ErrInvalidResponse, "every login")

	require.NoError(t, e.rp.RevokeCredential(ctx, old.UserHandle, old.ID, true))
	_, err = e.rp.ImportCredential(ctx, importOf(old))
	require.NoError(t, err)
	_, err = e.login(t, auth, "alice")
	require.NoError(t, err, "imported again with the authenticator's flags")
}

// TestImportRefuses: missing flags, malformed lengths, unknown users,
// duplicates (for the same or another account) and hostile keys are
// refused, and nothing is stored.
func TestImportRefuses(t *testing.T) {
	old, _ := registerElsewhere(t, "alice")
	e := newEnv(t)
	_, err := e.rp.CreateUser(ctx, webauthnkit.NewUser{Handle: old.UserHandle, Name: "alice"})
	require.NoError(t, err)
	other, _ := e.signUp(t, "bob")

	bigN := modulus(t, 8192/8)
	cases := map[string]func(*webauthnkit.ImportedCredential){
		"no_backup_eligible":  func(in *webauthnkit.ImportedCredential) { in.BackupEligible = nil },
		"no_backup_state":     func(in *webauthnkit.ImportedCredential) { in.BackupState = nil },
		"bs_without_be":       func(in *webauthnkit.ImportedCredential) { in.BackupEligible, in.BackupState = ptr(false), ptr(true) },
		"empty_id":            func(in *webauthnkit.ImportedCredential) { in.ID = nil },
		"id_1024_bytes":       func(in *webauthnkit.ImportedCredential) { in.ID = make([]byte, 1024) },
		"handle_65_bytes":     func(in *webauthnkit.ImportedCredential) { in.UserHandle = make([]byte, 65) },
		"aaguid_15_bytes":     func(in *webauthnkit.ImportedCredential) { in.AAGUID = make([]byte, 15) },
		"bad_attachment":      func(in *webauthnkit.ImportedCredential) { in.Attachment = "phone" },
		"no_key":              func(in *webauthnkit.ImportedCredential) { in.PublicKey = nil },
		"key_not_cbor":        func(in *webauthnkit.ImportedCredential) { in.PublicKey = []byte("-----BEGIN PUBLIC KEY-----") },
		"rsa_8192":            func(in *webauthnkit.ImportedCredential) { in.PublicKey = rsaCOSE(t, -257, bigN, e65537) },
		"rsa_exponent_2p31m1": func(in *webauthnkit.ImportedCredential) { in.PublicKey = rsaCOSE(t, -257, modulus(t, 256), e2p31m1) },
		"ec_point_off_curve": func(in *webauthnkit.ImportedCredential) {
			in.PublicKey = coseKey(t, map[int]any{1: 2, 3: -7, -1: 1, -2: make([]byte, 32), -3: big.NewInt(5).FillBytes(make([]byte, 32))})
		},
		"algorithm_not_configured": func(in *webauthnkit.ImportedCredential) {
			in.PublicKey = coseKey(t, map[int]any{1: 2, 3: -35, -1: 2, -2: make([]byte, 48), -3: make([]byte, 48)})
		},
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			in := importOf(old)
			mutate(&in)
			_, err := e.rp.ImportCredential(ctx, in)
			require.ErrorIs(t, err, webauthnkit.ErrInvalidRequest)
			_, err = e.store.GetCredential(ctx, in.ID)
			require.ErrorIs(t, err, webauthnkit.ErrNotFound, "nothing stored")
		})
	}
	t.Run("hostile_keys_wrap_ErrKeyNotAllowed", func(t *testing.T) {
		in := importOf(old)
		in.PublicKey = rsaCOSE(t, -257, bigN, e65537)
		_, err := e.rp.ImportCredential(ctx, in)
		require.ErrorIs(t, err, webauthnkit.ErrKeyNotAllowed)
	})
	t.Run("unknown_user", func(t *testing.T) {
		in := importOf(old)
		in.UserHandle = []byte("nobody")
		_, err := e.rp.ImportCredential(ctx, in)
		require.ErrorIs(t, err, webauthnkit.ErrUserNotFound)
	})
	t.Run("duplicates", func(t *testing.T) {
		_, err := e.rp.ImportCredential(ctx, importOf(old))
		require.NoError(t, err)
		_, err = e.rp.ImportCredential(ctx, importOf(old))
		require.ErrorIs(t, err, webauthnkit.ErrCredentialExists, "same account")
		in := importOf(old)
		in.ID = other.Credential.ID
		_, err = e.rp.ImportCredential(ctx, in)
		require.ErrorIs(t, err, webauthnkit.ErrCredentialExists, "another account's ID")
		require.ErrorIs(t, err, webauthnkit.ErrDuplicate)
	})
}

// TestCOSEKeyFromSPKI: a key stored as SubjectPublicKeyInfo (from
// getPublicKey()) converts to the COSE_Key of the same key, which imports
// and signs in; a key of another type than the algorithm, garbage and
// oversized input are refused.
func TestCOSEKeyFromSPKI(t *testing.T) {
	for _, tc := range []struct {
		alg    webauthntest.Alg
		kitAlg webauthnkit.Algorithm
	}{
		{webauthntest.ES256, webauthnkit.AlgES256},
		{webauthntest.EdDSA, webauthnkit.AlgEdDSA},
		{webauthntest.RS256, webauthnkit.AlgRS256},
	} {
		t.Run(tc.kitAlg.String(), func(t *testing.T) {
			old, auth := registerElsewhere(t, "alice", webauthntest.WithAlgorithm(tc.alg))
			spki, err := x509.MarshalPKIXPublicKey(auth.Credentials()[0].PublicKey)
			require.NoError(t, err)
			cose, err := webauthnkit.COSEKeyFromSPKI(spki, tc.kitAlg)
			require.NoError(t, err)
			require.Equal(t, old.PublicKey, cose, "the same canonical COSE_Key the authenticator sent")

			e := newEnv(t)
			_, err = e.rp.CreateUser(ctx, webauthnkit.NewUser{Handle: old.UserHandle, Name: "alice"})
			require.NoError(t, err)
			in := importOf(old)
			in.PublicKey = cose
			_, err = e.rp.ImportCredential(ctx, in)
			require.NoError(t, err)
			_, err = e.login(t, auth, "alice")
			require.NoError(t, err)
		})
	}
	_, auth := registerElsewhere(t, "bob")
	spki, err := x509.MarshalPKIXPublicKey(auth.Credentials()[0].PublicKey)
	require.NoError(t, err)
	for name, call := range map[string]func() error{
		"EC key as RS256": func() error { _, err := webauthnkit.COSEKeyFromSPKI(spki, webauthnkit.AlgRS256); return err },
		"P-256 as ES384":  func() error { _, err := webauthnkit.COSEKeyFromSPKI(spki, webauthnkit.AlgES384); return err },
		"P-256 as EdDSA":  func() error { _, err := webauthnkit.COSEKeyFromSPKI(spki, webauthnkit.AlgEdDSA); return err },
		"garbage": func() error {
			_, err := webauthnkit.COSEKeyFromSPKI([]byte("not DER"), webauthnkit.AlgES256)
			return err
		},
		"oversized": func() error {
			_, err := webauthnkit.COSEKeyFromSPKI(make([]byte, 5000), webauthnkit.AlgES256)
			return err
		},
		"unknown alg": func() error { _, err := webauthnkit.COSEKeyFromSPKI(spki, webauthnkit.Algorithm(1)); return err },
	} {
		require.ErrorIs(t, call(), webauthnkit.ErrInvalidRequest, name)
	}
}

// TestImportUnderEnforce: an imported record has no attestation, so
// enforce refuses it only for its model: denied by the AAGUID lists or
// revoked by the metadata; others are imported with the verdict stored.
func TestImportUnderEnforce(t *testing.T) {
	w := newAttWorld(t)
	denied := uuid.New()
	e := newEnv(t, func(c *webauthnkit.Config) {
		c.Attestation = w.policy(webauthnkit.AttestationEnforce)
		c.Attestation.DenyAAGUIDs = []string{denied.String()}
	})
	old, _ := registerElsewhere(t, "alice")
	_, err := e.rp.CreateUser(ctx, webauthnkit.NewUser{Handle: old.UserHandle, Name: "alice"})
	require.NoError(t, err)
	for name, aaguid := range map[string][]byte{"denied": denied[:], "revoked": w.revoked.AAGUID[:]} {
		in := importOf(old)
		in.AAGUID = aaguid
		_, err := e.rp.ImportCredential(ctx, in)
		require.ErrorIs(t, err, webauthnkit.ErrAttestationRefused, name)
		var refusal *webauthnkit.AttestationRefusal
		require.ErrorAs(t, err, &refusal)
		_, err = e.store.GetCredential(ctx, old.ID)
		require.ErrorIs(t, err, webauthnkit.ErrNotFound, "%s: nothing stored", name)
	}
	in := importOf(old)
	in.AAGUID = w.good.AAGUID[:]
	rec, err := e.rp.ImportCredential(ctx, in)
	require.NoError(t, err, "a model in good standing, without attestation: imported")
	require.Equal(t, "untrusted", rec.AttestationTrust)
	require.Equal(t, e.clock.Now(), rec.AttestationCheckedAt)
}

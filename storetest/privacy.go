package storetest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/webauthnkit/webauthnkit"
)

// Export and erasure (issue 17): webauthnkit.ExportUser returns everything
// the store holds about a person, and DeleteUser leaves no trace of them.

// fullUser stores a user with an email, two credentials and recovery codes.
func fullUser(t *testing.T, s credStore) (user, []cred, [][]byte) {
	t.Helper()
	u := RandomUser()
	u.Email = RandomEmail()
	u.EmailVerifiedAt = randomTime()
	c1 := RandomCredential(u.Handle)
	require.NoError(t, s.CreateUser(t.Context(), u, &c1))
	c2 := addCredential(t, s, u)
	codes := [][]byte{RandomBytes(webauthnkit.RecoveryCodeHashSize), RandomBytes(webauthnkit.RecoveryCodeHashSize)}
	require.NoError(t, s.SetRecoveryCodes(t.Context(), u.Handle, codes))
	return u, []cred{c1, c2}, codes
}

// testDeleteUserEveryTrace: after DeleteUser no read finds the user by
// handle, name or email, nor its credentials or recovery codes; its name,
// email, handle and credential IDs are free; a session epoch does not
// survive (a new user under the same handle starts from its own).
func testDeleteUserEveryTrace(t *testing.T, s credStore) {
	u, creds, codes := fullUser(t, s)
	_, err := s.EndSessions(t.Context(), u.Handle)
	require.NoError(t, err)
	require.NoError(t, s.DeleteUser(t.Context(), u.Handle))

	requireNoUser(t, s, u)
	_, err = s.GetUserByEmail(t.Context(), u.Email)
	require.ErrorIs(t, err, errNotFound, "GetUserByEmail of a deleted user")
	for _, c := range creds {
		requireNoCredential(t, s, c.ID)
		require.ErrorIs(t, s.UpdateCredentialUse(t.Context(), c.ID, c.SignCount, webauthnkit.CredentialUse{SignCount: c.SignCount + 1}), errNotFound)
	}
	requireList(t, s, u.Handle)
	n, err := s.RecoveryCodesLeft(t.Context(), u.Handle)
	require.NoError(t, err)
	require.Zero(t, n, "recovery codes left after DeleteUser")
	require.ErrorIs(t, s.UseRecoveryCode(t.Context(), u.Handle, codes[0]), errNotFound)
	_, err = s.EndSessions(t.Context(), u.Handle)
	require.ErrorIs(t, err, errNotFound, "EndSessions of a deleted user")
	if s.Features().ListUserHandles {
		page, err := lister(t, s).ListUserHandles(t.Context(), u.Handle[:len(u.Handle)-1], 1)
		require.NoError(t, err)
		for _, h := range page {
			require.False(t, bytes.Equal(h, u.Handle), "ListUserHandles returns a deleted user")
		}
	}

	// Everything is free again: a new account with the same handle, name,
	// email and credential IDs starts empty.
	again := RandomUser()
	again.Handle, again.Name, again.Email = bytes.Clone(u.Handle), u.Name, u.Email
	require.NoError(t, s.CreateUser(t.Context(), again, nil), "CreateUser with every identifier of a deleted user")
	for _, c := range creds {
		nc := RandomCredential(again.Handle)
		nc.ID = bytes.Clone(c.ID)
		require.NoError(t, s.AddCredential(t.Context(), nc), "AddCredential with a deleted user's credential ID")
	}
	requireUser(t, s, again)
	n, err = s.RecoveryCodesLeft(t.Context(), again.Handle)
	require.NoError(t, err)
	require.Zero(t, n, "a deleted user's recovery codes came back with its handle")
}

// testExportUserEverything: webauthnkit.ExportUser over the store returns
// every stored field of the user and its credentials, as JSON.
func testExportUserEverything(t *testing.T, s credStore) {
	u, creds, _ := fullUser(t, s)
	other, _ := createUser(t, s)
	exp, err := webauthnkit.ExportUser(t.Context(), s, u.Handle)
	require.NoError(t, err)
	raw, err := json.Marshal(exp)
	require.NoError(t, err)
	text := string(raw)
	enc := base64.RawURLEncoding.EncodeToString
	mustHave := []string{enc(u.Handle), jsonString(u.Name), jsonString(u.DisplayName), jsonString(u.Email),
		u.CreatedAt.UTC().Format(time.RFC3339), u.EmailVerifiedAt.UTC().Format(time.RFC3339), `"recovery_codes_left":2`}
	for _, c := range creds {
		mustHave = append(mustHave, enc(c.ID), enc(c.PublicKey), enc(c.AAGUID), jsonString(c.Name), jsonString(c.AttestationFormat),
			jsonString(c.Attachment), c.CreatedAt.UTC().Format(time.RFC3339), c.LastUsedAt.UTC().Format(time.RFC3339))
		if len(c.AttestationObject) > 0 {
			mustHave = append(mustHave, enc(c.AttestationObject), enc(c.AttestationClientDataHash))
		}
	}
	for _, want := range mustHave {
		require.Contains(t, text, strings.TrimSuffix(want, "Z"), "the export lacks a stored value")
	}
	require.Len(t, exp.Credentials, 2)
	require.NotContains(t, text, enc(other.Handle), "the export holds another user")
	require.NotContains(t, text, jsonString(other.Name), "the export holds another user")

	_, err = webauthnkit.ExportUser(t.Context(), s, RandomHandle())
	require.ErrorIs(t, err, errNotFound, "ExportUser of an unknown user")
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

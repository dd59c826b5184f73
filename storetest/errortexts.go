package storetest

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Error texts never contain stored values: they end up in logs, and a
// driver's duplicate-key message quotes the key (a user name, the bytes of
// a credential ID).

// idKinds are the credential IDs the error-text clauses use: printable ones,
// which drivers quote verbatim, and binary ones, which they print in hex or
// escaped.
var idKinds = []struct {
	name string
	make func() []byte
}{
	{"printable_id", func() []byte { return []byte("credid-" + hex.EncodeToString(RandomBytes(12))) }},
	{"binary_id", func() []byte { return RandomBytes(32) }},
}

// leakedForms returns the forms of value found in text: the value itself,
// hex (either case, plain or \x-escaped byte by byte) and base64 (standard
// or URL alphabet). Prefixes are looked for, so that a message truncating a
// long key is caught too; they are long enough never to match by chance.
func leakedForms(text string, value []byte) []string {
	var found []string
	look := func(form, s string) {
		if s != "" && strings.Contains(text, s) {
			found = append(found, form)
		}
	}
	prefix := func(n int) []byte { return value[:min(n, len(value))] }
	look("raw", string(prefix(12)))
	look("hex", hex.EncodeToString(prefix(8)))
	look("HEX", strings.ToUpper(hex.EncodeToString(prefix(8))))
	var esc, escUpper strings.Builder
	for _, b := range prefix(4) {
		fmt.Fprintf(&esc, `\x%02x`, b)
		fmt.Fprintf(&escUpper, `\x%02X`, b)
	}
	look(`\x escaped`, esc.String())
	look(`\X escaped`, escUpper.String())
	if len(value) >= 6 {
		look("base64", base64.StdEncoding.EncodeToString(value[:6]))
		look("base64url", base64.URLEncoding.EncodeToString(value[:6]))
	}
	return found
}

// assertNoValues checks that err's text contains none of the values named.
func assertNoValues(t *testing.T, call string, err error, values map[string][]byte) {
	t.Helper()
	if err == nil {
		return
	}
	text := err.Error()
	for name, v := range values {
		if forms := leakedForms(text, v); len(forms) > 0 {
			assert.Fail(t, "an error text contains a stored value",
				"%s: the error text contains the %s (as %s): %q", call, name, strings.Join(forms, ", "), text)
		}
	}
}

func userValues(u user) map[string][]byte {
	return map[string][]byte{
		"user name":                []byte(u.Name),
		"random part of user name": []byte(u.Name[len(u.Name)-12:]),
		"user handle":              u.Handle,
	}
}

func testErrorTextsCreateUser(t *testing.T, s credStore) {
	for _, kind := range idKinds {
		t.Run(kind.name, func(t *testing.T) {
			u := RandomUser()
			c := RandomCredential(u.Handle)
			c.ID = kind.make()
			require.NoError(t, s.CreateUser(t.Context(), u, &c))
			values := userValues(u)
			values["credential ID"] = c.ID

			// The same name, the same handle, the same credential ID.
			sameName := RandomUser()
			sameName.Name = u.Name
			err := s.CreateUser(t.Context(), sameName, new(RandomCredential(sameName.Handle)))
			require.ErrorIs(t, err, errUserExists, "CreateUser with a name in use")
			assertNoValues(t, "CreateUser with a name in use", err, values)

			sameHandle := RandomUser()
			sameHandle.Handle = u.Handle
			err = s.CreateUser(t.Context(), sameHandle, new(RandomCredential(u.Handle)))
			require.ErrorIs(t, err, errUserExists, "CreateUser with a handle in use")
			assertNoValues(t, "CreateUser with a handle in use", err, values)

			sameID := RandomUser()
			sc := RandomCredential(sameID.Handle)
			sc.ID = c.ID
			err = s.CreateUser(t.Context(), sameID, &sc)
			require.ErrorIs(t, err, errCredentialExists, "CreateUser with a credential ID in use")
			assertNoValues(t, "CreateUser with a credential ID in use", err, values)
		})
	}
}

func testErrorTextsAddCredential(t *testing.T, s credStore) {
	for _, kind := range idKinds {
		t.Run(kind.name, func(t *testing.T) {
			u, _ := createUser(t, s)
			c := RandomCredential(u.Handle)
			c.ID = kind.make()
			require.NoError(t, s.AddCredential(t.Context(), c))
			other, _ := createUser(t, s)
			values := userValues(u)
			values["credential ID"] = c.ID
			values["other user handle"] = other.Handle

			for _, owner := range []user{u, other} {
				dup := RandomCredential(owner.Handle)
				dup.ID = c.ID
				err := s.AddCredential(t.Context(), dup)
				require.ErrorIs(t, err, errCredentialExists, "AddCredential with a credential ID in use")
				assertNoValues(t, "AddCredential with a credential ID in use", err, values)
			}
		})
	}
}

// testErrorTextsOtherRefusals: the other answers about absent values and
// refusals do not echo the values asked about either.
func testErrorTextsOtherRefusals(t *testing.T, s credStore) {
	ctx := t.Context()
	u, c := createUser(t, s)
	ghost := RandomUser()
	ghostID := []byte("credid-" + hex.EncodeToString(RandomBytes(12)))
	values := userValues(u)
	for k, v := range userValues(ghost) {
		values["unknown "+k] = v
	}
	values["credential ID"] = c.ID
	values["unknown credential ID"] = ghostID

	_, err := s.GetUserByName(ctx, ghost.Name)
	assertNoValues(t, "GetUserByName of an unknown name", err, values)
	_, err = s.GetUserByHandle(ctx, ghost.Handle)
	assertNoValues(t, "GetUserByHandle of an unknown handle", err, values)
	_, err = s.GetCredential(ctx, ghostID)
	assertNoValues(t, "GetCredential of an unknown ID", err, values)
	err = s.AddCredential(ctx, RandomCredential(ghost.Handle))
	assertNoValues(t, "AddCredential for an unknown user", err, values)
	err = s.DeleteCredential(ctx, ghost.Handle, c.ID, false)
	assertNoValues(t, "DeleteCredential of another user's credential", err, values)
	err = s.DeleteCredential(ctx, u.Handle, c.ID, false)
	require.ErrorIs(t, err, errLastCredential)
	assertNoValues(t, "DeleteCredential of the last credential", err, values)
	_, err = s.EndSessions(ctx, ghost.Handle)
	assertNoValues(t, "EndSessions of an unknown user", err, values)
	err = s.DeleteUser(ctx, ghost.Handle)
	assertNoValues(t, "DeleteUser of an unknown user", err, values)
}

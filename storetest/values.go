package storetest

import (
	"bytes"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/webauthnkit/webauthnkit"
)

// ---- LargeAndUnicodeValues ----

var allTransports = []string{"internal", "hybrid", "usb", "nfc", "ble"}

func testLargeCredential(t *testing.T, s credStore) {
	u := RandomUser()
	c1 := RandomCredential(u.Handle)
	c1.ID = RandomBytes(1023) // the WebAuthn maximum
	c1.PublicKey = RandomBytes(2048)
	c1.Transports = slices.Clone(allTransports)
	c1.AttestationFormat = "android-safetynet"
	c1.SignCount = math.MaxUint32 - 1
	require.NoError(t, s.CreateUser(t.Context(), u, &c1))

	c2 := RandomCredential(u.Handle)
	c2.ID = RandomBytes(1023)
	copy(c2.ID, c1.ID[:1000]) // shares a long prefix with c1
	c2.PublicKey = RandomBytes(2048)
	c2.Transports = slices.Clone(allTransports)
	c2.CreatedAt = c1.CreatedAt.Add(time.Second)
	require.NoError(t, s.AddCredential(t.Context(), c2))

	requireCredential(t, s, c1)
	requireCredential(t, s, c2)
	requireList(t, s, u.Handle, c1, c2)

	use := webauthnkit.CredentialUse{SignCount: math.MaxUint32, UserVerified: true, LastUsedAt: time.Now()}
	require.NoError(t, s.UpdateCredentialUse(t.Context(), c1.ID, c1.SignCount, use))
	c1 = withUse(c1, use)
	require.NoError(t, s.RenameCredential(t.Context(), u.Handle, c1.ID, "renamed"))
	c1.Name = "renamed"
	requireCredential(t, s, c1)
	require.NoError(t, s.DeleteCredential(t.Context(), u.Handle, c2.ID, false))
	requireList(t, s, u.Handle, c1)
}

// fourByteRunes returns n random runes that each take 4 bytes in UTF-8,
// from the emoji and CJK Extension B blocks.
func fourByteRunes(n int) string {
	var b strings.Builder
	rnd := RandomBytes(2 * n)
	for i := range n {
		v := rune(rnd[2*i])<<8 | rune(rnd[2*i+1])
		if i%2 == 0 {
			b.WriteRune(0x1F300 + v%0x250) // emoji and pictographs
		} else {
			b.WriteRune(0x20000 + v%0xA6E0) // CJK Unified Ideographs Extension B
		}
	}
	return b.String()
}

// mixedRunes returns n runes mixing ASCII, Latin, Greek, Cyrillic, Arabic,
// Hebrew, Devanagari, CJK, Hangul, emoji (with modifiers and ZWJ) and
// combining marks, starting with a random part so that it is unique.
func mixedRunes(n int) string {
	alphabet := []rune("aZ09 -_.'éÅßøΩλЖщعבनि中文日本語한국어😀👍🏽\u200d🚀\u0301\u0308ﬁ")
	var out []rune
	out = append(out, []rune(fourByteRunes(8))...)
	rnd := RandomBytes(n)
	for i := 0; len(out) < n; i++ {
		out = append(out, alphabet[int(rnd[i])%len(alphabet)])
	}
	return string(out)
}

func testUnicodeNames(t *testing.T, s credStore) {
	u := RandomUser()
	u.Name = fourByteRunes(webauthnkit.MaxNameLength) // 4 bytes each
	u.DisplayName = mixedRunes(255)
	require.Equal(t, 4*webauthnkit.MaxNameLength, len(u.Name))
	c := RandomCredential(u.Handle)
	c.Name = fourByteRunes(64)
	c.Transports = slices.Clone(allTransports)
	require.NoError(t, s.CreateUser(t.Context(), u, &c))
	requireUser(t, s, u)
	requireCredential(t, s, c)

	newName := mixedRunes(64)
	require.NoError(t, s.RenameCredential(t.Context(), u.Handle, c.ID, newName))
	c.Name = newName
	requireCredential(t, s, c)
}

// testNormalizationDistinct: names are compared byte for byte, so the NFC
// and NFD spellings of the same text are two different users, and a name is
// returned exactly as stored, not normalised.
func testNormalizationDistinct(t *testing.T, s credStore) {
	base := RandomName()
	nfc := base + "-Zo\u00eb-caf\u00e9-\uac00"         // precomposed ë, é and Hangul syllable
	nfd := base + "-Zoe\u0308-cafe\u0301-\u1100\u1161" // decomposed
	require.NotEqual(t, nfc, nfd)

	u1 := RandomUser()
	u1.Name = nfc
	u1.DisplayName = nfd
	c1 := RandomCredential(u1.Handle)
	c1.Name = nfd
	require.NoError(t, s.CreateUser(t.Context(), u1, &c1))

	u2 := RandomUser()
	u2.Name = nfd
	u2.DisplayName = nfc
	c2 := RandomCredential(u2.Handle)
	c2.Name = nfc
	require.NoError(t, s.CreateUser(t.Context(), u2, &c2), "CreateUser with the NFD spelling of a stored NFC name")

	requireUser(t, s, u1)
	requireUser(t, s, u2)
	requireCredential(t, s, c1)
	requireCredential(t, s, c2)
}

// testIDsTrailingZeros: IDs are byte strings, not C strings or padded
// columns: r, r+00 and r+00 00 are three credentials.
func testIDsTrailingZeros(t *testing.T, s credStore) {
	u := RandomUser()
	r := RandomBytes(24)
	c1 := RandomCredential(u.Handle)
	c1.ID = bytes.Clone(r)
	require.NoError(t, s.CreateUser(t.Context(), u, &c1))
	c2 := RandomCredential(u.Handle)
	c2.ID = append(bytes.Clone(r), 0)
	c2.CreatedAt = c1.CreatedAt
	require.NoError(t, s.AddCredential(t.Context(), c2))
	c3 := RandomCredential(u.Handle)
	c3.ID = append(bytes.Clone(r), 0, 0)
	c3.CreatedAt = c1.CreatedAt
	require.NoError(t, s.AddCredential(t.Context(), c3))
	c4 := RandomCredential(u.Handle)
	c4.ID = append([]byte{0}, r...)
	c4.CreatedAt = c1.CreatedAt
	require.NoError(t, s.AddCredential(t.Context(), c4))

	for _, c := range []cred{c1, c2, c3, c4} {
		requireCredential(t, s, c)
	}
	requireList(t, s, u.Handle, c4, c1, c2, c3)
	require.NoError(t, s.DeleteCredential(t.Context(), u.Handle, c2.ID, false))
	requireList(t, s, u.Handle, c4, c1, c3)
}

// ---- slices ----

func testInputSlicesNotRetained(t *testing.T, s credStore) {
	ctx := t.Context()
	u := RandomUser()
	c1 := RandomCredential(u.Handle)
	c1.Transports = slices.Clone(allTransports)
	wantU, want1 := cloneUser(u), cloneCred(c1)
	require.NoError(t, s.CreateUser(ctx, u, &c1))
	scribble(u.Handle)
	scribbleCred(c1)

	c2 := RandomCredential(wantU.Handle)
	want2 := cloneCred(c2)
	require.NoError(t, s.AddCredential(ctx, c2))
	scribbleCred(c2)

	requireUser(t, s, wantU)
	requireCredential(t, s, want1)
	requireCredential(t, s, want2)

	// Slices passed only as keys may be reused too.
	id := bytes.Clone(want1.ID)
	handle := bytes.Clone(wantU.Handle)
	use := webauthnkit.CredentialUse{SignCount: want1.SignCount + 1, LastUsedAt: time.Now()}
	require.NoError(t, s.UpdateCredentialUse(ctx, id, want1.SignCount, use))
	want1 = withUse(want1, use)
	scribble(id)
	copy(id, want1.ID)
	require.NoError(t, s.RenameCredential(ctx, handle, id, "renamed"))
	want1.Name = "renamed"
	scribble(id)
	scribble(handle)

	requireUser(t, s, wantU)
	requireCredential(t, s, want1)
	requireList(t, s, wantU.Handle, sortedByCreation(want1, want2)...)
}

func sortedByCreation(cs ...cred) []cred {
	slices.SortFunc(cs, func(a, b cred) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return bytes.Compare(a.ID, b.ID)
	})
	return cs
}

func testReturnedValuesOwned(t *testing.T, s credStore) {
	ctx := t.Context()
	u := RandomUser()
	c1 := RandomCredential(u.Handle)
	c1.Transports = slices.Clone(allTransports)
	require.NoError(t, s.CreateUser(ctx, u, &c1))
	c2 := addCredential(t, s, u)

	got, err := s.GetCredential(ctx, c1.ID)
	require.NoError(t, err)
	// Appending to one returned slice must not overwrite another.
	handle := bytes.Clone(got.UserHandle)
	_ = append(got.ID, bytes.Repeat([]byte{0xEE}, 64)...)
	_ = append(got.UserHandle, bytes.Repeat([]byte{0xEE}, 64)...)
	_ = append(got.PublicKey, bytes.Repeat([]byte{0xEE}, 64)...)
	require.Equal(t, handle, got.UserHandle, "appending to a returned ID overwrote the returned UserHandle")
	AssertCredentialEqual(t, c1, got, "after appending to the returned slices")
	scribbleCred(got)

	list, err := s.ListCredentials(ctx, u.Handle)
	require.NoError(t, err)
	for _, c := range list {
		scribbleCred(c)
	}
	gu, err := s.GetUserByHandle(ctx, u.Handle)
	require.NoError(t, err)
	scribble(gu.Handle)
	gu, err = s.GetUserByName(ctx, u.Name)
	require.NoError(t, err)
	scribble(gu.Handle)

	requireUser(t, s, u)
	requireCredential(t, s, c1)
	requireCredential(t, s, c2)
	requireList(t, s, u.Handle, sortedByCreation(c1, c2)...)
}

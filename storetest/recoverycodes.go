package storetest

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/webauthnkit/webauthnkit"
)

// Recovery codes (issue 14): a set of keyed hashes per user, each used at
// most once, removed with the user.

// randomCodeHashes returns n random hashes of webauthnkit.RecoveryCodeHashSize
// bytes.
func randomCodeHashes(n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = RandomBytes(webauthnkit.RecoveryCodeHashSize)
	}
	return out
}

func requireCodesLeft(t *testing.T, s credStore, handle []byte, want int, msgAndArgs ...any) {
	t.Helper()
	n, err := s.RecoveryCodesLeft(t.Context(), handle)
	require.NoError(t, err, "RecoveryCodesLeft")
	require.Equal(t, want, n, msgAndArgs...)
}

func testRecoveryCodesSetAndCount(t *testing.T, s credStore) {
	u, _ := createUser(t, s)
	requireCodesLeft(t, s, u.Handle, 0, "a new user has no recovery codes")
	hashes := randomCodeHashes(10)
	require.NoError(t, s.SetRecoveryCodes(t.Context(), u.Handle, hashes))
	requireCodesLeft(t, s, u.Handle, 10)
	for i, h := range hashes {
		require.NoError(t, s.UseRecoveryCode(t.Context(), u.Handle, h), "UseRecoveryCode of code %d", i)
		requireCodesLeft(t, s, u.Handle, 10-i-1)
	}
	requireUser(t, s, u) // the user is unchanged
}

// testRecoveryCodesInputNotRetained: the store copies the hashes given;
// a caller reusing its buffers changes nothing stored.
func testRecoveryCodesInputNotRetained(t *testing.T, s credStore) {
	u, _ := createUser(t, s)
	hashes := randomCodeHashes(2)
	given := [][]byte{append([]byte(nil), hashes[0]...), append([]byte(nil), hashes[1]...)}
	require.NoError(t, s.SetRecoveryCodes(t.Context(), u.Handle, given))
	for _, b := range given {
		for i := range b {
			b[i] ^= 0xff
		}
	}
	probe := append([]byte(nil), hashes[0]...)
	require.NoError(t, s.UseRecoveryCode(t.Context(), u.Handle, probe), "a code whose input buffer was overwritten after SetRecoveryCodes")
	for i := range probe {
		probe[i] = 0
	}
	require.NoError(t, s.UseRecoveryCode(t.Context(), u.Handle, hashes[1]), "after the buffer given to UseRecoveryCode was overwritten")
	require.ErrorIs(t, s.UseRecoveryCode(t.Context(), u.Handle, given[0]), errNotFound, "the overwritten bytes were never a code")
}

// testRecoveryCodesReplace: a new set invalidates the old one entirely.
func testRecoveryCodesReplace(t *testing.T, s credStore) {
	u, _ := createUser(t, s)
	old := randomCodeHashes(10)
	require.NoError(t, s.SetRecoveryCodes(t.Context(), u.Handle, old))
	fresh := randomCodeHashes(5)
	fresh = append(fresh, old[0]) // a hash in both sets stays usable once
	require.NoError(t, s.SetRecoveryCodes(t.Context(), u.Handle, fresh))
	requireCodesLeft(t, s, u.Handle, 6)
	for _, h := range old[1:] {
		require.ErrorIs(t, s.UseRecoveryCode(t.Context(), u.Handle, h), errNotFound, "a code of the replaced set")
	}
	for _, h := range fresh {
		require.NoError(t, s.UseRecoveryCode(t.Context(), u.Handle, h), "a code of the new set")
	}
	requireCodesLeft(t, s, u.Handle, 0)
}

func testRecoveryCodesClear(t *testing.T, s credStore) {
	for _, empty := range [][][]byte{nil, {}} {
		u, _ := createUser(t, s)
		hashes := randomCodeHashes(3)
		require.NoError(t, s.SetRecoveryCodes(t.Context(), u.Handle, hashes))
		require.NoError(t, s.SetRecoveryCodes(t.Context(), u.Handle, empty), "SetRecoveryCodes(%#v)", empty)
		requireCodesLeft(t, s, u.Handle, 0)
		require.ErrorIs(t, s.UseRecoveryCode(t.Context(), u.Handle, hashes[0]), errNotFound, "a cleared code")
	}
}

func testRecoveryCodesUseOnce(t *testing.T, s credStore) {
	u, _ := createUser(t, s)
	hashes := randomCodeHashes(3)
	require.NoError(t, s.SetRecoveryCodes(t.Context(), u.Handle, hashes))
	require.NoError(t, s.UseRecoveryCode(t.Context(), u.Handle, hashes[1]))
	require.ErrorIs(t, s.UseRecoveryCode(t.Context(), u.Handle, hashes[1]), errNotFound, "second use of a code")
	requireCodesLeft(t, s, u.Handle, 2)
}

// testRecoveryCodesUnknown: an unknown hash, another user's code, a prefix
// of a code, and any code of an unknown user are ErrNotFound.
func testRecoveryCodesUnknown(t *testing.T, s credStore) {
	u, _ := createUser(t, s)
	other, _ := createUser(t, s)
	hashes := randomCodeHashes(2)
	otherHashes := randomCodeHashes(2)
	require.NoError(t, s.SetRecoveryCodes(t.Context(), u.Handle, hashes))
	require.NoError(t, s.SetRecoveryCodes(t.Context(), other.Handle, otherHashes))

	require.ErrorIs(t, s.UseRecoveryCode(t.Context(), u.Handle, RandomBytes(webauthnkit.RecoveryCodeHashSize)), errNotFound, "an unknown hash")
	require.ErrorIs(t, s.UseRecoveryCode(t.Context(), u.Handle, otherHashes[0]), errNotFound, "another user's code")
	require.ErrorIs(t, s.UseRecoveryCode(t.Context(), u.Handle, hashes[0][:16]), errNotFound, "a prefix of a code")
	require.ErrorIs(t, s.UseRecoveryCode(t.Context(), u.Handle, nil), errNotFound, "an empty hash")
	require.ErrorIs(t, s.UseRecoveryCode(t.Context(), RandomHandle(), hashes[0]), errNotFound, "an unknown user")
	require.ErrorIs(t, s.SetRecoveryCodes(t.Context(), RandomHandle(), randomCodeHashes(1)), errNotFound, "SetRecoveryCodes of an unknown user")
	n, err := s.RecoveryCodesLeft(t.Context(), RandomHandle())
	require.NoError(t, err, "RecoveryCodesLeft of an unknown user")
	require.Zero(t, n, "RecoveryCodesLeft of an unknown user")

	requireCodesLeft(t, s, u.Handle, 2, "failed uses consume nothing")
	requireCodesLeft(t, s, other.Handle, 2, "failed uses consume nothing")
}

// testRecoveryCodesDeletedWithUser: a user created again under the handle
// of a deleted one does not inherit its codes.
func testRecoveryCodesDeletedWithUser(t *testing.T, s credStore) {
	u, _ := createUser(t, s)
	hashes := randomCodeHashes(4)
	require.NoError(t, s.SetRecoveryCodes(t.Context(), u.Handle, hashes))
	require.NoError(t, s.DeleteUser(t.Context(), u.Handle))
	requireCodesLeft(t, s, u.Handle, 0, "codes of a deleted user")
	require.ErrorIs(t, s.UseRecoveryCode(t.Context(), u.Handle, hashes[0]), errNotFound, "a code of a deleted user")

	again := RandomUser()
	again.Handle = u.Handle
	require.NoError(t, s.CreateUser(t.Context(), again, nil))
	requireCodesLeft(t, s, again.Handle, 0, "a user created under a deleted user's handle")
	require.ErrorIs(t, s.UseRecoveryCode(t.Context(), again.Handle, hashes[1]), errNotFound, "a deleted user's code, by a new user with its handle")
}

// testRecoveryCodesBounds: up to MaxRecoveryCodes hashes of
// RecoveryCodeHashSize bytes are accepted; more hashes, or a longer one,
// are refused (any error) and change nothing.
func testRecoveryCodesBounds(t *testing.T, s credStore) {
	u, _ := createUser(t, s)
	full := randomCodeHashes(webauthnkit.MaxRecoveryCodes)
	require.NoError(t, s.SetRecoveryCodes(t.Context(), u.Handle, full), "%d hashes", webauthnkit.MaxRecoveryCodes)
	requireCodesLeft(t, s, u.Handle, webauthnkit.MaxRecoveryCodes)

	require.Error(t, s.SetRecoveryCodes(t.Context(), u.Handle, randomCodeHashes(webauthnkit.MaxRecoveryCodes+1)), "%d hashes", webauthnkit.MaxRecoveryCodes+1)
	long := randomCodeHashes(2)
	long[1] = RandomBytes(webauthnkit.RecoveryCodeHashSize + 1)
	require.Error(t, s.SetRecoveryCodes(t.Context(), u.Handle, long), "a hash of %d bytes", webauthnkit.RecoveryCodeHashSize+1)
	huge := randomCodeHashes(1)
	huge[0] = RandomBytes(64 << 10)
	require.Error(t, s.SetRecoveryCodes(t.Context(), u.Handle, huge), "a hash of 64 KiB")

	requireCodesLeft(t, s, u.Handle, webauthnkit.MaxRecoveryCodes, "refused sets change nothing")
	require.NoError(t, s.UseRecoveryCode(t.Context(), u.Handle, full[0]), "the set stored before the refusals")
}

// testRecoveryCodesConcurrentSameCode: 16 uses of one code at once, exactly
// one succeeds.
func testRecoveryCodesConcurrentSameCode(t *testing.T, s credStore) {
	const n = 16
	u, _ := createUser(t, s)
	hashes := randomCodeHashes(3)
	require.NoError(t, s.SetRecoveryCodes(t.Context(), u.Handle, hashes))
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = s.UseRecoveryCode(t.Context(), u.Handle, hashes[1])
		})
	}
	close(start)
	wg.Wait()
	wins := 0
	for _, err := range errs {
		if err == nil {
			wins++
			continue
		}
		require.ErrorIs(t, err, errNotFound, "a losing concurrent use")
	}
	require.Equal(t, 1, wins, "concurrent uses of one code that succeeded")
	requireCodesLeft(t, s, u.Handle, 2)
}

// testRecoveryCodesConcurrentDifferentCodes: uses of different codes at
// once all succeed and none is lost (a read-modify-write of the whole set
// loses some).
func testRecoveryCodesConcurrentDifferentCodes(t *testing.T, s credStore) {
	const n = 16
	u, _ := createUser(t, s)
	hashes := randomCodeHashes(n + 2)
	require.NoError(t, s.SetRecoveryCodes(t.Context(), u.Handle, hashes))
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = s.UseRecoveryCode(t.Context(), u.Handle, hashes[i])
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		require.NoError(t, err, "concurrent use of code %d", i)
	}
	requireCodesLeft(t, s, u.Handle, 2)
	for i := range n {
		require.ErrorIs(t, s.UseRecoveryCode(t.Context(), u.Handle, hashes[i]), errNotFound, "code %d after its use", i)
	}
}

// testErrorTextsRecoveryCodes: refusals do not echo a hash.
func testErrorTextsRecoveryCodes(t *testing.T, s credStore) {
	u, _ := createUser(t, s)
	hashes := randomCodeHashes(2)
	require.NoError(t, s.SetRecoveryCodes(t.Context(), u.Handle, hashes))
	values := userValues(u)
	ghost := RandomBytes(webauthnkit.RecoveryCodeHashSize)
	values["unknown hash"] = ghost
	values["hash"] = hashes[0]
	err := s.UseRecoveryCode(t.Context(), u.Handle, ghost)
	assertNoValues(t, "UseRecoveryCode of an unknown hash", err, values)
	require.NoError(t, s.UseRecoveryCode(t.Context(), u.Handle, hashes[0]))
	err = s.UseRecoveryCode(t.Context(), u.Handle, hashes[0])
	assertNoValues(t, "UseRecoveryCode of a used hash", err, values)
	long := append(randomCodeHashes(1), append([]byte(nil), hashes[1]...))
	long[1] = append(long[1], 0)
	values["long hash"] = long[1]
	err = s.SetRecoveryCodes(t.Context(), u.Handle, long)
	assertNoValues(t, "SetRecoveryCodes with a hash too long", err, values)
}

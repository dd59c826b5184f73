package mds

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// With the FIDO root (given or by default) the signer's name is required:
// a BLOB without an x5c header (the root itself as signer) is refused
// before any signature is checked, which shows the pin is applied.
func TestFIDORootPinsSignerName(t *testing.T) {
	blob := []byte("eyJhbGciOiJSUzI1NiJ9.e30.AAAA") // {"alg":"RS256"}.{}.sig
	_, err := Verify(blob, nil, time.Now())
	require.ErrorIs(t, err, ErrSignature)
	require.ErrorContains(t, err, FIDOSignerName)
	_, err = Verify(blob, FIDORoot(), time.Now())
	require.ErrorContains(t, err, FIDOSignerName)
}

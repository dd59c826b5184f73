// Package aaguids names authenticator models by AAGUID from an embedded
// table generated from the community list
// github.com/passkeydeveloper/passkey-authenticator-aaguids (names only;
// names_gen.go's header gives the source commits).
//
// To refresh the table, clone the list and run, in this directory:
//
//	AAGUIDS=/path/to/passkey-authenticator-aaguids \
//	AAGUIDS_COMMIT=$(git -C "$AAGUIDS" rev-parse HEAD) go generate
//
// The generator refuses an empty, truncated or malformed list; review the
// diff of names_gen.go before committing it.
package aaguids

//go:generate go run ./gen -o names_gen.go -in ${AAGUIDS}/combined_aaguid.json=combined_aaguid.json@${AAGUIDS_COMMIT} -in ${AAGUIDS}/aaguid.json=aaguid.json@${AAGUIDS_COMMIT}

import (
	"bytes"
	"slices"
)

type entry struct {
	id   [16]byte
	name string
}

// Name returns the name of the authenticator model with this AAGUID, or ""
// when the table does not list it, the AAGUID is all zero (authenticators
// that hide their model) or not 16 bytes long.
func Name(aaguid []byte) string {
	if len(aaguid) != 16 {
		return ""
	}
	i, ok := slices.BinarySearchFunc(table[:], aaguid, func(e entry, id []byte) int { return bytes.Compare(e.id[:], id) })
	if !ok {
		return ""
	}
	return table[i].name
}

// Len returns how many AAGUIDs the table names.
func Len() int { return len(table) }

package webauthnkit

import (
	"bytes"
	"context"
	"testing"
)

// BenchmarkCeremonyMAC is the integrity check's cost per ceremony (seal at
// Begin, open at Finish, the store key at both) on a record of the size of a login state.
func BenchmarkCeremonyMAC(b *testing.B) {
	keys, err := newCeremonyKeys(bytes.Repeat([]byte{1}, 32))
	if err != nil {
		b.Fatal(err)
	}
	rp := &RelyingParty{ceremonyKeys: keys}
	data := bytes.Repeat([]byte{'x'}, 600)
	id := "a-ceremony-id-of-43-characters-aaaaaaaaaaaa"
	b.ReportAllocs()
	for b.Loop() {
		_ = rp.ceremonyStoreID(id) // at Begin
		_ = rp.ceremonyStoreID(id) // at Finish
		record := rp.sealCeremony(id, bytes.Clone(data))
		if _, ok := rp.openCeremony(context.Background(), id, record); !ok {
			b.Fatal("genuine record refused")
		}
	}
}

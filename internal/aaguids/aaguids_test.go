package aaguids

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"
	"unicode"
)

func mustUUID(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, "-", ""))
	if err != nil || len(b) != 16 {
		t.Fatalf("bad test AAGUID %q", s)
	}
	return b
}

func TestName(t *testing.T) {
	for id, want := range map[string]string{
		"ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4": "Google Password Manager",
		"fbfc3007-154e-4ecc-8c0b-6e020557d7bd": "Apple Passwords", // was "iCloud Keychain" in the list
		"dd4ec289-e01d-41c9-bb89-70fa845d4bf2": "iCloud Keychain (Managed)",
		"08987058-cadc-4b81-b6e1-30de50dcbe96": "Windows Hello",
		"2fc0579f-8113-47ea-b116-bb5a8db9202a": "YubiKey 5 Series with NFC",
		"bada5566-a7aa-401f-bd96-45619a55120d": "1Password",
		"00000000-0000-0000-0000-000000000001": "",
	} {
		if got := Name(mustUUID(t, id)); got != want {
			t.Errorf("Name(%s) = %q, want %q", id, got, want)
		}
	}
	if got := Name(make([]byte, 16)); got != "" {
		t.Errorf("all-zero AAGUID: %q", got)
	}
	known := mustUUID(t, "ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4")
	for n := 0; n <= 64; n++ {
		if n == 16 {
			continue
		}
		b := bytes.Repeat(known, 5)[:n]
		if got := Name(b); got != "" {
			t.Errorf("%d bytes: %q", n, got)
		}
	}
	if Name(nil) != "" {
		t.Error("nil")
	}
}

// Binary search needs the table sorted without duplicates; every name is
// short printable text (the generator checks, this guards hand edits).
func TestTableWellFormed(t *testing.T) {
	if Len() < 100 {
		t.Fatalf("only %d entries", Len())
	}
	for i, e := range table {
		if i > 0 && bytes.Compare(table[i-1].id[:], e.id[:]) >= 0 {
			t.Fatalf("entry %d out of order", i)
		}
		if e.id == ([16]byte{}) || e.name == "" || len(e.name) > 128 {
			t.Fatalf("entry %d: %x %q", i, e.id, e.name)
		}
		for _, r := range e.name {
			if !unicode.IsPrint(r) {
				t.Fatalf("entry %d: %q", i, e.name)
			}
		}
		if Name(e.id[:]) != e.name {
			t.Fatalf("entry %d not found", i)
		}
	}
}

func BenchmarkName(b *testing.B) {
	id := table[len(table)/3].id
	for b.Loop() {
		_ = Name(id[:])
	}
}

package sealstore_test

import (
	"context"
	"encoding/base64"
	"errors"
	"testing"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/sealstore"
)

// FuzzStoredValues: whatever a database writer puts in the sealed columns
// (random bytes, truncated or extended values, another key's), a read
// returns an error matching ErrTampered or ErrKeyMissing, never a panic
// and never data. go test runs the seeds; go test -fuzz FuzzStoredValues
// explores.
func FuzzStoredValues(f *testing.F) {
	kr, err := sealstore.NewKeyring(sealstore.RandomSecret(), sealstore.NewKey("k1"))
	if err != nil {
		f.Fatal(err)
	}
	s, inner := sealedMem(f, kr)
	ctx := context.Background()
	u := storetestUser()
	c := storetestCredential(u.Handle)
	if err := s.CreateUser(ctx, u, &c); err != nil {
		f.Fatal(err)
	}
	row, _ := inner.GetCredential(ctx, c.ID)
	raw, _ := base64.RawURLEncoding.DecodeString(row.Name)
	f.Add(raw)
	f.Add(raw[:len(raw)-1])
	f.Add(append(append([]byte{}, raw...), 0))
	f.Add([]byte{})
	f.Add([]byte{1})
	f.Add([]byte{1, 255})
	f.Add([]byte{1, 2, 'k', '1'})
	f.Add([]byte{1, 2, 'k', '2', 0, 0})
	f.Add([]byte{2, 2, 'k', '1'})
	n := 0
	f.Fuzz(func(t *testing.T, value []byte) {
		if string(value) == string(raw) {
			return // the genuine value
		}
		n++
		// A fresh credential row per input, written around the seal.
		planted := row
		planted.ID = append([]byte("fuzz-"), byte(n), byte(n>>8), byte(n>>16))
		planted.Name = base64.RawURLEncoding.EncodeToString(value)
		if err := inner.AddCredential(ctx, planted); err != nil {
			t.Skip(err)
		}
		defer inner.DeleteCredential(ctx, planted.UserHandle, planted.ID, true)
		got, err := s.GetCredential(ctx, planted.ID)
		if err == nil {
			t.Fatalf("a planted value opened: %+v", got)
		}
		if !errors.Is(err, sealstore.ErrTampered) && !errors.Is(err, sealstore.ErrKeyMissing) {
			t.Fatalf("error %v is neither ErrTampered nor ErrKeyMissing", err)
		}
		if got.ID != nil || errors.Is(err, webauthnkit.ErrNotFound) {
			t.Fatal("data or not-found returned for a tampered row")
		}
	})
}

package webauthnkit

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fillValue sets every leaf of v (a settable value) to a non-zero value
// derived from path and n, so two leaves of one type differ.
func fillValue(t *testing.T, v reflect.Value, path string, n *int) {
	t.Helper()
	*n++
	if v.Type() == reflect.TypeFor[time.Time]() {
		v.Set(reflect.ValueOf(time.Date(2026, 12, 6, 9, 30, *n, 123456789+*n, time.UTC)))
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(fmt.Sprintf("%s-%d", path, *n))
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(-int64(*n) - 1000)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(uint64(*n) + 200)
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 2, 2)
		for i := range 2 {
			fillValue(t, s.Index(i), fmt.Sprintf("%s[%d]", path, i), n)
		}
		v.Set(s)
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		fillValue(t, p.Elem(), path, n)
		v.Set(p)
	case reflect.Map:
		if v.Type().Key().Kind() != reflect.String || v.Type().Elem().Kind() != reflect.Interface {
			t.Fatalf("%s: fillValue does not know %v", path, v.Type())
		}
		// A string survives every encoding of an any unchanged.
		v.Set(reflect.ValueOf(map[string]any{path: fmt.Sprintf("v-%d", *n)}).Convert(v.Type()))
	case reflect.Struct:
		for i := range v.NumField() {
			f := v.Type().Field(i)
			if !f.IsExported() {
				t.Fatalf("%s.%s: unexported field: fillValue cannot check it", path, f.Name)
			}
			fillValue(t, v.Field(i), path+"."+f.Name, n)
		}
	default:
		t.Fatalf("%s: fillValue does not know kind %v", path, v.Kind())
	}
}

// utcTimes sets every time.Time inside v to UTC (encodings keep the
// instant, not the location).
func utcTimes(v reflect.Value) {
	if v.Type() == reflect.TypeFor[time.Time]() {
		v.Set(reflect.ValueOf(v.Interface().(time.Time).UTC()))
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			utcTimes(v.Elem())
		}
	case reflect.Slice:
		for i := range v.Len() {
			utcTimes(v.Index(i))
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				utcTimes(v.Field(i))
			}
		}
	}
}

func roundTrip(t *testing.T, st *ceremonyState) *ceremonyState {
	t.Helper()
	data, err := encodeCeremony(st)
	require.NoError(t, err)
	got, err := decodeCeremony(data)
	require.NoError(t, err)
	utcTimes(reflect.ValueOf(got))
	return got
}

// Every field of ceremonyState, of the User it holds and of go-webauthn's
// SessionData survives the binary encoding: all of them at once, and each
// top-level field alone (so that two booleans or two strings swapped by
// the codec are caught).
func TestCeremonyCodecRoundTrip(t *testing.T) {
	var full ceremonyState
	n := 0
	fillValue(t, reflect.ValueOf(&full).Elem(), "st", &n)
	require.Equal(t, full, *roundTrip(t, &full), "every field set")

	typ := reflect.TypeFor[ceremonyState]()
	for i := range typ.NumField() {
		t.Run(typ.Field(i).Name, func(t *testing.T) {
			var one ceremonyState
			reflect.ValueOf(&one).Elem().Field(i).Set(reflect.ValueOf(full).Field(i))
			assert.Equal(t, one, *roundTrip(t, &one))
		})
	}
	t.Run("zero", func(t *testing.T) {
		var zero ceremonyState
		got := roundTrip(t, &zero)
		// go-webauthn's encoding reads back the zero Expires as another
		// representation of the same instant.
		assert.True(t, got.Session.Expires.IsZero())
		got.Session.Expires = time.Time{}
		assert.Equal(t, zero, *got)
	})
	t.Run("empty byte strings", func(t *testing.T) {
		st := ceremonyState{UserHandle: []byte{}, FakeIDs: [][]byte{{}, nil}, User: &User{Handle: []byte{}}}
		assert.Equal(t, st, *roundTrip(t, &st))
	})
}

// A record written by the previous version (JSON) and still in flight
// during an upgrade is read.
func TestCeremonyCodecReadsJSONRecords(t *testing.T) {
	var full ceremonyState
	n := 0
	fillValue(t, reflect.ValueOf(&full).Elem(), "st", &n)
	data, err := json.Marshal(&full)
	require.NoError(t, err)
	got, err := decodeCeremony(data)
	require.NoError(t, err)
	utcTimes(reflect.ValueOf(got))
	assert.Equal(t, full, *got)
}

// Damaged data (which the record's MAC keeps out in practice) is an error,
// never a panic or a huge allocation.
func TestCeremonyCodecRefusesDamagedData(t *testing.T) {
	var full ceremonyState
	n := 0
	fillValue(t, reflect.ValueOf(&full).Elem(), "st", &n)
	data, err := encodeCeremony(&full)
	require.NoError(t, err)
	for i := range len(data) {
		_, err := decodeCeremony(data[:i])
		assert.Error(t, err, "truncated to %d of %d bytes", i, len(data))
	}
	_, err = decodeCeremony(append(data, 0))
	assert.ErrorIs(t, err, errCeremonyRecord, "trailing byte")
	_, err = decodeCeremony(append([]byte{0x7f}, data[1:]...))
	assert.ErrorIs(t, err, errCeremonyRecord, "unknown version")
	for i := range len(data) {
		for _, b := range []byte{0x00, 0xff, data[i] ^ 0x80} {
			bad := append([]byte(nil), data...)
			bad[i] = b
			_, _ = decodeCeremony(bad) // must not panic
		}
	}
	// A count larger than the record cannot make it allocate: find the
	// FakeIDs count (the first byte where a record with one differs) and
	// make it 2^35-1.
	zero, err := encodeCeremony(&ceremonyState{})
	require.NoError(t, err)
	one, err := encodeCeremony(&ceremonyState{FakeIDs: [][]byte{nil}})
	require.NoError(t, err)
	at := 0
	for zero[at] == one[at] {
		at++
	}
	huge := append(append(append([]byte(nil), zero[:at]...), 0xff, 0xff, 0xff, 0xff, 0x7f), zero[at+1:]...)
	_, err = decodeCeremony(huge)
	assert.ErrorContains(t, err, "truncated")
}

func BenchmarkCeremonyCodec(b *testing.B) {
	st := &ceremonyState{Kind: kindLogin, Expires: time.Now().Add(5 * time.Minute)}
	st.Session.Challenge = "QkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkI"
	st.Session.RelyingPartyID = "example.com"
	st.Session.UserVerification = "preferred"
	b.Run("binary", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			data, _ := encodeCeremony(st)
			if _, err := decodeCeremony(data); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			data, _ := json.Marshal(st)
			if _, err := decodeCeremony(data); err != nil {
				b.Fatal(err)
			}
		}
	})
}

package storetest

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	mrand "math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/webauthnkit/webauthnkit"
)

// Time zones used for the times the suite stores, so that a store that keeps
// the caller's location, or compares wall clocks instead of instants, fails.
var zones = []*time.Location{
	time.FixedZone("IST", 5*3600+30*60),
	time.FixedZone("PST", -8*3600),
	time.FixedZone("NPT", 5*3600+45*60),
}

// RandomBytes returns n bytes from crypto/rand.
func RandomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand.Read crashes the program instead)
	return b
}

// RandomHandle returns a random 32-byte user handle, as the library makes.
func RandomHandle() []byte { return RandomBytes(32) }

// RandomName returns a random user name such as "user-3f9a0c4e5b6d7a8f".
func RandomName() string { return "user-" + hex.EncodeToString(RandomBytes(8)) }

// RandomUser returns a user with a random handle and name and a CreatedAt in
// the recent past, with nanoseconds and in a zone other than UTC.
func RandomUser() webauthnkit.User {
	name := RandomName()
	return webauthnkit.User{
		Handle:      RandomHandle(),
		Name:        name,
		DisplayName: "Display " + name,
		CreatedAt:   randomTime(),
	}
}

// RandomCredential returns a credential owned by userHandle (copied) with a
// random 32-byte ID and every field set to a non-zero value: a public key,
// a sign count, an AAGUID, two transports, all four flags, an attachment, a
// name, SecondFactorOnly and CloneSuspected, an attestation object and its
// client data hash, the audit fields (a trust, a check time, a quarantine
// time and reason), and CreatedAt and LastUsedAt times in the recent past,
// with nanoseconds and in a zone other than UTC.
func RandomCredential(userHandle []byte) webauthnkit.Credential {
	created := randomTime()
	return webauthnkit.Credential{
		ID:                RandomBytes(32),
		UserHandle:        bytes.Clone(userHandle),
		PublicKey:         RandomBytes(77),
		SignCount:         1 + mrand.Uint32N(1<<20),
		AAGUID:            RandomBytes(16),
		AttestationFormat: "packed",
		Transports:        []string{"internal", "hybrid"},
		UserPresent:       true,
		UserVerified:      true,
		BackupEligible:    true,
		BackupState:       true,
		Attachment:        "platform",
		Name:              "key-" + hex.EncodeToString(RandomBytes(4)),
		CreatedAt:         created,
		LastUsedAt:        created.Add(time.Duration(mrand.Int64N(int64(time.Hour)))),
		CloneSuspected:    true,
		SecondFactorOnly:  true,

		AttestationObject:         RandomBytes(300),
		AttestationClientDataHash: RandomBytes(32),
		AttestationTrust:          "trusted",
		AttestationCheckedAt:      created.Add(time.Second),
		QuarantinedAt:             created.Add(2 * time.Second),
		QuarantineReason:          "test quarantine",
	}
}

// randomTime returns a time within the last 30 days, with a nanosecond part
// and in a zone other than UTC. Its part below a millisecond is between 2 µs
// and 998 µs, so a store that truncates or rounds to milliseconds always
// moves it by more than the microsecond the contract allows (with a fully
// random part it would pass by chance once in ~1,000 runs).
func randomTime() time.Time {
	d := time.Duration(mrand.Int64N(int64(30 * 24 * time.Hour)))
	t := time.Now().Add(-d).Truncate(time.Millisecond)
	t = t.Add(2*time.Microsecond + time.Duration(mrand.Int64N(int64(996*time.Microsecond))))
	return t.In(zones[mrand.IntN(len(zones))])
}

// AssertUserEqual checks that got is want as a store must return it (see
// AssertCredentialEqual for the rules). It reports every differing field.
func AssertUserEqual(t testing.TB, want, got webauthnkit.User, msgAndArgs ...any) bool {
	t.Helper()
	return assertRecordEqual(t, "User", want, got, msgAndArgs...)
}

// AssertCredentialEqual checks that got is want as a store must return it,
// field by field (fields added to Credential later are compared too):
//
//   - time.Time fields: a zero want must come back zero; otherwise got must
//     be the same instant to within a microsecond (stores may truncate or
//     round below a microsecond) and be in UTC.
//   - slices: nil and empty are equal; otherwise element by element.
//   - everything else: equal.
//   - ProviderName is not compared: the RelyingParty fills it in the
//     credentials it returns; stores do not keep it.
//
// It reports every differing field.
func AssertCredentialEqual(t testing.TB, want, got webauthnkit.Credential, msgAndArgs ...any) bool {
	t.Helper()
	return assertRecordEqual(t, "Credential", want, got, msgAndArgs...)
}

func assertRecordEqual(t testing.TB, kind string, want, got any, msgAndArgs ...any) bool {
	t.Helper()
	diffs := diffRecords(reflect.ValueOf(want), reflect.ValueOf(got))
	if len(diffs) == 0 {
		return true
	}
	return assert.Fail(t, kind+" differs from what was stored:\n\t"+strings.Join(diffs, "\n\t"), msgAndArgs...)
}

var (
	timeType       = reflect.TypeFor[time.Time]()
	credentialType = reflect.TypeFor[webauthnkit.Credential]()
)

// diffRecords compares two structs of the same type field by field with the
// rules of AssertCredentialEqual and describes each difference.
func diffRecords(want, got reflect.Value) []string {
	var diffs []string
	typ := want.Type()
	for i := range typ.NumField() {
		f := typ.Field(i)
		if !f.IsExported() || typ == credentialType && f.Name == "ProviderName" {
			continue // ProviderName is filled by the RelyingParty, never stored
		}
		w, g := want.Field(i), got.Field(i)
		if d := diffValue(w, g); d != "" {
			diffs = append(diffs, f.Name+": "+d)
		}
	}
	return diffs
}

func diffValue(w, g reflect.Value) string {
	switch {
	case w.Type() == timeType:
		wt, gt := w.Interface().(time.Time), g.Interface().(time.Time)
		return diffTime(wt, gt)
	case w.Kind() == reflect.Slice:
		if w.Len() == 0 && g.Len() == 0 {
			return ""
		}
		if !reflect.DeepEqual(w.Interface(), g.Interface()) {
			return fmt.Sprintf("want %s, got %s", short(w), short(g))
		}
	default:
		if !reflect.DeepEqual(w.Interface(), g.Interface()) {
			return fmt.Sprintf("want %s, got %s", short(w), short(g))
		}
	}
	return ""
}

func diffTime(want, got time.Time) string {
	if want.IsZero() {
		if !got.IsZero() {
			return fmt.Sprintf("want the zero time, got %s", got.Format(time.RFC3339Nano))
		}
		return ""
	}
	if d := got.Sub(want); d >= time.Microsecond || d <= -time.Microsecond {
		return fmt.Sprintf("want %s, got %s (off by %v; at most sub-microsecond precision may be lost)",
			want.UTC().Format(time.RFC3339Nano), got.UTC().Format(time.RFC3339Nano), d)
	}
	if got.Location() != time.UTC {
		return fmt.Sprintf("got %s in location %q, want it in UTC (return t.UTC())",
			got.Format(time.RFC3339Nano), got.Location())
	}
	return ""
}

// short formats a value for a failure message, abbreviating long byte slices
// and strings.
func short(v reflect.Value) string {
	switch x := v.Interface().(type) {
	case []byte:
		if x == nil {
			return "nil"
		}
		if len(x) > 24 {
			return fmt.Sprintf("%d bytes %x...", len(x), x[:24])
		}
		return fmt.Sprintf("%d bytes %x", len(x), x)
	case string:
		if len(x) > 60 {
			return fmt.Sprintf("%d bytes %q...", len(x), x[:60])
		}
		return fmt.Sprintf("%q", x)
	}
	return fmt.Sprintf("%#v", v.Interface())
}

package webauthnkit

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Ceremony records are encoded in a compact binary form, not JSON: a login
// decodes one on every Finish*, and decoding the JSON form (go-webauthn's
// SessionData through reflection) cost about 5% of a login's CPU, more
// than everything else webauthnkit does besides go-webauthn.
//
// The format (version byte ceremonyFormatV1) is webauthnkit's own fields in
// a fixed order (strings and byte strings length-prefixed with uvarints,
// booleans packed in one uvarint), then go-webauthn's SessionData in its own
// MessagePack encoding (SessionData.MarshalMsg, generated code maintained by
// go-webauthn, so a field it adds is carried without a change here). A
// field added to ceremonyState must be added to encodeCeremony and
// decodeCeremony: TestCeremonyCodecRoundTrip fills every field by
// reflection and fails otherwise.
//
// Records are sealed (ceremony_mac.go) after encoding, so decoding only ever
// sees bytes this code wrote; it still checks every length and refuses
// trailing data. A record in the previous JSON form (it starts with '{'),
// written by an earlier version and still in flight during an upgrade, is
// decoded as JSON. An earlier version cannot read a binary record: during a
// rolling upgrade a ceremony begun on an upgraded instance and finished on
// an old one fails with ErrInternal (ceremonies live Config.ChallengeTTL).
const ceremonyFormatV1 = 0x01

// Bits of the booleans of ceremonyState.
const (
	cerNewUser = 1 << iota
	cerSecondFactorOnly
	cerByUsername
	cerByHandle
	cerNewEmailVerified
	cerHasUser
	cerEpochBound
	cerAll = 1<<iota - 1
)

var errCeremonyRecord = errors.New("webauthnkit: malformed ceremony record")

// encodeCeremony returns the record data of st (before sealing).
func encodeCeremony(st *ceremonyState) ([]byte, error) {
	w := cerWriter{b: make([]byte, 0, 256)}
	w.b = append(w.b, ceremonyFormatV1)
	w.str(st.Kind)
	w.time(st.Expires)
	w.bytes(st.UserHandle)
	var flags uint64
	set := func(bit uint64, v bool) {
		if v {
			flags |= bit
		}
	}
	set(cerNewUser, st.NewUser)
	set(cerSecondFactorOnly, st.SecondFactorOnly)
	set(cerByUsername, st.ByUsername)
	set(cerByHandle, st.ByHandle)
	set(cerNewEmailVerified, st.NewEmailVerified)
	set(cerHasUser, st.User != nil)
	set(cerEpochBound, st.EpochBound)
	w.uvarint(flags)
	if u := st.User; u != nil {
		w.bytes(u.Handle)
		w.str(u.Name)
		w.str(u.DisplayName)
		w.time(u.CreatedAt)
		w.uvarint(u.SessionEpoch)
		w.str(u.Email)
		w.time(u.EmailVerifiedAt)
	}
	w.str(st.NewName)
	w.str(st.NewDisplay)
	w.str(st.CredName)
	w.uvarint(uint64(len(st.FakeIDs)))
	for _, id := range st.FakeIDs {
		w.bytes(id)
	}
	w.uvarint(st.SessionEpoch)
	w.str(st.GrantPurpose)
	w.str(st.NewEmail)
	if w.err != nil {
		return nil, w.err
	}
	// Last, so it needs no length: its decoder reports what it left.
	return st.Session.MarshalMsg(w.b)
}

// decodeCeremony decodes the data of a record that passed its integrity
// check.
func decodeCeremony(data []byte) (*ceremonyState, error) {
	st := new(ceremonyState)
	if len(data) > 0 && data[0] == '{' {
		// An earlier version's record, still in flight.
		if err := json.Unmarshal(data, st); err != nil {
			return nil, err
		}
		return st, nil
	}
	if len(data) == 0 || data[0] != ceremonyFormatV1 {
		return nil, fmt.Errorf("%w: unknown format", errCeremonyRecord)
	}
	r := cerReader{b: data[1:]}
	st.Kind = r.str()
	st.Expires = r.time()
	st.UserHandle = r.bytes()
	flags := r.uvarint()
	if flags&^cerAll != 0 {
		return nil, fmt.Errorf("%w: unknown flags", errCeremonyRecord)
	}
	st.NewUser = flags&cerNewUser != 0
	st.SecondFactorOnly = flags&cerSecondFactorOnly != 0
	st.ByUsername = flags&cerByUsername != 0
	st.ByHandle = flags&cerByHandle != 0
	st.NewEmailVerified = flags&cerNewEmailVerified != 0
	st.EpochBound = flags&cerEpochBound != 0
	if flags&cerHasUser != 0 {
		st.User = &User{
			Handle:          r.bytes(),
			Name:            r.str(),
			DisplayName:     r.str(),
			CreatedAt:       r.time(),
			SessionEpoch:    r.uvarint(),
			Email:           r.str(),
			EmailVerifiedAt: r.time(),
		}
	}
	st.NewName = r.str()
	st.NewDisplay = r.str()
	st.CredName = r.str()
	if n := r.uvarint(); n > 0 && r.err == nil {
		if n > uint64(len(r.b)) { // each takes at least one byte
			return nil, fmt.Errorf("%w: truncated", errCeremonyRecord)
		}
		st.FakeIDs = make([][]byte, n)
		for i := range st.FakeIDs {
			st.FakeIDs[i] = r.bytes()
		}
	}
	st.SessionEpoch = r.uvarint()
	st.GrantPurpose = r.str()
	st.NewEmail = r.str()
	if r.err != nil {
		return nil, r.err
	}
	rest, err := st.Session.UnmarshalMsg(r.b)
	if err != nil {
		return nil, fmt.Errorf("%w: session: %w", errCeremonyRecord, err)
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("%w: trailing data", errCeremonyRecord)
	}
	return st, nil
}

type cerWriter struct {
	b   []byte
	err error
}

func (w *cerWriter) uvarint(v uint64) { w.b = binary.AppendUvarint(w.b, v) }

func (w *cerWriter) str(s string) {
	w.uvarint(uint64(len(s)))
	w.b = append(w.b, s...)
}

// bytes keeps nil apart from empty: 0 is nil, n+1 is n bytes.
func (w *cerWriter) bytes(p []byte) {
	if p == nil {
		w.uvarint(0)
		return
	}
	w.uvarint(uint64(len(p)) + 1)
	w.b = append(w.b, p...)
}

func (w *cerWriter) time(t time.Time) {
	var buf [16]byte
	tb, err := t.AppendBinary(buf[:0])
	if err != nil && w.err == nil {
		w.err = err
	}
	w.bytes(tb)
}

// cerReader reads what cerWriter wrote; after the first error every read
// returns a zero value and err keeps the error.
type cerReader struct {
	b   []byte
	err error
}

func (r *cerReader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s", errCeremonyRecord, what)
	}
	r.b = nil
}

func (r *cerReader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail("bad integer")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *cerReader) take(n uint64) []byte {
	if n > uint64(len(r.b)) {
		r.fail("truncated")
		return nil
	}
	p := r.b[:n:n]
	r.b = r.b[n:]
	return p
}

func (r *cerReader) str() string { return string(r.take(r.uvarint())) }

func (r *cerReader) bytes() []byte {
	n := r.uvarint()
	if n == 0 || r.err != nil {
		return nil
	}
	return append([]byte{}, r.take(n-1)...)
}

func (r *cerReader) time() time.Time {
	var t time.Time
	if tb := r.bytes(); r.err == nil {
		if err := t.UnmarshalBinary(tb); err != nil {
			r.fail("bad time")
		}
	}
	return t
}

package sealstore

import (
	"encoding/binary"
	"errors"

	"github.com/webauthnkit/webauthnkit"
)

// Field names bound into the associated data of each sealed value, so that
// a value cannot be moved to another field.
const (
	fieldUser       = "user"       // users.display_name: name, display name, email
	fieldCredential = "credential" // credentials.name: name, AAGUID, transports, ...
)

// userAAD binds a user's sealed record to the user's handle.
func userAAD(handle []byte) []byte {
	b := make([]byte, 0, len(aadPrefix)+len(fieldUser)+1+2+len(handle))
	b = append(b, aadPrefix...)
	b = append(b, fieldUser...)
	b = append(b, 0)
	return appendBytes(b, handle)
}

// credentialAAD binds a credential's sealed record to the credential's ID,
// its owner, its public key and the flags that never change after
// registration: a database writer who edits any of them, moves the record
// to another row or gives a key to another account makes it fail to open.
func credentialAAD(c *webauthnkit.Credential) []byte {
	b := make([]byte, 0, len(aadPrefix)+len(fieldCredential)+1+3*2+len(c.ID)+len(c.UserHandle)+len(c.PublicKey)+1)
	b = append(b, aadPrefix...)
	b = append(b, fieldCredential...)
	b = append(b, 0)
	b = appendBytes(b, c.ID)
	b = appendBytes(b, c.UserHandle)
	b = appendBytes(b, c.PublicKey)
	var flags byte
	if c.SecondFactorOnly {
		flags |= 1
	}
	if c.BackupEligible {
		flags |= 2
	}
	return append(b, flags)
}

// userRecord is what a user's sealed value holds.
type userRecord struct {
	Name        string
	DisplayName string
	// Emails are the addresses the row's email column may index: one
	// normally; two while SetEmail changes it (written before the column
	// so a crash between the writes loses nothing). The one whose blind
	// index is in the column is the user's address.
	Emails []string
}

// credentialRecord is what a credential's sealed value holds.
type credentialRecord struct {
	Name              string
	AAGUID            []byte
	AttestationFormat string
	Transports        []string
	Attachment        string
	// The attestation statement kept for audits (immutable after
	// registration): it names the authenticator model and may hold a
	// device certificate.
	AttestationObject         []byte
	AttestationClientDataHash []byte
}

const recordVersion = 1

func (r *userRecord) encode() []byte {
	b := make([]byte, 0, 8+len(r.Name)+len(r.DisplayName)+64)
	b = append(b, recordVersion)
	b = appendString(b, r.Name)
	b = appendString(b, r.DisplayName)
	b = binary.AppendUvarint(b, uint64(len(r.Emails)))
	for _, e := range r.Emails {
		b = appendString(b, e)
	}
	return b
}

func decodeUserRecord(b []byte) (userRecord, error) {
	d := newDecoder(b)
	var r userRecord
	if d.byte() != recordVersion {
		return r, errMalformed
	}
	r.Name = d.string()
	r.DisplayName = d.string()
	n := d.uvarint()
	if n > 4 {
		return r, errMalformed
	}
	for range n {
		r.Emails = append(r.Emails, d.string())
	}
	return r, d.done()
}

func (r *credentialRecord) encode() []byte {
	b := make([]byte, 0, 24+len(r.Name)+len(r.AAGUID)+len(r.AttestationFormat)+len(r.Attachment)+32+len(r.AttestationObject)+len(r.AttestationClientDataHash))
	b = append(b, recordVersion)
	b = appendString(b, r.Name)
	b = appendBytes(b, r.AAGUID)
	b = appendString(b, r.AttestationFormat)
	b = binary.AppendUvarint(b, uint64(len(r.Transports)))
	for _, t := range r.Transports {
		b = appendString(b, t)
	}
	b = appendString(b, r.Attachment)
	b = appendBytes(b, r.AttestationObject)
	b = appendBytes(b, r.AttestationClientDataHash)
	return b
}

func decodeCredentialRecord(b []byte) (credentialRecord, error) {
	d := newDecoder(b)
	var r credentialRecord
	if d.byte() != recordVersion {
		return r, errMalformed
	}
	r.Name = d.string()
	r.AAGUID = d.bytes()
	r.AttestationFormat = d.string()
	n := d.uvarint()
	if n > 64 {
		return r, errMalformed
	}
	if n > 0 {
		r.Transports = make([]string, 0, n)
	}
	for range n {
		r.Transports = append(r.Transports, d.string())
	}
	r.Attachment = d.string()
	r.AttestationObject = d.bytes()
	r.AttestationClientDataHash = d.bytes()
	return r, d.done()
}

func appendBytes(b, v []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

func appendString(b []byte, v string) []byte {
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

// decoder reads what the append functions wrote; the first error sticks.
// Strings are substrings of one copy of the input (one allocation for
// all); byte fields alias the input itself, capped so that appending to
// one never overwrites the next: the input must be a buffer the caller
// owns and hands over (open's fresh plaintext).
type decoder struct {
	b   []byte
	s   string // string(b), made once
	pos int
	err error
}

func newDecoder(b []byte) decoder { return decoder{b: b, s: string(b)} }

var errShort = errors.New("short")

func (d *decoder) byte() byte {
	if d.err != nil || d.pos >= len(d.b) {
		d.err = errShort
		return 0
	}
	c := d.b[d.pos]
	d.pos++
	return c
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b[d.pos:])
	if n <= 0 {
		d.err = errShort
		return 0
	}
	d.pos += n
	return v
}

func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if d.err != nil || n > uint64(len(d.b)-d.pos) {
		d.err = errShort
		return nil
	}
	if n == 0 {
		return nil
	}
	end := d.pos + int(n)
	v := d.b[d.pos:end:end]
	d.pos = end
	return v
}

func (d *decoder) string() string {
	n := d.uvarint()
	if d.err != nil || n > uint64(len(d.b)-d.pos) {
		d.err = errShort
		return ""
	}
	end := d.pos + int(n)
	v := d.s[d.pos:end]
	d.pos = end
	return v
}

// done reports a decoding error or trailing bytes as a malformed value
// (the plaintext was authenticated, so this means a bug or a future
// format, never an attack).
func (d *decoder) done() error {
	if d.err != nil || d.pos != len(d.b) {
		return errMalformed
	}
	return nil
}

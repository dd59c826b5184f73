package otc

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/binary"
	"encoding/hex"
	"time"
)

// Everything stored is named and hashed under subkeys of Config.Secret,
// one per use, so that no value of one kind can stand in for another (a
// record ID is never a valid code hash, a code hash never a token hash).
type keys struct {
	recordID []byte // names store records
	code     []byte // hashes typed codes
	link     []byte // hashes link tokens
	linkSeal []byte // seals the account in a link record
	log      []byte // account pseudonyms in logs
}

func deriveKeys(secret []byte) keys {
	sub := func(label string) []byte {
		m := hmac.New(sha256.New, secret)
		m.Write([]byte("webauthnkit otc v1 " + label))
		return m.Sum(nil)
	}
	return keys{recordID: sub("record id"), code: sub("code"), link: sub("link"), linkSeal: sub("link seal"), log: sub("log")}
}

// keyedHash is HMAC-SHA256 under key of the parts, each length-prefixed so
// that no two lists of parts hash alike ("ab","c" vs "a","bc").
func keyedHash(key []byte, parts ...[]byte) []byte {
	m := hmac.New(sha256.New, key)
	var n [2]byte
	for _, p := range parts {
		binary.BigEndian.PutUint16(n[:], uint16(len(p)))
		m.Write(n[:])
		m.Write(p)
	}
	return m.Sum(nil)
}

var b32NoPadding = base32.StdEncoding.WithPadding(base32.NoPadding)

// recordID names a store record: "otc:" + kind + ":" + 160 bits of a keyed
// hash. Keyed, so that the store (often readable by more people than the
// secret) reveals neither accounts nor which ID belongs to whom; short and
// fixed-length for every backend (sqlstore takes up to 255 bytes).
func (c *Codes) recordID(kind string, parts ...[]byte) string {
	all := append([][]byte{[]byte(kind)}, parts...)
	return "otc:" + kind + ":" + b32NoPadding.EncodeToString(keyedHash(c.keys.recordID, all...)[:20])
}

// codeRecordID is the one record of (purpose, account): a new Issue
// replaces it, which is what makes the previous code stop working.
func (c *Codes) codeRecordID(p Purpose, account []byte) string {
	return c.recordID("c", []byte(p), account)
}

// linkRecordID is the record that maps a link token to its account.
func (c *Codes) linkRecordID(p Purpose, token []byte) string {
	return c.recordID("l", []byte(p), token)
}

// tryRecordID is slot slot of the account's attempt budget in window w.
func (c *Codes) tryRecordID(p Purpose, account []byte, w int64, slot int) string {
	var n [12]byte
	binary.BigEndian.PutUint64(n[:8], uint64(w))
	binary.BigEndian.PutUint32(n[8:], uint32(slot))
	return c.recordID("t", []byte(p), account, n[:])
}

// accountRef is a short keyed pseudonym of an account for log records.
func (c *Codes) accountRef(account []byte) string {
	return hex.EncodeToString(keyedHash(c.keys.log, account)[:6])
}

// codeRecord is the stored state of a live code. It holds hashes only.
type codeRecord struct {
	attempts  int       // wrong codes so far
	expiresAt time.Time // also the store expiry; checked again by Config.Now
	codeHash  []byte    // keyedHash(keys.code, purpose, account, code)
	tokenHash []byte    // keyedHash(keys.link, purpose, account, token); nil without a link
}

const (
	recordVersion = 1
	hashLen       = sha256.Size
	nonceLen      = 16
	codeRecordLen = 1 + 1 + 1 + 8 + hashLen + hashLen + nonceLen
	flagHasToken  = 1
)

// nonce makes the data of every put distinct: a store may take a put of the
// exact bytes already stored for its own retried write (redisstore does)
// and report success instead of ErrDuplicate.
func nonce() []byte {
	b := make([]byte, nonceLen)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (it crashes instead)
	return b
}

func (r codeRecord) encode() []byte {
	b := make([]byte, 0, codeRecordLen)
	var flags byte
	token := make([]byte, hashLen)
	if r.tokenHash != nil {
		flags |= flagHasToken
		copy(token, r.tokenHash)
	}
	b = append(b, recordVersion, flags, byte(r.attempts))
	b = binary.BigEndian.AppendUint64(b, uint64(r.expiresAt.UnixNano()))
	b = append(b, r.codeHash...)
	b = append(b, token...)
	return append(b, nonce()...)
}

// decodeCodeRecord reads a code record; ok is false for data this version
// did not write (fail closed: the code is then invalid).
func decodeCodeRecord(b []byte) (r codeRecord, ok bool) {
	if len(b) != codeRecordLen || b[0] != recordVersion {
		return r, false
	}
	r.attempts = int(b[2])
	r.expiresAt = time.Unix(0, int64(binary.BigEndian.Uint64(b[3:11])))
	r.codeHash = b[11 : 11+hashLen]
	if b[1]&flagHasToken != 0 {
		r.tokenHash = b[11+hashLen : 11+2*hashLen]
	}
	return r, true
}

// The link record holds the account sealed (AES-256-GCM) under a key
// derived from the token, so the store reveals the account to no one but
// the token's holder; record IDs are keyed for the same reason. The key is
// new for every token and seals one message, so a fixed nonce is safe.
func (c *Codes) linkSealer(p Purpose, token []byte) cipher.AEAD {
	block, err := aes.NewCipher(keyedHash(c.keys.linkSeal, []byte(p), token))
	if err != nil {
		panic(err) // a 32-byte key is always valid
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		panic(err)
	}
	return aead
}

var zeroNonce [12]byte

func (c *Codes) encodeLinkRecord(p Purpose, token, account []byte) []byte {
	b := []byte{recordVersion}
	b = c.linkSealer(p, token).Seal(b, zeroNonce[:], account, []byte(p))
	return append(b, nonce()...)
}

func (c *Codes) decodeLinkRecord(p Purpose, token, b []byte) (account []byte, ok bool) {
	if len(b) < 1+16+nonceLen || b[0] != recordVersion {
		return nil, false
	}
	account, err := c.linkSealer(p, token).Open(nil, zeroNonce[:], b[1:len(b)-nonceLen], []byte(p))
	return account, err == nil && len(account) > 0
}

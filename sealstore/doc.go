// Package sealstore encrypts what a webauthnkit.CredentialStore keeps about
// people (field-level encryption at rest) and makes stored passkeys
// tamper-evident. It wraps any CredentialStore (memstore, sqlstore,
// redisstore or a third-party one) and is a CredentialStore itself:
//
//	kr, err := sealstore.LoadKeyringFile(ctx, "/etc/myapp/keyring.json", nil)
//	sealed, err := sealstore.New(store, sealstore.Config{Keyring: kr})
//	rp, err := webauthnkit.New(webauthnkit.Config{Credentials: sealed, Ceremonies: store, ...})
//
// The wrapped store needs no schema change: sealed values go into its
// existing columns. The conformance suite (storetest) passes over the
// wrapper on every shipped backend.
//
// # What is sealed, what stays clear, and why
//
// Sealing is AES-256-GCM (crypto/aes, crypto/cipher) with a random 96-bit
// nonce per value. Every sealed value starts with a format byte and the ID
// of the key that sealed it, so keys rotate (see Rekey). Its associated
// data binds it to its row and field, so a value copied to another row or
// field does not open.
//
// A user row keeps:
//
//   - handle: clear (primary key; random bytes, no personal data).
//   - name column: the blind index of the name (below), not the name.
//   - display-name column: the user's sealed record: name, display name and
//     email, bound to the handle.
//   - email column: the blind index of the email, or empty.
//   - created time, session epoch, email verified time: clear (the epoch is
//     an atomic counter; times are not personal data on their own).
//
// A credential row keeps:
//
//   - ID and owner's handle: clear (primary key and lookup key).
//   - public key: clear, but bound into the associated data of the
//     credential's sealed record together with the ID, the owner's handle,
//     SecondFactorOnly and BackupEligible. A database writer who swaps public
//     keys between rows, edits one, moves a row (their own passkey
//     included) to another account, inserts a row without a valid record or
//     flips a protected flag makes the record fail to open: every read of
//     that credential returns ErrTampered, a login with it is refused, and
//     Config.OnTamper is called.
//   - name column: the sealed record: passkey name, AAGUID, attestation
//     format, transports, attachment. Their own columns are left empty.
//   - sign counter, backup state, user-verified flag, last-used time, clone
//     flag: clear, because UpdateCredentialUse writes them as an atomic
//     compare-and-set on every login, which a store cannot do on a sealed
//     value.
//   - recovery codes: the library stores only keyed hashes: forwarded as
//     they are.
//
// # Lookups without plaintext: blind indexes
//
// GetUserByName and GetUserByEmail look up HMAC-SHA-256(index key, domain,
// value), base64url, in the wrapped store's name and email columns, and
// check the opened record against the value asked for. The index key is a
// separate secret from the sealing keys. Trade-offs:
//
//   - Equality only: no prefix, range, case-insensitive or fuzzy search
//     (the library normalises names and emails before they reach the store,
//     so exact equality is all it needs).
//   - The index leaks equality: rows with the same value have the same
//     index, and whoever holds the index key can test guesses ("is
//     alice@example.com a user?") offline. Keep the index key as secret as
//     the sealing keys.
//   - Uniqueness stays the wrapped store's job (a unique index on the
//     index column), as before.
//   - The index key cannot rotate in place: a new one changes every index,
//     so it needs a rebuild: Copy from the sealed store (old keyring) into a
//     Store over new tables with the new keyring, while nothing writes,
//     then switch over. SetKeyring refuses a ring with another index key.
//
// # Keys and rotation
//
// A Keyring holds the sealing keys (the first is the primary: every write
// uses it; the others open older values) and the index key. Load it from a
// JSON file (LoadKeyringFile, mode 0600), an environment variable
// (KeyringFromEnv) or with a KMS (envelope encryption: the file holds data
// keys wrapped by the KMS, which unwraps them at start-up; see KMS and
// LocalKMS). A value whose key is not in the ring fails with a
// *KeyMissingError (ErrKeyMissing) naming the key, never with garbage; a
// different secret under a known ID fails authentication (ErrTampered).
//
// To rotate, with every process sharing the store:
//
//  1. Give every process the new key as a second key (KeyringFile.AddPrimary,
//     then swap the first two), so all can open values sealed with it.
//  2. Make it primary everywhere (first in the ring; Store.SetKeyring in a
//     running process).
//  3. Run Store.Rekey in the background: it pages through the users
//     (the wrapped store must declare Features().ListUserHandles) and
//     re-seals each value sealed with another key, reporting progress and
//     a resumable cursor. Logins go on meanwhile.
//  4. Run Rekey with CheckOnly: when it counts nothing pending, retire the
//     old key (KeyringFile.Retire, then SetKeyring or restart).
//
// In one process steps 1 and 2 can be one SetKeyring; reads load the ring
// before the row and retry with a newer ring on a missing key, so a
// rotation fails no login (TestRotationUnderConcurrentLogins).
//
// # Limits
//
//   - UpdateUser, SetEmail and RenameCredential read, then write, the
//     sealed record (the email lives in the user's record; a rename
//     re-seals the passkey's record). In one process the Store serialises
//     them per user; two processes changing the same user's record at the
//     same instant can lose one change (last writer wins), as can a rename
//     racing Rekey in another process. SetEmail keeps the old and new
//     addresses sealed until the index is set, so a crash between its
//     writes loses nothing.
//   - ListCredentials fails as a whole if one credential fails to open:
//     a tampered row makes the account's username sign-in fail (closed)
//     until an operator removes it.
//   - Rows written around the wrapper (by an older version, a migration
//     script) fail to open. Seal existing data with Copy: it copies every
//     account of the clear store into a Store over new, empty tables (or
//     another key prefix), resumably; recovery codes cannot be copied (a
//     store hands out no hashes), so their owners need new ones.
//   - Sealed values are longer than the plaintext (about 4/3 of it plus 45
//     characters): sqlstore's columns are TEXT and fit them.
//
// Cost: 1.6 to 3.9 µs of CPU per sign-in (an AES-GCM open per record, an
// HMAC per name or email), 1.4 % to 3.0 % of a memstore sign-in
// (BENCHMARKS.md).
//
// ExportUser (in package webauthnkit) exports everything stored about a
// person, opened; DeleteUser removes it all. docs/privacy.md lists what is
// stored where.
package sealstore

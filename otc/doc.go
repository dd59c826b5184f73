// Package otc issues and verifies one-time codes (email verification,
// account recovery, …): a short code to type and, optionally, a link token
// to click. It is a library primitive; delivery (email) and the flows
// around it are elsewhere. docs/one-time-codes.md states the security
// argument and the NIST SP 800-63B rules it follows.
//
// Everything rests on the webauthnkit.ChallengeStore contract, which every
// backend (memstore, sqlstore, redisstore) passes in storetest:
// TakeCeremony is an atomic single take, PutCeremony refuses a live ID
// with ErrDuplicate atomically (also between concurrent puts of one ID),
// and records expire. No other store method is needed, so an app reuses
// the store it already runs for ceremonies.
//
// Design:
//
//   - One record per (purpose, account), named by a keyed hash of both.
//     It holds HMAC-SHA256(code key, purpose, account, code), the same for
//     the link token, the count of wrong attempts and the expiry; never
//     the code or the token. Issue takes the record and puts a new one, so
//     a new code replaces the previous one.
//   - Verify takes the record (atomic: no other attempt sees it meanwhile),
//     compares in constant time (hmac.Equal), and on a wrong code puts it
//     back with one more attempt, or leaves it gone after
//     MaxAttemptsPerCode. A correct code leaves it gone: used. Of
//     concurrent correct verifications exactly one takes the record.
//   - Per account and purpose, wrong attempts are counted in a fixed
//     window with claim records (PutCeremony of slot k), as package totp
//     does, so the budget holds across instances. Only the purpose is
//     throttled: recovery can be throttled while passkey sign-in works.
//   - A link token maps to its account through a second record, named by a
//     keyed hash of the token and holding the account sealed under a key
//     derived from the token (the store never shows an account in clear);
//     the code record holds the token's hash, so a newer Issue also kills
//     the old link.
//   - The secret is never used directly: subkeys per use (record names,
//     code hashes, token hashes, log pseudonyms) are HMAC-SHA256(secret,
//     label).
//
// Codes are 6 to 8 decimal digits (about 20 to 27 bits), which is why they
// need the attempt limits; link tokens carry 256 random bits and need none.
package otc

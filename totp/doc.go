// Package totp adds time-based one-time passwords (RFC 6238) as a second
// factor, for apps that own their users: after the app's password check
// (or beside a passkey second factor), the user types the 6-digit code of
// an authenticator app. Codes are computed by github.com/pquerna/otp.
//
// # Where the secret lives
//
// The library stores nothing per user. Confirm returns the secret sealed
// (AES-256-GCM) for the app to keep in its own users table, next to the
// password hash; Verify takes it back. The associated data of each sealed
// value holds the app's user ID and a purpose (pending enrolment or
// confirmed secret), so a value copied to another user's row, or a pending
// value used as a confirmed one, does not open (ErrSealedValue). A database
// dump alone yields no secret: the keys (Config.Keys) live outside the
// database. Each sealed value names its key by ID, so keys rotate: put the
// new key first, Reseal the stored values (NeedsReseal says which), then
// drop the old key. The algorithm, digits and period are sealed with the
// secret, so changing them in Config affects new enrolments only.
//
// No store interface changes: the app owns the row, and the one shared
// piece of state, which codes were used and how many attempts were made,
// goes through the webauthnkit.ChallengeStore the app already runs.
//
// # Each code once, attempts limited, across instances
//
// Both use PutCeremony's atomic "ErrDuplicate if the ID is live", which
// the ChallengeStore contract requires of every backend (storetest's
// concurrent_put_same_id_one_winner checks concurrent puts of one ID; this
// package's TestReplayAcrossStores checks Verify itself on memstore,
// PostgreSQL, MariaDB, SQLite and Redis). Each put carries random data, as
// the contract asks of a claim: a put of the very bytes already stored may
// succeed as the store's own retry.
//
//   - After a code matches time step s, Verify puts the record (user, s),
//     kept until the code leaves the skew window. A second put fails:
//     ErrCodeReused. Of concurrent verifications of one code exactly one
//     succeeds, whichever instance serves them.
//   - Before comparing a code, Verify claims one of Config.MaxAttempts
//     attempt records of the user's current fixed window (default 5 per
//     15 minutes), by putting (user, window, k) for k = 0, 1, ... until one
//     put succeeds. When all exist the code is not compared at all:
//     ErrTooManyAttempts, with Error.RetryAfter until the next window. A
//     correct code takes its record back (TakeCeremony), so only wrong and
//     reused codes count. This is a counter shared by every instance;
//     golang.org/x/time/rate, in process, would give MaxAttempts per
//     instance, and an attacker picks the instance.
//
// A refused attempt costs up to MaxAttempts store round trips; a malformed
// code (not Digits ASCII digits after removing spaces), an invalid user ID
// or an unopenable sealed value is refused before the store is touched and
// is not counted (it cannot be a right guess). Record IDs are an HMAC of
// the user ID under a key derived from the sealing key, so the store sees
// no user IDs and IDs have a fixed short length.
//
// With the defaults, 2·Skew+1 = 3 codes are valid at a time: each guess
// succeeds with probability 3·10⁻⁶, and 5 guesses per 15 minutes allow 480
// a day (1.4·10⁻³ per day). The app should still lock the second factor or
// alert after many consecutive failures (NIST SP 800-63B caps them at 100);
// the failures are logged ("totp: wrong code") with a pseudonymous
// user_ref.
//
// # Secrets in logs and errors
//
// Log records and error texts never hold secrets, codes, user IDs or sealed
// values; Enrollment's String, GoString and LogValue hide its URI and
// secret. Codes are compared in constant time across all steps of the
// skew.
//
// # Not here
//
// Recovery codes (for a lost authenticator) belong to the account recovery
// issue and will work beside this package. Disabling TOTP is the app
// clearing its column.
package totp

// Package webauthnkit adds passkey (WebAuthn / FIDO2) sign-in to Go web apps
// and runs it safely in production.
//
// A [RelyingParty] runs the four ceremonies over two small store interfaces:
// a [CredentialStore] for users and their passkeys and a [ChallengeStore] for
// the few minutes between the start and the end of a ceremony. Protocol
// verification is done by github.com/go-webauthn/webauthn; this package adds
// what it leaves to applications: single-use, expiring challenges; credential
// persistence with sign-counter write-back; user handles that are random and
// never derived from names; answers that do not reveal which usernames exist;
// typed errors with client-safe codes; and events for audit logs.
//
// Backends: memstore (in memory, tests and demos), sqlstore (PostgreSQL,
// SQLite, MariaDB/MySQL) and redisstore (Redis, Sentinel, Cluster). Package
// storetest is the conformance suite every backend passes; webauthntest is a
// software authenticator for tests; httpadapter serves the ceremonies over
// HTTP with a small JavaScript client.
//
// # Registration
//
// [RelyingParty.BeginRegistration] with a username creates a sign-up ceremony
// (the account is stored only when the ceremony finishes); with the handle of
// a signed-in user it adds a passkey to that account. It returns a ceremony ID
// and the options JSON for the browser's
// PublicKeyCredential.parseCreationOptionsFromJSON. The browser's
// credential.toJSON() goes to [RelyingParty.FinishRegistration], which
// verifies it, refuses a credential ID already registered to anyone, and
// stores the passkey.
//
// # Accounts the application already has
//
// [RelyingParty.CreateUser] creates an account without a passkey, under a
// user handle the application chooses (its own stable, non-personal user ID,
// 1 to 64 bytes) or 32 random bytes; BeginRegistration with that handle then
// adds its first passkey. [RelyingParty.UpdateUser] changes the name (up to
// [MaxNameLength] characters: an email address fits) and display name and
// returns what the browser passes to signalCurrentUserDetails.
// [RelyingParty.SetEmail] sets an account's email address (normalised by
// [NormalizeEmail], unique among accounts) and whether it is verified;
// [RelyingParty.UserByEmail] finds the account by it.
//
// # Passkeys as a second factor
//
// After the application's own password check, [RelyingParty.BeginLogin] with
// LoginRequest.UserHandle runs a login bound to that account: its passkeys
// only, second-factor-only ones included (RegistrationRequest.SecondFactorOnly,
// e.g. a security key without PIN), which no usernameless or username-first
// login accepts. [Login].Factors says how many factors a login proves (2 when
// the authenticator verified the user), so an application may skip its own
// second step after a passkey sign-in with Factors == 2. User verification
// can be set per ceremony (RegistrationRequest.UserVerification,
// LoginRequest.UserVerification).
//
// # Login
//
// [RelyingParty.BeginLogin] with a username lists that account's passkeys;
// without one the login is discoverable (usernameless), optionally with
// conditional mediation (autofill). [RelyingParty.FinishLogin] verifies the
// assertion, checks the credential belongs to the account (the named one, or
// the one the assertion's user handle names), applies the [CounterPolicy],
// and writes back the sign counter, backup state and last-used time with a
// compare-and-set.
//
// # Storage
//
// Implement [CredentialStore] and [ChallengeStore] to use another database;
// each contract clause in their documentation is a named subtest of
// storetest.TestCredentialStore and storetest.TestChallengeStore, which a
// store runs with one call. Stores report outages by wrapping
// [ErrStoreUnavailable]; the ceremonies then fail with [ErrStoreUnavailable] and
// work again when the store is back.
//
// # Errors
//
// Every RelyingParty method returns a *[Error] with a stable [Code] and a
// client-safe message; match it with errors.Is against the Err* sentinels,
// or read [ErrorCode]. Store errors stay in the chain: a store's
// [ErrNotFound] under [ErrUserNotFound], its [ErrUserExists] under
// [ErrUsernameTaken], so errors.Is(err, ErrUserExists) holds too. Any
// method that reads a store can also fail with [ErrStoreUnavailable] (the
// store is down or a deadline passed; retry later) or [ErrCanceled] (the
// caller's context was canceled). docs/errors.md tables every sentinel with
// its code, HTTP status and what the application should do.
//
// # Security
//
//   - Challenges are 32 random bytes, stored server-side, single use (the
//     ChallengeStore's take is atomic) and expire after Config.ChallengeTTL
//     (5 minutes by default). Ceremony records are authenticated with an
//     HMAC keyed by Config.Secret and stored under a keyed hash of their ID.
//   - Origins must be https, except http://localhost during development, and
//     must belong to the RP ID.
//   - User handles are 32 random bytes, or an identifier the application
//     chose (CreateUser), never derived from names: names and emails never
//     reach authenticators as handles.
//   - BeginLogin answers for unknown usernames and user handles with stable
//     fake allow lists and the same store calls as for real ones; FinishLogin answers their
//     fake IDs like a real account's, after a dummy verification.
//   - Usernames are enforced with the PRECIS UsernameCaseMapped profile and
//     must not mix scripts (UTS #39 highly restrictive): see NormalizeUsername.
//   - A sign counter that does not increase fails the login by default
//     (possible cloned authenticator).
//   - Public key limits: credential keys (at registration and, stored ones
//     included, before each login), self-attestation keys and attestation
//     certificate keys are checked before any signature is verified with
//     them: RSA moduli of [MinRSAModulusBits] to [MaxRSAModulusBits] bits
//     with exponent 65537, EC2 keys on the curve their algorithm names (and
//     on that curve), OKP keys Ed25519 only, and credential algorithms from
//     Config.Algorithms. Neither go-webauthn nor Go's x509 parser bounds RSA
//     keys, and one with a 46,000-byte modulus costs seconds of CPU per
//     verification; refused keys fail with [ErrInvalidResponse] wrapping
//     [ErrKeyNotAllowed].
//   - Responses are size-capped ([MaxResponseSize]); errors carry a stable
//     [Code] and a safe message, while verification details go to the
//     configured logger only, never challenges, signatures or keys.
package webauthnkit

package webauthnkit

import (
	"context"
	"time"
)

// User is an account as stored by a CredentialStore.
type User struct {
	// Handle is the WebAuthn user handle (user.id), 1 to 64 bytes: 32
	// random bytes made by the library, or an identifier the application
	// chose (RelyingParty.CreateUser), never derived from the name (it is
	// stored by authenticators and must not reveal personal data). Primary
	// key. Immutable.
	Handle []byte
	// Name is the unique sign-in name, already normalised by the library
	// (trimmed, case-folded), up to 254 characters (an email address).
	// Stores compare it byte for byte. UpdateUser may change it.
	Name string
	// DisplayName is shown by authenticators in account pickers.
	DisplayName string
	// CreatedAt is set by the library before the user is stored.
	CreatedAt time.Time
	// SessionEpoch counts the times the account's sessions were ended
	// (EndSessions). Sessions remember the epoch they were issued under and
	// are valid only while it is current, so signing out everywhere, or
	// removing a passkey, invalidates every session server-side. Stores keep
	// it; CreateUser stores the value given (normally 0).
	SessionEpoch uint64
	// Email is the account's email address, normalised by the library
	// (see NormalizeEmail), or empty. Unique among users that have one:
	// GetUserByEmail finds it. Up to 254 characters.
	Email string
	// EmailVerifiedAt is when the owner of Email proved they receive mail
	// there (a code or link sent to it was used); zero while unverified.
	EmailVerifiedAt time.Time
}

// Credential is a registered passkey: the credential record of WebAuthn §4.
// Stores persist every field but ProviderName and return it unchanged (time
// values may lose precision below a microsecond and are returned in UTC).
type Credential struct {
	// ID is the credential ID chosen by the authenticator (1 to 1023 bytes).
	// Globally unique across all users: primary key.
	ID []byte
	// UserHandle is the owner's User.Handle.
	UserHandle []byte
	// PublicKey is the COSE-encoded credential public key.
	PublicKey []byte
	// SignCount is the last signature counter seen (0 for authenticators
	// without a counter, such as synced passkeys).
	SignCount uint32
	// AAGUID identifies the authenticator model (16 bytes; all zero when
	// attestation is "none" on many platforms).
	AAGUID []byte
	// AttestationFormat is the attestation statement format at registration
	// ("none", "packed", "tpm", ...).
	AttestationFormat string
	// Transports are the hints the browser returned ("internal", "hybrid",
	// "usb", "nfc", "ble").
	Transports []string
	// Authenticator data flags. BackupEligible never changes after
	// registration; BackupState and UserVerified are updated after each login.
	UserPresent    bool
	UserVerified   bool
	BackupEligible bool
	BackupState    bool
	// Attachment is "platform", "cross-platform" or empty when unknown.
	Attachment string
	// Name is the user-given label ("Work laptop"). May be empty.
	Name string
	// CreatedAt is when the credential was registered.
	CreatedAt time.Time
	// LastUsedAt is when it last signed in; zero if never.
	LastUsedAt time.Time
	// CloneSuspected is set when a sign counter went backwards and the
	// configured CounterPolicy accepted the login anyway.
	CloneSuspected bool
	// SecondFactorOnly marks a credential registered as a second factor
	// (e.g. a security key without user verification, added after a
	// password sign-in): it is never accepted for a usernameless
	// (discoverable) sign-in, only for a login bound to its user.
	// Immutable after registration.
	SecondFactorOnly bool

	// ProviderName names the authenticator model or passkey provider
	// ("Google Password Manager", "YubiKey 5 Series with NFC") from AAGUID,
	// for display; "" when unknown. It is not stored: stores need not
	// persist it (and the RelyingParty never passes it to them); the
	// RelyingParty fills it in every credential it returns
	// (ListCredentials, Registration.Credential, Login.Credential) with
	// RelyingParty.AuthenticatorName.
	ProviderName string
	// AttestationObject is the attestation object (CBOR) the authenticator
	// returned at registration, kept so that AuditCredentials can evaluate
	// it again when the metadata changes (an authenticator model revoked
	// later). Nil for credentials registered before it was stored and for
	// imported ones without it. At most MaxAttestationObjectSize bytes.
	// Immutable after registration.
	AttestationObject []byte
	// AttestationClientDataHash is the SHA-256 of the registration's
	// clientDataJSON, which the attestation signature covers: with
	// AttestationObject it lets the statement be verified again. 32 bytes,
	// or nil with AttestationObject nil. Immutable after registration.
	AttestationClientDataHash []byte

	// The attestation audit state, written at registration and by
	// CredentialAuditor.SetCredentialAudit (see CredentialAudit).
	AttestationTrust     string
	AttestationCheckedAt time.Time
	QuarantinedAt        time.Time
	QuarantineReason     string
}

// MaxAttestationObjectSize bounds Credential.AttestationObject: 48 KiB, the
// most a base64url attestationObject inside a response of MaxResponseSize
// can decode to. Stores may refuse a longer one (any error).
const MaxAttestationObjectSize = MaxResponseSize / 4 * 3

// MaxAuditTextLength bounds CredentialAudit.Trust and
// CredentialAudit.QuarantineReason, in bytes.
const MaxAuditTextLength = 256

// CredentialAudit is the attestation audit state of a credential: what the
// last evaluation of its attestation found and whether the credential is
// quarantined. A quarantined credential is refused at login
// (ErrCredentialQuarantined) but stays stored; clearing QuarantinedAt lets
// it sign in again.
type CredentialAudit struct {
	// Trust is the outcome of the last evaluation ("trusted", "untrusted",
	// "revoked", "none", ...; see AuditVerdict), empty if never evaluated.
	// At most MaxAuditTextLength bytes.
	Trust string
	// CheckedAt is when that evaluation ran; zero if never.
	CheckedAt time.Time
	// QuarantinedAt is when the credential was quarantined; zero when it
	// is not.
	QuarantinedAt time.Time
	// QuarantineReason is a short, log-safe reason ("authenticator model
	// revoked by the metadata"), empty when not quarantined. At most
	// MaxAuditTextLength bytes.
	QuarantineReason string
}

// CredentialUse is what a successful login writes back to a credential.
type CredentialUse struct {
	SignCount      uint32
	BackupState    bool
	UserVerified   bool
	LastUsedAt     time.Time
	CloneSuspected bool
}

// MaxRecoveryCodes is how many recovery code hashes a user may hold, and
// RecoveryCodeHashSize the length of each: the bounds of
// CredentialStore.SetRecoveryCodes, which refuses anything else.
const (
	MaxRecoveryCodes     = 32
	RecoveryCodeHashSize = 32
)

// CredentialStore keeps users and their credentials.
//
// Contract (each clause is a named subtest in storetest.TestCredentialStore):
//
//   - Implementations are safe for concurrent use by multiple goroutines
//     (and, for shared backends, multiple processes).
//   - Names are compared byte for byte (no case folding, no collation, no
//     trailing-space padding): the library normalises names before storing.
//   - Times come back in UTC and within one microsecond of what was stored.
//   - CreateUser stores the user and, when first is not nil, its first
//     credential atomically: either both are stored or neither. A user may
//     have no credential (an application's existing user who has not added
//     a passkey yet). It returns ErrUserExists if a user with the same Name
//     or Handle exists, ErrCredentialExists if the credential ID is already
//     stored (for any user); nothing is stored in either case. When both
//     are taken either error may be returned. first.UserHandle must equal
//     user.Handle (any error otherwise).
//   - CreateUser stores Email and EmailVerifiedAt as given. A non-empty
//     Email is unique like Name: ErrUserExists if another user has it.
//   - GetUserByEmail returns the user with this exact (normalised) email,
//     compared byte for byte, or ErrNotFound (also for the empty string).
//   - SetEmail sets the Email and EmailVerifiedAt of the user with this
//     handle (an empty email removes it; a zero verifiedAt marks it
//     unverified). ErrNotFound for an unknown user; ErrUserExists if
//     another user has the email (nothing changes then). The old address is
//     free for others afterwards. Of concurrent SetEmail calls of two users
//     with the same free address exactly one succeeds.
//   - SetRecoveryCodes replaces the user's recovery codes with hashes (the
//     library stores only keyed hashes, each 32 bytes; at most 32 of them);
//     an empty list removes them all. ErrNotFound for an unknown user.
//   - UseRecoveryCode removes hash from the user's recovery codes as one
//     atomic step and succeeds only if it was there: of concurrent uses of
//     one code exactly one succeeds, the others get ErrNotFound (as for an
//     unknown code or user). RecoveryCodesLeft counts them (0 for an
//     unknown user). DeleteUser removes them with the user.
//   - UpdateUser sets the Name and DisplayName of the user with this handle
//     (Handle, CreatedAt and SessionEpoch are unchanged). It returns
//     ErrNotFound for an unknown user and ErrUserExists if another user has
//     the new name (nothing changes then); renaming a user to its own name
//     succeeds. The old name is free for others afterwards. Of concurrent
//     renames of two users to the same free name exactly one succeeds.
//   - GetUserByHandle and GetUserByName return ErrNotFound for an unknown
//     user.
//   - DeleteUser removes the user and all its credentials; ErrNotFound if the
//     user does not exist.
//   - AddCredential stores one more credential for an existing user. It
//     returns ErrNotFound if cred.UserHandle names no user and
//     ErrCredentialExists if the ID is already stored for any user.
//   - AddCredential and CreateUser store every Credential field, the
//     attestation ones included (AttestationObject up to
//     MaxAttestationObjectSize bytes, the audit fields as given);
//     UpdateCredentialUse and RenameCredential leave those unchanged.
//   - GetCredential returns ErrNotFound for an unknown ID.
//   - ListCredentials returns the user's credentials ordered by CreatedAt,
//     then ID (bytes.Compare order); an empty (nil or zero-length) slice and
//     no error when the user has none or does not exist.
//   - UpdateCredentialUse is a pure compare-and-set: it applies use only if
//     the stored SignCount equals expectedSignCount, as one atomic step (0 to
//     0 included, as synced passkeys report). It returns ErrConflict if the
//     stored count differs and ErrNotFound if the credential does not exist.
//     Under concurrent calls no update is lost. (Deciding whether a counter
//     may move is the library's job, not the store's.)
//   - RenameCredential and DeleteCredential act only on a credential owned by
//     userHandle; a credential that does not exist or belongs to someone else
//     gives ErrNotFound and is left unchanged.
//   - DeleteCredential with allowLast true may delete the user's last
//     credential. With allowLast false it deletes only if the user keeps at
//     least one other credential, checked and deleted as one atomic step,
//     else it deletes nothing and returns ErrLastCredential: of concurrent
//     deletes of a user's last two credentials with allowLast false, exactly
//     one succeeds.
//   - EndSessions increments the user's SessionEpoch as one atomic step and
//     returns the new value (concurrent calls each get a distinct value and
//     none is lost); ErrNotFound if the user does not exist. CreateUser
//     stores User.SessionEpoch as given; GetUserByHandle, GetUserByName and
//     GetCredentialWithUser return the current value.
//   - Error texts never contain stored values (names, handles, credential
//     IDs, keys): drivers' messages that echo them (a duplicate-key message
//     quoting the key) are replaced by the sentinel, since error texts end up
//     in logs.
//   - A call whose context is already canceled returns an error wrapping
//     ctx.Err() (not ErrStoreUnavailable) and changes nothing.
//   - Errors reaching the backend wrap ErrStoreUnavailable.
//   - Byte slices passed in may be reused by the caller after the call
//     returns; returned values are owned by the caller.
type CredentialStore interface {
	CreateUser(ctx context.Context, user User, first *Credential) error
	UpdateUser(ctx context.Context, handle []byte, name, displayName string) error
	GetUserByEmail(ctx context.Context, email string) (User, error)
	SetEmail(ctx context.Context, handle []byte, email string, verifiedAt time.Time) error

	SetRecoveryCodes(ctx context.Context, handle []byte, hashes [][]byte) error
	UseRecoveryCode(ctx context.Context, handle []byte, hash []byte) error
	RecoveryCodesLeft(ctx context.Context, handle []byte) (int, error)
	GetUserByHandle(ctx context.Context, handle []byte) (User, error)
	GetUserByName(ctx context.Context, name string) (User, error)
	DeleteUser(ctx context.Context, handle []byte) error

	AddCredential(ctx context.Context, cred Credential) error
	GetCredential(ctx context.Context, id []byte) (Credential, error)
	ListCredentials(ctx context.Context, userHandle []byte) ([]Credential, error)
	UpdateCredentialUse(ctx context.Context, id []byte, expectedSignCount uint32, use CredentialUse) error
	RenameCredential(ctx context.Context, userHandle, id []byte, name string) error
	DeleteCredential(ctx context.Context, userHandle, id []byte, allowLast bool) error

	EndSessions(ctx context.Context, userHandle []byte) (epoch uint64, err error)

	// Features declares the store's optional capabilities.
	Features() Features
}

// ChallengeStore keeps in-flight ceremonies (the state between Begin* and
// Finish*) for a few minutes. The data is opaque to the store.
//
// Contract (each clause is a named subtest in storetest.TestChallengeStore):
//
//   - Implementations are safe for concurrent use.
//   - PutCeremony stores a copy of data under id until expiresAt (by the
//     store's clock; a ceremony is expired from expiresAt on). It returns
//     ErrDuplicate if id is already stored and not expired. With an
//     expiresAt already past it may store nothing or return an error.
//   - The duplicate check and the write are one atomic step: of any number
//     of concurrent puts of one id with different data, at most one
//     succeeds (exactly one if no live ceremony holds the id) and the
//     others get ErrDuplicate, never an error caused by their contention
//     (a deadlock or serialisation failure between them is the store's to
//     avoid or retry); the id then holds the winner's data.
//   - A put of the same data and expiresAt as the live ceremony may succeed
//     instead of giving ErrDuplicate: a store may take it for its own write
//     retried after a lost reply (redisstore does). A caller that uses
//     PutCeremony as a claim or a "mark used" must therefore put data
//     unique to each call, such as a random nonce, as package totp does.
//   - TakeCeremony returns the data and removes it in one atomic step: of
//     any number of concurrent takes of one id, exactly one succeeds; the
//     others, and every later take, get ErrNotFound.
//   - TakeCeremony never returns a ceremony whose expiresAt has passed; it
//     returns ErrNotFound instead.
//   - Expired ceremonies do not accumulate: the store removes them (native
//     expiry, a janitor, or an explicit cleanup method documented by the
//     store).
//   - Errors reaching the backend wrap ErrStoreUnavailable.
type ChallengeStore interface {
	PutCeremony(ctx context.Context, id string, data []byte, expiresAt time.Time) error
	TakeCeremony(ctx context.Context, id string) ([]byte, error)

	// Features declares the store's optional capabilities.
	Features() Features
}

// Features is what a store declares about itself. The library and the
// conformance suite read it instead of guessing by type assertion, which a
// wrapper that embeds a store would fool (it would seem to offer a method
// it does not forward). A wrapper declares what it really forwards.
type Features struct {
	// ProcessLocal: the store keeps its data in this process only and loses
	// it on exit (memstore). Any other store may be shared by several
	// processes, so New then requires Config.Secret: a random secret per
	// process would make their answers for unknown names differ (an
	// enumeration oracle) and make ceremony records written by one process
	// fail the integrity check in another.
	ProcessLocal bool
	// CredentialWithUser: the store implements CredentialUserGetter, and a
	// discoverable FinishLogin uses it (one round trip instead of two).
	CredentialWithUser bool
	// ListUserHandles: the store implements UserHandleLister (every
	// account can be visited in pages: key rotation, exports, audits).
	ListUserHandles bool
	// Audit: the store implements CredentialAuditor, which
	// RelyingParty.AuditCredentials, QuarantineCredential and
	// ReleaseCredential need (they fail with ErrInvalidRequest otherwise).
	Audit bool
}

// CredentialUserGetter is an optional interface: a CredentialStore that can
// read a credential and its owner in one step (one round trip, e.g. a JOIN)
// implements it and declares Features.CredentialWithUser, and a
// discoverable (usernameless) FinishLogin then uses it instead of
// GetCredential followed by GetUserByHandle.
//
// The contract is GetCredential's: it returns ErrNotFound for an unknown ID,
// and the user returned is the credential's owner. It must return exactly
// what GetCredential and GetUserByHandle would (storetest.TestCredentialStore
// checks this when a store declares it).
type CredentialUserGetter interface {
	GetCredentialWithUser(ctx context.Context, id []byte) (Credential, User, error)
}

// CredentialAuditor is an optional interface: a CredentialStore that can
// walk all its credentials page by page and record the outcome of an
// attestation audit implements it and declares Features.Audit.
//
// Contract (each clause is a named subtest in
// storetest.TestCredentialStore, run when the store declares Audit):
//
//   - ScanCredentials returns one page of the store's credentials and the
//     cursor of the next page. Start with cursor ""; next is "" after the
//     last page. The cursor is opaque and may be kept (in a file, a table)
//     to resume a scan in another process, with the same store.
//   - A page holds at most limit credentials (limit from 1 to
//     MaxScanPageSize; any error otherwise) and may hold fewer, even none,
//     before the last page: only next == "" ends the scan.
//   - Every credential stored before the scan begins and not deleted before
//     it ends is returned at least once. One added or deleted during the
//     scan may or may not be; one may be returned more than once (callers
//     must be idempotent). Credentials come back as GetCredential returns
//     them.
//   - A malformed cursor (one the store cannot have made) gives an error
//     (any).
//   - The scan holds no lock and no server-side state between pages: it
//     may be abandoned at any point.
//   - SetCredentialAudit replaces the four audit fields of the credential
//     (AttestationTrust, AttestationCheckedAt, QuarantinedAt,
//     QuarantineReason) as one atomic step and changes nothing else;
//     ErrNotFound if the credential does not exist (a credential deleted
//     meanwhile is not written back). Concurrent UpdateCredentialUse,
//     RenameCredential and SetCredentialAudit calls on one credential lose
//     none of each other's fields; of concurrent SetCredentialAudit calls
//     one wins whole (the four fields are never mixed from two calls).
//     Texts longer than MaxAuditTextLength bytes give an error (any) and
//     change nothing.
type CredentialAuditor interface {
	ScanCredentials(ctx context.Context, cursor string, limit int) (page []Credential, next string, err error)
	SetCredentialAudit(ctx context.Context, id []byte, audit CredentialAudit) error
}

// MaxScanPageSize bounds CredentialAuditor.ScanCredentials' limit.
const MaxScanPageSize = 1000

// MaxUserHandlePage is the largest page UserHandleLister.ListUserHandles
// accepts.
const MaxUserHandlePage = 1000

// UserHandleLister is an optional interface: a CredentialStore that can
// list the handles of all its users, in pages, implements it and declares
// Features.ListUserHandles. Tools that visit every account use it (package
// sealstore's Rekey re-seals each user's values with a new key).
//
// Contract (storetest.TestCredentialStore's ListUserHandles clauses, run
// when the store declares it):
//
//   - ListUserHandles returns the handles of stored users that are greater
//     than after (bytes.Compare order; nil or empty after starts at the
//     beginning), ascending, at most limit of them. Fewer than limit
//     (possibly none) means there are no more. limit must be 1 to
//     MaxUserHandlePage (any error otherwise).
//   - A walk (each call's after the last handle of the previous page)
//     returns every user that exists for the whole walk exactly once;
//     users created or deleted meanwhile may or may not appear. A deleted
//     user is not returned by a call that starts after the deletion.
//   - A canceled context gives an error wrapping ctx.Err(); backend errors
//     wrap ErrStoreUnavailable. Returned slices are owned by the caller.
type UserHandleLister interface {
	ListUserHandles(ctx context.Context, after []byte, limit int) ([][]byte, error)
}

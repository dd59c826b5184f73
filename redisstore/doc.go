// Package redisstore keeps webauthnkit users, passkeys and in-flight
// ceremonies in Redis. One *Store is both the webauthnkit.CredentialStore and
// the webauthnkit.ChallengeStore, and works the same on a single server,
// behind Sentinel, and on Redis Cluster.
//
// # Setup
//
//	rdb := redis.NewClient(&redis.Options{
//		Addr:                  "redis.internal:6379",
//		DialerRetries:         1,    // fail fast when Redis is down (default: 5 dials per attempt)
//		ContextTimeoutEnabled: true, // honour the caller's context deadline on reads and writes
//	})
//	defer rdb.Close()                 // the store never closes the client
//	store, err := redisstore.New(rdb) // checks the server version
//	if err != nil { ... }
//	defer store.Close()
//	rp, err := webauthnkit.New(webauthnkit.Config{
//		RPID:        "example.com",
//		Origins:     []string{"https://example.com"},
//		Credentials: store,
//		Ceremonies:  store,
//	})
//
// Sentinel: pass redis.NewFailoverClient(&redis.FailoverOptions{...}).
// Cluster: pass redis.NewClusterClient(&redis.ClusterOptions{...}). The
// store does not own the client; close it yourself. Store.Close exists so
// that every backend has the same shape: the store holds nothing of its own
// (no goroutines, connections or caches), so it releases nothing and never
// closes the client.
//
// The store is shared by every process using the same Redis and prefix
// (Features().ProcessLocal is false), so webauthnkit.New requires
// Config.Secret with it.
//
// # Requirements
//
// Redis 6.2 or newer (MinRedisVersion; GETDEL appeared in 6.2), or a
// compatible server that reports such a redis_version (Valkey does). New
// runs INFO server on the server, or on every master of a Cluster, and
// refuses older ones: "redisstore: Redis 6.2 or newer required, server is
// 6.0.16". Lua scripting (EVAL/EVALSHA) must be allowed.
//
// # Data model
//
// Every key starts with the prefix (DefaultKeyPrefix, "webauthnkit:", or
// WithKeyPrefix). Identifiers between braces are base64url without padding,
// and being in braces they are the key's Cluster hash tag:
//
//	user:{H}          hash   user with handle H: name, display name, created,
//	                         session epoch, tx, name tx (after a rename),
//	                         email, its verified time, email tx (after a
//	                         SetEmail)
//	usercreds:{H}     hash   H's credential index: credential ID (raw) -> tx
//	recovery:{H}      set    H's recovery code hashes
//	recoveryused:{H}  hash   H's recent recovery code uses: hash -> nonce
//	                         (60 s after the last use)
//	lease:{H}:TX      string lease of write or deletion TX for user H (PX)
//	name:{N}          string name claim: TX followed by the owner's handle
//	email:{E}         string email claim: TX followed by the owner's handle
//	cred:{I}          hash   credential with ID I: owner, state, tx, fields
//	ceremony:ID       string expiry (8 bytes) + ceremony data, PX TTL
//
// A user's own keys share one slot (tag H); each credential, name and email
// has its own slot. GetCredential, the login's hot path, is one HMGET;
// UpdateCredentialUse is one script on the credential's key; GetUserByHandle
// is one HGETALL; GetUserByName and GetUserByEmail two reads; UpdateUser
// and SetEmail four round trips (one when the value is unchanged);
// UseRecoveryCode one script (an SREM), RecoveryCodesLeft one SCARD; ListCredentials an HGETALL of the
// index and one pipelined HMGET per credential (one round trip per node).
// EndSessions is one script on the user record; DeleteCredential takes four
// round trips, five when guarded (see below). The store does not implement
// webauthnkit.CredentialUserGetter (Features().CredentialWithUser is false):
// a credential and its owner live in different slots, so it would still be
// two round trips.
//
// Credential records carry SecondFactorOnly as field "sf" ("0" or "1");
// records written before it existed lack it and read as false. The
// attestation object ("ao", at most webauthnkit.MaxAttestationObjectSize
// bytes) and its client data hash ("ah") are absent when nil; the audit
// state is "atr" (trust), "ack" (checked at), "qa" (quarantined at) and
// "qr" (reason), written together by one script (SetCredentialAudit).
// Records written before these existed lack them and read as no
// attestation object, never audited, not quarantined. ScanCredentials
// (webauthnkit.CredentialAuditor) walks the keyspace with SCAN MATCH
// <prefix>cred:{*} (each Cluster master in turn) and reads a page's records
// in one pipelined round trip; see its documentation for its cost.
//
// # Consistency across slots
//
// Names and credential IDs are unique across all users, so they cannot live
// in the slot of every user, and Redis Cluster runs a script only on keys of
// one slot. CreateUser therefore touches three slots and AddCredential two.
// Rather than a single-server code path and a Cluster one, the store uses
// one protocol everywhere: a short transaction of single-slot atomic steps,
// each a Lua script, with claims and a commit point.
//
//  1. Begin (user's slot): check the user (must not exist for CreateUser,
//     must for AddCredential) and set a lease key lease:{H}:TX with a
//     native TTL (10 s).
//  2. Claim the name (CreateUser): set name:{N} to TX+H, if absent; then,
//     for a user created with an email, email:{E} the same way.
//  3. Claim the credential ID: create cred:{I} in state "pending" (owner H,
//     TX), if absent. CreateUser without a first credential (a user who
//     has no passkey yet) skips this step and step 5.
//  4. Commit (user's slot): only if the lease still exists, and consuming it
//     in the same script, write the user record (CreateUser) and add I to
//     the credential index. This is the commit point: from here on the user
//     and the credential exist, before it they do not.
//  5. Mark cred:{I} "committed", so that readers need one round trip.
//
// Readers never trust a claim on its own. GetUserByName reads the claim, then
// the user record, and answers only if the record carries the same name and
// TX as its name transaction (field "nt", set by UpdateUser; until the
// first rename, the creating transaction "t"); GetUserByEmail likewise with
// the email ("m") and its transaction ("mt", set by SetEmail). Names and
// emails are two key spaces of one claim mechanism (claimSpace).
// GetCredential returns a committed record directly; a pending one is
// resolved in its owner's slot: the lease still exists (in progress: not
// found yet), or I is in the index with TX (committed: the reader finishes
// step 5), or neither (the write failed: the record is deleted). Once the
// lease is gone a transaction has either committed or never will, because
// the commit needs the lease: this is what makes every claim decidable
// without clocks.
//
// A writer that finds another transaction's claim resolves it the same way:
// a committed claim means ErrUserExists or ErrCredentialExists; a claim
// whose transaction is still running is waited for (backing off, for at most
// the lease; meanwhile the waiter extends its own lease), then decided; a
// dead claim (lease gone, never committed, or its user deleted since) is
// taken over with a compare-and-set. So of concurrent CreateUser calls for
// one name exactly one succeeds, and a loser is told ErrUserExists only once
// the winner has committed.
//
// DeleteUser runs in the opposite order, so that nothing half-deleted is
// ever visible: it deletes the credential records, then (in one script, if
// the index, name and email did not change meanwhile; else it starts over)
// the user record, its index and its recovery codes, then the name and
// email claims. UpdateCredentialUse is a
// compare-and-set on the sign count in one script; RenameCredential checks
// the owner in its script.
//
// # Renaming a user
//
// UpdateUser moves a user from name N to N'. The claim of N' is in its own
// slot, so the rename is a transaction of the same kind, whose commit point
// is the switch of the user record:
//
//  1. Begin (user's slot): check the user, read N and the transaction of
//     its claim, take a lease lease:{H}:RX. A user that already has N'
//     only gets its display name set, in this same script.
//  2. Claim N': set name:{N'} to RX+H, as CreateUser claims a name (a claim
//     in progress is waited for, a valid one means ErrUserExists and
//     nothing changes, a dead one is taken over).
//  3. Commit (user's slot), only while the lease holds and consuming it,
//     and only if the record still has N and its claim's transaction: set
//     the name N', the display name and the name transaction RX. From here
//     the claim of N' is valid and the claim of N stale.
//  4. Release the claim of N, if it still holds its old value.
//
// Renames of two users to one free name meet at step 2, so exactly one
// succeeds. Renames of one user meet at step 3: the later one finds the
// record changed, releases its claim and starts over, so both succeed in
// turn and only the last name stays claimed. DeleteUser's final script
// checks the name transaction it read, and starts over if a rename
// committed meanwhile, so it releases the claim of the user's current name.
//
// # Changing the email
//
// SetEmail is the rename protocol in the email space, with "m" and "mt" in
// the roles of "n" and "nt" and the verified time ("mv") in the role of the
// display name: begin (user's slot: read E and its claim's transaction,
// take a lease lease:{H}:MX; a user that already has E' only gets its
// verified time set), claim email:{E'} with MX+H (skipped when removing the
// address), commit (user's slot, consuming the lease, only if the user
// still has E under the transaction read: set E', "mv" and "mt" = MX),
// release E's claim. A crash after the begin leaves a lease that expires;
// after the claim, a claim of E' that readers ignore and others wait for
// until the lease expires, then take over; after the commit, a stale claim
// of E that the next claimant takes over at once. The user is never found
// under two addresses; of two users setting one free address exactly one
// succeeds.
//
// # Recovery codes
//
// A set recovery:{H} in the user's slot: SetRecoveryCodes replaces it in
// one script that checks the user exists, DeleteUser removes it with the
// user, and UseRecoveryCode is one SREM, so of concurrent uses of a code
// exactly one succeeds.
//
// # Deleting a credential: the last-passkey guard
//
// DeleteCredential with allowLast false must delete only if the user keeps
// another credential, as one atomic step: of two concurrent deletes of a
// user's last two passkeys exactly one succeeds. The credential's record
// and the user's credential index are in different slots, so the check can
// be atomic only in one of them: the user's slot, where the index says
// which credentials the user has. DeleteCredential is therefore a
// transaction like AddCredential, whose commit point is the removal of the
// index entry:
//
//  1. Begin (user's slot): check the user, take a lease lease:{H}:DX (DX
//     is this deletion's ID) and, when guarded, read the index.
//  2. Mark (credential's slot): set the record's state to "d" with DX,
//     after checking its owner. The credential stays live.
//  3. When guarded: read the owner and tx of the other index entries'
//     records (one pipelined round trip) and note the stale entries, whose
//     record is gone or was written by another transaction (left by a
//     crashed DeleteUser, or by an older version of this store). Staleness
//     is permanent, since every write has a new tx.
//  4. Commit (user's slot), one script, only while the lease holds: remove
//     the stale entries, refuse (ErrLastCredential) if fewer than two
//     entries remain, else remove the credential's entry and record the
//     outcome in the lease. Two guarded deletes are serialised here: the
//     second sees one entry left and refuses.
//  5. Delete the record (credential's slot).
//
// Readers that meet a record marked "d" decide it in the owner's slot: the
// credential exists while its index entry does (the deletion has not
// committed). Once the entry is gone the record is garbage and the reader
// deletes it; once the deletion's lease is gone (or it was refused) without
// a commit it never will commit, and the reader removes the mark. A
// refused or failed deletion removes its own mark at once. A record marked
// by a deletion still in progress costs its readers one more round trip;
// UpdateCredentialUse and RenameCredential apply to it once found live.
//
// # Session epochs
//
// The user record carries the session epoch (field "e", a decimal uint64;
// absent in records written before it existed, read as 0). CreateUser
// stores the value given; GetUserByHandle and GetUserByName return it.
// EndSessions increments it in one script on the user record, which first
// checks that the user exists, so an unknown handle gives ErrNotFound and
// creates no key. The script adds one digit by digit (Lua numbers are
// doubles and HINCRBY stops at 2^63-1); at 2^64-1 it fails rather than
// wrapping to 0, which would make old sessions valid again.
//
// # Crash consistency
//
// A process that dies in the middle of a write leaves, at worst:
//
//   - claims of an uncommitted CreateUser or AddCredential: invisible to
//     readers; they block that name or credential ID until the lease
//     expires (10 s), then the next claimant takes them over. A pending
//     credential record that nobody claims again stays in Redis (a few
//     hundred bytes) until someone reads it.
//   - a commit without step 5: readers finish it.
//   - an UpdateUser stopped after claiming the new name: a claim readers
//     ignore (the record does not carry that name: the user is found under
//     its old name only); it blocks the new name until the lease expires
//     (10 s), then the next claimant, or a retry of the rename, takes it
//     over. Stopped after its commit: the user is renamed for every
//     reader, and the old name's claim is stale: ignored by readers and
//     taken over at once by the next claimant (another user, or this one
//     renamed back); a retry of the rename finds the name set and
//     succeeds. Unclaimed, the stale key stays in Redis (a few dozen
//     bytes). A user is never visible under two names, nor under none.
//   - a DeleteUser stopped after deleting some credentials: a user with fewer
//     (possibly no) passkeys, a valid state; calling DeleteUser again
//     finishes. Its index keeps entries without records: ListCredentials
//     and DeleteUser skip them, and the guard of DeleteCredential removes
//     them before counting. Stopped after deleting the user: a stale name
//     claim that readers ignore and the next CreateUser with that name
//     takes over.
//   - a DeleteCredential stopped before its commit: a record marked "d"
//     whose credential is live, usable and counted by the guard; readers
//     pay one more round trip for it until its lease expires (10 s), then
//     remove the mark. Stopped after the commit: a marked record without
//     an index entry, which every reader and writer treats as deleted; the
//     first to meet it (a login, a registration of the same ID) deletes
//     it, and until then it stays in Redis (a few hundred bytes).
//
// The same holds when the process survives but a step fails (Redis down):
// nothing is left half-visible, and the writer releases its claims when it
// can. A write that takes longer than the lease (a stalled process) fails
// with ErrStoreUnavailable instead of committing over claims that may have been
// taken over.
//
// Redis replication is asynchronous: after a failover the new master may
// lack the last writes acknowledged by the old one, and on a Cluster the
// keys of one CreateUser may be on different masters. WithReplicaAck makes
// every write wait (Redis WAIT) until replicas of each master it touched
// have it, if you cannot lose an acknowledged registration (TestSentinel
// shows the loss without it and none with it). The
// same goes for deletions and session epochs: a failover that loses an
// acknowledged EndSessions brings back the sessions it ended, one that
// loses a DeleteCredential brings back the passkey. The guard counts only
// index entries whose record it has just read, so a lost record is not
// counted; a record lost after that read, between the check and the
// commit, is beyond what asynchronous replication lets it promise.
//
// # Expiry
//
// A ceremony key carries a native TTL ending at its expiresAt (rounded up to
// the millisecond), so Redis removes expired ceremonies itself; no janitor is
// needed. TakeCeremony (GETDEL) also compares the stored expiry with the
// store's clock, so a ceremony is never returned from expiresAt on, even
// while the server-side TTL still runs. A ceremony whose expiresAt has
// already passed is not stored. Leases expire natively too. Users,
// credentials, indexes, recovery codes and name and email claims have no
// TTL.
//
// # Errors
//
// Errors start with "redisstore:" and wrap the contract's sentinels
// (webauthnkit.ErrNotFound, ErrUserExists, ErrCredentialExists,
// ErrDuplicate, ErrConflict, ErrLastCredential). Their texts never contain
// stored values or keys (which contain names, handles and credential IDs):
// a damaged record is reported by field name only. When Redis cannot be
// reached or cannot serve
// the request now (connection refused, reset or closed, timeouts, the
// caller's deadline expiring while waiting for Redis, an exhausted pool,
// LOADING, READONLY, MASTERDOWN, CLUSTERDOWN, TRYAGAIN, BUSY, OOM, max
// clients) the error wraps webauthnkit.ErrStoreUnavailable and the cause:
//
//	redisstore: GetCredential: webauthnkit: store_unavailable: storage is temporarily unavailable: dial tcp 10.0.0.7:6379: connect: connection refused
//
// The HTTP adapter answers these with 503. A call whose context is already
// done, or that the caller cancels, returns the context's error without
// ErrStoreUnavailable. The store recovers by itself: go-redis replaces broken
// connections and rediscovers the Cluster or the Sentinel master.
//
// # Retries after a lost reply
//
// go-redis resends a command whose connection broke before the reply came
// (Options.MaxRetries, 3 by default), so a command may run twice. Every
// write script of the store recognises its own earlier run and answers as
// the first run did: claims and commits (of UpdateUser and SetEmail too),
// SetRecoveryCodes, UseRecoveryCode (its nonce is kept for 60 s; without it
// a resent SREM would report the code it used as unknown), PutCeremony (a
// put that finds its
// own value), UpdateCredentialUse (each call carries a nonce stored with the
// update; without it a resent compare-and-set would report ErrConflict and
// the library a counter regression), DeleteUser, and the steps of
// DeleteCredential (the commit's outcome is kept in its lease). Two cannot:
// a resent TakeCeremony (GETDEL) finds the ceremony already taken and
// reports ErrNotFound (the user starts the sign-in again), and a resent
// EndSessions increments twice (the epoch skips a value, which ends the
// same sessions); a resent UpdateCredentialUse also reports ErrConflict if
// another login updated the credential in between.
// Set MaxRetries to -1 to get ErrStoreUnavailable instead in these cases, at the
// cost of failing calls that a retry would have saved.
package redisstore

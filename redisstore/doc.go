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
//	store, err := redisstore.New(ctx, rdb) // checks the server version
//	if err != nil { ... }
//	rp, err := webauthnkit.New(webauthnkit.Config{
//		RPID:        "example.com",
//		Origins:     []string{"https://example.com"},
//		Credentials: store,
//		Ceremonies:  store,
//	})
//
// Sentinel: pass redis.NewFailoverClient(&redis.FailoverOptions{...}).
// Cluster: pass redis.NewClusterClient(&redis.ClusterOptions{...}). The
// store does not own the client; close it yourself.
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
//	user:{H}          hash   user with handle H: name, display name, created, tx
//	usercreds:{H}     hash   H's credential index: credential ID (raw) -> tx
//	lease:{H}:TX      string lease of write TX for user H (PX, see below)
//	name:{N}          string name claim: TX followed by the owner's handle
//	cred:{I}          hash   credential with ID I: owner, state, tx, fields
//	ceremony:ID       string expiry (8 bytes) + ceremony data, PX TTL
//
// A user's own keys share one slot (tag H); each credential and each name
// has its own slot. GetCredential, the login's hot path, is one HMGET;
// UpdateCredentialUse is one script on the credential's key; GetUserByHandle
// is one HGETALL; GetUserByName two reads; ListCredentials an HGETALL of the
// index and one pipelined HMGET per credential (one round trip per node).
// The store does not implement webauthnkit.CredentialUserGetter: a
// credential and its owner live in different slots, so it would still be
// two round trips.
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
//  2. Claim the name (CreateUser): set name:{N} to TX+H, if absent.
//  3. Claim the credential ID: create cred:{I} in state "pending" (owner H,
//     TX), if absent.
//  4. Commit (user's slot): only if the lease still exists, and consuming it
//     in the same script, write the user record (CreateUser) and add I to
//     the credential index. This is the commit point: from here on the user
//     and the credential exist, before it they do not.
//  5. Mark cred:{I} "committed", so that readers need one round trip.
//
// Readers never trust a claim on its own. GetUserByName reads the claim, then
// the user record, and answers only if the record carries the same name and
// TX. GetCredential returns a committed record directly; a pending one is
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
// Deletion runs in the opposite order, so that nothing half-deleted is ever
// visible: DeleteCredential deletes the record, then its index entry;
// DeleteUser deletes the credential records, then (in one script, if the
// index did not change meanwhile; else it starts over) the user record and
// its index, then the name claim. UpdateCredentialUse is a compare-and-set
// on the sign count in one script; RenameCredential and DeleteCredential
// check the owner in their script.
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
//   - a DeleteUser stopped after deleting some credentials: a user with fewer
//     (possibly no) passkeys, a valid state; calling DeleteUser again
//     finishes. Stopped after deleting the user: a stale name claim that
//     readers ignore and the next CreateUser with that name takes over.
//   - a DeleteCredential stopped after deleting the record: an index entry
//     that ListCredentials and DeleteUser skip.
//
// The same holds when the process survives but a step fails (Redis down):
// nothing is left half-visible, and the writer releases its claims when it
// can. A write that takes longer than the lease (a stalled process) fails
// with ErrUnavailable instead of committing over claims that may have been
// taken over.
//
// Redis replication is asynchronous: after a failover the new master may
// lack the last writes acknowledged by the old one, and on a Cluster the
// keys of one CreateUser may be on different masters. Use WAIT, or AOF with
// appendfsync always, if you cannot lose an acknowledged registration.
//
// # Expiry
//
// A ceremony key carries a native TTL ending at its expiresAt (rounded up to
// the millisecond), so Redis removes expired ceremonies itself; no janitor is
// needed. TakeCeremony (GETDEL) also compares the stored expiry with the
// store's clock, so a ceremony is never returned from expiresAt on, even
// while the server-side TTL still runs. A ceremony whose expiresAt has
// already passed is not stored. Leases expire natively too. Users,
// credentials, indexes and name claims have no TTL.
//
// # Errors
//
// Errors start with "redisstore:" and wrap the contract's sentinels
// (webauthnkit.ErrNotFound, ErrUserExists, ErrCredentialExists,
// ErrDuplicate, ErrConflict). When Redis cannot be reached or cannot serve
// the request now (connection refused, reset or closed, timeouts, the
// caller's deadline expiring while waiting for Redis, an exhausted pool,
// LOADING, READONLY, MASTERDOWN, CLUSTERDOWN, TRYAGAIN, BUSY, OOM, max
// clients) the error wraps webauthnkit.ErrUnavailable and the cause:
//
//	redisstore: GetCredential: webauthnkit: store unavailable: dial tcp 10.0.0.7:6379: connect: connection refused
//
// The HTTP adapter answers these with 503. A call whose context is already
// done, or that the caller cancels, returns the context's error without
// ErrUnavailable. The store recovers by itself: go-redis replaces broken
// connections and rediscovers the Cluster or the Sentinel master.
//
// # Retries after a lost reply
//
// go-redis resends a command whose connection broke before the reply came
// (Options.MaxRetries, 3 by default), so a command may run twice. Every
// write script of the store recognises its own earlier run and answers as
// the first run did: claims and commits, PutCeremony (a put that finds its
// own value), UpdateCredentialUse (each call carries a nonce stored with the
// update; without it a resent compare-and-set would report ErrConflict and
// the library a counter regression), and DeleteUser. Two cannot: a resent
// TakeCeremony (GETDEL) finds the ceremony already taken and reports
// ErrNotFound (the user starts the sign-in again), and a resent
// DeleteCredential reports ErrNotFound; a resent UpdateCredentialUse also
// reports ErrConflict if another login updated the credential in between.
// Set MaxRetries to -1 to get ErrUnavailable instead in these cases, at the
// cost of failing calls that a retry would have saved.
package redisstore

package redisstore

import "github.com/redis/go-redis/v9"

// Lua scripts. Every script touches only the keys it is given in KEYS, and
// all the keys of one call share a hash tag, so each runs atomically on one
// node of a Cluster. Statuses are returned as strings or small arrays whose
// first element is the status.
//
// Credential hash fields (see encodeCredential):
//
//	s  state: "p" pending (claimed by transaction t, not yet known to be
//	   committed), "c" committed,
//	   or "d" deleting (committed; a DeleteCredential marked it and may be
//	   committing its removal: live while its index entry exists)
//	o  owner user handle (raw bytes)
//	t  transaction ID that created the record
//	dx the DeleteCredential transaction that marked the record "d"
//	sc sign count (decimal), uv/bs/cs flags ("0"/"1"), lu last use (µs)
//	... and the immutable fields.

// scriptPutCeremony stores a ceremony unless its key exists (SET PX NX). A
// key that already holds exactly this value is this same put, run again
// because its reply was lost: success, not a duplicate.
//
// KEYS: ceremony. ARGV: value, TTL in milliseconds.
var scriptPutCeremony = redis.NewScript(`
if redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2], 'NX') then return 1 end
if redis.call('GET', KEYS[1]) == ARGV[1] then return 1 end
return 0
`)

// scriptBegin starts a transaction for a user: it checks the user record and
// sets the lease that the commit requires.
//
// KEYS: user, lease. ARGV: mode ("create": the user must not exist; "add":
// it must), lease in milliseconds.
var scriptBegin = redis.NewScript(`
local e = redis.call('EXISTS', KEYS[1])
if ARGV[1] == 'create' then
  if e == 1 then return 'exists' end
elseif e == 0 then
  return 'notfound'
end
redis.call('SET', KEYS[2], '1', 'PX', ARGV[2])
return 'ok'
`)

// scriptCommit is the commit point of CreateUser and AddCredential. It
// succeeds only while the lease is alive, and consumes it: once the lease is
// gone (consumed or expired) the transaction either committed here or never
// will, which is what lets others resolve its claims. Run again after it
// succeeded (go-redis retries a command whose reply was lost), it answers
// "ok" again rather than "expired".
//
// KEYS: user, user's credential index, lease, user's recovery codes. ARGV:
// mode ("create"/"add"), transaction ID, credential ID ("" for a user
// created without one), then (create) the user hash field/value pairs.
var scriptCommit = redis.NewScript(`
if redis.call('DEL', KEYS[3]) == 0 then
  if ARGV[1] == 'create' then
    if redis.call('HGET', KEYS[1], 't') == ARGV[2] then return 'ok' end
  elseif redis.call('HGET', KEYS[2], ARGV[3]) == ARGV[2] then
    return 'ok'
  end
  return 'expired'
end
local e = redis.call('EXISTS', KEYS[1])
if ARGV[1] == 'create' then
  if e == 1 then return 'exists' end
  redis.call('DEL', KEYS[2], KEYS[4])
  redis.call('HSET', KEYS[1], unpack(ARGV, 4))
elseif e == 0 then
  return 'notfound'
end
if ARGV[3] ~= '' then redis.call('HSET', KEYS[2], ARGV[3], ARGV[2]) end
return 'ok'
`)

// scriptClaim claims a unique value (a user name or email; see claimSpace)
// for a transaction: it sets the claim key if it is absent, or if it still
// holds the expected (dead) value being taken over. Otherwise it returns
// the current value (unless that is already the new value: the script ran
// before and its reply was lost).
//
// KEYS: claim. ARGV: new value, expected old value ("" for none).
var scriptClaim = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if cur == ARGV[1] then return {1} end
if cur and cur ~= ARGV[2] then return {0, cur} end
redis.call('SET', KEYS[1], ARGV[1])
return {1}
`)

// scriptReleaseClaim deletes a claim key if it still holds the given value.
//
// KEYS: claim. ARGV: value.
var scriptReleaseClaim = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`)

// scriptResolveClaim decides the fate of a claim of a value made by
// transaction tx of user handle h, in h's slot: "busy" while the lease
// lives, "valid" if the user record carries this value under tx (in the
// space's value field, with its claim transaction in the tx field, or, until
// the first switch, "t": the CreateUser that made it), "dead" otherwise
// (the transaction failed, or the user switched away or was deleted since:
// the claim is stale).
//
// KEYS: lease of (h, tx), user h. ARGV: value, tx, value field, tx field.
var scriptResolveClaim = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 'busy' end
local u = redis.call('HMGET', KEYS[2], ARGV[3], 't', ARGV[4])
if u[1] == ARGV[1] and (u[3] or u[2]) == ARGV[2] then return 'valid' end
return 'dead'
`)

// UpdateUser and SetEmail (rename.go) are transactions like CreateUser,
// with the user record's switch to the new value as their commit point:
// scriptBeginSwitch takes a lease, the new value is claimed with
// scriptClaim, scriptCommitSwitch switches the record, and the old claim is
// released last (scriptReleaseClaim).

// scriptBeginSwitch starts an UpdateUser or SetEmail. It returns
// {"notfound"} for an unknown user; {"same"} when the user already has the
// new value, after setting the extra fields (no claim is needed, so this is
// the whole update); else it sets the lease that the commit requires and
// returns {"ok", current value, its claim transaction}.
//
// KEYS: user, lease. ARGV: value field, tx field, new value, lease in
// milliseconds, then the extra field/value pairs (display name, verified
// time).
var scriptBeginSwitch = redis.NewScript(`
local u = redis.call('HMGET', KEYS[1], 't', ARGV[1], ARGV[2])
if not u[1] then return {'notfound'} end
if (u[2] or '') == ARGV[3] then
  if #ARGV > 4 then redis.call('HSET', KEYS[1], unpack(ARGV, 5)) end
  return {'same'}
end
redis.call('SET', KEYS[2], '1', 'PX', ARGV[4])
return {'ok', u[2] or '', u[3] or u[1]}
`)

// scriptCommitSwitch is the commit point of UpdateUser and SetEmail: while
// the lease lives, and consuming it, it sets the user's value, its claim
// transaction and the extra fields, provided the user still has the value
// and claim transaction that the switch began with ("changed" otherwise: a
// concurrent switch of the same user committed first; "notfound" if the
// user was deleted). From here on the new claim is valid and the old one
// stale. Run again after it succeeded (lost reply), it answers "ok" rather
// than "expired".
//
// KEYS: user, lease. ARGV: value field, tx field, new value, switch tx, old
// value, old tx, then the extra field/value pairs.
var scriptCommitSwitch = redis.NewScript(`
local u = redis.call('HMGET', KEYS[1], 't', ARGV[1], ARGV[2])
if redis.call('DEL', KEYS[2]) == 0 then
  if (u[2] or '') == ARGV[3] and u[3] == ARGV[4] then return 'ok' end
  return 'expired'
end
if not u[1] then return 'notfound' end
if (u[2] or '') ~= ARGV[5] or (u[3] or u[1]) ~= ARGV[6] then return 'changed' end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3], ARGV[2], ARGV[4], unpack(ARGV, 7))
return 'ok'
`)

// scriptClaimCred creates a pending credential record, if the key is absent
// or still holds the expected pending record of a dead transaction.
// Otherwise it returns {0, state, owner, tx, deletion tx} of the current
// record (unless that is already the new record: the script ran before).
//
// KEYS: credential. ARGV: expected owner, expected tx ("" for none), then
// the field/value pairs of the new record, starting with state, owner, tx.
var scriptClaimCred = redis.NewScript(`
local cur = redis.call('HMGET', KEYS[1], 's', 'o', 't', 'dx')
if cur[2] == ARGV[6] and cur[3] == ARGV[8] then return {1} end
if cur[1] then
  if cur[1] ~= 'p' or ARGV[2] == '' or cur[2] ~= ARGV[1] or cur[3] ~= ARGV[2] then
    return {0, cur[1], cur[2] or '', cur[3] or '', cur[4] or ''}
  end
  redis.call('DEL', KEYS[1])
end
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
return {1}
`)

// scriptResolveCred decides the fate of a pending credential record made by
// transaction tx of user handle h, in h's slot: "busy" while the lease
// lives, "valid" if tx committed the credential to the user's index, "dead"
// otherwise.
//
// KEYS: lease of (h, tx), user h's credential index. ARGV: credential ID, tx.
var scriptResolveCred = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 'busy' end
if redis.call('HGET', KEYS[2], ARGV[1]) == ARGV[2] then return 'valid' end
return 'dead'
`)

// scriptMarkCommitted marks a pending credential record committed, if it is
// still the record of transaction tx.
//
// KEYS: credential. ARGV: tx.
var scriptMarkCommitted = redis.NewScript(`
local cur = redis.call('HMGET', KEYS[1], 's', 't')
if cur[1] == 'p' and cur[2] == ARGV[1] then
  redis.call('HSET', KEYS[1], 's', 'c')
  return 1
end
return 0
`)

// scriptDeleteCredIf deletes a credential record if it still belongs to the
// given owner and transaction, whatever its state.
//
// KEYS: credential. ARGV: owner, tx.
var scriptDeleteCredIf = redis.NewScript(`
local cur = redis.call('HMGET', KEYS[1], 'o', 't')
if cur[1] == ARGV[1] and cur[2] == ARGV[2] then
  return redis.call('DEL', KEYS[1])
end
return 0
`)

// scriptUpdateUse is the sign-count compare-and-set. Each call carries a
// random nonce, stored with the update: a count that differs from the
// expected one is a conflict, unless the record's nonce is this call's. Then
// the update was applied by an earlier run of this same call whose reply was
// lost (go-redis resends it on a new connection), and answering "conflict"
// would make the caller see a counter regression that never happened.
//
// A record being deleted ("d") is updated only once the caller has found
// it live (its index entry still there) and passes its deletion tx.
//
// KEYS: credential. ARGV: expected sign count, new sign count, uv, bs, lu,
// cs, nonce, deletion tx found live ("" for none). Returns {"notfound"},
// {"pending", owner, tx}, {"deleting", owner, tx, deletion tx},
// {"conflict"} or {"ok"}.
var scriptUpdateUse = redis.NewScript(`
local cur = redis.call('HMGET', KEYS[1], 's', 'sc', 'o', 't', 'un', 'dx')
if not cur[1] then return {'notfound'} end
if cur[1] == 'p' then return {'pending', cur[3] or '', cur[4] or ''} end
if cur[1] == 'd' and cur[6] ~= ARGV[8] then return {'deleting', cur[3] or '', cur[4] or '', cur[6] or ''} end
if cur[2] ~= ARGV[1] then
  if cur[5] == ARGV[7] then return {'ok'} end
  return {'conflict'}
end
redis.call('HSET', KEYS[1], 'sc', ARGV[2], 'uv', ARGV[3], 'bs', ARGV[4], 'lu', ARGV[5], 'cs', ARGV[6], 'un', ARGV[7])
return {'ok'}
`)

// scriptRename renames a credential owned by the given user.
//
// KEYS: credential. ARGV: owner, name, deletion tx found live ("" for
// none; see scriptUpdateUse). Returns {"notfound"}, {"pending", owner, tx},
// {"deleting", owner, tx, deletion tx} or {"ok"}.
var scriptRename = redis.NewScript(`
local cur = redis.call('HMGET', KEYS[1], 's', 'o', 't', 'dx')
if not cur[1] or cur[2] ~= ARGV[1] then return {'notfound'} end
if cur[1] == 'p' then return {'pending', cur[2], cur[3] or ''} end
if cur[1] == 'd' and cur[4] ~= ARGV[3] then return {'deleting', cur[2], cur[3] or '', cur[4] or ''} end
redis.call('HSET', KEYS[1], 'n', ARGV[2])
return {'ok'}
`)

// DeleteCredential is a transaction of its own, whose commit point is in
// the user's slot (see delete.go): scriptBeginDelete takes a
// lease, scriptMarkDeleting marks the record, scriptCommitDelete removes the
// index entry (only if another live entry remains, when asked), and the
// record is deleted last (scriptDeleteCredIf). scriptResolveDelete and
// scriptUnmarkDeleting let readers decide a marked record.

// scriptBeginDelete starts a DeleteCredential: it checks that the user
// exists and sets the lease that the commit requires. With ARGV[2] = "1"
// it also returns the user's credential index, so the caller can tell
// stale entries from live ones.
//
// KEYS: user, user's credential index, lease. ARGV: lease in milliseconds,
// "1" to return the index. Returns {"notfound"} or {"ok", index}.
var scriptBeginDelete = redis.NewScript(`
if redis.call('HEXISTS', KEYS[1], 't') == 0 then return {'notfound'} end
redis.call('SET', KEYS[3], '1', 'PX', ARGV[1])
if ARGV[2] == '1' then return {'ok', redis.call('HGETALL', KEYS[2])} end
return {'ok', {}}
`)

// scriptMarkDeleting marks a committed credential owned by the given user
// as being deleted by deletion transaction dx, and returns the transaction
// that created it (its index entry's value). A record already marked by
// another deletion is marked again: only the deletion named in the record
// may unmark it, so the other one leaves it alone.
//
// KEYS: credential. ARGV: owner, dx.
// Returns {"notfound"}, {"pending", owner, tx} or {"ok", tx}.
var scriptMarkDeleting = redis.NewScript(`
local cur = redis.call('HMGET', KEYS[1], 's', 'o', 't')
if not cur[1] or cur[2] ~= ARGV[1] then return {'notfound'} end
if cur[1] == 'p' then return {'pending', cur[2], cur[3] or ''} end
redis.call('HSET', KEYS[1], 's', 'd', 'dx', ARGV[2])
return {'ok', cur[3] or ''}
`)

// scriptCommitDelete is the commit point of DeleteCredential: it removes
// the credential from its user's index, in one step with the check that
// the user keeps another credential (unless the last may go). The index is
// the authority on which credentials a user has; entries the caller found
// stale (their record is gone or belongs to another write: left by a crash,
// and stale for good since every write has a new tx) are removed first so
// they do not count. It commits only while the lease holds "1": once the
// lease is gone or decided without a commit, the deletion never commits,
// which lets readers unmark the record. The decision is kept in the lease
// ("done" or "last") until it expires, so that a resent run (lost reply)
// answers as the first did.
//
// KEYS: user's credential index, lease. ARGV: credential ID, tx, "1" if the
// last credential may go, then the stale entries (ID, tx pairs). Returns
// "ok", "last" (refused: it would leave no credential), "notfound" (the
// credential was deleted meanwhile) or "expired" (the lease ran out).
var scriptCommitDelete = redis.NewScript(`
local lease = redis.call('GET', KEYS[2])
if lease == 'done' then return 'ok' end
if lease == 'last' then return 'last' end
local has = redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2]
if not lease then
  if has then return 'expired' end
  return 'notfound'
end
if not has then
  redis.call('DEL', KEYS[2])
  return 'notfound'
end
for i = 4, #ARGV, 2 do
  if ARGV[i] ~= ARGV[1] and redis.call('HGET', KEYS[1], ARGV[i]) == ARGV[i + 1] then
    redis.call('HDEL', KEYS[1], ARGV[i])
  end
end
if ARGV[3] ~= '1' and redis.call('HLEN', KEYS[1]) < 2 then
  redis.call('SET', KEYS[2], 'last', 'KEEPTTL')
  return 'last'
end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('SET', KEYS[2], 'done', 'KEEPTTL')
return 'ok'
`)

// scriptResolveDelete decides a record marked "d", in its owner's slot:
// "gone" if its index entry is gone (the deletion committed: the record is
// garbage), else it is live, and "busy" while the deletion's lease is open
// (it may still commit) or "idle" once it is gone or was refused (it never
// will commit: the mark may be removed).
//
// KEYS: user's credential index, lease of the deletion. ARGV: credential
// ID, tx.
var scriptResolveDelete = redis.NewScript(`
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 'gone' end
if redis.call('GET', KEYS[2]) == '1' then return 'busy' end
return 'idle'
`)

// scriptUnmarkDeleting turns a record marked "d" by deletion dx back into a
// committed one. Callers run it only once dx is known never to commit (its
// lease is gone and the index entry is still there); a record marked again
// by another deletion since is left alone.
//
// KEYS: credential. ARGV: dx.
var scriptUnmarkDeleting = redis.NewScript(`
local cur = redis.call('HMGET', KEYS[1], 's', 'dx')
if cur[1] == 'd' and cur[2] == ARGV[1] then
  redis.call('HSET', KEYS[1], 's', 'c')
  redis.call('HDEL', KEYS[1], 'dx')
  return 1
end
return 0
`)

// scriptEndSessions increments a user's session epoch, if the user exists
// (a missing user must not gain a stray key). The epoch is a uint64 kept in
// decimal; it is incremented digit by digit because Lua numbers are doubles
// (exact only up to 2^53) and HINCRBY stops at 2^63-1.
//
// KEYS: user. Returns the new epoch as a string, or nil if there is no
// such user.
var scriptEndSessions = redis.NewScript(`
if redis.call('HEXISTS', KEYS[1], 't') == 0 then return false end
local v = redis.call('HGET', KEYS[1], 'e') or '0'
if not string.match(v, '^%d+$') then return redis.error_reply('malformed session epoch') end
local i = #v
while i > 0 and string.byte(v, i) == 57 do i = i - 1 end
local n
if i == 0 then
  n = '1' .. string.rep('0', #v)
else
  n = string.sub(v, 1, i - 1) .. string.char(string.byte(v, i) + 1) .. string.rep('0', #v - i)
end
n = string.gsub(n, '^0+(%d)', '%1')
if #n > 20 or (#n == 20 and n > '18446744073709551615') then
  return redis.error_reply('session epoch overflow')
end
redis.call('HSET', KEYS[1], 'e', n)
return n
`)

// scriptReadUser returns a consistent snapshot of a user for DeleteUser:
// {tx, name, {credential ID, tx, ...}, name tx, email, email tx}, or {} if
// the user does not exist.
//
// KEYS: user, user's credential index.
var scriptReadUser = redis.NewScript(`
local u = redis.call('HMGET', KEYS[1], 't', 'n', 'nt', 'm', 'mt')
if not u[1] then return {} end
return {u[1], u[2] or '', redis.call('HGETALL', KEYS[2]), u[3] or u[1], u[4] or '', u[5] or u[1]}
`)

// scriptDeleteUser deletes a user record, its credential index and its
// recovery codes, provided the user is still the one created by tx, still
// has the name and email transactions read (so the claims the caller
// releases next are the current ones) and its index still holds exactly
// the given entries (whose credential records the caller has deleted).
// Returns "ok", "notfound", or "retry" when a credential was added or
// removed, or the user renamed or its email changed, in the meantime.
//
// KEYS: user, user's credential index, recovery codes, recent recovery
// code uses. ARGV: user tx, name tx, email tx, then credential ID, tx pairs.
var scriptDeleteUser = redis.NewScript(`
local u = redis.call('HMGET', KEYS[1], 't', 'nt', 'mt')
if u[1] ~= ARGV[1] then return 'notfound' end
if (u[2] or u[1]) ~= ARGV[2] or (u[3] or u[1]) ~= ARGV[3] then return 'retry' end
local cur = redis.call('HGETALL', KEYS[2])
if #cur ~= #ARGV - 3 then return 'retry' end
local want = {}
for i = 4, #ARGV, 2 do want[ARGV[i]] = ARGV[i + 1] end
for i = 1, #cur, 2 do
  if want[cur[i]] ~= cur[i + 1] then return 'retry' end
end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4])
return 'ok'
`)

// scriptSetRecoveryCodes replaces a user's recovery codes, if the user
// exists (DeleteUser removes the set in the same script as the user, so no
// set outlives its user).
//
// KEYS: user, recovery codes. ARGV: the code hashes. Returns 1, or 0 for
// an unknown user.
var scriptSetRecoveryCodes = redis.NewScript(`
if redis.call('HEXISTS', KEYS[1], 't') == 0 then return 0 end
redis.call('DEL', KEYS[2])
if #ARGV > 0 then redis.call('SADD', KEYS[2], unpack(ARGV)) end
return 1
`)

// scriptUseRecoveryCode removes one code hash from a user's set: the
// single atomic step that makes a code single-use. It notes the call's
// nonce under the hash for a minute, so that a resent run (lost reply)
// answers 1 as the first did instead of reporting the code it just used as
// unknown. The nonces are kept per hash, so that concurrent uses of other
// codes do not overwrite it; the key expires a minute after the last use.
//
// KEYS: recovery codes, recent uses. ARGV: hash, nonce. Returns 1 if the
// code was there (and is gone now), else 0.
var scriptUseRecoveryCode = redis.NewScript(`
if redis.call('SREM', KEYS[1], ARGV[1]) == 1 then
  redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
  redis.call('PEXPIRE', KEYS[2], 60000)
  return 1
end
if redis.call('HGET', KEYS[2], ARGV[1]) == ARGV[2] then return 1 end
return 0
`)

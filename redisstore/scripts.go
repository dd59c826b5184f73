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
//	   committed) or "c" committed
//	o  owner user handle (raw bytes)
//	t  transaction ID that created the record
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
// KEYS: user, user's credential index, lease. ARGV: mode ("create"/"add"),
// transaction ID, credential ID, then (create) the user hash field/value
// pairs.
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
  redis.call('DEL', KEYS[2])
  redis.call('HSET', KEYS[1], unpack(ARGV, 4))
elseif e == 0 then
  return 'notfound'
end
redis.call('HSET', KEYS[2], ARGV[3], ARGV[2])
return 'ok'
`)

// scriptClaimName claims a user name for a transaction: it sets the name key
// if it is absent, or if it still holds the expected (dead) value being taken
// over. Otherwise it returns the current value (unless that is already the
// new value: the script ran before and its reply was lost).
//
// KEYS: name. ARGV: new value, expected old value ("" for none).
var scriptClaimName = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if cur == ARGV[1] then return {1} end
if cur and cur ~= ARGV[2] then return {0, cur} end
redis.call('SET', KEYS[1], ARGV[1])
return {1}
`)

// scriptReleaseName deletes a name key if it still holds the given value.
//
// KEYS: name. ARGV: value.
var scriptReleaseName = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`)

// scriptResolveName decides the fate of a name claim made by transaction tx
// of user handle h, in h's slot: "busy" while the lease lives, "valid" if the
// user record was committed by tx with this name, "dead" otherwise (the
// transaction failed, or the user was deleted since: the claim is stale).
//
// KEYS: lease of (h, tx), user h. ARGV: name, tx.
var scriptResolveName = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 'busy' end
local u = redis.call('HMGET', KEYS[2], 'n', 't')
if u[1] == ARGV[1] and u[2] == ARGV[2] then return 'valid' end
return 'dead'
`)

// scriptClaimCred creates a pending credential record, if the key is absent
// or still holds the expected pending record of a dead transaction.
// Otherwise it returns {0, state, owner, tx} of the current record (unless
// that is already the new record: the script ran before).
//
// KEYS: credential. ARGV: expected owner, expected tx ("" for none), then
// the field/value pairs of the new record, starting with state, owner, tx.
var scriptClaimCred = redis.NewScript(`
local cur = redis.call('HMGET', KEYS[1], 's', 'o', 't')
if cur[2] == ARGV[6] and cur[3] == ARGV[8] then return {1} end
if cur[1] then
  if cur[1] ~= 'p' or ARGV[2] == '' or cur[2] ~= ARGV[1] or cur[3] ~= ARGV[2] then
    return {0, cur[1], cur[2] or '', cur[3] or ''}
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

// scriptUnlinkCred removes a credential from its user's index if the entry
// was made by the given transaction.
//
// KEYS: user's credential index. ARGV: credential ID, tx.
var scriptUnlinkCred = redis.NewScript(`
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then
  return redis.call('HDEL', KEYS[1], ARGV[1])
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
// KEYS: credential. ARGV: expected sign count, new sign count, uv, bs, lu,
// cs, nonce. Returns {"notfound"}, {"pending", owner, tx}, {"conflict"} or
// {"ok"}.
var scriptUpdateUse = redis.NewScript(`
local cur = redis.call('HMGET', KEYS[1], 's', 'sc', 'o', 't', 'un')
if not cur[1] then return {'notfound'} end
if cur[1] ~= 'c' then return {'pending', cur[3] or '', cur[4] or ''} end
if cur[2] ~= ARGV[1] then
  if cur[5] == ARGV[7] then return {'ok'} end
  return {'conflict'}
end
redis.call('HSET', KEYS[1], 'sc', ARGV[2], 'uv', ARGV[3], 'bs', ARGV[4], 'lu', ARGV[5], 'cs', ARGV[6], 'un', ARGV[7])
return {'ok'}
`)

// scriptRename renames a credential owned by the given user.
//
// KEYS: credential. ARGV: owner, name.
// Returns {"notfound"}, {"pending", owner, tx} or {"ok"}.
var scriptRename = redis.NewScript(`
local cur = redis.call('HMGET', KEYS[1], 's', 'o', 't')
if not cur[1] or cur[2] ~= ARGV[1] then return {'notfound'} end
if cur[1] ~= 'c' then return {'pending', cur[2], cur[3] or ''} end
redis.call('HSET', KEYS[1], 'n', ARGV[2])
return {'ok'}
`)

// scriptDeleteCred deletes a credential owned by the given user and returns
// the transaction that created it (to unlink it from the user's index).
//
// KEYS: credential. ARGV: owner.
// Returns {"notfound"}, {"pending", owner, tx} or {"ok", tx}.
var scriptDeleteCred = redis.NewScript(`
local cur = redis.call('HMGET', KEYS[1], 's', 'o', 't')
if not cur[1] or cur[2] ~= ARGV[1] then return {'notfound'} end
if cur[1] ~= 'c' then return {'pending', cur[2], cur[3] or ''} end
redis.call('DEL', KEYS[1])
return {'ok', cur[3] or ''}
`)

// scriptReadUser returns a consistent snapshot of a user for DeleteUser:
// {tx, name, {credential ID, tx, ...}}, or {} if the user does not exist.
//
// KEYS: user, user's credential index.
var scriptReadUser = redis.NewScript(`
local u = redis.call('HMGET', KEYS[1], 't', 'n')
if not u[1] then return {} end
return {u[1], u[2] or '', redis.call('HGETALL', KEYS[2])}
`)

// scriptDeleteUser deletes a user record and its credential index, provided
// the user is still the one created by tx and its index still holds exactly
// the given entries (whose credential records the caller has deleted).
// Returns "ok", "notfound", or "retry" when a credential was added or
// removed in the meantime.
//
// KEYS: user, user's credential index. ARGV: user tx, then credential ID,
// tx pairs.
var scriptDeleteUser = redis.NewScript(`
if redis.call('HGET', KEYS[1], 't') ~= ARGV[1] then return 'notfound' end
local cur = redis.call('HGETALL', KEYS[2])
if #cur ~= #ARGV - 1 then return 'retry' end
local want = {}
for i = 2, #ARGV, 2 do want[ARGV[i]] = ARGV[i + 1] end
for i = 1, #cur, 2 do
  if want[cur[i]] ~= cur[i + 1] then return 'retry' end
end
redis.call('DEL', KEYS[1], KEYS[2])
return 'ok'
`)

import type { Redis } from "ioredis";

// The Lua side of RedisCache (see redis.ts for the key layout and why tags
// carry random versions). Each script runs atomically on the server, so a read
// never sees an entry half written and a stale `set` cannot slip in between
// its check and its write.
//
// An entry is a hash: `v` the value, `g` the key's delete generation (present
// only once the key was deleted), `t:<tag>` the version of each tag the value
// was loaded under. Tag versions live in string keys `<ns>:t:<tag>`.
//
// The get script reads tag keys named by the entry, not passed in KEYS: fine on
// a standalone Redis (or Sentinel); on Redis Cluster a namespace would need a
// hash tag to keep its keys in one slot.

/** KEYS[1] entry; ARGV[1] tag key prefix. Returns the value, or nil when missing or a tag moved on. */
const GET = `
local fields = redis.call('HGETALL', KEYS[1])
local value = false
for i = 1, #fields, 2 do
  local name = fields[i]
  if name == 'v' then
    value = fields[i + 1]
  elseif string.sub(name, 1, 2) == 't:' then
    if redis.call('GET', ARGV[1] .. string.sub(name, 3)) ~= fields[i + 1] then return false end
  end
end
return value
`;

// Keeps a tag's version alive at least as long as the entries that carry it.
const EXTEND = `
local function extend(key, ttl)
  local left = redis.call('PTTL', key)
  if left >= 0 and left < ttl then redis.call('PEXPIRE', key, ttl) end
end
`;

/**
 * KEYS[1] entry, KEYS[2..] tag keys; ARGV[1] a fresh random token, ARGV[2] tag TTL.
 * Returns { generation or '', version of each tag }, minting versions for tags that have none.
 */
const STAMP = `${EXTEND}
local out = { redis.call('HGET', KEYS[1], 'g') or '' }
local ttl = tonumber(ARGV[2])
for i = 2, #KEYS do
  local version = redis.call('GET', KEYS[i])
  if not version then
    version = ARGV[1] .. ':' .. i
    redis.call('SET', KEYS[i], version, 'PX', ttl)
  else
    extend(KEYS[i], ttl)
  end
  out[i] = version
end
return out
`;

/**
 * KEYS[1] entry, KEYS[2..] tag keys.
 * ARGV[1] expected generation ('*' = no stamp), ARGV[2] entry TTL, ARGV[3] value,
 * ARGV[4] tag TTL, ARGV[5] a fresh random token, then per tag: name, expected version ('*' = no stamp).
 * Returns 1 when stored, 0 when the stamp is out of date.
 */
const SET = `${EXTEND}
local generation = redis.call('HGET', KEYS[1], 'g')
if ARGV[1] ~= '*' and (generation or '') ~= ARGV[1] then return 0 end
local ttl = tonumber(ARGV[2])
-- A margin over the entry's TTL: the two expiries are set a moment apart, and a
-- tag version that died first would turn its still-live entries into misses.
local tagTtl = math.max(tonumber(ARGV[4]), ttl + 1000)
local fields = { 'v', ARGV[3] }
if generation then
  fields[#fields + 1] = 'g'
  fields[#fields + 1] = generation
end
for j = 1, #KEYS - 1 do
  local key, name, expected = KEYS[j + 1], ARGV[4 + 2 * j], ARGV[5 + 2 * j]
  local version = redis.call('GET', key)
  if expected ~= '*' then
    if version ~= expected then return 0 end
  elseif not version then
    version = ARGV[5] .. ':' .. j
    redis.call('SET', key, version, 'PX', tagTtl)
  end
  extend(key, tagTtl)
  fields[#fields + 1] = 't:' .. name
  fields[#fields + 1] = version
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], unpack(fields))
redis.call('PEXPIRE', KEYS[1], ttl)
return 1
`;

/** KEYS[1] lock; ARGV[1] the holder's token. Deletes the lock only if this holder still has it. */
const UNLOCK = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

type Arg = string | Buffer | number;

/** The scripts as typed commands on one connection (ioredis sends EVALSHA, falling back to EVAL). */
export interface CacheScripts {
  flotillaCacheGetBuffer(entryKey: string, tagPrefix: string): Promise<Buffer | null>;
  flotillaCacheStamp(keyCount: number, ...args: Arg[]): Promise<string[]>;
  flotillaCacheSet(keyCount: number, ...args: Arg[]): Promise<number>;
  flotillaCacheUnlock(lockKey: string, token: string): Promise<number>;
}

export function withCacheScripts(client: Redis): Redis & CacheScripts {
  client.defineCommand("flotillaCacheGet", { lua: GET, numberOfKeys: 1 });
  client.defineCommand("flotillaCacheStamp", { lua: STAMP });
  client.defineCommand("flotillaCacheSet", { lua: SET });
  client.defineCommand("flotillaCacheUnlock", { lua: UNLOCK, numberOfKeys: 1 });
  return client as Redis & CacheScripts;
}

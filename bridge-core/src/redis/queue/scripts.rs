//! The queue's Lua scripts: one per operation, each atomic, each given all
//! of the queue's keys in `KEYS` (see the parent module).

/// What every script starts with: the keys by name, and helpers. A job's
/// fields live in the `jobs` hash as `<id>:<field>`; `keys` maps a job key
/// to its id (`done` holds the expiry of completed ones); `groups` holds
/// `<group>\0<order>:<id>` (one score, ordered by name), so a group's head
/// is its first member.
pub(super) const PRELUDE: &str = r"
local S, J, K, D, G, SEQ, L, R, LIVE, DEAD, RETRIES = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9], KEYS[10], KEYS[11]
local function fld(id, n) return id..':'..n end
local function gm(group, id)
  return group..'\0'..string.format('%020d', tonumber(redis.call('HGET', J, fld(id, 'ord')) or id))..':'..id
end
local function glow(group) return '['..group..'\0' end
local function ghigh(group) return '('..group..'\1' end
local function ghead(group)
  local r = redis.call('ZRANGEBYLEX', G, glow(group), ghigh(group), 'LIMIT', 0, 1)
  if r[1] then return string.match(r[1], ':(%d+)$') end
  return nil
end
local function gcount(group) return redis.call('ZLEXCOUNT', G, glow(group), ghigh(group)) end
local function push(id)
  local e = redis.call('XADD', S, '*', 'id', id)
  redis.call('HSET', J, fld(id, 'entry'), e)
end
local function drop(id)
  redis.call('HDEL', J, fld(id, 'key'), fld(id, 'group'), fld(id, 'payload'), fld(id, 'attempts'),
    fld(id, 'enq'), fld(id, 'entry'), fld(id, 'lease'), fld(id, 'dead'), fld(id, 'err'), fld(id, 'cp'),
    fld(id, 'dentry'), fld(id, 'ord'))
end
local function forget(now)
  for _, k in ipairs(redis.call('ZRANGEBYSCORE', D, '-inf', now, 'LIMIT', 0, 32)) do
    redis.call('HDEL', K, k)
    redis.call('ZREM', D, k)
  end
end
local function remember(key, id, now, keep)
  redis.call('HSET', K, key, id)
  redis.call('ZADD', D, tonumber(now) + tonumber(keep), key)
  forget(now)
end
";

/// Checks the lease (`ARGV[1]` id, `ARGV[2]` token) and defines the
/// helpers the finishing scripts share.
pub(super) const HELD: &str = r"
local id = ARGV[1]
if redis.call('HGET', J, fld(id, 'lease')) ~= ARGV[2] or redis.call('HEXISTS', J, fld(id, 'dead')) == 1 then
  return -1
end
local function unstream()
  local entry = redis.call('HGET', J, fld(id, 'entry'))
  if entry then
    redis.call('XACK', S, 'w', entry)
    redis.call('XDEL', S, entry)
  end
  redis.call('HDEL', J, fld(id, 'entry'), fld(id, 'lease'))
  redis.call('ZREM', L, id)
end
local function advance(group)
  redis.call('ZREM', G, gm(group, id))
  local nxt = ghead(group)
  if nxt then push(nxt) end
end
";

/// `ARGV`: key, group, payload, now.
pub(super) const ENQUEUE: &str = r"
local now = tonumber(ARGV[4])
forget(now)
local existing = redis.call('HGET', K, ARGV[1])
if existing then
  local expires = redis.call('ZSCORE', D, ARGV[1])
  if expires and tonumber(expires) <= now then
    redis.call('HDEL', K, ARGV[1])
    redis.call('ZREM', D, ARGV[1])
    existing = false
  end
end
if existing then return {0, existing} end
local id = tostring(redis.call('INCR', SEQ))
redis.call('HSET', J, fld(id, 'key'), ARGV[1], fld(id, 'group'), ARGV[2], fld(id, 'payload'), ARGV[3],
  fld(id, 'attempts'), 0, fld(id, 'enq'), ARGV[4])
redis.call('HSET', K, ARGV[1], id)
redis.call('ZADD', LIVE, ARGV[4], id)
redis.call('ZADD', G, 0, gm(ARGV[2], id))
if gcount(ARGV[2]) == 1 then push(id) end
return {1, id}
";

/// `ARGV`: consumer, max, lease deadline, now, token prefix.
pub(super) const LEASE: &str = r"
local max = tonumber(ARGV[2])
local now = tonumber(ARGV[4])
local due = redis.call('ZRANGEBYSCORE', R, '-inf', now, 'LIMIT', 0, 256)
for _, id in ipairs(due) do
  redis.call('ZREM', R, id)
  push(id)
end
local out = {}
local function take(id, entry)
  if redis.call('HGET', J, fld(id, 'entry')) ~= entry or redis.call('HEXISTS', J, fld(id, 'dead')) == 1 then
    redis.call('XACK', S, 'w', entry)
    redis.call('XDEL', S, entry)
    return
  end
  local attempts = redis.call('HINCRBY', J, fld(id, 'attempts'), 1)
  local token = ARGV[5]..':'..id..':'..attempts
  redis.call('HSET', J, fld(id, 'lease'), token)
  redis.call('ZADD', L, ARGV[3], id)
  local f = redis.call('HMGET', J, fld(id, 'key'), fld(id, 'group'), fld(id, 'payload'), fld(id, 'enq'),
    fld(id, 'err'), fld(id, 'cp'))
  table.insert(out, {id, token, attempts, f[1], f[2], f[3], f[4], f[5], f[6]})
end
local stale = redis.call('ZRANGEBYSCORE', L, '-inf', now, 'LIMIT', 0, max)
for _, id in ipairs(stale) do
  redis.call('ZREM', L, id)
  local entry = redis.call('HGET', J, fld(id, 'entry'))
  if entry then
    redis.call('XCLAIM', S, 'w', ARGV[1], 0, entry, 'JUSTID')
    take(id, entry)
  end
end
if #out < max then
  local r = redis.call('XREADGROUP', 'GROUP', 'w', ARGV[1], 'COUNT', max - #out, 'STREAMS', S, '>')
  if r then
    for _, e in ipairs(r[1][2]) do take(e[2][2], e[1]) end
  end
end
return out
";

pub(super) const CHECKPOINT: &str = "redis.call('HSET', J, fld(id, 'cp'), ARGV[3]) return 1";

/// `ARGV[3]`: the new lease deadline.
pub(super) const EXTEND: &str = "redis.call('ZADD', L, ARGV[3], id) return 1";

/// `ARGV[3]`: retention in ms, `ARGV[4]`: now.
pub(super) const ACK: &str = r"
local key = redis.call('HGET', J, fld(id, 'key'))
local group = redis.call('HGET', J, fld(id, 'group'))
unstream()
advance(group)
drop(id)
redis.call('ZREM', LIVE, id)
remember(key, id, ARGV[4], ARGV[3])
return 1
";

/// `ARGV[3]`: retry time, `ARGV[4]`: error.
pub(super) const NACK: &str = r"
unstream()
redis.call('HSET', J, fld(id, 'err'), ARGV[4])
redis.call('ZADD', R, ARGV[3], id)
redis.call('INCR', RETRIES)
return 1
";

/// `ARGV[3]`: error, `ARGV[4]`: now.
pub(super) const DEAD: &str = r"
local group = redis.call('HGET', J, fld(id, 'group'))
unstream()
advance(group)
redis.call('HSET', J, fld(id, 'err'), ARGV[3], fld(id, 'dead'), ARGV[4])
local d = redis.call('XADD', DEAD, '*', 'id', id)
redis.call('HSET', J, fld(id, 'dentry'), d)
redis.call('ZREM', LIVE, id)
return 1
";

pub(super) const RELEASE: &str = r"
unstream()
redis.call('HINCRBY', J, fld(id, 'attempts'), -1)
push(id)
return 1
";

/// `ARGV`: id. The job goes behind its group's waiting jobs.
pub(super) const REPLAY: &str = r"
local id = ARGV[1]
if redis.call('HEXISTS', J, fld(id, 'dead')) == 0 then return -1 end
local d = redis.call('HGET', J, fld(id, 'dentry'))
if d then redis.call('XDEL', DEAD, d) end
redis.call('HDEL', J, fld(id, 'dead'), fld(id, 'dentry'))
redis.call('HSET', J, fld(id, 'attempts'), 0, fld(id, 'ord'), redis.call('INCR', SEQ))
local f = redis.call('HMGET', J, fld(id, 'group'), fld(id, 'enq'))
redis.call('ZADD', LIVE, f[2], id)
redis.call('ZADD', G, 0, gm(f[1], id))
if gcount(f[1]) == 1 then push(id) end
return 1
";

/// `ARGV`: id (empty: all), retention in ms, now.
pub(super) const PURGE: &str = r"
local ids = {}
if ARGV[1] ~= '' then
  if redis.call('HEXISTS', J, fld(ARGV[1], 'dead')) == 0 then return -1 end
  ids = {ARGV[1]}
else
  for _, e in ipairs(redis.call('XRANGE', DEAD, '-', '+')) do table.insert(ids, e[2][2]) end
end
local n = 0
for _, id in ipairs(ids) do
  local f = redis.call('HMGET', J, fld(id, 'key'), fld(id, 'dentry'))
  if f[1] then
    remember(f[1], id, ARGV[3], ARGV[2])
    n = n + 1
  end
  if f[2] then redis.call('XDEL', DEAD, f[2]) end
  drop(id)
end
return n
";

/// `ARGV`: now, dead letters' cutoff (died before it; empty: none),
/// retention in ms, limit. Returns {completed keys forgotten, dead letters
/// purged}.
pub(super) const PRUNE: &str = r"
local limit = tonumber(ARGV[4])
local forgot = 0
for _, k in ipairs(redis.call('ZRANGEBYSCORE', D, '-inf', ARGV[1], 'LIMIT', 0, limit)) do
  redis.call('HDEL', K, k)
  redis.call('ZREM', D, k)
  forgot = forgot + 1
end
local purged = 0
if ARGV[2] ~= '' then
  for _, e in ipairs(redis.call('XRANGE', DEAD, '-', '+', 'COUNT', limit)) do
    local id = e[2][2]
    local f = redis.call('HMGET', J, fld(id, 'key'), fld(id, 'dead'))
    -- The stream is in death order: the first one young enough ends it.
    if f[2] and tonumber(f[2]) >= tonumber(ARGV[2]) then break end
    if f[1] then remember(f[1], id, ARGV[1], ARGV[3]) end
    redis.call('XDEL', DEAD, e[1])
    drop(id)
    purged = purged + 1
  end
end
return {forgot, purged}
";

/// `ARGV`: limit.
pub(super) const DEAD_LIST: &str = r"
local out = {}
for _, e in ipairs(redis.call('XRANGE', DEAD, '-', '+', 'COUNT', ARGV[1])) do
  local id = e[2][2]
  local f = redis.call('HMGET', J, fld(id, 'key'), fld(id, 'group'), fld(id, 'payload'), fld(id, 'attempts'),
    fld(id, 'enq'), fld(id, 'err'), fld(id, 'cp'), fld(id, 'dead'))
  if f[1] then table.insert(out, {id, f[1], f[2], f[3], f[4], f[5], f[6], f[7], f[8]}) end
end
return out
";

/// `ARGV`: now.
pub(super) const STATS: &str = r"
local live = redis.call('ZCARD', LIVE)
local leased = redis.call('ZCOUNT', L, '('..ARGV[1], '+inf')
local oldest = redis.call('ZRANGE', LIVE, 0, 0, 'WITHSCORES')
return {live, leased, tonumber(redis.call('GET', RETRIES) or '0'), redis.call('XLEN', DEAD), oldest[2] or false}
";

pub(super) struct Scripts {
    pub(super) enqueue: redis::Script,
    pub(super) lease: redis::Script,
    pub(super) checkpoint: redis::Script,
    pub(super) extend: redis::Script,
    pub(super) ack: redis::Script,
    pub(super) nack: redis::Script,
    pub(super) dead: redis::Script,
    pub(super) release: redis::Script,
    pub(super) replay: redis::Script,
    pub(super) purge: redis::Script,
    pub(super) dead_list: redis::Script,
    pub(super) stats: redis::Script,
    pub(super) prune: redis::Script,
    pub(super) erase_job: redis::Script,
    pub(super) forget_keys: redis::Script,
}

impl Scripts {
    pub(super) fn new() -> Self {
        let held = |body: &str| redis::Script::new(&format!("{PRELUDE}\n{HELD}\n{body}"));
        let plain = |body: &str| redis::Script::new(&format!("{PRELUDE}\n{body}"));
        Self {
            enqueue: plain(ENQUEUE),
            lease: plain(LEASE),
            checkpoint: held(CHECKPOINT),
            extend: held(EXTEND),
            ack: held(ACK),
            nack: held(NACK),
            dead: held(DEAD),
            release: held(RELEASE),
            replay: plain(REPLAY),
            purge: plain(PURGE),
            dead_list: plain(DEAD_LIST),
            stats: plain(STATS),
            prune: plain(PRUNE),
            erase_job: plain(super::erase::ERASE_JOB),
            forget_keys: plain(super::erase::FORGET_KEYS),
        }
    }
}

-- geofence store: apply a batch of ops atomically. On a cluster a batch holds one group, whose
-- keys all share its hash slot; older bucket keys are derived here from the declared current
-- one (same hash tag, so same slot), which keeps the request small.
-- ARGV: n, then per op: kind (d|c|s|f), TTL in ms, value, amount, bucket index (d|c) or "",
-- and the TTL in ms of a distinct counter's window union (two buckets; it serves one).
-- KEYS: one per op: for d/c the current bucket's key (it ends with the bucket index).
local buckets = 6

-- the keys of the window ending with the bucket `key` (whose name ends with the index b)
local function window_keys(key, b)
  local stem = string.sub(key, 1, #key - #b)
  local keys = {key}
  for j = 1, buckets - 1 do
    keys[j + 1] = stem .. (tonumber(b) - j)
  end
  return keys
end

local out = {}
local a = 2
for i = 1, tonumber(ARGV[1]) do
  local kind, ttl, value, amount, b = ARGV[a], ARGV[a + 1], ARGV[a + 2], ARGV[a + 3], ARGV[a + 4]
  local union_ttl = ARGV[a + 5]
  a = a + 6
  local key = KEYS[i]
  if kind == 'd' then
    -- A multi-key PFCOUNT merges 16,384 registers on every read. Instead the window's union
    -- is kept in one more key per bucket, built once by PFMERGE when the bucket opens and
    -- then added to alongside it, so a read is a single-key PFCOUNT (cached by Redis).
    local union = string.sub(key, 1, #key - #b) .. 'u' .. b
    if redis.call('EXISTS', union) == 0 then
      redis.call('PFMERGE', union, unpack(window_keys(key, b)))
      redis.call('PEXPIRE', union, union_ttl)
    end
    if redis.call('PFADD', key, value) == 1 then
      redis.call('PEXPIRE', key, ttl)
    end
    redis.call('PFADD', union, value)
    out[i] = redis.call('PFCOUNT', union)
  elseif kind == 'c' then
    if redis.call('INCRBY', key, amount) == tonumber(amount) then  -- it was absent (or 0)
      redis.call('PEXPIRE', key, ttl)
    end
    local total = 0
    for _, v in ipairs(redis.call('MGET', unpack(window_keys(key, b)))) do
      if v then total = total + tonumber(v) end
    end
    out[i] = total
  elseif kind == 's' then
    out[i] = redis.call('SET', key, value, 'PX', ttl, 'GET')
  else
    local held = redis.call('GET', key)
    if held then
      redis.call('PEXPIRE', key, ttl)
      out[i] = held
    else
      redis.call('SET', key, value, 'PX', ttl)
      out[i] = value
    end
  end
end
return out

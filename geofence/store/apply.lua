-- geofence store: apply a batch of ops atomically. On a cluster a batch holds one group, whose
-- keys all share its hash slot; older bucket keys are derived here from the declared current
-- one (same hash tag, so same slot), which keeps the request small.
-- ARGV[1]: per op "kind ttl_ms bucket union_ttl_ms amount;" (kind d|c|s|f; bucket empty for
-- s|f; union_ttl_ms: a distinct counter's window union lives two buckets, it serves one).
-- ARGV[1 + i]: op i's value (the member or the value to store).
-- KEYS: one per op: for d/c the current bucket's key (it ends with the bucket index).
local buckets = 6
local OP = '(%a) (%d+) (%-?%d*) (%d+) (%-?%d+);'

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
local i = 0
for kind, ttl, b, union_ttl, amount in string.gmatch(ARGV[1], OP) do
  i = i + 1
  local key, value = KEYS[i], ARGV[i + 1]
  if kind == 'd' then
    -- A multi-key PFCOUNT merges 16,384 registers on every read. Instead the window's union
    -- is kept in one more key per bucket, built once by PFMERGE when the bucket opens and
    -- then added to alongside it, so a read is a single-key PFCOUNT (cached by Redis).
    local union = string.sub(key, 1, #key - #b) .. 'u' .. b
    local count = redis.call('PFCOUNT', union)  -- 0: absent (a union is never left empty)
    if count == 0 then
      redis.call('PFMERGE', union, unpack(window_keys(key, b)))
      redis.call('PEXPIRE', union, union_ttl)
    end
    -- The union holds every register of the current bucket: when the bucket did not change,
    -- neither would the union, so it is left alone and its count stands.
    if redis.call('PFADD', key, value) == 1 or count == 0 then
      redis.call('PEXPIRE', key, ttl)
      redis.call('PFADD', union, value)
      count = redis.call('PFCOUNT', union)
    end
    out[i] = count
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
    local held = redis.call('GETEX', key, 'PX', ttl)  -- read and re-arm in one call
    if held then
      out[i] = held
    else
      redis.call('SET', key, value, 'PX', ttl)
      out[i] = value
    end
  end
end
return out

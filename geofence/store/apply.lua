-- geofence store: apply one group's ops atomically (every key shares the group's hash slot).
-- ARGV: n, then per op: kind (d|c|s|f), key count, TTL in ms, value, amount.
-- KEYS: per op, its keys in order; for d/c the current bucket first, then the older ones.
local out = {}
local k = 1
local a = 2
for i = 1, tonumber(ARGV[1]) do
  local kind, nkeys, ttl = ARGV[a], tonumber(ARGV[a + 1]), ARGV[a + 2]
  local value, amount = ARGV[a + 3], ARGV[a + 4]
  a = a + 5
  local key = KEYS[k]
  if kind == 'd' then
    redis.call('PFADD', key, value)
    redis.call('PEXPIRE', key, ttl)
    out[i] = redis.call('PFCOUNT', unpack(KEYS, k, k + nkeys - 1))
  elseif kind == 'c' then
    redis.call('INCRBY', key, amount)
    redis.call('PEXPIRE', key, ttl)
    local total = 0
    for _, v in ipairs(redis.call('MGET', unpack(KEYS, k, k + nkeys - 1))) do
      if v then total = total + tonumber(v) end
    end
    out[i] = total
  elseif kind == 's' then
    out[i] = redis.call('GET', key)
    redis.call('SET', key, value, 'PX', ttl)
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
  k = k + nkeys
end
return out

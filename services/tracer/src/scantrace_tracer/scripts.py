"""Lua scripts run inside Redis. Each touches keys of one hash tag only (Cluster-safe)."""

from __future__ import annotations

from typing import Final

#: Raise the longest stays of one venue: KEYS[1] = its stays hash; ARGV = ttl_s, oldest bucket
#: kept, then (field, stay ms) pairs (`max` and bucket numbers). Fields of buckets older than
#: the retention are dropped once the hash grows past 400 fields, so it stays small.
RAISE_STAYS: Final = """
for i = 3, #ARGV, 2 do
  local cur = tonumber(redis.call('HGET', KEYS[1], ARGV[i]) or '-1')
  if tonumber(ARGV[i + 1]) > cur then redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
end
if redis.call('HLEN', KEYS[1]) > 400 then
  local oldest = tonumber(ARGV[2])
  for _, f in ipairs(redis.call('HKEYS', KEYS[1])) do
    if f ~= 'max' and tonumber(f) < oldest then redis.call('HDEL', KEYS[1], f) end
  end
end
redis.call('EXPIRE', KEYS[1], ARGV[1])
return 1
"""

#: Replace some members of one person's visits atomically.
#: ARGV = ttl_s, n_remove, removed members..., then score, member pairs to add.
REPLACE_VISITS: Final = """
local n = tonumber(ARGV[2])
-- in slices: unpack() of a whole long ARGV would overflow Lua's stack
for i = 3, 2 + n, 1000 do redis.call('ZREM', KEYS[1], unpack(ARGV, i, math.min(i + 999, 2 + n))) end
for i = 3 + n, #ARGV, 1000 do
  redis.call('ZADD', KEYS[1], unpack(ARGV, i, math.min(i + 999, #ARGV)))
end
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return 1
"""

#: Add scans to a person's log, read the tail of their visits and the scans a re-derivation
#: will probably need, in one round trip.
#: KEYS[1] = scan log, KEYS[2] = person visits; ARGV = ttl_s, tail, earliest new scan time, then
#: score, member pairs. Returns {number of visits, {last `tail` visit members}, lo, {scans with
#: score >= lo, WITHSCORES}}: lo is the start of the visit before the last one starting before
#: the earliest new scan (the walk restarts around there), or "-inf". The caller checks that its
#: restart plan starts at or after lo and reads more otherwise.
ADD_SCANS_READ_TAIL: Final = """
for i = 4, #ARGV, 1000 do
  redis.call('ZADD', KEYS[1], unpack(ARGV, i, math.min(i + 999, #ARGV)))
end
if #ARGV >= 4 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
local t0 = tonumber(ARGV[3])
local card = redis.call('ZCARD', KEYS[2])
local tail = redis.call('ZRANGE', KEYS[2], -tonumber(ARGV[2]), -1, 'WITHSCORES')
local k = #tail / 2
local members = {}
for j = 1, k do members[j] = tail[2 * j - 1] end
local i = k
while i >= 1 and tonumber(tail[2 * i]) >= t0 do i = i - 1 end
i = i - 1
local lo = '-inf'
if i >= 1 then
  lo = tail[2 * i]
elseif card > k and k >= 1 then
  lo = tail[2]
end
if lo ~= '-inf' and tonumber(lo) > t0 then lo = ARGV[3] end
local scans = redis.call('ZRANGE', KEYS[1], lo, '+inf', 'BYSCORE', 'WITHSCORES')
return {card, members, lo, scans}
"""

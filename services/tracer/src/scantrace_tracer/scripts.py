"""Lua scripts run inside Redis. Each touches keys of one hash tag only (Cluster-safe)."""

from __future__ import annotations

from typing import Final

#: Visits at one venue that overlap each window [a, b] by at least m ms.
#: KEYS[1] = the venue's max-stay key; KEYS[2..] = its buckets `first`, `first + 1`, ...
#: ARGV = first, bucket_ms, m, cap_ms, a1, b1, a2, b2, ...
#: Returns flat pairs (window index, member); or {-1, maxstay} when the keys passed
#: do not reach back far enough (maxstay > cap), so the caller asks again with more buckets.
#: Only buckets that can hold a start in [a - maxstay, b - m] are read, and only matching
#: members leave the server.
CO_PRESENT: Final = """
local first = tonumber(ARGV[1])
local bms = tonumber(ARGV[2])
local m = tonumber(ARGV[3])
local cap = tonumber(ARGV[4])
local maxstay = tonumber(redis.call('GET', KEYS[1]) or '0')
if maxstay > cap then return {-1, maxstay} end
local nb = #KEYS - 1
local out = {}
local n = 0
for w = 5, #ARGV, 2 do
  local a = tonumber(ARGV[w])
  local b = tonumber(ARGV[w + 1])
  local lo = a - maxstay
  local hi = b - m
  if hi >= lo then
    local k0 = math.max(0, math.floor(lo / bms) - first)
    local k1 = math.min(nb - 1, math.floor(hi / bms) - first)
    for k = k0, k1 do
      local rows = redis.call('ZRANGE', KEYS[k + 2], lo, hi, 'BYSCORE', 'WITHSCORES')
      for i = 1, #rows, 2 do
        local member = rows[i]
        local s = tonumber(rows[i + 1])
        local e = struct.unpack('>I8', member, 9)
        local lo_end = b
        if e < b then lo_end = e end
        local hi_start = a
        if s > a then hi_start = s end
        if lo_end - hi_start >= m then
          out[n + 1] = (w - 5) / 2
          out[n + 2] = member
          n = n + 2
        end
      end
    end
  end
end
return out
"""

#: Raise KEYS[1] to ARGV[1] if it is lower; ARGV[2] = TTL in seconds.
RAISE_MAX: Final = """
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > cur then redis.call('SET', KEYS[1], ARGV[1]) end
redis.call('EXPIRE', KEYS[1], ARGV[2])
return 1
"""

#: Replace some members of one person's visits atomically.
#: ARGV = ttl_s, n_remove, removed members..., then score, member pairs to add.
REPLACE_VISITS: Final = """
local n = tonumber(ARGV[2])
for i = 3, 2 + n do redis.call('ZREM', KEYS[1], ARGV[i]) end
for i = 3 + n, #ARGV, 2 do redis.call('ZADD', KEYS[1], ARGV[i], ARGV[i + 1]) end
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return 1
"""

#: Add scans to a person's log and read the tail of their visits, in one round trip.
#: KEYS[1] = scan log, KEYS[2] = person visits; ARGV = ttl_s, tail, then score, member pairs.
#: Returns {number of visits, the last `tail` visit members...}.
ADD_SCANS_READ_TAIL: Final = """
for i = 3, #ARGV, 2 do redis.call('ZADD', KEYS[1], ARGV[i], ARGV[i + 1]) end
if #ARGV >= 3 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
local n = tonumber(ARGV[2])
local out = {redis.call('ZCARD', KEYS[2])}
local tail = redis.call('ZRANGE', KEYS[2], -n, -1)
for i = 1, #tail do out[i + 1] = tail[i] end
return out
"""

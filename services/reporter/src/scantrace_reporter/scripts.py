"""Lua scripts run atomically inside one day's hash-tag slot (see keys.py).

Each script gets the day's key prefix as ARGV[1] and builds every key from it, so all keys it
touches share the `{<ns>cd:<day>}` tag (one Cluster slot); KEYS[1] names one of them for routing.
"""

from __future__ import annotations

from typing import Final

#: ARGV: prefix, expire_at (s), msgpack [[scan_id, venue_id, person_id, "|i" or "|o"], ...],
#: msgpack {venue_id: ["1" or "0" (registered on the day), unit, parent, ..., root]}.
#: New scans (SADD to the day's seen set) are first summed per venue and per unit in Lua
#: tables, so each counter and HyperLogLog is written once per call, not once per scan.
#: (Reading and writing the hashes with bulk HMGET/HSET instead measured slower.)
#: Returns the number of scans that were new (not seen before on that day).
INGEST_SCANS: Final = """
local p = ARGV[1]
local exp = tonumber(ARGV[2])
local scans = cmsgpack.unpack(ARGV[3])
local venues = cmsgpack.unpack(ARGV[4])
local seen, vr, vs, agg = KEYS[1], p .. 'vr', p .. 'vs', p .. 'agg'
local function pfadd(key, members)
  local k = 1
  while k <= #members do
    redis.call('PFADD', key, unpack(members, k, math.min(k + 499, #members)))
    k = k + 500
  end
end
local order, touched = {}, {}
local added = 0
for i = 1, #scans do
  local s = scans[i]
  if redis.call('SADD', seen, s[1]) == 1 then
    added = added + 1
    local v = s[2]
    local t = touched[v]
    if t == nil then
      t = {i = 0, o = 0, persons = {}}
      touched[v] = t
      order[#order + 1] = v
    end
    if s[4] == '|i' then t.i = t.i + 1 else t.o = t.o + 1 end
    t.persons[#t.persons + 1] = s[3]
  end
end
local units, unit_order = {}, {}
for _, v in ipairs(order) do
  local t = touched[v]
  if t.i > 0 then redis.call('HINCRBY', vr, v .. '|i', t.i) end
  if t.o > 0 then redis.call('HINCRBY', vr, v .. '|o', t.o) end
  local hv = p .. 'hv:' .. v
  pfadd(hv, t.persons)
  -- The first scans of a venue-day set its state: so "no state yet" means "no data yet".
  local info = venues[v]
  local state = redis.call('HGET', vs, v)
  local first = not state
  if first then
    state = info[1]
    redis.call('HSET', vs, v, state)
    redis.call('EXPIREAT', hv, exp)
  end
  if state == '1' then
    for j = 2, #info do
      local u = info[j]
      local a = units[u]
      if a == nil then
        a = {i = 0, o = 0, a = 0, persons = {}}
        units[u] = a
        unit_order[#unit_order + 1] = u
      end
      a.i = a.i + t.i
      a.o = a.o + t.o
      if first then a.a = a.a + 1 end
      for _, person in ipairs(t.persons) do a.persons[#a.persons + 1] = person end
    end
  end
end
for _, u in ipairs(unit_order) do
  local a = units[u]
  if a.i > 0 then redis.call('HINCRBY', agg, u .. '|i', a.i) end
  if a.o > 0 then redis.call('HINCRBY', agg, u .. '|o', a.o) end
  if a.a > 0 then redis.call('HINCRBY', agg, u .. '|a', a.a) end
  local hu = p .. 'hu:' .. u
  pfadd(hu, a.persons)
  -- PFADD keeps a TTL; a unit's HLL is created along with its first active venue.
  if a.a > 0 then redis.call('EXPIREAT', hu, exp) end
end
if added > 0 then
  redis.call('EXPIREAT', seen, exp)
  redis.call('EXPIREAT', vr, exp)
  redis.call('EXPIREAT', vs, exp)
  redis.call('EXPIREAT', agg, exp)
end
return added
"""

#: Re-judge venues on one day after a registry change.
#: ARGV: prefix, expire_at, msgpack [[venue_id, "1" or "0" (registered on the day), unit, ..., root]].
#: Only a venue whose day already has a state and whose state changes is touched: its counters
#: move in or out of its subtree figures. Returns the venues taken out (their persons'
#: HyperLogLogs must be rebuilt, since an HLL cannot forget).
SET_VENUE_STATES: Final = """
local p = ARGV[1]
local exp = tonumber(ARGV[2])
local items = cmsgpack.unpack(ARGV[3])
local vr, vs, agg = p .. 'vr', KEYS[1], p .. 'agg'
local removed = {}
for i = 1, #items do
  local item = items[i]
  local v, want = item[1], item[2]
  local state = redis.call('HGET', vs, v)
  if state and state ~= want then
    redis.call('HSET', vs, v, want)
    local ci = tonumber(redis.call('HGET', vr, v .. '|i') or '0')
    local co = tonumber(redis.call('HGET', vr, v .. '|o') or '0')
    if ci + co > 0 then
      local sign = 1
      if want == '0' then sign = -1 end
      for j = 3, #item do
        local u = item[j]
        -- (a zero is skipped: Lua would send -0, which Redis refuses as an integer)
        if ci ~= 0 then redis.call('HINCRBY', agg, u .. '|i', sign * ci) end
        if co ~= 0 then redis.call('HINCRBY', agg, u .. '|o', sign * co) end
        redis.call('HINCRBY', agg, u .. '|a', sign)
        if want == '1' then
          local hu = p .. 'hu:' .. u
          redis.call('PFMERGE', hu, p .. 'hv:' .. v)
          redis.call('EXPIREAT', hu, exp)
        end
      end
      if want == '0' then removed[#removed + 1] = v end
    end
  end
end
return removed
"""

#: Rebuild the persons HLL of units, deepest first.
#: ARGV: prefix, expire_at, msgpack [[unit_id, [direct venue ids], [child unit ids]], ...].
#: A unit's HLL becomes the union of its counted venues' HLLs and its children's HLLs.
REBUILD_UNIT_PERSONS: Final = """
local p = ARGV[1]
local exp = tonumber(ARGV[2])
local plan = cmsgpack.unpack(ARGV[3])
local vs = KEYS[1]
for i = 1, #plan do
  local u, venues, children = plan[i][1], plan[i][2], plan[i][3]
  local sources = {}
  for j = 1, #venues do
    local v = venues[j]
    if redis.call('HGET', vs, v) == '1' then sources[#sources + 1] = p .. 'hv:' .. v end
  end
  for j = 1, #children do sources[#sources + 1] = p .. 'hu:' .. children[j] end
  local hu = p .. 'hu:' .. u
  redis.call('DEL', hu)
  local k = 1
  while k <= #sources do
    local chunk = {}
    for j = k, math.min(k + 499, #sources) do chunk[#chunk + 1] = sources[j] end
    redis.call('PFMERGE', hu, unpack(chunk))
    k = k + 500
  end
  if redis.call('EXISTS', hu) == 1 then redis.call('EXPIREAT', hu, exp) end
end
return #plan
"""

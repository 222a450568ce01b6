-- POST /v1/scans with msgpack arrays of `size` scans, every scan_id unique.
-- args: token, person_id, scanned_at (epoch ms), size, qr payloads...
local next_thread = 0

function setup(thread)
  thread:set("tid", next_thread)
  next_thread = next_thread + 1
end

local function mp_str(s)
  local n = #s
  if n < 32 then return string.char(0xa0 + n) .. s end
  if n < 256 then return string.char(0xd9, n) .. s end
  return string.char(0xda, math.floor(n / 256), n % 256) .. s
end

local function mp_u64(v)
  local bytes = {}
  for i = 8, 1, -1 do
    bytes[i] = string.char(v % 256)
    v = math.floor(v / 256)
  end
  return string.char(0xcf) .. table.concat(bytes)
end

function init(args)
  local token, person, scanned_at = args[1], args[2], tonumber(args[3])
  size = tonumber(args[4])
  tails = {}
  for i = 5, #args do
    tails[#tails + 1] = mp_str("person_id") .. mp_str(person) .. mp_str("qr") .. mp_str(args[i]) ..
      mp_str("direction") .. mp_str("in") .. mp_str("scanned_at") .. mp_u64(scanned_at)
  end
  head = string.char(0x85) .. mp_str("scan_id") .. string.char(0xd9, 36)
  array_head = string.char(0xdc, math.floor(size / 256), size % 256)
  math.randomseed(os.time() + tid * 7919)
  prefix = string.format("%08x", math.random(0, 0x7fffffff))
  counter = 0
  headers = {
    ["Content-Type"] = "application/msgpack",
    ["Authorization"] = "Bearer " .. token,
  }
end

function request()
  local parts = {array_head}
  for i = 1, size do
    counter = counter + 1
    parts[#parts + 1] = head ..
      string.format("%s-%04x-4000-8000-%012x", prefix, tid % 65536, counter) ..
      tails[(counter % #tails) + 1]
  end
  return wrk.format("POST", "/v1/scans", headers, table.concat(parts))
end

function done(summary, latency, requests)
  io.write(string.format(
    'WRK_JSON {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"non2xx":%d,"errors":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    summary.errors.status, summary.errors.connect + summary.errors.read + summary.errors.write +
    summary.errors.timeout))
end

-- POST /v1/scans with one JSON scan per request, every scan_id unique.
-- args: token, person_id, scanned_at (epoch ms), delay_ms (0 = as fast as possible), qr payloads...
local threads = {}
local next_thread = 0

function setup(thread)
  thread:set("tid", next_thread)
  next_thread = next_thread + 1
  table.insert(threads, thread)
end

function init(args)
  token = args[1]
  person = args[2]
  scanned_at = args[3]
  delay_ms = tonumber(args[4])
  qrs = {}
  for i = 5, #args do qrs[#qrs + 1] = args[i] end
  counter = 0
  math.randomseed(os.time() + tid * 7919)
  prefix = string.format("%08x", math.random(0, 0x7fffffff))
  headers = {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. token,
  }
end

function request()
  counter = counter + 1
  local id = string.format("%s-%04x-4%03x-8%03x-%012x", prefix, tid % 65536, 0, 0, counter)
  local qr = qrs[(counter % #qrs) + 1]
  local body = '{"scan_id":"' .. id .. '","person_id":"' .. person .. '","qr":"' .. qr ..
    '","direction":"in","scanned_at":' .. scanned_at .. '}'
  return wrk.format("POST", "/v1/scans", headers, body)
end

function delay()
  return delay_ms
end

function done(summary, latency, requests)
  io.write(string.format(
    'WRK_JSON {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"non2xx":%d,"errors":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    summary.errors.status, summary.errors.connect + summary.errors.read + summary.errors.write +
    summary.errors.timeout))
end

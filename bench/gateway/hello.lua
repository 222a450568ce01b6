-- POST /hello with a body shaped like one scan (unique ids, same size as single.lua's).
-- args: delay_ms
function setup(thread) end

function init(args)
  delay_ms = tonumber(args[1])
  counter = 0
  headers = {["Content-Type"] = "application/json"}
end

function request()
  counter = counter + 1
  local body = string.format('{"scan_id":"%08x-0000-4000-8000-%012x","person_id":"p-1",' ..
    '"qr":"ST1.venue-0001.k1.%s","direction":"in","scanned_at":1700000000000}',
    counter, counter, string.rep("A", 86))
  return wrk.format("POST", "/hello", headers, body)
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

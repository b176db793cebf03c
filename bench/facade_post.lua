-- wrk script: POST one new incident per request through the Table API
-- (201 after the group commit, with the record read back).
-- Environment: AUTH (the Basic credentials, base64). Globals on purpose.
counter = 0
next_tid = 0

function setup(thread)
  next_tid = next_tid + 1
  thread:set("tid", next_tid)
end

function init(args)
  counter = 0
  wrk.method = "POST"
  wrk.headers["Authorization"] = "Basic " .. os.getenv("AUTH")
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Accept"] = "application/json"
end

request = function()
  counter = counter + 1
  local body = string.format('{"short_description":"bench %d-%d","impact":"2","urgency":"2","category":"network"}',
    tid, counter)
  return wrk.format(nil, "/api/now/table/incident", nil, body)
end

done = function(summary, latency, requests)
  io.write(string.format("RESULT requests=%d duration_us=%d non2xx=%d errors=%d rps=%.1f p50_ms=%.3f p99_ms=%.3f max_ms=%.3f\n",
    summary.requests, summary.duration,
    summary.errors.status, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end

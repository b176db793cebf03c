-- wrk script: POST distinct session-end outbound events (every one must be
-- stored, none is a retry of another).
-- Globals on purpose: setup() runs in the main Lua state and thread:set()
-- writes each thread's own global "tid"; a local would shadow it.
counter = 0
next_tid = 0

function setup(thread)
  next_tid = next_tid + 1
  thread:set("tid", next_tid)
end

function init(args)
  counter = 0
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
end

request = function()
  counter = counter + 1
  local lsid = string.format("%08x%024x", tid, counter)
  local body = "event=support_conference_end&version=3&timestamp=" .. (1733240000 + counter) ..
    "&appliance_id=bench&lsid=" .. lsid .. "&external_key=INC00" .. (10000 + counter % 90000)
  return wrk.format(nil, nil, nil, body)
end

done = function(summary, latency, requests)
  io.write(string.format("RESULT requests=%d duration_us=%d non2xx=%d errors=%d rps=%.1f p50_ms=%.3f p99_ms=%.3f max_ms=%.3f\n",
    summary.requests, summary.duration,
    summary.errors.status, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end

-- wrk script: the Table API's indexed equality query, one random incident
-- number per request, 10 rows at most (GET /api/now/table/incident).
-- Environment: ROWS (incidents in the table), AUTH (the Basic credentials,
-- base64). Globals on purpose: see post.lua.
next_tid = 0

function setup(thread)
  next_tid = next_tid + 1
  thread:set("tid", next_tid)
end

function init(args)
  rows = tonumber(os.getenv("ROWS") or "100000")
  math.randomseed(os.time() + tid)
  wrk.headers["Authorization"] = "Basic " .. os.getenv("AUTH")
  wrk.headers["Accept"] = "application/json"
end

request = function()
  local n = 10001 + math.random(0, rows - 1)
  return wrk.format("GET", string.format("/api/now/table/incident?sysparm_limit=10&sysparm_query=number%%3DINC%07d", n))
end

done = function(summary, latency, requests)
  io.write(string.format("RESULT requests=%d duration_us=%d non2xx=%d errors=%d rps=%.1f p50_ms=%.3f p99_ms=%.3f max_ms=%.3f\n",
    summary.requests, summary.duration,
    summary.errors.status, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end

-- wrk script: PRA ticket-system approval requests (JSON) spread over the
-- changes bench/approval.sh created: three in four allowed, one in four
-- denied (wrong user), as a busy access console would produce.
-- Env: TICKETS = number of changes (CHG0030001 ...).
counter = 0
next_tid = 0

function setup(thread)
  next_tid = next_tid + 1
  thread:set("tid", next_tid)
end

function init(args)
  counter = 0
  tickets = tonumber(os.getenv("TICKETS") or "200")
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

request = function()
  counter = counter + 1
  local n = (counter * 7 + tid * 13) % tickets
  local user = "rep" .. (n % 50)
  if counter % 4 == 0 then user = "intruder" end
  local body = string.format('{"ticket_id":"CHG%07d","user":{"id":%d,"username":"%s","public_display_name":"Rep"},' ..
    '"jump_item":{"id":%d,"name":"host%d","hostname":"HOST%d","jump_group":{"id":1,"name":"Ops","type":"shared"}}}',
    30001 + n, n, user, n, n, n)
  return wrk.format(nil, nil, nil, body)
end

response = function(status, headers, body)
  if status ~= 200 or not string.find(body, '"is_valid"', 1, true) then
    bad = (bad or 0) + 1
  end
end

done = function(summary, latency, requests)
  io.write(string.format("RESULT requests=%d duration_us=%d non2xx=%d errors=%d rps=%.1f p50_ms=%.3f p99_ms=%.3f max_ms=%.3f\n",
    summary.requests, summary.duration,
    summary.errors.status, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end

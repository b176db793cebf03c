# Outbound-event intake end to end: btsim delivers session-end events to a
# running ticketbridge; every refusal answers its status and leaves a record.
. "$TB_E2E_LIB"

TOKEN=e2e-token-$RANDOM
printf '%s\n' "$TOKEN" >"$WORK/token"
: >"$WORK/empty"
tb_init --product rs
tb appliance set Default --appliance-id sim-1 --accepted-ips "127.0.0.1, ::1" \
  --outbound-event-token-file "$WORK/token" >/dev/null || not_ok "appliance set"
tb appliance add Disabled --enabled no >/dev/null || not_ok "appliance add Disabled"
tb appliance add Faraway --accepted-ips "192.0.2.0/24,2001:db8::/32" >/dev/null || not_ok "appliance add Faraway"
tb appliance add Other --appliance-id other-appliance --outbound-event-token-file "$WORK/empty" >/dev/null
tb_start

EP="$TB_URL/api/x_bmgr_crm/outbound_event/session_end"
Q="?outbound_event_token=$TOKEN"

# --- btsim delivers real session-end events; the first ack is lost, so one
# event arrives twice and must not queue a second job.
btsim_start --product rs --seed 7 --appliance-id sim-1 --outbound-url "$EP$Q" \
  --retry-interval 0.2 --retry-duration 30 --fault lose-ack:1 --sessions 5
delivered() { [ "$(json_get "$(curl -s "$BTSIM_URL/_btsim/stats")" events_delivered)" = 5 ]; }
wait_until 20 delivered && ok "btsim delivered 5 events" || not_ok "btsim delivered 5 events ($(curl -s "$BTSIM_URL/_btsim/stats"))"
expect_eq "5 accepted incoming records" "$(sql "select count(*) from tb_incoming where status='accepted'")" 5
expect_eq "1 duplicate from the lost ack" "$(sql "select count(*) from tb_incoming where status='duplicate'")" 1
expect_eq "5 import jobs created" "$(sql "select count(*) from tb_job where kind='session_import'")" 5
expect_eq "jobs name 5 distinct sessions" "$(sql "select count(distinct lsid) from tb_job")" 5
expect_eq "events attributed to Default" "$(sql "select count(*) from tb_incoming i join tb_appliance a on a.id=i.appliance_id where a.name='Default' and status='accepted'")" 5
stored=$(sql "select body from tb_incoming where status='accepted' limit 1")
expect_match "raw body stored" "$stored" "event=support_conference_end"
# This appliance has no API account, so the imports fail with a reason
# that says what to fix (the import itself is tested in test_import.sh).
failed_import() { [ "$(sql "select count(*) from tb_job where kind='session_import' and state='failed'")" -ge 5 ]; }
wait_until 10 failed_import && ok "imports without an API account fail" || not_ok "imports without an API account fail"
out=$(tb jobs --state failed)
expect_match "jobs shows why" "$out" "no OAuth client id/secret"

# --- a retry of the same event from curl: 200, duplicate, no new job
body="event=support_conference_end&version=3&timestamp=1733240467&appliance_id=sim-1&lsid=0123456789abcdef0123456789abcdef&external_key=INC0010001"
http POST "$EP$Q" -d "$body"
expect_eq "first delivery 200" "$HTTP_STATUS" 200
expect_eq "first delivery accepted" "$(json_get "$HTTP_BODY" result.status)" accepted
http POST "$EP$Q" -d "$body"
expect_eq "retried delivery 200" "$HTTP_STATUS" 200
expect_eq "retried delivery recognised" "$(json_get "$HTTP_BODY" result.status)" duplicate
expect_eq "one job for the retried event" "$(sql "select count(*) from tb_job where lsid='0123456789abcdef0123456789abcdef'")" 1

# --- a non-final event is stored but queues nothing
http POST "$EP$Q" -d "event=support_conference_begin&timestamp=1&lsid=aaaa1111&appliance_id=sim-1"
expect_eq "begin event 200" "$HTTP_STATUS" 200
expect_eq "begin event ignored" "$(json_get "$HTTP_BODY" result.status)" ignored

# --- legacy and case paths, JSON body
http POST "$TB_URL/x_bmgr_support_ent_bomgar_post.do$Q" -d "event=support_conference_end&timestamp=2&lsid=legacy01&appliance_id=sim-1"
expect_eq "legacy path accepted" "$HTTP_STATUS" 200
http POST "$TB_URL/api/x_bmgr_crm/outbound_event/case$Q" -H 'Content-Type: application/json' \
  -d '{"event":"support_conference_member_added","timestamp":3,"lsid":"case01","appliance_id":"sim-1","type":"representative"}'
expect_eq "case path JSON accepted" "$HTTP_STATUS" 200
expect_eq "case job queued" "$(sql "select kind from tb_job where lsid='case01'")" case_event
http POST "$TB_URL/api/x_bmgr_bomgar_pam/outbound_event/session_end$Q" -d "event=support_conference_end&timestamp=4&lsid=pra01&appliance_id=sim-1"
expect_eq "PRA path accepted" "$HTTP_STATUS" 200

# --- token carried in the body is accepted and never stored
http POST "$EP" -d "event=support_conference_end&timestamp=5&lsid=tokbody&appliance_id=sim-1&outbound_event_token=$TOKEN"
expect_eq "token in body accepted" "$HTTP_STATUS" 200
http POST "$EP" -d "event=support_conference_end&timestamp=6&lsid=tokenc&appliance_id=sim-1&outbound%5Fevent%5Ftoken=$TOKEN"
expect_eq "percent-encoded token name accepted" "$HTTP_STATUS" 200
http POST "$EP" -H 'Content-Type: application/json' \
  -d "{\"event\":\"support_conference_end\",\"timestamp\":7,\"lsid\":\"tokjson\",\"outbound_event_token\":\"$TOKEN\"}"
expect_eq "token in a JSON body accepted" "$HTTP_STATUS" 200
http POST "$EP" -H 'Content-Type: application/json' -d "{\"event\":\"support_conference_end\",\"lsid\":\"tokjsonbad\",\"outbound_event_token\":\"wrong-$TOKEN\"}"
expect_eq "wrong token in a JSON body refused" "$HTTP_STATUS" 403
expect_eq "token redacted in every stored body" "$(sql "select count(*) from tb_incoming where cast(body as text) like '%$TOKEN%'")" 0
expect_eq "redaction marker stored" "$(sql "select count(*) from tb_incoming where cast(body as text) like '%REDACTED%'")" 4

# --- every refusal: status, JSON error body, readable rejected record
reject_case() { # name expected_status expected_reason_regex method url [curl args]
  local name=$1 want=$2 reason=$3 method=$4 url=$5; shift 5
  local before after
  before=$(sql "select count(*) from tb_incoming where status='rejected'")
  http "$method" "$url" "$@"
  expect_eq "$name: HTTP $want" "$HTTP_STATUS" "$want"
  expect_eq "$name: JSON failure body" "$(json_get "$HTTP_BODY" status)" failure
  after=$(wait_until 5 sh -c "[ \$(sqlite3 'file:$DB?mode=ro' \"select count(*) from tb_incoming where status='rejected'\") -gt $before ]" && echo more)
  expect_eq "$name: rejected record written" "$after" more
  local rec
  rec=$(sql "select http_status || ' ' || reason from tb_incoming where status='rejected' order by id desc limit 1")
  expect_match "$name: record says why" "$rec" "^$want .*$reason"
}
good="event=support_conference_end&timestamp=9&lsid=rej01&appliance_id=sim-1"
reject_case "disabled integration" 403 "disabled" POST "$EP?appliance=Disabled" -d "$good"
reject_case "token missing" 403 "token missing" POST "$EP" -d "$good"
reject_case "token wrong" 403 "does not match" POST "$EP?outbound_event_token=nope" -d "$good"
reject_case "source IP not accepted" 403 "not in the accepted IP" POST "$EP?appliance=Faraway" -d "$good"
reject_case "unknown appliance" 404 "no appliance named" POST "$EP?appliance=Nope" -d "$good"
reject_case "malformed body" 400 "percent-encoding" POST "$EP$Q" -d "event=support_conference_end&lsid=%zz"
reject_case "NUL byte" 400 "percent-encoding or NUL" POST "$EP$Q" -d "event=x%00y&lsid=abc"
reject_case "missing event" 400 "event" POST "$EP$Q" -d "lsid=abc&timestamp=1"
reject_case "missing lsid" 400 "lsid" POST "$EP$Q" -d "event=support_conference_end&timestamp=1"
reject_case "hostile lsid" 400 "lsid must be" POST "$EP$Q" --data-urlencode "event=support_conference_end" --data-urlencode "lsid=../../etc/passwd;rm -rf /"
reject_case "bad JSON" 400 "invalid JSON" POST "$EP$Q" -H 'Content-Type: application/json' -d '{"event":'
head -c 70000 /dev/zero | tr '\0' 'a' >"$WORK/big"
reject_case "body over 64 KiB" 413 "too large" POST "$EP$Q" --data-binary "@$WORK/big"
reject_case "chunked body over 64 KiB" 413 "too large" POST "$EP$Q" -H 'Transfer-Encoding: chunked' --data-binary "@$WORK/big"
reject_case "wrong method" 405 "not allowed" GET "$EP$Q"
reject_case "too many fields" 400 "more than 256 fields" POST "$EP$Q" -d "$(python3 -c 'print("&".join("f%d=1" % i for i in range(300)))')"

# unknown appliance_id with no match falls back to Default; an explicit other
# appliance without a token accepts.
http POST "$EP$Q" -d "event=support_conference_end&timestamp=10&lsid=fallback1&appliance_id=unknown-box"
expect_eq "unmatched appliance_id uses Default" "$HTTP_STATUS" 200
http POST "$EP" -d "event=support_conference_end&timestamp=10&lsid=other1&appliance_id=other-appliance"
expect_eq "appliance_id selects Other" "$HTTP_STATUS" 200
expect_eq "stored under Other" "$(sql "select a.name from tb_incoming i join tb_appliance a on a.id=i.appliance_id where i.lsid='other1'")" Other

# CLI shows rejections with reasons, never the token
out=$(tb incoming --status rejected --limit 100)
expect_match "incoming lists rejections" "$out" "Outbound event token does not match"
if printf '%s' "$(tb incoming --limit 1000; tb appliance show Default)" | grep -q "$TOKEN"; then
  not_ok "token never printed by the CLI"
else
  ok "token never printed by the CLI"
fi
if grep -q "$TOKEN" "$WORK/tb.log"; then not_ok "token never logged"; else ok "token never logged"; fi
id=$(sql "select id from tb_incoming where status='rejected' order by id desc limit 1")
out=$(tb incoming --show "$id")
expect_match "incoming --show prints the body" "$out" "body"

# --- operations endpoints
http GET "$TB_URL/healthz"; expect_eq "healthz" "$HTTP_STATUS" 200
http GET "$TB_URL/readyz"; expect_eq "readyz" "$HTTP_STATUS" 200
http GET "$TB_URL/metrics"
expect_match "metrics: requests by route and status" "$HTTP_BODY" 'tb_http_requests_total\{route="crm_session_end",status="200"\} [0-9]+'
expect_match "metrics: queue depth" "$HTTP_BODY" 'tb_queue_depth [0-9]+'
expect_match "metrics: latency histogram" "$HTTP_BODY" 'tb_intake_latency_seconds_bucket\{le="\+Inf"\} [0-9]+'
expect_match "metrics: rejections counted" "$HTTP_BODY" 'status="403"\} [0-9]+'
http GET "$TB_URL/nope"; expect_eq "unknown path 404" "$HTTP_STATUS" 404

# --- SIGTERM: clean exit 0
tb_stop
expect_eq "SIGTERM exits 0" "$TB_EXIT" 0
finish

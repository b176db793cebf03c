#!/usr/bin/env bash
# EPM just-in-time access, refused input (seed 004, "Troubleshooting"):
# every rejected webhook (status, JSON error body, a readable rejected
# record), throttled logins, every decision validation message through the
# API and the CLI, roles and the decision API's own refusals, and bad
# configuration values.
. "$(dirname "$0")/epm_lib.sh"

epm_setup
HOOK="$TB_URL$HOOK_PATH"
AUTH=(-u "pmc_webhook_user:$PW")
JSONH=(-H 'Content-Type: application/json')

# --- rejected webhooks: status, the JSON error body, a readable record
GOOD='{"EventType":"URM_Native_Ticket_Created","RequestId":"7f1b5a1c-0000-4000-8000-000000000001","requestInfo":{"user":"x"}}'
reject() { # name status message-regex curl-args...
  local name=$1 status=$2 msg=$3; shift 3
  local before
  before=$(sql "select count(*) from tb_incoming where status = 'rejected'")
  http POST "$HOOK" "$@"
  expect_eq "webhook $name: $status" "$HTTP_STATUS" "$status"
  expect_match "webhook $name: JSON error body" "$(jv "$HTTP_BODY" 'd["status"] + "|" + d["error"]["message"]')" "^failure\|$msg"
  wait_until 5 test "$(sql "select count(*) from tb_incoming where status = 'rejected'")" -gt "$before" ||
    not_ok "webhook $name: no rejected record"
  expect_match "webhook $name: rejected record with the reason" \
    "$(sql "select http_status || ' ' || reason from tb_incoming where status = 'rejected' order by id desc limit 1")" "^$status $msg"
}
reject "without credentials" 401 "User Not Authenticated" "${JSONH[@]}" --data-binary "$GOOD"
curl -s -D "$WORK/h" -o /dev/null -X POST "${JSONH[@]}" --data-binary "$GOOD" "$HOOK"
expect_match "  with WWW-Authenticate" "$(cat "$WORK/h")" 'WWW-Authenticate: Basic realm="ticketbridge"'
reject "wrong password" 401 "User Not Authenticated" -u "pmc_webhook_user:wrong" "${JSONH[@]}" --data-binary "$GOOD"
reject "unknown user" 401 "User Not Authenticated" -u "nobody:$PW" "${JSONH[@]}" --data-binary "$GOOD"
reject "user without the api role" 403 "User lacks role x_bets_pmc_jit.api" -u "approver:$PW" "${JSONH[@]}" --data-binary "$GOOD"
reject "text/plain" 415 "Unsupported Media Type" "${AUTH[@]}" -H 'Content-Type: text/plain' --data-binary "$GOOD"
reject "form content type" 415 "Unsupported Media Type" "${AUTH[@]}" --data "$GOOD"
reject "not JSON" 400 "Malformed body" "${AUTH[@]}" "${JSONH[@]}" --data-binary '{"EventType":'
reject "a JSON array" 400 "Malformed body" "${AUTH[@]}" "${JSONH[@]}" --data-binary '[1,2]'
printf '{"EventType":"URM_Native_Ticket_Created","RequestId":"\xff\xfe"}' >"$WORK/bad-utf8.json"
reject "invalid UTF-8" 400 "Malformed body" "${AUTH[@]}" "${JSONH[@]}" --data-binary "@$WORK/bad-utf8.json"
$PY -c 'print("{\"a\":" + "[" * 50000 + "]" * 50000 + "}")' >"$WORK/deep.json"
reject "deeply nested" 400 "Malformed body" "${AUTH[@]}" "${JSONH[@]}" --data-binary "@$WORK/deep.json"
reject "missing EventType" 400 "Missing field" "${AUTH[@]}" "${JSONH[@]}" --data-binary '{"RequestId":"r1"}'
reject "unknown EventType" 400 "Unknown EventType" "${AUTH[@]}" "${JSONH[@]}" \
  --data-binary '{"EventType":"URM_Native_Ticket_Deleted","RequestId":"r1"}'
reject "missing RequestId" 400 "Missing field" "${AUTH[@]}" "${JSONH[@]}" \
  --data-binary '{"EventType":"JIT_ADMIN_TICKET_CREATED"}'
expect_eq "  the records name the missing fields" \
  "$(sql "select reason from tb_incoming where reason like 'Missing field%' order by id")" "$(printf 'Missing field: EventType\nMissing field: RequestId')"
reject "unfilled RequestId placeholder" 400 "Invalid field" "${AUTH[@]}" "${JSONH[@]}" \
  --data-binary '{"EventType":"JIT_ADMIN_TICKET_CREATED","RequestId":"%%RequestId%%"}'
reject "RequestId as a path" 400 "Invalid field" "${AUTH[@]}" "${JSONH[@]}" \
  --data-binary '{"EventType":"JIT_ADMIN_TICKET_CREATED","RequestId":"../../etc"}'
$PY -c 'import json; print(json.dumps({"EventType":"URM_Native_Ticket_Created","RequestId":"r2","requestInfo":{"cmdArgs":"x"*270000}}))' >"$WORK/big.json"
reject "over 256 KiB" 413 "Request body too large" "${AUTH[@]}" "${JSONH[@]}" --data-binary "@$WORK/big.json"
http GET "$HOOK" "${AUTH[@]}"
expect_eq "webhook GET: 405" "$HTTP_STATUS" 405
expect_eq "  JSON error body" "$(jv "$HTTP_BODY" 'd["error"]["message"]')" "Method not allowed"
expect_match "rejected records readable with 'incoming'" "$(tb incoming --status rejected)" "Unknown EventType"
ID=$(sql "select id from tb_incoming where reason like 'Unknown EventType%' limit 1")
expect_match "  and their body with --show" "$(tb incoming --show "$ID")" "URM_Native_Ticket_Deleted"
expect_eq "  the event and request id are kept when known" \
  "$(sql "select event || '|' || lsid from tb_incoming where id = $ID")" "URM_Native_Ticket_Deleted|r1"
expect_eq "  the oversized body is refused before it is read, and marked truncated" \
  "$(sql "select coalesce(length(body), 0) || ' ' || body_truncated from tb_incoming where http_status = 413")" "0 1"
expect_eq "no job for any rejected webhook" "$(sql "select count(*) from tb_job")" 0
http POST "$HOOK" "${AUTH[@]}" -H 'Content-Type: application/json; charset=utf-8' \
  --data-binary '{"EventType":"JIT_ADMIN_TICKET_CREATED","RequestId":"7f1b5a1c-0000-4000-8000-0000000000aa","Brand":"new","Nested":{"x":[1,2]},"UserName":"CORP\\kim\u001b[2J"}'
expect_eq "unknown fields are kept, not rejected: 200" "$HTTP_STATUS:$(jv "$HTTP_BODY" 'd["result"]["status"]')" "200:accepted"
wait_until 10 has_ticket 7f1b5a1c-0000-4000-8000-0000000000aa || not_ok "no ticket for the request with unknown fields"
expect_match "  and shown in the ticket" "$(tb ticket show "$(ticket_of 7f1b5a1c-0000-4000-8000-0000000000aa)")" "Brand: new"
out=$(tb jit show 7f1b5a1c-0000-4000-8000-0000000000aa)
expect_eq "jit show escapes control characters from the payload" "$(printf '%s' "$out" | grep -c $'\x1b')" 0
expect_match "  and shows them as \\xNN" "$out" 'user: +CORP\\kim\\x1b\[2J'

# --- a user name guessed too often: 429, recorded; the webhook user is not locked out
for i in $(seq 1 10); do
  curl -s -o /dev/null -X POST -u "mallory:guess$i" "${JSONH[@]}" --data-binary "$GOOD" "$HOOK"
done
reject "too many failed logins" 429 "Too many failed logins" -u "mallory:guess11" "${JSONH[@]}" --data-binary "$GOOD"
curl -s -D "$WORK/h" -o /dev/null -X POST -u "mallory:guess12" "${JSONH[@]}" --data-binary "$GOOD" "$HOOK"
expect_match "  with Retry-After" "$(cat "$WORK/h")" "Retry-After: [0-9]+"
send '{"template":"URM_Native_Ticket_Created","wait":true}'
expect_eq "  the webhook user still gets through" "$SEND_STATUS" 200

# --- decision validation: the seed's messages, through the API and the CLI
send '{"template":"URM_Native_Ticket_Created","wait":true}'
R1=$RID
wait_until 10 has_ticket "$R1" || not_ok "no ticket for $R1"
T1=$(ticket_of "$R1")
T1_ID=$(sql "select task_sys_id from tb_jit_request where request_id = '$R1'")
REQ=$R1
bad_api "no reason" '{"decision":"approve","once":true}' 400 "Please enter a reason"
bad_api "blank reason" '{"decision":"deny","reason":"   "}' 400 "Please enter a reason"
bad_api "4 minutes" '{"decision":"approve","reason":"r","minutes":4}' 400 "Enter a number between 5 and 1440"
bad_api "1441 minutes" '{"decision":"approve","reason":"r","minutes":"1441"}' 400 "Enter a number between 5 and 1440"
bad_api "minutes not a number" '{"decision":"approve","reason":"r","minutes":"ten"}' 400 "Enter a number between 5 and 1440"
bad_api "0 hours" '{"decision":"approve","reason":"r","hours":0}' 400 "Enter a number between 1 and 24"
bad_api "25 hours" '{"decision":"approve","reason":"r","hours":25}' 400 "Enter a number between 1 and 24"
bad_api "no duration" '{"decision":"approve","reason":"r"}' 400 "Choose a duration: once, minutes or hours"
bad_api "two durations" '{"decision":"approve","reason":"r","once":true,"hours":2}' 400 "Choose one duration"
bad_api "unknown field" '{"decision":"approve","reason":"r","once":true,"until":"never"}' 400 "Invalid field"
bad_api "not JSON" '{"decision":' 400 "Malformed body"
cli_msg "no reason" "Please enter a reason" approve "$R1" --once
cli_msg "4 minutes" "Enter a number between 5 and 1440" approve "$R1" --reason r --minutes 4
cli_msg "minutes not a number" "Enter a number between 5 and 1440" approve "$R1" --reason r --minutes 5x
cli_msg "25 hours" "Enter a number between 1 and 24" approve "$R1" --reason r --hours 25
cli_msg "unknown request" "No such JIT request" approve nosuchrequest --reason r --once
out=$(tb jit approve "$R1" --reason r --once --as helpdesk 2>&1)
expect_match "CLI --as a user without the role" "$out" "lacks role x_bets_pmc_jit.user"
out=$(tb jit approve 2>&1); expect_eq "CLI usage error: exit 2" "$?" 2
tsql_write "update incident set state = 7, active = 'false' where sys_id = '$T1_ID'"
bad_api "closed ticket" '{"decision":"approve","reason":"r","once":true}' 409 \
  "You cannot modify the decision because this request is inactive"
cli_msg "closed ticket" "You cannot modify the decision because this request is inactive" deny "$R1" --reason r
tsql_write "update incident set state = 2, active = 'true' where sys_id = '$T1_ID'"
tb epm config set --active-states "New, On Hold" >/dev/null 2>&1
sleep 1.2
bad_api "state not in the active states" '{"decision":"deny","reason":"r"}' 409 \
  "You cannot modify the decision because this request is inactive"
expect_eq "  says which state" "$(jv "$HTTP_BODY" 'd["error"]["detail"]')" "ticket $T1 is In Progress"
tb epm config set --active-states "" >/dev/null 2>&1
sleep 1.2
expect_eq "nothing recorded by refused decisions" "$(sql "select count(*) from tb_jit_decision")" 0

# roles and the API's own refusals
decide_api "$R1" '{"decision":"deny","reason":"r"}' helpdesk
expect_eq "API: user without x_bets_pmc_jit.user: 403" "$HTTP_STATUS:$(jv "$HTTP_BODY" 'd["error"]["message"]')" \
  "403:User lacks role x_bets_pmc_jit.user"
decide_api "$R1" '{"decision":"deny","reason":"r"}' pmc_webhook_user
expect_eq "API: the webhook user cannot decide: 403" "$HTTP_STATUS" 403
http POST "$TB_URL/api/tb/v1/jit/$R1/decision" "${JSONH[@]}" --data-binary '{"decision":"deny","reason":"r"}'
expect_eq "API: no credentials: 401" "$HTTP_STATUS" 401
http POST "$TB_URL/api/tb/v1/jit/$R1/decision" -u "approver:$PW" -H 'Content-Type: text/plain' --data-binary '{}'
expect_eq "API: text/plain: 415" "$HTTP_STATUS" 415
decide_api "11111111-2222-4333-8444-555555555555" '{"decision":"deny","reason":"r"}'
expect_eq "API: unknown request: 404" "$HTTP_STATUS:$(jv "$HTTP_BODY" 'd["error"]["message"]')" "404:No such JIT request"
http GET "$TB_URL/api/tb/v1/jit/$R1/decision" -u "approver:$PW"
expect_eq "API: GET on .../decision: 405" "$HTTP_STATUS" 405
http GET "$TB_URL/api/tb/v1/jit/$R1/other" -u "approver:$PW"
expect_eq "API: unknown sub-path: 404" "$HTTP_STATUS" 404
http GET "$TB_URL/api/tb/v1/jit/a%20b" -u "approver:$PW"
expect_eq "API: bad request key: 404" "$HTTP_STATUS" 404
head -c 20000 /dev/zero | tr '\0' 'x' >"$WORK/big-decision"
http POST "$TB_URL/api/tb/v1/jit/$R1/decision" -u "approver:$PW" "${JSONH[@]}" --data-binary "@$WORK/big-decision"
expect_eq "API: body over 16 KiB: 413" "$HTTP_STATUS" 413

# --- bad configuration values are refused, and change nothing
cfg_bad() { # name regex args...
  local name=$1 want=$2; shift 2
  local out rc
  out=$(tb epm config set "$@" 2>&1); rc=$?
  expect_eq "config $name: exit 1" "$rc" 1
  expect_match "config $name: says why" "$out" "$want"
}
cfg_bad "ticket type" "incident, change_request, sc_task or sc_req_item" --ticket-type problem
cfg_bad "active state not of the type" "'Open' is not a state of incident \(states: New \(1\)" --active-states "New, Open"
cfg_bad "active state of the new type" "'New' is not a state of sc_task" --ticket-type sc_task --active-states New
cfg_bad "host with a path" "not a host name" --host "https://acme-services.example.com/x"
cfg_bad "host with spaces" "not a host name" --host "acme services"
cfg_bad "token URL scheme" "expected an http:// or https:// URL" --token-url "ftp://x/token"
cfg_bad "api name" "unknown name 'bogus'" --api bogus=/x
cfg_bad "api path" "a path starts with /" --api app_decision=relative
cfg_bad "api method" "PUT or POST" --api admin_decision_method=DELETE
cfg_bad "auto-close value" "expected yes or no" --auto-close maybe
cfg_bad "short description control character" "control characters" --short-description "$(printf 'a\tb')"
cfg_bad "missing secret file" "cannot read" --client-secret-file "$WORK/nope"
out=$(tb epm config set --bogus 2>&1); expect_eq "config unknown option: exit 2" "$?" 2
out=$(tb epm config set --host acme.beyondtrustcloud.com 2>&1)
expect_match "a host without -services is taken, with a warning" "$out" "lacks the -services suffix"
expect_match "config unchanged by the refused values" "$(tb epm config show 2>/dev/null)" "ticket type: +incident"
tb epm config set --api app_decision=/api/v2/AuthorizationRequest/notification --api admin_decision_method=POST >/dev/null
expect_match "api paths configurable" "$(tb epm config show 2>/dev/null)" "api app_decision: +/api/v2/AuthorizationRequest/notification$"
tb epm config set --api app_decision= >/dev/null
expect_match "  and back to the default" "$(tb epm config show 2>/dev/null)" "api app_decision: +/management-api/v2/AuthorizationRequest/notification \(default\)"
expect_eq "no secret in config show" "$(tb epm config show 2>/dev/null | grep -c 's3c=ret')" 0
expect_eq "the client secret is stored encrypted" "$(sql "select instr(client_secret, 's3c=ret') from tb_epm_config")" 0
finish

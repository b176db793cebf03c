#!/usr/bin/env bash
# EPM just-in-time access when EPM or the configuration fails (seed 004,
# "Troubleshooting"): EPM down during a decision then back, Retry-After,
# EPM refusing a decision (4xx) or saying it is final (409), wrong API
# credentials, a missing configuration record, a decision update that
# arrives before its request.
. "$(dirname "$0")/epm_lib.sh"

epm_setup
HOOK="$TB_URL$HOOK_PATH"
AUTH=(-u "pmc_webhook_user:$PW")
JSONH=(-H 'Content-Type: application/json')
send '{"template":"URM_Native_Ticket_Created","wait":true}'
R1=$RID
REQ=$R1
wait_until 10 has_ticket "$R1" || not_ok "no ticket for $R1"
T1=$(ticket_of "$R1")

# --- EPM down during the decision, then back
http POST "$EPM_CTL/_epmsim/faults" "${JSONH[@]}" --data-binary '{"action":"down","for_ms":3500}'
decide_api "$R1" '{"decision":"approve","reason":"while EPM is down","minutes":"45"}'
expect_eq "decision taken while EPM is down: 200" "$HTTP_STATUS" 200
bad_api "second decision while one is being sent" '{"decision":"deny","reason":"r"}' 409 \
  "A decision for this request is being sent to EPM"
retried() { [ "$(sql "select attempts from tb_jit_decision where state = 'queued' limit 1")" -ge 1 ] 2>/dev/null; }
wait_until 10 retried && ok "the failed attempt is recorded on the decision" || not_ok "no failed attempt recorded"
expect_match "  with the network error" "$(sql "select error from tb_jit_decision order by id desc limit 1")" "."
wait_until 10 has_note "$T1" "not sent to EPM yet" || not_ok "no note of the failed attempt on $T1"
expect_match "  and noted on the ticket" "$(tb ticket show "$T1" | grep -A1 'not sent to EPM yet')" "Couldn't connect.*\(it is retried\)"
wait_until 30 is_state "$R1" accepted/final && ok "sent once EPM was back" || not_ok "not sent after EPM came back: $(decision_state "$R1")"
expect_eq "EPM got exactly the expected JSON once" "$(last_decision)" \
  "$(expected_body application "$R1" Approved 2700 "while EPM is down")"
expect_eq "  one accepted decision for the request" "$(decisions_for "$R1")" 1
expect_match "the job took more than one attempt" "$(sql "select attempts from tb_job where kind = 'jit_decision'")" '^[2-9]$'
bad_api "after EPM accepted" '{"decision":"deny","reason":"r"}' 409 \
  "The server has accepted the decision. It is now final and cannot be changed"
cli_msg "after EPM accepted" "The server has accepted the decision. It is now final and cannot be changed" \
  approve "$T1" --reason r --hours 1

# --- 503 with Retry-After: the retry waits at least that long
send '{"template":"URM_Native_Ticket_Created","wait":true}'
R2=$RID
wait_until 10 has_ticket "$R2" || not_ok "no ticket for $R2"
http POST "$EPM_CTL/_epmsim/faults" "${JSONH[@]}" --data-binary '{"action":"status","endpoint":"app_decision","status":503,"retry_after":4}'
t0=$(date +%s.%N)
decide_api "$R2" '{"decision":"approve","reason":"r","once":true}'
wait_until 20 is_state "$R2" accepted/final || not_ok "not accepted after the 503"
elapsed=$($PY -c "import time; print(time.time() - $t0)")
expect_eq "retried no sooner than Retry-After (4 s; took $elapsed s)" "$($PY -c "print($elapsed >= 3.0)")" True

# --- EPM refuses a decision (4xx): recorded as failed with EPM's message; a new one may be made
send '{"template":"JIT_ADMIN_TICKET_CREATED","wait":true}'
R3=$RID
wait_until 10 has_ticket "$R3" || not_ok "no ticket for $R3"
http POST "$EPM_CTL/_epmsim/faults" "${JSONH[@]}" \
  --data-binary '{"action":"status","endpoint":"admin_decision","status":400,"message":"The group does not allow elevation"}'
decide_api "$R3" '{"decision":"approve","reason":"r","hours":1}'
wait_until 10 is_state "$R3" failed && ok "EPM's 400: decision failed" || not_ok "after a 400: $(decision_state "$R3")"
expect_eq "  with EPM's message" "$(sql "select http_status || ' ' || error from tb_jit_decision order by id desc limit 1")" \
  "400 EPM answered HTTP 400: The group does not allow elevation"
wait_until 10 has_note "$(ticket_of "$R3")" "Decision failed" || not_ok "no note of the refusal"
expect_match "  written on the ticket" "$(tb ticket show "$(ticket_of "$R3")")" \
  "Decision failed: EPM answered HTTP 400: The group does not allow elevation"
expect_match "  and the job failed with it" "$(sql "select last_error from tb_job where kind = 'jit_decision' order by id desc limit 1")" "does not allow elevation"
out=$(tb jit deny "$R3" --reason "then no" --as approver)
expect_match "a new decision after a refused one" "$out" "^Denied for request"
wait_until 10 is_state "$R3" accepted/final || not_ok "second decision not accepted: $(decision_state "$R3")"
expect_eq "  two decisions on the record" "$(tb jit show "$R3" --json | jv "$(cat)" '[x["state"] for x in d["decisions"]]')" '["failed", "accepted"]'

# --- EPM says the request already has a final decision (409)
send '{"template":"URM_Native_Ticket_Created","wait":true}'
R4=$RID
wait_until 10 has_ticket "$R4" || not_ok "no ticket for $R4"
TOK=$(curl -s "$EPM_URL/oauth/connect/token" -d grant_type=client_credentials -d client_id=cid \
  --data-urlencode 'client_secret=s3c=ret&x' | jv "$(cat)" 'd["access_token"]')
now=$(date -u '+%Y-%m-%d %H:%M:%S')
http POST "$EPM_URL/management-api/v2/AuthorizationRequest/notification" -H "Authorization: Bearer $TOK" "${JSONH[@]}" \
  --data-binary "{\"itsmRequestId\":\"$R4\",\"systemId\":\"x\",\"ticketId\":\"x\",\"decision\":\"Denied\",\"status\":\"2001\",\"decisionTime\":\"$now\",\"decisionPerformedByUser\":\"epm.console\",\"message\":\"decided in EPM\"}"
expect_eq "decided in EPM first" "$HTTP_STATUS" 200
decide_api "$R4" '{"decision":"approve","reason":"r","once":true}'
wait_until 10 is_state "$R4" failed/final && ok "EPM's 409: failed and final" || not_ok "after a 409: $(decision_state "$R4")"
expect_eq "  with the seed's message" "$(sql "select error from tb_jit_decision order by id desc limit 1")" \
  "The server has accepted the decision. It is now final and cannot be changed"
bad_api "after EPM's 409" '{"decision":"deny","reason":"r"}' 409 \
  "The server has accepted the decision. It is now final and cannot be changed"
decide_api "$R4" '{"decision":"deny","reason":"r"}'
expect_eq "  (the request is final)" "$HTTP_STATUS" 409

# --- wrong API credentials: epm test says why; the decision waits for the fix
printf 'wrong-secret\n' >"$WORK/wrong"
tb epm config set --client-secret-file "$WORK/wrong" >/dev/null 2>&1
sleep 1.2
out=$(tb epm test 2>&1); rc=$?
expect_eq "epm test with a wrong secret: exit 1" "$rc" 1
expect_match "  says EPM refused the client id/secret" "$out" "Connection failed: EPM refused the client id/secret"
send '{"template":"URM_Native_Ticket_Created","wait":true}'
R5=$RID
wait_until 10 has_ticket "$R5" || not_ok "no ticket for $R5"
decide_api "$R5" '{"decision":"approve","reason":"r","hours":3}'
job_failed() { [ "$(sql "select state from tb_job where kind = 'jit_decision' order by id desc limit 1")" = failed ]; }
wait_until 10 job_failed && ok "wrong credentials: the job fails" || not_ok "wrong credentials: job not failed"
expect_match "  saying what to fix" "$(tb jobs --state failed)" "EPM refused the client id/secret"
expect_eq "  the decision waits" "$(decision_state "$R5")" pending
wait_until 10 has_note "$(ticket_of "$R5")" "jobs retry --failed" || not_ok "no note of the failed job"
expect_match "  noted on the ticket" "$(tb ticket show "$(ticket_of "$R5")")" "jobs retry --failed"
tb epm config set --client-secret-file "$WORK/secret" >/dev/null 2>&1
sleep 1.2
expect_eq "epm test after the fix" "$(tb epm test 2>/dev/null)" "Connection OK"
tb jobs retry --failed >/dev/null
wait_until 15 is_state "$R5" accepted/final && ok "sent after the fix and 'jobs retry'" || not_ok "not sent after the fix"
expect_eq "  exactly the expected JSON" "$(last_decision)" "$(expected_body application "$R5" Approved 10800 r)"
post_json "$EPM_CTL/_epmsim/config" '{"invalid_client_status":400}'
printf 'wrong-again\n' >"$WORK/wrong2"
tb epm config set --client-secret-file "$WORK/wrong2" >/dev/null 2>&1
out=$(tb epm test 2>&1)
expect_match "epm test: 400 invalid_client is a refusal too" "$out" "Connection failed: EPM refused the client id/secret"
tb epm config set --client-secret-file "$WORK/secret" >/dev/null 2>&1
post_json "$EPM_CTL/_epmsim/config" '{"invalid_client_status":401}'
http POST "$EPM_CTL/_epmsim/faults" "${JSONH[@]}" --data-binary '{"action":"down","for_ms":1500}'
out=$(tb epm test 2>&1); rc=$?
expect_eq "epm test with EPM down: exit 1" "$rc" 1
expect_match "  says why" "$out" "Connection failed: OAuth token request: request to .* failed"
sleep 1.6

# --- the configuration record is missing: tickets wait for 'epm init'
sql_write "delete from tb_epm_config"
sleep 1.2
out=$(tb epm config show 2>&1); rc=$?
expect_eq "config show without a record: exit 1" "$rc" 1
expect_match "  Record not found, run epm init" "$out" "Record not found.*epm init"
send '{"template":"URM_Native_Ticket_Created","wait":true}'
R6=$RID
expect_eq "the webhook is still stored: 200" "$SEND_STATUS" 200
ticket_job_failed() { [ "$(sql "select state from tb_job where kind = 'jit_ticket' and lsid = '$R6'")" = failed ]; }
wait_until 10 ticket_job_failed && ok "its ticket job fails" || not_ok "ticket job not failed"
expect_match "  saying to run epm init" "$(sql "select last_error from tb_job where kind = 'jit_ticket' and lsid = '$R6'")" "ticketbridge epm init"
expect_eq "epm init recreates it" "$(tb epm init)" "EPM configuration record Default created"
expect_eq "epm init again" "$(tb epm init)" "EPM configuration record Default already exists"
expect_match "  with the defaults" "$(tb epm config show 2>/dev/null)" "ticket type: +incident"
tb epm config set --host "$EPM_URL" --client-id cid --client-secret-file "$WORK/secret" >/dev/null 2>&1
sleep 1.2
tb jobs retry --failed >/dev/null
wait_until 15 has_ticket "$R6" && ok "ticket made after 'epm init' and 'jobs retry'" || not_ok "no ticket for $R6"

# --- a decision update before its request: retried until the ticket exists
R7=7f1b5a1c-0000-4000-8000-0000000000b7
send "{\"template\":\"URM_NATIVE_DECISION_UPDATE\",\"wait\":true,\"fields\":{\"RequestId\":\"$R7\"}}"
expect_eq "early update stored: 200" "$SEND_STATUS" 200
update_retried() { [ "$(sql "select state || attempts from tb_job where kind = 'jit_update' and lsid = '$R7'")" = queued1 ]; }
wait_until 10 update_retried && ok "early update: queued again" || not_ok "early update: $(sql "select state, last_error from tb_job where lsid = '$R7'")"
expect_match "  saying why" "$(sql "select last_error from tb_job where kind = 'jit_update' and lsid = '$R7'")" "has no ticket yet"
send "{\"template\":\"URM_Native_Ticket_Created\",\"wait\":true,\"fields\":{\"RequestId\":\"$R7\"}}"
wait_until 20 has_epm_update "$R7" && ok "early update applied once the ticket exists" || not_ok "early update never applied"

# --- the ticket store down (remote store only: the embedded store is ticketbridge's own database)
if [ "$TB_TICKET_STORE" = servicenow ]; then
  send '{"template":"URM_Native_Ticket_Created","wait":true}'
  R8=$RID
  wait_until 10 has_ticket "$R8" || not_ok "no ticket for $R8"
  SNOW_PORT=${SNOW_URL##*:}
  kill -TERM "$SNOW_PID"; wait "$SNOW_PID" 2>/dev/null
  keep=(); for p in "${PIDS[@]}"; do [ "$p" != "$SNOW_PID" ] && keep+=("$p"); done; PIDS=("${keep[@]}")
  decide_api "$R8" '{"decision":"deny","reason":"while the ticket system is down"}'
  expect_eq "decision with the ticket store down: 503" "$HTTP_STATUS:$(jv "$HTTP_BODY" 'd["error"]["message"]')" \
    "503:Ticket system unavailable"
  expect_match "  saying why" "$(jv "$HTTP_BODY" 'd["error"]["detail"]')" "."
  out=$(tb jit deny "$R8" --reason "while down" --as approver 2>&1); rc=$?
  expect_eq "CLI decision with the ticket store down: exit 1" "$rc" 1
  expect_match "  says the ticket system is unavailable" "$out" "^ticketbridge: Ticket system unavailable: ."
  expect_eq "  nothing recorded" "$(sql "select count(*) from tb_jit_decision d join tb_jit_request r on r.id = d.request where r.request_id = '$R8'")" 0
  send '{"template":"URM_Native_Ticket_Created","wait":true}'
  R9=$RID
  expect_eq "created webhook with the ticket store down: stored, 200" "$SEND_STATUS" 200
  ticket_job_retried() { [ "$(sql "select state from tb_job where kind = 'jit_ticket' and lsid = '$R9' and attempts >= 1")" = queued ]; }
  wait_until 10 ticket_job_retried && ok "  its ticket job is queued again" || not_ok "ticket job: $(sql "select state, attempts, last_error from tb_job where lsid = '$R9'")"
  expect_match "  saying why" "$(sql "select last_error from tb_job where kind = 'jit_ticket' and lsid = '$R9'")" "cannot create the incident ticket"
  "$TB_BIN" -c "$WORK/snow.conf" --db "$SNOW_DB" serve --port "$SNOW_PORT" >>"$WORK/snow.log" 2>&1 &
  SNOW_PID=$!
  PIDS+=("$SNOW_PID")
  wait_until 40 has_ticket "$R9" && ok "the ticket appears once the ticket store is back" || not_ok "no ticket for $R9"
  expect_eq "  exactly one ticket for the request" "$(tsql "select count(*) from incident where correlation_id = 'epm:$R9'")" 1
  decide_api "$R8" '{"decision":"deny","reason":"the ticket system is back"}'
  expect_eq "a decision once it is back: 200" "$HTTP_STATUS" 200
  wait_until 20 is_state "$R8" accepted/final || not_ok "decision not accepted after the ticket store came back"
  wait_until 10 has_note "$(ticket_of "$R8")" "EPM accepted the decision" || not_ok "no note on $R8's ticket"
  expect_eq "  one note per step" "$(notes_like "$R8" 'EPM JIT decision submitted:%'):$(notes_like "$R8" 'EPM accepted the decision:%')" 1:1
else
  ok "ticket store down: skipped (remote store only: the embedded store is ticketbridge's own database)"
fi

finish

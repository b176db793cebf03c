#!/usr/bin/env bash
# EPM just-in-time access end to end (seed 004), ticketbridge against epmsim:
# application and admin requests go created webhook → request record and
# ticket → approve (once, minutes, hours) or deny, by API and CLI → EPM gets
# exactly the expected JSON → EPM's decision-updated webhook → ticket closed
# with auto-close on, left open with it off. Also: ticket types, assignment
# group and category, retried and repeated webhooks, Custom authentication,
# the read API.
. "$(dirname "$0")/epm_lib.sh"

epm_setup --auto-update
tsql_write "insert into sys_user_group(sys_id, sys_created_on, sys_updated_on, name)
           values('0123456789abcdef0123456789abcdef', datetime('now'), datetime('now'), 'IT Security')"
tb epm config set --auto-close yes --assignment-group "IT Security" --category Software \
  --ticket-url-base https://tickets.example.com/ >/dev/null 2>&1
sleep 1.2
out=$(tb epm test 2>"$WORK/err"); expect_eq "epm test: Connection OK" "$out" "Connection OK"
expect_match "  warns about the host without -services" "$(cat "$WORK/err")" "lacks the -services suffix"

# --- application access, approved once through the API
send '{"template":"URM_Native_Ticket_Created","wait":true,"fields":{"Reason":"Needs \"admin\" for C:\\Temp\\x – café ☕"}}'
expect_eq "created webhook: delivered with 200" "$SEND_STATE:$SEND_STATUS" "delivered:200"
R1=$RID
wait_until 10 has_ticket "$R1" && ok "created webhook made a request record" || not_ok "no request record for $R1"
T1=$(ticket_of "$R1")
expect_match "ticket is an incident" "$T1" '^INC[0-9]{7}$'
expect_eq "ticket: default short description" "$(field_of "$T1" short_description)" "EPM JIT Access Request"
expect_eq "ticket: category" "$(field_of "$T1" category)" Software
expect_eq "ticket: assignment group" "$(field_of "$T1" assignment_group)" 0123456789abcdef0123456789abcdef
expect_eq "ticket: correlation id is epm:<request id>" "$(field_of "$T1" correlation_id)" "epm:$R1"
desc=$(tb ticket show "$T1")
http GET "$EPM_CTL/_epmsim/requests/$R1"
V=$HTTP_BODY
for k in User HostName FilePathObjectId ProductName ProductVersion Publisher Sha1Hash Sha256Hash CmdArgs Workstyle \
         ApplicationGroup; do
  val=$(jv "$V" "d['values']['$k']")
  [ -n "$val" ] && printf '%s' "$desc" | grep -qF -- "$val" && ok "description lists $k" || not_ok "description lacks $k ($val)"
done
expect_match "description: the reason with quotes, backslashes, Unicode" "$desc" 'Reason: Needs "admin" for C:\\Temp\\x – café ☕'
expect_eq "record: every requestInfo field of the template kept" \
  "$(tb jit show "$R1" --json | jv "$(cat)" 'len(d["details"]["requestInfo"])')" 46
expect_eq "record: raw payload kept" "$(sql "select raw = (select cast(body as text) from tb_incoming where id = incoming_id) from tb_jit_request where request_id = '$R1'")" 1

REASON1='Approved: "needed" for C:\work – ok ☕'
decide_api "$R1" "$($PY -c 'import json,sys; print(json.dumps({"decision":"approve","reason":sys.argv[1],"once":True}))' "$REASON1")"
expect_eq "API approve once: 200" "$HTTP_STATUS" 200
expect_eq "API approve once: pending, duration Once" "$(jv "$HTTP_BODY" '[d["result"]["state"], d["result"]["duration"], d["result"]["ticket"]]')" "[\"pending\", \"Once\", \"$T1\"]"
wait_until 10 is_state "$R1" accepted/final && ok "decision accepted by EPM" || not_ok "decision state $(decision_state "$R1")"
expect_eq "EPM got exactly the expected JSON (A3, once)" "$(last_decision)" \
  "$(expected_body application "$R1" Approved Once "$REASON1" https://tickets.example.com)"
wait_until 10 has_epm_update "$R1" && ok "decision-updated webhook recorded" || not_ok "no EPM update for $R1"
wait_until 10 field_is "$T1" state 7 || not_ok "incident $T1 not closed: state $(field_of "$T1" state)"
wait_until 10 has_note "$T1" "Decision performed by: approver" || not_ok "no note of EPM's update on $T1"
wait_until 10 has_note "$T1" "EPM accepted the decision" || not_ok "no note of EPM's answer on $T1"
expect_eq "auto-close: incident closed" "$(field_of "$T1" state)" 7
expect_eq "auto-close: close code" "$(field_of "$T1" close_code)" "Solved (Permanently)"
expect_match "auto-close: close notes" "$(field_of "$T1" close_notes)" "EPM decision update: Approved"
notes=$(tb ticket show "$T1")
expect_match "work note: decision submitted" "$notes" "EPM JIT decision submitted: Approved \(Once\) by approver"
expect_match "work note: accepted by EPM" "$notes" "EPM accepted the decision: Approved \(Once\)"
expect_match "work note: EPM's update" "$notes" "Decision performed by: approver"
expect_eq "exactly one note of each" "$(notes_like "$R1" 'EPM JIT decision submitted:%'):$(notes_like "$R1" 'EPM accepted the decision:%'):$(notes_like "$R1" 'EPM decision update:%')" 1:1:1
expect_eq "EPM's update on the record" "$(tb jit show "$R1" --json | jv "$(cat)" '[d["epm_decision"], d["epm_decided_by"], d["epm_duration"]]')" \
  '["Approved", "approver", "Once"]'
http GET "$TB_URL/api/tb/v1/jit/$R1" -u "approver:$PW"
expect_eq "GET the request: 200 with details and decisions" "$HTTP_STATUS:$(jv "$HTTP_BODY" '[d["result"]["request_id"], len(d["result"]["decisions"]), d["result"]["details"]["EventType"]]')" \
  "200:[\"$R1\", 1, \"URM_Native_Ticket_Created\"]"
http GET "$TB_URL/api/tb/v1/jit/$T1" -u "approver:$PW"
expect_eq "GET by ticket number" "$(jv "$HTTP_BODY" 'd["result"]["request_id"]')" "$R1"

# --- application access, approved for minutes through the CLI, as a change request
tb epm config set --ticket-type change_request >/dev/null 2>&1
sleep 1.2
send '{"template":"URM_Native_Ticket_Created","wait":true}'
R2=$RID
wait_until 10 has_ticket "$R2" || not_ok "no ticket for $R2"
T2=$(ticket_of "$R2")
expect_match "change request ticket" "$T2" '^CHG[0-9]{7}$'
EPMT2=$(tb jit show "$R2" --json | jv "$(cat)" 'd["epm_ticket"]')
out=$(tb jit approve "$EPMT2" --reason "30 minutes is enough" --minutes 30 --as approver)
expect_match "CLI approve by EPM ticket number" "$out" "^Approved \(30 minutes\) for request $R2 \(ticket $T2\) by approver"
if [ "$TB_TICKET_STORE" = servicenow ]; then
  expect_match "  says its work note is queued for the daemon" "$out" "work note on $T2 is queued"
fi
wait_until 10 is_state "$R2" accepted/final || not_ok "CLI decision not accepted: $(decision_state "$R2")"
expect_eq "EPM got exactly the expected JSON (A3, 30 minutes = 1800 s)" "$(last_decision)" \
  "$(expected_body application "$R2" Approved 1800 "30 minutes is enough" https://tickets.example.com)"
wait_until 10 has_epm_update "$R2" || not_ok "no EPM update for $R2"
wait_until 10 field_is "$T2" state 3 || not_ok "change $T2 not closed"
expect_eq "change closed (3) with code successful" "$(field_of "$T2" state):$(field_of "$T2" close_code)" "3:successful"

# --- admin access, approved for hours through the API, as a catalog task
tb epm config set --ticket-type sc_task >/dev/null 2>&1
sleep 1.2
send '{"template":"JIT_ADMIN_TICKET_CREATED","wait":true,"fields":{"DurationRequested":"7200","Reason":"Install \"drivers\" \\ now"}}'
RA1=$RID
wait_until 10 has_ticket "$RA1" || not_ok "no ticket for admin request $RA1"
TA1=$(ticket_of "$RA1")
expect_match "sc_task ticket" "$TA1" '^SCTASK[0-9]{7}$'
desc=$(tb ticket show "$TA1")
http GET "$EPM_CTL/_epmsim/requests/$RA1"
V=$HTTP_BODY
for k in UserName UserId ComputerId GroupId TicketNumber; do
  val=$(jv "$V" "d['values']['$k']")
  printf '%s' "$desc" | grep -qF -- "$val" && ok "admin description lists $k" || not_ok "admin description lacks $k ($val)"
done
expect_match "admin description: requested duration" "$desc" "Requested duration: 2 hours \(7200 seconds\)"
expect_match "admin description: reason" "$desc" 'Reason: Install "drivers" \\ now'
expect_eq "record kind admin" "$(tb jit show "$RA1" --json | jv "$(cat)" 'd["kind"]')" admin
decide_api "$TA1" '{"decision":"approve","reason":"two hours","hours":"2"}'
expect_eq "API approve hours by ticket number: 200" "$HTTP_STATUS" 200
wait_until 10 is_state "$RA1" accepted/final || not_ok "admin decision not accepted: $(decision_state "$RA1")"
http GET "$EPM_CTL/_epmsim/decisions"
expect_eq "admin decision: PUT to AdminAccessRequest" "$(jv "$HTTP_BODY" '[d["decisions"][-1][k] for k in ("method","path","kind","accepted")]')" \
  '["PUT", "/management-api/v3/AdminAccessRequest", "admin", true]'
expect_eq "EPM got exactly the expected JSON (A4, 2 hours = 7200 s)" "$(last_decision)" \
  "$(expected_body admin "$RA1" Approved 7200 "two hours" https://tickets.example.com)"
wait_until 10 has_epm_update "$RA1" || not_ok "no EPM update for $RA1"
wait_until 10 field_is "$TA1" state 3 || not_ok "sc_task $TA1 not closed"
wait_until 10 has_note "$TA1" "Access from" || not_ok "no note of EPM's update on $TA1"
expect_eq "sc_task closed complete (3)" "$(field_of "$TA1" state)" 3
expect_match "admin update: access window noted" "$(tb ticket show "$TA1")" "Access from [0-9-]+ [0-9:]+ to [0-9-]+ [0-9:]+"

# --- admin access, denied through the CLI, auto-close off: left open
tb epm config set --ticket-type sc_req_item --auto-close no --active-states "Open, Work in Progress" >/dev/null 2>&1
sleep 1.2
send '{"template":"JIT_ADMIN_TICKET_CREATED","wait":true}'
RA2=$RID
wait_until 10 has_ticket "$RA2" || not_ok "no ticket for $RA2"
TA2=$(ticket_of "$RA2")
expect_match "sc_req_item ticket" "$TA2" '^RITM[0-9]{7}$'
out=$(tb jit deny "$RA2" --reason "not this time" --as approver)
expect_match "CLI deny" "$out" "^Denied for request $RA2"
wait_until 10 is_state "$RA2" accepted/final || not_ok "denial not accepted: $(decision_state "$RA2")"
expect_eq "EPM got exactly the expected JSON (A4, denied, no duration)" "$(last_decision)" \
  "$(expected_body admin "$RA2" Denied "" "not this time" https://tickets.example.com)"
wait_until 10 has_epm_update "$RA2" || not_ok "no EPM update for $RA2"
wait_until 10 has_note "$TA2" "EPM decision update: Denied" || not_ok "no note of EPM's update on $TA2"
expect_eq "auto-close off: ticket left open" "$(field_of "$TA2" state):$(field_of "$TA2" active)" "1:true"
expect_match "auto-close off: the update is still noted" "$(tb ticket show "$TA2")" "EPM decision update: Denied"

# --- application access, denied through the API, auto-close off
send '{"template":"URM_Native_Ticket_Created","wait":true}'
R3=$RID
wait_until 10 has_ticket "$R3" || not_ok "no ticket for $R3"
T3=$(ticket_of "$R3")
decide_api "$R3" '{"decision":"deny","reason":"use the approved version"}'
expect_eq "API deny: 200" "$HTTP_STATUS:$(jv "$HTTP_BODY" 'd["result"]["decision"]')" "200:Denied"
wait_until 10 is_state "$R3" accepted/final || not_ok "denial not accepted"
expect_eq "EPM got exactly the expected JSON (A3, denied: status 2001, no duration)" "$(last_decision)" \
  "$(expected_body application "$R3" Denied "" "use the approved version" https://tickets.example.com)"
wait_until 10 has_epm_update "$R3" || not_ok "no EPM update for $R3"
expect_eq "left open" "$(field_of "$T3" active)" true

# --- a retried webhook, and the same request's created event again
http GET "$EPM_CTL/_epmsim/webhooks"
SID=$(jv "$HTTP_BODY" "[w['id'] for w in d['webhooks'] if w['request_id'] == '$R3' and w['event_type'] == 'URM_Native_Ticket_Created'][0]")
before=$(tsql "select count(*) from incident")
send "{\"resend\":$SID,\"wait\":true}"
expect_eq "retried webhook: 200" "$SEND_STATE:$SEND_STATUS" "delivered:200"
send "{\"template\":\"URM_Native_Ticket_Created\",\"wait\":true,\"fields\":{\"RequestId\":\"$R3\"}}"
expect_eq "created again with a new Timestamp: 200" "$SEND_STATUS" 200
expect_eq "both stored as duplicates of the first" "$(sql "select count(*) from tb_incoming where lsid = '$R3' and status = 'duplicate'")" 2
expect_eq "no job for a duplicate" "$(sql "select count(*) from tb_job j join tb_incoming i on i.id = j.incoming_id where i.lsid = '$R3' and i.status = 'duplicate'")" 0
expect_eq "no second ticket" "$(tsql "select count(*) from incident")" "$before"
expect_eq "  one ticket with the request's correlation id" \
  "$(tsql "select count(*) from $(sql "select task_table from tb_jit_request where request_id = '$R3'") where correlation_id = 'epm:$R3'")" 1
expect_eq "one request record" "$(sql "select count(*) from tb_jit_request where request_id = '$R3'")" 1
expect_match "incoming lists the duplicate" "$(tb incoming --status duplicate)" "URM_Native_Ticket_Create"

# --- EPM's retries: ticketbridge down, then back
kill -TERM "$TB_PID"; wait "$TB_PID" 2>/dev/null
# Forget its pid: the cleanup must not signal whatever process reuses it.
keep=(); for p in "${PIDS[@]}"; do [ "$p" != "$TB_PID" ] && keep+=("$p"); done; PIDS=("${keep[@]}")
post_json "$EPM_CTL/_epmsim/config" '{"webhook_max_attempts":60,"webhook_retry_interval":0.25}'
http POST "$EPM_CTL/_epmsim/webhooks/send" -H 'Content-Type: application/json' --data-binary '{"template":"URM_Native_Ticket_Created"}'
R4=$(jv "$HTTP_BODY" 'd["request_id"]')
SID4=$(jv "$HTTP_BODY" 'd["id"]')
sleep 1
OLD_PORT=$TB_PORT
"$TB_BIN" "${TB_CONF_ARGS[@]}" --db "$DB" serve --port "$OLD_PORT" >>"$WORK/tb.log" 2>&1 &
TB_PID=$!
PIDS+=("$TB_PID")
delivered4() { http GET "$EPM_CTL/_epmsim/webhooks/$SID4"; [ "$(jv "$HTTP_BODY" 'd["state"]')" = delivered ]; }
wait_until 20 delivered4 && ok "EPM's retried delivery got through once ticketbridge was back" || not_ok "webhook not delivered: $HTTP_BODY"
expect_match "  after failed attempts" "$(jv "$HTTP_BODY" 'd["attempts"]')" '^([2-9]|[1-9][0-9])$'
wait_until 10 has_ticket "$R4" && ok "  and made its ticket" || not_ok "no ticket for $R4"
post_json "$EPM_CTL/_epmsim/config" '{"webhook_max_attempts":3,"webhook_retry_interval":0.2}'

# --- Custom authentication (A6): a configured Authorization value
printf 'Bearer epm-shared-KEY-0123456789\n' >"$WORK/hook.auth"
tb epm config set --webhook-auth-file "$WORK/hook.auth" >/dev/null 2>&1
sleep 1.2
post_json "$EPM_CTL/_epmsim/config" '{"webhook_user":"","webhook_password":"","webhook_auth_header":"Bearer epm-shared-KEY-0123456789"}'
send '{"template":"JIT_ADMIN_TICKET_CREATED","wait":true}'
expect_eq "Custom Authorization accepted" "$SEND_STATE:$SEND_STATUS" "delivered:200"
wait_until 10 has_ticket "$RID" && ok "  and its ticket made" || not_ok "no ticket for $RID"
post_json "$EPM_CTL/_epmsim/config" '{"webhook_auth_header":"Bearer wrong","webhook_max_attempts":1}'
send '{"template":"JIT_ADMIN_TICKET_CREATED","wait":true}'
expect_eq "wrong Custom value refused: 401" "$SEND_STATE:$SEND_STATUS" "failed:401"
expect_match "config show hides it" "$(tb epm config show 2>/dev/null)" "webhook custom auth: +\(set, encrypted\)"
expect_eq "the value is stored encrypted" "$(sql "select instr(webhook_auth, 'epm-shared-KEY') from tb_epm_config")" 0

expect_eq "no job failed" "$(sql "select count(*) from tb_job where state = 'failed'")" 0
finish

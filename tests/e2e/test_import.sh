# Session import end to end: btsim (RS and PRA) ends sessions and delivers
# their events; ticketbridge's workers fetch the reports over OAuth, store the
# sessions and their related lists, link them to tickets, CIs and users, and
# write one work note per session.
. "$TB_E2E_LIB"

tb_init --product rs
printf 'btsim-secret\n' >"$WORK/secret"
printf 'wrong-secret\n' >"$WORK/badsecret"
tb sys-user add jdoe --name "John Doe" >/dev/null || not_ok "sys-user add"
tb sys-user add padmin --name "PRA Admin" --bt-username admin >/dev/null
tb ci add WEB01 >/dev/null || not_ok "ci add"
tb ci add db-prod-02 >/dev/null
INC=$(tb ticket create --short-description "Printer on fire" | awk '{print $1}')
INC_ID=$(tb ticket show "$INC" | awk '/^sys_id:/ {print $2}')
CHG=$(tb ticket create --table change_request --short-description "Patch db-prod-02" | awk '{print $1}')
expect_match "incident created" "$INC" '^INC[0-9]{7}$'
expect_match "change created" "$CHG" '^CHG[0-9]{7}$'
tb_start

btsim_start --product rs --seed 11 --appliance-id rs-sim --outbound-url "$TB_URL/api/x_bmgr_crm/outbound_event/session_end" \
  --retry-interval 0.2 --retry-duration 60
RS_PORT=$BTSIM_PORT; RS_URL=$BTSIM_URL
tb appliance set Default --hostname "http://127.0.0.1:$RS_PORT" --appliance-id rs-sim --client-id btsim-client \
  --client-secret-file "$WORK/secret" --auto-associate-user yes --auto-associate-ci yes >/dev/null
sleep 1.5   # the daemon reloads appliance records once a second

job_state() { sql "select state from tb_job where lsid='$1' order by id desc limit 1"; }
wait_job() { # lsid state
  local l=$1 want=$2
  wait_until 20 sh -c "[ \"\$(sqlite3 'file:$DB?mode=ro' \"select state from tb_job where lsid='$l' order by id desc limit 1\")\" = '$want' ]"
}
# The ticket-store record a session is linked to (cmdb_ci / sys_user): the
# link lives in ticketbridge's tables, the record in the ticket store.
linked() { # lsid column table field
  local id; id=$(sql "select coalesce($2,'') from tb_session where lsid='$1'")
  [ -n "$id" ] && tsql "select $4 from $3 where sys_id='$id'"
}
# Work notes on a record that hold a session's title; with a remote store the
# note arrives from an outbox job, so wait (bounded) for the first one.
notes() { tsql "select count(*) from sys_journal_field where element_id='$1' and value like 'BeyondTrust session $2%'"; }
wait_note() { wait_until 20 sh -c "[ \"\$(sqlite3 'file:$TICKETS_DB?mode=ro' \"select count(*) from sys_journal_field where element_id='$1' and value like 'BeyondTrust session $2%'\")\" -ge 1 ]"; }
# Every queued ticket write sent (none are queued with the embedded store).
writes_sent() { wait_until 20 sh -c "[ \"\$(sqlite3 'file:$DB?mode=ro' \"select count(*) from tb_job where kind='ticket_write' and state<>'done'\")\" = 0 ]"; }
new_session() { # btsim_url query -> lsid
  curl -s -X POST "$1/_btsim/sessions?count=1&$2" | python3 -c 'import json,sys; print(json.load(sys.stdin)["lsids"][0])'
}

# --- RS: session started from an incident (snow_task_id = number), rep jdoe, customer WEB01
L1=$(new_session "$RS_URL" "custom.snow_task_id=$INC&rep=jdoe&customer_host=WEB01")
expect_match "btsim made a session" "$L1" '^[0-9a-f]{32}$'
wait_job "$L1" done && ok "RS import job done" || not_ok "RS import job done (state $(job_state "$L1"), $(sql "select last_error from tb_job where lsid='$L1'"))"
expect_eq "session stored once" "$(sql "select count(*) from tb_session where lsid='$L1'")" 1
expect_eq "linked to the incident" "$(sql "select task_number from tb_session where lsid='$L1'")" "$INC"
expect_eq "linked to the CI by host name" "$(linked "$L1" ci_sys_id cmdb_ci name)" WEB01
expect_eq "linked to the rep's user" "$(linked "$L1" user_sys_id sys_user user_name)" jdoe
nev=$(sql "select count(*) from tb_session_event e join tb_session s on s.id=e.session_id where lsid='$L1'")
[ "$nev" -gt 3 ] && ok "events stored ($nev)" || not_ok "events stored ($nev)"
expect_eq "users stored" "$(sql "select count(*) from tb_session_user u join tb_session s on s.id=u.session_id where lsid='$L1'")" 2
expect_eq "custom attribute stored" "$(sql "select value from tb_session_custom c join tb_session s on s.id=c.session_id where lsid='$L1' and code_name='snow_task_id'")" "$INC"
chat=$(sql "select count(*) from tb_session_event e join tb_session s on s.id=e.session_id where lsid='$L1' and event_type='Chat Message' and body is not null")
[ "$chat" -gt 0 ] && ok "chat messages with bodies" || not_ok "chat messages with bodies"
WEB01_ID=$(tsql "select sys_id from cmdb_ci where name='WEB01'")
wait_note "$INC_ID" "$L1"; wait_note "$WEB01_ID" "$L1"
out=$(tb ticket show "$INC")
expect_match "work note on the incident" "$out" "BeyondTrust session $L1"
expect_match "note carries the chat transcript" "$out" "Chat transcript"
expect_eq "one note on the incident" "$(notes "$INC_ID" "$L1")" 1
expect_eq "one note on the CI" "$(notes "$WEB01_ID" "$L1")" 1

# --- the appliance re-sends the same event (byte for byte): recognised, nothing new queued
curl -s -o /dev/null -X POST "$TB_URL/api/x_bmgr_crm/outbound_event/session_end" \
  --data-binary "$(sql "select cast(body as text) from tb_incoming where lsid='$L1' and status='accepted'")"
wait_until 10 sh -c "[ \$(sqlite3 'file:$DB?mode=ro' \"select count(*) from tb_incoming where lsid='$L1' and status='duplicate'\") -ge 1 ]" \
  && ok "re-sent event recognised as a duplicate" || not_ok "re-sent event recognised as a duplicate"
expect_eq "no second job for it" "$(sql "select count(*) from tb_job where lsid='$L1'")" 1
# --- importing the same session again (jobs retry): updated, never duplicated
tb jobs retry "$(sql "select id from tb_job where lsid='$L1'")" >/dev/null
wait_until 20 sh -c "[ \"\$(sqlite3 'file:$DB?mode=ro' \"select state || attempts from tb_job where lsid='$L1'\")\" = done1 ]" \
  && ok "re-import done" || not_ok "re-import done"
writes_sent
expect_eq "still one session row" "$(sql "select count(*) from tb_session where lsid='$L1'")" 1
expect_eq "still one note" "$(notes "$INC_ID" "$L1")" 1
expect_eq "events not duplicated" "$(sql "select count(*) from tb_session_event e join tb_session s on s.id=e.session_id where lsid='$L1'")" "$nev"

# --- a second job for the same session, requested before the import (an event
# and a reconciler poll racing): done without fetching the report again
before=$(json_get "$(curl -s "$RS_URL/_btsim/stats")" api_requests)
now=$(date +%s)
sql_write "insert into tb_job(kind, appliance_id, lsid, run_after, created_at, updated_at) select 'session_import', id, '$L1', 0, $((now - 100)), $((now - 100)) from tb_appliance where name='Default'"
wait_until 10 sh -c "[ \$(sqlite3 'file:$DB?mode=ro' \"select count(*) from tb_job where lsid='$L1' and state='done'\") = 2 ]" \
  && ok "stale duplicate job completes" || not_ok "stale duplicate job completes"
expect_eq "without fetching the report again" "$(json_get "$(curl -s "$RS_URL/_btsim/stats")" api_requests)" "$before"
sql_write "delete from tb_job where lsid='$L1' and created_at = $((now - 100))"

# --- the CLI views and a manual import
out=$(tb sessions --task "$INC"); expect_match "sessions --task lists it" "$out" "$L1"
out=$(tb sessions --ci WEB01); expect_match "sessions --ci lists it" "$out" "$L1"
out=$(tb sessions --task INC9999999 2>&1); rc=$?
expect_eq "sessions for an unknown ticket fails" "$rc" 1
expect_match "and says so" "$out" "no such ticket"
out=$(tb session "$L1" --json)
expect_eq "session --json is valid JSON with its events" "$(json_get "$out" lsid)" "$L1"
expect_match "session --json nests users and events" "$(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(len(d["users"]), len(d["events"]), d["events"][0]["event_type"])' "$out")" '^2 [0-9]+ .+'
out=$(tb session "$L1"); expect_match "session shows the chat" "$out" "Chat Message"
out=$(tb session 00000000000000000000000000000000 2>&1); expect_match "unknown session explained" "$out" "no imported session"
out=$(tb import --lsid "$L1"); expect_match "manual import" "$out" "imported; ticket $INC"
writes_sent
expect_eq "manual re-import adds no note" "$(notes "$INC_ID" "$L1")" 1
out=$(tb import --appliance Nope --lsid "$L1" 2>&1); expect_match "import from an unknown appliance" "$out" "no such appliance"
out=$(tb import --lsid ffffffffffffffffffffffffffffffff 2>&1); rc=$?
expect_eq "import of an unknown session fails" "$rc" 1
expect_match "and says the appliance has no report" "$out" "no report for session"

# --- association by external key holding the incident's sys_id
L2=$(new_session "$RS_URL" "external_key=$INC_ID")
wait_job "$L2" done && ok "external-key session imported" || not_ok "external-key session imported"
expect_eq "linked through the external key" "$(sql "select task_number from tb_session where lsid='$L2'")" "$INC"

# --- Events to Import: only chat messages
tb appliance set Default --events-to-import "Chat Message" >/dev/null; sleep 1.5
L3=$(new_session "$RS_URL" "custom.snow_task_id=$INC")
wait_job "$L3" done && ok "filtered session imported" || not_ok "filtered session imported"
expect_eq "only chosen events kept" "$(sql "select count(distinct event_type) from tb_session_event e join tb_session s on s.id=e.session_id where lsid='$L3'")" 1

# --- auto-associate off; external session with Import External Sessions off, then on
tb appliance set Default --events-to-import "" --auto-associate-user no --auto-associate-ci no --import-external-sessions no >/dev/null; sleep 1.5
L4=$(new_session "$RS_URL" "custom.snow_task_id=$INC&rep=jdoe&customer_host=WEB01")
wait_job "$L4" done && ok "session imported with auto-associate off" || not_ok "session imported with auto-associate off"
expect_eq "no CI link when auto-associate CI is off" "$(sql "select coalesce(ci_sys_id,'') from tb_session where lsid='$L4'")" ""
expect_eq "no user link when auto-associate user is off" "$(sql "select coalesce(user_sys_id,'') from tb_session where lsid='$L4'")" ""
L5=$(new_session "$RS_URL" "rep=jdoe")
wait_job "$L5" done && ok "external session job done" || not_ok "external session job done"
expect_eq "external session not imported when off" "$(sql "select count(*) from tb_session where lsid='$L5'")" 0
tb appliance set Default --import-external-sessions yes >/dev/null; sleep 1.5
L6=$(new_session "$RS_URL" "rep=jdoe")
wait_job "$L6" done && ok "external session imported when on" || not_ok "external session imported when on"
expect_eq "external session stored without a task" "$(sql "select count(*) from tb_session where lsid='$L6' and task_sys_id is null")" 1

# --- token expired mid-way: a refresh, then success
curl -s -X POST "$RS_URL/_btsim/faults?spec=expire-tokens" >/dev/null
L7=$(new_session "$RS_URL" "custom.snow_task_id=$INC")
wait_job "$L7" done && ok "import after the appliance expired our token" || not_ok "import after token expiry"

# --- appliance down, then up: the job retries and succeeds
curl -s -X POST "$RS_URL/_btsim/faults?spec=report-5xx:2" >/dev/null
L8=$(new_session "$RS_URL" "custom.snow_task_id=$INC")
wait_until 20 sh -c "[ \"\$(sqlite3 'file:$DB?mode=ro' \"select attempts from tb_job where lsid='$L8'\")\" -ge 1 ]"
sql "select state, attempts, coalesce(last_error,'') from tb_job where lsid='$L8'" >"$WORK/l8"
# backoff starts at 2 s: give it time for two retries
wait_until 40 sh -c "[ \"\$(sqlite3 'file:$DB?mode=ro' \"select state from tb_job where lsid='$L8'\")\" = done ]" \
  && ok "import succeeded after the appliance recovered" || not_ok "import after recovery ($(sql "select state, attempts, last_error from tb_job where lsid='$L8'"))"
expect_eq "it took retries" "$(sql "select attempts > 1 from tb_job where lsid='$L8'")" 1
# two failures then success: at least the first two backoffs (2 s, 4 s, less 25% jitter) passed
expect_eq "retries waited (exponential backoff)" "$(sql "select updated_at - created_at >= 4 from tb_job where lsid='$L8'")" 1

# --- wrong client secret: the job fails with a message that says what to fix
tb appliance set Default --client-secret-file "$WORK/badsecret" >/dev/null; sleep 1.5
L9=$(new_session "$RS_URL" "custom.snow_task_id=$INC")
wait_job "$L9" failed && ok "bad credentials fail the job" || not_ok "bad credentials fail the job ($(job_state "$L9"))"
expect_match "error names the OAuth client id and secret" "$(sql "select last_error from tb_job where lsid='$L9'")" "check the API account's OAuth client id and secret"
tb appliance set Default --client-secret-file "$WORK/secret" >/dev/null; sleep 1.5
tb jobs retry --failed >/dev/null
wait_job "$L9" done && ok "jobs retry --failed re-imports after the fix" || not_ok "retry after fixing the secret"

# --- RS "Basic": an appliance that sends no outbound events at all (or whose
# events were dropped). The reconciler finds its ended sessions and imports them.
btsim_start --product rs --seed 13 --appliance-id basic-sim
BASIC_URL=$BTSIM_URL
B1=$(new_session "$BASIC_URL" "custom.snow_task_id=$INC")
B2=$(new_session "$BASIC_URL" "external_key=$INC")
tb appliance add Basic --hostname "http://127.0.0.1:$BTSIM_PORT" --appliance-id basic-sim --client-id btsim-client \
  --client-secret-file "$WORK/secret" --poll-interval 2 >/dev/null
wait_job "$B1" done && ok "reconciler imported a session that sent no event" || not_ok "reconciler imported B1 ($(job_state "$B1"))"
wait_job "$B2" done && ok "reconciler imported a second one" || not_ok "reconciler imported B2 ($(job_state "$B2"))"
expect_eq "reconciled session linked to the incident" "$(sql "select task_number from tb_session where lsid='$B1'")" "$INC"
rec=$(sql "select count(*) from tb_job where kind='reconcile' and state='done'")
[ "$rec" -ge 1 ] && ok "reconcile jobs ran ($rec)" || not_ok "reconcile jobs ran"
sleep 4.5   # two more polls: already imported sessions are not queued again
expect_eq "polls do not re-queue imported sessions" "$(sql "select count(*) from tb_job where lsid='$B1'")" 1
expect_eq "poll state recorded" "$(sql "select last_found >= 2 from tb_poll_state p join tb_appliance a on a.id=p.appliance_id where a.name='Basic'")" 1
out=$(tb appliance show Basic); expect_match "poll interval shown" "$out" "every 2 s"
out=$(tb appliance set Basic --poll-interval -1 2>&1); expect_match "bad poll interval refused" "$out" "0-604800"
tb appliance set Basic --poll-interval 0 >/dev/null

# --- PRA: a second appliance; a Jump to db-prod-02 against the change
btsim_start --product pra --seed 12 --appliance-id pra-sim --outbound-url "$TB_URL/api/x_bmgr_bomgar_pam/outbound_event/session_end" \
  --retry-interval 0.2 --retry-duration 60
PRA_URL=$BTSIM_URL
tb appliance add PRA --product pra --hostname "http://127.0.0.1:$BTSIM_PORT" --appliance-id pra-sim \
  --client-id btsim-client --client-secret-file "$WORK/secret" --auto-associate-ci yes --auto-associate-user yes >/dev/null
sleep 1.5
P1=$(new_session "$PRA_URL" "custom.snow_task_id=$CHG&customer_host=db-prod-02&rep=admin")
wait_job "$P1" done && ok "PRA import job done" || not_ok "PRA import job done ($(job_state "$P1"): $(sql "select last_error from tb_job where lsid='$P1'"))"
expect_eq "PRA session linked to the change" "$(sql "select task_number from tb_session where lsid='$P1'")" "$CHG"
expect_eq "PRA product recorded" "$(sql "select product from tb_session where lsid='$P1'")" pra
expect_eq "PRA endpoint linked to its CI" "$(linked "$P1" ci_sys_id cmdb_ci name)" db-prod-02
expect_eq "PRA user matched by BeyondTrust username" "$(linked "$P1" user_sys_id sys_user user_name)" padmin
expect_match "jumpoint stored" "$(sql "select coalesce(jumpoint,'') from tb_session where lsid='$P1'")" '.+'
wait_note "$(tb ticket show "$CHG" | awk '/^sys_id:/ {print $2}')" "$P1"
out=$(tb ticket show "$CHG")
expect_match "work note on the change" "$out" "BeyondTrust session $P1"
expect_match "PRA note names the endpoint" "$out" "Endpoint: db-prod-02"

tb_stop
expect_eq "clean stop" "$TB_EXIT" 0
finish

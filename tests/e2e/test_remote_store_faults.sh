# The daemon's flows when its remote ticket store (a ServiceNow instance,
# played by a second ticketbridge over HTTPS) misbehaves:
#  - slow (the instance stopped with SIGSTOP): the approval endpoint denies
#    "ticket system unavailable" within the appliance's approval timeout;
#  - down: the approval denies at once; a session's work note that cannot be
#    written stays a retrying ticket_write job and lands exactly once when
#    the instance is back;
#  - 401 (the instance's password changed): the job fails naming the
#    credential settings; after the password file is fixed,
#    `jobs retry --failed` sends it once;
#  - 429 with Retry-After (the instance's login throttling, a real 429): the
#    job waits as long as the instance asked, then succeeds.
# The note's job is made to fail while the import's reads succeed by holding
# the instance's database write lock (its writes then get no answer, and the
# job's request times out) until the instance is stopped.
TB_TICKET_STORE=servicenow
. "$TB_E2E_LIB"

# The daemon's own copy of the password, so the instance's can change alone;
# Retry-After waits are left to the job queue, not slept in a worker.
cp "$WORK/snow.pw" "$WORK/tb-snow.pw"
sed -i "s|^servicenow_password_file = .*|servicenow_password_file = $WORK/tb-snow.pw|" "$TB_CONF"
sed -i "s|^servicenow_timeout_ms = .*|servicenow_timeout_ms = 4000|" "$TB_CONF"
printf 'servicenow_retry_max_wait_ms = 0\n' >>"$TB_CONF"

tb_init --product pra
printf 'btsim-secret\n' >"$WORK/secret"
tb sys-user add jdoe --name "John Doe" >/dev/null || not_ok "sys-user add"
tb ci add WEB01 >/dev/null
CHG=$(tb ticket create --table change_request --short-description "Patch WEB01" --assigned-to jdoe --ci WEB01 \
  --approval approved | awk '{print $1}')
CHG_ID=$(tsql "select sys_id from change_request where number='$CHG'")
expect_match "change created on the instance" "$CHG_ID" '^[0-9a-f]{32}$'
tb_start
btsim_start --product pra --seed 31 --appliance-id pra-sim \
  --outbound-url "$TB_URL/api/x_bmgr_bomgar_pam/outbound_event/session_end" --retry-interval 0.2 --retry-duration 120
tb appliance set Default --hostname "$BTSIM_URL" --appliance-id pra-sim --client-id btsim-client \
  --client-secret-file "$WORK/secret" --approval-timeout-ms 1500 >/dev/null
sleep 1.5   # the daemon reloads appliance records once a second
SNOW_PORT=${SNOW_URL##*:}

snow_stop() {
  kill -TERM "$SNOW_PID"; wait "$SNOW_PID" 2>/dev/null
  local keep=() p
  for p in "${PIDS[@]}"; do [ "$p" != "$SNOW_PID" ] && keep+=("$p"); done
  PIDS=("${keep[@]}")
}
snow_restart() { # on the same port: the daemon's configuration names it
  rm -f "$WORK/snow.port"
  "$TB_BIN" -c "$WORK/snow.conf" --db "$SNOW_DB" serve --port "$SNOW_PORT" --port-file "$WORK/snow.port" \
    >>"$WORK/snow.log" 2>&1 &
  SNOW_PID=$!
  PIDS+=("$SNOW_PID")
  wait_file "$WORK/snow.port" || { not_ok "instance restarted"; finish; }
}
# Holds the instance's database write lock: its reads go on, its writes
# get no answer (or a 503 once its busy timeout passes).
lock_instance() {
  rm -f "$WORK/lock.fifo"; mkfifo "$WORK/lock.fifo"
  sqlite3 -batch -noheader "$SNOW_DB" <"$WORK/lock.fifo" >"$WORK/lock.out" 2>&1 &
  LOCK_PID=$!
  exec 7>"$WORK/lock.fifo"
  printf '.timeout 10000\nBEGIN IMMEDIATE;\nSELECT %s;\n' "'locked'" >&7
  wait_until 10 grep -q locked "$WORK/lock.out" || not_ok "instance database locked ($(cat "$WORK/lock.out"))"
}
unlock_instance() { printf 'ROLLBACK;\n' >&7; exec 7>&-; wait "$LOCK_PID"; }

URL="$TB_URL/api/x_bmgr_bomgar_pam/endpoint_approval"
ask() { # ticket user host: HTTP_STATUS, VALID, MSG, MS (how long the answer took)
  local t0; t0=$(date +%s%3N)
  http POST "$URL" -H 'Content-Type: application/json' --data-binary \
    "{\"ticket_id\":\"$1\",\"user\":{\"id\":5,\"username\":\"$2\"},\"jump_item\":{\"id\":9,\"name\":\"j\",\"hostname\":\"$3\"}}"
  MS=$(($(date +%s%3N) - t0))
  VALID=$(json_get "$HTTP_BODY" is_valid)
  MSG=$(json_get "$HTTP_BODY" error_message)
}
notes() { tsql "select count(*) from sys_journal_field where element_id='$CHG_ID' and value like '$1%'"; }
job_field() { sql "select $2 from tb_job where id=$1"; }
# Ends a PRA session against the change; its import job done, its note's job in JOB.
import_session() {
  local before; before=$(sql "select coalesce(max(id), 0) from tb_job")
  L=$(curl -s -X POST "$BTSIM_URL/_btsim/sessions?count=1&custom.snow_task_id=$CHG" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["lsids"][0])')
  wait_until 30 sh -c "[ \"\$(sqlite3 'file:$DB?mode=ro' \"select state from tb_job where lsid='$L'\")\" = done ]" \
    && ok "session imported while the instance cannot write" \
    || not_ok "session imported ($(sql "select state, last_error from tb_job where lsid='$L'"))"
  JOB=$(sql "select id from tb_job where kind='ticket_write' and id > $before and lsid='change_request/$CHG_ID' order by id limit 1")
  expect_match "  its work note queued as a job" "$JOB" '^[0-9]+$'
}

# --- baseline
ask "$CHG" jdoe WEB01
expect_eq "allowed while the instance answers" "$VALID" True
wait_until 20 sh -c "[ \$(sqlite3 'file:$SNOW_DB?mode=ro' \"select count(*) from sys_journal_field where element_id='$CHG_ID'\") = 1 ]"
expect_eq "  its note written" "$(notes 'BeyondTrust access request ALLOWED')" 1

# --- slow: the instance stopped (SIGSTOP) answers nothing at all
kill -STOP "$SNOW_PID"
ask "$CHG" jdoe WEB01
expect_eq "stalled instance: still a 200 answer" "$HTTP_STATUS" 200
expect_eq "  denied" "$VALID" False
expect_match "  ticket system unavailable" "$MSG" "ticket system unavailable"
[ "$MS" -lt 3000 ] && ok "  within the approval timeout (1.5 s): ${MS} ms" || not_ok "  within the approval timeout (${MS} ms)"
kill -CONT "$SNOW_PID"
ask "$CHG" jdoe WEB01
expect_eq "allowed again after SIGCONT" "$VALID" True
expect_match "decision recorded as a store failure" "$(tb approvals --limit 10)" "deny .* ticket system unavailable"

# --- down: nothing listens
snow_stop
ask "$CHG" jdoe WEB01
expect_eq "instance down: denied" "$VALID" False
expect_match "  ticket system unavailable" "$MSG" "ticket system unavailable"
[ "$MS" -lt 1500 ] && ok "  at once: ${MS} ms" || not_ok "  at once (${MS} ms)"
snow_restart

lock_instance
import_session; L1=$L; J1=$JOB
wait_until 30 sh -c "[ -n \"\$(sqlite3 'file:$DB?mode=ro' \"select last_error from tb_job where id=$J1 and state='queued'\")\" ]" \
  && ok "note's job retrying while the instance cannot write" || not_ok "note's job retrying ($(job_field "$J1" "state, last_error"))"
expect_match "  with the instance's answer" "$(job_field "$J1" last_error)" "work note on change_request/$CHG_ID: .*(HTTP 503|no answer within 4000 ms)"
snow_stop
unlock_instance
wait_until 30 sh -c "sqlite3 'file:$DB?mode=ro' \"select last_error from tb_job where id=$J1\" | grep -q 'cannot reach'" \
  && ok "  then says the instance cannot be reached" || not_ok "  cannot reach ($(job_field "$J1" "state, last_error"))"
expect_eq "  still queued" "$(job_field "$J1" state)" queued
expect_eq "  no note yet" "$(notes "BeyondTrust session $L1")" 0
snow_restart
wait_until 30 sh -c "[ \"\$(sqlite3 'file:$DB?mode=ro' \"select state from tb_job where id=$J1\")\" = done ]" \
  && ok "instance back: the job is done" || not_ok "instance back: job done ($(job_field "$J1" "state, last_error"))"
expect_eq "  exactly one work note" "$(notes "BeyondTrust session $L1")" 1
[ "$(job_field "$J1" attempts)" -ge 2 ] && ok "  after retries" || not_ok "  after retries"

# --- 401: the instance's password changes; the daemon's file still has the old one
lock_instance
import_session; L2=$L; J2=$JOB
wait_until 30 sh -c "[ -n \"\$(sqlite3 'file:$DB?mode=ro' \"select last_error from tb_job where id=$J2\")\" ]"
snow_stop
unlock_instance
printf 'a-new-password-4567\n' >"$WORK/snow.pw2"
"$TB_BIN" -c "$WORK/snow.conf" --db "$SNOW_DB" user passwd snow_api --password-file "$WORK/snow.pw2" >/dev/null \
  || not_ok "instance password changed"
snow_restart
wait_until 40 sh -c "[ \"\$(sqlite3 'file:$DB?mode=ro' \"select state from tb_job where id=$J2\")\" = failed ]" \
  && ok "401: the note's job fails" || not_ok "401: job fails ($(job_field "$J2" "state, last_error"))"
expect_match "  naming the credential settings" "$(job_field "$J2" last_error)" \
  "HTTP 401.*check servicenow_user and servicenow_password_file"
expect_match "  shown by jobs" "$(tb jobs --state failed)" "401"
expect_eq "  no note" "$(notes "BeyondTrust session $L2")" 0

# --- 429: the instance throttles logins from this address (20 failures a
# minute) and says when to come back; the fixed job waits for it
cp "$WORK/snow.pw2" "$WORK/tb-snow.pw"
for i in $(seq 1 21); do
  curl -s -o /dev/null --cacert "$WORK/snow-ca.pem" -u "nobody$i:wrong" "$SNOW_URL/api/now/table/incident?sysparm_limit=1"
done
code=$(curl -s -o /dev/null -D "$WORK/h429" -w '%{http_code}' --cacert "$WORK/snow-ca.pem" \
  -u "snow_api:a-new-password-4567" "$SNOW_URL/api/now/table/incident?sysparm_limit=1")
expect_eq "the instance throttles this address: 429" "$code" 429
RA=$(awk 'tolower($1) == "retry-after:" {print $2+0}' "$WORK/h429")
expect_match "  with Retry-After" "$RA" '^[0-9]+$'
t0=$(date +%s)
tb jobs retry --failed >/dev/null
wait_until 20 sh -c "sqlite3 'file:$DB?mode=ro' \"select last_error from tb_job where id=$J2 and state='queued'\" | grep -q 429" \
  && ok "retried job meets the 429" || not_ok "retried job meets the 429 ($(job_field "$J2" "state, last_error"))"
expect_match "  and records the instance's Retry-After" "$(job_field "$J2" last_error)" "Retry-After [0-9]+ s"
wait_s=$(( $(job_field "$J2" run_after) - $(date +%s) ))
[ "$wait_s" -ge $((RA - 10)) ] && ok "  waits as long as asked (${wait_s} s of ${RA} s)" \
  || not_ok "  waits as long as asked (${wait_s} s of ${RA} s)"
expect_eq "  no note meanwhile" "$(notes "BeyondTrust session $L2")" 0
wait_until $((RA + 30)) sh -c "[ \"\$(sqlite3 'file:$DB?mode=ro' \"select state from tb_job where id=$J2\")\" = done ]" \
  && ok "after the wait, the fixed password file is read and the note sent" \
  || not_ok "job done after the wait ($(job_field "$J2" "state, last_error"))"
[ $(( $(date +%s) - t0 )) -ge $((RA - 5)) ] && ok "  not before the instance allowed it" || not_ok "  too early"
expect_eq "  exactly one work note" "$(notes "BeyondTrust session $L2")" 1
expect_eq "first session still one note" "$(notes "BeyondTrust session $L1")" 1
expect_match "the daemon re-read its password file" "$(cat "$WORK/tb.log")" "password file re-read after a 401"

tb_stop
expect_eq "clean stop" "$TB_EXIT" 0
finish

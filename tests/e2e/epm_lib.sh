# Shared by the EPM end-to-end tests (test_epm*.sh): a real ticketbridge and
# a real epmsim on loopback, wired to each other as seed 004 describes:
# epmsim sends webhooks as pmc_webhook_user (role x_bets_pmc_jit.api) and
# accepts decisions from the API account cid/sec.
# Env (set by ctest): TB_BIN, EPMSIM_BIN, TB_E2E_LIB, TB_TEST_TMP.
: "${TB_E2E_LIB:=$(dirname "$0")/lib.sh}"
: "${TB_BIN:=$(dirname "$0")/../../build/ticketbridge}"
export TB_BIN
. "$TB_E2E_LIB"
EPMSIM_BIN=${EPMSIM_BIN:-$(dirname "$0")/../../build/epmsim}
[ -x "$EPMSIM_BIN" ] || { not_ok "epmsim binary at $EPMSIM_BIN"; finish; }
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3
PW='w3bhook-pässword:"x'
HOOK_PATH=/api/x_bets_pmc_jit/authorization_request_webhook_handler

# jv JSON EXPR: a Python expression over the parsed JSON d; strings print bare.
jv() { $PY -c 'import sys, json
d = json.load(sys.stdin); v = eval(sys.argv[1])
print(v if isinstance(v, str) else json.dumps(v, ensure_ascii=False))' "$2" <<<"$1" 2>&1; }

post_json() { http POST "$1" -H 'Content-Type: application/json' --data-binary "$2"; }

# epm_setup [epmsim args...]: init, users, daemon, epmsim, EPM configuration.
epm_setup() {
  tb_init
  printf '%s\n' "$PW" >"$WORK/pw"
  tb user add pmc_webhook_user --roles x_bets_pmc_jit.api --password-file "$WORK/pw" >/dev/null &&
    tb user add approver --roles x_bets_pmc_jit.user --password-file "$WORK/pw" >/dev/null &&
    tb user add helpdesk --roles itil --password-file "$WORK/pw" >/dev/null || not_ok "users added"
  tb_start
  rm -f "$WORK/epm.port" "$WORK/epm.cport"
  "$EPMSIM_BIN" --port 0 --port-file "$WORK/epm.port" --control-port 0 --control-port-file "$WORK/epm.cport" \
    --webhook-url "$TB_URL$HOOK_PATH" --webhook-user pmc_webhook_user --webhook-password "$PW" \
    --webhook-retry-interval 0.2 --client-id cid --client-secret 's3c=ret&x' "$@" >>"$WORK/epmsim.log" 2>&1 &
  EPM_PID=$!
  PIDS+=("$EPM_PID")
  wait_file "$WORK/epm.port" && wait_file "$WORK/epm.cport" || { not_ok "epmsim started"; finish; }
  EPM_URL="http://127.0.0.1:$(cat "$WORK/epm.port")"
  EPM_CTL="http://127.0.0.1:$(cat "$WORK/epm.cport")"
  printf 's3c=ret&x\n' >"$WORK/secret"
  tb epm config set --host "$EPM_URL" --client-id cid --client-secret-file "$WORK/secret" >/dev/null 2>&1 ||
    not_ok "epm config set"
  sleep 1.2     # the daemon reloads its EPM configuration once a second
}

# send JSON: one webhook from epmsim, delivered before it answers; sets
# HTTP_BODY (epmsim's record of the send) and RID (its request id).
send() {
  http POST "$EPM_CTL/_epmsim/webhooks/send" -H 'Content-Type: application/json' --data-binary "$1"
  RID=$(jv "$HTTP_BODY" 'd["request_id"]')
  SEND_STATE=$(jv "$HTTP_BODY" 'd["state"]')
  SEND_STATUS=$(jv "$HTTP_BODY" 'd["last_status"]')
}

# Reads go through sqlite3, not the CLI: pollers run them many times.
req_where() { printf "request_id = '%s' or task_number = '%s' or epm_ticket = '%s'" "$1" "$1" "$1"; }
has_ticket() { [ "$(sql "select count(*) from tb_jit_request where $(req_where "$1")")" -ge 1 ]; }
# ticket_of RID: the number of the request's ticket (after wait_until has_ticket).
ticket_of() { sql "select task_number from tb_jit_request where $(req_where "$1")"; }
# Ticket reads go to the configured store (tb ticket show). With a remote
# store, notes and closing fields written from a writer transaction arrive
# through the outbox a moment later: wait for them with these.
field_is() { [ "$(field_of "$1" "$2")" = "$3" ]; }
has_note() { tb ticket show "$1" | grep -Eq -- "$2"; }
# notes_like REQUEST SQL-LIKE: how many journal entries of the request's ticket match.
notes_like() {
  tsql "select count(*) from sys_journal_field where value like '$2' and element_id =
        '$(sql "select task_sys_id from tb_jit_request where $(req_where "$1")")'"
}
field_of() { tb ticket show "$1" | awk -v f="$2:" '$1 == f {sub(/^[^:]*: ?/, ""); print; exit}'; }
decision_state() {
  sql "select decision_state || case when final then '/final' else '' end from tb_jit_request where $(req_where "$1")"
}
is_state() { [ "$(decision_state "$1")" = "$2" ]; }
has_epm_update() { [ -n "$(sql "select epm_decision from tb_jit_request where $(req_where "$1")")" ]; }

# decide_api RID JSON [user]: POST a decision as approver (or user).
decide_api() {
  http POST "$TB_URL/api/tb/v1/jit/$1/decision" -u "${3:-approver}:$PW" -H 'Content-Type: application/json' \
    --data-binary "$2"
}

bad_api() { # name body status message: a refused decision on $REQ
  decide_api "$REQ" "$2"
  expect_eq "API $1: $3" "$HTTP_STATUS" "$3"
  expect_eq "API $1: message" "$(jv "$HTTP_BODY" 'd["error"]["message"]')" "$4"
}

cli_msg() { # name expected-message jit-args...: a refused CLI decision
  local name=$1 want=$2; shift 2
  local out rc
  out=$(tb jit "$@" --as approver 2>&1); rc=$?
  expect_eq "CLI $name: exit 1" "$rc" 1
  expect_match "CLI $name: message" "$out" "^ticketbridge: $want"
}

# last_decision: the raw body of the last decision epmsim received.
last_decision() {
  http GET "$EPM_CTL/_epmsim/decisions"
  jv "$HTTP_BODY" 'd["decisions"][-1]["body"] if d["decisions"] else ""'
}
decisions_for() { # RID -> how many decisions epmsim received for it
  http GET "$EPM_CTL/_epmsim/decisions"
  jv "$HTTP_BODY" "len([x for x in d['decisions'] if x['request_id'].lower() == '$1'.lower()])"
}

# expected_body KIND RID DECISION DURATION REASON [URLBASE]: the exact JSON
# EPM should get (A3 / A4 key order), from what ticketbridge stored.
expected_body() {
  local kind=$1 rid=$2 decision=$3 duration=$4 reason=$5 base=${6:-}
  local row
  row=$(sql "select r.task_sys_id || '|' || r.task_number || '|' || r.task_table || '|' || d.decision_time || '|' || d.performed_by
             from tb_jit_decision d join tb_jit_request r on r.id = d.request where r.request_id = '$rid'
             order by d.id desc limit 1")
  $PY - "$kind" "$rid" "$decision" "$duration" "$reason" "$base" "$row" <<'EOF'
import json, sys
kind, rid, decision, duration, reason, base, row = sys.argv[1:]
sys_id, number, table, when, who = row.split("|")
url = f"{base}/{table}.do?sys_id={sys_id}" if base else ""
if kind == "application":
    d = {"itsmRequestId": rid, "systemId": sys_id, "ticketId": number, "ticketUrl": url, "decision": decision,
         "status": "2000" if decision == "Approved" else "2001", "decisionTime": when}
    if decision == "Approved":
        d["duration"] = duration
    d["decisionPerformedByUser"] = who
    d["message"] = reason
else:
    d = {"requestId": rid, "decision": decision}
    if decision == "Approved":
        d["duration"] = duration
    d.update({"decisionPerformedByUser": who, "message": reason, "systemId": sys_id, "ticketId": number,
              "ticketUrl": url, "decisionTime": when})
print(json.dumps(d, separators=(",", ":"), ensure_ascii=False))
EOF
}

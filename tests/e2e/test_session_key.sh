# Session keys from tickets end to end, with btsim as the RS appliance and NO
# outbound events configured (RS "Basic"): a key from an incident (API and
# CLI) and from a case, a simulated customer using it (start, chat, end), the
# pull job finding the session and the import writing the chat transcript to
# the ticket's work notes; every refusal with its reason; the "may I" call;
# the administrator's messages for a missing custom field, an unreachable
# appliance and a refused API account; hostile paths.
. "$TB_E2E_LIB"

tb_init --product rs
printf 'btsim-secret\n' >"$WORK/secret"
printf 'wrong-secret\n' >"$WORK/badsecret"
cli() { OUT=$("$@" 2>&1); RC=$?; }
# jv JSON PATH...: each value on a line ("" when absent; "reasons" = the
# reason codes joined with commas). One interpreter start per answer: they
# are slow on a loaded machine.
jv() { python3 -c '
import json, sys
try: d = json.loads(sys.argv[1])
except Exception: d = {}
for p in sys.argv[2:]:
    if p == "reasons":
        print(",".join(r["code"] for r in (d.get("reasons") or [])) if isinstance(d, dict) else ""); continue
    v = d
    try:
        for k in p.split("."): v = v[int(k)] if isinstance(v, list) else v[k]
    except Exception: v = ""
    print(json.dumps(v) if isinstance(v, (dict, list)) else ("" if v is None else str(v)).replace("\n", "\\n"))
' "$@"; }

# users: alice (itil; BeyondTrust username jdoe), carol (CSM agent, unknown to
# the appliance), dave (the RS app's itil role), bob (no RS role)
tb user add alice --roles itil >/dev/null 2>&1
tb user add carol --roles x_bmgr_crm.agent >/dev/null 2>&1
tb user add dave --roles x_bmgr_bomgar_inte.itil >/dev/null 2>&1
tb user add bob --roles x_bmgr_bomgar_pam.jump_user >/dev/null 2>&1
tb sys-user add alice --name "Alice Able" --bt-username jdoe >/dev/null || not_ok "sys-user add"
ALICE=$(tb token create alice --name e2e 2>/dev/null)
CAROL=$(tb token create carol --name e2e 2>/dev/null)
DAVE=$(tb token create dave --name e2e 2>/dev/null)
BOB=$(tb token create bob --name e2e 2>/dev/null)
expect_match "tokens made" "$ALICE$CAROL$DAVE$BOB" '^(tbk_[A-Za-z0-9]{40}){4}$'

ticket() { tb ticket create "$@" | awk '{print $1}'; }
sys_id() { tsql "select sys_id from $1 where number='$2'"; }
# The work note of a session on a record; with a remote store it comes from
# an outbox job, so wait (bounded) for it first.
session_note() { # record_sys_id lsid
  wait_until 20 sh -c "[ \"\$(sqlite3 'file:$TICKETS_DB?mode=ro' \"select count(*) from sys_journal_field where element_id='$1' and value like 'BeyondTrust session $2%'\")\" = 1 ]"
  tsql "select value from sys_journal_field where element_id='$1' and element='work_notes' and value like 'BeyondTrust session $2%'"
}
INC=$(ticket --short-description "Printer on fire")
INC2=$(ticket --short-description "Mouse stuck")
INC_R=$(ticket --short-description "Resolved one" --state 6)
INC_C=$(ticket --short-description "Closed one" --state 7)
CS=$(ticket --table sn_customerservice_case --short-description "Customer VPN down")
CS_C=$(ticket --table sn_customerservice_case --short-description "Closed case" --state 3)
CS_P=$(ticket --table sn_customerservice_case --short-description "Pending case" --state 27)
INC_ID=$(sys_id incident "$INC"); CS_ID=$(sys_id sn_customerservice_case "$CS")
expect_match "tickets made" "$INC $INC_R $CS $CS_C" '^INC[0-9]{7} INC[0-9]{7} CS[0-9]{7} CS[0-9]{7}$'

# --- the properties (CLI): defaults, validation, nothing half-written
out=$(tb rs config show)
expect_match "session keys on by default" "$out" 'session keys: +yes'
expect_match "pull on, every 5 minutes by default" "$out" 'pull interval: +5 minutes'
expect_match "incident states below 6 by default" "$out" 'incident states: +below 6'
expect_match "case states 1,10,18 by default" "$out" 'case states: +1,10,18'
cli tb rs config set --pull-interval-minutes 0
expect_eq "pull interval 0 refused" "$RC" 1
cli tb rs config set --session-keys no --case-states 1,x
expect_eq "a bad state list refused" "$RC" 1
expect_match "and named" "$OUT" "case-states"
expect_match "and nothing changed" "$(tb rs config show)" 'session keys: +yes'
cli tb rs config set --fallback-queue nowhere
expect_eq "a bad fallback queue refused" "$RC" 1
cli tb rs config set --bogus 1
expect_eq "unknown option is a usage error" "$RC" 2
cli tb rs config set
expect_eq "set without options is a usage error" "$RC" 2
cli tb rs frobnicate
expect_eq "unknown rs subcommand" "$RC" 2
tb rs config set --pull-interval-seconds 1 --key-grace-minutes 60 >/dev/null
expect_match "config show --json" "$(tb rs config show --json)" '"pull_interval_seconds":1,' 

btsim_start --product rs --seed 5
tb appliance set Default --hostname "$BTSIM_URL" --client-id btsim-client --client-secret-file "$WORK/secret" \
  --poll-interval 0 >/dev/null
tb_start
API="$TB_URL/api/tb/v1/tickets"
auth() { echo "Authorization: Bearer $1"; }
# get|post USER_TOKEN NUMBER: HTTP_STATUS, HTTP_BODY, and ALLOWED, REASONS, DETAIL
ask() {
  http "$1" "$API/$3/session_key" -H "$(auth "$2")"
  mapfile -t R < <(jv "$HTTP_BODY" allowed reasons error.detail)
  ALLOWED=${R[0]:-}; REASONS=${R[1]:-}; DETAIL=${R[2]:-}
}
get() { ask GET "$@"; }
post() { ask POST "$@"; }
key_state() { sql "select state from tb_session_key where short_key='$1'"; }

# --- incident → key (API) → customer session → chat → end → pulled → work note
get "$ALICE" "$INC"
expect_eq "may alice: 200" "$HTTP_STATUS" 200
expect_eq "may alice: allowed" "$ALLOWED" True
expect_eq "may alice: no reasons" "$REASONS" ""
expect_match "may alice: the role it takes" "$HTTP_BODY" '"role":"itil"'
post "$ALICE" "$INC"
expect_eq "key from an incident: 200" "$HTTP_STATUS" 200
mapfile -t V < <(jv "$HTTP_BODY" short_key key_url mail_subject mail_body queue_id expires external_key)
K1=${V[0]}
expect_match "short key" "$K1" '^[0-9]{7}$'
expect_match "key URL" "${V[1]}" "^https?://.*$K1"
expect_match "mail subject" "${V[2]}" '.+'
expect_match "mail body carries the key" "${V[3]}" "$K1"
expect_eq "queue of alice's BeyondTrust username" "${V[4]}" "rep_username:jdoe"
[ "${V[5]:-0}" -gt "$(date +%s)" ] && ok "expiry in the future" || not_ok "expiry in the future (${V[5]})"
expect_eq "external key is the ticket number" "${V[6]}" "$INC"
# btkey SHORT_KEY: the appliance's record of the key (btsim): custom fields, external key
btkey() { python3 -c 'import json,sys; k=[k for k in json.loads(sys.argv[1])["keys"] if k["short_key"]==sys.argv[2]][0]; print(k["custom"].get("snow_task_id",""), k["custom"].get("snow_case_id",""), k["external_key"])' "$(curl -s "$BTSIM_URL/_btsim/keys")" "$1"; }
expect_eq "appliance got the ticket's sys_id in snow_task_id and the number as external key" "$(btkey "$K1")" "$INC_ID  $INC"
expect_eq "key remembered, issued" "$(key_state "$K1")" issued
expect_eq "remembered with its ticket and user" "$(sql "select task_sys_id||' '||acting_user||' '||bt_username from tb_session_key where short_key='$K1'")" "$INC_ID alice jdoe"

customer_session() { # short_key rep chat... -> lsid in L
  L=$(curl -s -X POST -H 'Content-Type: application/json' -d "{\"short_key\":\"$1\",\"customer_name\":\"Bob Jones\"}" \
      "$BTSIM_URL/_btsim/customer/start" | grep -o '"lsid":"[0-9a-f]*"' | cut -d'"' -f4)
  local rep=$2; shift 2
  curl -s -o /dev/null -X POST -H 'Content-Type: application/json' -d "{\"rep\":\"$rep\"}" "$BTSIM_URL/_btsim/sessions/$L/join"
  for m in "$@"; do
    curl -s -o /dev/null -X POST -H 'Content-Type: application/json' -d "$m" "$BTSIM_URL/_btsim/sessions/$L/chat"
  done
}
customer_session "$K1" jdoe '{"from":"customer","text":"My printer is on fire & smoking"}' \
  '{"from":"rep","text":"Unplug it, please"}'
L1=$L
expect_match "customer started a session with the key" "$L1" '^[0-9a-f]{32}$'
wait_until 15 sh -c "[ \"\$(sqlite3 'file:$DB?mode=ro' \"select lsid from tb_session_key where short_key='$K1'\")\" = '$L1' ]" \
  && ok "pull tied the running session to the key" || not_ok "pull tied the running session to the key ($(key_state "$K1"))"
expect_eq "key in session while it runs" "$(key_state "$K1")" in_session
expect_eq "nothing imported while it runs" "$(sql "select count(*) from tb_session where lsid='$L1'")" 0
curl -s -o /dev/null -X POST "$BTSIM_URL/_btsim/sessions/$L1/end"
wait_until 20 sh -c "[ \$(sqlite3 'file:$DB?mode=ro' \"select count(*) from tb_session where lsid='$L1'\") = 1 ]" \
  && ok "ended session pulled and imported" || not_ok "ended session pulled and imported ($(key_state "$K1"))"
expect_eq "linked to the incident" "$(sql "select task_number from tb_session where lsid='$L1'")" "$INC"
note=$(session_note "$INC_ID" "$L1")
expect_match "work note on the incident" "$note" "BeyondTrust session $L1"
expect_match "with the chat transcript" "$note" "Chat transcript:"
expect_match "with the customer's words" "$note" "My printer is on fire & smoking"
expect_match "and the rep's" "$note" "Unplug it, please"
expect_match "and basic session information" "$note" "Start: .* End: .* Duration:"
wait_until 5 sh -c "[ \"\$(sqlite3 'file:$DB?mode=ro' \"select state from tb_session_key where short_key='$K1'\")\" = imported ]" \
  && ok "key imported" || not_ok "key imported ($(key_state "$K1"))"
expect_eq "no outbound event reached ticketbridge" "$(sql "select count(*) from tb_incoming")" 0
expect_eq "the reconciler did not run" "$(sql "select count(*) from tb_job where kind='reconcile'")" 0
expect_eq "imported once" "$(sql "select count(*) from tb_job where kind='session_import' and lsid='$L1'")" 1

# --- the rep clears the custom field and the external key mid-session: the
# remembered key still ties the session to its ticket
post "$ALICE" "$INC"
K4=$(jv "$HTTP_BODY" short_key)
customer_session "$K4" jdoe '{"from":"customer","text":"Fields about to vanish"}'
L4=$L
wait_until 15 sh -c "[ \"\$(sqlite3 'file:$DB?mode=ro' \"select state from tb_session_key where short_key='$K4'\")\" = in_session ]" \
  || not_ok "pull saw the session before its fields were cleared"
BT_TOKEN=$(curl -s -u btsim-client:btsim-secret -d grant_type=client_credentials "$BTSIM_URL/oauth2/token" | grep -o '"access_token":"[^"]*"' | cut -d'"' -f4)
out=$(curl -s -H "Authorization: Bearer $BT_TOKEN" --data "action=set_session_attributes&lsid=$L4&session.custom.snow_task_id=&session.custom.external_key=" "$BTSIM_URL/api/command")
expect_match "appliance cleared the session's fields" "$out" "Session attributes were set"
curl -s -o /dev/null -X POST "$BTSIM_URL/_btsim/sessions/$L4/end"
wait_until 20 sh -c "[ \$(sqlite3 'file:$DB?mode=ro' \"select count(*) from tb_session where lsid='$L4'\") = 1 ]" \
  && ok "session without its fields imported" || not_ok "session without its fields imported ($(key_state "$K4"))"
expect_eq "the report no longer names the ticket" "$(sql "select coalesce(external_key,'')||'|'||(select count(*) from tb_session_custom c where c.session_id=s.id and c.code_name='snow_task_id' and c.value<>'') from tb_session s where lsid='$L4'")" "|0"
expect_eq "still linked to the incident, through the remembered key" "$(sql "select task_number from tb_session where lsid='$L4'")" "$INC"
expect_match "with its work note" "$(session_note "$INC_ID" "$L4")" "Fields about to vanish"

# --- key from the CLI, for a user the appliance does not know: fallback queue
cli tb session-key "$INC2" --as dave
expect_eq "CLI key: exit 0" "$RC" 0
K2=$(printf '%s\n' "$OUT" | awk '/^short key:/ {print $3}')
expect_match "CLI prints the short key" "$K2" '^[0-9]{7}$'
expect_match "CLI prints the key URL" "$OUT" "key URL: +https?://.*$K2"
expect_match "CLI prints the expiry" "$OUT" 'expires: +[0-9]{4}-'
expect_match "CLI prints the mail" "$OUT" 'mail subject: .+'
expect_match "unknown rep: the fallback queue" "$OUT" 'queue: +general \(the representative is unknown'
expect_eq "CLI key remembered" "$(key_state "$K2")" issued
out=$(tb session-key "$INC2" --as dave --json 2>/dev/null)
expect_eq "CLI --json" "$(jv "$out" queue_fallback)" True
cli tb session-key "$INC2" --as alice --check
expect_eq "CLI --check allowed: exit 0" "$RC" 0
expect_match "and says so" "$OUT" "alice may generate"
cli tb session-key "$INC_R" --as alice
expect_eq "CLI refusal: exit 1" "$RC" 1
expect_match "CLI refusal names the state" "$OUT" "incident state 6 is not below 6"
cli tb session-key "$INC" --as bob --check
expect_eq "CLI --check refused: exit 1" "$RC" 1
expect_match "names the role" "$OUT" "User lacks role itil"
cli tb session-key "$INC"
expect_eq "CLI without --as: usage error" "$RC" 2
expect_match "and why" "$OUT" "--as USER is required"
cli tb session-key "$INC" --as nobody
expect_eq "CLI --as an unknown user" "$RC" 1
expect_match "says so" "$OUT" "no ticketbridge user named 'nobody'"
cli tb session-key "INC'1" --as alice
expect_eq "CLI bad number" "$RC" 1
cli tb session-key INC9999999 --as alice
expect_eq "CLI unknown ticket" "$RC" 1
expect_match "says so" "$OUT" "no ticket INC9999999"

# --- the same for a case, as the CSM agent carol (unknown rep → general queue)
post "$CAROL" "$CS"
expect_eq "key from a case: 200" "$HTTP_STATUS" 200
mapfile -t V < <(jv "$HTTP_BODY" short_key queue_id queue_fallback)
K3=${V[0]}
expect_eq "case: fallback queue, flagged" "${V[1]} ${V[2]}" "general True"
expect_eq "case's sys_id in snow_case_id" "$(btkey "$K3")" " $CS_ID $CS"
customer_session "$K3" jdoe '{"from":"customer","text":"VPN says access denied"}' '{"from":"rep","text":"Reset your token"}'
L3=$L
curl -s -o /dev/null -X POST "$BTSIM_URL/_btsim/sessions/$L3/end"
wait_until 20 sh -c "[ \$(sqlite3 'file:$DB?mode=ro' \"select count(*) from tb_session where lsid='$L3'\") = 1 ]" \
  && ok "case session pulled and imported" || not_ok "case session pulled and imported ($(key_state "$K3"))"
note=$(session_note "$CS_ID" "$L3")
expect_match "work note on the case with the chat" "$note" "Chat transcript:"
expect_match "and the customer's words" "$note" "VPN says access denied"

# --- refusals, each with its reason
post "$ALICE" "$INC_R"
expect_eq "resolved incident: 409" "$HTTP_STATUS" 409
expect_match "names the state" "$DETAIL" "incident state 6 is not below 6"
post "$ALICE" "$INC_C"
expect_eq "closed incident: 409" "$HTTP_STATUS" 409
post "$CAROL" "$CS_C"
expect_eq "closed case: 409" "$HTTP_STATUS" 409
expect_match "names the case states" "$DETAIL" "case state 3 is not one of 1,10,18"
get "$CAROL" "$CS_P"
expect_eq "pending case (27) not by default" "$REASONS" state_not_allowed
tb rs config set --case-states 1,10,18,27 >/dev/null
get "$CAROL" "$CS_P"
expect_eq "27 allowed once configured" "$ALLOWED" True
post "$BOB" "$INC"
expect_eq "user without the role: 403" "$HTTP_STATUS" 403
expect_match "names the role" "$DETAIL" "User lacks role itil"
post "$CAROL" "$INC"
expect_eq "CSM agent on an incident: 403" "$HTTP_STATUS" 403
post "$ALICE" "$CS"
expect_eq "itil user on a case: 403" "$HTTP_STATUS" 403
expect_match "names the CSM role" "$DETAIL" "User lacks role x_bmgr_crm.agent"
get "$DAVE" "$INC"
expect_eq "x_bmgr_bomgar_inte.itil counts as itil" "$ALLOWED" True
post "$ALICE" INC9999999
expect_eq "unknown ticket: 404" "$HTTP_STATUS" 404
expect_match "says so" "$DETAIL" "no ticket INC9999999"
get "$ALICE" INC9999999
expect_eq "may I on an unknown ticket" "$REASONS" ticket_not_found

tb rs config set --session-keys no >/dev/null
post "$ALICE" "$INC"
expect_eq "feature disabled: 403" "$HTTP_STATUS" 403
expect_match "says so" "$DETAIL" "switched off"
get "$BOB" "$INC_R"
expect_eq "may I lists every unmet condition" "$REASONS" "session_keys_disabled,state_not_allowed,role_missing"
expect_eq "and answers allowed false" "$ALLOWED" False
tb rs config set --session-keys yes >/dev/null

sql_write "update tb_appliance set name='default' where name='Default'"
wait_until 5 sh -c "curl -s -H 'Authorization: Bearer $ALICE' '$API/$INC/session_key' | grep -q no_default_appliance" \
  && ok "no appliance named exactly Default: may I says so" || not_ok "no appliance named exactly Default: may I says so"
post "$ALICE" "$INC"
expect_eq "without a Default appliance: 403" "$HTTP_STATUS" 403
expect_match "says so" "$DETAIL" "no appliance is named exactly 'Default'"
sql_write "update tb_appliance set name='Default' where name='default'"
tb appliance set Default --enabled no >/dev/null
wait_until 5 sh -c "curl -s -H 'Authorization: Bearer $ALICE' '$API/$INC/session_key' | grep -q default_appliance_disabled" \
  && ok "Default appliance disabled: refused" || not_ok "Default appliance disabled: refused"
tb appliance set Default --enabled yes >/dev/null
wait_until 5 sh -c "curl -s -H 'Authorization: Bearer $ALICE' '$API/$INC/session_key' | grep -q '\"allowed\":true'" \
  || not_ok "Default appliance back"

# --- what the administrator is told (seed 003 Troubleshooting), and recorded
curl -s -o /dev/null -X PUT -H 'Content-Type: application/json' -d '{"fields":["snow_task_id","snow_cmdb_ci_id"]}' \
  "$BTSIM_URL/_btsim/custom_fields"
post "$CAROL" "$CS"
expect_eq "missing custom field: 502" "$HTTP_STATUS" 502
expect_match "create the custom field" "$DETAIL" \
  "create the custom field snow_case_id in /login > Management > API Configuration"
expect_match "with the appliance's words" "$DETAIL" "Error validating parameter 'snow_case_id': The session attribute is invalid"
curl -s -o /dev/null -X PUT -H 'Content-Type: application/json' -d '{"error_style":"code-name"}' "$BTSIM_URL/_btsim/custom_fields"
post "$CAROL" "$CS"
expect_match "invalid custom field code name: same advice" "$DETAIL" \
  "create the custom field snow_case_id in /login > Management > API Configuration \(appliance error: Invalid custom field code name\)"
expect_eq "failed attempts remembered" "$(sql "select count(*) from tb_session_key where task_number='$CS' and state='failed' and error like 'create the custom field snow_case_id%'")" 2
curl -s -o /dev/null -X PUT -H 'Content-Type: application/json' -d '{"fields":["snow_task_id","snow_cmdb_ci_id","snow_case_id"],"error_style":"validating"}' \
  "$BTSIM_URL/_btsim/custom_fields"

tb appliance set Default --hostname http://127.0.0.1:1 >/dev/null
wait_until 5 sh -c "curl -s -X POST -H 'Authorization: Bearer $ALICE' '$API/$INC/session_key' | grep -q 'cannot reach'" \
  || not_ok "unreachable appliance seen"
post "$ALICE" "$INC"
expect_eq "unreachable appliance: 502" "$HTTP_STATUS" 502
expect_match "cannot reach, check hostname and firewall" "$DETAIL" \
  "cannot reach the appliance http://127.0.0.1:1: check the hostname and the firewall \(TCP 443\)"
cli tb session-key "$INC" --as alice
expect_eq "CLI: unreachable appliance fails" "$RC" 1
expect_match "with the same advice" "$OUT" "cannot reach the appliance http://127.0.0.1:1: check the hostname and the firewall"
expect_match "recorded" "$(tb session-keys --state failed)" "cannot reach the appliance"
tb appliance set Default --hostname "$BTSIM_URL" --client-secret-file "$WORK/badsecret" >/dev/null
wait_until 5 sh -c "curl -s -X POST -H 'Authorization: Bearer $ALICE' '$API/$INC/session_key' | grep -q 'client id and secret'" \
  || not_ok "refused API account seen"
post "$ALICE" "$INC"
expect_eq "refused API account: 502" "$HTTP_STATUS" 502
expect_match "OAuth client id/secret hint" "$DETAIL" "check the API account's OAuth client id and secret"
tb appliance set Default --client-secret-file "$WORK/secret" >/dev/null
wait_until 5 sh -c "curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Authorization: Bearer $ALICE' '$API/$INC/session_key' | grep -q 200" \
  && ok "works again once fixed" || not_ok "works again once fixed"

# --- an unused key expires after its expiry plus the grace period
sql_write "update tb_session_key set expires_at = strftime('%s','now') - 3700 where short_key='$K2'"
wait_until 5 sh -c "[ \"\$(sqlite3 'file:$DB?mode=ro' \"select state from tb_session_key where short_key='$K2'\")\" = expired ]" \
  && ok "unused key expired" || not_ok "unused key expired ($(key_state "$K2"))"

# --- listing remembered keys
out=$(tb session-keys --ticket "$INC")
expect_match "session-keys --ticket lists its keys" "$out" "$K1 +imported .*$L1"
expect_eq "session-keys --json" "$(tb session-keys --json | python3 -c 'import json,sys; print(len([k for k in json.load(sys.stdin)["session_keys"] if k["state"]=="imported"]))')" 3
cli tb session-keys --state bogus
expect_eq "unknown state refused" "$RC" 1
cli tb session-keys --ticket "a'b"
expect_eq "bad ticket refused" "$RC" 1
cli tb rs pull
expect_eq "rs pull" "$RC" 0

# --- hostile input on the route
code() { curl -s -o /dev/null -w '%{http_code}' --max-time 20 --path-as-is "$@"; }
A="Authorization: Bearer $ALICE"
expect_eq "no credentials: 401" "$(code "$API/$INC/session_key")" 401
expect_eq "wrong token: 401" "$(code -H "Authorization: Bearer tbk_$(printf 'x%.0s' $(seq 1 40))" "$API/$INC/session_key")" 401
expect_eq "quote in the number: 400" "$(code -H "$A" "$API/INC%27x/session_key")" 400
expect_eq "encoded dots: 400" "$(code -H "$A" "$API/%2e%2e/session_key")" 400
expect_eq "../x: 404" "$(code -H "$A" "$API/../x")" 404
expect_eq "number/../session_key: 404" "$(code -H "$A" "$API/$INC/../session_key")" 404
expect_eq "encoded slash: 404" "$(code -H "$A" "$API/INC1%2Fx/session_key")" 404
expect_eq "trailing slash: 404" "$(code -H "$A" "$API/$INC/session_key/")" 404
expect_eq "unknown action: 404" "$(code -H "$A" "$API/$INC/nope")" 404
expect_eq "no action: 404" "$(code -H "$A" "$API/$INC")" 404
expect_eq "NUL in the path: 404" "$(code -H "$A" "$API/INC%00/session_key")" 404
long=$(head -c 5000 /dev/zero | tr '\0' A)
expect_eq "5000-character number: 400" "$(code -H "$A" "$API/$long/session_key")" 400
huge=$(head -c 100000 /dev/zero | tr '\0' A)
c=$(code -H "$A" "$API/$huge/session_key")
case "$c" in 4[0-9][0-9]) ok "100000-character path refused ($c)";; *) not_ok "100000-character path refused ($c)";; esac
expect_eq "PUT: 405" "$(code -X PUT -H "$A" "$API/$INC/session_key")" 405
expect_eq "DELETE: 405" "$(code -X DELETE -H "$A" "$API/$INC/session_key")" 405
head -c 10000 /dev/zero | tr '\0' x >"$WORK/big"
expect_eq "body over the cap: 413" "$(code -X POST -H "$A" --data-binary @"$WORK/big" "$API/$INC/session_key")" 413
expect_eq "still healthy" "$(code "$TB_URL/healthz")" 200

tb_stop
expect_eq "clean shutdown" "$TB_EXIT" 0
finish

# The PRA story end to end with btsim playing the appliance: the access
# console's ticket-system request (sent by btsim) is approved against a
# change; the session it starts carries snow_task_id / snow_cmdb_ci_id from
# the answer, so its import lands on that change and CI. Then the Jump to CI
# link, checked by btsim's /api/client_script, and the roles on every
# /api/tb/v1 route (seed 000 "Assign Users Appropriate Roles").
. "$TB_E2E_LIB"

tb_init --product pra
ADMIN_PW=$(awk '/^Admin password:/ {print $3}' "$WORK/init.out")
printf 'btsim-secret\n' >"$WORK/secret"
tb sys-user add jdoe --name "John Doe" >/dev/null || not_ok "sys-user add"
tb ci add WEB01 >/dev/null
tb ci add DB01 >/dev/null
CHG=$(tb ticket create --table change_request --short-description "Patch WEB01" --assigned-to jdoe --ci WEB01 \
  --approval approved | awk '{print $1}')
CHG_ID=$(tsql "select sys_id from change_request where number='$CHG'")
WEB01_ID=$(tsql "select sys_id from cmdb_ci where name='WEB01'")
tb_start
btsim_start --product pra --seed 21 --appliance-id pra-sim \
  --outbound-url "$TB_URL/api/x_bmgr_bomgar_pam/outbound_event/session_end" --retry-interval 0.2 --retry-duration 60 \
  --ticket-system-url "$TB_URL/api/x_bmgr_bomgar_pam/endpoint_approval"
tb appliance set Default --hostname "http://127.0.0.1:$BTSIM_PORT" --appliance-id pra-sim --client-id btsim-client \
  --client-secret-file "$WORK/secret" >/dev/null
sleep 1.5
J='Content-Type: application/json'
jump_request() { # ticket user host -> btsim's report of the exchange
  curl -s -X POST -H "$J" "$BTSIM_URL/_btsim/jump/request" --data-binary \
    "{\"ticket_id\":\"$1\",\"user\":{\"id\":2,\"username\":\"$2\",\"public_display_name\":\"John Doe\",\"email\":\"jd@example.com\"},\"jump_item\":{\"id\":42,\"name\":\"web\",\"hostname\":\"$3\",\"jump_group\":{\"id\":3,\"name\":\"Web\",\"type\":\"shared\"},\"jumpoint\":{\"id\":2,\"name\":\"JP-East\"}}}"
}

# --- the appliance asks; ticketbridge answers (JSON, then form)
out=$(jump_request "$CHG" jdoe WEB01)
expect_eq "btsim's request allowed" "$(json_get "$out" allowed)" True
expect_eq "  answered 200" "$(json_get "$out" http_status)" 200
expect_eq "  with snow_task_id" "$(json_get "$out" body.custom_attributes.snow_task_id)" "$CHG_ID"
expect_eq "  remembered by the appliance" "$(json_get "$out" remembered)" True
out=$(jump_request "$CHG" mallory WEB01)
expect_eq "btsim's request for the wrong user denied" "$(json_get "$out" allowed)" False
expect_match "  with the reason" "$(json_get "$out" body.error_message)" "not assigned to mallory"
curl -s -X PUT -H "$J" -d '{"format":"form"}' "$BTSIM_URL/_btsim/jump/config" >/dev/null
out=$(jump_request "$CHG" jdoe WEB01)
expect_eq "form-encoded request allowed" "$(json_get "$out" allowed)" True
curl -s -X PUT -H "$J" -d '{"format":"json"}' "$BTSIM_URL/_btsim/jump/config" >/dev/null
expect_match "decisions recorded" "$(tb approvals)" "allow .*$CHG"

# --- the approved Jump becomes a session; its import lands on the change
out=$(curl -s -X POST -H "$J" -d "{\"ticket_id\":\"$CHG\",\"jump_item_id\":\"42\"}" "$BTSIM_URL/_btsim/sessions/start")
L=$(json_get "$out" lsid)
expect_match "session started from the approval" "$L" '^[0-9a-f]{32}$'
expect_eq "  carries snow_cmdb_ci_id" "$(json_get "$out" custom.snow_cmdb_ci_id)" "$WEB01_ID"
curl -s -X POST "$BTSIM_URL/_btsim/sessions/$L/end" >/dev/null
wait_until 20 sh -c "[ \"\$(sqlite3 'file:$DB?mode=ro' \"select state from tb_job where lsid='$L' order by id desc limit 1\")\" = done ]" &&
  ok "session imported" || not_ok "session imported ($(sql "select state, last_error from tb_job where lsid='$L'"))"
expect_eq "  linked to the change" "$(sql "select task_number from tb_session where lsid='$L'")" "$CHG"
expect_eq "  linked to the CI" "$(sql "select ci_sys_id from tb_session where lsid='$L'")" "$WEB01_ID"
# with a remote store the note comes from an outbox job: wait for it
wait_until 20 sh -c "[ \"\$(sqlite3 'file:$TICKETS_DB?mode=ro' \"select count(*) from sys_journal_field where element_id='$CHG_ID' and value like 'BeyondTrust session $L%'\")\" = 1 ]"
expect_match "  work note on the change" "$(tb ticket show "$CHG")" "BeyondTrust session $L"

# --- users for the roles (seed 000): no hierarchy; the deprecated role uses and views
mkuser() { printf 'password-%s-123\n' "$1" | tb user add "$1" --roles "$2" --password-file - >/dev/null || not_ok "user add $1"; }
mkuser viewer x_bmgr_bomgar_pam.data_viewer
mkuser jumper x_bmgr_bomgar_pam.jump_user
mkuser configurer x_bmgr_bomgar_pam.app_admin
mkuser legacy x_bmgr_bomgar_pam.user
mkuser tech itil
cred() { [ "$1" = admin ] && echo "admin:$ADMIN_PW" || echo "$1:password-$1-123"; }
call() { # user method path [body] -> status
  local u=$1 m=$2 p=$3 b=${4:-}
  local args=(-s -o "$WORK/body" -w '%{http_code}' -X "$m")
  [ "$u" != - ] && args+=(-u "$(cred "$u")")
  [ -n "$b" ] && args+=(-H "$J" --data-binary "$b")
  curl "${args[@]}" "$TB_URL$p"
}
JUMP_BODY="{\"task\":\"$CHG\"}"
# route            method path                         body          expected status per user: - admin viewer jumper configurer legacy tech
check_route() {
  local name=$1 m=$2 p=$3 b=$4; shift 4
  local users=(- admin viewer jumper configurer legacy tech) i=0 want got
  for want in "$@"; do
    got=$(call "${users[$i]}" "$m" "$p" "$b")
    expect_eq "$name as ${users[$i]}" "$got" "$want"
    i=$((i + 1))
  done
}
check_route "jump"       POST /api/tb/v1/jump          "$JUMP_BODY" 401 200 403 200 403 200 403
check_route "approvals"  GET  /api/tb/v1/approvals     ""           401 200 200 403 403 200 403
check_route "session"    GET  "/api/tb/v1/sessions/$L" ""           401 200 200 403 403 200 403
check_route "appliances" GET  /api/tb/v1/appliances    ""           401 200 403 403 200 403 403
check_route "me"         GET  /api/tb/v1/me            ""           401 200 200 200 200 200 200
expect_match "403 names the missing role" "$(call tech GET /api/tb/v1/appliances; cat "$WORK/body")" \
  'x_bmgr_bomgar_pam.app_admin'
call configurer GET /api/tb/v1/appliances >/dev/null
expect_match "appliances never shows secrets" "$(cat "$WORK/body")" '"client_secret_set":true'
expect_eq "  and no secret value" "$(grep -c btsim-secret "$WORK/body")" 0
call viewer GET "/api/tb/v1/sessions/$L" >/dev/null
expect_eq "session JSON has its events" "$(json_get "$(cat "$WORK/body")" result.lsid)" "$L"
expect_eq "unknown session 404" "$(call viewer GET /api/tb/v1/sessions/0123456789abcdef0123456789abcdef)" 404
expect_eq "bad lsid 400" "$(call viewer GET "/api/tb/v1/sessions/a%27b")" 400
call viewer GET "/api/tb/v1/approvals?outcome=denied&limit=5" >/dev/null
expect_eq "approvals filtered" "$(json_get "$(cat "$WORK/body")" result.0.outcome)" "deny"
expect_eq "approvals bad parameter 400" "$(call viewer GET "/api/tb/v1/approvals?limit=0")" 400

# --- Jump to CI: the link, and btsim's client-script endpoint accepts it
call jumper POST /api/tb/v1/jump "$JUMP_BODY" >/dev/null
body=$(cat "$WORK/body")
URLJ=$(json_get "$body" url)
expect_match "jump URL" "$URLJ" "^http://127.0.0.1:$BTSIM_PORT/api/client_script\?type=rep&operation=generate&action=start_jump_item_session&search_string=WEB01&session.custom.snow_task_id=$CHG_ID&session.custom.snow_cmdb_ci_id=$WEB01_ID$"
expect_eq "jump names the CI" "$(json_get "$body" ci.name)" WEB01
expect_eq "jump names the task" "$(json_get "$body" task.number)" "$CHG"
brcs=$(curl -s "$URLJ")
expect_eq "btsim serves the same BRCS script" "$brcs" "$(json_get "$body" brcs)"
expect_match "  BRCS first line" "$(printf '%s' "$brcs" | head -1)" '^BRCS1.0'
expect_eq "jump --ci by name" "$(call jumper POST /api/tb/v1/jump '{"ci":"DB01"}')" 200
expect_match "  no task attribute" "$(cat "$WORK/body")" '^\{"url":"[^"]*search_string=DB01&session.custom.snow_cmdb_ci_id=[0-9a-f]{32}"'
expect_eq "jump with method" "$(call jumper POST /api/tb/v1/jump "{\"task\":\"$CHG\",\"method\":\"pinned\"}")" 200
expect_match "  jump.method set" "$(json_get "$(cat "$WORK/body")" url)" 'jump.method=pinned'
expect_eq "jump bad method 400" "$(call jumper POST /api/tb/v1/jump "{\"task\":\"$CHG\",\"method\":\"teleport\"}")" 400
expect_eq "jump unknown CI 404" "$(call jumper POST /api/tb/v1/jump '{"ci":"NOPE"}')" 404
expect_eq "jump unknown task 404" "$(call jumper POST /api/tb/v1/jump '{"task":"CHG9999999"}')" 404
NOCI=$(tb ticket create --table change_request --short-description "no CI" | awk '{print $1}')
expect_eq "jump task without CI 400" "$(call jumper POST /api/tb/v1/jump "{\"task\":\"$NOCI\"}")" 400
expect_match "  says to name one" "$(cat "$WORK/body")" "has no configuration item"
expect_eq "jump empty body 400" "$(call jumper POST /api/tb/v1/jump '{}')" 400
expect_eq "jump bad JSON 400" "$(call jumper POST /api/tb/v1/jump '{"task":')" 400
expect_eq "jump non-string 400" "$(call jumper POST /api/tb/v1/jump '{"task":5}')" 400
expect_eq "jump unknown appliance 404" "$(call jumper POST /api/tb/v1/jump "{\"task\":\"$CHG\",\"appliance\":\"Nope\"}")" 404
expect_eq "jump oversized body 413" "$(call jumper POST /api/tb/v1/jump "{\"ci\":\"$(head -c 20000 /dev/zero | tr '\0' a)\"}")" 413
expect_eq "jump GET 405" "$(call jumper GET /api/tb/v1/jump)" 405
out=$(tb jump --task "$CHG" --json)
expect_eq "CLI jump gives the same URL" "$(json_get "$out" url)" "$URLJ"
out=$(tb jump --ci NOPE 2>&1); rc=$?
expect_eq "CLI jump unknown CI fails" "$rc" 1
expect_match "  and says so" "$out" "no configuration item NOPE"

tb_stop
expect_eq "clean stop" "$TB_EXIT" 0
finish

# CSM custom links (seed 003 options 2 and 3) and the pages around them, end
# to end with btsim: the rep console's link creates the session's case, or a
# page associates the session with an existing case (searched by number)
# or creates one; /nav_to.do opens records; /tickets/ shows them; the
# click-to-chat page starts a session that lands on its case. Hostile input
# on every route. With TB_TICKET_STORE=servicenow the records are shown by
# the instance: /nav_to.do and /tickets/ redirect there.
. "$TB_E2E_LIB"

tb_init --product rs
printf 'btsim-secret\n' >"$WORK/secret"
mkuser() { printf 'password-%s-123\n' "$1" | tb user add "$1" --roles "$2" --password-file - >/dev/null || not_ok "user add $1"; }
mkuser agent x_bmgr_crm.agent
mkuser viewer itil
mkuser outsider x_bets_pmc_jit.user
AGENT=(-u agent:password-agent-123)
tb case-fields update >/dev/null
tb mapping add dynamic --case-field description --bt-field customer_details >/dev/null || not_ok "mapping add"
tb csm config Default set --auto-create yes --custom-links yes --click-to-chat yes >/dev/null || not_ok "csm config"
tb_start
btsim_start --product rs --seed 41 --appliance-id rs-links \
  --outbound-url "$TB_URL/api/x_bmgr_crm/outbound_event/session_end" --retry-interval 0.2 --retry-duration 60
tb appliance set Default --hostname "http://127.0.0.1:$BTSIM_PORT" --appliance-id rs-links --client-id btsim-client \
  --client-secret-file "$WORK/secret" >/dev/null
sleep 1.5
J='Content-Type: application/json'

sql_is() { [ "$(sql "$1")" = "$2" ]; }
wait_sql() { wait_until 20 sql_is "$1" "$2"; }
bt_custom() {
  curl -s "$BTSIM_URL/_btsim/sessions" | python3 -c 'import json,sys
for s in json.load(sys.stdin)["sessions"]:
    if s["lsid"] == sys.argv[1]: print(s["custom"].get(sys.argv[2], ""))' "$1" "$2"
}
start_live() { json_get "$(curl -s -X POST -H "$J" -d "$1" "$BTSIM_URL/_btsim/sessions/start")" lsid; }
header() { # name, from the headers in $WORK/hdrs
  tr -d '\r' <"$WORK/hdrs" | awk -v h="$(printf '%s' "$1" | tr 'A-Z' 'a-z'):" 'tolower($1)==h {sub(/^[^:]*: /, ""); print; exit}'
}
get() { # url [curl args]: HTTP_STATUS, HTTP_BODY, headers in $WORK/hdrs
  local url=$1; shift
  HTTP_STATUS=$(curl -s -o "$WORK/body" -D "$WORK/hdrs" -w '%{http_code}' --max-time 20 "$@" "$url")
  HTTP_BODY=$(cat "$WORK/body")
}
tsql_is() { [ "$(tsql "$1")" = "$2" ]; }
wait_tsql() { wait_until 20 tsql_is "$1" "$2"; }
re_escape() { printf '%s' "$1" | sed 's/[]?*+^$(){}|.[\\]/\\&/g'; }
record_location() { # table sys_id: where ticketbridge sends a browser to see the record
  if [ "$TB_TICKET_STORE" = servicenow ]; then
    printf '%s/nav_to.do?uri=%s.do%%3Fsys_id%%3D%s' "$SNOW_URL" "$1" "$2"
  else
    printf '/tickets/%s' "$2"
  fi
}
ticket_page() { # key [curl args]: the ticket's page; with a remote store the instance's, where /tickets/ redirects
  get "$TB_URL/tickets/$1" "${@:2}"
  TICKET_LOCATION=
  if [ "$TB_TICKET_STORE" = servicenow ] && [ "$HTTP_STATUS" = 302 ]; then
    TICKET_LOCATION=$(header Location)
    get "$TICKET_LOCATION" -L --cacert "$WORK/snow-ca.pem" -u snow_api:snow-api-password-0123
  fi
}
token_of() { printf '%s' "$HTTP_BODY" | grep -o 'name="token" value="[0-9a-f]*"' | head -1 | sed 's/.*value="//; s/"//'; }

# --- option 2: the custom link, as the console sends it through nav_to.do
L=$(start_live '{"rep":"jdoe","customer_name":"Ann","details":"Laptop <b>broken</b>"}')
expect_match "live session" "$L" '^[0-9a-f]{32}$'
get "$TB_URL/nav_to.do?uri=x_bmgr_crm_auto_create_link.do?lsid=$L%26username=jdoe%26auto_create=true"
expect_eq "nav_to.do redirects the link" "$HTTP_STATUS" 302
expect_eq "  to the link page with its parameters" "$(header Location)" "/x_bmgr_crm_auto_create_link.do?lsid=$L&username=jdoe&auto_create=true"
get "$TB_URL/nav_to.do?uri=x_bmgr_crm_auto_create_link.do?lsid=$L&username=jdoe&auto_create=true"
expect_eq "  also when the console did not encode the &" "$(header Location)" "/x_bmgr_crm_auto_create_link.do?lsid=$L&username=jdoe&auto_create=true"
LINK="$TB_URL/x_bmgr_crm_auto_create_link.do?lsid=$L&username=jdoe&auto_create=true"
get "$LINK"
expect_eq "the link needs a user" "$HTTP_STATUS" 401
expect_match "  and asks for Basic credentials" "$(header WWW-Authenticate)" "Basic"
get "$LINK" -u outsider:password-outsider-123
expect_eq "  with the agent role" "$HTTP_STATUS" 403
get "$LINK" "${AGENT[@]}"
expect_eq "option 2 creates the case" "$HTTP_STATUS" 200
expect_match "  page says so" "$HTTP_BODY" "<h1>Case created</h1>"
CS=$(sql "select case_number from tb_csm_case where lsid='$L'")
CS_ID=$(sql "select case_sys_id from tb_csm_case where lsid='$L'")
expect_match "  a case recorded for the session" "$CS" '^CS[0-9]{7}$'
expect_match "  page links the case" "$HTTP_BODY" "href=\"$(re_escape "$(record_location sn_customerservice_case "$CS_ID")")\">$CS<"
expect_eq "  origin link, rep jdoe" "$(sql "select origin || ' ' || rep_username from tb_csm_case where lsid='$L'")" "link jdoe"
expect_eq "  mapping applied" "$(tsql "select description from sn_customerservice_case where sys_id='$CS_ID'")" "Laptop <b>broken</b>"
expect_eq "  snow_case_id on the live session" "$(bt_custom "$L" snow_case_id)" "$CS_ID"
expect_match "  page says the console shows it" "$HTTP_BODY" "snow_case_id"
expect_match "  a page that runs no script" "$(header Content-Security-Policy)" "default-src 'none'"
expect_eq "  and is not framed" "$(header X-Frame-Options)" DENY
get "$LINK" "${AGENT[@]}"
expect_eq "the link again: 200" "$HTTP_STATUS" 200
expect_match "  the session has its case" "$HTTP_BODY" "The session has its case"
expect_eq "  no second case" "$(tsql "select count(*) from sn_customerservice_case")" 1
expect_match "  decisions recorded" "$(tb csm log --lsid "$L")" "link +existing +$CS"

# --- the record links: nav_to.do and the ticket page
get "$TB_URL/nav_to.do?uri=sn_customerservice_case.do?sys_id=$CS_ID"
expect_eq "case link redirects" "$HTTP_STATUS" 302
expect_eq "  to the ticket page" "$(header Location)" "$(record_location sn_customerservice_case "$CS_ID")"
get "$TB_URL/nav_to.do?uri=task.do%3Fsys_id%3D$CS_ID"
expect_eq "task.do link (seed 000) too" "$(header Location)" "$(record_location task "$CS_ID")"
get "$TB_URL/nav_to.do?uri=sn_customerservice_case.do?sys_id="
expect_eq "a session without a case: 404" "$HTTP_STATUS" 404
expect_match "  saying so" "$HTTP_BODY" "no case yet"
get "$TB_URL/nav_to.do?uri=sn_customerservice_case.do?sys_id=%3Cscript%3E"
expect_eq "a bad sys_id: 400" "$HTTP_STATUS" 400
get "$TB_URL/nav_to.do?uri=//evil.example.com/x.do"
expect_eq "no redirect elsewhere: 404" "$HTTP_STATUS" 404
get "$TB_URL/nav_to.do?uri=sys_user.do?sys_id=$CS_ID"
expect_eq "not a task table: 404" "$HTTP_STATUS" 404
get "$TB_URL/nav_to.do"
expect_eq "no uri: 400" "$HTTP_STATUS" 400
get "$TB_URL/nav_to.do?uri=$(head -c 3000 /dev/zero | tr '\0' a).do"
expect_eq "an oversized uri: 400" "$HTTP_STATUS" 400
get "$TB_URL/tickets/$CS_ID"
expect_eq "ticket page needs a user" "$HTTP_STATUS" 401
ticket_page "$CS_ID" "${AGENT[@]}"
expect_eq "ticket page for the agent" "$HTTP_STATUS" 200
[ "$TB_TICKET_STORE" = servicenow ] &&
  expect_eq "  shown by the instance" "$TICKET_LOCATION" "$(record_location sn_customerservice_case "$CS_ID")"
expect_match "  shows the number" "$HTTP_BODY" "<h1>$CS</h1>"
expect_match "  escapes the fields" "$HTTP_BODY" "Laptop &lt;b&gt;broken&lt;/b&gt;"
ticket_page "$CS" -u viewer:password-viewer-123
expect_eq "  by number, for an itil user" "$HTTP_STATUS" 200
get "$TB_URL/tickets/$CS" -u outsider:password-outsider-123
expect_eq "  not for other roles" "$HTTP_STATUS" 403
get "$TB_URL/tickets/CS9999999" "${AGENT[@]}"
expect_eq "  unknown ticket 404" "$HTTP_STATUS" 404
get "$TB_URL/tickets/a%3Cb" "${AGENT[@]}"
expect_eq "  bad key 400" "$HTTP_STATUS" 400

# --- the session ends: its note lands on the case, shown on the page
curl -s -o /dev/null -X POST -H "$J" -d '{"from":"customer","text":"<script>alert(1)</script>"}' "$BTSIM_URL/_btsim/sessions/$L/chat"
curl -s -o /dev/null -X POST "$BTSIM_URL/_btsim/sessions/$L/end"
wait_sql "select state from tb_job where lsid='$L' and kind='session_import'" done &&
  ok "session imported" || not_ok "session imported ($(sql "select last_error from tb_job where lsid='$L'"))"
wait_tsql "select count(*) from sys_journal_field where element_id='$CS_ID' and value like 'BeyondTrust session $L%'" 1
expect_eq "  one note on the case" "$(tsql "select count(*) from sys_journal_field where element_id='$CS_ID' and value like 'BeyondTrust session $L%'")" 1
ticket_page "$CS" "${AGENT[@]}"
expect_match "  the page shows the note, escaped" "$HTTP_BODY" "&lt;script&gt;alert\(1\)&lt;/script&gt;"
case "$HTTP_BODY" in *"<script>"*) not_ok "  no raw script on the page" ;; *) ok "  no raw script on the page" ;; esac

# --- option 3: associate with an existing case, searched by number
L2=$(start_live '{"rep":"jdoe","customer_name":"Ben"}')
PAGE="$TB_URL/x_bmgr_crm_auto_create_link.do?lsid=$L2&username=jdoe"
get "$PAGE" "${AGENT[@]}"
expect_eq "option 3 page" "$HTTP_STATUS" 200
expect_match "  offers the search" "$HTTP_BODY" 'name="q"'
expect_match "  and creation" "$HTTP_BODY" 'value="create"'
get "$PAGE&q=${CS:2:5}" "${AGENT[@]}"
expect_match "search by part of the number finds the case" "$HTTP_BODY" ">$CS<"
expect_match "  with an Associate button" "$HTTP_BODY" 'value="associate"'
TOKEN=$(token_of)
expect_match "  forms carry a token" "$TOKEN" '^[0-9a-f]{64}$'
get "$PAGE&q=ZZ99" "${AGENT[@]}"
expect_match "a search that finds nothing says so" "$HTTP_BODY" "No active case number contains"
P="$TB_URL/x_bmgr_crm_auto_create_link.do"
get "$P" "${AGENT[@]}" --data-urlencode "lsid=$L2" -d username=jdoe -d appliance=Default -d action=associate -d "case=$CS" -d token=0000
expect_eq "a wrong token is refused" "$HTTP_STATUS" 403
get "$P" "${AGENT[@]}" -d "lsid=$L2" -d username=jdoe -d appliance=Default -d action=associate -d "case=$CS" -d "token=$TOKEN"
expect_eq "associate: 200" "$HTTP_STATUS" 200
expect_match "  page says so" "$HTTP_BODY" "Session associated with the case"
expect_eq "  recorded" "$(sql "select case_number || ' ' || origin from tb_csm_case where lsid='$L2'")" "$CS association"
expect_eq "  snow_case_id on the live session" "$(bt_custom "$L2" snow_case_id)" "$CS_ID"
expect_eq "  no new case" "$(tsql "select count(*) from sn_customerservice_case")" 1
get "$PAGE" "${AGENT[@]}"
expect_match "the page again shows the session's case" "$HTTP_BODY" "The session has its case"
L3=$(start_live '{"rep":"asa.lindstrom","customer_name":"Cleo","details":"Printer jam"}')
get "$TB_URL/x_bmgr_crm_auto_create_link.do?lsid=$L3&username=asa.lindstrom" "${AGENT[@]}"
T3=$(token_of)
get "$P" "${AGENT[@]}" -d "lsid=$L3" -d username=asa.lindstrom -d appliance=Default -d action=create -d "token=$T3"
expect_eq "option 3 create: 200" "$HTTP_STATUS" 200
expect_match "  case created" "$HTTP_BODY" "<h1>Case created</h1>"
CS3=$(sql "select case_number from tb_csm_case where lsid='$L3'")
expect_match "  a new case" "$CS3" '^CS[0-9]{7}$'
expect_eq "  with its mapping" "$(tsql "select description from sn_customerservice_case where number='$CS3'")" "Printer jam"
get "$P" "${AGENT[@]}" -d "lsid=$L3" -d username=asa.lindstrom -d appliance=Default -d action=associate -d "case=$CS" -d "token=$T3"
expect_eq "associating a session that has another case: 409" "$HTTP_STATUS" 409
expect_match "  naming it" "$HTTP_BODY" "$CS3"
get "$P" "${AGENT[@]}" -d "lsid=$L3" -d username=asa.lindstrom -d action=dance -d "token=$T3"
expect_eq "an unknown action: 400" "$HTTP_STATUS" 400
L4=$(start_live '{"rep":"jdoe"}')
get "$TB_URL/x_bmgr_crm_auto_create_link.do?lsid=$L4&username=jdoe" "${AGENT[@]}"
T4=$(token_of)
get "$P" "${AGENT[@]}" -d "lsid=$L4" -d username=jdoe -d action=associate -d "case=CS7777777" -d "token=$T4"
expect_eq "associating an unknown case: 404" "$HTTP_STATUS" 404

# --- hostile and malformed input on the link
bad() { # name expected-status url [curl args]
  local name=$1 want=$2 url=$3; shift 3
  get "$url" "$@"
  expect_eq "$name" "$HTTP_STATUS" "$want"
  expect_match "  JSON error" "$HTTP_BODY" '"status":"failure"'
}
bad "lsid with markup: 400" 400 "$TB_URL/x_bmgr_crm_auto_create_link.do?lsid=%3Cscript%3E&auto_create=true" "${AGENT[@]}"
bad "oversized lsid: 400" 400 "$TB_URL/x_bmgr_crm_auto_create_link.do?lsid=$(printf 'a%.0s' $(seq 1 65))" "${AGENT[@]}"
bad "no lsid: 400" 400 "$TB_URL/x_bmgr_crm_auto_create_link.do" "${AGENT[@]}"
bad "oversized username: 400" 400 "$TB_URL/x_bmgr_crm_auto_create_link.do?lsid=$L4&username=$(printf 'u%.0s' $(seq 1 70))" "${AGENT[@]}"
bad "control character in username: 400" 400 "$TB_URL/x_bmgr_crm_auto_create_link.do?lsid=$L4&username=a%01b" "${AGENT[@]}"
bad "invalid UTF-8 in username: 400" 400 "$TB_URL/x_bmgr_crm_auto_create_link.do?lsid=$L4&username=a%FFb" "${AGENT[@]}"
bad "search with a quote: 400" 400 "$TB_URL/x_bmgr_crm_auto_create_link.do?lsid=$L4&q=CS%27%5E" "${AGENT[@]}"
bad "unknown appliance: 404" 404 "$TB_URL/x_bmgr_crm_auto_create_link.do?lsid=$L4&appliance=Nope" "${AGENT[@]}"
bad "a session the appliance does not know: 404" 404 \
  "$TB_URL/x_bmgr_crm_auto_create_link.do?lsid=0123456789abcdef0123456789abcdef&auto_create=true" "${AGENT[@]}"
bad "a JSON post: 415" 415 "$P" "${AGENT[@]}" -H "$J" -d '{"lsid":"x"}'
bad "an oversized post: 413" 413 "$P" "${AGENT[@]}" --data-binary "lsid=$(head -c 20000 /dev/zero | tr '\0' a)"
bad "a malformed form: 400" 400 "$P" "${AGENT[@]}" --data-binary "lsid=%zz"
get "$TB_URL/x_bmgr_crm_auto_create_link.do?lsid=$L4&username=%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E" "${AGENT[@]}"
expect_eq "markup in the rep's name: page shown" "$HTTP_STATUS" 200
expect_match "  escaped" "$HTTP_BODY" "&lt;img src=x onerror=alert\(1\)&gt;"
case "$HTTP_BODY" in *"<img"*) not_ok "  never raw" ;; *) ok "  never raw" ;; esac
get "$P" "${AGENT[@]}" -X DELETE
expect_eq "DELETE: 405" "$HTTP_STATUS" 405

# --- the gate: custom links off (option 1 on instead)
tb csm config Default set --custom-links no --outbound-event yes >/dev/null
bad "links off: 403" 403 "$TB_URL/x_bmgr_crm_auto_create_link.do?lsid=$L4&auto_create=true" "${AGENT[@]}"
expect_match "  saying how to turn them on" "$HTTP_BODY" "--custom-links yes"
out=$(tb csm config Default set --custom-links yes 2>&1); rc=$?
expect_eq "  links cannot join option 1" "$rc" 1
tb csm config Default set --custom-links yes --outbound-event no >/dev/null

# --- click-to-chat from a case: the session lands on the case
tb ticket create --table sn_customerservice_case --short-description '<script>alert("x")</script> & VPN' >"$WORK/new"
CS5=$(awk '{print $1}' "$WORK/new")
CS5_ID=$(tsql "select sys_id from sn_customerservice_case where number='$CS5'")
get "$TB_URL/csm/chat?case=$CS5"
expect_eq "chat page from a case" "$HTTP_STATUS" 200
expect_match "  escapes the case's description" "$HTTP_BODY" '&lt;script&gt;alert\(&quot;x&quot;\)&lt;/script&gt; &amp; VPN'
case "$HTTP_BODY" in *"<script>"*) not_ok "  never raw" ;; *) ok "  never raw" ;; esac
expect_match "  posts to chat/start with the case" "$HTTP_BODY" "name=\"case\" value=\"$CS5_ID\""
expect_match "  may be framed by a portal" "$(header Content-Security-Policy)" "frame-ancestors \*"
expect_match "  and may send the form on to the appliance" "$(header Content-Security-Policy)" "form-action 'self' http://127.0.0.1:$BTSIM_PORT"
get "$TB_URL/csm/chat/start?case=$CS5&customer.name=Dee&customer.company=DeeCo&customer.details=No%20sound&issue=issue_4"
expect_eq "chat start: 303" "$HTTP_STATUS" 303
LOC=$(header Location)
expect_match "  c2cjs, name, company, details, issue, case" "$LOC" \
  "^http://127.0.0.1:$BTSIM_PORT/api/start_session\?issue_menu=1&codeName=issue_4&customer.name=Dee&customer.company=DeeCo&customer.details=No%20sound&session.custom.snow_case_id=$CS5_ID&c2cjs=1$"
L5=$(curl -s -o /dev/null -D - "$LOC" | tr -d '\r' | awk 'tolower($1)=="x-btsim-lsid:" {print $2}')
expect_match "  btsim starts the session" "$L5" '^[0-9a-f]{32}$'
expect_eq "  carrying the case's sys_id" "$(bt_custom "$L5" snow_case_id)" "$CS5_ID"
curl -s -o /dev/null -X POST -H "$J" -d '{"rep":"jdoe"}' "$BTSIM_URL/_btsim/sessions/$L5/join"
curl -s -o /dev/null -X POST "$BTSIM_URL/_btsim/sessions/$L5/end"
wait_sql "select state from tb_job where lsid='$L5' and kind='session_import'" done &&
  ok "  imported" || not_ok "  imported ($(sql "select last_error from tb_job where lsid='$L5'"))"
wait_tsql "select count(*) from sys_journal_field where element_id='$CS5_ID' and value like 'BeyondTrust session $L5%'" 1
expect_eq "  its note on that case" "$(tsql "select count(*) from sys_journal_field where element_id='$CS5_ID' and value like 'BeyondTrust session $L5%'")" 1
bad "chat: an unknown case 404" 404 "$TB_URL/csm/chat?case=CS0000000"
bad "chat: a bad case key 400" 400 "$TB_URL/csm/chat?case=%3Cx%3E"
bad "chat: a bad issue 400" 400 "$TB_URL/csm/chat?issue=Issue%204"
bad "chat start: a long name 400" 400 "$TB_URL/csm/chat/start?customer.name=$(printf 'n%.0s' $(seq 1 101))"
bad "chat start: long details 400" 400 "$TB_URL/csm/chat/start?customer.details=$(head -c 5000 /dev/zero | tr '\0' d)"
bad "chat start: invalid UTF-8 400" 400 "$TB_URL/csm/chat/start?customer.name=%C3%28"
bad "chat start: control characters 400" 400 "$TB_URL/csm/chat/start?customer.company=a%0Db"
bad "chat start: an oversized post 413" 413 "$TB_URL/csm/chat/start" --data-binary "customer.name=$(head -c 20000 /dev/zero | tr '\0' a)"
tsql_write "update sn_customerservice_case set state=3, active='false' where number='$CS5'"
bad "chat: a closed case 409" 409 "$TB_URL/csm/chat?case=$CS5"
tb csm config Default set --click-to-chat no >/dev/null
bad "chat off: 404" 404 "$TB_URL/csm/chat"
finish

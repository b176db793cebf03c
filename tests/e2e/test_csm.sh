# CSM automatic case creation (seed 003, option 1) end to end with btsim as
# the RS appliance: a customer starts a chat through ticketbridge's
# click-to-chat page, a representative joins, the outbound event creates a
# case with all four kinds of field mapping, snow_case_id appears on the
# live session, and the session's end writes its work note on that case.
# Then each condition that blocks creation, a lookup that finds nothing,
# duplicate events, the exclusive-options rule and the manual association
# by external key. With TB_TICKET_STORE=servicenow also: the instance down
# when a rep joins, and exactly one case once it is back. (Options 2 and 3
# and the pages: test_csm_links.sh.)
. "$TB_E2E_LIB"

tb_init --product rs
TOKEN=csm-token-$RANDOM
printf '%s\n' "$TOKEN" >"$WORK/token"
printf 'btsim-secret\n' >"$WORK/secret"
tb sys-user add bob.ross --name "Bob Ross" >/dev/null || not_ok "sys-user add bob.ross"
tb sys-user add b.smith --name "Beth Smith" >/dev/null || not_ok "sys-user add b.smith"
BOB_ID=$(tsql "select sys_id from sys_user where user_name='bob.ross'")
BETH_ID=$(tsql "select sys_id from sys_user where user_name='b.smith'")
AID=$(sql "select id from tb_appliance where name='Default'")

# --- field mappings: the seed's four kinds
out=$(tb mapping add dynamic --case-field short_description --bt-field customer_details 2>&1); rc=$?
expect_eq "a dynamic mapping needs the case-field catalogue" "$rc" 1
expect_match "  and says how to load it" "$out" "case-fields update"
expect_match "case-fields update loads the catalogue" "$(tb case-fields update)" "BeyondTrust case fields known"
expect_match "case-fields list shows Customer Username" "$(tb case-fields list)" "customer_username +Customer Username"
tb mapping add static --case-field state --value 6 --label "State Resolved" >/dev/null || not_ok "static mapping"
tb mapping add dynamic --case-field short_description --bt-field customer_details >/dev/null || not_ok "dynamic mapping"
tb mapping add lookup --case-field assigned_to --lookup-table sys_user --lookup-field user_name --value bob.ross \
  >/dev/null || not_ok "lookup mapping"
tb mapping add dynamic-lookup --case-field contact --lookup-table sys_user --lookup-field user_name \
  --bt-field customer_username >/dev/null || not_ok "dynamic lookup mapping"
expect_eq "four mappings listed" "$(tb mapping list | grep -cE '^[0-9]+ ')" 4
out=$(tb mapping add static --case-field state --value Resolved 2>&1); rc=$?
expect_eq "a word for a number field refused" "$rc" 1
out=$(tb mapping add static --case-field state --value 7 2>&1); rc=$?
expect_eq "a second mapping of the same field refused" "$rc" 1
expect_match "  naming the field" "$out" "maps state already"
out=$(tb mapping add static --case-field sys_id --value x 2>&1); rc=$?
expect_eq "sys_id cannot be mapped" "$rc" 1
out=$(tb mapping add static --case-field correlation_id --value x 2>&1); rc=$?
expect_eq "correlation_id (the case's key) cannot be mapped" "$rc" 1
out=$(tb mapping add lookup --case-field cmdb_ci --lookup-table nope --lookup-field name --value x 2>&1); rc=$?
expect_eq "unknown lookup table refused" "$rc" 1
out=$(tb mapping add lookup --case-field cmdb_ci --lookup-table cmdb_ci --lookup-field nope --value x 2>&1); rc=$?
expect_eq "unknown lookup field refused" "$rc" 1
out=$(tb mapping add weird --case-field state --value 1 2>&1); rc=$?
expect_eq "unknown mapping kind refused" "$rc" 1
out=$(tb mapping remove 999 2>&1); rc=$?
expect_eq "removing an unknown mapping fails" "$rc" 1

# --- the exclusive-options rule (seed 003 "Add Outbound Events and Links")
out=$(tb csm config Default set --auto-create yes --outbound-event yes --custom-links yes 2>&1); rc=$?
expect_eq "option 1 and options 2/3 together refused" "$rc" 1
expect_match "  with the seed's reason" "$out" "option 1 is automatic and options 2 and 3 are manual"
expect_eq "  nothing stored" "$(sql "select count(*) from tb_csm_config")" 0
tb csm config Default set --auto-create yes --custom-links yes >/dev/null || not_ok "custom links on"
out=$(tb csm config Default set --outbound-event yes 2>&1); rc=$?
expect_eq "turning option 1 on while links are on refused" "$rc" 1
expect_eq "  links still on" "$(sql "select outbound_event || custom_links from tb_csm_config")" 01
tb csm config Default set --outbound-event yes --custom-links no --click-to-chat yes >/dev/null ||
  not_ok "switch to option 1"
expect_match "csm config shows option 1" "$(tb csm config Default)" "outbound event \(opt. 1\): yes"
out=$(tb csm config Default set --required-fields 'Bad Name' 2>&1); rc=$?
expect_eq "a bad custom field code name refused" "$rc" 1
out=$(tb csm config Nope show 2>&1); rc=$?
expect_eq "unknown appliance refused" "$rc" 1

tb_start
btsim_start --product rs --seed 31 --appliance-id rs-csm \
  --outbound-url "$TB_URL/api/x_bmgr_crm/outbound_event/case?auto_create=true&outbound_event_token=$TOKEN" \
  --retry-interval 0.2 --retry-duration 60
tb appliance set Default --hostname "http://127.0.0.1:$BTSIM_PORT" --appliance-id rs-csm --client-id btsim-client \
  --client-secret-file "$WORK/secret" --outbound-event-token-file "$WORK/token" >/dev/null
sleep 1.5   # the daemon reloads appliance records once a second
J='Content-Type: application/json'

sql_is() { [ "$(sql "$1")" = "$2" ]; }
wait_sql() { wait_until 20 sql_is "$1" "$2"; }
tsql_is() { [ "$(tsql "$1")" = "$2" ]; }
# Work notes reach a remote store from the outbox, after the import's job.
wait_tsql() { wait_until 20 tsql_is "$1" "$2"; }
case_of() { sql "select case_number from tb_csm_case where lsid='$1'"; }
wait_case() { wait_until 20 sh -c "[ -n \"\$(sqlite3 'file:$DB?mode=ro' \"select case_number from tb_csm_case where lsid='$1'\")\" ]"; }
wait_decision() { # lsid outcome
  wait_until 20 sh -c "[ \$(sqlite3 'file:$DB?mode=ro' \"select count(*) from tb_csm_log where lsid='$1' and outcome='$2'\") -ge 1 ]"
}
bt_custom() { # lsid field: the live session's custom field, as btsim holds it
  curl -s "$BTSIM_URL/_btsim/sessions" | python3 -c 'import json,sys
for s in json.load(sys.stdin)["sessions"]:
    if s["lsid"] == sys.argv[1]: print(s["custom"].get(sys.argv[2], ""))' "$1" "$2"
}
start_live() { # JSON body -> lsid of a session with a rep present (member_added sent)
  json_get "$(curl -s -X POST -H "$J" -d "$1" "$BTSIM_URL/_btsim/sessions/start")" lsid
}
end_and_import() { # lsid: end it; the appliance's second recipient (session_end) gets the end event
  curl -s -o /dev/null -X POST "$BTSIM_URL/_btsim/sessions/$1/end"
  wait_until 20 sh -c "[ \$(sqlite3 'file:$DB?mode=ro' \"select count(*) from tb_incoming where lsid='$1' and event='support_conference_end'\") -ge 1 ]"
  curl -s -o /dev/null -X POST "$TB_URL/api/x_bmgr_crm/outbound_event/session_end?outbound_event_token=$TOKEN" \
    --data-binary "$(sql "select cast(body as text) from tb_incoming where lsid='$1' and event='support_conference_end' limit 1")"
  wait_sql "select state from tb_job where lsid='$1' and kind='session_import'" done
}

# --- the story: click-to-chat, a rep joins, the case appears on the session
hdrs=$(curl -s -o /dev/null -D - -X POST "$TB_URL/csm/chat/start" \
  --data-urlencode 'customer.name=Bob <b>Smith</b>' --data-urlencode 'customer.company=BobCo' \
  --data-urlencode 'customer.details=VPN is down & "urgent"' --data-urlencode 'customer_username=b.smith')
expect_match "chat start redirects (303)" "$hdrs" '^HTTP/1.1 303'
loc=$(printf '%s' "$hdrs" | tr -d '\r' | awk 'tolower($1)=="location:" {print $2}')
expect_match "  to the appliance's start_session with c2cjs=1" "$loc" "^$BTSIM_URL/api/start_session\?.*c2cjs=1"
L=$(curl -s -o /dev/null -D - "$loc" | tr -d '\r' | awk 'tolower($1)=="x-btsim-lsid:" {print $2}')
expect_match "the customer's session waits on the appliance" "$L" '^[0-9a-f]{32}$'
expect_eq "  with customer_username from the form" "$(bt_custom "$L" customer_username)" b.smith
sleep 0.5
expect_eq "no case before a rep joins" "$(case_of "$L")" ""
curl -s -o /dev/null -X POST -H "$J" -d '{"rep":"jdoe"}' "$BTSIM_URL/_btsim/sessions/$L/join"
wait_case "$L" && ok "a case is created when the rep joins" ||
  not_ok "a case is created when the rep joins ($(sql "select state, last_error from tb_job where lsid='$L'"); $(tb csm log))"
CS=$(case_of "$L")
CS_ID=$(tsql "select sys_id from sn_customerservice_case where number='$CS'")
expect_match "  a CS number" "$CS" '^CS[0-9]{7}$'
expect_eq "  static mapping: state 6" "$(tsql "select state from sn_customerservice_case where number='$CS'")" 6
expect_eq "  dynamic mapping: short description from the customer's details" \
  "$(tsql "select short_description from sn_customerservice_case where number='$CS'")" 'VPN is down & "urgent"'
expect_eq "  lookup mapping: assigned to bob.ross" "$(tsql "select assigned_to from sn_customerservice_case where number='$CS'")" "$BOB_ID"
expect_eq "  dynamic lookup: contact b.smith" "$(tsql "select contact from sn_customerservice_case where number='$CS'")" "$BETH_ID"
expect_eq "  correlated with the session" "$(tsql "select correlation_id from sn_customerservice_case where number='$CS'")" "csm:$AID:$L"
expect_eq "  no warnings" "$(sql "select warnings from tb_csm_case where lsid='$L'")" ""
expect_eq "  made by the outbound event" "$(sql "select origin || ' ' || rep_username from tb_csm_case where lsid='$L'")" "event jdoe"
wait_sql "select count(*) from tb_csm_case where lsid='$L' and attribute_set_at is not null" 1 &&
  ok "  recorded as written to the session" || not_ok "  recorded as written to the session"
expect_eq "snow_case_id is on the live session" "$(bt_custom "$L" snow_case_id)" "$CS_ID"
expect_match "csm cases lists it" "$(tb csm cases)" "$L +$CS +event +jdoe +yes"
expect_match "csm log says created" "$(tb csm log --lsid "$L")" "event +created +$CS"

# --- duplicates: the same event again, a second rep joining: no second case
body=$(sql "select cast(body as text) from tb_incoming where lsid='$L' and event='support_conference_member_added' and cast(body as text) like '%type=representative%' limit 1")
http POST "$TB_URL/api/x_bmgr_crm/outbound_event/case?auto_create=true&outbound_event_token=$TOKEN" --data-binary "$body"
expect_eq "re-delivered event recognised" "$(json_get "$HTTP_BODY" result.status)" duplicate
http POST "$TB_URL/api/x_bmgr_crm/outbound_event/case?auto_create=true&outbound_event_token=$TOKEN" \
  --data-binary "$(printf '%s' "$body" | sed 's/timestamp=[0-9]*/timestamp=1/')"
expect_eq "the same join with another time is queued" "$(json_get "$HTTP_BODY" result.status)" accepted
curl -s -o /dev/null -X POST -H "$J" -d '{"rep":"pobrien"}' "$BTSIM_URL/_btsim/sessions/$L/join"
wait_until 20 sh -c "[ \$(sqlite3 'file:$DB?mode=ro' \"select count(*) from tb_csm_log where lsid='$L' and outcome='existing'\") -ge 2 ]" &&
  ok "both recorded as the existing case" || not_ok "both recorded as the existing case ($(tb csm log --lsid "$L"))"
expect_eq "  one case for the session" "$(tsql "select count(*) from sn_customerservice_case where correlation_id='csm:$AID:$L'")" 1
expect_eq "  case events jobs all done" "$(sql "select count(*) from tb_job where lsid='$L' and kind='case_event' and state<>'done'")" 0

# --- the session ends: its chat lands on the case as a work note
curl -s -o /dev/null -X POST -H "$J" -d '{"from":"customer","text":"It says <access denied>"}' "$BTSIM_URL/_btsim/sessions/$L/chat"
end_and_import "$L" && ok "session imported" || not_ok "session imported ($(sql "select state, last_error from tb_job where lsid='$L' and kind='session_import'"))"
expect_eq "  linked to the case" "$(sql "select task_number from tb_session where lsid='$L'")" "$CS"
wait_tsql "select count(*) from sys_journal_field where element_id='$CS_ID' and value like 'BeyondTrust session $L%'" 1
expect_eq "  one work note on the case" "$(tsql "select count(*) from sys_journal_field where element_id='$CS_ID' and value like 'BeyondTrust session $L%'")" 1
expect_match "  with the chat" "$(tsql "select value from sys_journal_field where element_id='$CS_ID'")" "It says <access denied>"

# --- click-to-chat from a case: the session names its case; no second case
out=$(curl -s "$TB_URL/csm/chat?case=$CS")
expect_match "chat page names the case" "$out" "About case $CS"
loc=$(curl -s -o /dev/null -D - -X POST "$TB_URL/csm/chat/start" --data-urlencode "case=$CS_ID" \
  --data-urlencode 'customer.name=Bob' | tr -d '\r' | awk 'tolower($1)=="location:" {print $2}')
expect_match "  start URL carries snow_case_id" "$loc" "session.custom.snow_case_id=$CS_ID"
L2=$(curl -s -o /dev/null -D - "$loc" | tr -d '\r' | awk 'tolower($1)=="x-btsim-lsid:" {print $2}')
expect_eq "  the session carries the case's sys_id" "$(bt_custom "$L2" snow_case_id)" "$CS_ID"
curl -s -o /dev/null -X POST -H "$J" -d '{"rep":"jdoe"}' "$BTSIM_URL/_btsim/sessions/$L2/join"
wait_case "$L2" && ok "  its case is recorded" || not_ok "  its case is recorded ($(tb csm log --lsid "$L2"))"
expect_eq "  as the case it came from" "$(sql "select case_number || ' ' || origin from tb_csm_case where lsid='$L2'")" "$CS session"
expect_eq "  no new case" "$(tsql "select count(*) from sn_customerservice_case")" 1

# --- conditions: public portal
tb csm config Default set --portals "Partners, VIP" >/dev/null
L3=$(start_live '{"rep":"jdoe","public_portal":"Main Site","customer_name":"Carl"}')
wait_decision "$L3" skipped && ok "portal not listed: skipped" || not_ok "portal not listed: skipped ($(tb csm log --lsid "$L3"))"
expect_match "  the reason names the portal" "$(sql "select detail from tb_csm_log where lsid='$L3'")" "public portal 'Main Site' is not in"
expect_eq "  no case" "$(case_of "$L3")" ""
L4=$(start_live '{"rep":"jdoe","public_portal":"partners","customer_name":"Dora"}')
wait_case "$L4" && ok "listed portal (any case): created" || not_ok "listed portal: created ($(tb csm log --lsid "$L4"))"

# --- conditions: required custom fields
tb csm config Default set --portals "" --required-fields "custom_field_1, customer_email" >/dev/null
L5=$(start_live '{"rep":"jdoe","customer_name":"Eve","customer_email":"eve@example.com"}')
wait_decision "$L5" skipped && ok "required field empty: skipped" || not_ok "required field empty: skipped"
expect_match "  the reason names the field" "$(sql "select detail from tb_csm_log where lsid='$L5'")" "custom_field_1' has no value"
L6=$(start_live '{"rep":"jdoe","customer_name":"Finn","customer_email":"f@example.com","custom":{"custom_field_1":"gold"}}')
wait_case "$L6" && ok "required fields present: created" || not_ok "required fields present: created ($(tb csm log --lsid "$L6"))"

# --- conditions: attended / unattended
tb csm config Default set --required-fields "" --unattended no >/dev/null
L7=$(start_live '{"rep":"jdoe","attended":false,"customer_host":"KIOSK-7"}')
wait_decision "$L7" skipped && ok "unattended not allowed: skipped" || not_ok "unattended not allowed: skipped ($(tb csm log --lsid "$L7"))"
expect_match "  the reason" "$(sql "select detail from tb_csm_log where lsid='$L7'")" "unattended"
tb csm config Default set --unattended yes --attended no >/dev/null
L8=$(start_live '{"rep":"jdoe","customer_name":"Gus"}')
wait_decision "$L8" skipped && ok "attended not allowed: skipped" || not_ok "attended not allowed: skipped"
L9=$(start_live '{"rep":"jdoe","attended":false,"customer_host":"KIOSK-8"}')
wait_case "$L9" && ok "unattended allowed: created" || not_ok "unattended allowed: created ($(tb csm log --lsid "$L9"))"
expect_match "  described by its endpoint" "$(tsql "select short_description from sn_customerservice_case where correlation_id='csm:$AID:$L9'")" "KIOSK-8"
tb csm config Default set --attended yes >/dev/null

# --- a lookup that finds nothing: warning, the case is still created
L10=$(start_live '{"rep":"jdoe","customer_name":"Hal","customer_username":"nobody.here","details":"Printer"}')
wait_case "$L10" && ok "lookup finds nothing: case created" || not_ok "lookup finds nothing: case created ($(tb csm log --lsid "$L10"))"
expect_eq "  contact left empty" "$(tsql "select coalesce(contact,'') from sn_customerservice_case where correlation_id='csm:$AID:$L10'")" ""
expect_eq "  the other mappings applied" "$(tsql "select state || ' ' || assigned_to from sn_customerservice_case where correlation_id='csm:$AID:$L10'")" "6 $BOB_ID"
expect_match "  warning recorded" "$(sql "select warnings from tb_csm_case where lsid='$L10'")" "contact: no sys_user record has user_name = 'nobody.here'"
expect_match "  and shown by csm cases" "$(tb csm cases)" "no sys_user record"

# --- other events on the case route need nothing; auto_create=false is kept, not queued
expect_eq "no case_event job failed" "$(sql "select count(*) from tb_job where kind='case_event' and state='failed'")" 0
http POST "$TB_URL/api/x_bmgr_crm/outbound_event/case?auto_create=false&outbound_event_token=$TOKEN" \
  -d "event=support_conference_member_added&timestamp=9&lsid=$L10&appliance_id=rs-csm&type=representative&username=jdoe"
expect_eq "auto_create=false: stored" "$(json_get "$HTTP_BODY" result.status)" ignored

# --- auto-create off: nothing, and why
tb csm config Default set --auto-create no >/dev/null
L11=$(start_live '{"rep":"jdoe","customer_name":"Ida"}')
wait_decision "$L11" skipped && ok "auto-create off: skipped" || not_ok "auto-create off: skipped"
expect_match "  the reason" "$(sql "select detail from tb_csm_log where lsid='$L11'")" "auto-create is off"

# --- manual association: the rep types the case number into External Key
TOK=$(json_get "$(curl -s -u btsim-client:btsim-secret -d grant_type=client_credentials "$BTSIM_URL/oauth2/token")" access_token)
out=$(curl -s -H "Authorization: Bearer $TOK" "$BTSIM_URL/api/command" --data-urlencode action=set_session_attributes \
  --data-urlencode "lsid=$L11" --data-urlencode "session.custom.external_key=$CS")
expect_match "external key typed in" "$out" "Session attributes were set"
end_and_import "$L11" && ok "session with the external key imported" || not_ok "session with the external key imported"
expect_eq "  linked to the case by its number" "$(sql "select task_number from tb_session where lsid='$L11'")" "$CS"
wait_tsql "select count(*) from sys_journal_field where element_id='$CS_ID' and value like 'BeyondTrust session $L11%'" 1
expect_eq "  work note on that case" "$(tsql "select count(*) from sys_journal_field where element_id='$CS_ID' and value like 'BeyondTrust session $L11%'")" 1

expect_eq "no case_event job failed" "$(sql "select count(*) from tb_job where kind='case_event' and state='failed'")" 0

# --- remote store: the instance is down when a rep joins; the job retries,
# and once the instance is back the session has exactly one case
if [ "$TB_TICKET_STORE" = servicenow ]; then
  tb csm config Default set --auto-create yes >/dev/null
  SNOW_PORT=$(cat "$WORK/snow.port")
  kill -TERM "$SNOW_PID"; wait "$SNOW_PID" 2>/dev/null
  L12=$(start_live '{"rep":"jdoe","customer_name":"Jo","customer_username":"b.smith","details":"Down"}')
  job_retried() { [ "$(sql "select count(*) from tb_job where lsid='$L12' and kind='case_event' and state='queued' and attempts >= 1")" -ge 1 ]; }
  wait_until 30 job_retried && ok "instance down: the case_event job is queued again" ||
    not_ok "instance down: the case_event job is queued again ($(sql "select state, attempts, last_error from tb_job where lsid='$L12'"))"
  expect_match "  saying why" "$(sql "select last_error from tb_job where lsid='$L12' and kind='case_event'")" "ticket store|look the mapped values up|create the case"
  expect_eq "  no case recorded meanwhile" "$(case_of "$L12")" ""
  "$TB_BIN" -c "$WORK/snow.conf" --db "$SNOW_DB" serve --port "$SNOW_PORT" >>"$WORK/snow.log" 2>&1 &
  SNOW_PID=$!
  PIDS+=("$SNOW_PID")
  has_case() { [ -n "$(case_of "$L12")" ]; }
  wait_until 40 has_case && ok "instance back: the case is created" ||
    not_ok "instance back: the case is created ($(sql "select state, attempts, last_error from tb_job where lsid='$L12'"))"
  wait_sql "select count(*) from tb_job where lsid='$L12' and kind='case_event' and state<>'done'" 0 &&
    ok "  the job is done" || not_ok "  the job is done"
  expect_eq "  exactly one case for the session" \
    "$(tsql "select count(*) from sn_customerservice_case where correlation_id='csm:$AID:$L12'")" 1
  expect_eq "  the one recorded" "$(tsql "select number from sn_customerservice_case where correlation_id='csm:$AID:$L12'")" "$(case_of "$L12")"
  expect_eq "  with its mapped fields" \
    "$(tsql "select contact || ' ' || short_description from sn_customerservice_case where correlation_id='csm:$AID:$L12'")" "$BETH_ID Down"
  expect_eq "  no warnings" "$(sql "select warnings from tb_csm_case where lsid='$L12'")" ""
  expect_eq "  snow_case_id on the live session" "$(bt_custom "$L12" snow_case_id)" \
    "$(tsql "select sys_id from sn_customerservice_case where correlation_id='csm:$AID:$L12'")"
fi
finish

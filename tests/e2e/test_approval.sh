# Change-management approval end to end: the PRA appliance's ticket-system
# requests (JSON and form) against a real daemon and its embedded ticket
# store; each default check, override rules, record type, active states,
# fail-closed refusals, decision records and work notes.
. "$TB_E2E_LIB"

tb_init --product pra
tb sys-user add jdoe --name "John Doe" >/dev/null || not_ok "sys-user add"
tb sys-user add asmith --name "Alice Smith" --bt-username alice.bt >/dev/null
tb ci add WEB01 >/dev/null
tb ci add DB01 >/dev/null
CHG=$(tb ticket create --table change_request --short-description "Patch WEB01" --assigned-to jdoe --ci WEB01 \
  --approval approved | awk '{print $1}')
CHG_ID=$(tb ticket show "$CHG" | awk '/^sys_id:/ {print $2}')
WEB01_ID=$(tsql "select sys_id from cmdb_ci where name='WEB01'")
INC=$(tb ticket create --short-description "DB slow" --assigned-to asmith --ci DB01 --approval approved --state 2 |
  awk '{print $1}')
UNAPPROVED=$(tb ticket create --table change_request --short-description "Not yet" --assigned-to jdoe --ci WEB01 |
  awk '{print $1}')
CLOSED=$(tb ticket create --table change_request --short-description "Done" --assigned-to jdoe --ci WEB01 \
  --approval approved --state 3 | awk '{print $1}')
expect_match "tickets created" "$CHG $INC $UNAPPROVED $CLOSED" '^CHG[0-9]{7} INC[0-9]{7} CHG[0-9]{7} CHG[0-9]{7}$'
tb_start
URL="$TB_URL/api/x_bmgr_bomgar_pam/endpoint_approval"

# ask TICKET USER HOST [extra curl args]: JSON request; sets HTTP_STATUS, HTTP_BODY, VALID, MSG
ask() {
  local t=$1 u=$2 h=$3; shift 3
  http POST "$URL" -H 'Content-Type: application/json' "$@" --data-binary \
    "{\"ticket_id\":\"$t\",\"user\":{\"id\":5,\"username\":\"$u\",\"public_display_name\":\"Some One\"},\"jump_item\":{\"id\":9,\"name\":\"jump-$h\",\"hostname\":\"$h\",\"jump_group\":{\"id\":1,\"name\":\"Ops\",\"type\":\"shared\"}}}"
  # one interpreter start per answer: they are slow on a loaded machine
  mapfile -t R < <(python3 -c 'import json,sys
try: d = json.loads(sys.argv[1])
except Exception: d = {}
if not isinstance(d, dict): d = {}
print(d.get("is_valid", "")); print(str(d.get("error_message", "")).replace("\n", " "))' "$HTTP_BODY")
  VALID=${R[0]:-}; MSG=${R[1]:-}
}

# --- default checks: allow, with the custom attributes for the later import
ask "$CHG" jdoe WEB01
expect_eq "allowed: 200" "$HTTP_STATUS" 200
expect_eq "allowed: is_valid" "$VALID" True
expect_eq "snow_task_id attribute" "$(json_get "$HTTP_BODY" custom_attributes.snow_task_id)" "$CHG_ID"
expect_eq "snow_cmdb_ci_id attribute" "$(json_get "$HTTP_BODY" custom_attributes.snow_cmdb_ci_id)" "$WEB01_ID"
# with a remote store the note comes from an outbox job: wait for it
notes_on() { tsql "select count(*) from sys_journal_field where element_id='$1' and value like 'BeyondTrust access request $2%'"; }
wait_until 20 sh -c "[ \"\$(sqlite3 'file:$TICKETS_DB?mode=ro' \"select count(*) from sys_journal_field where element_id='$CHG_ID' and value like 'BeyondTrust access request ALLOWED%'\")\" = 1 ]"
expect_eq "one work note on the change" "$(notes_on "$CHG_ID" ALLOWED)" 1
expect_match "work note on the change" "$(tb ticket show "$CHG")" "BeyondTrust access request ALLOWED"
# by sys_id, by BeyondTrust username, case-insensitive computer name, as a form
ask "$CHG_ID" jdoe web01;            expect_eq "found by sys_id" "$VALID" True
ask "$INC" alice.bt DB01;            expect_eq "rep matched by BeyondTrust username" "$VALID" True
ask "$INC" asmith db01;              expect_eq "rep matched by user name" "$VALID" True
http POST "$URL" --data "ticket_id=$CHG&username=jdoe&hostname=WEB01"
expect_eq "form body allowed" "$(json_get "$HTTP_BODY" is_valid)" True

# --- each check failing, with its own message
ask CHG9999999 jdoe WEB01;  expect_eq "unknown ticket denied" "$VALID" False
expect_match "  says not found" "$MSG" "CHG9999999 was not found"
ask "$CHG" mallory WEB01;   expect_eq "wrong rep denied" "$VALID" False
expect_match "  says not assigned" "$MSG" "not assigned to mallory"
ask "$CHG" jdoe DB01;       expect_eq "wrong computer denied" "$VALID" False
expect_match "  names both computers" "$MSG" "configuration item \(WEB01\) is not the computer being accessed \(DB01\)"
ask "$UNAPPROVED" jdoe WEB01; expect_eq "unapproved denied" "$VALID" False
expect_match "  says not approved" "$MSG" "is not approved"
ask "$CLOSED" jdoe WEB01;   expect_eq "closed change denied" "$VALID" False
expect_match "  says not active" "$MSG" "not in an active state \(state 3"
UNAPPROVED_ID=$(tsql "select sys_id from change_request where number='$UNAPPROVED'")
wait_until 20 sh -c "[ \"\$(sqlite3 'file:$TICKETS_DB?mode=ro' \"select count(*) from sys_journal_field where element_id='$UNAPPROVED_ID' and value like 'BeyondTrust access request DENIED%'\")\" = 1 ]"
expect_match "denial noted on the task" "$(tb ticket show "$UNAPPROVED")" "BeyondTrust access request DENIED"
expect_eq "no attributes on deny" "$(json_get "$HTTP_BODY" custom_attributes)" "{}"

# --- active states are configurable per table
tb approval states set change_request "-5,-4,-3,-2,-1,0,3" >/dev/null
sleep 1.2
ask "$CLOSED" jdoe WEB01; expect_eq "state 3 active after 'approval states set'" "$VALID" True
tb approval states remove change_request >/dev/null
out=$(tb approval states set change_request "<x" 2>&1); rc=$?
expect_eq "bad states spec refused" "$rc" 1
expect_match "  with a reason" "$out" "SPEC:"
sleep 1.2

# --- Override Change Management: record type
tb appliance set Default --override-change-management yes --approval-record-type change_request >/dev/null
sleep 1.2
ask "$INC" asmith DB01; expect_eq "incident refused with record type change_request" "$VALID" False
expect_match "  says where it looked" "$MSG" "not found among change_request records"
ask "$CHG" jdoe WEB01;  expect_eq "change still allowed" "$VALID" True

# --- override rules: every comparator and both types, templated messages
tb override add --field approval --comparator = --value approved --message "Approval is %TaskFieldName%, needs %FieldValue%" >/dev/null
tb override add --field priority --comparator '<' --value 3 --message "Priority %TaskFieldName% is not %ComparatorSymbol% %FieldValue%" >/dev/null
tb override add --field short_description --comparator = --reference jump_item_name --message "Jump item %FieldValue% is not '%TaskFieldName%'" >/dev/null
out=$(tb override list)
expect_match "override list shows three rules" "$(printf '%s\n' "$out" | grep -c '^[123] ')" '^3$'
sleep 1.2
RULECHG=$(tb ticket create --table change_request --short-description "jump-WEB01" --approval approved --set priority=2 |
  awk '{print $1}')
ask "$RULECHG" nobody WEB01;   expect_eq "rules replace the default checks" "$VALID" True
ask "$RULECHG" nobody DB01;    expect_eq "reference rule denies" "$VALID" False
expect_eq "  with its template" "$MSG" "Jump item jump-DB01 is not 'jump-WEB01'"
RULECHG_ID=$(tb ticket show "$RULECHG" | awk '/^sys_id:/ {print $2}')
tsql_write "update change_request set priority=4 where sys_id='$RULECHG_ID'"
ask "$RULECHG" nobody WEB01;   expect_eq "'<' rule denies" "$VALID" False
expect_eq "  with its template" "$MSG" "Priority 4 is not < 3"
ID3=$(tb override list | awk '$3 == "short_description" {print $2}')
tb override move "$ID3" 1 >/dev/null
expect_match "move puts the rule first" "$(tb override list | awk '$1 == 1 {print $3}')" '^short_description$'
tb override add --field priority --comparator '>' --value 1 >/dev/null
sleep 1.2
ask "$RULECHG" nobody DB01;    expect_eq "rules run in order: the moved rule speaks first" "$MSG" "Jump item jump-DB01 is not 'jump-WEB01'"
ID2=$(tb override list | awk '$3 == "priority" && $4 == "<" {print $2}')
tb override remove "$ID2" >/dev/null
sleep 1.2
ask "$RULECHG" nobody WEB01;   expect_eq "'>' rule passes after removing '<'" "$VALID" True
tsql_write "update change_request set priority=1 where sys_id='$RULECHG_ID'"
ask "$RULECHG" nobody WEB01;   expect_eq "'>' rule denies" "$VALID" False
expect_match "  default message without a template" "$MSG" "priority \(1\) > 1 does not hold"
out=$(tb override add --field priority --comparator '!' --value 1 2>&1); expect_match "bad comparator refused" "$out" "expected =, < or >"
out=$(tb override add --field priority --comparator = --reference no_such 2>&1); expect_match "unknown reference field refused" "$out" "not a request field"
out=$(tb override add --field "x; drop" --comparator = --value 1 2>&1); expect_match "bad field name refused" "$out" "not a task field name"
out=$(tb override remove 99999 2>&1); expect_match "removing a missing rule says so" "$out" "has no rule 99999"
for id in $(tb override list | awk 'NR > 1 {print $2}'); do tb override remove "$id" >/dev/null; done
tb appliance set Default --override-change-management no >/dev/null
sleep 1.2

# --- request field names the administrator adds
http POST "$URL" -H 'Content-Type: application/json' --data-binary "{\"TicketNumber\":\"$CHG\",\"Who\":\"jdoe\",\"Host\":\"WEB01\"}"
expect_eq "unknown field names: 400" "$HTTP_STATUS" 400
tb approval fields set TicketNumber ticket_id >/dev/null && tb approval fields set Who username >/dev/null &&
  tb approval fields set Host hostname >/dev/null
sleep 1.2
http POST "$URL" -H 'Content-Type: application/json' --data-binary "{\"TicketNumber\":\"$CHG\",\"Who\":\"jdoe\",\"Host\":\"WEB01\"}"
expect_eq "after 'approval fields set': allowed" "$(json_get "$HTTP_BODY" is_valid)" True
out=$(tb approval fields set Foo not_a_field 2>&1); expect_match "unknown internal field refused" "$out" "not a field"

# --- fail closed: the same HTTP errors as the intake, and a record of each
http GET "$URL";                                expect_eq "GET: 405" "$HTTP_STATUS" 405
http POST "$URL" -H 'Content-Type: application/json' --data-binary '{"ticket_id": '
expect_eq "malformed JSON: 400" "$HTTP_STATUS" 400
expect_match "  JSON error body" "$HTTP_BODY" '"status":"failure"'
http POST "$URL" -H 'Content-Type: application/json' --data-binary '["CHG0030001"]'
expect_eq "JSON array: 400" "$HTTP_STATUS" 400
http POST "$URL" -H 'Content-Type: application/json' --data-binary '{"ticket_id":{"a":{"b":{"c":{"d":{"e":1}}}}}}'
expect_eq "deep nesting: 400" "$HTTP_STATUS" 400
http POST "$URL" --data-binary 'ticket_id=%ZZ'
expect_eq "bad form escape: 400" "$HTTP_STATUS" 400
head -c 70000 /dev/zero | tr '\0' 'a' >"$WORK/big"
http POST "$URL" --data-binary "@$WORK/big";     expect_eq "oversized: 413" "$HTTP_STATUS" 413
http POST "$URL?appliance=Nope" --data "ticket_id=$CHG&username=jdoe&hostname=WEB01"
expect_eq "unknown appliance: 404" "$HTTP_STATUS" 404
printf 's3cret-token\n' >"$WORK/token"
tb appliance set Default --outbound-event-token-file "$WORK/token" >/dev/null
sleep 1.2
http POST "$URL" --data "ticket_id=$CHG&username=jdoe&hostname=WEB01"
expect_eq "token missing: 403" "$HTTP_STATUS" 403
http POST "$URL?outbound_event_token=wrong" --data "ticket_id=$CHG&username=jdoe&hostname=WEB01"
expect_eq "wrong token: 403" "$HTTP_STATUS" 403
http POST "$URL?outbound_event_token=s3cret-token" --data "ticket_id=$CHG&username=jdoe&hostname=WEB01"
expect_eq "right token: allowed" "$(json_get "$HTTP_BODY" is_valid)" True
tb appliance set Default --accepted-ips 10.9.9.9 >/dev/null
sleep 1.2
http POST "$URL?outbound_event_token=s3cret-token" --data "ticket_id=$CHG&username=jdoe&hostname=WEB01"
expect_eq "source IP not accepted: 403" "$HTTP_STATUS" 403
tb appliance set Default --accepted-ips "" --enabled no >/dev/null
sleep 1.2
http POST "$URL?outbound_event_token=s3cret-token" --data "ticket_id=$CHG&username=jdoe&hostname=WEB01"
expect_eq "integration disabled: 403" "$HTTP_STATUS" 403
printf '' >"$WORK/empty"
tb appliance set Default --enabled yes --outbound-event-token-file "$WORK/empty" >/dev/null
sleep 1.2
# hostile values: SQL metacharacters, control characters, huge ticket IDs, bad UTF-8
ask "' OR '1'='1" jdoe WEB01; expect_eq "SQL-looking ticket ID denied" "$VALID" False
http POST "$URL" --data "ticket_id=CHG%01&username=jdoe"; expect_eq "control characters: 400" "$HTTP_STATUS" 400
http POST "$URL" --data "ticket_id=$(head -c 1500 /dev/zero | tr '\0' 'C')"; expect_eq "overlong value: 400" "$HTTP_STATUS" 400
http POST "$URL" --data "ticket_id=%FF%FE&username=jdoe"
expect_eq "invalid UTF-8 ticket: still a JSON answer" "$HTTP_STATUS" 200
expect_eq "  denied" "$(json_get "$HTTP_BODY" is_valid)" False

# --- the ticket store failing: deny, never allow
tsql_write "alter table change_request rename to change_request_away"
ask "$CHG" jdoe WEB01
expect_eq "ticket store failing: still 200" "$HTTP_STATUS" 200
expect_eq "  denied" "$VALID" False
tsql_write "alter table change_request_away rename to change_request"
ask "$CHG" jdoe WEB01; expect_eq "allowed again once the store is back" "$VALID" True

# --- the record of every decision
out=$(tb approvals --limit 200)
expect_match "approvals lists allows" "$out" "allow .* authorizes jdoe on WEB01"
expect_match "approvals lists denials" "$out" "deny .* not assigned to mallory"
expect_match "approvals lists refusals" "$out" "refused .* Outbound event token does not match"
expect_match "approvals lists store failures" "$out" "deny .* ticket system unavailable"
out=$(tb approvals --ticket "$CHG" --denied --verbose --limit 20)
expect_match "filter by ticket and outcome, verbose" "$out" "source 127.0.0.1, task $CHG in change_request, work note written"
expect_match "raw body kept for unreadable requests" \
  "$(sql "select count(*) from tb_approval where http_status=400 and raw like '%ticket_id%'")" '^[4-9]$'
expect_match "raw body shown" "$(tb approvals --verbose --limit 200)" 'request as received: \{"ticket_id": '
expect_eq "token never stored" "$(sql "select count(*) from tb_approval where raw like '%s3cret%'")" 0
expect_eq "no allow is recorded without a task" "$(sql "select count(*) from tb_approval where allowed=1 and task_sys_id is null")" 0
expect_eq "every allow is noted" "$(sql "select count(*) from tb_approval where allowed=1 and noted=0")" 0
out=$(tb approval check --ticket "$CHG" --user jdoe --computer WEB01); rc=$?
expect_eq "approval check allows" "$rc" 0
out=$(tb approval check --ticket "$CHG" --user bob --computer WEB01); rc=$?
expect_eq "approval check denies with exit 3" "$rc" 3
expect_match "  and says why" "$out" "DENY: .* not assigned to bob"
tb_stop
expect_eq "daemon stopped cleanly" "$TB_EXIT" 0
finish

# The ServiceNow-compatible Table API and Attachment API end to end, over
# HTTPS with a certificate from a test CA: every method and status code,
# the error envelope, each sysparm_* parameter, operators through
# sysparm_query, name-value filters, pagination headers, versions, roles,
# attachments, and a pysnow-style client on python3's standard library.
# Hostile input is in test_table_api_hostile.sh.
. "$TB_E2E_LIB"
# The system interpreter: a version-manager shim costs a second a call.
PY=$(command -v /usr/bin/python3 || command -v python3)
python3() { "$PY" "$@"; }

tb_init --product pra
ADMIN_PW=$(awk '/Admin password/ {print $3}' "$WORK/init.out")
PW=correct-horse-battery
printf '%s\n' "$PW" | tb user add alice --roles itil --password-file - >/dev/null
printf '%s\n' "$PW" | tb user add bob --password-file - >/dev/null
printf '%s\n' "$PW" | tb user add svc --roles admin --password-file - >/dev/null
JDOE=$(tb sys-user add jdoe --name "John Doe" | awk '{print $2}')
tb sys-user add asmith --name "Alice Smith" >/dev/null
WEB01=$(tb ci add WEB01 | awk '{print $2}')
expect_match "fixtures" "$JDOE $WEB01" '^[0-9a-f]{32} [0-9a-f]{32}$'

# --- a CA, and a server certificate for 127.0.0.1 and localhost signed by it
test_cert "$WORK/" && ok "test certificate made" || { not_ok "test certificate made (openssl)"; finish; }
cat >"$WORK/tb.conf" <<CONF
listen_address = 127.0.0.1
tls_cert = $WORK/cert.pem
tls_key = $WORK/key.pem
CONF
"$TB_BIN" -c "$WORK/tb.conf" --db "$DB" serve --port 0 --port-file "$WORK/tb.port" >>"$WORK/tb.log" 2>&1 &
TB_PID=$!
PIDS+=("$TB_PID")
wait_file "$WORK/tb.port" || { not_ok "ticketbridge started"; finish; }
PORT=$(cat "$WORK/tb.port")
BASE="https://127.0.0.1:$PORT"
T="$BASE/api/now/table"

# api METHOD URL [curl args]: as alice over HTTPS, validating the certificate.
api() { local m=$1 u=$2; shift 2; http "$m" "$u" --cacert "$WORK/ca.pem" -u "alice:$PW" "$@"; }
as() { local who=$1 m=$2 u=$3; shift 3; http "$m" "$u" --cacert "$WORK/ca.pem" -u "$who" "$@"; }
hdr() { curl -s -o /dev/null -D - --cacert "$WORK/ca.pem" -u "alice:$PW" "$@" | tr -d '\r'; }
j() { json_get "$HTTP_BODY" "$1"; }
envelope() { # envelope NAME STATUS MESSAGE: status, message and "status":"failure"
  expect_eq "$1: status" "$HTTP_STATUS" "$2"
  expect_eq "$1: error.message" "$(j error.message)" "$3"
  expect_eq "$1: status failure" "$(j status)" failure
}

# --- HTTPS: the certificate validates by address and by name, and only with the CA
code=$(curl -s -o /dev/null -w '%{http_code}' -u "alice:$PW" "$T/sys_user")
expect_eq "HTTPS without the CA: verification fails" "$code" 000
api GET "$T/sys_user?sysparm_limit=1"
expect_eq "HTTPS with the CA bundle (127.0.0.1)" "$HTTP_STATUS" 200
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$WORK/ca.pem" -u "alice:$PW" \
  --resolve "localhost:$PORT:127.0.0.1" "https://localhost:$PORT/api/now/table/sys_user?sysparm_limit=1")
expect_eq "HTTPS with the CA bundle (localhost)" "$code" 200
expect_match "links say https" "$(hdr "$T/sys_user?sysparm_limit=1" | grep -i '^Link:')" "<https://127.0.0.1:$PORT/api/now/table/sys_user\?"

# --- authentication
http GET "$T/incident" --cacert "$WORK/ca.pem"
envelope "no credentials" 401 "User Not Authenticated"
expect_eq "  detail" "$(j error.detail)" "Required to provide Auth information"
expect_match "  WWW-Authenticate" "$(curl -s -o /dev/null -D - --cacert "$WORK/ca.pem" "$T/incident")" 'WWW-Authenticate: Basic realm="ticketbridge"'
as "alice:wrong-password-x" GET "$T/incident"
envelope "wrong password" 401 "User Not Authenticated"
as "alice:$PW" GET "$T/no_such_table"
TOKEN=$(tb token create alice --name facade | grep -o 'tbk_[A-Za-z0-9_-]*' | head -1)
http GET "$T/sys_user?sysparm_limit=1" --cacert "$WORK/ca.pem" -H "Authorization: Bearer $TOKEN"
expect_eq "Bearer API token accepted" "$HTTP_STATUS" 200

# --- POST: 201, Location, every value a string, unknown fields ignored, journal entry
api POST "$T/incident" -H 'Content-Type: application/json' -H 'Accept: application/json' \
  --data-binary "{\"short_description\":\"Disk full\",\"caller_id\":\"$JDOE\",\"impact\":2,\"urgency\":\"2\",\"active\":true,\"no_such_field\":\"x\",\"sys_created_on\":\"2000-01-01 00:00:00\",\"work_notes\":\"Opened by the API\"}"
expect_eq "POST: 201" "$HTTP_STATUS" 201
INC=$(j result.sys_id)
NUM=$(j result.number)
expect_match "POST: number and sys_id" "$NUM $INC" '^INC[0-9]{7} [0-9a-f]{32}$'
expect_eq "POST: number as a string" "$(j result.impact)" 2
expect_eq "POST: sys_created_by is the caller" "$(j result.sys_created_by)" alice
expect_match "POST: system fields are the store's" "$(j result.sys_created_on)" '^20[0-9]{2}-[01][0-9]-[0-3][0-9] [0-2][0-9]:[0-5][0-9]:[0-5][0-9]$'
expect_eq "POST: unknown field ignored" "$(j result.no_such_field)" ""
expect_eq "POST: reference value" "$(j result.caller_id.value)" "$JDOE"
expect_eq "POST: reference link" "$(j result.caller_id.link)" "$T/sys_user/$JDOE"
expect_eq "POST: work_notes read back empty" "$(j result.work_notes)" ""
expect_eq "POST: every value a string or a reference" "$(python3 -c 'import json,sys; r=json.load(sys.stdin)["result"]; print(all(isinstance(v,str) or set(v)=={"link","value"} for v in r.values()))' <<<"$HTTP_BODY")" True
expect_match "POST: Location header" "$(hdr -X POST -H 'Content-Type: application/json' --data-binary '{"short_description":"loc"}' "$T/incident" | grep -i '^Location:')" "^Location: $T/incident/[0-9a-f]{32}$"
expect_eq "journal entry written" "$(sql "select element||'|'||value||'|'||sys_created_by||'|'||name from sys_journal_field where element_id='$INC'")" "work_notes|Opened by the API|alice|incident"

# --- GET one, 404s
api GET "$T/incident/$INC"
expect_eq "GET one: 200" "$HTTP_STATUS" 200
expect_eq "GET one: the record" "$(j result.number)" "$NUM"
api GET "$T/incident/$(echo "$INC" | tr a-f A-F)"
expect_eq "GET one: upper-case sys_id" "$(j result.number)" "$NUM"
api GET "$T/incident/0123456789abcdef0123456789abcdef"
envelope "GET missing record" 404 "No Record found"
expect_eq "  detail" "$(j error.detail)" "Record doesn't exist or ACL restricts the record retrieval"
api GET "$T/incident/not-a-sys-id"
envelope "GET bad sys_id" 404 "No Record found"
api GET "$T/incident/$INC?sysparm_fields=number,caller_id&sysparm_display_value=true"
expect_eq "GET one: display value of a reference" "$(j result.caller_id.display_value)" "John Doe"

# --- PATCH, PUT: 200; journal fields append; 404 for a missing record
api PATCH "$T/incident/$INC" -H 'Content-Type: application/json' --data-binary '{"state":"2","comments":"Looking at it"}'
expect_eq "PATCH: 200" "$HTTP_STATUS" 200
expect_eq "PATCH: state" "$(j result.state)" 2
expect_eq "PATCH: comments read back empty" "$(j result.comments)" ""
expect_eq "PATCH: sys_updated_by" "$(j result.sys_updated_by)" alice
api PUT "$T/incident/$INC" -H 'Content-Type: application/json' --data-binary '{"work_notes":"second note","urgency":1}'
expect_eq "PUT: 200" "$HTTP_STATUS" 200
expect_eq "PUT: urgency" "$(j result.urgency)" 1
expect_eq "PUT: state kept" "$(j result.state)" 2
expect_eq "two work notes and a comment" "$(sql "select group_concat(element, ',') from (select element from sys_journal_field where element_id='$INC' order by element)")" "comments,work_notes,work_notes"
api PATCH "$T/incident/0123456789abcdef0123456789abcdef" -H 'Content-Type: application/json' --data-binary '{"state":"2"}'
envelope "PATCH missing record" 404 "No Record found"
api PATCH "$T/incident/$INC" -H 'Content-Type: application/json' --data-binary '{"state":"two"}'
envelope "PATCH bad integer" 400 "Invalid value"
api PATCH "$T/incident/$INC" -H 'Content-Type: application/json' --data-binary '{"state":""}'
envelope "PATCH clearing a required field" 400 "Operation Failed"
api GET "$T/incident/$INC?sysparm_fields=work_notes,comments&sysparm_display_value=true"
WN=$(j result.work_notes | tr '\n' '|')
expect_match "work_notes display value: stacked, newest first" "$WN" '^20[0-9-]{8} [0-9:]{8} - alice \(Work notes\)\|second note\|\|20[0-9-]{8} [0-9:]{8} - alice \(Work notes\)\|Opened by the API\|\|'
expect_match "comments display value" "$(j result.comments | tr '\n' '|')" 'alice \(Additional comments\)\|Looking at it\|'
curl -s -o /dev/null --cacert "$WORK/ca.pem" -u "alice:$PW" -X POST -H 'X-HTTP-Method-Override: PATCH' \
  -H 'Content-Type: application/json' --data-binary '{"short_description":"Disk full (overridden)"}' "$T/incident/$INC"
expect_eq "X-HTTP-Method-Override: PATCH" "$(sql "select short_description from incident where sys_id='$INC'")" "Disk full (overridden)"
api PATCH "$T/incident/$INC?sysparm_fields=number" -H 'Content-Type: application/json' -H 'X-no-response-body: true' --data-binary '{"urgency":"3"}'
expect_eq "X-no-response-body: 200 without a body" "$HTTP_STATUS:$HTTP_BODY" "200:"

# --- sysparm_input_display_value: references and choices by display value
api POST "$T/incident?sysparm_input_display_value=true&sysparm_display_value=all&sysparm_fields=caller_id,state,assigned_to,cmdb_ci" \
  -H 'Content-Type: application/json' --data-binary '{"short_description":"by display value","caller_id":"John Doe","assigned_to":"asmith","cmdb_ci":"WEB01","state":"In Progress"}'
expect_eq "input display: reference by name" "$(j result.caller_id.value)" "$JDOE"
expect_eq "input display: reference by user_name" "$(j result.assigned_to.display_value)" "Alice Smith"
expect_eq "input display: CI by name" "$(j result.cmdb_ci.value)" "$WEB01"
expect_eq "input display: choice by label" "$(j result.state.value)" 2
expect_eq "display_value=all: label" "$(j result.state.display_value)" "In Progress"
expect_eq "display_value=all: link" "$(j result.cmdb_ci.link)" "$T/cmdb_ci/$WEB01"
api POST "$T/incident" -H 'Content-Type: application/json' --data-binary '{"short_description":"label without the flag","state":"In Progress"}'
envelope "choice label without sysparm_input_display_value" 400 "Invalid value"

# --- GET list: parameters, pagination headers, versions
for i in 1 2 3 4 5 6 7 8 9 10 11 12; do
  api POST "$T/problem" -H 'Content-Type: application/json' --data-binary "{\"short_description\":\"P$i\",\"impact\":$((i % 3 + 1))}"
done
expect_eq "12 problems created" "$(sql "select count(*) from problem")" 12
H=$(hdr "$T/problem?sysparm_limit=5&sysparm_offset=5&sysparm_query=ORDERBYnumber&sysparm_fields=number")
expect_match "X-Total-Count" "$H" $'X-Total-Count: 12\n'
LINK=$(printf '%s\n' "$H" | sed -n 's/^Link: //p')
expect_match "Link: first" "$LINK" "<$T/problem\?sysparm_query=ORDERBYnumber&sysparm_fields=number&sysparm_offset=0&sysparm_limit=5>;rel=\"first\""
expect_match "Link: prev" "$LINK" "sysparm_offset=0&sysparm_limit=5>;rel=\"prev\""
expect_match "Link: next" "$LINK" "sysparm_offset=10&sysparm_limit=5>;rel=\"next\""
expect_match "Link: last" "$LINK" "sysparm_offset=10&sysparm_limit=5>;rel=\"last\""
# follow rel="next" from the first page to the end
url="$T/problem?sysparm_limit=5&sysparm_query=ORDERBYnumber&sysparm_fields=number"; seen=""; pages=0
while [ -n "$url" ] && [ $pages -lt 10 ]; do
  H=$(curl -s -D "$WORK/h" -o "$WORK/b" --cacert "$WORK/ca.pem" -u "alice:$PW" "$url")
  seen="$seen$(python3 -c 'import json,sys; print(",".join(r["number"] for r in json.load(open(sys.argv[1]))["result"]), end=",")' "$WORK/b")"
  url=$(tr -d '\r' <"$WORK/h" | sed -n 's/^Link: //p' | tr ',' '\n' | sed -n 's/^<\(.*\)>;rel="next"$/\1/p')
  pages=$((pages + 1))
done
expect_eq "pages followed through rel=next" "$pages" 3
expect_eq "every record once, in order" "$seen" "$(sql "select group_concat(number, ',') from (select number from problem order by number)"),"
H=$(hdr "$T/problem?sysparm_no_count=true&sysparm_limit=5")
expect_eq "sysparm_no_count: no X-Total-Count" "$(printf '%s\n' "$H" | grep -ci '^X-Total-Count')" 0
expect_match "sysparm_no_count: next from a full page" "$H" 'rel="next"'
H=$(hdr "$T/problem?sysparm_suppress_pagination_header=true")
expect_eq "sysparm_suppress_pagination_header: no Link" "$(printf '%s\n' "$H" | grep -ci '^Link')" 0
api GET "$T/problem"
expect_eq "default limit returns all" "$(python3 -c 'import json,sys; print(len(json.load(sys.stdin)["result"]))' <<<"$HTTP_BODY")" 12
api GET "$T/problem?sysparm_limit=0"
envelope "sysparm_limit=0" 400 "Invalid request"
api GET "$T/problem?sysparm_limit=abc"
envelope "sysparm_limit=abc" 400 "Invalid request"
api GET "$T/problem?sysparm_offset=-1"
envelope "sysparm_offset=-1" 400 "Invalid request"
api GET "$T/problem?sysparm_offset=100"
expect_eq "offset past the end: empty" "$HTTP_STATUS:$HTTP_BODY" '200:{"result":[]}'
api GET "$BASE/api/now/v1/table/problem?sysparm_query=short_description=nothing"
envelope "v1, no match" 404 "No Record found"
expect_eq "  v1 detail" "$(j error.detail)" "Records matching query not found. Check query parameter or offset parameter"
api GET "$BASE/api/now/v2/table/problem?sysparm_query=short_description=nothing"
expect_eq "v2, no match: 200 []" "$HTTP_STATUS:$HTTP_BODY" '200:{"result":[]}'
api GET "$T/problem?sysparm_query=short_description=nothing"
expect_eq "unversioned, no match: 200 []" "$HTTP_STATUS:$HTTP_BODY" '200:{"result":[]}'
api GET "$BASE/api/now/v1/table/problem?sysparm_limit=2"
expect_eq "v1 with matches: 200" "$HTTP_STATUS" 200
api GET "$T/incident?sysparm_fields=number,caller_id,bogus&sysparm_exclude_reference_link=true&sysparm_query=sys_id=$INC"
expect_eq "sysparm_exclude_reference_link: plain sys_id" "$(j result.0.caller_id)" "$JDOE"
expect_eq "sysparm_fields: only those (unknown ignored)" "$(python3 -c 'import json,sys; print(sorted(json.load(sys.stdin)["result"][0]))' <<<"$HTTP_BODY")" "['caller_id', 'number']"
api GET "$T/incident?sysparm_fields=caller_id.name,caller_id.user_name&sysparm_query=sys_id=$INC"
expect_eq "sysparm_fields: dot-walk" "$(j result.0.caller_id\.user_name 2>/dev/null || python3 -c 'import json,sys; print(json.load(sys.stdin)["result"][0]["caller_id.user_name"])' <<<"$HTTP_BODY")" jdoe
api GET "$T/incident?sysparm_display_value=true&sysparm_fields=state,caller_id,impact&sysparm_query=sys_id=$INC"
expect_eq "display_value=true: choice label" "$(j result.0.state)" "In Progress"
expect_eq "display_value=true: impact label" "$(j result.0.impact)" "2 - Medium"
expect_eq "display_value=true: reference" "$(j result.0.caller_id.display_value)" "John Doe"

# --- name-value filters
api GET "$T/incident?number=$NUM&sysparm_fields=sys_id"
expect_eq "filter number=" "$(j result.0.sys_id)" "$INC"
api GET "$T/incident?caller_id=jdoe&state=In%20Progress&sysparm_fields=sys_id"
expect_eq "filter by a reference's user_name and a choice label" "$(j result.0.sys_id)" "$INC"
api GET "$T/incident?caller_id=John%20Doe&short_description=nope&sysparm_fields=sys_id"
expect_eq "filters are AND-ed" "$HTTP_BODY" '{"result":[]}'
api GET "$T/incident?no_such_field=1&number=$NUM&sysparm_fields=number"
expect_eq "unknown filter field ignored" "$(j result.0.number)" "$NUM"
api GET "$T/incident?number=nothing&sysparm_query=sys_id=$INC&sysparm_fields=number"
expect_eq "sysparm_query wins over name-value filters" "$(j result.0.number)" "$NUM"

# --- operators through sysparm_query (the engine's unit tests cover all)
# problems P1..P12, impact = i % 3 + 1
count() { api GET "$T/problem?sysparm_fields=number&sysparm_query=$1"; python3 -c 'import json,sys; print(len(json.load(sys.stdin)["result"]))' <<<"$HTTP_BODY"; }
expect_eq "op =" "$(count 'short_description=P3')" 1
expect_eq "op !=" "$(count 'short_description!=P3')" 11
expect_eq "op <" "$(count 'impact<2')" 4
expect_eq "op <=" "$(count 'impact<=2')" 8
expect_eq "op >" "$(count 'impact>2')" 4
expect_eq "op >=" "$(count 'impact>=1')" 12
expect_eq "op LIKE" "$(count 'short_descriptionLIKE1')" 4
expect_eq "op NOT LIKE" "$(count 'short_descriptionNOT%20LIKE1')" 8
expect_eq "op STARTSWITH" "$(count 'short_descriptionSTARTSWITHP1')" 4
expect_eq "op ENDSWITH" "$(count 'short_descriptionENDSWITH2')" 2
expect_eq "op IN" "$(count 'short_descriptionINP1,P2,P99')" 2
expect_eq "op NOT IN" "$(count 'short_descriptionNOT%20INP1,P2')" 10
expect_eq "op ISEMPTY" "$(count 'descriptionISEMPTY')" 12
expect_eq "op ISNOTEMPTY" "$(count 'short_descriptionISNOTEMPTY')" 12
expect_eq "^OR" "$(count 'short_description=P1^ORshort_description=P2')" 2
expect_eq "^ and ^OR precedence" "$(count 'impact=1^short_description=P3^ORshort_description=P6')" 2
expect_eq "^NQ" "$(count 'short_description=P1^NQshort_description=P2^impact=3')" 2
expect_eq "invalid part ignored" "$(count 'no_such_field=1^short_description=P1')" 1
api GET "$T/problem?sysparm_fields=short_description&sysparm_limit=3&sysparm_query=ORDERBYDESCshort_description"
expect_eq "ORDERBYDESC" "$(python3 -c 'import json,sys; print(",".join(r["short_description"] for r in json.load(sys.stdin)["result"]))' <<<"$HTTP_BODY")" "P9,P8,P7"
api GET "$T/problem?sysparm_fields=short_description&sysparm_limit=3&sysparm_query=impact=1^ORDERBYshort_description"
expect_eq "ORDERBY" "$(python3 -c 'import json,sys; print(",".join(r["short_description"] for r in json.load(sys.stdin)["result"]))' <<<"$HTTP_BODY")" "P12,P3,P6"
expect_match "ignored parts logged" "$(cat "$WORK/tb.log")" 'query parts ignored.*table=problem'

# --- roles
as "bob:$PW" GET "$T/sys_user?sysparm_limit=1"
expect_eq "no role: sys_user readable" "$HTTP_STATUS" 200
as "bob:$PW" GET "$T/incident"
envelope "no role: incident list" 403 "Insufficient rights to query records"
as "bob:$PW" GET "$T/incident/$INC"
envelope "no role: incident record" 403 "Insufficient rights to query records"
as "bob:$PW" POST "$T/incident" -H 'Content-Type: application/json' --data-binary '{"short_description":"x"}'
envelope "no role: insert" 403 "Operation Failed"
api POST "$T/sys_user" -H 'Content-Type: application/json' --data-binary '{"user_name":"mallory"}'
envelope "itil: writing sys_user" 403 "Operation Failed"
api DELETE "$T/incident/$INC"
envelope "itil: delete" 403 "Operation Failed"
expect_eq "  detail" "$(j error.detail)" "ACL Exception Delete Failed due to security constraints"
as "admin:$ADMIN_PW" POST "$T/sys_user" -H 'Content-Type: application/json' --data-binary '{"user_name":"mallory","name":"Mallory"}'
expect_eq "admin: writing sys_user" "$HTTP_STATUS" 201
as "bob:$PW" GET "$T/no_such_table"
envelope "unknown table answers the same without a role" 400 "Invalid table no_such_table"
expect_eq "  detail null" "$(python3 -c 'import json,sys; print(json.load(sys.stdin)["error"]["detail"])' <<<"$HTTP_BODY")" None
as "alice:$PW" GET "$T/sys_journal_field?sysparm_query=element_id=$INC"
expect_eq "itil reads journal entries" "$HTTP_STATUS" 200
as "bob:$PW" GET "$T/sys_journal_field"
expect_eq "no role: journal entries refused" "$HTTP_STATUS" 403

# --- status codes and envelopes
api POST "$T/incident/$INC" -H 'Content-Type: application/json' --data-binary '{}'
envelope "POST on a record" 405 "Method not Supported"
expect_eq "  detail" "$(j error.detail)" "POST method not supported for API"
api PATCH "$T/incident" -H 'Content-Type: application/json' --data-binary '{}'
envelope "PATCH on a table" 405 "Method not Supported"
api DELETE "$T/incident"
envelope "DELETE on a table" 405 "Method not Supported"
api OPTIONS "$T/incident"
envelope "OPTIONS" 405 "Method not Supported"
api POST "$T/incident" -H 'Content-Type: text/plain' --data-binary 'short_description=x'
envelope "text/plain body" 415 "Unsupported Media Type"
api POST "$T/incident" -H 'Content-Type: application/x-www-form-urlencoded' --data-binary 'short_description=x'
envelope "form body" 415 "Unsupported Media Type"
api GET "$T/incident" -H 'Accept: application/xml'
envelope "Accept: application/xml" 406 "Requested response format not supported"
api GET "$T/incident?sysparm_limit=1" -H 'Accept: text/html,application/xhtml+xml,*/*;q=0.8'
expect_eq "browser Accept gets JSON" "$HTTP_STATUS" 200
api POST "$T/incident" -H 'Content-Type: application/json' --data-binary '{"short_description":'
envelope "malformed JSON" 400 "Exception while reading request"
api GET "$BASE/api/now/table/"
envelope "no table" 400 "Requested URI does not represent any resource"
api GET "$T/incident/$INC/extra"
envelope "extra path segment" 400 "Requested URI does not represent any resource"
head -c $((5 * 1024 * 1024)) /dev/zero | tr '\0' 'x' >"$WORK/big"
api POST "$T/incident" -H 'Content-Type: application/json' --data-binary @"$WORK/big"
envelope "body over 4 MiB" 413 "Exception while reading request"
expect_match "  detail names the limit" "$(j error.detail)" 'Max allowed: 4194304 bytes'
code=$(curl -s -o /dev/null -w '%{http_code}' -I --cacert "$WORK/ca.pem" -u "alice:$PW" "$T/incident/$INC")
expect_eq "HEAD" "$code" 200
admin() { as "admin:$ADMIN_PW" "$@"; }
admin DELETE "$T/incident/$INC"
expect_eq "DELETE: 204" "$HTTP_STATUS:$HTTP_BODY" "204:"
admin DELETE "$T/incident/$INC"
envelope "DELETE again" 404 "No Record found"
expect_eq "journal entries went with the record" "$(sql "select count(*) from sys_journal_field where element_id='$INC'")" 0

# --- attachments
api POST "$T/incident" -H 'Content-Type: application/json' --data-binary '{"short_description":"with files"}'
REC=$(j result.sys_id)
head -c 70000 /dev/urandom >"$WORK/file.bin"
api POST "$BASE/api/now/attachment/file?table_name=incident&table_sys_id=$REC&file_name=report%20one.bin" \
  -H 'Content-Type: application/octet-stream' --data-binary @"$WORK/file.bin"
expect_eq "upload: 201" "$HTTP_STATUS" 201
ATT=$(j result.sys_id)
expect_eq "upload: size_bytes" "$(j result.size_bytes)" 70000
expect_eq "upload: file_name" "$(j result.file_name)" "report one.bin"
expect_eq "upload: table_sys_id" "$(j result.table_sys_id)" "$REC"
expect_eq "upload: download_link" "$(j result.download_link)" "$BASE/api/now/attachment/$ATT/file"
expect_eq "upload: sys_created_by" "$(j result.sys_created_by)" alice
expect_match "upload: Location" "$(hdr -X POST -H 'Content-Type: text/plain' --data-binary 'hi' "$BASE/api/now/attachment/file?table_name=incident&table_sys_id=$REC&file_name=hi.txt" | grep -i '^Location:')" "^Location: $BASE/api/now/attachment/[0-9a-f]{32}$"
api GET "$BASE/api/now/attachment/$ATT"
expect_eq "metadata" "$(j result.content_type):$(j result.table_name)" "application/octet-stream:incident"
curl -s -o "$WORK/down.bin" -D "$WORK/down.h" --cacert "$WORK/ca.pem" -u "alice:$PW" "$BASE/api/now/attachment/$ATT/file"
cmp -s "$WORK/file.bin" "$WORK/down.bin" && ok "download: the same bytes" || not_ok "download: the same bytes"
expect_match "download: Content-Type" "$(tr -d '\r' <"$WORK/down.h")" $'Content-Type: application/octet-stream\n'
expect_match "download: X-Attachment-Metadata" "$(tr -d '\r' <"$WORK/down.h")" "X-Attachment-Metadata: \\{.*\"sys_id\":\"$ATT\""
api POST "$BASE/api/now/attachment/upload" -F table_name=incident -F table_sys_id="$REC" -F "uploadFile=@$WORK/file.bin;type=image/png;filename=shot.png"
expect_eq "multipart upload: 201" "$HTTP_STATUS" 201
expect_eq "multipart upload: name and type" "$(j result.file_name):$(j result.content_type)" "shot.png:image/png"
MP=$(j result.sys_id)
curl -s -o "$WORK/down2.bin" --cacert "$WORK/ca.pem" -u "alice:$PW" "$BASE/api/now/attachment/$MP/file"
cmp -s "$WORK/file.bin" "$WORK/down2.bin" && ok "multipart download: the same bytes" || not_ok "multipart download: the same bytes"
api GET "$BASE/api/now/attachment?sysparm_query=table_sys_id=$REC^ORDERBYfile_name&sysparm_limit=2"
expect_eq "list: page" "$(python3 -c 'import json,sys; print(",".join(r["file_name"] for r in json.load(sys.stdin)["result"]))' <<<"$HTTP_BODY")" "hi.txt,report one.bin"
expect_match "list: X-Total-Count" "$(hdr "$BASE/api/now/attachment?sysparm_query=table_sys_id=$REC&sysparm_limit=2")" $'X-Total-Count: 3\n'
api POST "$BASE/api/now/attachment/file?table_name=incident&table_sys_id=0123456789abcdef0123456789abcdef&file_name=x" \
  -H 'Content-Type: text/plain' --data-binary 'x'
envelope "upload to a missing record" 404 "No Record found"
api POST "$BASE/api/now/attachment/file?table_name=incident&file_name=x" -H 'Content-Type: text/plain' --data-binary 'x'
envelope "upload without table_sys_id" 400 "Invalid request"
api POST "$BASE/api/now/attachment/file?table_name=incident&table_sys_id=$REC&file_name=x" -H 'Content-Type:' --data-binary 'x'
envelope "upload without Content-Type" 400 "Invalid request"
api POST "$BASE/api/now/attachment/file?table_name=tb_account&table_sys_id=$REC&file_name=x" -H 'Content-Type: text/plain' --data-binary 'x'
envelope "upload to an unknown table" 400 "Invalid table tb_account"
api POST "$BASE/api/now/attachment/upload" -F table_name=incident -F table_sys_id="$REC"
envelope "multipart without a file" 400 "Invalid request"
as "bob:$PW" POST "$BASE/api/now/attachment/file?table_name=incident&table_sys_id=$REC&file_name=x" -H 'Content-Type: text/plain' --data-binary 'x'
envelope "upload without the record's role" 403 "Operation Failed"
as "bob:$PW" GET "$BASE/api/now/attachment/$ATT/file"
envelope "download without the record's role" 403 "Insufficient rights to query records"
api GET "$BASE/api/now/attachment/0123456789abcdef0123456789abcdef"
envelope "metadata of a missing attachment" 404 "No Record found"
api PUT "$BASE/api/now/attachment/$ATT"
envelope "PUT on an attachment" 405 "Method not Supported"
api DELETE "$BASE/api/now/attachment/$ATT"
expect_eq "delete attachment: 204" "$HTTP_STATUS" 204
api GET "$BASE/api/now/attachment/$ATT/file"
envelope "download after delete" 404 "No Record found"
admin DELETE "$T/incident/$REC"
expect_eq "record delete takes its attachments" "$(sql "select count(*) from sys_attachment where table_sys_id='$REC'")" 0

# --- a pysnow-style client on the standard library
out=$(python3 "$(dirname "$TB_E2E_LIB")/snow_client.py" "$BASE" svc "$PW" "$WORK/ca.pem" 2>&1)
printf '%s\n' "$out" | sed 's/^/    client: /'
for step in "create" "query and pages" "IN and LIKE" "update and journal" "attachment" "errors" "delete"; do
  printf '%s\n' "$out" | grep -qx "ok $step" && ok "python client: $step" || not_ok "python client: $step"
done

tb_stop
expect_eq "clean shutdown" "$TB_EXIT" 0
finish

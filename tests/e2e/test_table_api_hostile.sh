# Hostile input against the Table API and Attachment API: huge and deeply
# mixed ^OR/^NQ chains, SQL metacharacters in every place a client controls
# (values, field names, sort keys, field lists, tables, name-value filters),
# unknown tables and fields, malformed and oversized bodies, invalid UTF-8,
# bad sys_ids and path tricks. Each gets a ServiceNow-style answer, and the
# store is intact afterwards.
. "$TB_E2E_LIB"
PY=$(command -v /usr/bin/python3 || command -v python3)
python3() { "$PY" "$@"; }

tb_init --product pra
PW=correct-horse-battery
printf '%s\n' "$PW" | tb user add alice --roles itil --password-file - >/dev/null
for i in 1 2 3 4 5; do tb ticket create --short-description "T$i" >/dev/null; done
tb_start
T="$TB_URL/api/now/table"
api() { local m=$1 u=$2; shift 2; http "$m" "$u" -u "alice:$PW" "$@"; }
j() { json_get "$HTTP_BODY" "$1"; }
rows() { python3 -c 'import json,sys; print(len(json.load(sys.stdin)["result"]))' <<<"$HTTP_BODY"; }
envelope() {
  expect_eq "$1: status" "$HTTP_STATUS" "$2"
  expect_eq "$1: error.message" "$(j error.message)" "$3"
  expect_eq "$1: status failure" "$(j status)" failure
}
INC1=$(sql "select sys_id from incident where short_description='T1'")
NUM1=$(sql "select number from incident where short_description='T1'")

# --- huge and mixed ^OR / ^NQ chains
q=$(python3 -c 'print("^OR".join("number=INC%07d" % (10001 + i) for i in range(999)))')
api GET "$T/incident?sysparm_fields=number" --data-urlencode "sysparm_query=$q" -G
expect_eq "999 ^OR parts: 200" "$HTTP_STATUS" 200
expect_eq "  every ticket matches" "$(rows)" 5
q=$(python3 -c 'print("^".join("short_description!=x%d" % i for i in range(1000)))')
api GET "$T/incident?sysparm_fields=number" --data-urlencode "sysparm_query=$q" -G
expect_eq "1000 AND-ed parts: all match" "$HTTP_STATUS:$(rows)" "200:5"
q=$(python3 -c 'print("^".join("short_description!=x%d" % i for i in range(1001)))')
api GET "$T/incident" --data-urlencode "sysparm_query=$q" -G
envelope "1001 parts" 400 "Invalid query"
expect_match "  detail says the limit" "$(j error.detail)" "too many parts"
q=$(python3 -c 'print("".join(("^NQ" if i % 3 == 0 else "^OR" if i % 3 == 1 else "^") + "short_description=T%d" % (i % 7) for i in range(900))[3:])')
api GET "$T/incident?sysparm_fields=number" --data-urlencode "sysparm_query=$q" -G
expect_eq "900 mixed ^/^OR/^NQ parts: 200" "$HTTP_STATUS" 200
q=$(python3 -c 'print("short_descriptionIN" + ",".join("v%d" % i for i in range(1001)))')
api GET "$T/incident" --data-urlencode "sysparm_query=$q" -G
envelope "IN list of 1001 items" 400 "Invalid query"
q=$(python3 -c 'print("^" * 999)')
api GET "$T/incident?sysparm_fields=number" --data-urlencode "sysparm_query=$q" -G
expect_eq "999 empty parts ignored: every row" "$HTTP_STATUS:$(rows)" "200:5"
q=$(python3 -c 'print("x" * 70000)')
code=$(curl -s -o "$WORK/body" -w '%{http_code}' -u "alice:$PW" -G --data-urlencode "sysparm_query=$q" "$T/incident")
expect_match "70 KB query string refused" "$code" '^(400|413|414|431)$'

# --- SQL metacharacters where the client writes
for v in "x' OR '1'='1" "x\" OR 1=1 --" "'; DROP TABLE incident; --" "%" "_" "\\" "T1') OR ('1'='1"; do
  api GET "$T/incident?sysparm_fields=number" -G --data-urlencode "sysparm_query=short_description=$v"
  expect_eq "value [$v]: nothing matches" "$HTTP_STATUS:$(rows)" "200:0"
  api GET "$T/incident?sysparm_fields=number" -G --data-urlencode "short_description=$v"
  expect_eq "name-value [$v]: nothing matches" "$HTTP_STATUS:$(rows)" "200:0"
done
api GET "$T/incident?sysparm_fields=number" -G --data-urlencode "sysparm_query=short_descriptionLIKE%"
expect_eq "LIKE %: a literal percent" "$(rows)" 0
api GET "$T/incident?sysparm_fields=number" -G --data-urlencode "sysparm_query=short_descriptionSTARTSWITH_"
expect_eq "STARTSWITH _: a literal underscore" "$(rows)" 0
api GET "$T/incident?sysparm_fields=number" -G --data-urlencode "sysparm_query=sys_id;DROP TABLE incident=1^short_description=T1"
expect_eq "SQL in a field name: part ignored" "$HTTP_STATUS:$(rows)" "200:1"
api GET "$T/incident?sysparm_fields=number" -G --data-urlencode "sysparm_query=ORDERBYnumber;DELETE FROM incident"
expect_eq "SQL in a sort key: ignored" "$HTTP_STATUS:$(rows)" "200:5"
api GET "$T/incident" -G --data-urlencode "sysparm_fields=number,(SELECT password_hash FROM tb_account),sys_id--"
expect_eq "SQL in sysparm_fields: ignored" "$(python3 -c 'import json,sys; print(sorted(json.load(sys.stdin)["result"][0]))' <<<"$HTTP_BODY")" "['number']"
api GET "$T/incident?sysparm_fields=number" -G --data-urlencode "sysparm_query=assigned_to.password_hash=x^short_description=T2"
expect_eq "dot-walk to a missing field: ignored" "$(rows)" 1
api POST "$T/incident" -H 'Content-Type: application/json' \
  --data-binary '{"short_description":"x\u0027); DROP TABLE incident; --","description":"\"; DELETE FROM sys_user; --","bad\"name":"1"}'
expect_eq "SQL in values written: 201" "$HTTP_STATUS" 201
expect_eq "  stored as text" "$(j result.short_description)" "x'); DROP TABLE incident; --"
api GET "$T/incident;DROP%20TABLE%20incident"
envelope "SQL in a table name" 400 "Invalid table incident;DROP TABLE incident"

# --- unknown tables and fields
for t in tb_account tb_api_token sqlite_master sys_number task; do
  api GET "$T/$t"
  envelope "table $t" 400 "Invalid table $t"
done
api POST "$T/incident" -H 'Content-Type: application/json' --data-binary '{"nope":"1","also_nope":2}'
expect_eq "POST with only unknown fields: 201 (ignored)" "$HTTP_STATUS" 201

# --- malformed and oversized bodies, invalid UTF-8
for b in '' '{' '[' 'null' '123' '{"a":}' '{"short_description":"x"} trailing' '[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]'; do
  api POST "$T/incident" -H 'Content-Type: application/json' --data-binary "$b"
  envelope "malformed body [$b]" 400 "Exception while reading request"
done
printf '{"short_description":"\xff\xfe"}' >"$WORK/badutf8"
api POST "$T/incident" -H 'Content-Type: application/json' --data-binary @"$WORK/badutf8"
envelope "invalid UTF-8 in the body" 400 "Exception while reading request"
python3 -c 'print("[" * 100000 + "]" * 100000)' >"$WORK/deep"
api POST "$T/incident" -H 'Content-Type: application/json' --data-binary @"$WORK/deep"
envelope "100000 levels of nesting" 400 "Exception while reading request"
python3 -c 'import json; print(json.dumps({"short_description": "x" * 70000}))' >"$WORK/long"
api POST "$T/incident" -H 'Content-Type: application/json' --data-binary @"$WORK/long"
envelope "value over its cap" 400 "Invalid value"
python3 -c 'import json; print(json.dumps({"f%d" % i: "v" for i in range(50000)}))' >"$WORK/wide"
api POST "$T/incident" -H 'Content-Type: application/json' --data-binary @"$WORK/wide"
expect_eq "50000 unknown fields: ignored" "$HTTP_STATUS" 201
head -c $((4 * 1024 * 1024 + 1)) /dev/zero | tr '\0' ' ' >"$WORK/big"
api POST "$T/incident" -H 'Content-Type: application/json' --data-binary @"$WORK/big"
envelope "4 MiB + 1 body" 413 "Exception while reading request"
code=$(curl -s -o "$WORK/body" -w '%{http_code}' -u "alice:$PW" -H 'Transfer-Encoding: chunked' \
  -H 'Content-Type: application/json' --data-binary @"$WORK/big" "$T/incident")
expect_match "chunked oversized body: 413 or closed" "$code" '^(413|000)$'
api GET "$T/incident" -G --data-urlencode "sysparm_query=short_description=$(printf '\xff')"
envelope "invalid UTF-8 in the query" 400 "Invalid request"
api GET "$T/incident?short_description=%C0%AF"
envelope "overlong UTF-8 in a filter" 400 "Invalid request"
api GET "$T/inc%FFident"
expect_eq "invalid UTF-8 in the table name: 400" "$HTTP_STATUS" 400
python3 -c 'import json,sys; json.loads(sys.stdin.read())' <<<"$HTTP_BODY" && ok "  still valid JSON" || not_ok "  still valid JSON"
api GET "$T/incident?sysparm_limit=99999999999999999999"
envelope "huge sysparm_limit" 400 "Invalid request"
api GET "$T/incident?sysparm_offset=99999999999999"
envelope "sysparm_offset over 2^40" 400 "Invalid request"
api GET "$T/incident?sysparm_limit=100000&sysparm_fields=number"
expect_eq "limit over 10000 is capped" "$HTTP_STATUS:$(rows)" "200:8"

# --- bad sys_ids and path tricks
for id in "..%2F..%2Fetc%2Fpasswd" "%2e%2e" "0123456789abcdef0123456789abcdef0" "0123456789abcdef0123456789abcdeg" \
          "'%20OR%20'1'='1" "$INC1%20" "$INC1%0A"; do
  api GET "$T/incident/$id"
  expect_match "sys_id [$id]: 400 or 404" "$HTTP_STATUS:$(j status)" '^(400|404):failure$'
done
# The server decodes the path first, and an encoded NUL ends it there: the
# record itself, nothing else.
api GET "$T/incident/$INC1%00/extra"
expect_eq "sys_id%00...: the record before the NUL" "$HTTP_STATUS:$(j result.sys_id)" "200:$INC1"
code=$(curl -s -o "$WORK/body" -w '%{http_code}' --path-as-is -u "alice:$PW" "$TB_URL/api/now/table/../../healthz")
expect_eq "/api/now/table/../../healthz stays in the API" "$code" 400
code=$(curl -s -o "$WORK/body" -w '%{http_code}' --path-as-is -u "alice:$PW" "$TB_URL/api/now/table/..%2Ftb_account")
expect_eq "encoded slash" "$code" 400
code=$(curl -s -o "$WORK/body" -w '%{http_code}' --path-as-is -u "alice:$PW" "$TB_URL/api/now/table/incident/$INC1/..")
expect_eq "record/.. is not the table" "$code" 400
api GET "$T/incident?sysparm_limit=1" -H 'Host: evil.example"><script>'
expect_match "a hostile Host header does not reach the links" "$(curl -s -D - -o /dev/null -u "alice:$PW" -H 'Host: evil"x' "$T/incident?sysparm_limit=1")" 'Link: <http://localhost/api/now/table/incident'
code=$(curl -s -o /dev/null -w '%{http_code}' -u "alice:$PW" -X DELETE "$TB_URL/api/now/attachment/..%2F..%2Fx")
expect_match "attachment path trick" "$code" '^(400|404)$'

# --- hostile uploads
api POST "$TB_URL/api/now/attachment/file?table_name=incident&table_sys_id=$INC1&file_name=..%2F..%2Fetc%2Fpasswd" \
  -H 'Content-Type: text/plain' --data-binary 'x'
expect_eq "file name with a path: kept as a name" "$HTTP_STATUS:$(j result.file_name)" "201:../../etc/passwd"
api POST "$TB_URL/api/now/attachment/upload" -H 'Content-Type: multipart/form-data' --data-binary 'x'
envelope "multipart without a boundary" 400 "Invalid request"
api POST "$TB_URL/api/now/attachment/upload" -H 'Content-Type: multipart/form-data; boundary=zz' --data-binary $'--zz\r\ngarbage'
envelope "multipart garbage" 400 "Invalid request"
code=$(head -c $((33 * 1024 * 1024)) /dev/zero | curl -s -o "$WORK/body" -w '%{http_code}' -u "alice:$PW" \
  -H 'Content-Type: application/octet-stream' --data-binary @- \
  "$TB_URL/api/now/attachment/file?table_name=incident&table_sys_id=$INC1&file_name=big")
expect_eq "33 MiB attachment: 413" "$code" 413

# --- many writers at once: every insert answered, numbers distinct
seq 1 40 | xargs -P 20 -I{} curl -s -o /dev/null -w '%{http_code}\n' -u "alice:$PW" -H 'Content-Type: application/json' \
  --data-binary '{"short_description":"parallel {}"}' "$T/incident" >"$WORK/codes"
expect_eq "40 parallel inserts: all 201" "$(sort -u "$WORK/codes" | tr '\n' ' ')" "201 "
expect_eq "  40 distinct numbers" "$(sql "select count(distinct number) from incident where short_description like 'parallel %'")" 40

# --- password guessing: 429 with Retry-After once the user name's limit is hit
for i in $(seq 1 12); do
  code=$(curl -s -o "$WORK/body" -D "$WORK/h" -w '%{http_code}' -u "victim:guess-number-$i" "$T/sys_user")
done
HTTP_BODY=$(cat "$WORK/body"); HTTP_STATUS=$code
envelope "repeated wrong passwords" 429 "Too Many Requests"
expect_match "  Retry-After" "$(tr -d '\r' <"$WORK/h")" $'Retry-After: [0-9]+\n'
api GET "$T/sys_user?sysparm_limit=1"
expect_eq "a verified user is not locked out" "$HTTP_STATUS" 200

# --- the store is intact
expect_eq "integrity check" "$(sql 'pragma integrity_check')" ok
expect_eq "tables still there" "$(sql "select count(*) from sqlite_master where name in ('incident','sys_user','tb_account','sys_journal_field')")" 4
expect_eq "original tickets still there" "$(sql "select count(*) from incident where short_description like 'T_'")" 5
api GET "$T/incident/$INC1?sysparm_fields=number"
expect_eq "and readable" "$(j result.number)" "$NUM1"

tb_stop
expect_eq "clean shutdown" "$TB_EXIT" 0
finish

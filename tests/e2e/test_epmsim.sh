#!/usr/bin/env bash
# End-to-end test of epmsim alone (no ticketbridge): OAuth token, JIT decision
# endpoints and their validation, faults and down/up, the webhook sender
# (templates, escaping, authentication, retries, order) against a second
# epmsim's /_epmsim/sink, burst mode, and bad control input.
# Env (set by ctest): EPMSIM_BIN, TB_E2E_LIB, TB_TEST_TMP.
: "${TB_E2E_LIB:=$(dirname "$0")/lib.sh}"
: "${TB_BIN:=$(dirname "$0")/../../build/ticketbridge}"
export TB_BIN
. "$TB_E2E_LIB"
EPMSIM_BIN=${EPMSIM_BIN:-$(dirname "$0")/../../build/epmsim}
[ -x "$EPMSIM_BIN" ] || { not_ok "epmsim binary at $EPMSIM_BIN"; finish; }
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3

# jv JSON EXPR: a Python expression over the parsed JSON d; strings print bare.
# (The JSON goes through stdin: a recorded body can exceed the argument limit.)
jv() { $PY -c 'import sys, json
d = json.load(sys.stdin); v = eval(sys.argv[1])
print(v if isinstance(v, str) else json.dumps(v, ensure_ascii=False))' "$2" <<<"$1" 2>&1; }

# epmsim_start NAME ARGS...: sets <NAME>_URL and <NAME>_PID.
epmsim_start() {
  local name=$1; shift
  rm -f "$WORK/$name.port" "$WORK/$name.cport"
  "$EPMSIM_BIN" --port 0 --port-file "$WORK/$name.port" "$@" >>"$WORK/$name.log" 2>&1 &
  local pid=$!
  PIDS+=("$pid")
  wait_file "$WORK/$name.port" || { not_ok "epmsim $name started"; finish; }
  printf -v "${name}_PID" '%s' "$pid"
  printf -v "${name}_URL" 'http://127.0.0.1:%s' "$(cat "$WORK/$name.port")"
}

post_json() { http POST "$1" -H 'Content-Type: application/json' --data-binary "$2"; }

# --- command line
"$EPMSIM_BIN" --help >/dev/null; expect_eq "--help exits 0" "$?" 0
"$EPMSIM_BIN" --bogus >/dev/null 2>&1; expect_eq "unknown option exits 2" "$?" 2
"$EPMSIM_BIN" --token-ttl soon >/dev/null 2>&1; expect_eq "bad --token-ttl exits 2" "$?" 2
out=$("$EPMSIM_BIN" --webhook-user u --webhook-auth-header 'Bearer x' 2>&1); rc=$?
expect_eq "Basic and Custom auth together exit 2" "$rc" 2
expect_match "and say why" "$out" "either Basic"
out=$("$EPMSIM_BIN" --path token=/_epmsim/x 2>&1); expect_match "reserved path refused" "$out" "reserved"
out=$("$EPMSIM_BIN" --path nope=/x 2>&1); expect_match "unknown path name refused" "$out" "unknown path"
out=$("$EPMSIM_BIN" --log-level loud 2>&1); expect_match "bad --log-level refused" "$out" "log-level"

# B receives webhooks; A is the EPM under test (with a control listener for down/up).
epmsim_start B
epmsim_start A --control-port 0 --control-port-file "$WORK/A.cport" \
  --webhook-url "$B_URL/_epmsim/sink" --webhook-user pmc_webhook_user \
  --webhook-password 'pa:ss"wörd' --webhook-retry-interval 0.05 --client-id cid --client-secret 's3cr=t&x'
wait_file "$WORK/A.cport" || { not_ok "control port written"; finish; }
A_CTL="http://127.0.0.1:$(cat "$WORK/A.cport")"
TOKEN_URL="$A_URL/oauth/connect/token"
APP="$A_URL/management-api/v2/AuthorizationRequest/notification"
READ="$A_URL/management-api/v2/AuthorizationRequest"
ADMIN="$A_URL/management-api/v3/AdminAccessRequest"

# --- OAuth token (protocol A1)
http POST "$TOKEN_URL" -d grant_type=client_credentials -d client_id=cid --data-urlencode 'client_secret=s3cr=t&x'
expect_eq "token: 200" "$HTTP_STATUS" 200
expect_match "token: documented shape, key order and capital-S Scope" "$HTTP_BODY" \
  '^\{"access_token":"[A-Za-z0-9]{48}","token_type":"Bearer","expires_in":3600,"Scope":"urn:management:api"\}$'
TOK=$(jv "$HTTP_BODY" 'd["access_token"]')
http POST "$TOKEN_URL" -d grant_type=client_credentials -d client_id=cid --data-urlencode 'client_secret=s3cr=t&x' -d scope=urn:management:api
expect_eq "token: with scope" "$HTTP_STATUS" 200
http POST "$TOKEN_URL" -u 'cid:s3cr=t&x' -d grant_type=client_credentials
expect_eq "token: client_secret_basic accepted" "$HTTP_STATUS" 200
http POST "$TOKEN_URL" -d grant_type=client_credentials -d client_id=cid -d client_secret=wrong
expect_eq "token: wrong secret 401" "$HTTP_STATUS" 401
expect_eq "token: invalid_client" "$(jv "$HTTP_BODY" 'd["error"]')" invalid_client
http POST "$TOKEN_URL" -d grant_type=client_credentials -d client_id=nobody --data-urlencode 'client_secret=s3cr=t&x'
expect_eq "token: unknown client 401" "$HTTP_STATUS" 401
http POST "$TOKEN_URL" -d grant_type=client_credentials
expect_eq "token: no credentials 401" "$HTTP_STATUS" 401
http POST "$TOKEN_URL" -d client_id=cid --data-urlencode 'client_secret=s3cr=t&x'
expect_eq "token: missing grant_type 400 invalid_request" "$HTTP_STATUS:$(jv "$HTTP_BODY" 'd["error"]')" 400:invalid_request
http POST "$TOKEN_URL" -d grant_type=password -d client_id=cid --data-urlencode 'client_secret=s3cr=t&x'
expect_eq "token: other grant 400 unsupported_grant_type" "$HTTP_STATUS:$(jv "$HTTP_BODY" 'd["error"]')" 400:unsupported_grant_type
http POST "$TOKEN_URL" -d grant_type=client_credentials -d client_id=cid --data-urlencode 'client_secret=s3cr=t&x' -d scope=admin
expect_eq "token: unknown scope 400 invalid_scope" "$HTTP_STATUS:$(jv "$HTTP_BODY" 'd["error"]')" 400:invalid_scope
http POST "$TOKEN_URL" -H 'Content-Type: application/json' -d '{"grant_type":"client_credentials"}'
expect_eq "token: JSON body refused 400" "$HTTP_STATUS" 400
http POST "$TOKEN_URL" -d grant_type=client_credentials -d grant_type=client_credentials -d client_id=cid --data-urlencode 'client_secret=s3cr=t&x'
expect_eq "token: repeated parameter 400" "$HTTP_STATUS" 400
http GET "$TOKEN_URL"
expect_eq "token: GET 405" "$HTTP_STATUS" 405
http GET "$A_URL/_epmsim/stats"
expect_eq "stats count tokens and rejects" "$(jv "$HTTP_BODY" '[d["tokens_issued"], d["token_rejects"]]')" "[3, 3]"

# token expiry
post_json "$A_URL/_epmsim/config" '{"token_ttl":2.5}'
expect_eq "config: short token lifetime" "$HTTP_STATUS" 200
http POST "$TOKEN_URL" -d grant_type=client_credentials -d client_id=cid --data-urlencode 'client_secret=s3cr=t&x'
SHORT=${HTTP_BODY#*access_token\":\"}; SHORT=${SHORT%%\"*}
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $SHORT" "$READ/00000000-0000-4000-8000-000000000000")
expect_eq "short token works at once (404 for an unknown request, not 401)" "$code" 404
expect_eq "short token: expires_in rounds up to 3" "$(jv "$HTTP_BODY" 'd["expires_in"]')" 3
post_json "$A_URL/_epmsim/config" '{"token_ttl":3600}'
sleep 2.6
curl -s -D "$WORK/h" -o /dev/null -H "Authorization: Bearer $SHORT" "$READ/00000000-0000-4000-8000-000000000000"
expect_match "expired token: 401" "$(head -1 "$WORK/h")" " 401"
expect_match "expired token: WWW-Authenticate says expired" "$(cat "$WORK/h")" 'WWW-Authenticate: Bearer error="invalid_token", error_description="The token expired'

# --- webhooks create the requests the decisions need (A6, seed 004)
send() { post_json "$A_URL/_epmsim/webhooks/send" "$1"; }
send '{"template":"URM_Native_Ticket_Created","wait":true}'
expect_eq "send created: 200" "$HTTP_STATUS" 200
expect_eq "send created: delivered at once" "$(jv "$HTTP_BODY" '[d["state"], d["attempts"], d["last_status"]]')" '["delivered", 1, 200]'
R1=$(jv "$HTTP_BODY" 'd["request_id"]')
T1=$(jv "$HTTP_BODY" 'd["ticket_number"]')
RAW1=$(jv "$HTTP_BODY" 'd["raw"]')
expect_match "request id is a GUID" "$R1" '^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$'
expect_match "ticket number EPM + 6 digits" "$T1" '^EPM[0-9]{6}$'
expect_eq "every placeholder filled" "$(printf '%s' "$RAW1" | grep -c '%%')" 0
http GET "$B_URL/_epmsim/sink"
last='d["received"][-1]'
expect_eq "sink got exactly the bytes sent" "$(jv "$HTTP_BODY" "$last[\"body\"]")" "$RAW1"
expect_eq "sink: Basic auth as configured" "$(jv "$HTTP_BODY" "$last[\"authorization\"]")" \
  "Basic $(printf '%s' 'pmc_webhook_user:pa:ss"wörd' | base64 -w0)"
expect_eq "sink: Content-Type application/json" "$(jv "$HTTP_BODY" "$last[\"content_type\"]")" application/json
expect_eq "sink: the template's repeated workstyle key arrives" "$(jv "$HTTP_BODY" "$last[\"duplicate_keys\"]")" true
expect_eq "created: top-level keys as in the seed" "$(jv "$HTTP_BODY" "list($last[\"json\"].keys())")" \
  '["EventType", "RequestId", "TenantId", "Timestamp", "TicketNumber", "requestInfo"]'
expect_eq "created: requestInfo keys as in the seed" "$(jv "$HTTP_BODY" "list($last[\"json\"][\"requestInfo\"].keys())")" \
  '["applicationType", "action", "workstyle", "reason", "user", "hostName", "trustedOwnership", "productDescription", "driveType", "btZoneIdentifierExists", "productCode", "upgradeCode", "clsId", "comDisplayName", "token", "tokenAssignmentIsShell", "uacTriggered", "downloadSourceUrl", "userLanguage", "sha1Hash", "sha256Hash", "filePathObjectId", "cmdArgs", "publisher", "productName", "productVersion", "fileVersion", "applicationGroup", "message", "messageId", "hostType", "osName", "osVersion", "ComputerGroup", "GroupId", "requestVersion", "hostedFilePath", "parentProcess", "storeAppName", "serviceName", "serviceAction", "authRequestUri", "bundleInfoDescription", "reputationScoreDateTime", "reputationScore", "reputationIntegrationType"]'
expect_eq "created: every value is a string" "$(jv "$HTTP_BODY" "all(isinstance(v, str) for v in list($last[\"json\"].values())[:5] + list($last[\"json\"][\"requestInfo\"].values()))")" true
expect_match "created: Windows path with backslashes" "$(jv "$HTTP_BODY" "$last[\"json\"][\"requestInfo\"][\"filePathObjectId\"]")" '^C:\\Users\\.+\.exe$'
expect_match "created: sha256 hash" "$(jv "$HTTP_BODY" "$last[\"json\"][\"requestInfo\"][\"sha256Hash\"]")" '^[0-9A-F]{64}$'
expect_eq "created: EventType" "$(jv "$HTTP_BODY" "$last[\"json\"][\"EventType\"]")" URM_Native_Ticket_Created

# --- application access decision (A3)
now=$(date -u '+%Y-%m-%d %H:%M:%S')
app_body() { # id decision status duration -> JSON
  printf '{"itsmRequestId":"%s","systemId":"5d3b0f1e2a7c4e9f8b6a1c2d3e4f5a6b","ticketId":"RITM0010001","ticketUrl":"https://tb.example/sc_req_item.do?sys_id=5d3b","decision":"%s","status":"%s","decisionTime":"%s","duration":"%s","decisionPerformedByUser":"jdoe","message":"Approved: \\"needed\\" for C:\\\\work – ok"}' "$1" "$2" "$3" "$now" "$4"
}
decide() { http POST "$APP" -H "Authorization: Bearer $TOK" -H 'Content-Type: application/json' "${@:2}" --data-binary "$1"; }
BODY1=$(app_body "$R1" Approved 2000 3600)
http DELETE "$A_URL/_epmsim/decisions"
decide "$BODY1" -H "x-correlation-id: $R1"
expect_eq "app decision accepted: 200" "$HTTP_STATUS" 200
expect_eq "app decision: empty body" "$HTTP_BODY" ""
http GET "$A_URL/_epmsim/decisions"
rec='d["decisions"][-1]'
expect_eq "decision recorded: raw body exactly" "$(jv "$HTTP_BODY" "$rec[\"body\"]")" "$BODY1"
expect_eq "decision recorded: parsed fields" "$(jv "$HTTP_BODY" "[$rec[\"fields\"][k] for k in (\"decision\",\"status\",\"duration\",\"message\")]")" \
  '["Approved", "2000", "3600", "Approved: \"needed\" for C:\\work – ok"]'
expect_eq "decision recorded: outcome, kind, request, correlation" "$(jv "$HTTP_BODY" "[$rec[k] for k in (\"accepted\",\"status\",\"kind\",\"request_id\",\"correlation_id\")]")" \
  "[true, 200, \"application\", \"$R1\", \"$R1\"]"
http GET "$READ/$R1" -H "Authorization: Bearer $TOK"
expect_eq "read: accessDecision.status Approved" "$(jv "$HTTP_BODY" 'd["accessDecision"]["status"]')" Approved
expect_eq "read: serviceTicket from the decision" "$(jv "$HTTP_BODY" '[d["serviceTicket"]["ticketId"], d["ticketNumber"]]')" "[\"RITM0010001\", \"$T1\"]"
expect_match "read: requestInfo.user and created" "$(jv "$HTTP_BODY" 'd["requestInfo"]["user"] + "|" + d["requestInfo"]["created"]')" '^CORP\\.+\|20[0-9]{2}-'
http GET "$READ/$R1"
expect_eq "read without token: 401" "$HTTP_STATUS" 401
decide "$(app_body "$R1" Denied 2001 Once)"
expect_eq "second decision refused: 409" "$HTTP_STATUS" 409
expect_match "second decision: says final" "$(jv "$HTTP_BODY" 'd["detail"]')" "final and cannot be changed"
http GET "$A_URL/_epmsim/requests/$R1"
expect_eq "request stays Approved" "$(jv "$HTTP_BODY" 'd["state"]')" Approved

# validation: each failure is a 400 naming the field, and changes nothing
send '{"template":"URM_Native_Ticket_Created","wait":true}'
R2=$(jv "$HTTP_BODY" 'd["request_id"]')
bad_decision() { # name body field
  decide "$2"
  expect_eq "invalid ($1): 400" "$HTTP_STATUS" 400
  expect_eq "invalid ($1): names $3" "$(jv "$HTTP_BODY" "\"$3\" in d[\"errors\"]")" true
}
fix() { $PY -c 'import sys, json; d = json.loads(sys.argv[1]); exec(sys.argv[2]); print(json.dumps(d))' "$(app_body "$R2" Approved 2000 Once)" "$1"; }
bad_decision "not JSON" '{"itsmRequestId":' '$'
bad_decision "array" '[1,2]' '$'
bad_decision "empty body" '' '$'
for f in itsmRequestId systemId ticketId decision status decisionTime decisionPerformedByUser message; do
  bad_decision "missing $f" "$(fix "del d['$f']")" "$f"
done
bad_decision "approval without duration" "$(fix "del d['duration']")" duration
bad_decision "decision Pending" "$(fix "d['decision']='Pending'; d['status']='1000'")" decision
bad_decision "decision lowercase" "$(fix "d['decision']='approved'")" decision
bad_decision "status 1000" "$(fix "d['status']='1000'")" status
bad_decision "status does not match decision" "$(fix "d['status']='2001'")" status
bad_decision "status as a number" "$(fix "d['status']=2000")" status
bad_decision "decisionTime ISO with T and Z" "$(fix "d['decisionTime']='2025-01-31T14:05:09Z'")" decisionTime
bad_decision "decisionTime with fraction" "$(fix "d['decisionTime']='2025-01-31 14:05:09.123'")" decisionTime
bad_decision "decisionTime 30 February" "$(fix "d['decisionTime']='2025-02-30 10:00:00'")" decisionTime
bad_decision "duration 0" "$(fix "d['duration']='0'")" duration
bad_decision "duration 1h" "$(fix "d['duration']='1h'")" duration
bad_decision "duration negative" "$(fix "d['duration']='-60'")" duration
bad_decision "duration once (case)" "$(fix "d['duration']='once'")" duration
bad_decision "itsmRequestId not a GUID" "$(fix "d['itsmRequestId']='INC0010001'")" itsmRequestId
bad_decision "message too long" "$(fix "d['message']='x'*5000")" message
bad_decision "message with NUL" "$(fix "d['message']='a\u0000b'")" message
printf '{"itsmRequestId":"\xff\xfe"}' >"$WORK/bad-utf8.json"
http POST "$APP" -H "Authorization: Bearer $TOK" -H 'Content-Type: application/json' --data-binary "@$WORK/bad-utf8.json"
expect_eq "invalid UTF-8: 400" "$HTTP_STATUS" 400
http GET "$A_URL/_epmsim/decisions"
expect_eq "invalid UTF-8: recorded with the bytes shown as \\xNN" "$(jv "$HTTP_BODY" 'd["decisions"][-1]["body"]')" '{"itsmRequestId":"\xff\xfe"}'
$PY -c 'print("[" * 100000 + "]" * 100000)' >"$WORK/deep.json"
http POST "$APP" -H "Authorization: Bearer $TOK" -H 'Content-Type: application/json' --data-binary "@$WORK/deep.json"
expect_eq "deeply nested JSON: 400" "$HTTP_STATUS" 400
decide "$(fix "d['itsmRequestId']='11111111-2222-4333-8444-555555555555'")"
expect_eq "unknown request: 404" "$HTTP_STATUS" 404
http POST "$APP" -H "Authorization: Bearer $TOK" -H 'Content-Type: text/plain' --data-binary "$(fix "")"
expect_eq "wrong Content-Type: 415" "$HTTP_STATUS" 415
head -c 1100000 /dev/zero | tr '\0' ' ' >"$WORK/big.json"
http POST "$APP" -H "Authorization: Bearer $TOK" -H 'Content-Type: application/json' --data-binary "@$WORK/big.json"
expect_eq "body over 1 MiB: 413" "$HTTP_STATUS" 413
http POST "$APP" -H 'Content-Type: application/json' --data-binary "$(fix "")"
expect_eq "no token: 401" "$HTTP_STATUS" 401
curl -s -D "$WORK/h" -o /dev/null -X POST -H 'Authorization: Bearer forged' -H 'Content-Type: application/json' --data-binary "$(fix "")" "$APP"
expect_match "forged token: 401 invalid_token" "$(cat "$WORK/h")" 'WWW-Authenticate: Bearer error="invalid_token"'
http GET "$APP" -H "Authorization: Bearer $TOK"
expect_eq "decision endpoint: GET 405" "$HTTP_STATUS" 405
http GET "$A_URL/_epmsim/requests/$R2"
expect_eq "failed decisions changed nothing" "$(jv "$HTTP_BODY" 'd["state"]')" Pending
http GET "$A_URL/_epmsim/decisions"
expect_eq "rejected decisions are recorded with their answer" "$(jv "$HTTP_BODY" '[r["status"] for r in d["decisions"][-2:]] + [d["decisions"][-1]["accepted"]]')" "[401, 401, false]"
decide "$(fix "d['decision']='Denied'; d['status']='2001'; del d['duration']")"
expect_eq "denial without duration accepted" "$HTTP_STATUS" 200

# --- admin access decision (A4, inferred PUT)
send '{"template":"JIT_ADMIN_TICKET_CREATED","wait":true,"fields":{"DurationRequested":"7200"}}'
RA=$(jv "$HTTP_BODY" 'd["request_id"]')
expect_eq "admin created: seed keys" "$(jv "$HTTP_BODY" 'list(d["body"].keys())')" \
  '["EventType", "RequestId", "TenantId", "Timestamp", "ComputerId", "GroupId", "TicketNumber", "Reason", "UserId", "UserName", "DurationRequested"]'
ADMIN_BODY="{\"requestId\":\"$RA\",\"decision\":\"Approved\",\"duration\":\"1800\",\"decisionPerformedByUser\":\"it.approver\",\"message\":\"ok\",\"systemId\":\"abc\",\"ticketId\":\"INC0010002\",\"ticketUrl\":\"https://tb.example/x\"}"
http POST "$ADMIN" -H "Authorization: Bearer $TOK" -H 'Content-Type: application/json' --data-binary "$ADMIN_BODY"
expect_eq "admin decision: POST 405 (PUT by default)" "$HTTP_STATUS" 405
http PUT "$APP" -H "Authorization: Bearer $TOK" -H 'Content-Type: application/json' --data-binary "$ADMIN_BODY"
expect_eq "app endpoint refuses PUT" "$HTTP_STATUS" 405
http PUT "$ADMIN" -H "Authorization: Bearer $TOK" -H 'Content-Type: application/json' --data-binary "{\"requestId\":\"$RA\",\"decision\":\"Approved\"}"
expect_eq "admin decision: missing fields 400" "$HTTP_STATUS" 400
expect_eq "admin decision: names them" "$(jv "$HTTP_BODY" 'sorted(d["errors"])')" '["decisionPerformedByUser", "duration", "message"]'
http PUT "$ADMIN" -H "Authorization: Bearer $TOK" -H 'Content-Type: application/json' --data-binary "$(printf '%s' "$ADMIN_BODY" | sed "s/$RA/$R2/")"
expect_eq "admin decision for an app request: 404" "$HTTP_STATUS" 404
http PUT "$ADMIN" -H "Authorization: Bearer $TOK" -H 'Content-Type: application/json' --data-binary "$ADMIN_BODY"
expect_eq "admin decision accepted" "$HTTP_STATUS" 200
http GET "$A_URL/_epmsim/decisions"
expect_eq "admin decision recorded: kind, method, outcome" "$(jv "$HTTP_BODY" '[d["decisions"][-1][k] for k in ("kind","method","accepted")]')" '["admin", "PUT", true]'
expect_eq "admin decision recorded: raw body exactly" "$(jv "$HTTP_BODY" 'd["decisions"][-1]["body"]')" "$ADMIN_BODY"
http PUT "$ADMIN" -H "Authorization: Bearer $TOK" -H 'Content-Type: application/json' --data-binary "$ADMIN_BODY"
expect_eq "second admin decision: 409" "$HTTP_STATUS" 409
http GET "$ADMIN/$RA" -H "Authorization: Bearer $TOK"
expect_eq "admin read" "$(jv "$HTTP_BODY" '[d["accessDecision"]["status"], d["requestInfo"]["durationRequested"]]')" '["Approved", "7200"]'

# --- decision-updated webhooks carry the accepted decision
send "{\"template\":\"URM_NATIVE_DECISION_UPDATE\",\"wait\":true,\"fields\":{\"RequestId\":\"$R1\"}}"
expect_eq "app update: decision fields from the accepted decision" \
  "$(jv "$HTTP_BODY" '[d["body"]["RequestId"], d["body"]["TicketNumber"]] + [d["body"]["requestInfo"][k] for k in ("Decision","DecisionTime","DecisionPerformedByUser","Duration")]')" \
  "[\"$R1\", \"$T1\", \"Approved\", \"$now\", \"jdoe\", \"3600\"]"
send "{\"template\":\"JIT_ADMIN_TICKET_UPDATED\",\"wait\":true,\"fields\":{\"RequestId\":\"$RA\"}}"
expect_eq "admin update: seed keys" "$(jv "$HTTP_BODY" 'list(d["body"].keys())')" \
  '["EventType", "RequestId", "TicketNumber", "TenantId", "StartTime", "EndTime", "Decision", "DecisionTime", "DecisionPerformedByUser", "Duration", "DurationRequested", "Timestamp"]'
expect_eq "admin update: from the decision" "$(jv "$HTTP_BODY" '[d["body"][k] for k in ("Decision","Duration","DurationRequested","DecisionPerformedByUser")] + [d["body"]["EndTime"] > d["body"]["StartTime"]]')" \
  '["Approved", "1800", "7200", "it.approver", true]'
post_json "$A_URL/_epmsim/config" '{"auto_update":true}'
send '{"template":"URM_Native_Ticket_Created","wait":true}'
R3=$(jv "$HTTP_BODY" 'd["request_id"]')
decide "$(app_body "$R3" Approved 2000 Once)"
expect_eq "auto_update: decision accepted" "$HTTP_STATUS" 200
update_for_r3() { [ "$(jv "$(curl -s "$B_URL/_epmsim/sink")" "sum(1 for r in d[\"received\"] if r[\"json\"] and r[\"json\"][\"EventType\"] == \"URM_NATIVE_DECISION_UPDATE\" and r[\"json\"][\"RequestId\"] == \"$R3\")")" = 1 ]; }
wait_until 10 update_for_r3 && ok "auto_update: the update webhook followed the decision" || not_ok "auto_update: no update webhook"
post_json "$A_URL/_epmsim/config" '{"auto_update":false}'

# --- escaping: quotes, backslashes, control characters and Unicode (jansson)
TRICKY='He said "hi" \ C:\Temp\new\x – é ✓ 😀'
fields=$($PY -c 'import json,sys; print(json.dumps({"Reason": sys.argv[1] + "\n\tend", "User": "CORP\\o\u0027brien"}))' "$TRICKY")
send "{\"template\":\"URM_Native_Ticket_Created\",\"wait\":true,\"fields\":$fields}"
http GET "$B_URL/_epmsim/sink"
expect_eq "escaping: reason arrives intact" "$($PY -c 'import sys, json
print(json.load(sys.stdin)["received"][-1]["json"]["requestInfo"]["reason"] == sys.argv[1] + "\n\tend")' "$TRICKY" <<<"$HTTP_BODY")" True
expect_eq "escaping: user with backslash and apostrophe" "$(jv "$HTTP_BODY" "$last[\"json\"][\"requestInfo\"][\"user\"]")" "CORP\\o'brien"
expect_match "escaping: UTF-8 sent as is by default" "$(jv "$HTTP_BODY" "$last[\"body\"]")" '😀'
send "{\"template\":\"URM_Native_Ticket_Created\",\"wait\":true,\"ascii\":true,\"fields\":$fields}"
http GET "$B_URL/_epmsim/sink"
expect_match "ascii: \\u escapes with surrogate pairs" "$(jv "$HTTP_BODY" "$last[\"body\"]")" '\\u00[eE]9.*\\u[dD]83[dD]\\u[dD][eE]00'
expect_eq "ascii: decodes to the same text" "$(jv "$HTTP_BODY" "$last[\"json\"][\"requestInfo\"][\"reason\"].endswith('\U0001F600' + chr(10) + chr(9) + 'end')")" true

# --- authentication variants
post_json "$A_URL/_epmsim/config" '{"webhook_auth_header":"Bearer SENDGRID_API_KEY"}'
expect_eq "config: Basic and Custom together refused" "$HTTP_STATUS" 400
post_json "$A_URL/_epmsim/config" '{"webhook_user":"","webhook_auth_header":"Bearer SENDGRID_API_KEY"}'
expect_eq "config: switch to Custom" "$(jv "$HTTP_BODY" 'd["webhook_auth"]')" custom
send '{"template":"JIT_ADMIN_TICKET_CREATED","wait":true}'
http GET "$B_URL/_epmsim/sink"
expect_eq "Custom: the Authorization header as configured" "$(jv "$HTTP_BODY" "$last[\"authorization\"]")" "Bearer SENDGRID_API_KEY"
post_json "$A_URL/_epmsim/config" '{"webhook_auth_header":"Bearer x\r\nX-Evil: 1"}'
expect_eq "config: header injection refused" "$HTTP_STATUS" 400

# --- retries and order
post_json "$B_URL/_epmsim/faults" '{"action":"status","endpoint":"sink","status":503,"count":2}'
send '{"template":"URM_Native_Ticket_Created","wait":true}'
SID=$(jv "$HTTP_BODY" 'd["id"]')
expect_eq "retry: delivered on the 3rd attempt" "$(jv "$HTTP_BODY" '[d["state"], d["attempts"], d["last_status"]]')" '["delivered", 3, 200]'
http GET "$B_URL/_epmsim/sink"
expect_eq "retry: receiver saw 503, 503, 200" "$(jv "$HTTP_BODY" '[r["status"] for r in d["received"][-3:]]')" "[503, 503, 200]"
expect_eq "retry: the same body each time" "$(jv "$HTTP_BODY" 'len(set(r["body"] for r in d["received"][-3:]))')" 1
http GET "$A_URL/_epmsim/webhooks"
expect_eq "webhook list: attempts and last status" "$(jv "$HTTP_BODY" "[(w['attempts'], w['last_status']) for w in d['webhooks'] if w['id'] == $SID]")" "[[3, 200]]"
post_json "$B_URL/_epmsim/faults" '{"action":"status","endpoint":"sink","status":500,"count":-1}'
send '{"template":"URM_Native_Ticket_Created","wait":true}'
expect_eq "failing receiver: failed after max attempts" "$(jv "$HTTP_BODY" '[d["state"], d["attempts"], d["last_status"]]')" '["failed", 3, 500]'
http DELETE "$B_URL/_epmsim/faults"
send "{\"template\":\"URM_Native_Ticket_Created\",\"wait\":true,\"url\":\"http://127.0.0.1:1/hook\"}"
expect_eq "unreachable receiver: failed, no status" "$(jv "$HTTP_BODY" '[d["state"], d["attempts"], d["last_status"]]')" '["failed", 3, 0]'
expect_match "unreachable receiver: error kept" "$(jv "$HTTP_BODY" 'd["last_error"]')" '.'
post_json "$B_URL/_epmsim/faults" '{"action":"status","endpoint":"sink","status":503,"count":1}'
ids=()
for i in 1 2 3; do send '{"template":"URM_Native_Ticket_Created"}'; ids+=("$(jv "$HTTP_BODY" 'd["request_id"]')"); done
delivered3() { [ "$(jv "$(curl -s "$A_URL/_epmsim/webhooks")" 'sum(1 for w in d["webhooks"][-3:] if w["state"] == "delivered")')" = 3 ]; }
wait_until 10 delivered3 && ok "async sends delivered" || not_ok "async sends delivered"
http GET "$B_URL/_epmsim/sink"
expect_eq "in order: head-of-line retry, then the rest" "$(jv "$HTTP_BODY" '[r["json"]["RequestId"] for r in d["received"][-4:]]')" \
  "[\"${ids[0]}\", \"${ids[0]}\", \"${ids[1]}\", \"${ids[2]}\"]"
send "{\"resend\":$SID,\"wait\":true}"
RS=$(jv "$HTTP_BODY" 'd["raw"]')
http GET "$A_URL/_epmsim/webhooks/$SID"
expect_eq "resend: identical bytes" "$(jv "$HTTP_BODY" 'd["body"]')" "$RS"

# --- faults on the API
post_json "$A_URL/_epmsim/faults" '{"action":"status","endpoint":"app_decision","status":500}'
send '{"template":"URM_Native_Ticket_Created","wait":true}'
R4=$(jv "$HTTP_BODY" 'd["request_id"]')
decide "$(app_body "$R4" Approved 2000 Once)"
expect_eq "fault 500: answered" "$HTTP_STATUS" 500
decide "$(app_body "$R4" Approved 2000 Once)"
expect_eq "fault 500: only once, then accepted" "$HTTP_STATUS" 200
post_json "$A_URL/_epmsim/faults" '{"action":"status","endpoint":"token","status":429,"retry_after":7}'
curl -s -D "$WORK/h" -o /dev/null -d grant_type=client_credentials -d client_id=cid --data-urlencode 'client_secret=s3cr=t&x' "$TOKEN_URL"
expect_match "fault 429: status" "$(head -1 "$WORK/h")" " 429"
expect_match "fault 429: Retry-After" "$(cat "$WORK/h")" 'Retry-After: 7'
post_json "$A_URL/_epmsim/faults" '{"action":"status","endpoint":"read","status":400,"message":"Request is locked"}'
http GET "$READ/$R4" -H "Authorization: Bearer $TOK"
expect_eq "fault 400 with message" "$HTTP_STATUS:$(jv "$HTTP_BODY" 'd["detail"]')" "400:Request is locked"
post_json "$A_URL/_epmsim/faults" '{"action":"status","endpoint":"api","status":503,"count":-1}'
post_json "$A_URL/_epmsim/faults" '{"action":"drop","endpoint":"token"}'
http GET "$A_URL/_epmsim/faults"
expect_eq "faults listed in order" "$(jv "$HTTP_BODY" '[(f["action"], f["endpoint"], f["remaining"]) for f in d["faults"]]')" '[["status", "api", -1], ["drop", "token", 1]]'
http GET "$READ/$R4" -H "Authorization: Bearer $TOK"; c1=$HTTP_STATUS
http GET "$READ/$R4" -H "Authorization: Bearer $TOK"; c2=$HTTP_STATUS
expect_eq "count -1 lasts until cleared" "$c1:$c2" "503:503"
http DELETE "$A_URL/_epmsim/faults"
http GET "$READ/$R4" -H "Authorization: Bearer $TOK"
expect_eq "DELETE clears faults" "$HTTP_STATUS" 200
post_json "$A_URL/_epmsim/faults" '{"action":"drop","endpoint":"token"}'
curl -s -o /dev/null -d grant_type=client_credentials "$TOKEN_URL"; rc=$?
expect_eq "fault drop: empty reply (curl 52)" "$rc" 52
post_json "$A_URL/_epmsim/faults" '{"action":"delay","endpoint":"read","ms":600}'
t0=$(date +%s%N)
http GET "$READ/$R4" -H "Authorization: Bearer $TOK"
t1=$(date +%s%N)
expect_eq "fault delay: then answers normally" "$HTTP_STATUS" 200
expect_eq "fault delay: took at least 600 ms" "$(( (t1 - t0) / 1000000 >= 600 ))" 1
post_json "$A_URL/_epmsim/faults" '{"action":"expire_tokens"}'
http GET "$READ/$R4" -H "Authorization: Bearer $TOK"
expect_eq "expire_tokens: 401" "$HTTP_STATUS" 401
http POST "$TOKEN_URL" -d grant_type=client_credentials -d client_id=cid --data-urlencode 'client_secret=s3cr=t&x'
TOK=$(jv "$HTTP_BODY" 'd["access_token"]')

# down and up
refused() { curl -s -o /dev/null --max-time 2 "$A_URL/_epmsim/stats"; [ $? -eq 7 ]; }
answers() { curl -s -o /dev/null --max-time 2 "$A_URL/_epmsim/stats"; }
post_json "$A_URL/_epmsim/faults" '{"action":"down","for_ms":3000}'
expect_eq "down for 3 s: accepted" "$HTTP_STATUS" 200
wait_until 3 refused && ok "down: connections refused" || not_ok "down: connections refused"
expect_eq "down: control listener reports it" "$(jv "$(curl -s "$A_CTL/_epmsim/stats")" 'd["down"]')" true
wait_until 8 answers && ok "down for_ms: up again by itself" || not_ok "down for_ms: up again by itself"
post_json "$A_URL/_epmsim/faults" '{"action":"down"}'
wait_until 3 refused && ok "down until up: refused" || not_ok "down until up: refused"
sleep 0.3
refused && ok "down until up: still refused" || not_ok "down until up: still refused"
post_json "$A_CTL/_epmsim/faults" '{"action":"up"}'
wait_until 5 answers && ok "up via the control listener" || not_ok "up via the control listener"
http GET "$READ/$R4" -H "Authorization: Bearer $TOK"
expect_eq "after up: the API works, tokens kept" "$HTTP_STATUS" 200
http GET "$A_CTL/management-api/v2/AuthorizationRequest/$R4" -H "Authorization: Bearer $TOK"
expect_eq "control listener serves no API" "$HTTP_STATUS" 404
post_json "$B_URL/_epmsim/faults" '{"action":"down"}'
expect_eq "down without for_ms needs a control listener" "$HTTP_STATUS" 400

# --- burst
http GET "$B_URL/_epmsim/stats"; before=$(jv "$HTTP_BODY" 'd["sink_received"]')
post_json "$A_URL/_epmsim/webhooks/burst" '{"count":300,"concurrency":8}'
expect_eq "burst: 200" "$HTTP_STATUS" 200
expect_eq "burst: all accepted" "$(jv "$HTTP_BODY" '[d["count"], d["accepted"], d["errors"], d["statuses"]]')" '[300, 300, 0, {"200": 300}]'
expect_eq "burst: rate and latency" "$(jv "$HTTP_BODY" 'd["rate"] > 0 and 0 < d["latency_ms"]["p50"] <= d["latency_ms"]["p99"] <= d["latency_ms"]["max"]')" true
http GET "$B_URL/_epmsim/stats"
expect_eq "burst: the receiver got 300" "$(( $(jv "$HTTP_BODY" 'd["sink_received"]') - before ))" 300
post_json "$B_URL/_epmsim/faults" '{"action":"status","endpoint":"sink","status":503,"count":5}'
post_json "$A_URL/_epmsim/webhooks/burst" '{"count":20,"concurrency":4,"template":"JIT_ADMIN_TICKET_CREATED","register":true}'
expect_eq "burst: errors counted, no retries" "$(jv "$HTTP_BODY" '[d["accepted"], d["errors"], d["statuses"].get("503")]')" '[15, 5, 5]'
post_json "$A_URL/_epmsim/webhooks/burst" '{"count":3,"url":"http://127.0.0.1:1/x"}'
expect_eq "burst: transport errors" "$(jv "$HTTP_BODY" '[d["errors"], d["statuses"].get("error")]')" '[3, 3]'

# --- bad control input
ctl_bad() { # name method path body status
  http "$2" "$A_URL$3" -H 'Content-Type: application/json' --data-binary "$4"
  expect_eq "control: $1 -> $5" "$HTTP_STATUS" "$5"
  [ "$5" -ge 400 ] && expect_eq "control: $1 has a JSON reason" "$(jv "$HTTP_BODY" 'd["status"] + ":" + str(bool(d["error"]["message"]))')" "failure:True"
}
ctl_bad "malformed JSON" POST /_epmsim/config '{"client_id":' 400
ctl_bad "not an object" POST /_epmsim/config '["x"]' 400
ctl_bad "duplicate key" POST /_epmsim/config '{"client_id":"a","client_id":"b"}' 400
ctl_bad "unknown config field" POST /_epmsim/config '{"client_idd":"x"}' 400
expect_match "control: unknown field named" "$(jv "$HTTP_BODY" 'd["error"]["detail"]')" 'client_idd'
ctl_bad "wrong type" POST /_epmsim/config '{"token_ttl":"long"}' 400
ctl_bad "bad URL" POST /_epmsim/config '{"webhook_url":"ftp://x"}' 400
ctl_bad "bad tenant" POST /_epmsim/config '{"tenant_id":"acme"}' 400
ctl_bad "bad path" POST /_epmsim/config '{"paths":{"token":"no-slash"}}' 400
ctl_bad "clashing paths" POST /_epmsim/config '{"paths":{"token":"/management-api/v3/AdminAccessRequest"}}' 400
ctl_bad "half-valid config" POST /_epmsim/config '{"client_id":"changed","token_ttl":-1}' 400
expect_eq "control: nothing half-applied" "$(jv "$(curl -s "$A_URL/_epmsim/config")" 'd["client_id"]')" cid
ctl_bad "unknown template" POST /_epmsim/webhooks/send '{"template":"URM_Unknown"}' 400
ctl_bad "unknown placeholder" POST /_epmsim/webhooks/send '{"template":"JIT_ADMIN_TICKET_CREATED","fields":{"Decision":"x"}}' 400
ctl_bad "non-string field" POST /_epmsim/webhooks/send '{"template":"URM_Native_Ticket_Created","fields":{"User":1}}' 400
ctl_bad "unknown send option" POST /_epmsim/webhooks/send '{"template":"URM_Native_Ticket_Created","retry":true}' 400
ctl_bad "resend unknown id" POST /_epmsim/webhooks/send '{"resend":999999}' 404
ctl_bad "burst count 0" POST /_epmsim/webhooks/burst '{"count":0}' 400
ctl_bad "burst count too big" POST /_epmsim/webhooks/burst '{"count":10000001}' 400
ctl_bad "burst concurrency" POST /_epmsim/webhooks/burst '{"count":1,"concurrency":1000}' 400
ctl_bad "fault without action" POST /_epmsim/faults '{"endpoint":"token"}' 400
ctl_bad "fault unknown action" POST /_epmsim/faults '{"action":"explode"}' 400
ctl_bad "fault unknown endpoint" POST /_epmsim/faults '{"action":"drop","endpoint":"db"}' 400
ctl_bad "fault status 200" POST /_epmsim/faults '{"action":"status","status":200}' 400
ctl_bad "fault count 0" POST /_epmsim/faults '{"action":"drop","count":0}' 400
ctl_bad "fault delay without ms" POST /_epmsim/faults '{"action":"delay"}' 400
ctl_bad "unknown control path" GET /_epmsim/nothing '' 404
ctl_bad "wrong method" PUT /_epmsim/stats '' 405
ctl_bad "unknown request" GET /_epmsim/requests/not-a-guid '' 404
ctl_bad "unknown webhook" GET /_epmsim/webhooks/424242 '' 404
http POST "$A_URL/_epmsim/config" -H 'Content-Type: application/json' --data-binary "@$WORK/big.json"
expect_eq "control: body over 1 MiB -> 413" "$HTTP_STATUS" 413
http POST "$A_URL/_epmsim/config" --data-binary "@$WORK/bad-utf8.json"
expect_eq "control: invalid UTF-8 -> 400" "$HTTP_STATUS" 400
http POST "$A_URL/_epmsim/faults" --data-binary "@$WORK/deep.json"
expect_eq "control: deeply nested JSON -> 400" "$HTTP_STATUS" 400
http POST "$B_URL/_epmsim/sink/anything" --data-binary "@$WORK/bad-utf8.json"
expect_eq "sink: takes any body" "$HTTP_STATUS" 200
http GET "$B_URL/_epmsim/sink"
expect_eq "sink: records it as JSON-safe text" "$(jv "$HTTP_BODY" '[d["received"][-1][k] for k in ("path", "body", "json")]')" '["/_epmsim/sink/anything", "{\"itsmRequestId\":\"\\xff\\xfe\"}", null]'
http GET "$A_URL/_epmsim/faults"
expect_eq "control: no stray faults after bad input" "$(jv "$HTTP_BODY" 'len(d["faults"])')" 0
http GET "$A_URL/nowhere"
expect_eq "unknown API path: 404" "$HTTP_STATUS" 404

# configurable paths (the unverified A3/A4 details)
post_json "$A_URL/_epmsim/config" '{"paths":{"app_decision":"/api/v2/AuthorizationRequest/notification","admin_decision_method":"POST"}}'
expect_eq "paths: reconfigured" "$HTTP_STATUS" 200
send '{"template":"URM_Native_Ticket_Created","wait":true}'
R5=$(jv "$HTTP_BODY" 'd["request_id"]')
http POST "$A_URL/api/v2/AuthorizationRequest/notification" -H "Authorization: Bearer $TOK" -H 'Content-Type: application/json' --data-binary "$(app_body "$R5" Approved 2000 Once)"
expect_eq "paths: decision on the alternative path" "$HTTP_STATUS" 200
http POST "$APP" -H "Authorization: Bearer $TOK" -H 'Content-Type: application/json' --data-binary "$(app_body "$R5" Approved 2000 Once)"
# the old path now reads as app_read + "/notification", a GET-only route
expect_eq "paths: the old path no longer takes decisions" "$HTTP_STATUS" 405

# the other [I] switches
post_json "$A_URL/_epmsim/config" '{"accept_unknown_requests":true,"final_decision_status":400}'
RU=$($PY -c 'import uuid; print(uuid.uuid4())')
http POST "$A_URL/api/v2/AuthorizationRequest/notification" -H "Authorization: Bearer $TOK" -H 'Content-Type: application/json' --data-binary "$(app_body "$RU" Approved 2000 Once)"
expect_eq "accept_unknown_requests: decision for an unknown request accepted" "$HTTP_STATUS" 200
http POST "$A_URL/api/v2/AuthorizationRequest/notification" -H "Authorization: Bearer $TOK" -H 'Content-Type: application/json' --data-binary "$(app_body "$RU" Approved 2000 Once)"
expect_eq "final_decision_status: second decision answers 400" "$HTTP_STATUS" 400

# --- SIGTERM exits 0
kill -TERM "$A_PID"; rc=0; wait "$A_PID" || rc=$?
expect_eq "SIGTERM: A exits 0" "$rc" 0
kill -TERM "$B_PID"; rc=0; wait "$B_PID" || rc=$?
expect_eq "SIGTERM: B exits 0" "$rc" 0
expect_match "one log line per request" "$(grep -c 'msg=request ' "$WORK/A.log")" '^[0-9]{3,}$'
! grep -q 's3cr=t\|pa:ss' "$WORK/A.log" && ok "no secret in the log" || not_ok "no secret in the log"
! grep -q 'runtime error\|Sanitizer' "$WORK/A.log" "$WORK/B.log" && ok "no sanitizer reports" || not_ok "no sanitizer reports"
finish

#!/usr/bin/env bash
# End-to-end test of btsim alone (no ticketbridge): OAuth, command and
# reporting APIs, faults, outbound event delivery to a loopback receiver,
# session keys and custom fields, live customer sessions, the public site's
# start_session and client_script, and the PRA ticket-system sender.
# Env: BTSIM_BIN (path to btsim), TB_TEST_TMP (scratch dir).
set -u

BTSIM_BIN=${BTSIM_BIN:-$(dirname "$0")/../../build/btsim}
TMPROOT=${TB_TEST_TMP:-${TMPDIR:-/tmp}}
mkdir -p "$TMPROOT"
W=$(mktemp -d "$TMPROOT/btsim.XXXXXX")
# python3 for JSON/XML checks; the system one starts much faster than a pyenv shim
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3
export PY
PIDS=()
PASS=0
FAIL=0

cleanup() {
    for p in "${PIDS[@]}"; do
        kill "$p" 2>/dev/null
    done
    for p in "${PIDS[@]}"; do
        wait "$p" 2>/dev/null
    done
    rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

ok() { PASS=$((PASS + 1)); echo "ok - $1"; }
bad() { FAIL=$((FAIL + 1)); echo "FAIL - $1${2:+: $2}"; }
check() { # check NAME CONDITION-COMMAND...
    local name=$1; shift
    if "$@"; then ok "$name"; else bad "$name"; fi
}

xml_ok() { # file
    if command -v xmllint >/dev/null 2>&1; then
        xmllint --noout "$1" 2>/dev/null
    else
        $PY -c 'import sys, xml.dom.minidom; xml.dom.minidom.parse(sys.argv[1])' "$1" 2>/dev/null
    fi
}

xml_root() { # file -> root element local name
    $PY -c 'import sys, xml.dom.minidom; print(xml.dom.minidom.parse(sys.argv[1]).documentElement.localName)' "$1" 2>/dev/null
}

xml_text() { # file tag -> text of first element
    $PY -c '
import sys, xml.dom.minidom
d = xml.dom.minidom.parse(sys.argv[1])
e = d.getElementsByTagName(sys.argv[2])
print("".join(n.data for n in e[0].childNodes if n.nodeType == n.TEXT_NODE) if e else "")' "$1" "$2" 2>/dev/null
}

json_get() { # json-string key
    $PY -c 'import sys, json; v = json.loads(sys.argv[1]); print(eval("v" + sys.argv[2]))' "$1" "$2" 2>/dev/null
}

wait_port() { # port-file pid -> echoes port; bounded 10 s
    local i
    for i in $(seq 1 100); do
        if [ -s "$1" ]; then cat "$1"; return 0; fi
        kill -0 "$2" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

BTSIMS=()
start_btsim() { # name args... -> sets PORT, BPID
    local name=$1; shift
    rm -f "$W/$name.port"
    "$BTSIM_BIN" --port-file "$W/$name.port" --quiet "$@" >"$W/$name.out" 2>"$W/$name.err" &
    BPID=$!
    PIDS+=("$BPID")
    BTSIMS+=("$name:$BPID")
    PORT=$(wait_port "$W/$name.port" "$BPID") || { echo "btsim $name did not start"; cat "$W/$name.err"; exit 1; }
}

token() { # base -> token
    curl -s -u btsim-client:btsim-secret -d grant_type=client_credentials "$1/oauth2/token" |
        $PY -c 'import sys, json; print(json.load(sys.stdin)["access_token"])'
}

[ -x "$BTSIM_BIN" ] || { echo "btsim binary not found: $BTSIM_BIN"; exit 1; }

# ---------------------------------------------------------------- RS basics
start_btsim rs --sessions 5 --seed 7
B=http://127.0.0.1:$PORT

code=$(curl -s -o "$W/health" -w '%{http_code}' "$B/check_health")
check "GET /check_health 200 OK" test "$code" = 200 -a "$(cat "$W/health")" = OK

resp=$(curl -s -u btsim-client:btsim-secret -d grant_type=client_credentials "$B/oauth2/token")
TOK=$(json_get "$resp" '["access_token"]')
check "token issued (40 alnum, Bearer, 3600)" bash -c "[[ '$TOK' =~ ^[A-Za-z0-9]{40}$ ]] && [ '$(json_get "$resp" '["token_type"]')' = Bearer ] && [ '$(json_get "$resp" '["expires_in"]')' = 3600 ]"

code=$(curl -s -o "$W/bad" -w '%{http_code}' -u btsim-client:wrong -d grant_type=client_credentials "$B/oauth2/token")
check "401 invalid_client on bad secret" bash -c "[ $code = 401 ] && grep -q invalid_client '$W/bad'"

code=$(curl -s -o "$W/bad" -w '%{http_code}' -u btsim-client:btsim-secret -d grant_type=password "$B/oauth2/token")
check "400 unsupported_grant_type" bash -c "[ $code = 400 ] && grep -q unsupported_grant_type '$W/bad'"

code=$(curl -s -o /dev/null -w '%{http_code}' "$B/api/command?action=check_health")
check "401 without bearer" test "$code" = 401

H="Authorization: Bearer $TOK"
curl -s -D "$W/hdr" -o "$W/ch.xml" -H "$H" "$B/api/command?action=check_health"
check "check_health XML (root check_health, success 1, Connection: close)" bash -c \
    "$(declare -f xml_ok xml_root xml_text); xml_ok '$W/ch.xml' && [ \"\$(xml_root '$W/ch.xml')\" = check_health ] && [ \"\$(xml_text '$W/ch.xml' success)\" = 1 ] && grep -qi '^Connection: close' '$W/hdr' && grep -qi '^Content-Type: text/xml' '$W/hdr'"

curl -s -H "$H" -d action=get_api_info "$B/api/command" >"$W/ai.xml"
check "get_api_info root api_information (POST form)" test "$(xml_root "$W/ai.xml")" = api_information

# 31 tokens: the first is evicted
first=$(token "$B")
for i in $(seq 1 30); do last=$(token "$B"); done
c1=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $first" "$B/api/command?action=check_health")
c2=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $last" "$B/api/command?action=check_health")
check "31st token evicts the oldest (first=401 last=200)" test "$c1:$c2" = "401:200"
TOK=$last
H="Authorization: Bearer $TOK"

# listings and full reports
curl -s -H "$H" "$B/api/reporting?generate_report=SupportSessionListing&end_time=0&duration=0" >"$W/list.xml"
n=$(grep -o '<session_summary lsid="[0-9a-f]\{32\}" has_recording="[01]"/>' "$W/list.xml" | wc -l)
check "SupportSessionListing lists 5 sessions" bash -c "[ $n = 5 ] && [ \"\$($PY -c 'import sys,xml.dom.minidom;print(xml.dom.minidom.parse(sys.argv[1]).documentElement.localName)' '$W/list.xml')\" = session_summary_list ]"
LSID=$(grep -o 'lsid="[0-9a-f]*"' "$W/list.xml" | head -1 | cut -d'"' -f2)

curl -s -H "$H" "$B/api/reporting?generate_report=SupportSession&lsid=$LSID" >"$W/s.xml"
check "SupportSession by lsid is well-formed XML" xml_ok "$W/s.xml"
check "SupportSession has the lsid, end_time and Session End" bash -c \
    "grep -q 'session lsid=\"$LSID\"' '$W/s.xml' && grep -q '<end_time timestamp=\"[0-9]*\">' '$W/s.xml' && grep -q 'event_type=\"Session End\"' '$W/s.xml'"

curl -s -H "$H" "$B/api/reporting?generate_report=SupportSession&end_time=0&duration=0" >"$W/all.xml"
check "SupportSession end_time window returns 5 sessions with escaped chat" bash -c \
    "$(declare -f xml_ok); xml_ok '$W/all.xml' && [ \$(grep -c '<session lsid=' '$W/all.xml') = 5 ] && grep -q 'event_type=\"Chat Message\"' '$W/all.xml' && grep -q '&amp;\|&lt;\|&quot;' '$W/all.xml'"

lsids="$LSID,$(grep -o 'lsid="[0-9a-f]*"' "$W/list.xml" | sed -n 2p | cut -d'"' -f2)"
curl -s -H "$H" "$B/api/reporting?generate_report=SupportSession&lsids=$lsids" >"$W/two.xml"
check "SupportSession lsids=a,b returns 2" test "$(grep -c '<session lsid=' "$W/two.xml")" = 2

code=$(curl -s -o "$W/err.xml" -w '%{http_code}' -H "$H" "$B/api/reporting?generate_report=SupportSession&lsid=00000000000000000000000000000000")
check "unknown lsid -> HTTP 200 with <error>" bash -c "[ $code = 200 ] && [ \"\$($PY -c 'import sys,xml.dom.minidom;print(xml.dom.minidom.parse(sys.argv[1]).documentElement.localName)' '$W/err.xml')\" = error ]"

curl -s -H "$H" "$B/api/reporting?generate_report=AccessSession&lsid=$LSID" >"$W/wrong.xml"
check "AccessSession on RS -> <error>" test "$(xml_root "$W/wrong.xml")" = error

today=$(date -u +%F)
curl -s -H "$H" "$B/api/reporting?generate_report=SupportSessionListing&start_date=$today&duration=0" >"$W/d.xml"
yesterday=$(date -u -d '1 day ago' +%F 2>/dev/null || echo "$today")
curl -s -H "$H" "$B/api/reporting?generate_report=SupportSessionListing&start_date=$yesterday&duration=0" >"$W/d2.xml"
check "start_date listing works" test "$(grep -c '<session_summary ' "$W/d2.xml")" -ge 1

# session keys, active sessions, attributes
curl -s -H "$H" --data-urlencode action=generate_session_key --data-urlencode type=support \
    --data-urlencode queue_id=general --data-urlencode external_key=INC0012345 \
    --data-urlencode 'session.custom.snow_task_id=TASK<01>&x' "$B/api/command" >"$W/key.xml"
SK=$(xml_text "$W/key.xml" short_key)
check "generate_session_key returns a 7-digit short_key" bash -c "[ \"\$($PY -c 'import sys,xml.dom.minidom;print(xml.dom.minidom.parse(sys.argv[1]).documentElement.localName)' '$W/key.xml')\" = session_key ] && [[ '$SK' =~ ^[0-9]{7}$ ]]"
curl -s -H "$H" "$B/api/command?action=generate_session_key&type=support&queue_id=rep_username:nobody" >"$W/key2.xml"
check "generate_session_key rejects unknown rep_username" test "$(xml_root "$W/key2.xml")" = error

resp=$(curl -s -X POST "$B/_btsim/sessions/start?short_key=$SK")
ALSID=$(json_get "$resp" '["lsid"]')
check "control: start session from key" bash -c "[[ '$ALSID' =~ ^[0-9a-f]{32}$ ]]"
curl -s -H "$H" "$B/api/command?action=get_session_attributes&lsid=$ALSID" >"$W/ga.xml"
check "get_session_attributes carries key's external_key and custom field" bash -c \
    "grep -q 'code_name=\"external_key\">INC0012345<' '$W/ga.xml' && grep -q 'code_name=\"snow_task_id\">TASK&lt;01&gt;&amp;x<' '$W/ga.xml'"
curl -s -H "$H" --data-urlencode action=set_session_attributes --data-urlencode lsid="$ALSID" \
    --data-urlencode session.custom.external_key=INC0099999 --data-urlencode session.custom.snow_task_id= \
    "$B/api/command" >"$W/sa.xml"
check "set_session_attributes success" test "$(xml_text "$W/sa.xml" success)" = "Session attributes were set"
long=$(head -c 1100 /dev/zero | tr '\0' a)
curl -s -H "$H" --data-urlencode action=set_session_attributes --data-urlencode lsid="$ALSID" \
    --data-urlencode "session.custom.foo=$long" "$B/api/command" >"$W/sa2.xml"
check "set_session_attributes rejects >1024 chars" test "$(xml_root "$W/sa2.xml")" = error
curl -s -H "$H" "$B/api/reporting?generate_report=SupportSession&lsid=$ALSID" >"$W/act.xml"
check "active session report: empty end_time, new external_key, cleared custom" bash -c \
    "grep -q '<end_time></end_time>' '$W/act.xml' && grep -q '<external_key>INC0099999</external_key>' '$W/act.xml' && ! grep -q snow_task_id '$W/act.xml'"
curl -s -X POST "$B/_btsim/sessions/end?lsid=$ALSID" >/dev/null
curl -s -H "$H" "$B/api/reporting?generate_report=SupportSession&lsid=$ALSID" >"$W/act2.xml"
check "ended session report has end_time" grep -q '<end_time timestamp=' "$W/act2.xml"
curl -s -H "$H" "$B/api/command?action=set_session_attributes&lsid=$ALSID&session.custom.external_key=x" >"$W/sa3.xml"
check "set_session_attributes on ended session -> <error>" test "$(xml_root "$W/sa3.xml")" = error
curl -s -H "$H" "$B/api/command?action=no_such_action" >"$W/ua.xml"
check "unknown action -> <error>" test "$(xml_root "$W/ua.xml")" = error

# faults
curl -s -X POST "$B/_btsim/faults?spec=report-5xx:1" >/dev/null
c1=$(curl -s -o /dev/null -w '%{http_code}' -H "$H" "$B/api/reporting?generate_report=SupportSession&lsid=$LSID")
c2=$(curl -s -o /dev/null -w '%{http_code}' -H "$H" "$B/api/reporting?generate_report=SupportSession&lsid=$LSID")
check "fault report-5xx:1 (503 then 200)" test "$c1:$c2" = "503:200"
curl -s -X POST "$B/_btsim/faults?spec=drop-connection:1" >/dev/null
curl -s -o /dev/null -H "$H" "$B/api/command?action=check_health"; rc1=$?
code=$(curl -s -o /dev/null -w '%{http_code}' -H "$H" "$B/api/command?action=check_health")
check "fault drop-connection:1 (empty reply, then 200)" test "$rc1:$code" = "52:200"
curl -s -X POST "$B/_btsim/faults?spec=token-5xx:1" >/dev/null
code=$(curl -s -o /dev/null -w '%{http_code}' -u btsim-client:btsim-secret -d grant_type=client_credentials "$B/oauth2/token")
check "fault token-5xx:1" test "$code" = 503
curl -s -X POST "$B/_btsim/faults?spec=expire-tokens" >/dev/null
code=$(curl -s -o /dev/null -w '%{http_code}' -H "$H" "$B/api/command?action=check_health")
check "fault expire-tokens invalidates live tokens" test "$code" = 401
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$B/_btsim/faults?spec=bogus:1")
check "bad fault spec -> 400" test "$code" = 400
stats=$(curl -s "$B/_btsim/stats")
check "stats counts tokens and rejects" bash -c "[ '$(json_get "$stats" '["tokens_issued"]')' -ge 32 ] && [ '$(json_get "$stats" '["token_rejects"]')' -ge 3 ] && [ '$(json_get "$stats" '["tokens_live"]')' = 0 ]"

# token expiry
start_btsim ttl --token-ttl 1
B2=http://127.0.0.1:$PORT
t=$(token "$B2")
c1=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $t" "$B2/api/command?action=check_health")
sleep 1.3
c2=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $t" "$B2/api/command?action=check_health")
check "--token-ttl: token expires (200 then 401)" test "$c1:$c2" = "200:401"

# ---------------------------------------------------------------- session keys (§2.1)
# jcheck NAME JSON EXPR: EXPR is Python over d (the parsed JSON)
jcheck() {
    local name=$1 json=$2 expr=$3
    if $PY -c 'import json,sys; d=json.loads(sys.argv[1]); sys.exit(0 if eval(sys.argv[2]) else 1)' \
        "$json" "$expr" 2>/dev/null; then ok "$name"; else bad "$name" "$(printf '%s' "$json" | head -c 400)"; fi
}
# pj URL JSON [METHOD]: sends a JSON body; sets CODE and BODY
pj() {
    CODE=$(curl -s -o "$W/pj" -w '%{http_code}' -X "${3:-POST}" -H 'Content-Type: application/json' \
        --data-binary "$2" "$1")
    BODY=$(cat "$W/pj")
}
# cmd ARGS...: /api/command on $B with the current token, form-encoded; XML to $W/cmd.xml
cmd() { curl -s -H "$H" "$@" "$B/api/command" >"$W/cmd.xml"; }
xml_err() { # MESSAGE-PART [FILE]: the answer is <error> and its text holds MESSAGE-PART
    $PY -c 'import sys, xml.dom.minidom as m
r = m.parse(sys.argv[1]).documentElement
t = "".join(n.data for n in r.childNodes if n.nodeType == n.TEXT_NODE)
sys.exit(0 if r.localName == "error" and sys.argv[2] in t else 1)' "${2:-$W/cmd.xml}" "$1" 2>/dev/null
}
long() { head -c "$1" /dev/zero | tr '\0' "${2:-a}"; }
export W

TOK=$(token "$B")
H="Authorization: Bearer $TOK"
now=$(date +%s)
cmd --data-urlencode action=generate_session_key --data-urlencode type=support \
    --data-urlencode 'session.custom.snow_case_id=CS0001001'
check "generate_session_key: default ttl 3600, expires about now+3600, key_url carries the key" bash -c \
    "$(declare -f xml_text); [ \"\$(xml_text '$W/cmd.xml' ttl)\" = 3600 ] && e=\$(xml_text '$W/cmd.xml' expires) && [ \$((e - $now)) -ge 3599 ] && [ \$((e - $now)) -le 3602 ] && k=\$(xml_text '$W/cmd.xml' short_key) && xml_text '$W/cmd.xml' key_url | grep -q \"\$k\" && [ -n \"\$(xml_text '$W/cmd.xml' mail_body)\" ] && [ \"\$(xml_text '$W/cmd.xml' queue_id)\" = general ]"
cmd --data-urlencode action=generate_session_key --data-urlencode type=support \
    --data-urlencode session.custom.not_defined=x
check "undefined custom field -> <error> Error validating parameter 'not_defined'" \
    xml_err "Error validating parameter 'not_defined': The session attribute is invalid"
pj "$B/_btsim/custom_fields" '{"error_style":"code-name"}' PUT
jcheck "PUT custom_fields error_style code-name" "$BODY" 'd["error_style"] == "code-name" and "snow_case_id" in d["fields"]'
cmd --data-urlencode action=generate_session_key --data-urlencode type=support \
    --data-urlencode session.custom.not_defined=x
check "undefined custom field (code-name style) -> Invalid custom field code name" \
    xml_err "Invalid custom field code name"
pj "$B/_btsim/custom_fields" '{"fields":["not_defined"],"error_style":"validating"}'
jcheck "POST custom_fields adds a field" "$BODY" '"not_defined" in d["fields"] and "snow_task_id" in d["fields"] and len(d["fields"]) == 9'
cmd --data-urlencode action=generate_session_key --data-urlencode type=support \
    --data-urlencode session.custom.not_defined=x
check "a defined field is accepted" test "$(xml_root "$W/cmd.xml")" = session_key
code=$(curl -s -o /dev/null -w '%{http_code}' -X DELETE "$B/_btsim/custom_fields/not_defined")
cmd --data-urlencode action=generate_session_key --data-urlencode type=support \
    --data-urlencode session.custom.not_defined=x
check "DELETE custom_fields/<name> removes it again" bash -c "[ $code = 200 ] && $(declare -f xml_err); xml_err 'not_defined'"
pj "$B/_btsim/custom_fields" '{"fields":"snow_task_id"}' PUT
check "custom_fields: fields not an array -> 400" test "$CODE" = 400
pj "$B/_btsim/custom_fields" '{"fields":["Bad-Name"]}' PUT
check "custom_fields: bad code name -> 400" test "$CODE" = 400
pj "$B/_btsim/custom_fields" '{"fields":["a"' PUT
check "custom_fields: bad JSON -> 400" bash -c "[ $CODE = 400 ] && grep -q 'invalid JSON' '$W/pj'"
pj "$B/_btsim/custom_fields" '{"error_style":"loud"}' PUT
check "custom_fields: bad error_style -> 400" test "$CODE" = 400
pj "$B/_btsim/custom_fields" "{\"fields\":[$($PY -c 'print(",".join("\"f%d\"" % i for i in range(101)))')]}" PUT
check "custom_fields: more than 100 -> 400" test "$CODE" = 400
fields=$(curl -s "$B/_btsim/custom_fields")
jcheck "custom_fields unchanged by refused requests (8 defaults)" "$fields" 'len(d["fields"]) == 8 and d["error_style"] == "validating"'

for q in 'rep:abc' 'team:' 'bogus' 'embassy:1' 'rep:99' 'rep_username:nobody' 'issue:'; do
    cmd --data-urlencode action=generate_session_key --data-urlencode type=support --data-urlencode "queue_id=$q"
    check "queue_id '$q' -> <error>" test "$(xml_root "$W/cmd.xml")" = error
done
cmd --data-urlencode action=generate_session_key --data-urlencode type=support --data-urlencode queue_id=rep:2
check "queue_id rep:2 -> the rep's queue" bash -c "$(declare -f xml_text); [ \"\$(xml_text '$W/cmd.xml' queue_id)\" = rep:2 ] && [ \"\$(xml_text '$W/cmd.xml' queue)\" = jdoe ]"
for t in 0 -5 abc 99999999999 ''; do
    cmd --data-urlencode action=generate_session_key --data-urlencode type=support --data-urlencode "ttl=$t"
    check "ttl '$t' -> <error>" xml_err "Invalid ttl"
done
cmd --data-urlencode action=generate_session_key --data-urlencode type=support \
    --data-urlencode "session.custom.snow_case_id=$(long 1025)"
check "custom value over 1024 chars -> <error>" xml_err "exceeds 1024"
cmd --data-urlencode action=generate_session_key --data-urlencode type=support \
    --data-urlencode "external_key=$(long 1025)"
check "external_key over 1024 chars -> <error>" xml_err "exceeds 1024"
args=()
for i in $(seq 1 11); do args+=(--data-urlencode "session.custom.f$i=$(long 1000)"); done
cmd --data-urlencode action=generate_session_key --data-urlencode type=support "${args[@]}"
check "custom values over 10 KB together -> <error>" xml_err "10 KB"
curl -s -H "$H" "$B/api/command?action=generate_session_key&type=support&session.custom.snow_case_id=%FF%FE" >"$W/cmd.xml"
check "custom value that is not UTF-8 -> <error>" xml_err "UTF-8"
cmd --data-urlencode action=generate_session_key --data-urlencode type=support --data-urlencode 'url_hostname=evil host/'
check "bad url_hostname -> <error>" xml_err "url_hostname"

# a key with a short TTL, an external key and a custom field; a customer uses it
cmd --data-urlencode action=generate_session_key --data-urlencode type=support --data-urlencode ttl=3 \
    --data-urlencode queue_id=rep_username:jdoe --data-urlencode external_key=CS0001001 \
    --data-urlencode 'session.custom.snow_case_id=sys<id>&1' --data-urlencode url_hostname=help.example.net
SK=$(xml_text "$W/cmd.xml" short_key)
check "key_url uses url_hostname" bash -c "$(declare -f xml_text); xml_text '$W/cmd.xml' key_url | grep -q '^https://help.example.net/.*$SK'"
keys=$(curl -s "$B/_btsim/keys")
jcheck "GET /_btsim/keys lists the key with its expiry, queue and custom fields" "$keys" \
    "[k for k in d['keys'] if k['short_key'] == '$SK' and k['expires'] - k['created'] == 3 and k['queue_id'] == 'rep_username:jdoe' and k['rep'] == 'jdoe' and k['custom'] == {'snow_case_id': 'sys<id>&1'} and not k['expired']]"
pj "$B/_btsim/customer/start" "{\"short_key\":\"$SK\",\"customer_name\":\"Bob \\\"B\\\" Smith\",\"customer_company\":\"Bob & Co\",\"company_code\":\"B42\",\"details\":\"VPN <broken>\",\"public_portal\":\"Partner Portal\",\"customer_email\":\"bob@example.com\"}"
CL=$(json_get "$BODY" '["lsid"]')
jcheck "customer/start: a waiting session with the key's external key, custom fields and queue" "$BODY" \
    "d['external_key'] == 'CS0001001' and d['custom'] == {'snow_case_id': 'sys<id>&1', 'customer_email': 'bob@example.com'} and d['queue_id'] == 'rep_username:jdoe' and d['rep'] is None and d['public_site'] == 'Partner Portal' and d['attended']"
curl -s -H "$H" "$B/api/reporting?generate_report=SupportSessionListing&start_time=$now&duration=0" >"$W/l.xml"
check "the waiting session is listed in a start window" grep -q "lsid=\"$CL\"" "$W/l.xml"
curl -s -H "$H" "$B/api/reporting?generate_report=SupportSessionListing&end_time=$now&duration=0" >"$W/l.xml"
check "... and not in an end window (still active)" bash -c "! grep -q '$CL' '$W/l.xml'"
curl -s -H "$H" "$B/api/reporting?generate_report=SupportSession&lsid=$CL" >"$W/c.xml"
check "report of the waiting session: empty end_time, portal, customer info, custom attributes, no primary_rep" bash -c \
    "$(declare -f xml_ok); xml_ok '$W/c.xml' && grep -q '<end_time></end_time>' '$W/c.xml' && grep -q '<public_site id=\"[0-9]*\">Partner Portal</public_site>' '$W/c.xml' && grep -q '<name>Bob &quot;B&quot; Smith</name><company>Bob &amp; Co</company><company_code>B42</company_code><details>VPN &lt;broken&gt;</details>' '$W/c.xml' && grep -q 'code_name=\"customer_email\" display_name=\"[^\"]*\">bob@example.com<' '$W/c.xml' && grep -q '<external_key>CS0001001</external_key>' '$W/c.xml' && ! grep -q '<primary_rep' '$W/c.xml'"

pj "$B/_btsim/sessions/$CL/chat" '{"from":"customer","text":"Hello? <anyone> & \"you\" — café"}'
check "chat from the customer while waiting -> 200" test "$CODE" = 200
pj "$B/_btsim/sessions/$CL/chat" '{"from":"rep","text":"hi"}'
check "chat from a rep before any joined -> 409" test "$CODE" = 409
pj "$B/_btsim/sessions/$CL/file" '{"name":"a.log","size":10,"direction":"upload"}'
check "file transfer before a rep joined -> 409" test "$CODE" = 409
pj "$B/_btsim/sessions/$CL/join" '{"rep":"jdoe"}'
jcheck "join: rep jdoe -> Conference Member Added" "$BODY" 'd["event"] == "Conference Member Added" and d["active"]'
pj "$B/_btsim/sessions/$CL/join" '{"rep":"jdoe"}'
check "join the same rep again -> 409" test "$CODE" = 409
pj "$B/_btsim/sessions/$CL/join" '{"rep":"nobody"}'
check "join an unknown rep -> 404" test "$CODE" = 404
pj "$B/_btsim/sessions/$CL/join" '{}'
check "join without rep -> 400" test "$CODE" = 400
pj "$B/_btsim/sessions/$CL/chat" '{"from":"rep","text":"Taking a look."}'
check "chat from the rep -> 200" test "$CODE" = 200
pj "$B/_btsim/sessions/$CL/file" '{"name":"report \"final\".pdf","size":4096,"direction":"download"}'
jcheck "file download -> File Download" "$BODY" 'd["event"] == "File Download"'
pj "$B/_btsim/sessions/$CL/file" '{"name":"big.iso","size":1,"direction":"upload","failed":true}'
jcheck "failed upload -> File Upload Failed" "$BODY" 'd["event"] == "File Upload Failed"'
for bodyj in '{"from":"bot","text":"x"}' '{"from":"customer"}' '{"from":"customer","text":""}' \
    "{\"from\":\"customer\",\"text\":\"$(long 16385)\"}"; do
    pj "$B/_btsim/sessions/$CL/chat" "$bodyj"
    check "bad chat $(printf '%.40s' "$bodyj") -> 400" test "$CODE" = 400
done
for bodyj in '{"size":1,"direction":"upload"}' '{"name":"x","size":-1,"direction":"upload"}' \
    '{"name":"x","size":"many","direction":"upload"}' '{"name":"x","size":1,"direction":"sideways"}' \
    "{\"name\":\"$(long 256)\",\"size\":1,\"direction\":\"upload\"}" '{"name":"x","size":1,"direction":"upload","failed":"maybe"}'; do
    pj "$B/_btsim/sessions/$CL/file" "$bodyj"
    check "bad file $(printf '%.40s' "$bodyj") -> 400" test "$CODE" = 400
done
pj "$B/_btsim/sessions/$CL/chat" '{"from":"customer","text":"x"'
check "chat with bad JSON -> 400" test "$CODE" = 400
pj "$B/_btsim/sessions/$CL/chat" '["from","customer"]'
check "chat with a JSON array body -> 400" test "$CODE" = 400
pj "$B/_btsim/sessions/00000000000000000000000000000000/chat" '{"from":"customer","text":"x"}'
check "chat on an unknown session -> 404" test "$CODE" = 404
pj "$B/_btsim/sessions/$CL/dance" '{}'
check "unknown session action -> 404" test "$CODE" = 404
code=$(curl -s -o /dev/null -w '%{http_code}' "$B/_btsim/sessions/$CL/chat")
check "GET on a POST route -> 405" test "$code" = 405
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' --data-binary @<(head -c 1100000 /dev/zero | tr '\0' ' ') "$B/_btsim/sessions/$CL/chat")
check "control body over 1 MiB -> 413" test "$code" = 413
curl -s -H "$H" "$B/api/reporting?generate_report=SupportSession&lsid=$CL" >"$W/c.xml"
check "report after join/chat/file: primary_rep jdoe, chat bodies, file events, transfer count 1" $PY -c '
import sys, xml.dom.minidom
d = xml.dom.minidom.parse(sys.argv[1])
t = lambda n: "".join(c.data for c in n.childNodes if c.nodeType == c.TEXT_NODE)
s = d.getElementsByTagName("session")[0]
assert t(s.getElementsByTagName("primary_rep")[0]) == "John Doe"
ev = [(e.getAttribute("event_type"), e) for e in s.getElementsByTagName("event")]
chats = [t(e.getElementsByTagName("body")[0]) for k, e in ev if k == "Chat Message"]
assert chats == ["Hello? <anyone> & \"you\" \u2014 caf\u00e9", "Taking a look."], chats
added = [e for k, e in ev if k == "Conference Member Added" and e.getElementsByTagName("destination")[0].getAttribute("type") == "representative"]
assert len(added) == 1
vals = {v.getAttribute("name"): v.getAttribute("value") for v in added[0].getElementsByTagName("value")}
assert vals["username"] == "jdoe"
kinds = [k for k, e in ev]
assert "File Download" in kinds and "File Upload Failed" in kinds
assert t(s.getElementsByTagName("file_transfer_count")[0]) == "1"
assert t(s.getElementsByTagName("lseq")[0]) == str(len(ev))' "$W/c.xml"
pj "$B/_btsim/sessions/$CL/end" '{}'
jcheck "end via /sessions/{lsid}/end" "$BODY" 'd["event"] == "Session End" and not d["active"]'
pj "$B/_btsim/sessions/$CL/chat" '{"from":"customer","text":"still there?"}'
check "chat after the end -> 409" test "$CODE" = 409
curl -s -H "$H" "$B/api/reporting?generate_report=SupportSession&lsid=$CL" >"$W/c.xml"
check "ended live session: end_time set, Session End last, no invented notes" bash -c \
    "grep -q '<end_time timestamp=' '$W/c.xml' && tail -4 '$W/c.xml' | grep -q 'event_type=\"Session End\"' && ! grep -q 'Session Note Added' '$W/c.xml'"

SK_EXPIRES=$(curl -s "$B/_btsim/keys" | $PY -c 'import json,sys; print([k["expires"] for k in json.load(sys.stdin)["keys"] if k["short_key"] == sys.argv[1]][0])' "$SK")
while [ "$(date +%s)" -lt "$SK_EXPIRES" ]; do sleep 0.2; done
pj "$B/_btsim/customer/start" "{\"short_key\":\"$SK\"}"
jcheck "customer/start with an expired key -> 410 with a reason" "$BODY" "$CODE == 410 and d['error'] == 'session key expired' and d['short_key'] == '$SK'"
pj "$B/_btsim/sessions/start" "{\"short_key\":\"$SK\"}"
check "sessions/start with an expired key -> 410" test "$CODE" = 410
pj "$B/_btsim/customer/start" '{"short_key":"0000000"}'
jcheck "customer/start with an unknown key -> 404 with a reason" "$BODY" "$CODE == 404 and d['error'] == 'unknown session key'"
pj "$B/_btsim/customer/start" '{}'
check "customer/start without a key -> 400" test "$CODE" = 400
cmd --data-urlencode action=generate_session_key --data-urlencode type=support
SK2=$(xml_text "$W/cmd.xml" short_key)
pj "$B/_btsim/customer/start" "{\"short_key\":\"$SK2\",\"customer_name\":\"$(long 101)\"}"
check "customer/start: customer_name over 100 chars -> 400" bash -c "[ $CODE = 400 ] && grep -q 'customer name' '$W/pj'"
pj "$B/_btsim/customer/start" "{\"short_key\":\"$SK2\",\"customer_company\":\"$(long 101)\"}"
check "customer/start: company over 100 chars -> 400" test "$CODE" = 400
pj "$B/_btsim/customer/start" "{\"short_key\":\"$SK2\",\"details\":\"$(long 5000)\"}"
check "customer/start: details over 4096 chars -> 400" test "$CODE" = 400
pj "$B/_btsim/customer/start" "{\"short_key\":\"$SK2\",\"attended\":\"maybe\"}"
check "customer/start: attended not a boolean -> 400" test "$CODE" = 400
pj "$B/_btsim/customer/start" "{\"short_key\":\"$SK2\",\"custom\":{\"snow_case_id\":\"$(long 1025)\"}}"
check "customer/start: custom value over 1024 -> 400" test "$CODE" = 400
pj "$B/_btsim/customer/start" '{"short_key":'
check "customer/start: bad JSON -> 400" test "$CODE" = 400
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$B/_btsim/customer/start?short_key=$SK2&customer_name=%FF")
check "customer/start: name not UTF-8 (query) -> 400" test "$code" = 400
pj "$B/_btsim/keys" '{}'
check "POST on a GET route -> 405" test "$CODE" = 405
code=$(curl -s -o /dev/null -w '%{http_code}' "$B/_btsim/nothing/here/at/all")
check "unknown control path -> 404" test "$code" = 404

# attended / unattended and portal on sessions/start (a rep is present at once)
pj "$B/_btsim/sessions/start" '{"public_portal":"Internal IT","attended":false,"customer_host":"KIOSK-7","rep":"asa.lindstrom","customer_username":"k.user","custom":{"custom_field_1":"v1"}}'
UL=$(json_get "$BODY" '["lsid"]')
jcheck "sessions/start unattended with portal, rep and custom fields" "$BODY" \
    "d['attended'] is False and d['public_site'] == 'Internal IT' and d['rep'] == 'asa.lindstrom' and d['custom'] == {'customer_username': 'k.user', 'custom_field_1': 'v1'}"
curl -s -H "$H" "$B/api/reporting?generate_report=SupportSession&lsid=$UL" >"$W/u.xml"
check "unattended report: endpoint as primary customer, portal, rep owner" bash -c \
    "grep -q '<primary_customer gsnumber=\"[0-9]*\">KIOSK-7</primary_customer>' '$W/u.xml' && grep -q '>Internal IT</public_site>' '$W/u.xml' && grep -q '<primary_rep gsnumber=\"[0-9]*\" id=\"3\">' '$W/u.xml'"
pj "$B/_btsim/sessions/start" '{"rep":"ghost"}'
check "sessions/start with an unknown rep -> 404" test "$CODE" = 404
pj "$B/_btsim/sessions/start" '{"ticket_id":"CHG0000001"}'
check "sessions/start with a ticket ID nothing approved -> 404" test "$CODE" = 404
all=$(curl -s "$B/_btsim/sessions")
jcheck "GET /_btsim/sessions shows live, queue, portal and attended" "$all" \
    "[s for s in d['sessions'] if s['lsid'] == '$CL' and s['live'] and s['queue_id'] == 'rep_username:jdoe' and s['public_site'] == 'Partner Portal' and s['attended'] and not s['active']] and [s for s in d['sessions'] if s['lsid'] == '$UL' and not s['attended'] and s['reps'] == ['asa.lindstrom']]"
curl -s -H "$H" --data-urlencode action=join_session --data-urlencode lsid="$UL" --data-urlencode rep_username=kwang "$B/api/command" >"$W/cmd.xml"
check "join_session (command API) adds a representative" test "$(xml_text "$W/cmd.xml" success)" = "Representative successfully added"
curl -s -H "$H" --data-urlencode action=join_session --data-urlencode lsid="$UL" --data-urlencode rep_id=999 "$B/api/command" >"$W/cmd.xml"
check "join_session with an unknown rep_id -> <error>" test "$(xml_root "$W/cmd.xml")" = error
curl -s -H "$H" --data-urlencode action=set_session_attributes --data-urlencode lsid="$UL" \
    --data-urlencode session.custom.unknown_field=1 "$B/api/command" >"$W/cmd.xml"
check "set_session_attributes with an undefined field -> <error>" xml_err "Error validating parameter 'unknown_field'"
curl -s -H "$H" --data-urlencode action=set_session_attributes --data-urlencode lsid="$UL" \
    --data-urlencode session.custom.snow_case_id=CS0002002 "$B/api/command" >"$W/cmd.xml"
check "set_session_attributes snow_case_id on the live session" test "$(xml_text "$W/cmd.xml" success)" = "Session attributes were set"

# ---------------------------------------------------------------- public site (§6.2)
curl -s -D "$W/ss.hdr" -o "$W/ss.html" "$B/api/start_session?c2cjs=1&issue_menu=1&codeName=issue_4&customer.name=John%20Doe&customer.company=Doe%20%26%20Sons&customer.company_code=1234&customer.details=I%20need%20support&session.custom.snow_case_id=CS0003003&session.custom.customer_username=b.smith&session.custom.external_key=EXT-1"
SL=$(grep -i '^X-Btsim-Lsid:' "$W/ss.hdr" | cut -d' ' -f2 | tr -d '\r')
check "start_session: 200 HTML page with X-Btsim-Lsid" bash -c \
    "grep -q '^HTTP/1.1 200' '$W/ss.hdr' && grep -qi '^Content-Type: text/html' '$W/ss.hdr' && [[ '$SL' =~ ^[0-9a-f]{32}$ ]] && grep -q '<html' '$W/ss.html'"
all=$(curl -s "$B/_btsim/sessions")
jcheck "start_session: waiting in issue:issue_4 with the customer fields and custom attributes" "$all" \
    "[s for s in d['sessions'] if s['lsid'] == '$SL' and s['queue_id'] == 'issue:issue_4' and s['customer_name'] == 'John Doe' and s['customer_company'] == 'Doe & Sons' and s['custom'] == {'snow_case_id': 'CS0003003', 'customer_username': 'b.smith'} and s['external_key'] == 'EXT-1' and s['rep'] is None and s['active']]"
curl -s -D "$W/ss.hdr" -o /dev/null "$B/api/start_session?id=2&customer.name=Ann"
jcheck "start_session id=2: the rep's queue" "$(curl -s "$B/_btsim/sessions")" \
    "d['sessions'][-1]['queue_id'] == 'rep_username:jdoe' and d['sessions'][-1]['customer_name'] == 'Ann'"
curl -s -o /dev/null "$B/api/start_session?name=Kai%20Wang%20%E7%8E%8B%E5%87%AF"
jcheck "start_session name=<public display name>: that rep's queue" "$(curl -s "$B/_btsim/sessions")" \
    "d['sessions'][-1]['queue_id'] == 'rep_username:kwang'"
cmd --data-urlencode action=generate_session_key --data-urlencode type=support --data-urlencode external_key=K-9 \
    --data-urlencode session.custom.snow_task_id=TASK9
SK3=$(xml_text "$W/cmd.xml" short_key)
curl -s -o /dev/null "$B/api/start_session?short_key=$SK3&customer.name=Kim"
jcheck "start_session short_key: the key's external key and custom fields" "$(curl -s "$B/_btsim/sessions")" \
    "d['sessions'][-1]['external_key'] == 'K-9' and d['sessions'][-1]['custom'] == {'snow_task_id': 'TASK9'}"
ss() { code=$(curl -s -o "$W/ss.html" -w '%{http_code}' "$B/api/start_session?$1"); [ "$code" = "$2" ] && grep -q "$3" "$W/ss.html"; }
check "start_session: customer.name over 100 -> 400" ss "customer.name=$(long 101)" 400 'customer.name is too long'
check "start_session: customer.company over 100 -> 400" ss "customer.company=$(long 101)" 400 'customer.company is too long'
check "start_session: customer.company_code over 100 -> 400" ss "customer.company_code=$(long 101)" 400 'company_code is too long'
check "start_session: customer.name of exactly 100 -> 200" ss "customer.name=$(long 100)" 200 'waiting'
check "start_session: customer.name not UTF-8 -> 400" ss "customer.name=%C3%28" 400 'UTF-8'
check "start_session: undefined custom field -> 400 with the appliance's message" ss \
    "session.custom.nope=1" 400 "Error validating parameter &apos;nope&apos;"
check "start_session: custom value over 1024 -> 400" ss "session.custom.snow_case_id=$(long 1025)" 400 '1024'
check "start_session: unknown rep id -> 404" ss "id=99" 404 'No representative'
check "start_session: non-numeric id -> 404" ss "id=1%20OR%201=1" 404 'No representative'
check "start_session: unknown rep name -> 404" ss "name=Nobody" 404 'No representative'
check "start_session: unknown key -> 404" ss "short_key=0000000" 404 'not valid'
check "start_session: expired key -> 410" ss "short_key=$SK" 410 'expired'
check "start_session: id and short_key together -> 400" ss "id=1&short_key=$SK3" 400 'only one'
check "start_session: bad issue code name -> 400" ss "issue_menu=1&codeName=%3Cscript%3E" 400 'issue code'
code=$(curl -s -o /dev/null -w '%{http_code}' -X DELETE "$B/api/start_session")
check "start_session: DELETE -> 405" test "$code" = 405

# ---------------------------------------------------------------- client scripts (§6.1)
curl -s -D "$W/cs.hdr" -o "$W/cs.brcs" "$B/api/client_script?type=rep&operation=generate&action=start_jump_item_session&search_string=web%20server%20%26%20db&jump.method=pinned&session.custom.snow_task_id=TASK%2F001%20%C3%A9&session.custom.external_key=INC1"
check "client_script: BRCS1.0 + one RFC 3986 command line, attachment .brcs-support" bash -c \
    "grep -q '^HTTP/1.1 200' '$W/cs.hdr' && grep -qi '^Content-Disposition: attachment; filename=\"start_jump_item_session.brcs-support\"' '$W/cs.hdr' && [ \"\$(sed -n 1p '$W/cs.brcs')\" = BRCS1.0 ] && [ \"\$(sed -n 2p '$W/cs.brcs')\" = 'action=start_jump_item_session&search_string=web%20server%20%26%20db&jump.method=pinned&session.custom.snow_task_id=TASK%2F001%20%C3%A9&session.custom.external_key=INC1' ] && [ \$(wc -l <'$W/cs.brcs') = 2 ]"
cs() { # QUERY STATUS [MESSAGE-PART]
    code=$(curl -s -o "$W/cs.xml" -w '%{http_code}' "$B/api/client_script?type=rep&operation=generate&$1")
    [ "$code" = "$2" ] && { [ "$2" = 200 ] || xml_err "$3" "$W/cs.xml"; }
}
check "client_script: client.hostname filter without search_string -> 200" cs "action=start_jump_item_session&client.hostname=web01" 200
check "client_script: no search_string nor client.* -> 400" cs "action=start_jump_item_session" 400 'search_string is required'
check "client_script: search_string over 255 -> 400" cs "action=start_jump_item_session&search_string=$(long 256)" 400 '255'
check "client_script: client.tag over 255 -> 400" cs "action=start_jump_item_session&client.tag=$(long 256)" 400 '255'
check "client_script: custom value over 1024 -> 400" cs "action=start_jump_item_session&search_string=x&session.custom.snow_task_id=$(long 1025)" 400 '1024'
big=""
for f in snow_task_id snow_cmdb_ci_id snow_case_id customer_email customer_username custom_field_1 custom_field_2 custom_field_3; do big+="&session.custom.$f=$(long 1000)"; done
check "client_script: custom values over 10 KB -> 400" cs "action=start_jump_item_session&search_string=x$big&session.custom.external_key=$(long 1000)&session.custom.x1=$(long 1000)&session.custom.x2=$(long 1000)" 400 '10 KB'
check "client_script: undefined custom field -> 400" cs "action=start_jump_item_session&search_string=x&session.custom.nope=1" 400 "Error validating parameter 'nope'"
check "client_script: undocumented parameter -> 400" cs "action=start_jump_item_session&search_string=x&serch=1" 400 'Invalid parameter'
check "client_script: bad jump.method -> 400" cs "action=start_jump_item_session&search_string=x&jump.method=teleport" 400 'jump.method'
check "client_script: unknown action -> 400" cs "action=format_disk" 400 'action'
check "client_script: shell jump without target -> 400" cs "action=start_shell_jump_session" 400 'target'
check "client_script: shell jump bad port -> 400" cs "action=start_shell_jump_session&target=h&port=70000" 400 'port'
check "client_script: shell jump protocol rlogin -> 400" cs "action=start_shell_jump_session&target=h&protocol=rlogin" 400 'protocol'
check "client_script: generate_session_key with public_portal_hostname -> 200" cs "action=generate_session_key&public_portal_hostname=support.example.com&session.custom.external_key=x" 200
code=$(curl -s -o "$W/cs.xml" -w '%{http_code}' "$B/api/client_script?operation=generate&action=login")
check "client_script: missing type -> 400" bash -c "[ $code = 400 ] && grep -q 'type' '$W/cs.xml'"
code=$(curl -s -o "$W/cs.xml" -w '%{http_code}' "$B/api/client_script?type=rep&operation=run&action=login")
check "client_script: bad operation -> 400" test "$code" = 400

# ---------------------------------------------------------------- PRA
start_btsim pra --product pra --sessions 2
B3=http://127.0.0.1:$PORT
t=$(token "$B3")
curl -s -H "Authorization: Bearer $t" "$B3/api/reporting?generate_report=AccessSession&end_time=0&duration=0" >"$W/pra.xml"
check "PRA AccessSession: valid XML, sra namespace, jumpoint, File Transfer Complete" bash -c \
    "$(declare -f xml_ok); xml_ok '$W/pra.xml' && grep -q 'xmlns=\"http://www.beyondtrust.com/sra/namespaces/API/reporting\"' '$W/pra.xml' && grep -q '<jumpoint id=' '$W/pra.xml' && grep -q 'File Transfer Complete' '$W/pra.xml' && grep -q '<jump_group type=' '$W/pra.xml'"
curl -s -H "Authorization: Bearer $t" "$B3/api/command?action=generate_session_key&type=support" >"$W/prakey.xml"
check "PRA generate_session_key -> <error>" test "$(xml_root "$W/prakey.xml")" = error

# ---------------------------------------------------------------- ticket system (§5)
# The receiver answers by ticket ID: CHG* allow (with custom attributes),
# DENY* deny, RAW plain text, ERR 500, SLOW after 2 s; it logs each request.
cat >"$W/ts.py" <<'EOF'
import http.server, json, os, sys, time, urllib.parse
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        raw = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
        ct = self.headers.get("Content-Type", "")
        d = json.loads(raw) if ct.startswith("application/json") else dict(urllib.parse.parse_qsl(raw))
        tid = d.get("ticket_id", "")
        with open(sys.argv[2], "a") as log:
            log.write(json.dumps({"ct": ct, "token": self.headers.get("X-Ticket-Token", ""), "body": d}) + "\n")
        code, ctype = 200, "application/json"
        if tid.startswith("CHG"):
            item = d.get("jump_item") if isinstance(d.get("jump_item"), dict) else {}
            out = json.dumps({"is_valid": True, "error_message": "",
                              "custom_attributes": {"snow_task_id": tid, "snow_cmdb_ci_id": "ci-%s" % item.get("name", "")}})
        elif tid.startswith("DENY"):
            out = json.dumps({"is_valid": False, "error_message": "change is not approved"})
        elif tid == "RAW":
            out, ctype = "ok <not json>", "text/plain"
        elif tid == "ERR":
            code, out = 500, json.dumps({"error": "boom"})
        else:
            if tid == "SLOW":
                time.sleep(2)
            out = json.dumps({"is_valid": True})
        b = out.encode()
        try:
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(b)))
            self.end_headers()
            self.wfile.write(b)
        except BrokenPipeError:  # btsim gave up waiting (the timeout test)
            pass
    def log_message(self, *a):
        pass
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
open(sys.argv[1] + ".tmp", "w").write(str(s.server_address[1]))
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
s.serve_forever()
EOF
$PY "$W/ts.py" "$W/ts.port" "$W/ts.log" &
PIDS+=("$!")
TSPORT=$(wait_port "$W/ts.port" "$!") || { echo "ticket system receiver did not start"; exit 1; }
TSURL="http://127.0.0.1:$TSPORT/api/x_bmgr_bomgar_pam/endpoint_approval"
JR='{"ticket_id":"CHG0030001","user":{"id":2,"username":"jdoe","public_display_name":"John Doe","email":"jdoe@example.com"},"jump_item":{"id":42,"name":"web-01","hostname":"web-01.corp.example","jump_group":{"id":3,"name":"Web & Apps","type":"shared"},"jumpoint":{"id":2,"name":"JP-East"}}}'

pj "$B3/_btsim/jump/request" "$JR"
check "jump/request without a ticket system URL -> 409" test "$CODE" = 409
pj "$B3/_btsim/jump/config" "{\"url\":\"$TSURL\",\"header\":\"X-Ticket-Token: s3cret\",\"timeout\":5}" PUT
jcheck "PUT jump/config sets url, header (name only shown), timeout" "$BODY" \
    "d['url'] == '$TSURL' and d['header_name'] == 'X-Ticket-Token' and d['timeout'] == 5 and d['format'] == 'json'"
pj "$B3/_btsim/jump/request" "$JR"
jcheck "jump/request allowed: status 200, parsed body, latency, remembered" "$BODY" \
    "d['http_status'] == 200 and d['allowed'] is True and d['remembered'] and d['body']['custom_attributes']['snow_cmdb_ci_id'] == 'ci-web-01' and d['latency_ms'] > 0 and d['format'] == 'json'"
check "the ticket system got JSON with the ticket, user, jump item and the shared header" $PY -c '
import json, sys
r = json.loads(open(sys.argv[1]).readlines()[-1])
b = r["body"]
assert r["ct"] == "application/json" and r["token"] == "s3cret"
assert b["ticket_id"] == "CHG0030001" and b["user"]["username"] == "jdoe" and b["user"]["email"] == "jdoe@example.com"
assert b["jump_item"]["jump_group"]["name"] == "Web & Apps" and b["jump_item"]["jumpoint"]["name"] == "JP-East"' "$W/ts.log"
pj "$B3/_btsim/sessions/start" '{"ticket_id":"CHG0030001","jump_item_id":"42"}'
JL=$(json_get "$BODY" '["lsid"]')
jcheck "sessions/start with the approved ticket: its custom attributes and user" "$BODY" \
    "d['custom'] == {'snow_task_id': 'CHG0030001', 'snow_cmdb_ci_id': 'ci-web-01'} and d['rep'] == 'jdoe'"
t=$(token "$B3")
curl -s -H "Authorization: Bearer $t" "$B3/api/reporting?generate_report=AccessSession&lsid=$JL" >"$W/j.xml"
check "AccessSession of the jump: custom attributes, jump item as primary customer, jumpoint and group" bash -c \
    "$(declare -f xml_ok); xml_ok '$W/j.xml' && grep -q 'code_name=\"snow_task_id\" display_name=\"[^\"]*\">CHG0030001<' '$W/j.xml' && grep -q 'code_name=\"snow_cmdb_ci_id\" display_name=\"[^\"]*\">ci-web-01<' '$W/j.xml' && grep -q '<primary_customer gsnumber=\"[0-9]*\">web-01</primary_customer>' '$W/j.xml' && grep -q '<jumpoint id=\"2\">JP-East</jumpoint>' '$W/j.xml' && grep -q '<jump_group type=\"shared\" id=\"3\">Web &amp; Apps</jump_group>' '$W/j.xml' && grep -q '<hostname>web-01.corp.example</hostname>' '$W/j.xml' && grep -q '<end_time></end_time>' '$W/j.xml'"
pj "$B3/_btsim/sessions/start" '{"ticket_id":"CHG0030001","jump_item_id":"43"}'
check "sessions/start with the ticket but another jump item -> 404" test "$CODE" = 404
grants=$(curl -s "$B3/_btsim/jump/grants")
jcheck "GET jump/grants lists the approval" "$grants" "d['grants'][0]['ticket_id'] == 'CHG0030001' and d['grants'][0]['jump_item_id'] == '42'"
pj "$B3/_btsim/jump/request" '{"ticket_id":"DENY-7","format":"form"}'
jcheck "jump/request denied (form): allowed false, not remembered, defaults filled in" "$BODY" \
    "d['allowed'] is False and not d['remembered'] and d['body']['error_message'] == 'change is not approved' and d['format'] == 'form' and d['sent']['user']['username'] == 'admin'"
check "form request: urlencoded with dotted names" $PY -c '
import json, sys
r = json.loads(open(sys.argv[1]).readlines()[-1])
assert r["ct"] == "application/x-www-form-urlencoded", r
assert r["body"]["ticket_id"] == "DENY-7" and r["body"]["jump_item.jump_group.type"] == "shared" and r["body"]["user.id"] == "1"' "$W/ts.log"
pj "$B3/_btsim/sessions/start" '{"ticket_id":"DENY-7"}'
check "sessions/start with a denied ticket -> 404" test "$CODE" = 404
pj "$B3/_btsim/jump/request" '{"ticket_id":"RAW"}'
jcheck "a non-JSON answer: body as text, allowed null" "$BODY" "d['http_status'] == 200 and d['body'] == 'ok <not json>' and d['allowed'] is None"
pj "$B3/_btsim/jump/request" '{"ticket_id":"ERR"}'
jcheck "HTTP 500: allowed null" "$BODY" "d['http_status'] == 500 and d['allowed'] is None and not d['remembered']"
pj "$B3/_btsim/jump/request" '{"ticket_id":"PLAIN"}'
jcheck "allowed without custom attributes is remembered too" "$BODY" "d['allowed'] is True and d['remembered']"
pj "$B3/_btsim/jump/config" '{"timeout":0.5}' PUT
pj "$B3/_btsim/jump/request" '{"ticket_id":"SLOW"}'
jcheck "timeout: no status, an error, allowed null, about the timeout" "$BODY" \
    "d['http_status'] == 0 and d['allowed'] is None and 'error' in d and 400 <= d['latency_ms'] < 1900"
pj "$B3/_btsim/jump/config" '{"timeout":5}' PUT
for bodyj in '{}' '{"ticket_id":""}' '{"ticket_id":{"a":1}}' '{"ticket_id":"x","user":"jdoe"}' \
    '{"ticket_id":"x","jump_item":[1]}' '{"ticket_id":"x","format":"xml"}' "{\"ticket_id\":\"$(long 1025)\"}" \
    '{"ticket_id":"x"' '"just a string"'; do
    pj "$B3/_btsim/jump/request" "$bodyj"
    check "bad jump/request $(printf '%.40s' "$bodyj") -> 400" test "$CODE" = 400
done
for bodyj in '{"url":"ftp://x/"}' '{"url":"http://a b/"}' '{"header":"no colon"}' '{"header":": empty"}' \
    '{"timeout":0}' '{"timeout":"soon"}' '{"timeout":301}' '{"format":"xml"}'; do
    pj "$B3/_btsim/jump/config" "$bodyj" PUT
    check "bad jump/config $bodyj -> 400" test "$CODE" = 400
done
cfg=$(curl -s "$B3/_btsim/jump/config")
jcheck "refused config changes left the settings alone" "$cfg" "d['url'] == '$TSURL' and d['timeout'] == 5"
pj "$B3/_btsim/jump/burst" '{"count":60,"concurrency":6,"ticket_id":"CHG-{n}"}'
jcheck "burst: 60 requests, all allowed, ordered percentiles" "$BODY" \
    "d['count'] == 60 and d['completed'] == 60 and d['ok'] == 60 and d['allowed'] == 60 and d['transport_errors'] == 0 and d['status'] == {'200': 60} and 0 < d['latency_ms']['p50'] <= d['latency_ms']['p90'] <= d['latency_ms']['p99'] <= d['latency_ms']['max'] and d['rate_per_s'] > 0"
check "burst: {n} numbered the ticket IDs 1..60" $PY -c '
import json, sys
ids = sorted(json.loads(l)["body"]["ticket_id"] for l in open(sys.argv[1]).readlines()[-60:])
assert ids == sorted("CHG-%d" % i for i in range(1, 61)), ids[:5]' "$W/ts.log"
pj "$B3/_btsim/jump/burst" '{"count":10,"concurrency":3,"ticket_id":"DENY","format":"form"}'
jcheck "burst: denials counted" "$BODY" "d['denied'] == 10 and d['allowed'] == 0 and d['format'] == 'form'"
for bodyj in '{"count":0,"ticket_id":"x"}' '{"count":1000001,"ticket_id":"x"}' '{"count":"lots","ticket_id":"x"}' \
    '{"count":5,"concurrency":0,"ticket_id":"x"}' '{"count":5,"concurrency":257,"ticket_id":"x"}' '{"count":5}'; do
    pj "$B3/_btsim/jump/burst" "$bodyj"
    check "bad jump/burst $bodyj -> 400" test "$CODE" = 400
done
rcs=""
for opt in "--ticket-system-url ftp://x/" "--ticket-system-header no-colon" "--ticket-system-format xml" \
    "--ticket-system-timeout 0" "--custom-fields Bad-Name" "--custom-field-error loud" \
    "--session-key-ttl 0" "--key-url-template https://x/"; do
    rc=0
    # shellcheck disable=SC2086
    timeout 5 "$BTSIM_BIN" --quiet $opt >/dev/null 2>&1 || rc=$?
    rcs+="$rc "
done
check "btsim refuses bad ticket-system, custom-field and key options (exit 2)" test "$rcs" = "2 2 2 2 2 2 2 2 "

# ---------------------------------------------------------------- outbound
cat >"$W/recv.py" <<'EOF'
import http.server, sys, json, urllib.parse
fails = int(sys.argv[3])
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    n = 0
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
        f = dict(urllib.parse.parse_qsl(body, keep_blank_values=True))
        H.n += 1
        code = 500 if H.n <= fails else 200
        f["_status"] = code
        f["_ctype"] = self.headers.get("Content-Type", "")
        with open(sys.argv[2], "a") as log:
            log.write(json.dumps(f) + "\n")
        self.send_response(code)
        self.send_header("Content-Length", "0")
        self.end_headers()
    def log_message(self, *a):
        pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
open(sys.argv[1] + ".tmp", "w").write(str(s.server_address[1]))
import os; os.rename(sys.argv[1] + ".tmp", sys.argv[1])
s.serve_forever()
EOF
$PY "$W/recv.py" "$W/recv.port" "$W/recv.log" 2 &
RPID=$!
PIDS+=("$RPID")
RPORT=$(wait_port "$W/recv.port" "$RPID") || { echo "receiver did not start"; exit 1; }

start_btsim out --sessions 3 --seed 3 --retry-interval 0.2 --send-custom-fields \
    --outbound-url "http://127.0.0.1:$RPORT/bt?outbound_event_token=abc"
B4=http://127.0.0.1:$PORT
for i in $(seq 1 50); do
    d=$(json_get "$(curl -s "$B4/_btsim/stats")" '["events_delivered"]')
    [ "$d" = 3 ] && break
    sleep 0.1
done
stats=$(curl -s "$B4/_btsim/stats")
check "outbound: 3 delivered, 5 attempts, 2 retried, queue empty" bash -c \
    "[ '$(json_get "$stats" '["events_delivered"]')' = 3 ] && [ '$(json_get "$stats" '["events_attempts"]')' = 5 ] && [ '$(json_get "$stats" '["events_retried"]')' = 2 ] && [ '$(json_get "$stats" '["queue_depth"]')' = 0 ]"
order=$($PY -c '
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
print(" ".join("%s:%s" % (r["lsid"][:6], r["_status"]) for r in rows))' "$W/recv.log")
expected=$(curl -s "$B4/_btsim/sessions" | $PY -c '
import json, sys
s = json.load(sys.stdin)["sessions"]
l = [x["lsid"][:6] for x in s]
print(" ".join([l[0] + ":500", l[0] + ":500", l[0] + ":200", l[1] + ":200", l[2] + ":200"]))')
check "outbound: head-of-line retry, strictly in order ($order)" test "$order" = "$expected"
check "outbound: form fields event/version/timestamp/appliance_id/lsid/external_key" $PY -c '
import json, sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    assert r["event"] == "support_conference_end" and r["version"] == "3"
    assert r["timestamp"].isdigit() and r["appliance_id"] and len(r["lsid"]) == 32 and "external_key" in r
    assert r["_ctype"].startswith("application/x-www-form-urlencoded")' "$W/recv.log"

# lose-ack + custom fields through the control API
curl -s -X POST "$B4/_btsim/faults?spec=lose-ack:1" >/dev/null
resp=$(curl -s -X POST "$B4/_btsim/sessions?count=1&external_key=INC42&custom.snow_task_id=T%261")
for i in $(seq 1 50); do
    d=$(json_get "$(curl -s "$B4/_btsim/stats")" '["events_delivered"]')
    [ "$d" = 4 ] && break
    sleep 0.1
done
check "lose-ack:1 resends a 200-acknowledged event (idempotency)" $PY -c '
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])][-2:]
assert len(rows) == 2 and rows[0]["lsid"] == rows[1]["lsid"] == sys.argv[2]
assert all(r["_status"] == 200 and r["external_key"] == "INC42" and r["snow_task_id"] == "T&1" for r in rows)' \
    "$W/recv.log" "$(json_get "$resp" '["lsids"][0]')"
curl -s -X POST "$B4/_btsim/events?event=support_conference_member_added&lsid=abc&type=customer&username=u1" >/dev/null
for i in $(seq 1 50); do
    d=$(json_get "$(curl -s "$B4/_btsim/stats")" '["events_delivered"]')
    [ "$d" = 5 ] && break
    sleep 0.1
done
check "control: arbitrary event delivered" $PY -c '
import json, sys
r = json.loads(open(sys.argv[1]).readlines()[-1])
assert r["event"] == "support_conference_member_added" and r["lsid"] == "abc" and r["type"] == "customer" and r["username"] == "u1"' "$W/recv.log"

# live sessions report their lifecycle to the recipient as it happens
cmdk() { curl -s -H "Authorization: Bearer $(token "$B4")" "$@" "$B4/api/command"; }
SKO=$(cmdk --data-urlencode action=generate_session_key --data-urlencode type=support \
      --data-urlencode external_key=CS0009009 --data-urlencode session.custom.snow_case_id=CASE9 >"$W/ko.xml"; xml_text "$W/ko.xml" short_key)
pj "$B4/_btsim/customer/start" "{\"short_key\":\"$SKO\",\"customer_name\":\"Eve\",\"public_portal\":\"Partners\"}"
OL=$(json_get "$BODY" '["lsid"]')
pj "$B4/_btsim/sessions/$OL/join" '{"rep":"pobrien"}'
pj "$B4/_btsim/sessions/$OL/end" '{}'
for i in $(seq 1 50); do
    d=$(json_get "$(curl -s "$B4/_btsim/stats")" '["events_delivered"]')
    [ "$d" = 10 ] && break
    sleep 0.1
done
check "live session: begin, member_added (customer), member_added + owner_changed (rep), end; custom fields sent" $PY -c '
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])][-5:]
assert [r["event"] for r in rows] == ["support_conference_begin", "support_conference_member_added",
    "support_conference_member_added", "support_conference_owner_changed", "support_conference_end"], [r["event"] for r in rows]
assert all(r["lsid"] == sys.argv[2] and r["external_key"] == "CS0009009" and r["snow_case_id"] == "CASE9" for r in rows)
c, m = rows[1], rows[2]
assert c["type"] == "customer" and c["display_name"] == "Eve"
assert m["type"] == "representative" and m["username"] == "pobrien" and m["display_name"] == "Pat O\x27Brien" and m["user_id"] == "4"' \
    "$W/recv.log" "$OL"

# --events-to-send: the recipient gets only the events it asked for
$PY "$W/recv.py" "$W/recv2.port" "$W/recv2.log" 0 &
PIDS+=("$!")
R2=$(wait_port "$W/recv2.port" "$!") || { echo "receiver 2 did not start"; exit 1; }
start_btsim filt --seed 9 --events-to-send support_conference_member_added --outbound-url "http://127.0.0.1:$R2/case?auto_create=true"
B5=http://127.0.0.1:$PORT
pj "$B5/_btsim/sessions/start" '{"rep":"mmueller","customer_name":"Zed"}'
FL=$(json_get "$BODY" '["lsid"]')
pj "$B5/_btsim/sessions/$FL/join" '{"rep":"kwang"}'
pj "$B5/_btsim/sessions/$FL/end" '{}'
for i in $(seq 1 50); do
    d=$(json_get "$(curl -s "$B5/_btsim/stats")" '["events_delivered"]')
    [ "$d" = 3 ] && break
    sleep 0.1
done
check "--events-to-send member_added: only the 3 member_added events arrive" $PY -c '
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert [(r["event"], r["type"]) for r in rows] == [("support_conference_member_added", "customer"),
    ("support_conference_member_added", "representative"), ("support_conference_member_added", "representative")], rows
assert [r["username"] for r in rows[1:]] == ["mmueller", "kwang"]' "$W/recv2.log"

# retry-duration drop + exit-when-drained (receiver on a closed port)
$PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' >"$W/deadport"
rm -f "$W/drain.port"
timeout 20 "$BTSIM_BIN" --quiet --run-sessions 3 --rate 50 --retry-interval 0.1 --retry-duration 0.3 \
    --exit-when-drained --outbound-url "http://127.0.0.1:$(cat "$W/deadport")/" >"$W/drain.out" 2>"$W/drain.err"
rc=$?
check "--exit-when-drained: exit 0, 3 dropped in stats JSON" bash -c \
    "[ $rc = 0 ] && $PY -c 'import json,sys; s=json.load(open(sys.argv[1])); assert s[\"events_dropped\"]==3 and s[\"events_queued\"]==3' '$W/drain.out'"

# clean shutdown on SIGTERM, and no sanitizer reports (ASan/UBSan builds)
for nb in "${BTSIMS[@]}"; do
    name=${nb%%:*}; pid=${nb##*:}
    kill -TERM "$pid" 2>/dev/null
    wait "$pid"
    rc=$?
    check "btsim $name: SIGTERM -> exit 0, no sanitizer report" bash -c \
        "[ $rc = 0 ] && ! grep -q 'Sanitizer\|runtime error' '$W/$name.err'" ||
        sed -n 1,40p "$W/$name.err"
done
check "drain run: no sanitizer report" bash -c "! grep -q 'Sanitizer\|runtime error' '$W/drain.err'"

echo "$PASS passed, $FAIL failed"
[ "$FAIL" = 0 ]

#!/usr/bin/env bash
# End-to-end test of btsim alone (no ticketbridge): OAuth, command and
# reporting APIs, faults, and outbound event delivery to a loopback receiver.
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

# ---------------------------------------------------------------- PRA
start_btsim pra --product pra --sessions 2
B3=http://127.0.0.1:$PORT
t=$(token "$B3")
curl -s -H "Authorization: Bearer $t" "$B3/api/reporting?generate_report=AccessSession&end_time=0&duration=0" >"$W/pra.xml"
check "PRA AccessSession: valid XML, sra namespace, jumpoint, File Transfer Complete" bash -c \
    "$(declare -f xml_ok); xml_ok '$W/pra.xml' && grep -q 'xmlns=\"http://www.beyondtrust.com/sra/namespaces/API/reporting\"' '$W/pra.xml' && grep -q '<jumpoint id=' '$W/pra.xml' && grep -q 'File Transfer Complete' '$W/pra.xml' && grep -q '<jump_group type=' '$W/pra.xml'"
curl -s -H "Authorization: Bearer $t" "$B3/api/command?action=generate_session_key&type=support" >"$W/prakey.xml"
check "PRA generate_session_key -> <error>" test "$(xml_root "$W/prakey.xml")" = error

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

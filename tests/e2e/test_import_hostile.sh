# Hostile and broken reports from the appliance: each import fails with a
# reason an administrator can read, nothing of the session is stored, and the
# daemon keeps working (a good session right after imports fine).
. "$TB_E2E_LIB"

NS='xmlns="http://www.bomgar.com/namespaces/API/reporting"'
mk() { printf '%s' "$2" >"$WORK/$1.xml"; }
mk laughs '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;"><!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]><session_list><session lsid="aaaa0000000000000000000000000001"><lseq>&lol3;</lseq></session></session_list>'
mk xxe '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><session_list><session lsid="aaaa0000000000000000000000000002"><external_key>&xxe;</external_key></session></session_list>'
mk truncated "<?xml version=\"1.0\"?><session_list $NS><session lsid=\"aaaa0000000000000000000000000003\"><lseq>1</lseq><start_time timestamp=\"1\">x</start_time>"
printf '<?xml version="1.0" encoding="UTF-8"?><session_list %s><session lsid="aaaa0000000000000000000000000004"><external_key>\xff\xfe</external_key></session></session_list>' "$NS" >"$WORK/badutf8.xml"
python3 - "$WORK/deep.xml" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    f.write('<?xml version="1.0"?><session_list><session lsid="aaaa0000000000000000000000000005">')
    f.write("<a>" * 5000 + "</a>" * 5000)
    f.write("</session></session_list>")
PY
mk notxml 'HTTP 200 but this is not XML at all'
# 72 MB of well-formed sessions: over the 64 MiB report cap
python3 - "$WORK/huge.xml" <<'PY'
import sys
one = ('<session lsid="%032x"><session_type>support</session_type><lseq>1</lseq>'
       + '<session_details>' + '<event timestamp="1" event_type="Chat Message"><body>' + 'x' * 900 + '</body></event>' * 1
       + '</session_details></session>\n')
with open(sys.argv[1], "w") as f:
    f.write('<?xml version="1.0"?><session_list>')
    for i in range(72000):
        f.write(one % (i + 1))
    f.write('</session_list>')
PY

tb_init --product rs
printf 'btsim-secret\n' >"$WORK/secret"
INC=$(tb ticket create --short-description "Hostile input" | awk '{print $1}')
tb_start
btsim_start --product rs --seed 5 --appliance-id sim --outbound-url "$TB_URL/api/x_bmgr_crm/outbound_event/session_end" \
  --retry-interval 0.2 --retry-duration 60 \
  --report-file aaaa0000000000000000000000000001="$WORK/laughs.xml" \
  --report-file aaaa0000000000000000000000000002="$WORK/xxe.xml" \
  --report-file aaaa0000000000000000000000000003="$WORK/truncated.xml" \
  --report-file aaaa0000000000000000000000000004="$WORK/badutf8.xml" \
  --report-file aaaa0000000000000000000000000005="$WORK/deep.xml" \
  --report-file aaaa0000000000000000000000000006="$WORK/notxml.xml" \
  --report-file aaaa0000000000000000000000000007="$WORK/huge.xml"
tb appliance set Default --hostname "http://127.0.0.1:$BTSIM_PORT" --appliance-id sim --client-id btsim-client \
  --client-secret-file "$WORK/secret" >/dev/null
sleep 1.5

check_fails() { # n name reason_regex
  local lsid="aaaa000000000000000000000000000$1"
  curl -s -X POST "$BTSIM_URL/_btsim/events?event=support_conference_end&lsid=$lsid&timestamp=$1" >/dev/null
  if wait_until 20 sh -c "[ \"\$(sqlite3 'file:$DB?mode=ro' \"select state from tb_job where lsid='$lsid'\")\" = failed ]"; then
    ok "$2: job failed"
  else
    not_ok "$2: job failed (state $(sql "select state from tb_job where lsid='$lsid'"))"
  fi
  expect_match "$2: reason recorded" "$(sql "select last_error from tb_job where lsid='$lsid'")" "$3"
  expect_eq "$2: nothing stored" "$(sql "select count(*) from tb_session where lsid='$lsid'")" 0
}
check_fails 1 "billion laughs" "DTD not allowed"
check_fails 2 "external entity" "DTD not allowed"
check_fails 3 "truncated report" "unusable"
check_fails 4 "invalid UTF-8" "unusable"
check_fails 5 "deep nesting" "unusable"
check_fails 6 "not XML" "unusable"
check_fails 7 "72 MB report" "larger than"
hwm=$(awk '/VmHWM/ {print $2}' "/proc/$TB_PID/status")
[ "$hwm" -lt 131072 ] && ok "memory stayed bounded while refusing it (peak RSS ${hwm} kB)" || not_ok "memory bounded (peak RSS ${hwm} kB)"
if grep -q "root:" "$DB" 2>/dev/null; then not_ok "no file content leaked into the database"; else ok "no file content leaked into the database"; fi

# the daemon is unharmed: a real session imports
L=$(curl -s -X POST "$BTSIM_URL/_btsim/sessions?count=1&custom.snow_task_id=$INC" | python3 -c 'import json,sys; print(json.load(sys.stdin)["lsids"][0])')
wait_until 20 sh -c "[ \"\$(sqlite3 'file:$DB?mode=ro' \"select state from tb_job where lsid='$L'\")\" = done ]" \
  && ok "a good session still imports" || not_ok "a good session still imports"
out=$(tb jobs --state failed); expect_match "jobs lists the failures with reasons" "$out" "DTD not allowed"

# parse-report on the same files: clear errors, exit 1
out=$(tb parse-report "$WORK/laughs.xml" 2>&1); rc=$?
expect_eq "parse-report refuses a DTD" "$rc" 1
expect_match "parse-report says why" "$out" "DTD not allowed"
out=$(tb parse-report "$WORK/truncated.xml" 2>&1); expect_match "parse-report names the position" "$out" "line [0-9]+"
out=$(tb parse-report "$TB_TEST_DATA/reports/pra_access_session.xml")
expect_match "parse-report reads a real PRA report" "$(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); s=d["sessions"][0]; print(s["lsid"], len(s["events"]))' "$out")" '^[0-9a-f]{32} [0-9]+$'
tb_stop
expect_eq "clean stop" "$TB_EXIT" 0
finish

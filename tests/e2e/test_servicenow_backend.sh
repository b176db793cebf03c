# The ServiceNow ticket-store backend end to end: ticketbridge A
# (ticket_store = servicenow) against ticketbridge B serving the Table API
# and Attachment API over HTTPS with a test CA. Tickets created, found,
# updated, noted and attached through A land in B, directly and through an
# HTTP proxy (tinyproxy). Failures: B down, a
# wrong password (401), throttling (429 with Retry-After), a B that does
# not answer (timeout), bad configuration.
. "$TB_E2E_LIB"

# --- B: the facade, over HTTPS
B_DB="$WORK/b.db"
tbb() { "$TB_BIN" --db "$B_DB" "$@"; }
tbb init --product pra >"$WORK/b-init.out" 2>&1 || { cat "$WORK/b-init.out"; not_ok "B init"; finish; }
PW=correct-horse-battery
printf '%s\n' "$PW" | tbb user add snow --roles itil --password-file - >/dev/null
printf '%s\n' "$PW" | tbb user add snow2 --roles itil --password-file - >/dev/null
tbb sys-user add jdoe --name "John Doe" >/dev/null
tbb ci add WEB01 >/dev/null

test_cert "$WORK/" && ok "test certificate made" || { not_ok "test certificate made (openssl)"; finish; }
printf 'listen_address = 127.0.0.1\ntls_cert = %s\ntls_key = %s\n' "$WORK/cert.pem" "$WORK/key.pem" >"$WORK/b.conf"
b_start() {
  rm -f "$WORK/b.port"
  "$TB_BIN" -c "$WORK/b.conf" --db "$B_DB" serve --port "${1:-0}" --port-file "$WORK/b.port" >>"$WORK/b.log" 2>&1 &
  B_PID=$!
  PIDS+=("$B_PID")
  wait_file "$WORK/b.port" || { not_ok "B started"; finish; }
  B_PORT=$(cat "$WORK/b.port")
}
b_start
B_URL="https://127.0.0.1:$B_PORT"
bsql() { sqlite3 -batch -noheader -cmd ".timeout 10000" "file:$B_DB?mode=ro" "$@"; }

# --- A: ticket_store = servicenow, pointed at B
printf '%s\n' "$PW" >"$WORK/snow.pw"
printf 'wrong-password-x\n' >"$WORK/wrong.pw"
a_conf() { # a_conf FILE [extra lines]: A's configuration
  local f=$1; shift
  { printf 'ticket_store = servicenow\nservicenow_url = %s\nservicenow_user = snow\n' "$B_URL"
    printf 'servicenow_password_file = %s\nservicenow_ca_file = %s\nservicenow_timeout_ms = 5000\n' \
      "$WORK/snow.pw" "$WORK/ca.pem"
    printf '%s\n' "$@"; } >"$f"
}
a_conf "$WORK/a.conf"
tb_init
ta() { "$TB_BIN" -c "$WORK/a.conf" --db "$DB" "$@"; }

# --- create, show, find, note, list through A's CLI
out=$(ta ticket create --short-description "Printer on fire" --assigned-to jdoe --ci WEB01 2>&1)
expect_match "create through A" "$out" '^INC[0-9]{7} [0-9a-f]{32}$'
NUM=${out%% *}
SYS=${out##* }
expect_eq "  the record is in B" "$(bsql "select number||'|'||short_description||'|'||sys_created_by from incident where sys_id='$SYS'")" "$NUM|Printer on fire|snow"
expect_eq "  assigned_to and cmdb_ci looked up in B" \
  "$(bsql "select count(*) from incident i join sys_user u on u.sys_id=i.assigned_to join cmdb_ci c on c.sys_id=i.cmdb_ci where i.sys_id='$SYS' and u.user_name='jdoe' and c.name='WEB01'")" 1
expect_eq "  nothing in A's own store" "$(sql "select count(*) from incident" 2>/dev/null || echo 0)" 0

show=$(ta ticket show "$NUM" 2>&1)
expect_match "show by number" "$show" "number: $NUM"
expect_match "  table" "$show" '^table: incident'
expect_match "  values as strings, references as sys_ids" "$show" 'assigned_to: [0-9a-f]{32}'
show=$(ta ticket show "$SYS" 2>&1)
expect_match "show by sys_id" "$show" "number: $NUM"
show=$(ta ticket show "$(echo "$SYS" | tr a-f A-F)" 2>&1)
expect_match "show by upper-case sys_id" "$show" "number: $NUM"
out=$(ta ticket show INC9999999 2>&1); rc=$?
expect_eq "show missing: exit 1" "$rc" 1
expect_match "  message" "$out" "no such ticket: INC9999999"

ta ticket note "$NUM" "Checked the toner" >/dev/null 2>&1
expect_eq "note through A" "$?" 0
expect_eq "  one work note in B" "$(bsql "select element||'|'||value||'|'||name from sys_journal_field where element_id='$SYS'")" "work_notes|Checked the toner|incident"
expect_match "  shown by A" "$(ta ticket show "$NUM" 2>&1)" 'snow \(work_notes\): Checked the toner'

# idempotent notes: the marker is looked for before writing
ta ticket note "$NUM" "Session 42 imported [tb:session=42]" --once "[tb:session=42]" >/dev/null 2>&1
out=$(ta ticket note "$NUM" "Session 42 imported [tb:session=42]" --once "[tb:session=42]" 2>&1)
expect_match "note --once twice: the second finds the first" "$out" "already there"
expect_eq "  one note in B" "$(bsql "select count(*) from sys_journal_field where element_id='$SYS' and value like '%[tb:session=42]%'")" 1
out=$(ta ticket note "$NUM" "x" --once "a^ORb" 2>&1); rc=$?
expect_eq "  a marker with '^' is refused" "$rc" 1
out=$(tb ticket note "$NUM" "x" --once m 2>&1); rc=$?
expect_match "  --once with the embedded store: refused" "$rc $out" "^1 .*needs ticket_store = servicenow"
ta ticket update "$NUM" state=2 "description=Smoke; see ^ & 100%" >/dev/null 2>&1
expect_eq "update through A" "$?" 0
expect_eq "  B has the values" "$(bsql "select state||'|'||description from incident where sys_id='$SYS'")" "2|Smoke; see ^ & 100%"
out=$(ta ticket update "$NUM" state 2>&1); rc=$?
expect_eq "update without '=': usage error" "$rc" 2
out=$(ta ticket update "$NUM" "Bad-Name=1" 2>&1); rc=$?
expect_eq "update with a bad field name: refused" "$rc" 1
head -c 70000 /dev/urandom >"$WORK/transcript.bin"
out=$(ta ticket attach "$NUM" "$WORK/transcript.bin" --type application/octet-stream --name "session 1.bin" 2>&1)
expect_match "attach through A" "$out" '^[0-9a-f]{32} 70000$'
ATT=${out%% *}
expect_eq "  B holds the file's metadata" "$(bsql "select table_name||'|'||table_sys_id||'|'||file_name||'|'||size_bytes from sys_attachment where sys_id='$ATT'")" "incident|$SYS|session 1.bin|70000"
curl -s --cacert "$WORK/ca.pem" -u "snow:$PW" -o "$WORK/back.bin" "$B_URL/api/now/attachment/$ATT/file"
expect_eq "  and its bytes" "$(cmp -s "$WORK/back.bin" "$WORK/transcript.bin" && echo same)" same
out=$(ta ticket attach "$NUM" "$WORK/no-such-file" 2>&1); rc=$?
expect_eq "attach a missing file: exit 1" "$rc" 1
expect_match "  message" "$out" "cannot read $WORK/no-such-file"
out=$(ta ticket attach INC9999999 "$WORK/transcript.bin" 2>&1); rc=$?
expect_match "attach to a missing ticket" "$rc $out" "^1 .*no such ticket"
out=$(ta ticket create --table change_request --short-description "Patch WEB01" --set risk=3 2>&1)
expect_match "create a change" "$out" '^CHG[0-9]{7} '
CHG=${out%% *}
expect_match "list through A" "$(ta ticket list 2>&1)" "$NUM .*Printer on fire"
expect_match "list one table" "$(ta ticket list --table change_request 2>&1)" "$CHG .*Patch WEB01"
expect_match "sys-user list through A" "$(ta sys-user list 2>&1)" "jdoe"
expect_match "ci list through A" "$(ta ci list 2>&1)" "WEB01"
out=$(ta ticket list --query active=true 2>&1); rc=$?
expect_eq "list --query: refused with the remote store" "$rc" 1
expect_match "  says why" "$out" "embedded store only"
out=$(ta ticket create --table incident --short-description x --assigned-to nobody 2>&1)
expect_match "unknown user: message" "$out" "no such user: nobody"

ta sys-user add asmith --name "Alice Smith" >/dev/null 2>&1
expect_eq "sys-user add: nothing written (itil may not write sys_user)" "$(bsql "select count(*) from sys_user where user_name='asmith'")" 0
out=$(ta sys-user add asmith --name "Alice Smith" 2>&1)
expect_match "  B's 403 surfaced with ServiceNow's message" "$out" "HTTP 403: Operation Failed \(ACL Exception Insert Failed"

# --- failures
# 401: wrong password
a_conf "$WORK/a-wrong.conf" && sed -i "s|$WORK/snow.pw|$WORK/wrong.pw|" "$WORK/a-wrong.conf"
out=$("$TB_BIN" -c "$WORK/a-wrong.conf" --db "$DB" ticket show "$NUM" 2>&1); rc=$?
expect_eq "401: exit 1" "$rc" 1
expect_match "  ServiceNow's message" "$out" "HTTP 401: User Not Authenticated"
expect_match "  hint" "$out" "check servicenow_user and servicenow_password_file"

# bad configuration
printf 'ticket_store = servicenow\n' >"$WORK/a-nourl.conf"
out=$("$TB_BIN" -c "$WORK/a-nourl.conf" --db "$DB" ticket show "$NUM" 2>&1); rc=$?
expect_eq "no servicenow_url: exit non-zero" "$([ $rc -ne 0 ] && echo yes)" yes
expect_match "  message" "$out" "needs servicenow_url"
a_conf "$WORK/a-nopw.conf" && sed -i "s|$WORK/snow.pw|$WORK/missing.pw|" "$WORK/a-nopw.conf"
out=$("$TB_BIN" -c "$WORK/a-nopw.conf" --db "$DB" ticket show "$NUM" 2>&1); rc=$?
expect_eq "missing password file: exit 1" "$rc" 1
expect_match "  message" "$out" "cannot read $WORK/missing.pw"
printf 'ticket_store = servicenow\nservicenow_url = ftp://x\n' >"$WORK/a-ftp.conf"
out=$("$TB_BIN" -c "$WORK/a-ftp.conf" --db "$DB" ticket show "$NUM" 2>&1)
expect_match "ftp:// URL refused" "$out" "bad value for 'servicenow_url'"
a_conf "$WORK/a-noca.conf" && sed -i "/servicenow_ca_file/d" "$WORK/a-noca.conf"
out=$("$TB_BIN" -c "$WORK/a-noca.conf" --db "$DB" ticket show "$NUM" 2>&1)
expect_match "certificate not trusted without the CA file" "$out" "cannot reach $B_URL"

# 429 with Retry-After: B's login throttling after repeated bad passwords for
# snow2 (a user A has not used yet, so no remembered success exempts it).
for i in $(seq 1 12); do
  curl -s -o /dev/null --cacert "$WORK/ca.pem" -u "snow2:bad-$i" "$B_URL/api/now/table/incident?sysparm_limit=1"
done
a_conf "$WORK/a-snow2.conf" && sed -i "s|servicenow_user = snow|servicenow_user = snow2|" "$WORK/a-snow2.conf"
t0=$SECONDS
out=$("$TB_BIN" -c "$WORK/a-snow2.conf" --db "$DB" ticket show "$NUM" 2>&1); rc=$?
expect_eq "429: exit 1" "$rc" 1
expect_match "  ServiceNow's message and Retry-After" "$out" "HTTP 429: Too Many Requests.*Retry-After [0-9]+ s is longer than servicenow_retry_max_wait_ms"
expect_eq "  answered at once (Retry-After over the cap is not waited for)" "$([ $((SECONDS - t0)) -le 5 ] && echo yes)" yes
expect_eq "  no retry made" "$(printf '%s' "$out" | grep -c 'servicenow busy')" 0

# Through a proxy (the MID-server situation): a real HTTP proxy (tinyproxy)
# on loopback tunnels A's HTTPS to B with CONNECT. A direct connection is
# refused by pointing A at a proxy that is not there first.
PROXY_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
B_PORT_NOW=${B_URL##*:}
printf 'Port %s\nListen 127.0.0.1\nTimeout 30\nMaxClients 8\nAllow 127.0.0.1\nConnectPort %s\nLogLevel Connect\nLogFile "%s"\n' \
  "$PROXY_PORT" "$B_PORT_NOW" "$WORK/proxy.log" >"$WORK/proxy.conf"
if command -v tinyproxy >/dev/null; then
  tinyproxy -d -c "$WORK/proxy.conf" >>"$WORK/proxy.log" 2>&1 &
  PIDS+=("$!")
  wait_until 10 python3 -c "import socket; socket.create_connection(('127.0.0.1', $PROXY_PORT), 1)" \
    || not_ok "tinyproxy started"
  a_conf "$WORK/a-proxy.conf" "servicenow_proxy = http://127.0.0.1:$PROXY_PORT"
  out=$(no_proxy= NO_PROXY= "$TB_BIN" -c "$WORK/a-proxy.conf" --db "$DB" ticket show "$NUM" 2>&1)
  expect_match "through the proxy: the ticket is read" "$out" "number: $NUM"
  expect_match "  the proxy tunnelled it (CONNECT to B)" "$(cat "$WORK/proxy.log")" "CONNECT.*127.0.0.1:$B_PORT_NOW"
  a_conf "$WORK/a-noproxy.conf" "servicenow_proxy = http://127.0.0.1:1"
  out=$(no_proxy= NO_PROXY= "$TB_BIN" -c "$WORK/a-noproxy.conf" --db "$DB" ticket show "$NUM" 2>&1); rc=$?
  expect_eq "proxy not there: exit 1 (no direct connection behind its back)" "$rc" 1
  expect_match "  says it cannot reach" "$out" "cannot reach"
  out=$(http_proxy=http://127.0.0.1:1 https_proxy=http://127.0.0.1:1 HTTPS_PROXY=http://127.0.0.1:1 \
    "$TB_BIN" -c "$WORK/a.conf" --db "$DB" ticket show "$NUM" 2>&1)
  expect_match "servicenow_proxy unset: the environment's proxy is used" "$out" "cannot reach"
  a_conf "$WORK/a-none.conf" "servicenow_proxy = none"
  out=$(https_proxy=http://127.0.0.1:1 HTTPS_PROXY=http://127.0.0.1:1 \
    "$TB_BIN" -c "$WORK/a-none.conf" --db "$DB" ticket show "$NUM" 2>&1)
  expect_match "servicenow_proxy = none: direct, whatever the environment says" "$out" "number: $NUM"
else
  not_ok "tinyproxy is not installed (scripts/deps.sh installs it)"
fi

# slow responses: B stopped (SIGSTOP) accepts connections but never answers
a_conf "$WORK/a-fast.conf" "servicenow_timeout_ms = 1000"
kill -STOP "$B_PID"
t0=$SECONDS
out=$("$TB_BIN" -c "$WORK/a-fast.conf" --db "$DB" ticket show "$NUM" 2>&1); rc=$?
kill -CONT "$B_PID"
expect_eq "slow B: exit 1" "$rc" 1
expect_match "  timeout message" "$out" "no answer within 1000 ms"
expect_eq "  bounded by servicenow_timeout_ms" "$([ $((SECONDS - t0)) -le 5 ] && echo yes)" yes
expect_match "B answers again after SIGCONT" "$(ta ticket show "$NUM" 2>&1)" "number: $NUM"

# B down
kill "$B_PID"; wait "$B_PID" 2>/dev/null
out=$(ta ticket show "$NUM" 2>&1); rc=$?
expect_eq "B down: exit 1" "$rc" 1
expect_match "  clear message" "$out" "ServiceNow GET incident: cannot reach $B_URL"

finish

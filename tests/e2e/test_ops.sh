# Operations: TLS, IPv6, SIGHUP log reopen, configuration and CLI errors,
# secrets at rest.
. "$TB_E2E_LIB"

# --- CLI basics and usage errors
out=$("$TB_BIN" --version); expect_match "--version" "$out" '^ticketbridge [0-9]+\.[0-9]+\.[0-9]+'
out=$("$TB_BIN" help); expect_match "help lists commands" "$out" "appliance"
"$TB_BIN" frobnicate >/dev/null 2>&1; expect_eq "unknown command exits 2" "$?" 2
"$TB_BIN" --bogus >/dev/null 2>&1; expect_eq "unknown option exits 2" "$?" 2
out=$(tb incoming 2>&1); rc=$?
expect_eq "incoming without a database fails" "$rc" 1
expect_match "says to run init" "$out" "ticketbridge init"
out=$(tb serve --port 0 2>&1); expect_match "serve without a database explains" "$out" "run 'ticketbridge init' first"

tb_init --product pra --hostname access.example.com
out=$(tb init 2>&1); rc=$?
expect_eq "init twice refused" "$rc" 1
expect_match "init twice says why" "$out" "already exists"
expect_match "init printed an admin password" "$(cat "$WORK/init.out")" "Admin password: [A-Za-z0-9]{20}"
expect_eq "database is private" "$(stat -c %a "$DB")" 600
expect_eq "secret key is private" "$(stat -c %a "$DB.key")" 600

out=$(tb appliance set Default --accepted-ips "10.0.0.0/33" 2>&1); rc=$?
expect_eq "bad CIDR refused" "$rc" 1
expect_match "bad CIDR named" "$out" "10.0.0.0/33"
out=$(tb appliance set Default --product vax 2>&1); expect_match "bad product refused" "$out" "rs or pra"
out=$(tb appliance set Default --enabled maybe 2>&1); expect_match "bad boolean refused" "$out" "yes or no"
out=$(tb appliance show Nope 2>&1); rc=$?; expect_eq "show unknown appliance fails" "$rc" 1
out=$(tb appliance add Default 2>&1); expect_match "duplicate appliance refused" "$out" "already exists"
tb appliance remove Nope >/dev/null 2>&1; expect_eq "remove unknown appliance fails" "$?" 1
out=$(tb appliance add "$(printf 'bad\tname')" 2>&1); expect_match "control characters in names refused" "$out" "control character"
out=$(tb jobs --state weird 2>&1); expect_match "bad job state refused" "$out" "queued, running"
out=$(tb incoming --limit 0 2>&1); expect_match "bad limit refused" "$out" "1-100000"
out=$(tb jobs retry --failed); expect_match "jobs retry --failed with none failed" "$out" "^0 jobs queued again"
out=$(tb jobs retry 424242 2>&1); rc=$?
expect_eq "jobs retry of an unknown job fails" "$rc" 1
expect_match "jobs retry explains" "$out" "not failed or done"
out=$(tb jobs retry abc 2>&1); expect_match "jobs retry rejects a non-number" "$out" "expected a job id"

# --- event-type catalogue and Events to Import validation
out=$(tb event-types list); expect_eq "init loaded the event types" "$(printf '%s\n' "$out" | wc -l)" 57
expect_match "PRA types listed for PRA" "$(tb event-types list --product pra)" "Special Action Executed"
if tb event-types list --product rs | grep -q "Special Action Executed"; then not_ok "PRA-only types hidden for RS"; else ok "PRA-only types hidden for RS"; fi
out=$(tb event-types update); expect_match "update is idempotent" "$out" "57 event types known, 0 new"
tb appliance set Default --events-to-import "chat message,  file upload" >/dev/null
expect_match "names stored in the catalogue's spelling" "$(tb appliance show Default)" "events to import: +Chat Message, File Upload"
out=$(tb appliance set Default --events-to-import "Customer Joined" 2>&1); rc=$?
expect_eq "unknown event type refused" "$rc" 1
expect_match "and named" "$out" "unknown event type 'Customer Joined'"
tb appliance set Default --events-to-import "" >/dev/null
expect_match "empty list means all" "$(tb appliance show Default)" "events to import: +\(all\)"

# --- secrets: encrypted at rest, never printed
SECRET="client-secret-$RANDOM-$RANDOM"
printf '%s\n' "$SECRET" | tb appliance set Default --client-id my-client --client-secret-file - >/dev/null
out=$(tb appliance show Default)
expect_match "secret shown as set" "$out" "oauth client secret: +\(set, encrypted\)"
if printf '%s' "$out" | grep -q "$SECRET"; then not_ok "secret not printed"; else ok "secret not printed"; fi
sql_write "PRAGMA wal_checkpoint(TRUNCATE)" >/dev/null
if grep -qa "$SECRET" "$DB"; then not_ok "secret not stored in clear"; else ok "secret not stored in clear"; fi
expect_match "sealed value stored" "$(sql "select client_secret from tb_appliance where name='Default'")" '^[A-Za-z0-9+/=]{40,}$'

# --- configuration file errors
printf 'port = 8080\nbogus = 1\n' >"$WORK/bad.conf"
out=$("$TB_BIN" -c "$WORK/bad.conf" jobs 2>&1); rc=$?
expect_eq "unknown config key fails" "$rc" 1
expect_match "config error names file and line" "$out" "bad.conf:2: unknown key 'bogus'"
printf 'tls_cert = /x.pem\n' >"$WORK/bad2.conf"
out=$("$TB_BIN" -c "$WORK/bad2.conf" jobs 2>&1); expect_match "tls_cert without tls_key refused" "$out" "set together"
printf 'port = 99999\n' >"$WORK/bad3.conf"
out=$("$TB_BIN" -c "$WORK/bad3.conf" jobs 2>&1); expect_match "bad port refused" "$out" "bad value for 'port'"

# --- TLS with a self-signed certificate, log file, SIGHUP
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$WORK/key.pem" -out "$WORK/cert.pem" -days 2 \
  -subj "/CN=127.0.0.1" >/dev/null 2>&1
cat >"$WORK/tls.conf" <<CONF
listen_address = 127.0.0.1
tls_cert = $WORK/cert.pem
tls_key = $WORK/key.pem
log_file = $WORK/tb-file.log
log_level = info
CONF
rm -f "$WORK/tb.port"
"$TB_BIN" -c "$WORK/tls.conf" --db "$DB" serve --port 0 --port-file "$WORK/tb.port" >>"$WORK/tb.log" 2>&1 &
TB_PID=$!; PIDS+=("$TB_PID")
wait_file "$WORK/tb.port" || not_ok "TLS server started"
P=$(cat "$WORK/tb.port")
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$WORK/cert.pem" "https://127.0.0.1:$P/healthz")
expect_eq "HTTPS healthz with the configured certificate" "$code" 200
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$P/healthz")
expect_eq "plain HTTP not served on the TLS port" "$code" 000
http POST "https://127.0.0.1:$P/api/x_bmgr_bomgar_pam/outbound_event/session_end" --cacert "$WORK/cert.pem" \
  -d "event=support_conference_end&timestamp=1&lsid=tls01&appliance_id=access.example.com"
expect_eq "event over HTTPS accepted" "$HTTP_STATUS" 200
expect_eq "PRA event matched by hostname" "$(sql "select a.name from tb_incoming i join tb_appliance a on a.id=i.appliance_id where lsid='tls01'")" Default
wait_until 5 grep -q "tls01\|outbound_event/session_end" "$WORK/tb-file.log" && ok "requests logged to the log file" || not_ok "requests logged to the log file"
mv "$WORK/tb-file.log" "$WORK/tb-file.log.1"
kill -HUP "$TB_PID"
sleep 0.3
curl -s -o /dev/null --cacert "$WORK/cert.pem" "https://127.0.0.1:$P/healthz"
wait_until 5 test -s "$WORK/tb-file.log" && ok "SIGHUP reopened the log file" || not_ok "SIGHUP reopened the log file"
tb_stop
expect_eq "TLS server exits 0 on SIGTERM" "$TB_EXIT" 0

# --- IPv6 listener and an IPv6 accepted-IP entry
tb appliance set Default --accepted-ips "::1" >/dev/null
rm -f "$WORK/tb.port"
"$TB_BIN" --db "$DB" serve --listen ::1 --port 0 --port-file "$WORK/tb.port" >>"$WORK/tb.log" 2>&1 &
TB_PID=$!; PIDS+=("$TB_PID")
if wait_file "$WORK/tb.port"; then
  P=$(cat "$WORK/tb.port")
  http POST "http://[::1]:$P/api/x_bmgr_bomgar_pam/outbound_event/session_end" -g \
    -d "event=support_conference_end&timestamp=2&lsid=v6ok&appliance_id=access.example.com"
  expect_eq "IPv6 source in an IPv6 accepted list" "$HTTP_STATUS" 200
  tb_stop
else
  not_ok "IPv6 listener started"
fi

# --- a port already in use is reported
tb_start
out=$("$TB_BIN" --db "$DB" serve --port "$TB_PORT" 2>&1); rc=$?
expect_eq "busy port fails" "$rc" 1
expect_match "busy port explained" "$out" "cannot listen"
tb_stop
finish

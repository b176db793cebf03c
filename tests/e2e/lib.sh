# Shared helpers for end-to-end tests: real ticketbridge and btsim processes
# over loopback, a real SQLite file, curl as the client.
# Environment (set by ctest): TB_BIN, BTSIM_BIN, TB_TEST_TMP, TB_TEST_DATA.
set -u

PASS=0
FAIL=0
PIDS=()
TB_BIN=${TB_BIN:?TB_BIN not set}
BTSIM_BIN=${BTSIM_BIN:-}
mkdir -p "${TB_TEST_TMP:=/tmp}"
WORK=$(mktemp -d "$TB_TEST_TMP/e2e.XXXXXX")
DB="$WORK/tb.db"

ok() { PASS=$((PASS + 1)); echo "ok - $*"; }
not_ok() { FAIL=$((FAIL + 1)); echo "not ok - $*"; }
expect_eq() { if [ "$2" == "$3" ]; then ok "$1"; else not_ok "$1 (expected '$3', got '$2')"; fi; }
expect_match() { if printf '%s' "$2" | grep -Eq -- "$3"; then ok "$1"; else not_ok "$1 (no match for /$3/ in: $(printf '%s' "$2" | head -c 400))"; fi; }

cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
  if [ "$FAIL" -ne 0 ]; then
    for f in "$WORK"/*.log; do [ -f "$f" ] && { echo "--- $f (tail)"; tail -n 30 "$f"; }; done
    echo "(files kept in $WORK)"
  else
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT

finish() {
  echo "$PASS passed, $FAIL failed"
  [ "$FAIL" -eq 0 ]
  exit $?
}

# Waits (bounded) for a non-empty file.
wait_file() {
  local i
  for i in $(seq 1 200); do [ -s "$1" ] && return 0; sleep 0.05; done
  return 1
}

# Polls a command until it succeeds, at most $1 seconds.
wait_until() {
  local limit=$1; shift
  local end=$((SECONDS + limit))
  while [ $SECONDS -lt $end ]; do "$@" && return 0; sleep 0.1; done
  "$@"
}

tb() { "$TB_BIN" "${TB_CONF_ARGS[@]}" --db "$DB" "$@"; }
# The daemon holds the write lock while it commits; wait for it rather than
# failing with "database is locked".
sql() { sqlite3 -batch -noheader -cmd ".timeout 10000" "file:$DB?mode=ro" "$@"; }
sql_write() { sqlite3 -batch -noheader -cmd ".timeout 10000" "$DB" "$@"; }
# The ticket store's tables (incident, sys_journal_field, ...): in the same
# file, or with TB_TICKET_STORE=servicenow in the instance's (SNOW_DB).
tsql() { sqlite3 -batch -noheader -cmd ".timeout 10000" "file:$TICKETS_DB?mode=ro" "$@"; }
tsql_write() { sqlite3 -batch -noheader -cmd ".timeout 10000" "$TICKETS_DB" "$@"; }

tb_init() { tb init "$@" >"$WORK/init.out" 2>&1 || { cat "$WORK/init.out"; not_ok "ticketbridge init"; finish; }; }

tb_start() {
  rm -f "$WORK/tb.port"
  "$TB_BIN" "${TB_CONF_ARGS[@]}" --db "$DB" serve --port 0 --port-file "$WORK/tb.port" "$@" >>"$WORK/tb.log" 2>&1 &
  TB_PID=$!
  PIDS+=("$TB_PID")
  wait_file "$WORK/tb.port" || { not_ok "ticketbridge started"; finish; }
  TB_PORT=$(cat "$WORK/tb.port")
  TB_URL="http://127.0.0.1:$TB_PORT"
}

# Stops ticketbridge with SIGTERM; its exit status lands in TB_EXIT.
# (Not usable inside $(...): a subshell cannot wait for our child.)
tb_stop() {
  kill -TERM "$TB_PID"
  TB_EXIT=0
  wait "$TB_PID" || TB_EXIT=$?
  # Reaped: its pid may be reused by another process, which cleanup must not kill.
  local keep=() p
  for p in "${PIDS[@]}"; do [ "$p" != "$TB_PID" ] && keep+=("$p"); done
  PIDS=("${keep[@]}")
}

btsim_start() {
  rm -f "$WORK/btsim.port"
  "$BTSIM_BIN" --listen 127.0.0.1:0 --port-file "$WORK/btsim.port" "$@" >>"$WORK/btsim.log" 2>&1 &
  BTSIM_PID=$!
  PIDS+=("$BTSIM_PID")
  wait_file "$WORK/btsim.port" || { not_ok "btsim started"; finish; }
  BTSIM_PORT=$(cat "$WORK/btsim.port")
  BTSIM_URL="http://127.0.0.1:$BTSIM_PORT"
}

# http METHOD URL [curl args...]: sets HTTP_STATUS and HTTP_BODY.
http() {
  local method=$1 url=$2; shift 2
  # A refused upload is answered before its body is read: wait for that
  # answer (Expect: 100-continue) even on a loaded machine, instead of
  # sending the body into a connection the server is closing.
  HTTP_STATUS=$(curl -s -o "$WORK/body" -w "%{http_code}" -X "$method" --max-time 20 --expect100-timeout 10 "$@" "$url")
  HTTP_BODY=$(cat "$WORK/body")
}

# JSON field via python3 (stdlib only).
json_get() { python3 -c 'import json,sys; d=json.loads(sys.argv[1]); 
for k in sys.argv[2].split("."): d=d[int(k)] if isinstance(d,list) else d[k]
print(d)' "$1" "$2" 2>/dev/null; }

# test_cert PREFIX: a test CA (PREFIXca.pem) and a server certificate for
# 127.0.0.1 and localhost signed by it (PREFIXcert.pem, PREFIXkey.pem).
test_cert() {
  local p=$1
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "${p}ca.key" -out "${p}ca.pem" -days 2 \
    -subj "/CN=ticketbridge test CA" >/dev/null 2>&1 &&
  openssl req -newkey rsa:2048 -nodes -keyout "${p}key.pem" -out "${p}server.csr" \
    -subj "/CN=localhost" >/dev/null 2>&1 &&
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n' \
    >"${p}ext.cnf" &&
  openssl x509 -req -in "${p}server.csr" -CA "${p}ca.pem" -CAkey "${p}ca.key" -CAcreateserial \
    -out "${p}cert.pem" -days 2 -extfile "${p}ext.cnf" >/dev/null 2>&1 &&
  [ -s "${p}cert.pem" ]
}

# ---- one suite, two stores ----
# TB_TICKET_STORE=servicenow (set by ctest for the *.servicenow runs): the
# ticketbridge under test keeps its tickets in a ServiceNow instance, played
# by a second ticketbridge (SNOW_URL) serving the Table API over HTTPS with a
# test CA; its database is SNOW_DB. `tb` and `tb_start` use that
# configuration (TB_CONF); tsql reads the instance's tables.
TB_CONF_ARGS=()
TICKETS_DB="$DB"
TB_TICKET_STORE=${TB_TICKET_STORE:-embedded}
snow_start() {
  SNOW_DB="$WORK/snow.db"
  local tbs=("$TB_BIN" -c "$WORK/snow.conf" --db "$SNOW_DB")
  test_cert "$WORK/snow-" || { not_ok "test certificate for the instance (openssl)"; finish; }
  printf 'listen_address = 127.0.0.1\ntls_cert = %s\ntls_key = %s\nlog_file = %s\nworkers = 0\n' \
    "$WORK/snow-cert.pem" "$WORK/snow-key.pem" "$WORK/snow.log" >"$WORK/snow.conf"
  "${tbs[@]}" init >"$WORK/snow-init.out" 2>&1 || { cat "$WORK/snow-init.out"; not_ok "instance init"; finish; }
  printf 'snow-api-password-0123\n' >"$WORK/snow.pw"
  "${tbs[@]}" user add snow_api --roles admin,itil --password-file "$WORK/snow.pw" >/dev/null \
    || { not_ok "instance API user"; finish; }
  rm -f "$WORK/snow.port"
  "${tbs[@]}" serve --port 0 --port-file "$WORK/snow.port" >>"$WORK/snow.log" 2>&1 &
  SNOW_PID=$!
  PIDS+=("$SNOW_PID")
  wait_file "$WORK/snow.port" || { not_ok "instance started"; finish; }
  SNOW_URL="https://127.0.0.1:$(cat "$WORK/snow.port")"
  TB_CONF="$WORK/tb.conf"
  printf 'ticket_store = servicenow\nservicenow_url = %s\nservicenow_user = snow_api\n' "$SNOW_URL" >"$TB_CONF"
  printf 'servicenow_password_file = %s\nservicenow_ca_file = %s\nservicenow_timeout_ms = 10000\n' \
    "$WORK/snow.pw" "$WORK/snow-ca.pem" >>"$TB_CONF"
  TB_CONF_ARGS=(-c "$TB_CONF")
  TICKETS_DB="$SNOW_DB"
}
case "$TB_TICKET_STORE" in
  embedded) ;;
  servicenow) snow_start; echo "# ticket store: servicenow at $SNOW_URL" ;;
  *) echo "TB_TICKET_STORE must be embedded or servicenow" >&2; exit 2 ;;
esac

#!/usr/bin/env bash
# Table API benchmark over the embedded store. ROWS incidents (numbered
# INC0010001...); wrk sends
#   GET  ?sysparm_query=number=<random>&sysparm_limit=10   (indexed equality)
#   POST one new incident (201 after its group commit, record read back)
# as a user with itil (Basic; the credential check is remembered after the
# first request, as in production). Latency with LAT_CONN connections,
# throughput with CONN. Baseline in the same runs: GET /healthz.
# Targets (issue 8): GET p50 <= 5 ms at 100,000 rows; POST >= 2,000/s.
# Usage: bench/facade.sh  (env: RUNS=5 DURATION=10 ROWS=100000 LAT_CONN=4 CONN=64 THREADS=2)
# Small scale: ROWS=2000 RUNS=1 DURATION=2 bench/facade.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
TB="$BUILD/ticketbridge"
RUNS=${RUNS:-5}
DURATION=${DURATION:-10}
ROWS=${ROWS:-100000}
LAT_CONN=${LAT_CONN:-4}
CONN=${CONN:-64}
THREADS=${THREADS:-2}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/tb-bench.XXXXXX")
trap 'kill $pid 2>/dev/null || true; rm -rf "$WORK"' EXIT
pid=

db="$WORK/tb.db"
conf="$WORK/tb.conf"
printf 'log_file = %s\nlog_level = warn\nhttp_threads = 2\nworkers = 0\n' "$WORK/tb.log" >"$conf"
"$TB" -c "$conf" --db "$db" init >/dev/null
PW=bench-password-1234
printf '%s\n' "$PW" | "$TB" -c "$conf" --db "$db" user add bench --roles itil --password-file - >/dev/null
AUTH=$(printf 'bench:%s' "$PW" | base64 -w0)
export ROWS AUTH
echo "creating $ROWS incidents..."
sqlite3 "$db" <<SQL
BEGIN;
INSERT INTO sys_user(sys_id, user_name, name, sys_created_on, sys_updated_on)
  VALUES(lower(hex(randomblob(16))), 'rep0', 'Rep Zero', datetime('now'), datetime('now'));
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < $ROWS)
INSERT INTO incident(sys_id, number, short_description, state, assigned_to, sys_created_on, sys_updated_on, opened_at)
  SELECT lower(hex(randomblob(16))), printf('INC%07d', 10001 + i), 'bench ' || i, 1 + i % 3,
         (SELECT sys_id FROM sys_user WHERE user_name = 'rep0'), datetime('now'), datetime('now'), datetime('now')
  FROM n;
UPDATE sys_number SET number = 10001 + $ROWS WHERE category = 'incident';
COMMIT;
SQL
"$TB" -c "$conf" --db "$db" serve --port 0 --port-file "$WORK/port" &
pid=$!
for _ in $(seq 100); do [ -s "$WORK/port" ] && break; sleep 0.05; done
base="http://127.0.0.1:$(cat "$WORK/port")"
first=$(curl -s -H "Authorization: Basic $AUTH" "$base/api/now/table/incident?sysparm_limit=10&sysparm_query=number=INC0010001&sysparm_fields=number")
[ "$first" = '{"result":[{"number":"INC0010001"}]}' ] || { echo "setup broken: $first" >&2; exit 1; }

run() { # script conns path -> "rps p50 p99 requests non2xx"
  local out
  out=$(wrk -t"$THREADS" -c"$2" -d"${DURATION}s" --timeout 10s -s "$1" "$base$3" | grep '^RESULT')
  echo "$(sed -E 's/.* rps=([0-9.]+).*/\1/' <<<"$out") $(sed -E 's/.* p50_ms=([0-9.]+).*/\1/' <<<"$out")" \
       "$(sed -E 's/.* p99_ms=([0-9.]+).*/\1/' <<<"$out") $(sed -E 's/.*requests=([0-9]+).*/\1/' <<<"$out")" \
       "$(sed -E 's/.* non2xx=([0-9]+).*/\1/' <<<"$out")"
}
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
count() { sqlite3 "file:$db?mode=ro" "select count(*) from incident"; }

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r)"
echo "wrk -t$THREADS -d${DURATION}s; $RUNS runs; $ROWS incidents"
for f in lat_base lat_get thr_get thr_post; do : >"$WORK/$f"; done
for i in $(seq "$RUNS"); do
  r1=$(run bench/healthz.lua "$LAT_CONN" /healthz); echo "$r1" >>"$WORK/lat_base"
  r2=$(run bench/facade_get.lua "$LAT_CONN" /); echo "$r2" >>"$WORK/lat_get"
  r3=$(run bench/facade_get.lua "$CONN" /); echo "$r3" >>"$WORK/thr_get"
  before=$(count)
  r4=$(run bench/facade_post.lua "$CONN" /api/now/table/incident); echo "$r4" >>"$WORK/thr_post"
  after=$(count)
  created=$(( $(cut -d' ' -f4 <<<"$r4") - $(cut -d' ' -f5 <<<"$r4") ))
  echo "run $i: c=$LAT_CONN healthz p50=$(cut -d' ' -f2 <<<"$r1") | GET p50=$(cut -d' ' -f2 <<<"$r2")" \
       "p99=$(cut -d' ' -f3 <<<"$r2") rps=$(cut -d' ' -f1 <<<"$r2") non2xx=$(cut -d' ' -f5 <<<"$r2") ||" \
       "c=$CONN GET rps=$(cut -d' ' -f1 <<<"$r3") | POST rps=$(cut -d' ' -f1 <<<"$r4") p50=$(cut -d' ' -f2 <<<"$r4")" \
       "p99=$(cut -d' ' -f3 <<<"$r4") non2xx=$(cut -d' ' -f5 <<<"$r4") | stored $((after - before)) of $created answered"
  if [ $((after - before)) -lt "$created" ]; then echo "ERROR: inserts answered but not stored" >&2; exit 1; fi
done
col() { cut -d' ' -f"$2" "$WORK/$1" | median; }
echo "median c=$LAT_CONN: healthz p50_ms=$(col lat_base 2); GET (number=, limit 10) p50_ms=$(col lat_get 2) p99_ms=$(col lat_get 3) rps=$(col lat_get 1)"
echo "median c=$CONN: GET rps=$(col thr_get 1) p50_ms=$(col thr_get 2); POST rps=$(col thr_post 1) p50_ms=$(col thr_post 2) p99_ms=$(col thr_post 3)"
echo "targets: GET p50 <= 5 ms: $(awk -v p="$(col lat_get 2)" 'BEGIN {print (p <= 5) ? "met" : "MISSED"}');" \
     "POST >= 2000/s: $(awk -v r="$(col thr_post 1)" 'BEGIN {print (r >= 2000) ? "met" : "MISSED"}')"

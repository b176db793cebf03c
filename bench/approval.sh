#!/usr/bin/env bash
# Change-management approval benchmark against the embedded ticket store.
# TICKETS changes (assigned to 50 reps, each with its CI, approved, open);
# wrk posts JSON ticket-system requests, 3/4 allowed and 1/4 denied, every
# decision recorded and noted on its change (committed before the answer).
# Two loads: LAT_CONN connections (a few consoles: latency) and CONN
# connections (throughput). Baseline in the same runs: GET /healthz on the
# same server and connections (the HTTP floor).
# Usage: bench/approval.sh  (env: RUNS=5 DURATION=10 TICKETS=1000 LAT_CONN=4 CONN=64 THREADS=2)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
TB="$BUILD/ticketbridge"
RUNS=${RUNS:-5}
DURATION=${DURATION:-10}
TICKETS=${TICKETS:-1000}
LAT_CONN=${LAT_CONN:-4}
CONN=${CONN:-64}
THREADS=${THREADS:-2}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/tb-bench.XXXXXX")
trap 'kill $pid 2>/dev/null || true; rm -rf "$WORK"' EXIT
pid=
export TICKETS

db="$WORK/tb.db"
conf="$WORK/tb.conf"
printf 'log_file = %s\nlog_level = warn\nhttp_threads = 2\nworkers = 0\n' "$WORK/tb.log" >"$conf"
"$TB" -c "$conf" --db "$db" init >/dev/null
echo "creating $TICKETS changes..."
{
  echo "BEGIN;"
  for i in $(seq 0 49); do
    printf "INSERT INTO sys_user(sys_id, user_name, name, sys_created_on, sys_updated_on) VALUES(lower(hex(randomblob(16))), 'rep%d', 'Rep %d', datetime('now'), datetime('now'));\n" "$i" "$i"
  done
  for i in $(seq 0 $((TICKETS - 1))); do
    printf "INSERT INTO cmdb_ci(sys_id, name, sys_created_on, sys_updated_on) VALUES(lower(hex(randomblob(16))), 'HOST%d', datetime('now'), datetime('now'));\n" "$i"
    printf "INSERT INTO change_request(sys_id, number, short_description, assigned_to, cmdb_ci, approval, state, sys_created_on, sys_updated_on) VALUES(lower(hex(randomblob(16))), 'CHG%07d', 'bench', (SELECT sys_id FROM sys_user WHERE user_name='rep%d'), (SELECT sys_id FROM cmdb_ci WHERE name='HOST%d'), 'approved', -2, datetime('now'), datetime('now'));\n" \
      $((30001 + i)) $((i % 50)) "$i"
  done
  echo "COMMIT;"
} | sqlite3 "$db"
"$TB" -c "$conf" --db "$db" approval check --ticket CHG0030001 --user rep0 --computer HOST0 >/dev/null ||
  { echo "setup broken: CHG0030001 not allowed" >&2; exit 1; }
"$TB" -c "$conf" --db "$db" serve --port 0 --port-file "$WORK/port" &
pid=$!
for _ in $(seq 100); do [ -s "$WORK/port" ] && break; sleep 0.05; done
base="http://127.0.0.1:$(cat "$WORK/port")"

run() { # script path conns -> "rps p50 p99 requests non2xx"
  local out
  out=$(wrk -t"$THREADS" -c"$2" -d"${DURATION}s" --timeout 10s -s "$1" "$base$3" | grep '^RESULT')
  echo "$(sed -E 's/.* rps=([0-9.]+).*/\1/' <<<"$out") $(sed -E 's/.* p50_ms=([0-9.]+).*/\1/' <<<"$out")" \
       "$(sed -E 's/.* p99_ms=([0-9.]+).*/\1/' <<<"$out") $(sed -E 's/.*requests=([0-9]+).*/\1/' <<<"$out")" \
       "$(sed -E 's/.* non2xx=([0-9]+).*/\1/' <<<"$out")"
}
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r)"
echo "wrk -t$THREADS -d${DURATION}s; $RUNS runs; $TICKETS changes"
for f in lat_base lat_appr thr_base thr_appr; do : >"$WORK/$f"; done
for i in $(seq "$RUNS"); do
  before=$(sqlite3 "file:$db?mode=ro" "select count(*) from tb_approval")
  r1=$(run bench/healthz.lua "$LAT_CONN" /healthz); echo "$r1" >>"$WORK/lat_base"
  r2=$(run bench/approval.lua "$LAT_CONN" /api/x_bmgr_bomgar_pam/endpoint_approval); echo "$r2" >>"$WORK/lat_appr"
  r3=$(run bench/healthz.lua "$CONN" /healthz); echo "$r3" >>"$WORK/thr_base"
  r4=$(run bench/approval.lua "$CONN" /api/x_bmgr_bomgar_pam/endpoint_approval); echo "$r4" >>"$WORK/thr_appr"
  after=$(sqlite3 "file:$db?mode=ro" "select count(*) from tb_approval")
  answered=$(( $(cut -d' ' -f4 <<<"$r2") + $(cut -d' ' -f4 <<<"$r4") - $(cut -d' ' -f5 <<<"$r2") - $(cut -d' ' -f5 <<<"$r4") ))
  echo "run $i: c=$LAT_CONN healthz p50=$(cut -d' ' -f2 <<<"$r1") p99=$(cut -d' ' -f3 <<<"$r1") |" \
       "approval p50=$(cut -d' ' -f2 <<<"$r2") p99=$(cut -d' ' -f3 <<<"$r2") rps=$(cut -d' ' -f1 <<<"$r2") ||" \
       "c=$CONN healthz rps=$(cut -d' ' -f1 <<<"$r3") | approval rps=$(cut -d' ' -f1 <<<"$r4")" \
       "p50=$(cut -d' ' -f2 <<<"$r4") p99=$(cut -d' ' -f3 <<<"$r4") | recorded $((after - before)) of $answered answered"
  if [ $((after - before)) -lt "$answered" ]; then echo "ERROR: decisions answered but not recorded" >&2; exit 1; fi
done
col() { cut -d' ' -f"$2" "$WORK/$1" | median; }
echo "median c=$LAT_CONN: healthz p50_ms=$(col lat_base 2) p99_ms=$(col lat_base 3); approval p50_ms=$(col lat_appr 2) p99_ms=$(col lat_appr 3) rps=$(col lat_appr 1)"
echo "median c=$CONN: healthz rps=$(col thr_base 1); approval rps=$(col thr_appr 1) p50_ms=$(col thr_appr 2) p99_ms=$(col thr_appr 3)"
echo "approval/healthz throughput ratio (c=$CONN): $(awk -v a="$(col thr_appr 1)" -v b="$(col thr_base 1)" 'BEGIN {printf "%.2f", a/b}')"
echo "denied share: $(sqlite3 "file:$db?mode=ro" "select printf('%.2f', avg(allowed = 0)) from tb_approval")"

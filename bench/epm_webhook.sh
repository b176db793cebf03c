#!/usr/bin/env bash
# EPM webhook benchmark (seed 004, issue 7). Two parts:
#  1. intake: wrk posts distinct "JIT Application Access Ticket Created"
#     webhooks (the seed's template, 2.3 KB, Basic-authenticated as the
#     webhook user) on CONNECTIONS keep-alive connections, to a daemon with
#     no workers (the intake alone; jobs stay queued). Every 200 is durable:
#     the script checks that the stored rows are at least the 200s wrk
#     counted. Baseline in the same runs: GET /healthz on the same server
#     and connections (the HTTP floor). RUNS runs each, alternating; medians.
#  2. webhook → ticket: with the workers on, epmsim sends TICKETS webhooks,
#     LAT_CONC at a time; latency = ticket record created (tb_jit_request.
#     created_ms) - webhook stored (tb_incoming.received_ms); p50/p90/p99.
# Usage: bench/epm_webhook.sh  (env: RUNS=5 DURATION=10 CONNECTIONS=64 THREADS=2 TICKETS=2000 LAT_CONC=1)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
TB="$BUILD/ticketbridge"
EPMSIM="$BUILD/epmsim"
RUNS=${RUNS:-5}
DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
TICKETS=${TICKETS:-2000}
LAT_CONC=${LAT_CONC:-1}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/tb-bench.XXXXXX")
trap 'kill $pid $epid 2>/dev/null || true; rm -rf "$WORK"' EXIT
pid=
epid=
PASSWORD=bench-webhook-password-0123456789
export EPM_BENCH_AUTH
EPM_BENCH_AUTH=$(printf 'pmc_webhook_user:%s' "$PASSWORD" | base64 -w0)
HOOK=/api/x_bets_pmc_jit/authorization_request_webhook_handler

# new_db WORKERS: a fresh database and configuration; sets db, conf.
new_db() {
  db="$WORK/tb-$RANDOM.db"
  conf="$WORK/tb.conf"
  printf 'log_file = %s\nlog_level = info\nhttp_threads = 2\nworkers = %s\n' "$WORK/tb.log" "$1" >"$conf"
  "$TB" -c "$conf" --db "$db" init >/dev/null
  printf '%s\n' "$PASSWORD" >"$WORK/pw"
  "$TB" -c "$conf" --db "$db" user add pmc_webhook_user --roles x_bets_pmc_jit.api --password-file "$WORK/pw" >/dev/null
}

start() {
  rm -f "$WORK/port"
  "$TB" -c "$conf" --db "$db" serve --port 0 --port-file "$WORK/port" &
  pid=$!
  for _ in $(seq 100); do [ -s "$WORK/port" ] && break; sleep 0.05; done
  url="http://127.0.0.1:$(cat "$WORK/port")"
  # the first request pays for the password check (Argon2id); later ones hit the cache
  curl -s -o /dev/null -u "pmc_webhook_user:$PASSWORD" -H 'Content-Type: application/json' \
    --data-binary '{"EventType":"URM_NATIVE_DECISION_UPDATE","RequestId":"warmup"}' "$url$HOOK"
}

stop() {
  kill -TERM "$pid"
  wait "$pid" || true
  pid=
}

run_one() { # mode(durable|baseline) -> "rps p99 rss stored requests non2xx"
  local mode=$1 out
  new_db 0
  start
  if [ "$mode" = durable ]; then
    out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --timeout 10s -s bench/epm_webhook.lua "$url$HOOK" | grep '^RESULT')
  else
    out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --timeout 10s -s bench/healthz.lua "$url/healthz" | grep '^RESULT')
  fi
  local rss
  rss=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
  stop
  local stored
  stored=$(sqlite3 "$db" "select count(*) from tb_incoming where route = 'epm_webhook' and status = 'accepted' and lsid <> 'warmup'")
  echo "$(sed -E 's/.* rps=([0-9.]+).*/\1/' <<<"$out") $(sed -E 's/.* p99_ms=([0-9.]+).*/\1/' <<<"$out") $rss $stored" \
       "$(sed -E 's/.*requests=([0-9]+).*/\1/' <<<"$out") $(sed -E 's/.* non2xx=([0-9]+).*/\1/' <<<"$out")"
  rm -f "$db" "$db"-wal "$db"-shm "$db.key"
}

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r)"
echo "part 1: wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s, $RUNS runs per mode, alternating"
: >"$WORK/durable"; : >"$WORK/baseline"
for i in $(seq "$RUNS"); do
  for mode in baseline durable; do
    r=$(run_one "$mode")
    read -r rps p99 rss stored req bad <<<"$r"
    echo "run $i $mode: rps=$rps p99_ms=$p99 peak_rss_kb=$rss requests=$req non2xx=$bad$([ "$mode" = durable ] && echo " stored=$stored")"
    echo "$r" >>"$WORK/$mode"
    # wrk stops mid-flight: replies it did not count may still be stored, never fewer.
    if [ "$mode" = durable ] && [ "$stored" -lt $((req - bad)) ]; then
      echo "ERROR: $((req - bad)) answered 200 but only $stored stored" >&2
      exit 1
    fi
  done
done
for mode in baseline durable; do
  echo "$mode median: rps=$(cut -d' ' -f1 "$WORK/$mode" | median) p99_ms=$(cut -d' ' -f2 "$WORK/$mode" | median) peak_rss_kb=$(cut -d' ' -f3 "$WORK/$mode" | median)"
done
d=$(cut -d' ' -f1 "$WORK/durable" | median); b=$(cut -d' ' -f1 "$WORK/baseline" | median)
echo "durable webhooks / healthz throughput ratio: $(awk -v d="$d" -v b="$b" 'BEGIN {printf "%.2f", d/b}')"

echo "part 2: $TICKETS webhooks through epmsim, $LAT_CONC at a time, workers on"
new_db 8
start
rm -f "$WORK/epm.port"
"$EPMSIM" --port 0 --port-file "$WORK/epm.port" --log-level warn &
epid=$!
for _ in $(seq 100); do [ -s "$WORK/epm.port" ] && break; sleep 0.05; done
epm="http://127.0.0.1:$(cat "$WORK/epm.port")"
curl -s "$epm/_epmsim/config" -d "{\"webhook_user\":\"pmc_webhook_user\",\"webhook_password\":\"$PASSWORD\"}" >/dev/null
burst=$(curl -s "$epm/_epmsim/webhooks/burst" \
  -d "{\"count\":$TICKETS,\"concurrency\":$LAT_CONC,\"template\":\"URM_Native_Ticket_Created\",\"url\":\"$url$HOOK\"}")
echo "epmsim burst: $burst"
for _ in $(seq 600); do
  n=$(sqlite3 "$db" "select count(*) from tb_jit_request")
  [ "$n" -ge "$TICKETS" ] && break
  sleep 0.1
done
stop
kill "$epid" 2>/dev/null || true
wait "$epid" 2>/dev/null || true
epid=
sqlite3 "$db" "select r.created_ms - i.received_ms from tb_jit_request r join tb_incoming i on i.id = r.incoming_id
               order by 1" >"$WORK/lat"
n=$(wc -l <"$WORK/lat")
pct() { awk -v p="$1" -v n="$n" 'NR == int((n - 1) * p / 100) + 1 {print; exit}' "$WORK/lat"; }
echo "webhook -> ticket created: tickets=$n p50_ms=$(pct 50) p90_ms=$(pct 90) p99_ms=$(pct 99) max_ms=$(tail -1 "$WORK/lat")"
[ "$n" -ge "$TICKETS" ] || { echo "ERROR: only $n of $TICKETS tickets created" >&2; exit 1; }

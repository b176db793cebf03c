#!/usr/bin/env bash
# Outbound-event intake benchmark: 64 keep-alive connections on loopback.
# Alternates the durable server (every 200 committed, synchronous=FULL) with
# the same server in --bench-no-store baseline mode, RUNS times each, and
# prints medians and the durable/baseline ratio. Also checks that every 200
# of the durable runs is a stored row, and records peak RSS.
# Usage: bench/intake.sh   (env: RUNS=5 DURATION=10 CONNECTIONS=64 THREADS=2)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
TB="$BUILD/ticketbridge"
RUNS=${RUNS:-5}
DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/tb-bench.XXXXXX")
trap 'kill $pid 2>/dev/null || true; rm -rf "$WORK"' EXIT
pid=

run_one() { # mode(durable|baseline) -> prints "rps p99 rss stored non2xx"
  local mode=$1 db="$WORK/$1-$RANDOM.db" conf="$WORK/tb.conf"
  # intake alone: no workers (jobs stay queued, as they would behind a busy importer)
  printf 'log_file = %s\nlog_level = info\nhttp_threads = 2\nworkers = 0\n' "$WORK/tb.log" >"$conf"
  "$TB" -c "$conf" --db "$db" init >/dev/null
  printf 'bench-token-0123456789\n' >"$WORK/token"
  "$TB" -c "$conf" --db "$db" appliance set Default --outbound-event-token-file "$WORK/token" \
    --accepted-ips 127.0.0.1 >/dev/null
  local extra=()
  [ "$mode" = baseline ] && extra=(--bench-no-store)
  rm -f "$WORK/port"
  "$TB" -c "$conf" --db "$db" serve --port 0 --port-file "$WORK/port" "${extra[@]}" &
  pid=$!
  for _ in $(seq 100); do [ -s "$WORK/port" ] && break; sleep 0.05; done
  local url="http://127.0.0.1:$(cat "$WORK/port")/api/x_bmgr_crm/outbound_event/session_end?outbound_event_token=bench-token-0123456789"
  local out
  out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --timeout 10s -s bench/post.lua "$url" | grep '^RESULT')
  local rss
  rss=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
  kill -TERM "$pid"; wait "$pid" || true; pid=
  local stored=0
  [ "$mode" = durable ] && stored=$(sqlite3 "$db" "select count(*) from tb_incoming where status='accepted'")
  local rps p99 req non2xx
  rps=$(sed -E 's/.* rps=([0-9.]+).*/\1/' <<<"$out")
  p99=$(sed -E 's/.* p99_ms=([0-9.]+).*/\1/' <<<"$out")
  req=$(sed -E 's/.*requests=([0-9]+).*/\1/' <<<"$out")
  non2xx=$(sed -E 's/.* non2xx=([0-9]+).*/\1/' <<<"$out")
  echo "$rps $p99 $rss $stored $req $non2xx"
  rm -f "$db" "$db"-wal "$db"-shm "$db.key"
}

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r)"
echo "wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s, $RUNS runs per mode, alternating"
: >"$WORK/durable"; : >"$WORK/baseline"
for i in $(seq "$RUNS"); do
  for mode in baseline durable; do
    r=$(run_one "$mode")
    echo "run $i $mode: rps=$(cut -d' ' -f1 <<<"$r") p99_ms=$(cut -d' ' -f2 <<<"$r") peak_rss_kb=$(cut -d' ' -f3 <<<"$r") requests=$(cut -d' ' -f5 <<<"$r") non2xx=$(cut -d' ' -f6 <<<"$r")$( [ "$mode" = durable ] && echo " stored=$(cut -d' ' -f4 <<<"$r")")"
    echo "$r" >>"$WORK/$mode"
    if [ "$mode" = durable ]; then
      req=$(cut -d' ' -f5 <<<"$r"); st=$(cut -d' ' -f4 <<<"$r"); bad=$(cut -d' ' -f6 <<<"$r")
      # wrk stops mid-flight: replies it did not count may still be stored, never fewer.
      if [ "$st" -lt $((req - bad)) ]; then echo "ERROR: $((req - bad)) answered 200 but only $st stored" >&2; exit 1; fi
    fi
  done
done
for mode in baseline durable; do
  echo "$mode median: rps=$(cut -d' ' -f1 "$WORK/$mode" | median) p99_ms=$(cut -d' ' -f2 "$WORK/$mode" | median) peak_rss_kb=$(cut -d' ' -f3 "$WORK/$mode" | median)"
done
d=$(cut -d' ' -f1 "$WORK/durable" | median); b=$(cut -d' ' -f1 "$WORK/baseline" | median)
echo "durable/baseline throughput ratio: $(awk -v d="$d" -v b="$b" 'BEGIN {printf "%.2f", d/b}')"

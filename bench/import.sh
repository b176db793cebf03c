#!/usr/bin/env bash
# End-to-end session-import benchmark: btsim ends SESSIONS sessions and
# delivers their end events to a running `ticketbridge serve`; the job
# workers fetch each report over OAuth from btsim (/api/reporting), parse it,
# store the session, link it to a ticket and write a work note.
# Measures sessions imported per second from the first event to the last job
# done (tb_job state 'done' and rows in tb_session), plus the intake rate
# (first to last event stored) and the import rate (first job created to last
# job done). Fresh database and processes per run; RUNS runs per worker count.
#
# Usage: bench/import.sh   (env, defaults in brackets:
#   BUILD=<unset>  SESSIONS=2000
#     BUILD unset: `git archive HEAD` is built (RelWithDebInfo) in the work
#     directory, so that edits or rebuilds of build/ by others during the
#     benchmark cannot change the binaries; BUILD=build uses that directory
#   WORKERS="2 4"  RUNS=3  TICKETS=1
#     TICKETS: sessions are spread round-robin-by-block over this many incidents
#     (custom.snow_task_id); 1 = every session attaches to one incident
#   REPORT_EVENTS=0  if >0, serve each session's report inflated to about this
#     many events (btsim's own reports have 16-21 events, ~7 KB); uses
#     bench/import/inflate.py and btsim --report-file
#   TIMEOUT=600  seconds per run before giving up
#   PERF=0  1 = perf record -g the server during each run (WORK kept)
#   KEEP=0  1 = keep the work directory (DB, logs, metrics)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-}
SESSIONS=${SESSIONS:-2000}
WORKERS=${WORKERS:-"2 4"}
RUNS=${RUNS:-3}
TICKETS=${TICKETS:-1}
REPORT_EVENTS=${REPORT_EVENTS:-0}
TIMEOUT=${TIMEOUT:-600}
PERF=${PERF:-0}
KEEP=${KEEP:-0}
SEED=${SEED:-7}
APPID=bench-appliance

WORK=$(mktemp -d "${TMPDIR:-/tmp}/tb-import.XXXXXX")
if [ -z "$BUILD" ]; then
  mkdir "$WORK/src"; git archive HEAD | tar -x -C "$WORK/src"
  BUILD="$WORK/src/build"
  if ! log=$( (cmake -S "$WORK/src" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo &&
               cmake --build "$BUILD" -j"$(nproc)" --target ticketbridge btsim) 2>&1); then
    echo "$log" >&2; rm -rf "$WORK"; exit 1
  fi
  echo "built HEAD $(git rev-parse --short HEAD) in $BUILD"
fi
TB="$BUILD/ticketbridge"
BTSIM="$BUILD/btsim"
for b in "$TB" "$BTSIM"; do [ -x "$b" ] || { echo "missing $b: cmake --build $BUILD" >&2; exit 1; }; done
bt=$(grep -E '^CMAKE_BUILD_TYPE' "$BUILD/CMakeCache.txt" | cut -d= -f2)
[ "$bt" = Debug ] && echo "WARNING: $BUILD is a Debug build" >&2

tbpid= btpid= perfpid=
cleanup() {
  for p in $perfpid $btpid $tbpid; do kill -TERM "$p" 2>/dev/null || true; done
  for p in $perfpid $btpid $tbpid; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
  done
  if [ "$KEEP" = 1 ] || [ "$PERF" = 1 ]; then echo "work directory kept: $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now() { date +%s.%N; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_file() { for _ in $(seq 200); do [ -s "$1" ] && return 0; sleep 0.05; done; echo "timeout waiting for $1" >&2; return 1; }
cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat" 2>/dev/null || echo 0; } # utime+stime, all threads
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
q() { sqlite3 -cmd '.timeout 2000' "file:$1?mode=ro" "$2"; }
HZ=$(getconf CLK_TCK)

# Inflated reports (REPORT_EVENTS>0): a first btsim with the same seed creates
# the same sessions (lsids depend only on the seed and the order of
# generation); their reports are fetched, inflated and written to files, and
# the measured btsim serves them with --report-file.
prepare_reports() { # dir -> writes dir/args (one --report-file=... per line)
  local dir=$1 port; mkdir -p "$dir"
  port=$(free_port)
  "$BTSIM" --listen "127.0.0.1:$port" --seed "$SEED" --quiet --appliance-id "$APPID" 2>"$dir/btsim.log" &
  local pid=$!
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/check_health" >/dev/null && break; sleep 0.05; done
  create_sessions "$port" >/dev/null
  python3 bench/import/inflate.py --port "$port" --events "$REPORT_EVENTS" --out "$dir" >"$dir/args"
  kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
}

create_sessions() { # btsim port; spreads SESSIONS over TICKETS incidents
  local port=$1 i per rest n
  per=$((SESSIONS / TICKETS)); rest=$((SESSIONS % TICKETS))
  for i in $(seq 1 "$TICKETS"); do
    n=$per; [ "$i" -le "$rest" ] && n=$((n + 1))
    [ "$n" -gt 0 ] || continue
    curl -sf -X POST "http://127.0.0.1:$port/_btsim/sessions?count=$n&custom.snow_task_id=$(printf 'INC%07d' $((10000 + i)))" \
      | jq '.lsids | length' >/dev/null
  done
}

run_one() { # workers run# -> one result line
  local workers=$1 run=$2 dir="$WORK/w$1-r$2" db conf
  mkdir -p "$dir"; db="$dir/tb.db"; conf="$dir/tb.conf"
  printf 'log_file = %s\nlog_level = info\nhttp_threads = 2\nworkers = %s\n' "$dir/tb.log" "$workers" >"$conf"
  "$TB" -c "$conf" --db "$db" init >/dev/null
  for i in $(seq 1 "$TICKETS"); do "$TB" -c "$conf" --db "$db" ticket create --short-description "bench $i" >/dev/null; done
  printf 'btsim-secret\n' >"$dir/secret"
  local btport tbport
  btport=$(free_port)
  "$TB" -c "$conf" --db "$db" appliance set Default --hostname "http://127.0.0.1:$btport" --client-id btsim-client \
    --client-secret-file "$dir/secret" --appliance-id "$APPID" >/dev/null
  "$TB" -c "$conf" --db "$db" serve --port 0 --port-file "$dir/tb.port" &
  tbpid=$!
  wait_file "$dir/tb.port"; tbport=$(cat "$dir/tb.port")
  local extra=()
  [ "$REPORT_EVENTS" -gt 0 ] && mapfile -t extra <"$WORK/reports/args"
  "$BTSIM" --listen "127.0.0.1:$btport" --port-file "$dir/bt.port" --seed "$SEED" --quiet --appliance-id "$APPID" \
    --retry-duration 600 --outbound-url "http://127.0.0.1:$tbport/api/x_bmgr_crm/outbound_event/session_end" \
    "${extra[@]}" 2>"$dir/btsim.log" &
  btpid=$!
  wait_file "$dir/bt.port"
  if [ "$PERF" = 1 ]; then
    perf record -g -F 499 -o "$dir/perf.data" -p "$tbpid" >/dev/null 2>"$dir/perf.log" &
    perfpid=$!; sleep 0.5
  fi
  local load; load=$(cut -d' ' -f1 /proc/loadavg)
  local c0 b0 t0 t1 tintake= jobs=0 done=0 failed=0 deadline
  c0=$(cpu_ticks "$tbpid"); b0=$(cpu_ticks "$btpid")
  t0=$(now)
  create_sessions "$btport"
  deadline=$(awk -v t="$t0" -v d="$TIMEOUT" 'BEGIN {printf "%.0f", t + d}')
  while :; do
    read -r jobs done failed < <(q "$db" "select count(distinct lsid), count(distinct case when state='done' then lsid end), count(distinct case when state='failed' then lsid end) from tb_job where kind='session_import'" | tr '|' ' ')
    [ -z "$tintake" ] && [ "$jobs" -ge "$SESSIONS" ] && tintake=$(now)
    [ $((done + failed)) -ge "$SESSIONS" ] && break
    if [ "$(date +%s)" -ge "$deadline" ]; then echo "TIMEOUT after ${TIMEOUT}s: jobs=$jobs done=$done failed=$failed" >&2; break; fi
    sleep 0.1
  done
  t1=$(now)
  local c1 b1
  c1=$(cpu_ticks "$tbpid"); b1=$(cpu_ticks "$btpid")
  curl -s "http://127.0.0.1:$tbport/metrics" >"$dir/metrics"
  curl -s "http://127.0.0.1:$btport/_btsim/stats" >"$dir/btstats"
  local rss; rss=$(awk '/VmHWM/ {print $2}' "/proc/$tbpid/status")
  if [ -n "$perfpid" ]; then kill -INT "$perfpid"; wait "$perfpid" 2>/dev/null || true; perfpid=; fi
  kill -TERM "$btpid"; wait "$btpid" 2>/dev/null || true; btpid=
  kill -TERM "$tbpid"; wait "$tbpid" 2>/dev/null || true; tbpid=
  local sess rmin rmax jmin
  sess=$(q "$db" "select count(*) from tb_session")
  read -r rmin rmax < <(q "$db" "select min(received_ms), max(received_ms) from tb_incoming where status='accepted'" | tr '|' ' ')
  if [ "$failed" -gt 0 ]; then
    echo "  $failed failed jobs; errors:" >&2
    q "$db" "select count(*), last_error from tb_job where state='failed' group by last_error order by 1 desc limit 5" | sed 's/^/    /' >&2
  fi
  local retried extra
  retried=$(q "$db" "select count(*) from tb_job where kind='session_import' and attempts > 1")
  extra=$(q "$db" "select count(*) - count(distinct lsid) from tb_job where kind='session_import'") # duplicate jobs
  # writer time split from /metrics
  local wa wc wr
  wa=$(awk '/^tb_writer_apply_seconds_total/ {print $2}' "$dir/metrics")
  wc=$(awk '/^tb_writer_commit_seconds_total/ {print $2}' "$dir/metrics")
  wr=$(awk '/^tb_writer_reply_seconds_total/ {print $2}' "$dir/metrics")
  awk -v n="$SESSIONS" -v t0="$t0" -v t1="$t1" -v ti="${tintake:-$t1}" -v rmin="$rmin" -v rmax="$rmax" \
      -v c="$((c1 - c0))" -v b="$((b1 - b0))" -v hz="$HZ" -v done="$done" -v failed="$failed" -v sess="$sess" \
      -v retried="$retried" -v extra="$extra" -v load="$load" -v rss="$rss" -v wa="$wa" -v wc="$wc" -v wr="$wr" -v w="$workers" -v r="$run" 'BEGIN {
    el = t1 - t0; intake = (rmax - rmin) / 1000.0; imp = t1 - rmin / 1000.0
    printf "workers=%s run=%s e2e_sps=%.1f elapsed_s=%.2f intake_eps=%.1f intake_s=%.2f intake_poll_s=%.2f import_sps=%.1f import_s=%.2f done=%d failed=%d sessions=%d retried=%d dup_jobs=%d load1=%s tb_cpu_pct=%.0f btsim_cpu_pct=%.0f rss_kb=%s writer_apply_s=%s writer_commit_s=%s writer_reply_s=%s\n",
      w, r, done / el, el, n / (intake > 0 ? intake : 1e-9), intake, ti - t0, done / imp, imp, done, failed, sess, retried, extra, load,
      100 * c / hz / el, 100 * b / hz / el, rss, wa, wc, wr
  }'
  [ "$KEEP" = 1 ] || [ "$PERF" = 1 ] || rm -f "$db" "$db"-wal "$db"-shm
}

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r); build $BUILD ($bt)"
echo "sessions=$SESSIONS tickets=$TICKETS runs=$RUNS workers=[$WORKERS] report_events=${REPORT_EVENTS:-native}"
if [ "$REPORT_EVENTS" -gt 0 ]; then
  prepare_reports "$WORK/reports"
  echo "inflated reports: $(wc -l <"$WORK/reports/args") files, $(cat "$WORK/reports/summary")"
fi
for w in $WORKERS; do : >"$WORK/res-$w"; done
for r in $(seq "$RUNS"); do
  for w in $WORKERS; do
    line=$(run_one "$w" "$r")
    echo "$line"
    echo "$line" >>"$WORK/res-$w"
  done
done
for w in $WORKERS; do
  f="$WORK/res-$w"
  get() { sed -E "s/.* $1=([0-9.]+).*/\1/" "$f" | median; }
  echo "median workers=$w: e2e_sps=$(get e2e_sps) intake_eps=$(get intake_eps) import_sps=$(get import_sps) elapsed_s=$(get elapsed_s) tb_cpu_pct=$(get tb_cpu_pct) btsim_cpu_pct=$(get btsim_cpu_pct)"
done

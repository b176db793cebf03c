#!/usr/bin/env bash
# Import capacity alone: SESSIONS session-end events are delivered by btsim
# and queued while ticketbridge runs with no workers; then ticketbridge is
# restarted with WORKERS workers and we time how long the queue takes to
# drain (fetch over OAuth, parse, store, link to the ticket, work note).
# The end-to-end figure in bench/import.sh is bounded by btsim delivering one
# event at a time; this one is not.
# REPORT_EVENTS>0: before the drain, every queued session's report is
# inflated to about that many events (bench/import/inflate.py) and a fresh
# btsim serves those files (--report-file), e.g. REPORT_EVENTS=50 for the
# issue's ~50-event reports.
# Usage: bench/import_drain.sh   (env: BUILD=build SESSIONS=2000 WORKERS="4 8" RUNS=3 REPORT_EVENTS=0)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
TB="$PWD/$BUILD/ticketbridge"
BT="$PWD/$BUILD/btsim"
SESSIONS=${SESSIONS:-2000}
WORKERS=${WORKERS:-"4 8"}
RUNS=${RUNS:-3}
REPORT_EVENTS=${REPORT_EVENTS:-0}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/tb-drain.XXXXXX")
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"' EXIT

wait_file() { for _ in $(seq 200); do [ -s "$1" ] && return 0; sleep 0.05; done; return 1; }
q() { sqlite3 "file:$1?mode=ro" "$2"; }

run() { # workers -> prints sessions/s
  local w=$1 d="$WORK/run-$RANDOM" db
  mkdir -p "$d"; db="$d/t.db"
  "$TB" --db "$db" init >/dev/null
  local inc; inc=$("$TB" --db "$db" ticket create --short-description bench | awk '{print $1}')
  printf 'btsim-secret\n' >"$d/secret"
  printf 'workers = 0\nlog_file = %s/tb.log\n' "$d" >"$d/w0.conf"
  printf 'workers = %s\nlog_file = %s/tb.log\n' "$w" "$d" >"$d/w.conf"
  "$TB" -c "$d/w0.conf" --db "$db" serve --port 0 --port-file "$d/p" & local tbp=$!; pids+=("$tbp")
  wait_file "$d/p"
  "$BT" --listen 127.0.0.1:0 --port-file "$d/bp" --product rs --appliance-id sim --quiet \
    --outbound-url "http://127.0.0.1:$(cat "$d/p")/api/x_bmgr_crm/outbound_event/session_end" & local btp=$!; pids+=("$btp")
  wait_file "$d/bp"
  "$TB" --db "$db" appliance set Default --hostname "http://127.0.0.1:$(cat "$d/bp")" --appliance-id sim \
    --client-id btsim-client --client-secret-file "$d/secret" --poll-interval 0 >/dev/null
  local left=$SESSIONS
  while [ "$left" -gt 0 ]; do
    local n=$((left > 100 ? 100 : left))
    curl -sf -X POST "http://127.0.0.1:$(cat "$d/bp")/_btsim/sessions?count=$n&custom.snow_task_id=$inc" >/dev/null
    left=$((left - n))
  done
  for _ in $(seq 600); do [ "$(q "$db" "select count(*) from tb_job where kind='session_import'")" -ge "$SESSIONS" ] && break; sleep 0.1; done
  kill "$tbp"; wait "$tbp" || true
  if [ "$REPORT_EVENTS" -gt 0 ]; then
    local bport; bport=$(cat "$d/bp")
    mkdir -p "$d/reports"
    python3 bench/import/inflate.py --port "$bport" --events "$REPORT_EVENTS" --out "$d/reports" >"$d/args"
    kill "$btp"; wait "$btp" 2>/dev/null || true
    local extra; mapfile -t extra <"$d/args"
    rm -f "$d/bp"
    "$BT" --listen "127.0.0.1:$bport" --port-file "$d/bp" --product rs --quiet "${extra[@]}" & btp=$!; pids+=("$btp")
    wait_file "$d/bp"
    echo "reports: $(cat "$d/reports/summary")" >&2
  fi
  local t0 t1 done_n
  t0=$(date +%s.%N)
  "$TB" -c "$d/w.conf" --db "$db" serve --port 0 --port-file "$d/p2" & tbp=$!; pids+=("$tbp")
  for _ in $(seq 3000); do
    done_n=$(q "$db" "select count(*) from tb_job where kind='session_import' and state in ('done','failed')")
    [ "$done_n" -ge "$SESSIONS" ] && break; sleep 0.05
  done
  t1=$(date +%s.%N)
  local failed stored notes
  failed=$(q "$db" "select count(*) from tb_job where state='failed'")
  stored=$(q "$db" "select count(*) from tb_session")
  notes=$(q "$db" "select count(*) from sys_journal_field")
  kill "$tbp" "$btp"; wait "$tbp" "$btp" 2>/dev/null || true
  echo "workers=$w sessions=$SESSIONS stored=$stored notes=$notes failed=$failed seconds=$(echo "$t1 - $t0" | bc) sps=$(echo "scale=1; $SESSIONS / ($t1 - $t0)" | bc)" >&2
  echo "scale=1; $SESSIONS / ($t1 - $t0)" | bc
}

echo "machine: $(nproc) cores, $(uname -r); $SESSIONS sessions ($([ "$REPORT_EVENTS" -gt 0 ] && echo "reports inflated to ~$REPORT_EVENTS events" || echo "btsim's own reports")), $RUNS runs"
for w in $WORKERS; do
  : >"$WORK/r$w"
  for _ in $(seq "$RUNS"); do run "$w" >>"$WORK/r$w"; done
  echo "median workers=$w: $(sort -n "$WORK/r$w" | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}') sessions/s"
done

#!/usr/bin/env bash
# Session-report parser benchmark: throughput (median MB/s over RUNS parses of
# a ~25 MB in-memory report fed in 64 KiB chunks) and peak RSS, then the same
# report streamed at 25 MB and 100 MB to show that the parser's memory does
# not grow with the report size.
# Usage: bench/parser.sh   (env: BUILD=build-rel RUNS=5 MB=25)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
RUNS=${RUNS:-5}
MB=${MB:-25}
if [ ! -f "$BUILD/CMakeCache.txt" ]; then
  cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
if ! log=$(cmake --build "$BUILD" -j"$(nproc 2>/dev/null || echo 2)" --target report_parser_bench 2>&1); then
  echo "$log" >&2
  exit 1
fi
BIN="$BUILD/bench/report_parser_bench"
echo "build: $BUILD ($(grep -E '^CMAKE_BUILD_TYPE' "$BUILD/CMakeCache.txt" | cut -d= -f2)), $(nproc) CPUs"
echo "== in-memory ${MB} MB"
"$BIN" --mb "$MB" --runs "$RUNS"
echo "== in-memory $((MB * 4)) MB (the report buffer itself is in RSS; see parser_delta)"
"$BIN" --mb $((MB * 4)) --runs "$RUNS"
echo "== streamed ${MB} MB (report never held in memory)"
out=$("$BIN" --mb "$MB" --runs "$RUNS" --stream)
echo "$out"
s1=$(sed -n 's/.*peak=\([0-9]*\).*/\1/p' <<<"$out")
echo "== streamed $((MB * 4)) MB"
out=$("$BIN" --mb $((MB * 4)) --runs "$RUNS" --stream)
echo "$out"
s4=$(sed -n 's/.*peak=\([0-9]*\).*/\1/p' <<<"$out")
echo "peak RSS streamed: ${s1} KB at ${MB} MB, ${s4} KB at $((MB * 4)) MB"
if [ "$s4" -gt $((s1 + s1 / 10 + 1024)) ]; then
  echo "FAIL: peak RSS grew with the report size" >&2
  exit 1
fi

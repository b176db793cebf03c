#!/usr/bin/env bash
# make run: ticketbridge on the embedded default, with btsim playing a
# Remote Support appliance whose sessions end and are delivered as outbound
# events. Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD=${BUILD:-build}
TB="$BUILD/ticketbridge"
BTSIM="$BUILD/btsim"
CONF=etc/ticketbridge.conf
PORT=${TB_PORT:-8080}
SIM_PORT=${BTSIM_PORT:-9443}
SESSIONS=${DEMO_SESSIONS:-25}
mkdir -p var

tb() { "$TB" -c "$CONF" "$@"; }

if [ ! -f var/ticketbridge.db ]; then
  echo "== First run: creating var/ticketbridge.db"
  tb init --product rs --hostname "http://127.0.0.1:$SIM_PORT"
  echo
fi

# The demo appliance: btsim's API account and an outbound event token.
token_file=var/demo-outbound-token
secret_file=var/demo-client-secret
[ -f "$token_file" ] || (umask 077; head -c 18 /dev/urandom | base64 | tr -d '/+=' > "$token_file")
(umask 077; printf 'btsim-secret\n' > "$secret_file")
tb appliance set Default --product rs --hostname "http://127.0.0.1:$SIM_PORT" \
  --appliance-id btsim-demo --client-id btsim-client --client-secret-file "$secret_file" \
  --outbound-event-token-file "$token_file" --accepted-ips "127.0.0.1,::1" --enabled yes >/dev/null

url="http://127.0.0.1:$PORT/api/x_bmgr_crm/outbound_event/session_end?outbound_event_token=$(cat "$token_file")"
"$BTSIM" --listen "127.0.0.1:$SIM_PORT" --product rs --seed "$RANDOM" \
  --client-id btsim-client --client-secret btsim-secret --appliance-id btsim-demo \
  --outbound-url "$url" --send-custom-fields --retry-interval 1 --retry-duration 600 \
  --run-sessions "$SESSIONS" --rate 1 --quiet &
sim=$!
trap 'kill $sim 2>/dev/null; wait $sim 2>/dev/null || true' EXIT

cat <<MSG
== ticketbridge on http://127.0.0.1:$PORT, btsim (appliance) on http://127.0.0.1:$SIM_PORT
   btsim ends $SESSIONS support sessions, one a second, and delivers their outbound events.
   In another terminal:
     $TB -c $CONF incoming          # what arrived, accepted or refused and why
     $TB -c $CONF jobs              # import jobs and their outcomes
     $TB -c $CONF sessions          # the imported sessions (then: session LSID)
     curl -s http://127.0.0.1:$PORT/metrics
   Ctrl-C stops the demo.
MSG
tb serve --port "$PORT"

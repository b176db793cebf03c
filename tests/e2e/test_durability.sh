# "200 means stored": concurrent deliveries, then a SIGTERM in the middle of
# a load. Every event answered 200 must be a committed row; nothing answered
# 200 is lost; shutdown exits 0.
. "$TB_E2E_LIB"

tb_init
tb_start
EP="$TB_URL/api/x_bmgr_crm/outbound_event/session_end"

load() { # url count workers out_file
  python3 - "$@" <<'PY'
import http.client, sys, threading, urllib.parse
url, count, workers, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
u = urllib.parse.urlsplit(url)
lock = threading.Lock(); results = []
def worker(wid):
    conn = None
    for i in range(wid, count, workers):
        lsid = "d%07d%024x" % (wid, i)
        body = "event=support_conference_end&timestamp=%d&lsid=%s&appliance_id=x" % (1000 + i, lsid)
        try:
            if conn is None:
                conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
            conn.request("POST", u.path, body, {"Content-Type": "application/x-www-form-urlencoded"})
            r = conn.getresponse(); r.read(); status = r.status
        except Exception:
            status = 0; conn = None
        with lock: results.append((lsid, status))
ts = [threading.Thread(target=worker, args=(w,)) for w in range(workers)]
[t.start() for t in ts]; [t.join() for t in ts]
with open(out, "w") as f:
    for lsid, st in results: f.write("%s %d\n" % (lsid, st))
PY
}

load "$EP" 3000 32 "$WORK/run1"
expect_eq "3000 concurrent deliveries all 200" "$(awk '$2==200' "$WORK/run1" | wc -l)" 3000
expect_eq "3000 rows stored" "$(sql "select count(*) from tb_incoming where status='accepted' and lsid like 'd%'")" 3000
expect_eq "3000 jobs queued" "$(sql "select count(*) from tb_job")" 3000
batches=$(curl -s "$TB_URL/metrics" | awk '/^tb_writer_batches_total/ {print $2}')
if [ "${batches:-0}" -gt 0 ] && [ "$batches" -lt 3000 ]; then ok "commits were shared ($batches batches for 3000+ writes)"; else not_ok "commits were shared (batches=$batches)"; fi

# SIGTERM while 32 clients are sending
sql "select lsid from tb_incoming" >/dev/null
load "$EP" 20000 32 "$WORK/run2" &
loader=$!
# SIGTERM once the second load is well under way (not after a fixed sleep)
under_way() { [ "$(sql "select count(*) from tb_incoming where lsid like 'd%'")" -ge 3200 ]; }
wait_until 30 under_way || not_ok "second load got under way"
kill -TERM "$TB_PID"
TB_EXIT=0; wait "$TB_PID" || TB_EXIT=$?
wait "$loader"
expect_eq "SIGTERM under load exits 0" "$TB_EXIT" 0
answered=$(awk '$2==200 {print $1}' "$WORK/run2" | sort)
n=$(printf '%s\n' "$answered" | grep -c . || true)
[ "$n" -gt 0 ] && ok "some events answered before shutdown ($n)" || not_ok "some events answered before shutdown"
stored=$(sql "select lsid from tb_incoming where status='accepted'" | sort)
missing=$(comm -23 <(printf '%s\n' "$answered") <(printf '%s\n' "$stored") | grep -c . || true)
expect_eq "every 200 is a stored row" "$missing" 0
bad=$(awk '$2!=200 && $2!=0 && $2!=503' "$WORK/run2" | wc -l)
expect_eq "refusals during shutdown are only 503 or closed connections" "$bad" 0
finish

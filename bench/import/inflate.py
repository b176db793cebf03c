#!/usr/bin/env python3
"""Fetch every session's full report from a running btsim and write it
inflated to about --events events (copies of the session's own chat, file,
note and state events, inserted before its Session End event), one file per
lsid. Prints one `--report-file=LSID=PATH` line per session for btsim, and
writes OUT/summary with the report sizes and event counts.
Used by bench/import.sh (REPORT_EVENTS>0)."""
import argparse, base64, json, os, re, statistics, sys, urllib.parse, urllib.request

ap = argparse.ArgumentParser()
ap.add_argument("--port", type=int, required=True)
ap.add_argument("--events", type=int, required=True)
ap.add_argument("--out", required=True)
ap.add_argument("--client", default="btsim-client:btsim-secret")
a = ap.parse_args()
base = f"http://127.0.0.1:{a.port}"

req = urllib.request.Request(base + "/oauth2/token", data=b"grant_type=client_credentials",
                             headers={"Authorization": "Basic " + base64.b64encode(a.client.encode()).decode()})
tok = json.load(urllib.request.urlopen(req))["access_token"]
lsids = [s["lsid"] for s in json.load(urllib.request.urlopen(base + "/_btsim/sessions"))["sessions"]]

COPY = re.compile(r'event_type="(Chat Message|File [^"]*|System Information Retrieved|'
                  r'Conference Member State Changed|Session Note Added)"')
sizes, counts = [], []
for lsid in lsids:
    body = urllib.parse.urlencode({"generate_report": "SupportSession", "lsid": lsid}).encode()
    r = urllib.request.Request(base + "/api/reporting", data=body, headers={"Authorization": "Bearer " + tok})
    x = urllib.request.urlopen(r).read().decode()
    lines = x.split("\n")
    ev = [l for l in lines if l.startswith("<event ")]
    pool = [l for l in ev if COPY.search(l)]
    end = next(i for i, l in enumerate(lines) if 'event_type="Session End"' in l)
    extra, i = [], 0
    while pool and len(ev) + len(extra) < a.events:
        extra.append(pool[i % len(pool)])
        i += 1
    lines[end:end] = extra
    x = "\n".join(lines)
    path = os.path.join(a.out, lsid + ".xml")
    with open(path, "w") as f:
        f.write(x)
    sizes.append(len(x.encode()))
    counts.append(len(ev) + len(extra))
    print(f"--report-file={lsid}={path}")
with open(os.path.join(a.out, "summary"), "w") as f:
    f.write(f"report bytes median {statistics.median(sizes):.0f} (min {min(sizes)}, max {max(sizes)}), "
            f"events median {statistics.median(counts):.0f} (min {min(counts)}, max {max(counts)})\n")

#!/usr/bin/env python3
"""A ServiceNow REST client in the style of pysnow, on the standard library
only, run against ticketbridge's Table API by test_table_api.sh.

It does what pysnow does on the wire: Basic authentication, JSON bodies,
encoded queries built like pysnow's QueryBuilder, pages followed through the
Link header's rel="next" (as pysnow's legacy path does with requests'
response.links), X-Total-Count, create/update/delete with the status codes
pysnow checks, and the Attachment API's raw upload and download. Errors are
read from the {"error":{"message","detail"},"status":"failure"} envelope.

Usage: snow_client.py BASE_URL USER PASSWORD CA_FILE
Prints one "ok <step>" line per step; exits non-zero on the first failure.
"""
import base64
import datetime
import json
import re
import ssl
import sys
import urllib.error
import urllib.parse
import urllib.request


class SnowError(Exception):
    def __init__(self, status, message, detail):
        super().__init__("%s: %s (%s)" % (status, message, detail))
        self.status, self.message, self.detail = status, message, detail


class Client:
    def __init__(self, base, user, password, cafile):
        self.base = base.rstrip("/")
        token = base64.b64encode(("%s:%s" % (user, password)).encode()).decode()
        self.headers = {"Authorization": "Basic " + token, "Accept": "application/json"}
        self.ctx = ssl.create_default_context(cafile=cafile)

    def request(self, method, url, params=None, body=None, headers=None, raw=False):
        if params:
            url += ("&" if "?" in url else "?") + urllib.parse.urlencode(params)
        h = dict(self.headers)
        data = None
        if body is not None and not raw:
            data = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        elif body is not None:
            data = body
        h.update(headers or {})
        req = urllib.request.Request(url, data=data, headers=h, method=method)
        try:
            with urllib.request.urlopen(req, context=self.ctx, timeout=20) as resp:
                return resp.status, resp.headers, resp.read()
        except urllib.error.HTTPError as e:
            text = e.read()
            try:
                err = json.loads(text)["error"]
            except (ValueError, KeyError, TypeError):
                raise SnowError(e.code, "unreadable error", text[:200])
            if json.loads(text).get("status") != "failure":
                raise SnowError(e.code, "envelope without status failure", text[:200])
            raise SnowError(e.code, err.get("message"), err.get("detail"))

    def table(self, name):
        return "%s/api/now/table/%s" % (self.base, name)

    # pysnow: Resource.get(query).all() follows rel="next" until there is none.
    def get_all(self, table, query, limit, fields=None):
        params = {"sysparm_query": query, "sysparm_limit": limit}
        if fields:
            params["sysparm_fields"] = ",".join(fields)
        url, records, total, pages = self.table(table), [], None, 0
        while url:
            status, headers, body = self.request("GET", url, params if pages == 0 else None)
            assert status == 200, status
            records += json.loads(body)["result"]
            total = int(headers["X-Total-Count"])
            url = next_link(headers.get("Link", ""))
            pages += 1
        return records, total, pages

    def create(self, table, payload):
        status, headers, body = self.request("POST", self.table(table), body=payload)
        assert status == 201, status
        record = json.loads(body)["result"]
        assert headers["Location"].endswith("/api/now/table/%s/%s" % (table, record["sys_id"]))
        return record

    def update(self, table, sys_id, payload, method="PUT"):
        status, _, body = self.request(method, "%s/%s" % (self.table(table), sys_id), body=payload)
        assert status == 200, status
        return json.loads(body)["result"]

    def delete(self, table, sys_id):
        status, _, body = self.request("DELETE", "%s/%s" % (self.table(table), sys_id))
        assert status == 204 and body == b"", (status, body)


def next_link(header):
    """rel="next" of an RFC 8288 Link header, the way requests parses it."""
    for part in header.split(","):
        m = re.match(r'\s*<([^>]*)>\s*;\s*rel="?([^";]*)"?', part)
        if m and m.group(2) == "next":
            return m.group(1)
    return None


def query_builder(field, op, value):
    """pysnow QueryBuilder's fragments, datetimes formatted as it does."""
    if isinstance(value, datetime.datetime):
        value = 'javascript:gs.dateGenerate("%s","%s")' % (value.strftime("%Y-%m-%d"), value.strftime("%H:%M:%S"))
        value = value.replace('"', "'")
    if isinstance(value, (list, tuple)):
        value = ",".join(value)
    return "%s%s%s" % (field, op, value)


def main():
    base, user, password, cafile = sys.argv[1:5]
    c = Client(base, user, password, cafile)

    made = [c.create("incident", {"short_description": "pysnow-style %d" % i, "impact": 2 if i % 2 else 3,
                                  "urgency": "2", "work_notes": "created by the client"}) for i in range(7)]
    assert all(isinstance(v, (str, dict)) for v in made[0].values())
    assert made[0]["number"].startswith("INC") and made[0]["impact"] == "3"
    print("ok create")

    since = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=1)
    q = "^".join([query_builder("short_description", "STARTSWITH", "pysnow-style"),
                  query_builder("sys_created_on", ">", since), "ORDERBYnumber"])
    records, total, pages = c.get_all("incident", q, 3, ["number", "short_description", "impact"])
    assert total == 7 and len(records) == 7 and pages == 3, (total, len(records), pages)
    assert [r["number"] for r in records] == sorted(m["number"] for m in made)
    assert set(records[0]) == {"number", "short_description", "impact"}
    print("ok query and pages")

    records, total, _ = c.get_all("incident", query_builder("impact", "IN", ["2"]) + "^" +
                                  query_builder("short_description", "LIKE", "pysnow"), 100)
    assert total == 3 and len(records) == 3, total
    print("ok IN and LIKE")

    first = made[0]
    updated = c.update("incident", first["sys_id"], {"state": "2", "comments": "from the client"})
    assert updated["state"] == "2" and updated["comments"] == ""
    updated = c.update("incident", first["sys_id"], {"urgency": "1"}, method="PATCH")
    assert updated["urgency"] == "1" and updated["state"] == "2"
    notes, _, _ = c.get_all("sys_journal_field", "element_id=%s^ORDERBYDESCsys_created_on" % first["sys_id"], 10)
    assert sorted(n["element"] for n in notes) == ["comments", "work_notes"], notes
    print("ok update and journal")

    content = bytes(range(256)) * 40
    status, headers, body = c.request(
        "POST", "%s/api/now/attachment/file" % c.base,
        {"table_name": "incident", "table_sys_id": first["sys_id"], "file_name": "dump.bin"},
        content, {"Content-Type": "application/octet-stream"}, raw=True)
    meta = json.loads(body)["result"]
    assert status == 201 and meta["size_bytes"] == str(len(content)) and headers["Location"].endswith(meta["sys_id"])
    status, headers, body = c.request("GET", meta["download_link"], headers={"Accept": "*/*"})
    assert status == 200 and body == content and headers["Content-Type"] == "application/octet-stream"
    print("ok attachment")

    try:
        c.request("GET", "%s/%s" % (c.table("incident"), "0" * 32))
        raise AssertionError("missing record found")
    except SnowError as e:
        assert e.status == 404 and e.message == "No Record found", e
    try:
        c.request("GET", c.table("no_such_table"))
        raise AssertionError("bad table accepted")
    except SnowError as e:
        assert e.status == 400 and e.message == "Invalid table no_such_table", e
    print("ok errors")

    for r in made[1:]:
        c.delete("incident", r["sys_id"])
    _, total, _ = c.get_all("incident", "short_descriptionSTARTSWITHpysnow-style", 10)
    assert total == 1, total
    print("ok delete")


if __name__ == "__main__":
    try:
        main()
    except (AssertionError, SnowError, OSError) as e:
        print("not ok: %r" % (e,))
        sys.exit(1)

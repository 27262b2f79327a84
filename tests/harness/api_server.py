#!/usr/bin/env python3
"""api_server.py -- a paged JSON API for the kind = http source (issue 13
item 6), on loopback.  Standard library only.  Prints its port on the first
line of stdout.

  api_server.py --data FILE [--records-field items] [--cursor-field updated_at]
                [--cursor-param updated_since] [--limit-param limit] [--page-size 200]

FILE is a JSON array of records.  GET /<anything>?updated_since=C&limit=L
answers {"items": [...]} with the records whose cursor field is greater
than C (all without C), in the order of that field, L of them at most
(default --page-size).  Values compare as strings (ISO timestamps in one
format).

/control (GET or POST, query parameters):
  append=FILE     adds the records of the JSON array in FILE
  bad_id=ID       while serving the record whose "id" is ID, its "so_trang"
                  is "abc" (not an integer): the page holding it is malformed
  bad_id=         (empty) serves it correctly again
  delay_ms=N      waits N ms before answering each page
  stats=1         answers {"pages": n, "records": m} served so far
"""
import argparse
import json
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

lock = threading.Lock()
state = {"records": [], "bad_id": None, "delay_ms": 0, "pages": 0, "served": 0}
args = None


def page(query):
    cursor = query.get(args.cursor_param, [None])[0]
    limit = int(query.get(args.limit_param, [args.page_size])[0])
    with lock:
        rows = sorted(state["records"], key=lambda r: str(r[args.cursor_field]))
        if cursor is not None:
            rows = [r for r in rows if str(r[args.cursor_field]) > cursor]
        rows = [dict(r) for r in rows[:limit]]
        for r in rows:
            if state["bad_id"] is not None and r.get("id") == state["bad_id"]:
                r["so_trang"] = "abc"
        state["pages"] += 1
        state["served"] += len(rows)
        delay = state["delay_ms"]
    if delay:
        time.sleep(delay / 1000.0)
    return {args.records_field: rows}


def control(query):
    with lock:
        if "append" in query:
            with open(query["append"][0]) as f:
                state["records"].extend(json.load(f))
        if "bad_id" in query:
            v = query["bad_id"][0]
            state["bad_id"] = int(v) if v else None
        if "delay_ms" in query:
            state["delay_ms"] = int(query["delay_ms"][0])
        return {"pages": state["pages"], "records": state["served"], "total": len(state["records"])}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def answer(self, status, obj):
        body = json.dumps(obj, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
        if url.path == "/control":
            self.answer(200, control(query))
        else:
            self.answer(200, page(query))

    do_POST = do_GET

    def log_message(self, fmt, *a):
        pass


def main():
    global args
    p = argparse.ArgumentParser()
    p.add_argument("--data", required=True)
    p.add_argument("--records-field", default="items")
    p.add_argument("--cursor-field", default="updated_at")
    p.add_argument("--cursor-param", default="updated_since")
    p.add_argument("--limit-param", default="limit")
    p.add_argument("--page-size", type=int, default=200)
    args = p.parse_args()
    with open(args.data) as f:
        state["records"] = json.load(f)
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(srv.server_address[1], flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    sys.exit(main())

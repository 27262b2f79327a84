#!/usr/bin/env python3
"""receiver.py -- a test receiver for the HTTP target (issue 13), on loopback.

Standard library only.  Prints its port on the first line of stdout, then
records every request as one JSON line {method, path, headers, body, status}
in LOG (body as text, gunzipped when Content-Encoding says gzip; body_b64
as received, for byte-exact checks; status as answered, 0 when the client
left before the answer).  Not recorded: /control.

  receiver.py --log FILE [--tls-cert F --tls-key F [--client-ca F]]
              [--bearer TOKEN] [--webhook-secret SECRET]
              [--oauth-client ID:SECRET [--token-ttl S]]

--client-ca requires a client certificate signed by that CA (mTLS).
--bearer: a request without "Authorization: Bearer TOKEN" is answered 401.
--webhook-secret (whsec_... or raw): a request whose Standard Webhooks
  signature does not verify is answered 401.
--oauth-client: /token issues tokens (client_credentials, HTTP Basic) and
  every other request needs one of them as its bearer token.

Plans, answered in order before the default 200:
  GET/POST /control?status=500&times=2&retry_after=3&delay_ms=800&body=...&location=...[&path=/u/31117]
      (with path, the plan answers only requests to that path; status=0 closes
      the connection without an answer, as a reset does)
  GET/POST /control?revoke=1   forgets every issued token (the next use is a 401)
  GET/POST /control?clear=1    drops every plan
"""
import argparse
import base64
import gzip
import hashlib
import hmac
import json
import ssl
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()
PLANS = []  # [{"status", "times", "retry_after", "delay_ms", "body", "location"}]
TOKENS = set()
ARGS = None


def webhook_key(secret):
    if secret.startswith("whsec_"):
        return base64.b64decode(secret[len("whsec_"):])
    return secret.encode()


def webhook_ok(headers, body):
    msg_id = headers.get("webhook-id", "")
    ts = headers.get("webhook-timestamp", "")
    sigs = headers.get("webhook-signature", "")
    if not msg_id or not ts or not sigs:
        return False
    if abs(time.time() - int(ts)) > 300:
        return False
    signed = msg_id.encode() + b"." + ts.encode() + b"." + body
    want = base64.b64encode(hmac.new(webhook_key(ARGS.webhook_secret), signed, hashlib.sha256).digest()).decode()
    return any(s.startswith("v1,") and hmac.compare_digest(s[3:], want) for s in sigs.split(" "))


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def answer(self, status, body=b"", headers=None):
        if getattr(self, "pending_record", None) is not None:
            self.record(self.pending_record, status)
            self.pending_record = None
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def record(self, body, status):
        text = body
        if self.headers.get("Content-Encoding", "").lower() == "gzip":
            try:
                text = gzip.decompress(body)
            except OSError:
                text = b"(not gzip)"
        entry = {"method": self.command, "path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()},
                 "body": text.decode("utf-8", "replace"), "body_b64": base64.b64encode(body).decode(),
                 "status": status}
        with LOCK, open(ARGS.log, "a") as f:
            f.write(json.dumps(entry) + "\n")

    def control(self, query):
        q = {k: v[0] for k, v in urllib.parse.parse_qs(query).items()}
        with LOCK:
            if q.get("revoke"):
                TOKENS.clear()
            if q.get("clear"):
                PLANS.clear()
            if "status" in q:
                PLANS.append({"status": int(q["status"]), "times": int(q.get("times", 1)),
                              "retry_after": q.get("retry_after"), "delay_ms": int(q.get("delay_ms", 0)),
                              "body": q.get("body", ""), "location": q.get("location"),
                              "path": q.get("path")})
        self.answer(204)

    def token(self, body):
        want = "Basic " + base64.b64encode(ARGS.oauth_client.encode()).decode()
        # the client id and secret are form-encoded before Basic (RFC 6749 2.3.1)
        user, _, pw = ARGS.oauth_client.partition(":")
        want2 = "Basic " + base64.b64encode(
            (urllib.parse.quote(user, safe="") + ":" + urllib.parse.quote(pw, safe="")).encode()).decode()
        form = urllib.parse.parse_qs(body.decode())
        if self.headers.get("Authorization") not in (want, want2):
            return self.answer(401, b'{"error":"invalid_client"}', {"Content-Type": "application/json"})
        if form.get("grant_type") != ["client_credentials"]:
            return self.answer(400, b'{"error":"unsupported_grant_type"}', {"Content-Type": "application/json"})
        with LOCK:
            tok = "tok-%d-%d" % (len(TOKENS), int(time.time() * 1000))
            TOKENS.add(tok)
        doc = {"access_token": tok, "token_type": "Bearer", "expires_in": ARGS.token_ttl}
        self.answer(200, json.dumps(doc).encode(), {"Content-Type": "application/json"})

    def authorised(self, body):
        auth = self.headers.get("Authorization", "")
        if ARGS.bearer is not None and auth != "Bearer " + ARGS.bearer:
            return False
        if ARGS.oauth_client is not None:
            with LOCK:
                if not auth.startswith("Bearer ") or auth[len("Bearer "):] not in TOKENS:
                    return False
        if ARGS.webhook_secret is not None and not webhook_ok(self.headers, body):
            return False
        return True

    def handle_any(self):
        n = int(self.headers.get("Content-Length", 0) or 0)
        body = self.rfile.read(n) if n else b""
        path, _, query = self.path.partition("?")
        if path == "/control":
            return self.control(query)
        self.pending_record = body
        if path == "/token" and ARGS.oauth_client is not None:
            return self.token(body)
        if not self.authorised(body):
            return self.answer(401, b'{"error":"unauthorised"}', {"Content-Type": "application/json"})
        plan = None
        with LOCK:
            for i, p in enumerate(PLANS):
                if p["path"] is None or p["path"] == path:
                    plan = p
                    plan["times"] -= 1
                    if plan["times"] <= 0:
                        PLANS.pop(i)
                    break
        if plan is None:
            return self.answer(200, b'{"stored":true}', {"Content-Type": "application/json"})
        if plan["delay_ms"]:
            time.sleep(plan["delay_ms"] / 1000)
        headers = {"Content-Type": "text/plain; charset=utf-8"}
        if plan["retry_after"] is not None:
            headers["Retry-After"] = plan["retry_after"]
        if plan["location"] is not None:
            headers["Location"] = plan["location"]
        if plan["status"] == 0:  # a connection reset: no answer at all
            self.record(self.pending_record, 0)
            self.pending_record = None
            self.close_connection = True
            self.connection.shutdown(2)
            return None
        try:
            self.answer(plan["status"], plan["body"].encode(), headers)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test)

    do_GET = do_POST = do_PUT = handle_any


def main():
    global ARGS
    p = argparse.ArgumentParser()
    p.add_argument("--log", required=True)
    p.add_argument("--tls-cert")
    p.add_argument("--tls-key")
    p.add_argument("--client-ca")
    p.add_argument("--bearer")
    p.add_argument("--webhook-secret")
    p.add_argument("--oauth-client")
    p.add_argument("--token-ttl", type=int, default=3600)
    ARGS = p.parse_args()
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    if ARGS.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(ARGS.tls_cert, ARGS.tls_key)
        if ARGS.client_ca:
            ctx.verify_mode = ssl.CERT_REQUIRED
            ctx.load_verify_locations(ARGS.client_ca)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    print(srv.server_address[1], flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    sys.exit(main())

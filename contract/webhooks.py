"""Webhook deliveries as a partner receives them (contract/run.sh, stage "webhooks").

Starts a receiver on 127.0.0.1, creates a webhook endpoint for it through the API, registers and
updates a client, and checks what arrives with the Standard Webhooks library from PyPI (the one
partners use): every signature verifies with the secret shown at creation, and not with another;
each body is the event the feed shows; the client's events arrive in version order; the
endpoint's delivery log records them. The server must run with WEBHOOK_ALLOW_PRIVATE_URLS=true
(contract/serve.sh does), since the receiver is on loopback.

Env: API_BASE_URL, API_KEY (an organization key).
"""

import json
import os
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

BASE = os.environ["API_BASE_URL"].rstrip("/")
KEY = os.environ["API_KEY"]
WAIT_S = 30

received = []
received_lock = threading.Lock()


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        with received_lock:
            received.append((dict(self.headers.items()), body, self.path))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def api(method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(BASE + path, data=data, method=method)
    request.add_header("Authorization", f"Bearer {KEY}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            raw = response.read()
            return response.status, (json.loads(raw) if raw else None)
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def expect(condition, message):
    if not condition:
        print(f"webhooks: FAILED: {message}", file=sys.stderr)
        sys.exit(1)


def feed_events():
    events, path = [], "/api/v1/events?limit=1000"
    while True:
        status, page = api("GET", path)
        expect(status == 200, f"GET {path}: {status} {page}")
        events.extend(page)
        if len(page) < 1000:
            return events
        path = f"/api/v1/events?limit=1000&after={page[-1]['id']}"


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/hooks"

    status, endpoint = api("POST", "/api/v1/webhook-endpoints", {"url": url, "description": "contract"})
    expect(status == 201, f"create endpoint: {status} {endpoint}")
    secret = endpoint["secret"]
    status, shown = api("GET", f"/api/v1/webhook-endpoints/{endpoint['id']}")
    expect(status == 200 and "secret" not in shown, f"the secret is shown again: {shown}")

    tag = uuid.uuid4().hex[:12]
    person = {
        "first_name": "Grace", "last_name": "Hopper", "date_of_birth": "1986-12-09",
        "gender": "female", "nationality": "USA", "birth_country": "USA",
        "country_of_tax_residence": "USA", "email": f"grace.{tag}@example.com",
        "address": "1 Navy Way", "city": "Arlington", "postcode": "22201",
        "country_code": "USA", "kyc_level": "FULL_KYC",
    }
    status, client = api("POST", "/api/v1/clients/person", person)
    expect(status == 201, f"register: {status} {client}")
    status, _ = api("PUT", f"/api/v1/clients/person/{client['id']}", {"city": "Washington"})
    expect(status == 200, f"update: {status}")

    deadline = time.monotonic() + WAIT_S
    while True:
        with received_lock:
            ours = [r for r in received if json.loads(r[1])["data"]["client_id"] == client["id"]]
        if len(ours) >= 2 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    expect(len(ours) == 2, f"{len(ours)} of the client's 2 events arrived within {WAIT_S} s")

    webhook = Webhook(secret)
    another = Webhook("whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0NTY3ODk=")
    events = {e["id"]: e for e in feed_events()}
    for headers, body, path in ours:
        payload = webhook.verify(body, headers)
        try:
            another.verify(body, headers)
            expect(False, "a delivery verified with a secret that is not the endpoint's")
        except WebhookVerificationError:
            pass
        lowered = {k.lower(): v for k, v in headers.items()}
        expect(lowered["content-type"] == "application/json", f"content-type {lowered['content-type']}")
        expect(lowered["webhook-id"] == payload["id"], "webhook-id is not the event id")
        expect(path == "/hooks", f"delivered to {path}")
        expect(events.get(payload["id"]) == payload, f"the body is not the feed's event {payload['id']}")
    versions = [json.loads(body)["data"]["version"] for _, body, _ in ours]
    expect(versions == [1, 2], f"versions arrived as {versions}")
    kinds = [json.loads(body)["type"] for _, body, _ in ours]
    expect(kinds == ["client.registered", "client.updated"], f"types {kinds}")

    # The endpoint's log: newest first, each a delivery on its first attempt.
    deadline = time.monotonic() + 10
    while True:
        status, attempts = api("GET", f"/api/v1/webhook-endpoints/{endpoint['id']}/deliveries")
        expect(status == 200, f"deliveries: {status} {attempts}")
        if len(attempts) >= 2 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    delivered = [(a["event_id"], a["attempt"], a["status_code"], a["outcome"]) for a in attempts]
    ids = [json.loads(body)["id"] for _, body, _ in ours]
    expect(
        delivered == [(ids[1], 1, 204, "delivered"), (ids[0], 1, 204, "delivered")],
        f"delivery log {delivered}",
    )
    status, _ = api("DELETE", f"/api/v1/webhook-endpoints/{endpoint['id']}")
    expect(status == 204, f"delete: {status}")
    print(f"webhooks: {len(ours)} deliveries verified with standardwebhooks (PyPI)")


if __name__ == "__main__":
    main()

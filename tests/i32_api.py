"""Issue 32: helpers for the provider's API tests (in-process and live): a client
that sends a token, and a real webhook receiver."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks import Webhook, WebhookVerificationError

from portal.billing.provider import tokens
from portal.extensions import db
from portal.services import clock


def make_tokens(app):
    """(write token, read token), made by the service `flask api tokens create` calls."""
    with app.app_context():
        write, _ = tokens.create_token(db.session(), clock(), "erp", "write")
        read, _ = tokens.create_token(db.session(), clock(), "dashboard", "read")
        db.session.remove()
    return write, read


class Api:
    def __init__(self, client, token):
        self.client, self.token = client, token

    def _headers(self, key):
        headers = {"Authorization": f"Bearer {self.token}"}
        if key:
            headers["Idempotency-Key"] = key
        return headers

    def get(self, path, **query):
        return self.client.get("/api/v1" + path, headers=self._headers(None), query_string=query)

    def send(self, method, path, body, key=None):
        return self.client.open("/api/v1" + path, method=method, json=body, headers=self._headers(key))

    def post(self, path, body, key=None):
        return self.send("POST", path, body, key)


class Receiver:
    """A real HTTP endpoint on 127.0.0.1: verifies each delivery's Standard Webhooks
    signature; answers `fail_first` requests with 500, then 204."""

    def __init__(self, secret: str, fail_first: int = 0):
        self.secret, self.fail_first = secret, fail_first
        self.received: list[dict] = []   # verified payloads, in order
        self.refused: list[str] = []     # signatures that did not verify
        self.requests = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests += 1
                try:
                    payload = Webhook(receiver.secret).verify(body, dict(self.headers))
                except WebhookVerificationError as exc:
                    receiver.refused.append(str(exc))
                    self.send_response(400)
                else:
                    if receiver.requests <= receiver.fail_first:
                        self.send_response(500)
                    else:
                        receiver.received.append({"id": self.headers["webhook-id"], **payload})
                        self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def types(self) -> list[str]:
        return [payload["type"] for payload in self.received]


SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def dumps(value) -> str:
    return json.dumps(value, sort_keys=True)

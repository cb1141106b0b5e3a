"""Issue 32: the provider's API against real server processes (gunicorn, instances A
and B, SQLite and PostgreSQL): the quick start over HTTP with its events delivered by
`flask events send` to a real receiver (signatures verified), the customer's owner
invited by the API, the email through a real SMTP server, the link accepted and the
invoice paid by card (the gateway's charges = the recorded payments), and Schemathesis over
every operation of the OpenAPI document with a write token and a read token (on
PostgreSQL) — no 5xx, every answer as its schema says, a read token writes nothing."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from urllib.parse import urlsplit
from urllib.error import HTTPError

import pytest
from sqlalchemy import func, select

from portal.models import (BillingAccount, IdempotentRequest, Subscription, UsageLine, WebhookDelivery,
                           WebhookEndpoint)
from tests.i32_api import SECRET, Receiver
from tests.mail.conftest import SmtpServer
from tests.real_clock import real_clock
from tests.server.live import ROOT, Client, csrf_from, hidden_fields
from tests.server.test_live_faults import assert_ledger_agrees, new_card
from tests.web.test_i31_access_pages import PASSWORD

# Kept small for CI's time (the whole suite runs three times): a few examples per
# operation, every phase for the write token, fuzzing for the read token.
SCHEMATHESIS_EXAMPLES = os.environ.get("SCHEMATHESIS_EXAMPLES", "5")


def call(base: str, token: str, method: str, path: str, body=None, key: str | None = None):
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    if key:
        headers["Idempotency-Key"] = key
    request = urllib.request.Request(base + "/api/v1" + path, method=method, headers=headers,
                                     data=None if body is None else json.dumps(body).encode())
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read() or b"null")
    except HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def token(live, name: str, scope: str) -> str:
    return live.deploy.flask("api", "tokens", "create", "--name", name, "--scope", scope).strip()


def test_i32_quick_start_over_http_and_events_delivered_signed(live):
    write = token(live, "erp", "write")
    a, b = live.a.base, live.b.base
    with Receiver(SECRET, fail_first=1) as receiver:
        assert call(a, write, "POST", "/webhook-endpoints", {"url": receiver.url, "secret": SECRET})[0] == 201
        status, account = call(a, write, "POST", "/accounts", {"kind": "customer_agreement", "name": "Acme AB",
                                                               "notification_email": "ap@acme.example"}, key="q-1")
        assert status == 201
        # The same key on the other instance: the same answer, no second account.
        assert call(b, write, "POST", "/accounts", {"kind": "customer_agreement", "name": "Acme AB",
                                                   "notification_email": "ap@acme.example"}, key="q-1") == (201, account)
        status, profile = call(b, write, "POST", f"/accounts/{account['id']}/profiles", {"name": "Sverige"})
        status, sub = call(a, write, "POST", f"/accounts/{account['id']}/subscriptions", {
            "name": "Compute", "monthly_fee_minor": 100_000, "started_on": "2026-10-01",
            "billing_profile_id": profile["id"]})
        assert status == 201
        status, _ = call(b, write, "POST", f"/subscriptions/{sub['id']}/usage", {"lines": [
            {"period_start": "2026-10-01", "period_end": "2026-10-31", "quantity": "2", "unit": "h",
             "unit_price_minor": 5000, "description": "Support"}]})
        assert status == 201
        status, issued = call(a, write, "POST", "/invoices/issue",
                              {"period_start": "2026-10-01", "period_end": "2026-10-31"})
        assert status == 200 and issued["invoices_issued"] >= 1
        status, found = call(b, write, "GET", f"/invoices?account_id={account['id']}")
        assert [line["amount_minor"] for line in found["items"][0]["lines"]] == [100_000, 10_000]
        assert "delivered 0, retry later" in live.deploy.flask("events", "send")  # the receiver failed once
        with live.session() as s:  # past the backoff: due again now
            s.execute(WebhookDelivery.__table__.update().values(next_attempt_at=None))
            s.commit()
        sent = live.deploy.flask("events", "send")
        assert sent.startswith("delivered ") and receiver.refused == []
        issued_events = [p for p in receiver.received if p["type"] == "invoice.issued"]
        assert any(p["data"]["invoice_id"] == found["items"][0]["id"] for p in issued_events)
    invoice = found["items"][0]
    # The customer's owner: invited through the API, the email delivered by a real SMTP
    # server, the link accepted in a browser, the invoice paid with a new card.
    status, _ = call(a, write, "POST", f"/accounts/{account['id']}/invitations", {
        "email": "olle@acme.example", "role": "owner", "billing_profile_id": profile["id"], "locale": "en"})
    assert status == 201
    smtp = SmtpServer().start()
    try:
        live.deploy.flask("mail", "send", env={"MAIL_BACKEND": "smtp", "MAIL_SMTP_HOST": "127.0.0.1",
                                               "MAIL_SMTP_PORT": str(smtp.port), "MAIL_SMTP_SECURITY": "none"})
    finally:
        smtp.stop()
    [mail] = smtp.inbox.to("olle@acme.example")
    [link] = {urlsplit(url).path for url in mail.links if "/invitations/" in url}
    olle = Client(live.b)
    page = olle.get(link)[2]
    accepted = olle.post(link, {"csrf_token": csrf_from(page), "name": "Olle Berg", "password": PASSWORD})
    assert accepted[0] == 303, accepted[2][:500]
    olle = olle.on(live.a)  # the next request lands on the other instance
    olle.sign_in("olle@acme.example", PASSWORD, "en")
    pay = f"/en/accounts/{account['id']}/profiles/{profile['id']}/pay?invoice={invoice['id']}"
    form = hidden_fields(olle.get(f"{pay}&method=new")[2]) | new_card("4242424242424242", "Olle Berg")
    paid = olle.post(pay, form)
    assert paid[0] == 303 and "/payments/" in paid[1]["location"], paid[2][:500]
    assert call(b, write, "GET", f"/invoices/{invoice['id']}")[1]["status"] == "paid"
    assert_ledger_agrees(live)


def schemathesis(live, token_: str, *extra: str) -> subprocess.CompletedProcess:
    """Schemathesis as a client on the real clock, also in a moved-clock run: the days
    are the servers' (still moved), and libfaketime in its own process made the fuzzing
    twice as slow (CI: 192 s; its generation reads the clock all the time)."""
    with real_clock():
        environment = dict(os.environ)
    return subprocess.run(
        [sys.executable, "-m", "schemathesis.cli", "run", f"{live.a.base}/api/v1/openapi.json",
         "-H", f"Authorization: Bearer {token_}", "-n", SCHEMATHESIS_EXAMPLES, "--seed", "32",
         "--checks", "all", "--exclude-checks", "positive_data_acceptance", "--no-color", *extra],
        cwd=ROOT, env=environment, capture_output=True, text=True, timeout=900)


def failures(result: subprocess.CompletedProcess) -> str:
    """Schemathesis's failures section (what to reproduce), then its summary."""
    out = result.stdout
    start = out.find("FAILURES")
    return (out[start:start + 8000] if start >= 0 else "") + out[-3000:] + result.stderr[-2000:]


def counts(live) -> tuple[int, ...]:
    with live.session() as s:
        return tuple(s.scalar(select(func.count()).select_from(model))
                     for model in (BillingAccount, Subscription, UsageLine, WebhookEndpoint, IdempotentRequest))


# On PostgreSQL, the multi-instance production setup, only: the contract it fuzzes is the
# API's own (schemas, validation, problem answers), which no database changes, and
# SQLite's run cost CI 140 s on the moved clock. The quick start above and the in-process
# API tests (tests/web/test_i32_api.py) run on both.
@pytest.mark.parametrize("live", ["postgresql"], indirect=True)
def test_i32_schemathesis_every_operation_with_a_write_and_a_read_token(live):
    write, read = token(live, "fuzz-write", "write"), token(live, "fuzz-read", "read")
    result = schemathesis(live, write)
    assert result.returncode == 0, failures(result)
    before = counts(live)
    result = schemathesis(live, read, "--phases", "fuzzing")
    assert result.returncode == 0, failures(result)
    assert counts(live) == before  # the read token changed nothing

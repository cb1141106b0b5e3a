"""Issue 32, checked against its list: what no test read back — usage lines on the
invoice the customer sees (its page, and its PDF in Swedish and English read with pypdf),
the read-only resources' content (the invoice's documents, a receipt, the credit balance,
transfers to review), every list paged by key (never OFFSET) and the provider's
`flask events` commands (endpoints add and list, deliveries, replay)."""
from __future__ import annotations

import io

from pypdf import PdfReader
from sqlalchemy import event as sa_event, select

from portal.extensions import db
from portal.models import Role, RoleAssignment, User, WebhookDelivery
from tests.i32_api import SECRET
from tests.web import test_i32_api
from tests.web.test_i32_api import OCTOBER, agreement

api_tokens, api = test_i32_api.api_tokens, test_i32_api.api


def pdf_text(response) -> str:
    assert response.status_code == 200 and response.content_type == "application/pdf"
    return " ".join(page.extract_text() for page in PdfReader(io.BytesIO(response.data)).pages)


def test_i32_usage_lines_on_the_invoice_page_and_its_pdf_in_sv_and_en(api, b, demo, browser):
    account, _profile, sub = agreement(api)
    api.post(f"/subscriptions/{sub}/usage", {"lines": [
        {**OCTOBER, "quantity": "12.5", "unit": "GB", "unit_price_minor": 250, "description": "Lagring S3"}]})
    api.post("/invoices/issue", OCTOBER)
    invoice = api.get("/invoices", account_id=account).get_json()["items"][0]
    for lang, amount in (("sv", "31,25"), ("en", "31.25")):
        text = pdf_text(api.get(f"/invoices/{invoice['id']}/pdf", lang=lang))
        assert "Lagring S3" in text and amount in text and "Compute" in text, text
    ubl = api.get(f"/invoices/{invoice['id']}/ubl")
    assert ubl.status_code == 200 and b"Lagring S3" in ubl.data and invoice["number"].encode() in ubl.data
    # The customer's page: Olivia is made an owner of the new account.
    olivia = b.session.scalars(select(User).where(User.email == "olivia@example.com")).one()
    b.session.add(RoleAssignment(user_id=olivia.id, account_id=account, role=Role.OWNER))
    b.session.commit()
    browser.sign_in("olivia@example.com", "en")
    page = browser.get(f"/en/accounts/{account}/invoices/{invoice['id']}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Lagring S3" in html and "31.25" in html


def test_i32_read_only_receipts_credit_and_transfers_answer_what_the_portal_holds(api, demo):
    payments = api.get("/payments", account_id=demo.agreement).get_json()["items"]
    assert payments, "the demo's customer agreement has payments"
    receipt = api.get(f"/payments/{payments[0]['id']}/receipt", lang="en")
    assert str(payments[0]["id"]) in receipt.headers["Content-Disposition"] and pdf_text(receipt)
    credit = api.get(f"/accounts/{demo.agreement}/credit").get_json()
    assert credit["account_id"] == demo.agreement and credit["currency"] == "SEK" and credit["amount_minor"] >= 0
    transfers = api.get("/transfers").get_json()
    assert set(transfers) == {"items", "next_after"}


def test_i32_events_cli_adds_lists_endpoints_shows_deliveries_and_replays(runner, api, b):
    added = runner.invoke(args=["events", "endpoints", "add", "https://erp.example/hooks", "--secret", SECRET])
    assert added.exit_code == 0 and f"secret: {SECRET}" in added.output
    made = runner.invoke(args=["events", "endpoints", "add", "https://erp.example/other"])
    assert made.exit_code == 0 and "secret: whsec_" in made.output  # one made when none is given
    assert runner.invoke(args=["events", "endpoints", "add", "ftp://nowhere"]).exit_code != 0
    listed = runner.invoke(args=["events", "endpoints", "list"]).output
    assert "https://erp.example/hooks\tactive" in listed and "https://erp.example/other\tactive" in listed
    agreement(api)
    api.post("/invoices/issue", OCTOBER)
    [event] = api.get("/events").get_json()["items"]
    log = runner.invoke(args=["events", "deliveries"]).output
    assert log.count(f"event {event['id']} (invoice.issued)") == 2 and "pending" in log
    replayed = runner.invoke(args=["events", "replay", str(event["id"]), "--endpoint", "1"])
    assert replayed.exit_code == 0 and "queued 1 deliveries" in replayed.output
    b.session.rollback()
    assert len(b.session.scalars(select(WebhookDelivery).where(WebhookDelivery.event_id == event["id"])).all()) == 3
    assert runner.invoke(args=["events", "replay", "424242"]).exit_code != 0


def test_i32_lists_page_by_key_never_offset_and_a_deep_page_reads_only_its_rows(app, api, b):
    """Every list reads `id > after … LIMIT`, never OFFSET; on PostgreSQL the plan of a
    page at the end of an account's 1,000 subscriptions reads about the page's rows."""
    account = api.post("/accounts", {**test_i32_api.ACME, "kind": "pay_as_you_go"}).get_json()["id"]
    wanted = [{"name": f"VM {n}", "monthly_fee_minor": 100, "started_on": "2026-11-01"} for n in range(1000)]
    made = api.post(f"/accounts/{account}/subscriptions/batch", {"subscriptions": wanted}).get_json()["items"]
    with app.app_context():
        engine = db.engine
    seen: list[tuple[str, object]] = []

    def remember(_conn, _cursor, statement, parameters, _context, _many):
        seen.append((statement, parameters))
    sa_event.listen(engine, "before_cursor_execute", remember)
    try:
        deep = api.get(f"/accounts/{account}/subscriptions", after=made[-10]["id"], limit=5).get_json()
        for path in ("/accounts", f"/subscriptions/{made[0]['id']}/usage", "/invoices", "/payments", "/transfers",
                     "/events", "/webhook-endpoints", f"/accounts/{account}/roles",
                     f"/accounts/{account}/invitations"):
            assert api.get(path, after=1, limit=5).status_code == 200, path
    finally:
        sa_event.remove(engine, "before_cursor_execute", remember)
    assert [i["id"] for i in deep["items"]] == [m["id"] for m in made[-9:-4]]
    # SQLite's compiler writes any LIMIT as "LIMIT ? OFFSET ?" with an offset of 0.
    offsets = [s for s, p in seen if "OFFSET" in s.upper()
               and not (engine.dialect.name == "sqlite" and s.rstrip().endswith("OFFSET ?") and p[-1] == 0)]
    assert len(seen) > 10 and offsets == []
    if engine.dialect.name != "postgresql":
        return
    [(statement, parameters)] = [(s, p) for s, p in seen if "FROM subscriptions" in s and "LIMIT" in s.upper()]
    with engine.connect() as conn:
        conn.exec_driver_sql("SET enable_seqscan = off")
        [[plan]] = conn.exec_driver_sql("EXPLAIN (ANALYZE, FORMAT JSON) " + statement, parameters).all()

    def walk(node) -> int:
        scanned = (node.get("Actual Rows", 0) + node.get("Rows Removed by Filter", 0)
                   if "Scan" in node["Node Type"] and "Relation Name" in node else 0)
        return scanned + sum(walk(child) for child in node.get("Plans", []))
    assert walk(plan[0]["Plan"]) <= 50, plan  # a page of 5 (+1), not the account's 1,000

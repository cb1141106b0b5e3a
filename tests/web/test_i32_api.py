"""Issue 32: the provider's JSON API in process — tokens, problems, idempotency, paging,
usage billed, the quick start (account → paid invoice), events and their delivery to a
real local receiver. The same API against real server processes, and Schemathesis
over every operation: tests/server/test_live_api.py."""
from __future__ import annotations

import json
from datetime import date

import pytest
from sqlalchemy import func, select

from portal.billing import events
from portal.billing.provider import tokens, webhooks
from portal.billing.transaction import write_transaction
from portal.models import (ApiToken, AuditEvent, Charge, IdempotentRequest, OutboxStatus, WebhookDelivery,
                           WebhookEndpoint, WebhookEvent)
from tests.i32_api import SECRET, Api, Receiver, make_tokens
from tests.web.conftest import Browser
from tests.web.test_i31_access_pages import PASSWORD, token_of
from tests.web.test_flows import pay_form

ACME = {"kind": "customer_agreement", "name": "Acme AB", "notification_email": "ap@acme.example"}
DETAILS = {"company_name": "Acme AB", "org_number": "556677-8899", "street": "Gatan 1", "postcode": "111 22",
           "city": "Stockholm"}
OCTOBER = {"period_start": "2026-10-01", "period_end": "2026-10-31"}


@pytest.fixture
def api_tokens(app):
    return make_tokens(app)


@pytest.fixture
def api(client, api_tokens):
    return Api(client, api_tokens[0])


@pytest.fixture
def read_api(client, api_tokens):
    return Api(client, api_tokens[1])


def problem_type(response) -> str:
    assert response.content_type == "application/problem+json", response.get_data(as_text=True)
    return response.get_json()["type"].rsplit(":", 1)[1]


def agreement(api) -> tuple[int, int, int]:
    """An account, its profile (with details) and a subscription, through the API."""
    account = api.post("/accounts", ACME).get_json()["id"]
    profile = api.post(f"/accounts/{account}/profiles", {"name": "Sverige"}).get_json()["id"]
    assert api.send("PUT", f"/accounts/{account}/profiles/{profile}/details", DETAILS).status_code == 200
    sub = api.post(f"/accounts/{account}/subscriptions", {"name": "Compute", "monthly_fee_minor": 100_000,
                                                          "started_on": "2026-10-01", "billing_profile_id": profile})
    assert sub.status_code == 201, sub.get_json()
    return account, profile, sub.get_json()["id"]


def test_i32_the_openapi_document_is_3_1_with_every_operation_and_bearer_auth(client):
    document = client.get("/api/v1/openapi.json").get_json()
    assert document["openapi"] == "3.1.0"
    assert document["components"]["securitySchemes"]["bearer"] == {"type": "http", "scheme": "bearer"}
    operations = {f"{method.upper()} {path}" for path, item in document["paths"].items() for method in item}
    assert {"POST /api/v1/accounts", "PATCH /api/v1/subscriptions/{subscription_id}",
            "POST /api/v1/subscriptions/{subscription_id}/usage", "POST /api/v1/invoices/issue",
            "GET /api/v1/payments", "POST /api/v1/events/{event_id}/replay"} <= operations
    errors = document["paths"]["/api/v1/accounts"]["post"]["responses"]["422"]["content"]
    assert list(errors) == ["application/problem+json"]


def test_i32_tokens_are_printed_once_kept_as_digests_and_revoked(app, runner, client, b):
    printed = runner.invoke(args=["api", "tokens", "create", "--name", "erp", "--scope", "read"])
    token = printed.output.strip()
    assert printed.exit_code == 0 and token.startswith("ptk_")
    row = b.session.scalars(select(ApiToken)).one()
    assert row.token_hash == tokens.digest(token) and token not in json.dumps(
        [row.name, row.scope, row.token_hash])
    assert Api(client, token).get("/accounts").status_code == 200
    assert "erp\tread" in runner.invoke(args=["api", "tokens", "list"]).output
    assert runner.invoke(args=["api", "tokens", "revoke", "erp"]).exit_code == 0
    refused = Api(client, token).get("/accounts")
    assert refused.status_code == 401 and problem_type(refused) == "unauthorized"


def test_i32_no_token_a_read_token_and_the_pages(app, demo, client, api, read_api):
    assert problem_type(client.get("/api/v1/accounts")) == "unauthorized"
    refused = read_api.post("/accounts", ACME)
    assert refused.status_code == 403 and problem_type(refused) == "read_only_token"
    assert read_api.get("/accounts").status_code == 200
    # No cookie and no CSRF token on the API; no API token opens a page.
    assert api.post("/accounts", ACME).status_code == 201 and "Set-Cookie" not in api.post("/accounts", ACME).headers
    page = client.get("/en/", headers={"Authorization": f"Bearer {api.token}"})
    assert page.status_code == 302 and "/sign-in" in page.location
    signed_in = Browser(app.test_client())  # and a page's session opens no API call
    signed_in.sign_in("anna@example.com", "en")
    assert problem_type(signed_in.client.get("/api/v1/accounts")) == "unauthorized"
    assert problem_type(api.get("/no-such-thing")) == "not_found"


def test_i32_idempotency_key_same_body_same_answer_other_body_422(api, b):
    first = api.post("/accounts", ACME, key="acme-1")
    again = api.post("/accounts", ACME, key="acme-1")
    assert first.status_code == again.status_code == 201 and first.get_json() == again.get_json()
    other = api.post("/accounts", {**ACME, "name": "Other AB"}, key="acme-1")
    assert other.status_code == 422 and problem_type(other) == "idempotency_key_reused"
    assert len(api.get("/accounts").get_json()["items"]) == 1
    assert b.session.scalar(select(func.count()).select_from(IdempotentRequest)) == 1


def test_i32_problems_have_a_stable_type_per_error(api):
    invalid = api.post("/accounts", {"kind": "barter"})
    assert invalid.status_code == 422 and problem_type(invalid) == "invalid_request"
    assert {tuple(e["loc"]) for e in invalid.get_json()["errors"]} >= {("kind",), ("name",)}
    account = api.post("/accounts", {**ACME, "kind": "pay_as_you_go"}).get_json()["id"]
    wrong = api.post(f"/accounts/{account}/profiles", {"name": "X"})
    assert wrong.status_code == 422 and problem_type(wrong) == "wrong_account_kind"
    details = api.send("PUT", f"/accounts/{account}/details", {**DETAILS, "org_number": "123"})
    assert problem_type(details) == "invalid_billing_details"
    assert problem_type(api.get("/accounts/424242")) == "not_found"


def test_i32_lists_page_by_key(api):
    for n in range(5):
        api.post("/accounts", {**ACME, "name": f"Kund {n}"})
    seen, after = [], None
    while True:
        page = api.get("/accounts", limit=2, **({"after": after} if after else {})).get_json()
        seen += [item["name"] for item in page["items"]]
        after = page["next_after"]
        if after is None:
            break
    assert seen == [f"Kund {n}" for n in range(5)]
    assert api.get("/accounts", updated_since="2026-11-26T00:00:00Z").get_json()["items"] == []


def test_i32_quick_start_account_to_an_invoice_the_customer_pays(app, api, b, browser):
    """The README's quick start: account → profile → subscription → usage → invoice →
    the customer's owner invited; they accept the link, sign in and pay it."""
    account, profile, sub = agreement(api)
    usage = api.post(f"/subscriptions/{sub}/usage", {"lines": [
        {"period_start": "2026-10-01", "period_end": "2026-10-31", "quantity": "12.5", "unit": "GB",
         "unit_price_minor": 250, "description": "Lagring"}]})
    assert usage.status_code == 201 and usage.get_json()["items"][0]["amount_minor"] == 3125
    issued = api.post("/invoices/issue", OCTOBER)
    assert issued.get_json() == {"invoices_issued": 1, "charges_made": 0}
    assert api.post("/invoices/issue", OCTOBER).get_json()["invoices_issued"] == 0  # a month is billed once
    invoice = api.get("/invoices", account_id=account).get_json()["items"][0]
    assert [(line["description"], line["amount_minor"]) for line in invoice["lines"]] == [
        ("Compute", 100_000), ("Lagring", 3125)]
    assert invoice["subtotal_minor"] == 103_125 and invoice["status"] == "due"
    late = api.post(f"/subscriptions/{sub}/usage", {"lines": [{**OCTOBER, "quantity": "1", "unit": "h",
                                                               "unit_price_minor": 1, "description": "x"}]})
    assert late.status_code == 409 and problem_type(late) == "period_billed"
    # The provider invites the customer's owner; they accept the emailed link and pay.
    invited = api.post(f"/accounts/{account}/invitations", {"email": "olle@acme.example", "role": "owner",
                                                            "billing_profile_id": profile, "locale": "en"})
    assert invited.status_code == 201 and invited.get_json()["closed_at"] is None, invited.get_json()
    accepted = browser.post(f"/en/invitations/{token_of(app, b, 'olle@acme.example')}",
                            {"name": "Olle", "password": PASSWORD})
    assert accepted.status_code == 303 and accepted.headers["Location"].endswith("/en/sign-in")
    browser.post("/en/sign-in", {"email": "olle@acme.example", "password": PASSWORD})
    url = f"/en/accounts/{account}/profiles/{profile}/pay?invoice={invoice['id']}&method=new"
    data = pay_form(browser.get(url).get_data(as_text=True)) | {
        "card_number": "4242424242424242", "exp_month": "12", "exp_year": "2031", "cvc": "123", "holder": "Olle"}
    response = browser.post(url.replace("&method=new", ""), data)
    assert response.status_code == 303, response.get_data(as_text=True)[:1000]
    assert api.get(f"/invoices/{invoice['id']}").get_json()["status"] == "paid"
    payment = api.get("/payments", account_id=account).get_json()["items"][0]
    assert payment["amount_minor"] == 103_125 and payment["receipt"].endswith("/receipt")
    types = [e["type"] for e in api.get("/events").get_json()["items"]]
    assert {"invoice.issued", "invoice.paid", "payment.succeeded"} <= set(types)


def test_i32_pay_as_you_go_usage_is_billed_in_the_months_charge(api, b):
    account = api.post("/accounts", {**ACME, "kind": "pay_as_you_go"}).get_json()["id"]
    sub = api.post(f"/accounts/{account}/subscriptions", {"name": "VM", "monthly_fee_minor": 50_000,
                                                          "started_on": "2026-10-01"}).get_json()["id"]
    api.post(f"/subscriptions/{sub}/usage", {"lines": [
        {**OCTOBER, "quantity": "3", "unit": "h", "unit_price_minor": 1000, "description": "GPU"},
        {**OCTOBER, "quantity": "0.5", "unit": "h", "unit_price_minor": 1001, "description": "GPU"}]})
    assert api.post("/invoices/issue", OCTOBER).get_json() == {"invoices_issued": 0, "charges_made": 1}
    b.session.rollback()
    charge = b.session.scalars(select(Charge).where(Charge.subscription_id == sub)).one()
    assert charge.amount_minor == 50_000 + 3000 + 501  # 0.5 × 1001 = 500.5, rounded half up
    assert api.get(f"/subscriptions/{sub}").get_json()["outstanding_minor"] == charge.amount_minor


def test_i32_subscription_rename_price_and_cancel_follow_r12(api, b):
    _account, _profile, sub = agreement(api)
    renamed = api.send("PATCH", f"/subscriptions/{sub}", {"name": "Compute EU", "monthly_fee_minor": 120_000,
                                                          "price_from": "2026-11-01"})
    assert renamed.get_json()["name"] == "Compute EU" and renamed.get_json()["monthly_fee_minor"] == 120_000
    assert problem_type(api.send("PATCH", f"/subscriptions/{sub}", {"cancel_on": "2026-12-01"})) == \
        "cancel_on_in_future"
    planned = api.send("PATCH", f"/subscriptions/{sub}", {"cancel_at": "2026-12-16"}).get_json()  # B21
    assert planned["status"] == "active" and planned["cancel_at"] == "2026-12-16"
    assert problem_type(api.send("PATCH", f"/subscriptions/{sub}", {"cancel_at": "2026-11-25"})) == \
        "cancel_at_not_in_future"
    cancelled = api.send("PATCH", f"/subscriptions/{sub}", {"cancel_on": "2026-11-20"}).get_json()
    assert cancelled["status"] == "disabled" and cancelled["disabled_on"] == "2026-11-20"
    event = api.get("/events").get_json()["items"][-1]
    assert event["type"] == "subscription.disabled" and event["data"]["delete_on"] == str(
        b.policy.deletion_date(date(2026, 11, 20)))


def test_i32_every_call_is_audited_with_the_tokens_name_and_limited_per_token(app, api, read_api, b):
    api.get("/accounts")
    b.session.rollback()
    audit = b.session.scalars(select(AuditEvent).where(AuditEvent.action == "api.request")).all()
    assert [(a.details["token"], a.details["method"], a.details["status"]) for a in audit] == [("erp", "GET", 200)]
    app.config["API_RATE_LIMIT"] = "2 per minute"
    assert [api.get("/accounts").status_code for _ in range(3)] == [200, 200, 429]
    limited = api.get("/accounts")
    assert problem_type(limited) == "too_many_requests" and "Retry-After" in limited.headers
    assert read_api.get("/accounts").status_code == 200  # another token counts apart


def test_i32_webhooks_signed_delivered_retried_after_failure_and_replayed(app, api, b):
    with Receiver(SECRET, fail_first=1) as receiver:
        endpoint = api.post("/webhook-endpoints", {"url": receiver.url, "secret": SECRET})
        assert endpoint.status_code == 201 and endpoint.get_json()["secret"] == SECRET
        _account, _profile, _sub = agreement(api)
        api.post("/invoices/issue", OCTOBER)
        sender = webhooks.WebhookSender(b.session, b.clock)
        first = sender.send()
        assert (first.delivered, first.retry_later) == (0, 1) and receiver.received == []  # the receiver failed
        assert sender.send().delivered == 0  # not due yet: backoff
        # Past the backoff (the clock stands still here): due again now.
        b.session.execute(WebhookDelivery.__table__.update().values(next_attempt_at=None))
        b.session.commit()
        assert sender.send().delivered == 1
        assert receiver.types() == ["invoice.issued"] and receiver.refused == []
        delivered = receiver.received[0]
        assert delivered["id"] == f"evt_{delivered['data']['id']}" and delivered["data"]["number"]
        log = api.get(f"/webhook-endpoints/{endpoint.get_json()['id']}/deliveries").get_json()["items"]
        assert [(d["status"], d["attempts"], d["last_status_code"]) for d in log] == [("sent", 2, 204)]
        assert api.post(f"/events/{delivered['data']['id']}/replay", {}).status_code == 201
        assert sender.send().delivered == 1 and receiver.types() == ["invoice.issued"] * 2
        assert receiver.received[0]["id"] == receiver.received[1]["id"]  # the receiver can dedupe


def test_i32_no_event_for_a_rolled_back_change_and_one_for_a_committed_one(b):
    with write_transaction(b.session):
        webhooks.add_endpoint(b.session, b.clock, "http://127.0.0.1:9/hooks", SECRET)
    with pytest.raises(RuntimeError):
        with write_transaction(b.session):
            events.emit(b.session, b.clock, "credit.created", {"amount_minor": 1})
            raise RuntimeError("the change fails after its event was written")
    assert b.session.scalar(select(func.count()).select_from(WebhookEvent)) == 0
    assert b.session.scalar(select(func.count()).select_from(WebhookDelivery)) == 0
    with write_transaction(b.session):
        events.emit(b.session, b.clock, "credit.created", {"amount_minor": 1})
    assert b.session.scalars(select(WebhookDelivery.status)).all() == [OutboxStatus.PENDING]


def test_i32_a_removed_webhook_endpoint_is_gone_from_the_api_and_gets_no_events(api, b):
    """DELETE means gone (Schemathesis's stateful check): its log and events 404, the
    list leaves it out, a second DELETE finds nothing — while the same Idempotency-Key
    gets the first answer again; the row stays for the provider's records."""
    made = api.post("/webhook-endpoints", {"url": "https://example.com/hooks", "secret": SECRET}).get_json()
    path = f"/webhook-endpoints/{made['id']}"
    first = api.send("DELETE", path, None, key="remove-1")
    assert first.status_code == 200 and first.get_json()["disabled_at"]
    assert api.send("DELETE", path, None, key="remove-1").get_json() == first.get_json()
    assert problem_type(api.send("DELETE", path, None, key="remove-2")) == "not_found"
    assert problem_type(api.get(f"{path}/deliveries")) == "not_found"
    assert made["id"] not in [e["id"] for e in api.get("/webhook-endpoints").get_json()["items"]]
    with write_transaction(b.session):
        events.emit(b.session, b.clock, "credit.created", {"account_id": 1, "amount_minor": 100})
    assert b.session.scalar(select(func.count()).select_from(WebhookDelivery)) == 0
    assert b.session.get(WebhookEndpoint, made["id"]) is not None


def test_i32_a_nul_character_in_a_json_body_is_a_400_problem_never_a_500(api):
    """Schemathesis found it on PostgreSQL, which cannot store NUL in text: refused before
    any view, as NUL in a form or a query already is."""
    refused = api.post("/accounts", {**ACME, "name": "Acme\u0000 AB"})
    assert refused.status_code == 400 and problem_type(refused) == "bad_request"

"""Issue 32: every list of the API takes `updated_since`, meaning "changed at or after":
rows that change carry `updated_at`, stamped from the injected clock by every write —
the ORM's and the set-based UPDATEs of a settlement or a bank file alike
(portal/models/changes.py) — and paging by key stays correct with the filter."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select

from portal.billing import payments
from portal.billing.bank import transfer_batch
from portal.billing.payments import UseSavedCard
from portal.billing.provider import reads
from portal.extensions import db
from portal.models import (BillingAccount, Invoice, InvoiceStatus, Role, RoleAssignment, Subscription,
                           SubscriptionStatus)
from tests import factories as f
from tests.test_setup import empty_app  # noqa: F401  (a fixture: the migrations' own database)
from tests.web.test_i32_api import ACME, OCTOBER, agreement, api, api_tokens  # noqa: F401  (fixtures)

NEXT_DAY = "2026-11-26T00:00:00Z"  # the day after the tests' "today" (FixedClock: noon of its day)


def _ids(answer) -> list[int]:
    assert answer.status_code == 200, answer.get_json()
    return [item["id"] for item in answer.get_json()["items"]]


def test_i32_b20_every_list_of_the_api_takes_updated_since(client):
    document = client.get("/api/v1/openapi.json").get_json()
    lists = {path: operation for path, item in document["paths"].items() for method, operation in item.items()
             if method == "get" and operation["responses"]["200"].get("content", {}).get("application/json", {})
             .get("schema", {}).get("$ref", "").endswith("List")}
    assert len(lists) >= 12  # accounts, profiles, subscriptions, usage, invoices, payments, transfers, …
    without = [path for path, operation in lists.items()
               if "updated_since" not in {p["name"] for p in operation.get("parameters", [])}]
    assert without == []


def test_i32_b20_subscriptions_changed_since_are_paged_by_key(api, clock):
    account = api.post("/accounts", {**ACME, "kind": "pay_as_you_go"}).get_json()["id"]
    made = api.post(f"/accounts/{account}/subscriptions/batch", {"subscriptions": [
        {"name": f"VM {n}", "monthly_fee_minor": 100_00, "started_on": "2026-11-01"} for n in range(5)]})
    ids = [s["id"] for s in made.get_json()["items"]]
    clock.advance(1)
    assert _ids(api.get(f"/accounts/{account}/subscriptions", updated_since=NEXT_DAY)) == []
    for n in (0, 2, 3):
        assert api.send("PATCH", f"/subscriptions/{ids[n]}", {"name": f"Renamed {n}"}).status_code == 200
    seen, after = [], None
    while True:  # a page at a time, one row each: the unchanged rows between are skipped, none twice
        query = {"updated_since": NEXT_DAY, "limit": 1, **({"after": after} if after else {})}
        page = api.get(f"/accounts/{account}/subscriptions", **query).get_json()
        seen += page["items"]
        after = page["next_after"]
        if after is None:
            break
    assert [s["id"] for s in seen] == [ids[0], ids[2], ids[3]]
    assert {s["updated_at"] for s in seen} == {"2026-11-26T11:00:00Z"}  # noon in Stockholm
    assert len(_ids(api.get(f"/accounts/{account}/subscriptions", updated_since="2026-11-25T00:00:00Z"))) == 5
    # At or after: the exact time of the change finds it; a microsecond later does not.
    assert len(_ids(api.get(f"/accounts/{account}/subscriptions", updated_since="2026-11-26T11:00:00Z"))) == 3
    assert _ids(api.get(f"/accounts/{account}/subscriptions", updated_since="2026-11-26T11:00:00.000001Z")) == []


def test_i32_b20_a_settlement_stamps_the_subscriptions_its_set_based_updates_change(b, clock):
    acc = f.account(b)
    failed, second, other = f.card(b, acc, f.INSUFFICIENT_FUNDS), f.card(b, acc), f.card(b, acc)
    admin = f.user(b, Role.ACCOUNT_ADMIN, acc)
    owing = [f.past_due(b, acc, failed, charges=(100_00, 50_00)) for _ in range(3)]
    untouched = f.subscription(b, acc, other)
    f.commit(b)
    clock.advance(1)
    since = datetime(2026, 11, 26)
    assert reads.subscriptions(b, acc.id, None, 100, since).items == []
    payments.settle_balance(b, admin, owing[0].id, UseSavedCard(second.id), 3 * 150_00, "key-i32-since-settle")
    b.session.expire_all()
    changed = reads.subscriptions(b, acc.id, None, 100, since).items
    assert [s.id for s in changed] == [s.id for s in owing]
    assert all(s.status == SubscriptionStatus.ACTIVE and s.updated_at == clock.now() for s in changed)
    assert b.session.get(Subscription, untouched.id).updated_at < since


def test_i32_b20_an_invoice_paid_by_a_bank_file_is_changed_then(api, b, clock):
    _account, _profile, _sub = agreement(api)
    assert api.post("/invoices/issue", OCTOBER).status_code == 200
    clock.advance(1)
    assert _ids(api.get("/invoices", updated_since=NEXT_DAY)) == []
    b.session.rollback()
    invoice = b.session.scalars(select(Invoice)).one()
    invoice.status, invoice.paid_on, invoice.paid_minor = InvoiceStatus.PAID, date(2026, 11, 26), invoice.subtotal_minor
    b.session.expunge(invoice)  # written by the bank file's one UPDATE of many invoices, not by the ORM
    transfer_batch._update_invoices(b, [invoice])
    f.commit(b)
    assert _ids(api.get("/invoices", updated_since=NEXT_DAY)) == [invoice.id]


def test_i32_b20_profiles_roles_invitations_and_accounts_changed_since(api, b, clock):
    account, profile, _sub = agreement(api)
    invited = api.post(f"/accounts/{account}/invitations", {"email": "eva@acme.example", "role": "reader",
                                                            "billing_profile_id": profile}).get_json()["id"]
    b.session.rollback()
    acc = b.session.get(BillingAccount, account)
    person = f.user(b, Role.READER, acc, b.session.get(BillingAccount, account).profiles[0])
    f.commit(b)
    clock.advance(1)
    lists = [f"/accounts/{account}/profiles", f"/accounts/{account}/roles", f"/accounts/{account}/invitations",
             "/accounts"]
    assert [_ids(api.get(path, updated_since=NEXT_DAY)) for path in lists] == [[], [], [], []]
    assert api.send("DELETE", f"/accounts/{account}/invitations/{invited}", None).status_code == 200
    b.session.rollback()
    b.session.get(BillingAccount, account).profiles[0].name = "Sverige AB"
    role = b.session.scalars(select(RoleAssignment).where(RoleAssignment.user_id == person.id)).one()
    role.role = Role.INVOICE_MANAGER
    b.session.get(BillingAccount, account).notification_email = "billing@acme.example"
    f.commit(b)
    assert [_ids(api.get(path, updated_since=NEXT_DAY)) for path in lists] == [[profile], [role.id], [invited],
                                                                                [account]]


def test_i32_b20_the_migration_backfills_updated_at_from_what_each_row_records(empty_app):  # noqa: F811
    from sqlalchemy import MetaData, Table, insert
    app, runner = empty_app, empty_app.test_cli_runner()
    assert runner.invoke(args=["db", "upgrade", "a7c0e1d2b3f4"]).exit_code == 0
    with app.app_context(), db.engine.begin() as conn:
        old = MetaData()
        accounts, subscriptions = (Table(name, old, autoload_with=conn) for name in ("billing_accounts",
                                                                                     "subscriptions"))
        [account] = conn.execute(insert(accounts).returning(accounts.c.id), [dict(
            kind="pay_as_you_go", name="Old", currency="SEK", notification_email="old@example.com",
            created_on=date(2026, 1, 1))]).scalars()
        conn.execute(insert(subscriptions), [
            dict(account_id=account, name="Past due", status="past_due", monthly_fee_minor=100_00,
                 started_on=date(2026, 2, 1), past_due_since=date(2026, 10, 3)),
            dict(account_id=account, name="Running", status="active", monthly_fee_minor=100_00,
                 started_on=date(2026, 3, 1), past_due_since=None)])
    assert runner.invoke(args=["db", "upgrade"]).exit_code == 0
    with app.app_context():
        assert db.session.get(BillingAccount, account).updated_at == datetime(2026, 1, 1)
        assert dict(db.session.execute(select(Subscription.name, Subscription.updated_at)).all()) == {
            "Past due": datetime(2026, 10, 3), "Running": datetime(2026, 3, 1)}

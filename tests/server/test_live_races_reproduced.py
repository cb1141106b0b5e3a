"""Races found and fixed, each reproduced on the real deployment (the matrix of every pair
of flows is test_live_races.py, whose deployment and helpers these share, on a database
of their own): issue 27's two reproductions — subscriptions moved, and a bank file
imported, while a card payment waits at the gateway — and issue 28's worker killed
while it records a large settlement. After each: nothing lost, the ledger agrees."""
from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime

import pytest
from sqlalchemy import func, select, text

from portal.billing.accounts import credit
from portal.billing.invoicing.remittance import ocr_reference
from portal.models import (Charge, ChargeStatus, Invoice, InvoiceStatus, Payment, Subscription,
                           TransferToReview)
from tests.bgmax_files import Paid, bgmax_file
from tests.conftest import TODAY
from tests.server.live import hidden_fields
from tests.server.test_live_faults import _worker_of, assert_ledger_agrees, wait_for_charge
from tests.server.test_live_races import (IN_PROGRESS, LIMIT, Demo, attempt_open, cli, person,
                                        reconciled)


@pytest.fixture(params=["sqlite", "postgresql"])
def live(request, race_deployments):
    """This file's deployment on one database, as freshly seeded."""
    running = race_deployments(request.param)
    running.reset()
    return running

# --- the two reproductions ------------------------------------------------------

def while_paying(live, prepare: Callable[[], tuple[Callable[[], tuple], str]], meanwhile: Callable[[], object],
                 tries: int = 3):
    """`prepare()` reads the pages and gives (pay, its attempt's key); the payment is
    started, and once it waits at the gateway `meanwhile()` runs. (The payment's answer,
    what `meanwhile` gave) — when `meanwhile` ended while the attempt was still open;
    if a busy machine made it end later, the race is run again from the seeded demo."""
    for attempt in range(tries):
        if attempt:
            live.reset()
        pay, key = prepare()
        with ThreadPoolExecutor(1) as pool:
            paying = pool.submit(pay)
            deadline = time.monotonic() + LIMIT
            while not attempt_open(live, key):
                assert not paying.done(), f"the payment ended before it reached the gateway: {paying.result()}"
                assert time.monotonic() < deadline, "the payment never reached the gateway"
                time.sleep(0.01)  # polling the condition above
            done = meanwhile()
            overlapped = attempt_open(live, key)
            paid = paying.result()
        if overlapped:
            return paid, done
    pytest.fail(f"in {tries} tries the second action never ended while the payment waited at the gateway")


def test_i27_moving_subscriptions_while_a_settlement_is_at_the_gateway_loses_nothing(live):
    """Tab A (instance A) settles Anna's past-due balance with her 4242 card — Webbshop –
    produktion and Webbshop – test, on the failed card. While the gateway answers, tab B
    (instance B) moves Webbshop – test to her 4444 card, as its preview showed: refused,
    409 "A payment is in progress", nothing moved. Tab A gets its receipt for both; the
    ledger agrees; afterwards the move and another payment go through."""
    demo = Demo.of(live)
    tab_a, tab_b = person(live, "anna@example.com", live.a), person(live, "anna@example.com", live.b)
    settle = f"/en/accounts/{demo.payg}/subscriptions/{demo.production}/settle"
    move = f"/en/accounts/{demo.payg}/payment-methods/move"

    moving: dict = {}

    def prepare():
        form = hidden_fields(tab_a.get(f"{settle}?method={demo.card_4242}")[2])
        preview = tab_b.get(f"{move}?subscriptions={demo.testing}&to={demo.card_4444}")[2]
        moving.update(hidden_fields(preview, f'<form method="post" action="{move}"'))
        return (lambda: tab_a.post(settle, form)), form["idempotency_key"]
    paid, moved = while_paying(live, prepare, lambda: tab_b.post(move, moving))
    assert moved[0] == 409 and IN_PROGRESS in moved[2] and "Nothing was changed" in moved[2], moved[2][:500]
    assert paid[0] == 303 and "/payments/" in paid[1]["location"], paid[2][:500]
    status, _, receipt = tab_a.get(paid[1]["location"])
    assert status == 200 and "Payment received" in receipt
    assert "Webbshop – produktion" in receipt and "Webbshop – test" in receipt
    with live.session() as s:
        testing = s.get(Subscription, demo.testing)
        assert testing.payment_method_id == demo.card_4242  # R05: the settling card, not the move's
        assert s.scalar(select(func.count()).select_from(Charge).where(
            Charge.subscription_id == demo.testing, Charge.status == ChargeStatus.OUTSTANDING)) == 0
    assert live.crashes() == []
    reconciled(live)
    assert_ledger_agrees(live)
    # Later: the move, shown again, goes through; and Säkerhetskopiering is settled.
    preview = tab_b.get(f"{move}?subscriptions={demo.testing}&to={demo.card_4444}")[2]
    status, headers, _ = tab_b.post(move, hidden_fields(preview, f'<form method="post" action="{move}"'))
    assert status == 303 and "1 subscription now uses" in tab_b.get(headers["location"])[2]
    backup = f"/en/accounts/{demo.payg}/subscriptions/{demo.backup}/settle"
    status, headers, body = tab_b.post(backup, hidden_fields(tab_b.get(f"{backup}?method={demo.card_4444}")[2]))
    assert status == 303 and "/payments/" in headers["location"], body[:500]
    reconciled(live)
    assert_ledger_agrees(live)


def test_i27_a_bank_file_while_a_card_pays_the_same_invoice_loses_nothing(live, tmp_path):
    """David pays Fjällström's oldest open invoice by card (Pay now of that invoice, on
    instance A). While the gateway answers, `flask billing import-bgmax` reads a
    Bankgirot file in which the company pays the same invoice by bankgiro: the transfer
    waits for review ("a card payment of it is at the payment service"), the card payment
    gets its receipt, and nothing answers 404 or 503 afterwards. Assigned to the invoice
    once a person looks, the transfer becomes the profile's credit: nothing is lost."""
    demo = Demo.of(live)
    david = person(live, "david@example.com", live.a)
    pay = f"/en/accounts/{demo.agreement}/profiles/{demo.profile}/pay?invoice={demo.oldest_invoice}"
    bank_file = tmp_path / "bankgirot.bgmax"
    bank_file.write_bytes(bgmax_file([[Paid(ocr_reference(demo.oldest_invoice_number), demo.oldest_invoice_left)]],
                                     paid_on=TODAY))

    def prepare():
        form = hidden_fields(david.get(f"{pay}&method={demo.agreement_card}")[2])
        assert int(form["expected_total"]) == demo.oldest_invoice_left
        return (lambda: david.post(pay, form)), form["idempotency_key"]
    paid, (code, imported) = while_paying(live, prepare, lambda: cli(live, "billing", "import-bgmax", str(bank_file)))
    assert code == 0 and "0 recorded" in imported and "1 to review; 1 a card payment of it is at the payment service" \
        in imported, imported
    assert paid[0] == 303 and "/payments/" in paid[1]["location"], paid[2][:500]
    with live.session() as s:
        [waiting] = s.scalars(select(TransferToReview)).all()
        assert (waiting.reason, waiting.invoice_id, waiting.amount_minor) == (
            "being_paid", demo.oldest_invoice, demo.oldest_invoice_left)
        invoice = s.get(Invoice, demo.oldest_invoice)
        assert invoice.status == InvoiceStatus.PAID and invoice.paid_minor == demo.oldest_invoice_left
    code, listed = cli(live, "billing", "transfers")
    assert code == 0 and "a card payment of it is at the payment service" in listed and "1 transfers wait" in listed
    # Afterwards every page of it answers, for the payer and for the owner.
    olivia = person(live, "olivia@example.com", live.b)
    for who in (david, olivia):
        for page in (paid[1]["location"], f"/en/accounts/{demo.agreement}/invoices",
                     f"/en/accounts/{demo.agreement}/invoices/{demo.oldest_invoice}",
                     f"/en/accounts/{demo.agreement}/payments", f"/en/accounts/{demo.agreement}/"):
            status, _, body = who.get(page)
            assert status == 200, (page, body[:300])
        status, headers, _ = who.get(pay)  # Pay now of the paid invoice: "nothing left to pay"
        assert status == 303 and headers["location"].endswith(f"/accounts/{demo.agreement}/invoices")
    assert live.crashes() == []
    reconciled(live)
    assert_ledger_agrees(live)
    # A person assigns the transfer to its invoice: paid already, so it becomes credit.
    code, out = cli(live, "billing", "transfers", "--assign", str(waiting.id), "--invoice", demo.oldest_invoice_number)
    assert code == 0 and f"Transfer {waiting.id} recorded as payment" in out, out
    code, out = cli(live, "billing", "transfers")
    assert code == 0 and "0 transfers wait" in out, out
    with live.session() as s:
        assert credit.balance(s, demo.agreement, "SEK", demo.profile).minor == demo.oldest_invoice_left
    assert_ledger_agrees(live)


# --- issue 28: a large settlement's worker killed while it records ------------------------

LARGE = 2_000  # past-due subscriptions added to Anna's failed card, two outstanding charges each


def _add_past_due_subscriptions(live, account: int, card: int, count: int) -> None:
    """`count` past-due subscriptions on `card`, two outstanding charges each, set-based
    (a recursive series: both databases), their figures kept as the app keeps them."""
    with live.session() as s:
        s.execute(text(
            "WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < :count) "
            "INSERT INTO subscriptions (account_id, name, status, payment_method_id, monthly_fee_minor, started_on, "
            "past_due_since, outstanding_charges, outstanding_minor, retry_count, updated_at) "
            "SELECT :account, 'Stor ' || n, 'past_due', :card, 10000 + n, :started, :since, 2, 2 * (10000 + n), 0, "
            ":now FROM g"), {"count": count, "account": account, "card": card,
                             "started": TODAY.replace(year=TODAY.year - 1), "since": TODAY,
                             "now": datetime.combine(TODAY, datetime.min.time())})
        for month in (1, 2):
            s.execute(text(
                "INSERT INTO charges (subscription_id, amount_minor, currency, period_start, period_end, status) "
                "SELECT id, monthly_fee_minor, 'SEK', :start, :end, 'outstanding' FROM subscriptions "
                "WHERE account_id = :account AND name LIKE 'Stor %'"),
                {"account": account, "start": TODAY.replace(year=TODAY.year - 1, month=month, day=1),
                 "end": TODAY.replace(year=TODAY.year - 1, month=month, day=28)})
        s.commit()


@contextmanager
def _account_held(live, account: int):
    """The account's write lock, held by this test (as a payment holds it): SQLite's
    BEGIN IMMEDIATE, PostgreSQL's row lock. Released on leaving."""
    raw = live.engine.raw_connection()
    try:
        cursor = raw.cursor()
        if live.engine.dialect.name == "sqlite":
            raw.driver_connection.isolation_level = None
            cursor.execute("BEGIN IMMEDIATE")
        else:
            cursor.execute("SELECT id FROM billing_accounts WHERE id = %s FOR UPDATE", (account,))
        yield
    finally:
        raw.driver_connection.rollback() if live.engine.dialect.name != "sqlite" else cursor.execute("ROLLBACK")
        raw.close()


def test_i28_a_worker_killed_while_recording_a_large_settlement_loses_nothing(live):
    """Anna's failed card pays for 2,000 more past-due subscriptions (4,000 charges).
    She settles with her 4242 card on a one-worker instance; the gateway approves, and
    while the worker waits to record (the account held, as by another payment), it is
    killed (SIGKILL). The attempt is left written ahead; `flask payments reconcile`
    finishes it under its key: one charge at the gateway, one payment, every charge
    paid once by it, every subscription active on the 4242 card — and the ledger agrees
    (approved charges = recorded payments + credit)."""
    demo = Demo.of(live)
    _add_past_due_subscriptions(live, demo.payg, demo.card_9995, LARGE)
    [k] = live.deploy.start("K", workers=1, threads=1)
    anna = person(live, "anna@example.com", k)
    url = f"/en/accounts/{demo.payg}/subscriptions/{demo.production}/settle"
    form = hidden_fields(anna.get(f"{url}?method={demo.card_4242}")[2])
    key = form["idempotency_key"]
    approved, recorded = live.gateway.count_approved(), live.payments()
    with ThreadPoolExecutor(1) as pool:
        request = pool.submit(anna.post, url, form)
        deadline = time.monotonic() + LIMIT
        while not attempt_open(live, key):  # written ahead: the worker is on its way to the gateway
            assert not request.done(), f"the payment ended before it reached the gateway: {request.result()}"
            assert time.monotonic() < deadline, "the payment never reached the gateway"
            time.sleep(0.01)  # polling the condition above
        with _account_held(live, demo.payg):
            wait_for_charge(live, key)  # approved at the gateway; recording waits for the account …
            time.sleep(0.5)
            assert not request.done()
            os.kill(_worker_of(k.process.pid), signal.SIGKILL)  # … and the worker dies there
            with pytest.raises(OSError):
                request.result()
    assert live.gateway.count_approved() == approved + 1 and live.payments() == recorded
    assert attempt_open(live, key)
    code, out = cli(live, "payments", "reconcile", "--older-than", "0")
    assert code == 0 and out.startswith("1 unfinished payments recorded"), out
    assert live.gateway.count_approved() == approved + 1 and live.payments() == recorded + 1
    with live.session() as s:
        [payment_id] = s.scalars(select(Payment.id).where(Payment.idempotency_key == key)).all()
        large = select(Subscription.id).where(Subscription.account_id == demo.payg, Subscription.name.like("Stor %"))
        charges = s.execute(select(Charge.status, Charge.payment_id, func.count()).where(
            Charge.subscription_id.in_(large)).group_by(Charge.status, Charge.payment_id)).all()
        assert charges == [(ChargeStatus.PAID, payment_id, 2 * LARGE)], charges
        subs = s.execute(select(Subscription.status, Subscription.payment_method_id, Subscription.outstanding_charges,
                                func.count()).where(Subscription.id.in_(large))
                         .group_by(Subscription.status, Subscription.payment_method_id,
                                   Subscription.outstanding_charges)).all()
        assert subs == [("active", demo.card_4242, 0, LARGE)], subs
    reconciled(live)
    assert_ledger_agrees(live)
    assert live.crashes() == []

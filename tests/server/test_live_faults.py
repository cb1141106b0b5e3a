"""Money under faults, against the real deployment (M5, M6): two gunicorn instances on
one database and one gateway ledger, 300 ms gateway latency, SQLite and PostgreSQL.

The three faults an outside test found charging twice or leaving no trace: a charge
that times out in one tab while another tab pays; an answer lost, then five tabs
50 ms later; a worker killed after the gateway charged. Each ends with the ledger
invariant: for every account, the approved gateway charges equal the recorded
payments, and no attempt stays unfinished."""
from __future__ import annotations

import os
import signal
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import func, select

from portal.models import (Charge, CreditEntry, CreditKind, InvoicePayment, Payment, PaymentPurpose,
                           UnconfirmedPayment)
from tests.server.live import Client, csrf_from, hidden_fields

TIMEOUT_CARD, LOST_ANSWER_CARD = "4000 0000 0000 0507", "4000 0000 0000 0515"




def new_card(number: str, holder: str) -> dict:
    return {"card_number": number, "exp_month": "12", "exp_year": "2031", "cvc": "123", "holder": holder}


def wait_for_charge(live, idempotency_key: str, limit: float = 60.0) -> None:
    """Until the gateway's ledger has the charge of this key (polled; a busy machine
    only makes it take longer)."""
    deadline = time.monotonic() + limit
    while not live.gateway.charges_for(idempotency_key):
        assert time.monotonic() < deadline, "the charge never reached the gateway"
        time.sleep(0.02)

BY_BANK = (PaymentPurpose.TRANSFER, PaymentPurpose.AUTOGIRO)


def assert_ledger_agrees(live) -> None:
    """M6: per account, approved gateway charges = recorded card payments, and the
    gateway's refunds = the card refunds recorded; nothing open. (The demo's history of
    paid invoices has no charge behind it and is left out; so is money that came by
    bank — a transfer, or drawn by Autogiro (B23) — which no gateway saw.) And B15, issue 27: every payment's money is placed —
    on the charges and invoices it paid, or in the credit balance (what was applied
    from there is on a charge or invoice, what was refunded has left)."""
    with live.session() as s:
        payments = {p.idempotency_key: p for p in s.scalars(select(Payment))}
        still_open = list(s.scalars(select(UnconfirmedPayment.idempotency_key)))
        placed = defaultdict(int)
        for account_id, minor in s.execute(
                select(Payment.account_id, func.sum(Charge.amount_minor)).join(Charge, Charge.payment_id == Payment.id)
                .group_by(Payment.account_id)):
            placed[account_id] += minor
        for account_id, minor in s.execute(
                select(Payment.account_id, func.sum(InvoicePayment.amount_minor))
                .join(InvoicePayment, InvoicePayment.payment_id == Payment.id).group_by(Payment.account_id)):
            placed[account_id] += minor
        for account_id, minor in s.execute(
                select(CreditEntry.account_id, func.sum(CreditEntry.amount_minor))
                .where(CreditEntry.kind != CreditKind.REFUNDED).group_by(CreditEntry.account_id)):
            placed[account_id] += minor
        refunded_by_card = defaultdict(int)
        for entry in s.scalars(select(CreditEntry).where(CreditEntry.kind == CreditKind.REFUNDED,
                                                         CreditEntry.refund_reference.is_not(None))):
            refunded_by_card[entry.account_id] -= entry.amount_minor
    approved = [e for e in live.gateway.ledger() if e.approved]
    assert still_open == [], f"attempts left unfinished: {still_open}"
    assert [e.idempotency_key for e in approved if e.idempotency_key not in payments] == []
    charged, recorded = defaultdict(int), defaultdict(int)
    for entry in approved:
        charged[payments[entry.idempotency_key].account_id] += entry.amount.minor
    keys = {e.idempotency_key for e in approved}
    for key, payment in payments.items():
        if key in keys or not (key.startswith("demo-") or payment.purpose in BY_BANK):
            recorded[payment.account_id] += payment.amount_minor
    assert dict(charged) == dict(recorded)
    by_reference = {p.gateway_reference: p for p in payments.values()}
    refunded = defaultdict(int)
    for reference, amount in live.gateway.refunds():
        refunded[by_reference[reference].account_id] += amount.minor
    assert dict(refunded) == dict(refunded_by_card)
    paid = defaultdict(int)
    for payment in payments.values():
        paid[payment.account_id] += payment.amount_minor
    assert dict(placed) == dict(paid), "money of a payment that is on no charge, invoice or credit balance"


def test_m5_a_timeout_in_one_tab_and_a_saved_card_in_another_charge_once(live):
    """Tab 1 pays with a card whose charge times out; a second later tab 2, on the
    other instance, pays the same balance with a saved card. Tab 2 finishes tab 1's
    attempt first (under its key: no second charge) and is told nothing is left to
    pay; tab 1, when its wait ends, gets the receipt."""
    ids = live.ids()
    anna = Client(live.a)
    anna.sign_in("anna@example.com")
    url = f"/sv/accounts/{ids['payg']}/subscriptions/{ids['subs']['Webbshop – produktion']}/settle"
    tab1 = hidden_fields(anna.get(f"{url}?method=new")[2]) | new_card(TIMEOUT_CARD, "Anna Lindqvist")
    tab2 = hidden_fields(anna.get(f"{url}?method={ids['cards']['4242']}")[2])
    approved, payments = live.gateway.count_approved(), live.payments()
    with ThreadPoolExecutor(1) as pool:
        first = pool.submit(Client(live.a, anna.cookies).post, url, tab1)
        wait_for_charge(live, tab1["idempotency_key"])  # tab 1 is now waiting at the gateway
        other_tab = Client(live.b, anna.cookies)
        second = other_tab.post(url, tab2)
        first = first.result()
    assert second[0] == 303 and second[1]["location"].endswith(f"/sv/accounts/{ids['payg']}/"), second[2][:300]
    assert "Det finns inget kvar att betala" in other_tab.get(second[1]["location"])[2]
    assert first[0] == 303 and "/payments/" in first[1]["location"], first[2][:300]
    assert live.gateway.count_approved() == approved + 1 and live.payments() == payments + 1
    assert_ledger_agrees(live)


def test_m5_a_lost_answer_then_five_tabs_50_ms_later_charge_once(live):
    """Pay now: the contributor's new card loses its answer; 50 ms later five tabs
    (three people, both instances, saved card, each its own form) pay the same
    invoices. One charge in all; each tab is told the truth (paid, nothing left, or a
    payment being confirmed); "Check the payment" then leaves nothing open."""
    ids = live.ids()
    url = f"/en/accounts/{ids['agreement']}/profiles/{ids['profile']}/pay"
    people = {}
    for email in ("david@example.com", "olivia@example.com", "ines@example.com"):
        people[email] = Client(live.a)
        people[email].sign_in(email, lang="en")
    lost = hidden_fields(people["david@example.com"].get(f"{url}?method=new")[2]) | new_card(LOST_ANSWER_CARD,
                                                                                           "David Nilsson")
    tabs = [(people[email], hidden_fields(people[email].get(f"{url}?method={ids['agreement_card']}")[2]))
            for email in ("olivia@example.com", "ines@example.com", "david@example.com",
                          "olivia@example.com", "ines@example.com")]
    approved, payments = live.gateway.count_approved(), live.payments()
    with ThreadPoolExecutor(6) as pool:
        first = pool.submit(Client(live.a, people["david@example.com"].cookies).post, url, lost)
        wait_for_charge(live, lost["idempotency_key"])  # charged; its answer is being lost
        others = [pool.submit(Client(live.b if i % 2 else live.a, person.cookies).post, url, form)
                  for i, (person, form) in enumerate(tabs)]
        answers = [first.result()] + [o.result() for o in others]
    assert {status for status, *_ in answers} <= {303, 503}, [a[2][:200] for a in answers]
    for status, headers, body in answers:
        if status == 503:
            assert "We could not confirm the payment" in body and "Check the payment" in body
        else:
            assert "/payments/" in headers["location"] or \
                headers["location"].endswith(f"/accounts/{ids['agreement']}/invoices")  # "nothing left to pay"
    assert live.gateway.count_approved() == approved + 1
    check = Client(live.b, people["olivia@example.com"].cookies)
    page = check.get(f"/en/accounts/{ids['agreement']}/")[2]
    status, _, _ = check.post(f"/en/accounts/{ids['agreement']}/payments/check", {"csrf_token": csrf_from(page)})
    assert status == 303
    assert live.gateway.count_approved() == approved + 1 and live.payments() == payments + 1
    assert_ledger_agrees(live)


def _worker_of(master_pid: int) -> int:
    children = Path(f"/proc/{master_pid}/task/{master_pid}/children").read_text().split()
    assert len(children) == 1, children
    return int(children[0])


def test_m5_a_worker_killed_after_the_charge_is_recorded_by_reconcile(live):
    """A one-worker instance is killed (SIGKILL) after the gateway charged and before
    anything was committed: the written-ahead attempt is still there, and `flask
    payments reconcile` records the payment under its key, without a second charge."""
    ids = live.ids()
    [k] = live.deploy.start("K", workers=1, threads=2)
    anna = Client(k)
    anna.sign_in("anna@example.com")
    url = f"/sv/accounts/{ids['payg']}/subscriptions/{ids['subs']['Säkerhetskopiering']}/settle"
    form = hidden_fields(anna.get(f"{url}?method=new")[2]) | new_card(TIMEOUT_CARD, "Anna Lindqvist")
    approved, payments = live.gateway.count_approved(), live.payments()
    with ThreadPoolExecutor(1) as pool:
        request = pool.submit(anna.post, url, form)
        wait_for_charge(live, form["idempotency_key"])  # the gateway has charged …
        os.kill(_worker_of(k.process.pid), signal.SIGKILL)  # … and the worker dies before answering
        with pytest.raises(OSError):
            request.result()
    assert live.gateway.count_approved() == approved + 1 and live.payments() == payments
    with live.session() as s:
        [attempt] = s.scalars(select(UnconfirmedPayment)).all()
        assert attempt.idempotency_key == form["idempotency_key"] and attempt.state == "pending"
    out = live.deploy.flask("payments", "reconcile", "--older-than", "0")
    assert out.startswith("1 unfinished payments recorded, 0 declined, 0 still waiting"), out
    assert live.gateway.count_approved() == approved + 1 and live.payments() == payments + 1
    assert_ledger_agrees(live)
    assert live.deploy.flask("payments", "reconcile").startswith("0 unfinished payments recorded")

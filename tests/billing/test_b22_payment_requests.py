"""B22: one OCR number for a chosen set of open invoices (issue 33 item 5) — the request
is made by whoever may pay them, replaces the profile's last one, and a BgMax transfer
with its reference pays exactly those invoices, the oldest due first; a closed or changed
request, or an invoice a card is paying, waits for a person. On SQLite and PostgreSQL."""
from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st
from sqlalchemy import select

from portal.billing import payments
from portal.billing.accounts import credit
from portal.billing.bank import transfers
from portal.billing.invoicing import payment_requests
from portal.billing.invoicing.payment_requests import TooFewInvoices
from portal.billing.invoicing.remittance import (account_reference, ocr_reference, ocr_target, request_reference)
from portal.billing.payments import UseSavedCard
from portal.errors import NotAuthorized, NotFound
from portal.models import (AuditEvent, Invoice, InvoiceStatus, OutboxMessage, Payment, PaymentRequest, Role,
                           TransferToReview)
from tests import factories as f
from tests.bgmax_files import OUR_BANKGIRO, Paid, bgmax_file
from tests.billing.test_money_across_flows import holding, other  # noqa: F401 - a card payment held at the gateway
from tests.billing.test_transfers import count, importing, invoice, wire  # noqa: F401 - the Bankgirot scene


@pytest.fixture
def three(b, wire):
    """The wire scene with a third open invoice, due first of all."""
    wire.third = invoice(b, wire.profile, 500_00, month=8)
    wire.third.due_on = wire.first.due_on.replace(day=1, month=11)
    f.commit(b)
    return wire


def fresh(b, model, id_):
    b.session.rollback()
    return b.session.get(model, id_)


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 10**9), st.integers(1, 10**10), st.integers(10_001, 10**15))
def test_b22_a_requests_reference_never_names_an_invoice_or_an_account(request_id, account_id, number):
    assert ocr_target(request_reference(request_id)) == ("request", request_id)
    assert ocr_target(account_reference(account_id)) == ("account", account_id)
    assert ocr_target(ocr_reference(str(number))) == ("invoice", str(number))
    assert request_reference(request_id) not in {account_reference(account_id), ocr_reference(str(number))}


def test_b22_one_transfer_with_the_requests_ocr_pays_exactly_its_two_invoices(b, three):
    request = payment_requests.create(b, three.owner, three.profile.id, [three.first.id, three.second.id])
    reference = request_reference(request.id)
    assert request.amount_minor == 9_640_00
    summary = importing(b, bgmax_file([[Paid(reference, 9_640_00)]]))
    assert (summary.recorded, summary.to_review) == (1, 0)
    b.session.rollback()
    first, second, third = (b.session.get(Invoice, i.id) for i in (three.first, three.second, three.third))
    assert first.status == second.status == InvoiceStatus.PAID and first.payment_id == second.payment_id
    assert third.status == InvoiceStatus.DUE and third.paid_minor == 0  # not in the request: untouched
    paid = b.session.get(PaymentRequest, request.id)
    assert (paid.closed_reason, paid.payment_id) == ("paid", first.payment_id)
    view = payment_requests.request_of(b, three.owner, three.acc.id, request.id)
    assert view.state == payment_requests.PAID
    receipt = b.session.scalars(select(OutboxMessage).where(OutboxMessage.template == "receipt")).one()
    assert sorted(receipt.payload["invoices"]) == sorted([three.first.number, three.second.number])
    assert receipt.payload["payment_request_id"] == request.id
    # The same file line again records nothing new; the same reference in a new payment waits.
    assert importing(b, bgmax_file([[Paid(reference, 9_640_00)]])).duplicates == 1
    assert importing(b, bgmax_file([[Paid(reference, 9_640_00, name="Again")]],
                                   paid_on=three.first.due_on)).reasons == {"request_paid": 1}


def test_b22_b12_b15_a_short_payment_pays_the_oldest_due_first_and_more_becomes_credit(b, three):
    request = payment_requests.create(b, three.owner, three.profile.id,
                                      [three.first.id, three.second.id, three.third.id])
    importing(b, bgmax_file([[Paid(request_reference(request.id), 1_000_00)]]))
    third, first = fresh(b, Invoice, three.third.id), b.session.get(Invoice, three.first.id)
    assert (third.status, first.paid_minor) == (InvoiceStatus.PAID, 500_00)  # due 1 Nov first, then 1 Dec
    # A new request for what is left, paid with more than it asks: the rest is credit.
    again = payment_requests.create(b, three.owner, three.profile.id, [three.first.id, three.second.id])
    assert again.amount_minor == 8_140_00 + 1_000_00
    importing(b, bgmax_file([[Paid(request_reference(again.id), 9_200_00, name="Surplus")]],
                            paid_on=three.first.due_on))  # another day: another payment
    b.session.rollback()
    assert all(b.session.get(Invoice, i.id).status == InvoiceStatus.PAID for i in (three.first, three.second))
    assert credit.balance(b.session, three.acc.id, "SEK").minor == 60_00


def test_b22_a_new_request_replaces_the_last_and_money_for_the_old_waits_for_a_person(b, three):
    old = payment_requests.create(b, three.owner, three.profile.id, [three.first.id, three.second.id])
    new = payment_requests.create(b, three.owner, three.profile.id, [three.second.id, three.third.id])
    assert payment_requests.request_of(b, three.owner, three.acc.id, old.id).state == payment_requests.REPLACED
    assert payment_requests.current(b, three.profile.id).request.id == new.id
    summary = importing(b, bgmax_file([[Paid(request_reference(old.id), 9_640_00)]]))
    assert summary.reasons == {"request_replaced": 1} and count(b, Payment) == 0
    [waiting] = transfers.waiting_for_review(b)
    assert waiting.reason == "request_replaced" and "replaced" in transfers.REASONS[waiting.reason]
    audit = b.session.scalars(select(AuditEvent).where(AuditEvent.action == "payment_request.created")).all()
    assert [e.details["replaced"] for e in audit] == [[], [old.id]]


def test_b22_an_invoice_paid_otherwise_changes_the_request_and_its_money_waits(b, three):
    request = payment_requests.create(b, three.owner, three.profile.id, [three.first.id, three.second.id])
    importing(b, bgmax_file([[Paid(ocr_reference(three.second.number), 400_00)]]))  # by its own OCR, in part
    view = payment_requests.request_of(b, three.owner, three.acc.id, request.id)
    assert (view.state, view.changed.id) == (payment_requests.CHANGED, three.second.id)
    assert payment_requests.open_for_profiles(b, [three.profile.id]) == []  # not printed on the statement
    summary = importing(b, bgmax_file([[Paid(request_reference(request.id), 9_640_00, name="Late")]],
                                      paid_on=three.first.due_on))
    assert summary.reasons == {"request_changed": 1}
    assert fresh(b, Invoice, three.first.id).paid_minor == 0


def test_b22_a_card_paying_one_of_its_invoices_sends_the_transfer_to_a_person(b, three, holding):  # noqa: F811
    gateway, held = holding
    card = f.card(b, three.acc)
    f.commit(b)
    request = payment_requests.create(b, three.owner, three.profile.id, [three.first.id, three.second.id])
    summaries = []

    def bank_file():
        with other(b) as importer:
            content = bgmax_file([[Paid(request_reference(request.id), 9_640_00)]])
            summaries.append(transfers.import_bgmax(importer, lambda: content.splitlines(keepends=True),
                                                    OUR_BANKGIRO))
    gateway.during = bank_file
    payments.pay_invoices(held, three.owner, three.profile.id, [three.second.id], UseSavedCard(card.id),
                          1_000_00, "b22-pay-000001")
    assert summaries[0].reasons == {"being_paid": 1}
    assert fresh(b, Invoice, three.first.id).paid_minor == 0  # nothing of the transfer recorded
    assert count(b, TransferToReview) == 1


def test_b22_r19_only_who_may_pay_asks_and_only_for_two_or_more_open_invoices_of_the_profile(b, three):
    reader = f.user(b, Role.READER, three.acc, three.profile)
    stranger = f.user(b)
    f.commit(b)
    with pytest.raises(NotAuthorized):
        payment_requests.create(b, reader, three.profile.id, [three.first.id, three.second.id])
    with pytest.raises(NotFound):
        payment_requests.create(b, stranger, three.profile.id, [three.first.id, three.second.id])
    with pytest.raises(TooFewInvoices):
        payment_requests.create(b, three.owner, three.profile.id, [three.first.id])
    importing(b, bgmax_file([[Paid(ocr_reference(three.third.number), 500_00)]]))
    with pytest.raises(NotFound):  # paid: no longer open
        payment_requests.create(b, three.owner, three.profile.id, [three.first.id, three.third.id])
    assert count(b, PaymentRequest) == 0
    with pytest.raises(NotFound):
        payment_requests.request_of(b, stranger, three.acc.id, 1)


def test_b22_the_invoice_email_carries_the_open_requests_ocr_and_total(app, b, three):
    from flask_babel import force_locale
    from portal.billing.cycle import invoices as cycle_invoices
    from portal.mail.content import Payload
    from portal.mail.messages import invoice_ready
    assert cycle_invoices._request_of(b, three.profile.id) == {}
    request = payment_requests.create(b, three.owner, three.profile.id, [three.first.id, three.second.id])
    carried = cycle_invoices._request_of(b, three.profile.id)
    assert carried == {"request_reference": request_reference(request.id), "request_minor": 9_640_00,
                       "request_invoices": [three.first.number, three.second.number]}
    raw = {"number": three.third.number, "amount_minor": 500_00, "currency": "SEK", "due_on": "2026-12-31",
           **carried}
    with app.test_request_context(), force_locale("sv"):
        text = " ".join(invoice_ready(Payload(raw, "a@example.com"), "Contoso Cloud AB").paragraphs)
    assert f"anger OCR-nummer {request_reference(request.id)}" in text and "9 640,00 kr" in text.replace("\xa0", " ")
    importing(b, bgmax_file([[Paid(ocr_reference(three.first.number), 1_00)]]))  # paid otherwise, in part
    assert cycle_invoices._request_of(b, three.profile.id) == {}  # a changed request is not offered


def test_b22_two_tabs_asking_at_once_leave_one_valid_request(app, b, three):
    import threading
    barrier, made, failed = threading.Barrier(2), [], []

    def tab(invoice_ids):
        with app.app_context(), other(b) as mine:
            barrier.wait(10)
            try:
                made.append(payment_requests.create(mine, three.owner, three.profile.id, invoice_ids).id)
            except Exception as error:  # noqa: BLE001 - reported below
                failed.append(error)
    tabs = [threading.Thread(target=tab, args=(ids,)) for ids in
            ([three.first.id, three.second.id], [three.second.id, three.third.id])]
    for t in tabs:
        t.start()
    for t in tabs:
        t.join(60)
    assert failed == [] and len(made) == 2
    b.session.rollback()
    still = b.session.scalars(select(PaymentRequest.id).where(PaymentRequest.closed_at.is_(None))).all()
    assert still == [max(made)]  # the later one; the first replaced under the account's lock

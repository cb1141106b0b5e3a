"""Money across flows (issue 27, B15): a payment records exactly what it wrote ahead;
every other writer respects an open attempt (or is refused: PaymentInProgress); money
that arrives for something already paid becomes the account's credit, is applied to
what is owed next, and can be refunded. Each test holds a charge at the gateway
(`Holding`) and runs the other writer, in its own session, in that window."""
from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Collection
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.billing import payments
from portal.billing.accounts import credit
from portal.billing.payments import methods
from portal.billing.bank import transfers
from portal.billing.cycle import lifecycle
from portal.billing.context import Billing
from portal.billing.gateway import RefundRefused
from portal.billing.payments import UseSavedCard
from portal.billing.invoicing.remittance import ocr_reference
from portal.billing.payments.sandbox import Fault, SandboxGateway
from portal.billing.transaction import write_transaction
from portal.errors import GatewayUnavailable, PaymentInProgress
from portal.models import (AttemptAllocation, AttemptState, AuditEvent, Charge, ChargeStatus, CreditEntry,
                           CreditKind, Invoice, InvoicePayment, InvoiceStatus, OutboxMessage, Payment,
                           PaymentPurpose, PaymentSubscription, Subscription, UnconfirmedPayment)
from tests import factories as f
from tests.bgmax_files import OUR_BANKGIRO, Paid, bgmax_file
from tests.billing.test_payment_faults import faulty  # noqa: F401 - the sandbox told to fail, as a fixture
from tests.billing.test_settle import scene  # noqa: F401 - the settle scene, as a fixture
from tests.billing.test_transfers import wire  # noqa: F401 - the Bankgirot scene, as a fixture

SETTLE_TOTAL = 1_750_00  # the scene's failed card: 1 000 + 500 + 250


@dataclasses.dataclass
class Holding:
    """The sandbox, with a window: `during` runs once when a charge has been decided
    (in the ledger) and before its answer comes back — another tab, person or job
    acting while the payment is at the gateway. `before=True`: before it is decided."""
    inner: SandboxGateway
    during: object = None
    before: bool = False

    def charge(self, token, amount, idempotency_key, off_session=False):
        if self.before:
            self._run()
        result = self.inner.charge(token, amount, idempotency_key, off_session=off_session)
        self._run()
        return result

    def _run(self):
        run, self.during = self.during, None
        if run is not None:
            run()

    def __getattr__(self, name):
        return getattr(self.inner, name)


@pytest.fixture
def holding(b):
    gateway = Holding(b.gateway)
    return gateway, dataclasses.replace(b, gateway=gateway)


@contextlib.contextmanager
def other(b, gateway=None):
    """Another request: its own session (connection), the same gateway's ledger."""
    with Session(b.session.get_bind()) as session:
        yield Billing(session, gateway or b.gateway, b.clock, b.policy)


def charged_minus_refunded(b) -> dict[int, int]:
    """What the gateway holds of each account's money: approved charges less refunds."""
    b.session.rollback()
    account_of_key, account_of_reference = {}, {}
    for key, reference, account_id in b.session.execute(
            select(Payment.idempotency_key, Payment.gateway_reference, Payment.account_id)):
        account_of_key[key], account_of_reference[reference] = account_id, account_id
    held: dict[int, int] = {}
    for entry in b.gateway.ledger():
        if entry.approved and entry.idempotency_key in account_of_key:
            account_id = account_of_key[entry.idempotency_key]
            held[account_id] = held.get(account_id, 0) + entry.amount.minor
    for reference, amount in b.gateway.refunds():
        if reference in account_of_reference:
            account_id = account_of_reference[reference]
            held[account_id] = held.get(account_id, 0) - amount.minor
    return held


def assert_money_adds_up(b, *account_ids: int, awaiting: Collection[str] = ()) -> None:
    """The invariant of issue 27 for these accounts: every card payment is an approved
    charge; each payment's money is in its charges, its invoices and its credit; the
    credit balance is never negative; no attempt is left open — but those `awaiting`
    (keys) their cardholder's return from the bank (B13), which are open and waiting."""
    b.session.rollback()
    card_paid = dict(b.session.execute(select(Payment.account_id, func.sum(Payment.amount_minor)).where(
        Payment.account_id.in_(account_ids), Payment.purpose != PaymentPurpose.TRANSFER)
        .group_by(Payment.account_id)).all())
    refunded_to_cards = dict(b.session.execute(select(CreditEntry.account_id, -func.sum(CreditEntry.amount_minor))
                                               .where(CreditEntry.account_id.in_(account_ids),
                                                      CreditEntry.reason == "card")
                                               .group_by(CreditEntry.account_id)).all())
    held = charged_minus_refunded(b)
    for account_id in account_ids:
        assert held.get(account_id, 0) == card_paid.get(account_id, 0) - refunded_to_cards.get(account_id, 0), \
            account_id
    mine = select(Payment.id).where(Payment.account_id.in_(account_ids))
    # A charge paid from credit names one payment (the last whose credit it took, as an
    # invoice paid in parts names the last part); what each payment's credit gave it is
    # in the credit ledger (its `applied` rows), so those charges count from there.
    from_credit = select(CreditEntry.charge_id).where(CreditEntry.charge_id.is_not(None))
    by_charges = dict(b.session.execute(select(Charge.payment_id, func.sum(Charge.amount_minor))
                                        .where(Charge.payment_id.in_(mine), Charge.id.not_in(from_credit))
                                        .group_by(Charge.payment_id)).all())
    # Issue 28: each charge paid is found from its payment (PaymentSubscription), whoever paid it.
    unlinked = select(PaymentSubscription.payment_id).where(PaymentSubscription.payment_id == Charge.payment_id,
                                                            PaymentSubscription.subscription_id == Charge.subscription_id)
    assert b.session.scalar(select(func.count()).select_from(Charge).where(
        Charge.payment_id.in_(mine), ~unlinked.exists())) == 0
    by_invoices = dict(b.session.execute(select(InvoicePayment.payment_id, func.sum(InvoicePayment.amount_minor))
                                         .where(InvoicePayment.payment_id.in_(mine))
                                         .group_by(InvoicePayment.payment_id)).all())
    ledger, to_charges = {}, {}  # payment id → {kind: signed sum of its entries}; → credit it gave to charges
    for payment_id, kind, to_a_charge, minor in b.session.execute(
            select(CreditEntry.payment_id, CreditEntry.kind, CreditEntry.charge_id.is_not(None),
                   func.sum(CreditEntry.amount_minor))
            .where(CreditEntry.payment_id.in_(mine))
            .group_by(CreditEntry.payment_id, CreditEntry.kind, CreditEntry.charge_id.is_not(None))):
        entries = ledger.setdefault(payment_id, {})
        entries[kind] = entries.get(kind, 0) + minor
        if to_a_charge:
            to_charges[payment_id] = to_charges.get(payment_id, 0) - minor
    for payment_id, amount_minor in b.session.execute(select(Payment.id, Payment.amount_minor)
                                                      .where(Payment.account_id.in_(account_ids))):
        charges = by_charges.get(payment_id, 0) + to_charges.get(payment_id, 0)
        invoices = by_invoices.get(payment_id, 0)
        entries = ledger.get(payment_id, {})
        applied, refunded = -entries.get(CreditKind.APPLIED, 0), -entries.get(CreditKind.REFUNDED, 0)
        left = sum(entries.values())
        assert left >= 0, payment_id
        # what it paid directly + what its credit paid later = its money − its credit left − refunded
        assert charges + invoices == amount_minor - left - refunded, payment_id
        assert applied <= amount_minor
    received = dict(b.session.execute(select(InvoicePayment.invoice_id, func.sum(InvoicePayment.amount_minor))
                                      .group_by(InvoicePayment.invoice_id)).all())
    for invoice_id, paid_minor, due_minor in b.session.execute(
            select(Invoice.id, Invoice.paid_minor, Invoice.subtotal_minor - Invoice.credits_applied_minor)):
        assert received.get(invoice_id, 0) == paid_minor <= due_minor, invoice_id
    open_attempts = dict(b.session.execute(select(UnconfirmedPayment.idempotency_key, UnconfirmedPayment.state)).all())
    assert open_attempts == dict.fromkeys(awaiting, AttemptState.AWAITING_ACTION)
    assert b.session.scalar(select(func.count()).select_from(AttemptAllocation).where(
        AttemptAllocation.attempt_id.not_in(select(UnconfirmedPayment.id)))) == 0


# --- 1. A payment records exactly what it wrote ahead ---------------------------------------

def test_i27_moving_a_subscription_while_its_settlement_is_at_the_gateway_is_refused_and_nothing_is_lost(
        b, scene, holding):
    """The first reproduction: tab B moves a subscription the settlement pays, while tab A
    is at the gateway. The move waits (409); the settlement records every charge it priced."""
    gateway, held = holding
    refused = []

    def move():
        with other(b) as tab_b:
            preview = methods.preview_move(tab_b, scene.admin, scene.acc.id, [scene.shop.id], scene.calm.payment_method_id)
            try:
                methods.move_subscriptions(tab_b, scene.admin, scene.acc.id, [scene.shop.id],
                                           scene.calm.payment_method_id, preview.outstanding.minor)
            except PaymentInProgress as in_progress:
                refused.append(in_progress)
    gateway.during = move
    payment = payments.settle_balance(held, scene.admin, scene.web.id, UseSavedCard(scene.second.id),
                                      SETTLE_TOTAL + 75_00, "i27-settle-0001")
    assert len(refused) == 1 and refused[0].account_id == scene.acc.id
    b.session.rollback()
    assert payment.amount_minor == SETTLE_TOTAL + 75_00
    assert b.session.scalar(select(func.sum(Charge.amount_minor)).where(Charge.payment_id == payment.id)) \
        == SETTLE_TOTAL + 75_00
    assert credit.balance(b.session, scene.acc.id, "SEK").minor == 0
    methods.move_subscriptions(b, scene.admin, scene.acc.id, [scene.shop.id], scene.calm.payment_method_id, 0)
    assert_money_adds_up(b, scene.acc.id)


def test_m8_a_writer_that_ignores_the_attempt_cannot_change_what_it_records(b, scene, holding):
    """Even a writer that does not ask (here: the subscription moved by hand in SQL) does
    not change what the settlement records: the charges written ahead, set-based, and
    R05's switch from the failed card as it was priced."""
    gateway, held = holding

    def move_by_hand():
        with other(b) as tab_b, write_transaction(tab_b.session):
            tab_b.session.get(Subscription, scene.shop.id).payment_method_id = scene.calm.payment_method_id
    gateway.during = move_by_hand
    payment = payments.settle_balance(held, scene.admin, scene.web.id, UseSavedCard(scene.spare.id),
                                      SETTLE_TOTAL, "i27-settle-0002")
    b.session.rollback()
    paid = set(b.session.scalars(select(Charge.subscription_id).where(Charge.payment_id == payment.id)))
    assert paid == {scene.web.id, scene.shop.id}  # the shop's charge too: it was priced
    assert b.session.get(Subscription, scene.web.id).payment_method_id == scene.spare.id  # R05, as priced
    assert_money_adds_up(b, scene.acc.id)


def test_m8_the_allocation_is_written_ahead_with_the_attempt_and_goes_with_it(b, scene, holding):
    gateway, held = holding
    seen = []
    # Issue 28: one row per subscription, its outstanding charges up to the highest id priced.
    priced = sorted(b.session.execute(select(Charge.subscription_id, func.max(Charge.id), func.sum(Charge.amount_minor))
                                      .where(Charge.status == ChargeStatus.OUTSTANDING, Charge.subscription_id.in_(
                                          select(Subscription.id).where(Subscription.payment_method_id.in_(
                                              [scene.web.payment_method_id, scene.spare.id]))))
                                      .group_by(Charge.subscription_id)).all())
    b.session.rollback()

    def look():
        with other(b) as tab_b:
            seen.extend(tab_b.session.execute(select(AttemptAllocation.subscription_id,
                                                     AttemptAllocation.up_to_charge_id, AttemptAllocation.amount_minor)))
    gateway.during = look
    payments.settle_balance(held, scene.admin, scene.web.id, UseSavedCard(scene.spare.id), SETTLE_TOTAL,
                            "i27-settle-0003")
    assert sorted(tuple(row) for row in seen) == priced
    assert sum(minor for _sub, _up_to, minor in seen) == SETTLE_TOTAL
    assert_money_adds_up(b, scene.acc.id)


# --- 2. Every other writer respects an open attempt ----------------------------------------

def test_i27_setting_a_profile_default_while_its_invoices_are_being_paid_is_refused(b, wire, holding):
    gateway, held = holding
    card = f.card(b, wire.acc)
    f.commit(b)
    refused = []

    def set_default():
        with other(b) as tab_b:
            try:
                methods.set_profile_default(tab_b, wire.owner, wire.acc.id, wire.profile.id, card.id)
            except PaymentInProgress:
                refused.append(True)
    gateway.during = set_default
    payments.pay_invoices(held, wire.owner, wire.profile.id, [wire.first.id], UseSavedCard(card.id), 8_640_00,
                          "i27-pay-000001")
    assert refused == [True]
    assert methods.set_profile_default(b, wire.owner, wire.acc.id, wire.profile.id, card.id).id == card.id


def test_i27_a_bankgirot_payment_of_an_invoice_being_paid_by_card_waits_for_a_person(b, wire, holding):
    """The second reproduction: the import does not pay an invoice an open card attempt
    pays; it waits for a person (being_paid). The card payment records; the invoice is
    paid once; nothing answers 404 or 503 afterwards."""
    gateway, held = holding
    card = f.card(b, wire.acc)
    f.commit(b)
    summaries = []

    def bank_file():
        with other(b) as importer:
            content = bgmax_file([[Paid(ocr_reference(wire.first.number), 8_640_00)]])
            summaries.append(transfers.import_bgmax(importer, lambda: content.splitlines(keepends=True),
                                                    OUR_BANKGIRO))
    gateway.during = bank_file
    payment = payments.pay_invoices(held, wire.owner, wire.profile.id, [wire.first.id], UseSavedCard(card.id),
                                    8_640_00, "i27-pay-000002")
    assert (summaries[0].recorded, summaries[0].reasons) == (0, {"being_paid": 1})
    b.session.rollback()
    paid = b.session.get(Invoice, wire.first.id)
    assert paid.status == InvoiceStatus.PAID and paid.payment_id == payment.id and paid.paid_minor == 8_640_00
    [waiting] = transfers.waiting_for_review(b)
    assert (waiting.reason, waiting.amount_minor) == ("being_paid", 8_640_00)
    # The person assigns it once the card payment is done: the invoice is paid, so it is credit.
    transfers.assign_review(b, waiting.id, invoice_number=wire.first.number)
    assert credit.balance(b.session, wire.acc.id, "SEK").minor == 8_640_00
    # …and the account pays on: the next payment goes through.
    assert payments.pay_invoices(b, wire.owner, wire.profile.id, [wire.second.id], UseSavedCard(card.id),
                                 1_000_00, "i27-pay-000003").amount_minor == 1_000_00
    assert_money_adds_up(b, wire.acc.id)


def test_i27_a_retry_while_another_payment_is_open_waits_for_the_next_cycle(b, scene, holding):
    gateway, held = holding
    outcome = []

    def retry():
        with other(b) as cycle:
            try:
                payments.retry_subscription(cycle, scene.backup.id)
            except PaymentInProgress:
                outcome.append("in progress")
    gateway.during = retry
    payments.settle_balance(held, scene.admin, scene.web.id, UseSavedCard(scene.spare.id), SETTLE_TOTAL,
                            "i27-settle-0004")
    assert outcome == ["in progress"]
    assert_money_adds_up(b, scene.acc.id)


def test_i27_a_second_part_while_the_first_is_at_the_gateway_is_told_in_progress_not_unconfirmed(
        app, b, wire, holding):
    """Two people pay parts at once and the first one's gateway cannot be asked again
    right now: the second is told another payment is in progress (409), never "we could
    not confirm the payment" (503) for a payment it never made."""
    gateway, held = holding
    card = f.card(b, wire.acc)
    f.commit(b)
    answers = []

    def second_part():
        down = SandboxGateway(app.config["SANDBOX_GATEWAY_URL"], clock=b.clock.today, fault=Fault.BEFORE_CHARGE)
        try:
            with other(b, down) as colleague:
                payments.pay_invoices(colleague, wire.owner, wire.profile.id, None, UseSavedCard(card.id),
                                      9_640_00, "i27-part-00002", part_minor=1_000_00)
        except (PaymentInProgress, GatewayUnavailable) as refused:
            answers.append(type(refused).__name__)
        finally:
            down.close()
    gateway.during, gateway.before = second_part, True
    payments.pay_invoices(held, wire.owner, wire.profile.id, None, UseSavedCard(card.id), 9_640_00,
                          "i27-part-00001", part_minor=2_000_00)
    assert answers == ["PaymentInProgress"]
    assert_money_adds_up(b, wire.acc.id)


# --- 3. Money is never lost: credit, applied next, refunded ---------------------------------

def test_b15_a_card_payment_for_an_invoice_paid_meanwhile_becomes_credit_and_is_refunded(b, wire, holding, runner):
    """Bank after card, the other way round: a writer that did not ask (an import made
    by hand) paid the invoice while the card was at the gateway. The card payment is
    recorded whole; its money is the account's credit, shown on the receipt, told by
    email; reconcile has nothing to do; the refund goes back to the card once."""
    gateway, held = holding
    card = f.card(b, wire.acc)
    f.commit(b)

    def paid_by_bank_meanwhile():
        with other(b) as bank, write_transaction(bank.session):
            invoice = bank.session.get(Invoice, wire.first.id)
            transfer = payments.record_payment(bank, invoice.billing_profile.account, None,
                                               methods.check_wire_method(bank, invoice.billing_profile.account),
                                               invoice.left, "bgmax:1-1", "i27-bank-00001", PaymentPurpose.TRANSFER,
                                               wire.profile.id)
            payments.apply_to_invoices(bank, [invoice], transfer, invoice.left.minor)
    gateway.during = paid_by_bank_meanwhile
    payment = payments.pay_invoices(held, wire.owner, wire.profile.id, [wire.first.id], UseSavedCard(card.id),
                                    8_640_00, "i27-pay-000004")
    b.session.rollback()
    assert payment.amount_minor == 8_640_00 and payment.invoices == []
    assert credit.balance(b.session, wire.acc.id, "SEK").minor == 8_640_00
    assert credit.credited_by(b.session, payment).minor == 8_640_00
    receipt = b.session.scalars(select(OutboxMessage).where(OutboxMessage.template == "receipt")).first()
    assert receipt.payload["credited_minor"] == 8_640_00
    assert b.session.scalars(select(OutboxMessage.payload).where(OutboxMessage.template == "credit_added")
                             ).one()["reason"] == "already_paid"
    assert_money_adds_up(b, wire.acc.id)
    # Refunded, through the gateway, once — however often it is asked.
    [refund] = credit.refund(b, wire.acc.id, 5_000_00)
    assert (refund.how, refund.amount.minor, refund.payment_id) == ("card", 5_000_00, payment.id)
    assert credit.refund(b, wire.acc.id)[0].amount.minor == 3_640_00
    assert credit.refund(b, wire.acc.id) == []
    assert [a.minor for _ref, a in b.gateway.refunds()] == [5_000_00, 3_640_00]
    assert credit.balance(b.session, wire.acc.id, "SEK").minor == 0
    assert len(b.session.scalars(select(OutboxMessage).where(OutboxMessage.template == "credit_refunded")).all()) == 2
    assert_money_adds_up(b, wire.acc.id)


def test_b15_the_gateway_never_refunds_more_than_was_charged_nor_one_key_twice(b, scene):
    payment = payments.settle_balance(b, scene.admin, scene.web.id, UseSavedCard(scene.spare.id), SETTLE_TOTAL,
                                      "i27-settle-0005")
    reference = payment.gateway_reference
    from portal.money import Money
    first = b.gateway.refund(reference, Money(1_000_00, "SEK"), "refund-x-1")
    assert b.gateway.refund(reference, Money(1_000_00, "SEK"), "refund-x-1") == first  # the same answer
    with pytest.raises(RefundRefused):
        b.gateway.refund(reference, Money(750_01, "SEK"), "refund-x-2")
    with pytest.raises(RefundRefused):
        b.gateway.refund("sbx_ch_unknown", Money(1_00, "SEK"), "refund-x-3")


def test_b15_credit_pays_the_next_invoice_before_anything_is_charged(b, wire):
    importing = lambda content: transfers.import_bgmax(b, lambda: content.splitlines(keepends=True),  # noqa: E731
                                                        OUR_BANKGIRO)
    importing(bgmax_file([[Paid(ocr_reference(wire.first.number), 9_000_00)]]))  # 360 kr too much
    b.session.rollback()
    assert credit.balance(b.session, wire.acc.id, "SEK").minor == 360_00
    sub = f.subscription(b, wire.acc, None, fee=1_000_00, profile=wire.profile)
    sub.started_on = date(2026, 10, 1)
    f.commit(b)
    with write_transaction(b.session):
        from portal.billing.cycle.invoices import generate_invoice
        new = generate_invoice(b, b.session.get(type(wire.profile), wire.profile.id), date(2026, 11, 1),
                               date(2026, 11, 30))
    b.session.rollback()
    new = b.session.get(Invoice, new.id)
    assert new.paid_minor == 360_00 and new.left.minor == 640_00 and new.is_partly_paid
    assert credit.balance(b.session, wire.acc.id, "SEK").minor == 0
    assert_money_adds_up(b, wire.acc.id)


def test_b15_credit_pays_the_next_pay_as_you_go_charge_whole(b, scene):
    payment = payments.settle_balance(b, scene.admin, scene.web.id, UseSavedCard(scene.spare.id), SETTLE_TOTAL,
                                      "i27-settle-0006")
    with write_transaction(b.session):  # as if 150 kr of it had found its charges paid
        paid = b.session.get(Payment, payment.id)
        b.session.get(Charge, paid.charges[0].id).payment_id = None
        credit.add_surplus(b, paid.payment_method.account, paid, paid.charges[0].amount_minor, "allocation_changed")
    b.session.rollback()
    before = credit.balance(b.session, scene.acc.id, "SEK").minor
    approved = b.gateway.count_approved()
    with write_transaction(b.session):
        sub = b.session.get(Subscription, scene.calm.id)
        charge = lifecycle.bill_subscription(b, sub, date(2026, 11, 1), date(2026, 11, 30))
    b.session.rollback()
    charge = b.session.get(Charge, charge.id)
    assert charge.status == ChargeStatus.PAID and charge.payment_id == payment.id
    assert b.gateway.count_approved() == approved  # the card was not charged
    assert credit.balance(b.session, scene.acc.id, "SEK").minor == before - charge.amount_minor


def test_b15_the_refund_command_pays_credit_back_and_says_what_it_did(b, wire, runner):
    transfers.import_bgmax(b, lambda: bgmax_file([[Paid(ocr_reference(wire.first.number), 8_700_00)]])
                           .splitlines(keepends=True), OUR_BANKGIRO)
    result = runner.invoke(args=["payments", "refund", str(wire.acc.id)])
    assert result.exit_code == 0 and "0 refunds" in result.output  # bank money: only --by-bank
    result = runner.invoke(args=["payments", "refund", str(wire.acc.id), "--amount", "10,00", "--by-bank"])
    assert result.exit_code == 0 and "1 refunds" in result.output, result.output
    assert credit.balance(b.session, wire.acc.id, "SEK").minor == 50_00
    result = runner.invoke(args=["payments", "refund", str(wire.acc.id), "--amount", "ten"])
    assert result.exit_code != 0 and "not an amount" in result.output


def test_i27_reconcile_says_what_is_really_wrong(b, scene, faulty):
    """An attempt the gateway cannot answer for: reconcile names it and says why."""
    with pytest.raises(GatewayUnavailable):
        payments.settle_balance(faulty(Fault.AFTER_CHARGE), scene.admin, scene.web.id,
                                UseSavedCard(scene.spare.id), SETTLE_TOTAL, "i27-settle-0007")
    done = payments.reconcile(faulty(Fault.BEFORE_CHARGE), older_than=timedelta(0))
    assert done.waiting == ["i27-settle-0007"]
    assert done.why["i27-settle-0007"] == "the gateway cannot tell yet whether it charged"
    done = payments.reconcile(b, older_than=timedelta(0))
    assert [p.idempotency_key for p in done.finished] == ["i27-settle-0007"] and done.credited == []
    assert_money_adds_up(b, scene.acc.id)



def test_i27_a_charge_that_cannot_be_recorded_is_in_doubt_with_its_reason_never_a_500(b, scene, monkeypatch):
    """Recording fails after the gateway charged (a bug, a database error): the customer
    hears "we could not confirm the payment" (503, not 500), the attempt is in doubt
    with the reason, reconcile names it — and records it once the cause is gone."""
    from portal.billing.payments import engine

    def broken(*args, **kwargs):
        raise RuntimeError("the allocation could not be applied")
    monkeypatch.setattr(engine, "apply_allocation", broken)
    with pytest.raises(GatewayUnavailable) as unconfirmed:
        payments.settle_balance(b, scene.admin, scene.web.id, UseSavedCard(scene.spare.id), SETTLE_TOTAL,
                                "i27-settle-0008")
    assert unconfirmed.value.maybe_charged
    b.session.rollback()
    [attempt] = b.session.scalars(select(UnconfirmedPayment)).all()
    assert attempt.state == "in_doubt" and "the allocation could not be applied" in attempt.doubt_reason
    done = payments.reconcile(b, older_than=timedelta(0))
    assert done.waiting == ["i27-settle-0008"] and "recording failed" in done.why["i27-settle-0008"]
    monkeypatch.undo()
    done = payments.reconcile(b, older_than=timedelta(0))
    assert [p.idempotency_key for p in done.finished] == ["i27-settle-0008"]
    assert_money_adds_up(b, scene.acc.id)


def test_i27_a_card_removed_in_another_tab_is_removed_once_and_never_charged(b, scene):
    """Found by the race matrix: two tabs remove the same card — the second is done, not
    a 500; paying or choosing the default with it afterwards says it was removed."""
    from portal.errors import CardRemoved
    unused = f.card(b, scene.acc)
    f.commit(b)
    methods.remove_card(b, scene.admin, scene.acc.id, unused.id)
    methods.remove_card(b, scene.admin, scene.acc.id, unused.id)  # the second tab: nothing more
    b.session.rollback()
    assert b.session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "payment_method.removed")) == 1
    with pytest.raises(CardRemoved):
        payments.settle_balance(b, scene.admin, scene.web.id, UseSavedCard(unused.id), SETTLE_TOTAL,
                                "i27-settle-0009")
    with pytest.raises(CardRemoved):  # the settle page with it chosen
        payments.quote_settlement(b, scene.admin, scene.web.id, unused.id)
    assert b.gateway.count_approved() == 0

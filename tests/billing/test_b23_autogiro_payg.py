"""Issue 34 Deliver 1, B23: a pay-as-you-go subscription pays by Autogiro — the whole loop
(mandate → approval → the subscriptions moved to it → the billing cycle → export →
drawn → paid; not drawn → past due, told why → retried once → paid) on SQLite and
PostgreSQL (the same test with DATABASE_URL set)."""
from __future__ import annotations

from datetime import date

import pytest
from flask_babel import force_locale
from sqlalchemy import func, select

from portal.billing import payments
from portal.billing.accounts import credit
from portal.billing.bank import autogiro, autogiro_charges, autogiro_files as files
from portal.billing.cycle.lifecycle import mark_unreceived_transfers, run_billing_cycle
from portal.errors import NotFound
from portal.mail.messages import compose
from portal.models import (AutogiroOrder, Charge, ChargeStatus, CreditEntry, DrawStatus, MandateStatus, OutboxMessage,
                           Payment, PaymentPurpose, Role, Subscription, SubscriptionStatus)
from tests import factories as f
from tests.billing.test_autogiro import PAYEE, WHEN, lines_of, results


def approve(b, mandate) -> None:
    answers = files.write_mandate_answers(files.MandateAnswers(b.clock.today(), "123456", PAYEE.bankgiro_digits, (
        files.Answer(mandate.payer_number, "9029", "5735211", "165560360793", "04", "32", b.clock.today()),)))
    assert autogiro.import_file(b, PAYEE, lines_of(answers)).outcomes == {"mandate_active": 1}


def ordered(b, tmp_path):
    """An account whose one subscription pays by an approved mandate, billed on 25
    November and its charge ordered on the banking day before its draw: (account,
    subscription, the order as the export wrote it)."""
    acc = f.account(b)
    mandate = autogiro.give_mandate(b, None, acc.id, "9029", "5735211", "556036-0793")
    autogiro.export(b, PAYEE, tmp_path)
    approve(b, mandate)
    sub = f.subscription(b, acc, mandate.payment_method, started_on=date(2026, 10, 1))
    f.commit(b)
    run_billing_cycle(b)
    b.clock.advance(5)
    (order,) = files.read_request(autogiro.export(b, PAYEE, tmp_path).path.read_bytes().splitlines()).orders
    return acc, sub, order


def answered(b, order, code: str) -> dict:
    """Bankgirot's answer `code` to `order`, imported: the outcomes."""
    answer = files.Order(order.payer_number, order.draw_on, order.amount_minor, order.reference, code)
    return autogiro.import_file(b, PAYEE, lines_of(results(answer))).outcomes


def test_b23_a_pay_as_you_go_subscription_is_drawn_by_autogiro_and_not_drawn_is_past_due_and_retried(b, tmp_path):
    acc = f.account(b)
    admin = f.user(b, Role.ACCOUNT_ADMIN, acc)
    card = f.card(b, acc)
    first, second = (f.subscription(b, acc, card, fee=fee, started_on=date(2026, 10, 1)) for fee in (300_00, 500_00))
    f.commit(b)

    # A mandate of the account (no billing profile): pending, so no subscription may use it yet.
    mandate = autogiro.give_mandate(b, admin, acc.id, "9029", "5735211", "556036-0793")
    assert mandate.status == MandateStatus.PENDING
    with pytest.raises(NotFound):
        payments.methods.preview_move(b, admin, acc.id, [first.id], mandate.payment_method_id)
    assert files.read_request(autogiro.export(b, PAYEE, tmp_path).path.read_bytes().splitlines()).additions
    approve(b, mandate)
    preview = payments.methods.preview_move(b, admin, acc.id, [first.id, second.id], mandate.payment_method_id)
    payments.methods.move_subscriptions(b, admin, acc.id, [first.id, second.id], mandate.payment_method_id,
                                        preview.outstanding.minor)

    # The billing day (25 November bills October): nothing charged at the card gateway,
    # the charges outstanding, not past due — due on 1 December, drawn then.
    run_billing_cycle(b)
    charged = {c.subscription_id: c for c in b.session.scalars(select(Charge))}
    assert {s: c.status for s, c in charged.items()} == {first.id: ChargeStatus.OUTSTANDING,
                                                         second.id: ChargeStatus.OUTSTANDING}
    assert all(c.failed_on is None for c in charged.values()) and b.session.scalar(
        select(func.count()).select_from(Payment)) == 0
    assert autogiro_charges.due_on(b, charged[first.id]) == date(2026, 12, 1)
    assert autogiro.export(b, PAYEE, tmp_path).path is None   # not due by the next banking day yet

    # The banking day before: each charge ordered, once, with its own reference.
    b.clock.advance(5)   # Monday 30 November
    orders = files.read_request(autogiro.export(b, PAYEE, tmp_path).path.read_bytes().splitlines()).orders
    assert [(o.reference, o.amount_minor, o.draw_on) for o in orders] == [
        (autogiro_charges.charge_reference(charged[first.id].id), 300_00, date(2026, 12, 1)),
        (autogiro_charges.charge_reference(charged[second.id].id), 500_00, date(2026, 12, 1))]
    assert autogiro.export(b, PAYEE, tmp_path).path is None

    # Past the due day with no answer yet: the cycle waits for it (not "not received").
    b.clock.advance(3)   # 3 December
    assert mark_unreceived_transfers(b, b.clock.today()) == 0
    drawn, short = (files.Order(mandate.payer_number, o.draw_on, o.amount_minor, o.reference, code)
                    for o, code in zip(orders, (files.DRAWN, "1")))
    assert autogiro.import_file(b, PAYEE, lines_of(results(drawn, short, when=WHEN.replace(day=3, month=12)))
                                ).outcomes == {"drawn": 1, "not_drawn": 1}
    b.session.rollback()
    paid = b.session.get(Charge, charged[first.id].id)
    assert paid.status == ChargeStatus.PAID and paid.payment.purpose == PaymentPurpose.AUTOGIRO
    assert b.session.get(Subscription, first.id).status == SubscriptionStatus.ACTIVE
    late = b.session.get(Subscription, second.id)
    assert late.status == SubscriptionStatus.PAST_DUE and late.next_retry_on is None   # no card schedule (B14)
    told = b.session.scalars(select(OutboxMessage).where(OutboxMessage.template == "payment_failed")).one()
    assert told.payload["reason"] == "insufficient_funds" and told.payload["next_draw_on"] == "2026-12-04"
    assert told.payload["autogiro"] is True
    receipt = b.session.scalars(select(OutboxMessage).where(OutboxMessage.template == "receipt")).one()
    assert receipt.payload["subscriptions"] == [b.session.get(Subscription, first.id).name]

    # The one retry, the next banking day: drawn, the subscription active again (R13).
    retry = files.read_request(autogiro.export(b, PAYEE, tmp_path).path.read_bytes().splitlines()).orders
    assert [(o.reference, o.draw_on) for o in retry] == [(short.reference, date(2026, 12, 4))]
    b.clock.advance(1)
    again = files.Order(mandate.payer_number, date(2026, 12, 4), short.amount_minor, short.reference, files.DRAWN)
    assert autogiro.import_file(b, PAYEE, lines_of(results(again, when=WHEN.replace(day=4, month=12)))
                                ).outcomes == {"drawn": 1}
    b.session.rollback()
    assert b.session.get(Subscription, second.id).status == SubscriptionStatus.ACTIVE
    assert b.session.get(Charge, charged[second.id].id).status == ChargeStatus.PAID
    assert [o.status for o in b.session.scalars(select(AutogiroOrder).order_by(AutogiroOrder.id))] == [
        DrawStatus.DRAWN, DrawStatus.NOT_DRAWN, DrawStatus.DRAWN]
    assert b.session.scalar(select(func.count()).select_from(CreditEntry)) == 0


def test_b23_a_charge_not_drawn_for_want_of_a_mandate_is_past_due_and_never_retried(b, tmp_path):
    _, sub, order = ordered(b, tmp_path)
    assert answered(b, order, "2") == {"not_drawn": 1}
    b.session.rollback()
    assert b.session.get(Subscription, sub.id).status == SubscriptionStatus.PAST_DUE
    told = b.session.scalars(select(OutboxMessage).where(OutboxMessage.template == "payment_failed")).one()
    assert told.payload["reason"] == "no_mandate" and "next_draw_on" not in told.payload
    assert autogiro.export(b, PAYEE, tmp_path).path is None


def test_b23_money_drawn_for_a_charge_settled_meanwhile_is_credit(b, tmp_path):
    acc, sub, order = ordered(b, tmp_path)
    admin = f.user(b, Role.ACCOUNT_ADMIN, acc)
    card = f.card(b, acc)
    f.commit(b)
    answered(b, order, "1")   # insufficient funds: drawn again on the next banking day
    b.clock.advance(1)   # the banking day before the retry's
    (retry,) = files.read_request(autogiro.export(b, PAYEE, tmp_path).path.read_bytes().splitlines()).orders
    # The retry is at the bank; the customer settles by card meanwhile (R05: the card from now on).
    quote = payments.quote_settlement(b, admin, sub.id, card.id)
    payments.settle_balance(b, admin, sub.id, payments.UseSavedCard(card.id), quote.total.minor, "b23-payg-settle-1")
    assert answered(b, retry, files.DRAWN) == {"drawn": 1}
    b.session.rollback()
    assert b.session.get(Subscription, sub.id).payment_method_id == card.id
    assert credit.balance(b.session, acc.id, "SEK").minor == retry.amount_minor   # B15
    assert b.session.scalar(select(func.count()).select_from(Payment)) == 2


@pytest.mark.parametrize("lang, not_drawn, again, ended", [
    ("en", "There was not enough money in the account", "Autogiro will try again on", "Charges for subscriptions"),
    ("sv", "Det fanns inte tillräckligt med pengar", "Autogiro försöker igen den", "Avgifter för prenumerationer")])
def test_b23_the_emails_say_why_autogiro_did_not_draw_a_charge_and_that_a_mandate_ended(b, lang, not_drawn, again,
                                                                                          ended):
    """R01/R10: the customer is told why, and when Autogiro tries again; a pay-as-you-go
    mandate the bank ended says its subscriptions' charges are no longer drawn."""
    failed = {"subscription": "Intranät", "reason": "insufficient_funds", "amount_minor": 300_00, "currency": "SEK",
              "disable_on": "2027-01-02", "autogiro": True, "next_draw_on": "2026-12-04"}
    with force_locale(lang):
        told = " ".join(compose("payment_failed", failed, "billing@example.com", "Contoso").paragraphs)
        gone = " ".join(compose("autogiro_mandate_ended", {"reason": "account_closed", "bank_name": "Nordea",
                                                           "last4": "9874", "subscriptions": True},
                                "billing@example.com", "Contoso").paragraphs)
    assert not_drawn in told and again in told and ended in gone


def test_b23_a_charge_whose_subscription_moved_to_a_card_is_not_drawn(b, tmp_path):
    """A retry waits; the subscription moves to a card meanwhile: the order is withdrawn,
    never sent (the card pays from now on, and the balance is settled there)."""
    acc, sub, order = ordered(b, tmp_path)
    admin = f.user(b, Role.ACCOUNT_ADMIN, acc)
    card = f.card(b, acc)
    f.commit(b)
    answered(b, order, "1")
    preview = payments.methods.preview_move(b, admin, acc.id, [sub.id], card.id)
    payments.methods.move_subscriptions(b, admin, acc.id, [sub.id], card.id, preview.outstanding.minor)
    b.clock.advance(1)
    assert autogiro.export(b, PAYEE, tmp_path).path is None
    b.session.rollback()
    assert b.session.scalars(select(AutogiroOrder.reason).order_by(AutogiroOrder.id.desc())).first() == "method_changed"

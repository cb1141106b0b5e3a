"""Settling a past-due balance (pay-as-you-go): R02, R04, R05, R07, R08, R09, R10,
R13, B5, B16, M2, M3."""
from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from portal.billing import payments
from portal.billing.accounts import notify
from portal.errors import (AlreadyPaid, BalanceChanged, CardDeclined, GatewayUnavailable, InvalidCard,
                           InvalidState, NothingToPay, NotAuthorized, NotFound)
from portal.billing.gateway import CardDetails
from portal.billing.payments import UseNewCard, UseSavedCard
from portal.models import (AuditEvent, Charge, ChargeStatus, DisabledSpan, Notice, OutboxMessage, Payment,
                           PaymentMethod, Role, Subscription, SubscriptionStatus)
from tests import factories as f

KEY = "key-0000000001"


@pytest.fixture
def scene(b):
    """Two past-due subscriptions on one failed card, a second card with its own
    outstanding charge, an unrelated active subscription, an administrator."""
    acc = f.account(b)
    failed = f.card(b, acc, f.INSUFFICIENT_FUNDS)
    second = f.card(b, acc, f.APPROVE)
    spare = f.card(b, acc, "5555555555554444")
    web = f.past_due(b, acc, failed, charges=(1_000_00, 500_00))
    shop = f.past_due(b, acc, failed, charges=(250_00,))
    backup = f.past_due(b, acc, second, charges=(75_00,))
    calm = f.subscription(b, acc, spare)
    admin = f.user(b, Role.ACCOUNT_ADMIN, acc)
    member = f.user(b, Role.ACCOUNT_USER, acc)
    f.commit(b)
    return type("Scene", (), dict(acc=acc, failed=failed, second=second, spare=spare, web=web,
                                   shop=shop, backup=backup, calm=calm, admin=admin, member=member))


def settle(b, s, method, expected, key=KEY, sub=None):
    choice = UseSavedCard(method.id) if isinstance(method, PaymentMethod) else method
    return payments.settle_balance(b, s.admin, (sub or s.web).id, choice, expected, key)


def test_r07_total_covers_every_subscription_on_the_failed_method(b, scene):
    quote = payments.quote_settlement(b, scene.admin, scene.web.id)
    assert quote.total.minor == 1_000_00 + 500_00 + 250_00
    assert {s.id for s in quote.subscriptions} == {scene.web.id, scene.shop.id}


def test_r04_one_subscription_alone_cannot_be_paid(b, scene):
    # Settling from either subscription pays the whole balance of the failed card.
    quote_web = payments.quote_settlement(b, scene.admin, scene.web.id)
    quote_shop = payments.quote_settlement(b, scene.admin, scene.shop.id)
    assert quote_web.total == quote_shop.total
    with pytest.raises(BalanceChanged):
        settle(b, scene, scene.spare, 250_00, sub=scene.shop)  # only the shop's part
    payment = settle(b, scene, scene.spare, 1_750_00, sub=scene.shop)
    assert {c.subscription_id for c in payment.charges} == {scene.web.id, scene.shop.id}


def test_r08_chosen_methods_own_charges_are_added_and_paid(b, scene):
    """What the Settle page shows (preview_settlement, the function it calls) is
    what Pay charges and pays."""
    subscription = payments.settleable_subscription(b, scene.admin, scene.web.id, scene.web.account_id)
    page = payments.preview_settlement(b, subscription, scene.second.id)
    assert page.failed_method_total.minor == 1_750_00
    assert [row.subscription_id for row in page.chosen.rows] == [scene.backup.id]
    assert page.total.minor == 1_825_00
    payment = settle(b, scene, scene.second, 1_825_00)
    assert payment.amount_minor == 1_825_00
    b.session.refresh(scene.backup)
    assert scene.backup.status == SubscriptionStatus.ACTIVE
    assert all(c.status == ChargeStatus.PAID for c in scene.backup.charges)


def test_r05_chosen_method_becomes_active_for_every_subscription_of_the_failed_one(b, scene):
    settle(b, scene, scene.spare, 1_750_00)
    b.session.expire_all()
    assert scene.web.payment_method_id == scene.spare.id
    assert scene.shop.payment_method_id == scene.spare.id
    assert scene.backup.payment_method_id == scene.second.id  # not on the failed card


def test_r05_a_new_card_becomes_the_method_and_every_subscription_names_one_of_the_accounts(b, scene):
    """subscriptions.payment_method_id has no foreign key (issue 28: the check per row was
    a quarter of a reseller's settlement): its writers keep it pointing at a saved method
    of the subscription's own account."""
    def own_methods() -> set[int]:
        return set(b.session.scalars(select(PaymentMethod.id).where(PaymentMethod.account_id == scene.acc.id)))
    before = own_methods()
    settle(b, scene, UseNewCard(CardDetails("4242424242424242", 12, 2031, "123", "Anna Lindqvist")), 1_750_00)
    b.session.expire_all()
    [new_id] = own_methods() - before
    new = b.session.get(PaymentMethod, new_id)
    assert scene.web.payment_method_id == scene.shop.payment_method_id == new.id
    assert scene.web.payment_method is new  # the relationship joins without the key
    assert {s.payment_method_id for s in b.session.scalars(
        select(Subscription).where(Subscription.account_id == scene.acc.id))} <= own_methods()


def test_r09_pay_completes_the_settlement_with_receipt(b, scene):
    payment = settle(b, scene, scene.spare, 1_750_00)
    b.session.expire_all()
    assert scene.web.status == scene.shop.status == SubscriptionStatus.ACTIVE
    assert scene.web.past_due_since is None
    assert all(c.status == ChargeStatus.PAID and c.payment_id == payment.id
               for c in scene.web.charges + scene.shop.charges)
    receipt = b.session.scalars(select(OutboxMessage).where(
        OutboxMessage.template == "receipt", OutboxMessage.to_address == scene.acc.notification_email)).one()
    assert receipt.payload["amount_minor"] == 1_750_00
    payer_copy = b.session.scalars(select(OutboxMessage).where(
        OutboxMessage.template == "receipt", OutboxMessage.to_address == scene.admin.email)).one()
    assert payer_copy.payload["payer_copy"] and payer_copy.locale == scene.admin.locale  # B10
    assert b.gateway.count_approved() == 1


def test_r10_declined_card_changes_nothing_and_gives_the_reason(b, scene):
    before = f.snapshot(b, Charge, Subscription, Payment, PaymentMethod, OutboxMessage, Notice)
    with pytest.raises(CardDeclined) as declined:
        settle(b, scene, scene.failed, 1_750_00)
    assert declined.value.reason == "insufficient_funds"
    assert f.snapshot(b, Charge, Subscription, Payment, PaymentMethod, OutboxMessage, Notice) == before
    event = b.session.scalars(select(AuditEvent).where(AuditEvent.action == "payment.declined")).one()
    assert event.details["reason"] == "insufficient_funds"
    assert event.actor_user_id == scene.admin.id


def test_r10_declined_new_card_is_not_saved(b, scene):
    card = CardDetails("4000000000000150", 1, 2031, "123", "A Person")
    with pytest.raises(CardDeclined) as declined:
        settle(b, scene, UseNewCard(card), 1_750_00)
    assert declined.value.reason == "international_not_allowed"
    assert b.session.scalars(select(PaymentMethod).where(PaymentMethod.last4 == "0150")).first() is None


def test_r10_invalid_card_is_refused_before_the_gateway(b, scene):
    card = CardDetails("4242424242424241", 1, 2031, "123", "A Person")  # Luhn fails
    with pytest.raises(InvalidCard) as invalid:
        settle(b, scene, UseNewCard(card), 1_750_00)
    assert invalid.value.reason == "number"
    expired = CardDetails(f.APPROVE, 10, 2026, "123", "A Person")
    with pytest.raises(InvalidCard, match="expired"):
        settle(b, scene, UseNewCard(expired), 1_750_00)
    assert b.gateway.charges_for() == []


def test_b5_new_card_pays_everything_the_old_card_failed_on(b, scene):
    card = CardDetails("4242 4242 4242 4242", 4, 2030, "123", "Anna Lindqvist")
    payment = settle(b, scene, UseNewCard(card), 1_750_00)
    b.session.expire_all()
    new_method = payment.payment_method
    assert (new_method.last4, new_method.brand) == ("4242", "visa")
    assert new_method.gateway_token.startswith("sbx_") and "4242424242424242" not in new_method.gateway_token
    outstanding = b.session.scalars(select(Charge).where(
        Charge.subscription_id.in_([scene.web.id, scene.shop.id]),
        Charge.status == ChargeStatus.OUTSTANDING)).all()
    assert outstanding == []
    assert scene.web.payment_method_id == new_method.id


def test_r02_only_the_account_administrator_may_settle(b, scene):
    with pytest.raises(NotAuthorized) as refused:
        payments.quote_settlement(b, scene.member, scene.web.id)
    assert refused.value.reason == "not_account_admin"
    with pytest.raises(NotAuthorized):
        payments.settle_balance(b, scene.member, scene.web.id, UseSavedCard(scene.spare.id), 1_750_00, KEY)
    assert b.gateway.charges_for() == []


def test_r02_strangers_get_not_found_not_a_hint(b, scene):
    stranger = f.user(b)
    f.commit(b)
    with pytest.raises(NotFound):
        payments.quote_settlement(b, stranger, scene.web.id)


def test_r13_settling_re_enables_a_disabled_subscription(b, scene, clock):
    archive = f.subscription(b, scene.acc, scene.failed, SubscriptionStatus.DISABLED,
                             past_due_since=clock.today().replace(day=1), disabled_on=clock.today())
    f.charge(b, archive, 40_00)
    f.commit(b)
    settle(b, scene, scene.spare, 1_790_00)
    b.session.refresh(archive)
    assert archive.status == SubscriptionStatus.ACTIVE and archive.disabled_on is None


def test_b16_settling_keeps_the_days_a_re_enabled_subscription_was_disabled(b, scene, clock):
    """The stretch ends today, in the payment's transaction: those days are not billed,
    today's are. Past-due subscriptions paid with it were never disabled: no stretch."""
    archive = f.subscription(b, scene.acc, scene.failed, SubscriptionStatus.DISABLED,
                             past_due_since=date(2026, 10, 1), disabled_on=date(2026, 10, 31))
    f.charge(b, archive, 40_00)
    f.commit(b)
    settle(b, scene, scene.spare, 1_790_00)
    b.session.expire_all()
    assert [(s.subscription_id, s.disabled_on, s.enabled_on) for s in b.session.scalars(select(DisabledSpan))] == [
        (archive.id, date(2026, 10, 31), clock.today())]


def test_r13_deleted_subscription_cannot_be_settled(b, scene):
    scene.web.status = SubscriptionStatus.DELETED
    f.commit(b)
    with pytest.raises(InvalidState):
        settle(b, scene, scene.spare, 1_750_00)


def test_m3_same_key_never_pays_twice(b, scene):
    first = settle(b, scene, scene.spare, 1_750_00)
    with pytest.raises(AlreadyPaid) as again:
        settle(b, scene, scene.spare, 1_750_00)
    assert again.value.payment_id == first.id
    assert b.gateway.count_approved() == 1


def test_m3_second_tab_with_a_new_key_finds_nothing_to_pay(b, scene):
    settle(b, scene, scene.spare, 1_750_00)
    with pytest.raises(NothingToPay):
        settle(b, scene, scene.spare, 1_750_00, key="key-0000000002")
    assert b.gateway.count_approved() == 1


def test_m3_stale_total_is_refused(b, scene):
    with pytest.raises(BalanceChanged) as stale:
        settle(b, scene, scene.spare, 1_000_00)
    assert stale.value.current_minor == 1_750_00
    assert b.gateway.charges_for() == []


def test_m2_failure_after_the_charge_writes_nothing(b, scene, monkeypatch):
    """Anything failing before commit (here: writing the receipt) undoes the lot; the
    payer hears "we could not confirm the payment" (issue 27: never a 500)."""
    before = f.snapshot(b, Charge, Subscription, Payment, PaymentMethod, OutboxMessage)

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")
    monkeypatch.setattr(notify, "queue_email", broken)
    with pytest.raises(GatewayUnavailable):
        settle(b, scene, scene.spare, 1_750_00)
    assert f.snapshot(b, Charge, Subscription, Payment, PaymentMethod, OutboxMessage) == before
    # The retry with the same key is answered by the gateway's ledger: one charge only.
    monkeypatch.undo()
    settle(b, scene, scene.spare, 1_750_00)
    assert len(b.gateway.charges_for(KEY)) == 1


def test_saved_card_of_another_account_is_not_found(b, scene):
    other = f.account(b)
    foreign = f.card(b, other)
    f.commit(b)
    with pytest.raises(NotFound):
        settle(b, scene, foreign, 1_750_00)
    with pytest.raises(NotFound):
        payments.quote_settlement(b, scene.admin, scene.web.id, foreign.id)

"""Payment methods (B8, R15), payments history and exports (B9), personal settings
(B10) and what the Overview says is owed (R06, B2), in the service layer."""
from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from portal.billing.accounts import history, overview
from portal.billing.payments import methods
from portal.billing.cycle import lifecycle
from portal.billing.gateway import CardDetails
from portal.billing.accounts.history import Period
from portal.errors import (CardDeclined, GatewayUnavailable, InvalidCard, InvalidInput, MethodInUse,
                           NotAuthorized, NotEligible, NotFound)
from portal.models import (AccountKind, AuditEvent, Notice, OutboxMessage, Payment, PaymentMethod,
                           PaymentPurpose, Role, Subscription, SubscriptionStatus, User)
from tests import factories as f


@pytest.fixture
def payg(b):
    acc = f.account(b)
    failed = f.card(b, acc, f.INSUFFICIENT_FUNDS)
    spare = f.card(b, acc)
    unused = f.card(b, acc)
    late = f.past_due(b, acc, failed, charges=(100_00, 50_00))
    ok = f.subscription(b, acc, failed)
    admin = f.user(b, Role.ACCOUNT_ADMIN, acc)
    member = f.user(b, Role.ACCOUNT_USER, acc)
    f.commit(b)
    return type("Payg", (), dict(acc=acc, failed=failed, spare=spare, unused=unused, late=late, ok=ok,
                                 admin=admin, member=member))


@pytest.fixture
def agreement(b):
    acc = f.account(b, AccountKind.CUSTOMER_AGREEMENT)
    card = f.card(b, acc)
    other = f.card(b, acc)
    profile = f.profile(b, acc, default=card)
    owner = f.user(b, Role.OWNER, acc, profile)
    contributor = f.user(b, Role.CONTRIBUTOR, acc, profile)
    invoice_manager = f.user(b, Role.INVOICE_MANAGER, acc, profile)
    reader = f.user(b, Role.READER, acc, profile)
    f.commit(b)
    return type("Agreement", (), dict(acc=acc, card=card, other=other, profile=profile, owner=owner,
                                      contributor=contributor, invoice_manager=invoice_manager, reader=reader))


def new_card(number=f.APPROVE, month=12, year=2031, cvc="123") -> CardDetails:
    return CardDetails(number, month, year, cvc, "Anna Lindqvist")


# --- B8: what uses each method ------------------------------------------------------------

def test_b8_the_page_says_what_uses_each_card(b, payg, agreement):
    page = methods.methods_page(b, payg.admin, payg.acc.id)
    uses = {u.method.id: u for u in page.methods}
    assert uses[payg.failed.id].subscriptions == 2 and uses[payg.failed.id].outstanding.minor == 150_00
    assert uses[payg.failed.id].in_use and not uses[payg.unused.id].in_use
    assert [v.subscription.id for v in page.movable] == [payg.late.id, payg.ok.id]
    ca = methods.methods_page(b, agreement.owner, agreement.acc.id)
    ca_uses = {u.method.id: u for u in ca.methods}
    assert ca_uses[agreement.card.id].default_for == (agreement.profile.name,)
    assert not ca_uses[agreement.other.id].in_use


def test_b8_expiry_is_the_last_day_of_the_month_and_soon_means_30_days(b, payg):
    payg.unused.exp_month, payg.unused.exp_year = 12, 2026  # today (pinned) is 2026-11-25
    payg.spare.exp_month, payg.spare.exp_year = 10, 2026
    f.commit(b)
    uses = {u.method.id: u for u in methods.methods_page(b, payg.admin, payg.acc.id).methods}
    assert methods.expires_on(payg.unused) == date(2026, 12, 31)
    assert not uses[payg.unused.id].expires_soon  # 36 days away
    assert uses[payg.spare.id].expired and not uses[payg.spare.id].expires_soon


# --- B8: add and remove -----------------------------------------------------------------

def test_b8_a_card_is_added_without_charging_it(b, payg):
    charged_before = len(b.gateway.ledger())
    method = methods.add_card(b, payg.admin, payg.acc.id, new_card("5555555555554444"))
    assert (method.brand, method.last4, method.exp_month, method.exp_year) == ("mastercard", "4444", 12, 2031)
    assert len(b.gateway.ledger()) == charged_before  # verified, not charged
    assert b.session.scalars(select(AuditEvent.action).where(AuditEvent.account_id == payg.acc.id)).all() \
        == ["payment_method.added"]


def test_b8_a_card_the_bank_refuses_is_not_saved(b, payg):
    count = b.session.scalar(select(func.count()).select_from(PaymentMethod))
    with pytest.raises(CardDeclined) as declined:
        methods.add_card(b, payg.admin, payg.acc.id, new_card(f.DECLINE))
    assert declined.value.reason == "generic_decline"
    b.session.rollback()
    assert b.session.scalar(select(func.count()).select_from(PaymentMethod)) == count
    assert b.session.scalars(select(AuditEvent.action)).all() == ["payment_method.declined"]


def test_b8_an_invalid_card_never_reaches_the_gateway(b, payg):
    with pytest.raises(InvalidCard):
        methods.add_card(b, payg.admin, payg.acc.id, new_card(month=1, year=2020))
    with pytest.raises(GatewayUnavailable):  # the sandbox's "unreachable" card: nothing saved
        methods.add_card(b, payg.admin, payg.acc.id, new_card("4000000000000523"))
    b.session.rollback()
    assert b.session.scalar(select(func.count()).select_from(PaymentMethod).where(
        PaymentMethod.account_id == payg.acc.id)) == 3


def test_b8_a_card_nothing_uses_is_removed_and_never_offered_again(b, payg):
    methods.remove_card(b, payg.admin, payg.acc.id, payg.unused.id)
    b.session.expire_all()
    removed = b.session.get(PaymentMethod, payg.unused.id)
    assert removed.removed_at is not None and removed.gateway_token is None
    assert payg.unused.id not in [u.method.id for u in methods.methods_page(b, payg.admin, payg.acc.id).methods]
    methods.remove_card(b, payg.admin, payg.acc.id, payg.unused.id)  # a second tab: done already, not a 404


def test_b8_a_card_in_use_cannot_be_removed_and_the_refusal_says_why(b, payg, agreement):
    with pytest.raises(MethodInUse) as in_use:
        methods.remove_card(b, payg.admin, payg.acc.id, payg.failed.id)
    assert (in_use.value.default_for, in_use.value.subscriptions) == ([], 2)
    b.session.rollback()
    with pytest.raises(MethodInUse) as default:
        methods.remove_card(b, agreement.owner, agreement.acc.id, agreement.card.id)
    assert default.value.default_for == [agreement.profile.name]
    b.session.rollback()
    assert b.session.get(PaymentMethod, payg.failed.id).removed_at is None


def test_b8_only_those_who_may_manage_methods_add_or_remove(b, payg, agreement):
    for user, acc, card in ((payg.member, payg.acc, payg.unused), (agreement.reader, agreement.acc, agreement.other),
                            (agreement.invoice_manager, agreement.acc, agreement.other)):
        with pytest.raises(NotAuthorized):
            methods.remove_card(b, user, acc.id, card.id)
        b.session.rollback()
        with pytest.raises(NotAuthorized):
            methods.add_card(b, user, acc.id, new_card())
        b.session.rollback()
    assert methods.methods_page(b, agreement.reader, agreement.acc.id).may_manage.reason == "cannot_manage_methods"
    assert methods.methods_page(b, payg.member, payg.acc.id).may_manage.reason == "not_account_admin"
    methods.remove_card(b, agreement.contributor, agreement.acc.id, agreement.other.id)


def test_b8_another_accounts_card_is_not_found(b, payg, agreement):
    with pytest.raises(NotFound):
        methods.remove_card(b, payg.admin, payg.acc.id, agreement.other.id)


# --- R15: the profile default ------------------------------------------------------------

def test_r15_a_saved_card_becomes_the_profile_default(b, agreement):
    methods.set_profile_default(b, agreement.owner, agreement.acc.id, agreement.profile.id, agreement.other.id)
    b.session.expire_all()
    assert agreement.profile.default_payment_method_id == agreement.other.id
    event = b.session.scalars(select(AuditEvent).where(AuditEvent.action == "payment_method.default_changed")).one()
    assert event.details["from_method"]["last4"] == "4242" and event.details["profile"] == agreement.profile.name


def test_r15_check_wire_only_where_the_profile_is_approved(b, agreement):
    with pytest.raises(NotEligible):
        methods.set_profile_default(b, agreement.owner, agreement.acc.id, agreement.profile.id, methods.CHECK_WIRE)
    b.session.rollback()
    agreement.profile.check_wire_approved = True
    f.commit(b)
    wire = methods.set_profile_default(b, agreement.owner, agreement.acc.id, agreement.profile.id, methods.CHECK_WIRE)
    assert not wire.is_card and agreement.profile.default_payment_method_id == wire.id
    again = methods.set_profile_default(b, agreement.owner, agreement.acc.id, agreement.profile.id, methods.CHECK_WIRE)
    assert again.id == wire.id  # one check/wire method per account


def test_r15_b8_an_expired_card_is_never_chosen_for_future_payments(b, agreement, payg):
    agreement.other.exp_month, agreement.other.exp_year = 10, 2026  # ended 2026-10-31; today 2026-11-25
    payg.spare.exp_month, payg.spare.exp_year = 10, 2026
    f.commit(b)
    with pytest.raises(InvalidInput):
        methods.set_profile_default(b, agreement.owner, agreement.acc.id, agreement.profile.id, agreement.other.id)
    b.session.rollback()
    with pytest.raises(InvalidInput):
        methods.preview_move(b, payg.admin, payg.acc.id, [payg.late.id], payg.spare.id)


def test_r15_readers_and_invoice_managers_may_not_change_the_default(b, agreement):
    for user in (agreement.reader, agreement.invoice_manager):
        with pytest.raises(NotAuthorized):
            methods.set_profile_default(b, user, agreement.acc.id, agreement.profile.id, agreement.other.id)
        b.session.rollback()
    assert b.session.get(type(agreement.profile), agreement.profile.id).default_payment_method_id == agreement.card.id


def test_b5_the_receipt_offers_the_card_paid_with_as_the_new_default(b, agreement):
    payment = Payment(idempotency_key="k-offer", account_id=agreement.acc.id, billing_profile_id=agreement.profile.id,
                      user_id=agreement.owner.id, payment_method_id=agreement.other.id, purpose=PaymentPurpose.INVOICE,
                      amount_minor=100_00, currency="SEK", gateway_reference="sbx", created_at=b.clock.now())
    b.session.add(payment)
    f.commit(b)
    assert methods.offer_as_default(b, agreement.owner, payment) == agreement.profile
    assert methods.offer_as_default(b, agreement.reader, payment) is None  # may not change it
    payment.payment_method_id = agreement.card.id  # already the default
    f.commit(b)
    b.session.expire_all()
    assert methods.offer_as_default(b, agreement.owner, b.session.get(Payment, payment.id)) is None


# --- B8: move subscriptions, shown first ------------------------------------------------

def test_b8_moving_shows_which_subscriptions_and_charges_move_then_moves_them(b, payg):
    preview = methods.preview_move(b, payg.admin, payg.acc.id, [payg.late.id, payg.ok.id], payg.spare.id)
    assert [s.id for s in preview.subscriptions] == [payg.late.id, payg.ok.id]
    assert preview.outstanding.minor == 150_00 and [s.id for s in preview.past_due] == [payg.late.id]
    b.session.rollback()
    methods.move_subscriptions(b, payg.admin, payg.acc.id, [payg.late.id, payg.ok.id], payg.spare.id, 150_00)
    b.session.expire_all()
    assert {s.payment_method_id for s in b.session.scalars(select(Subscription).where(
        Subscription.account_id == payg.acc.id))} == {payg.spare.id}
    # Nothing was paid: the past-due subscription stays past due, its charges with it.
    assert b.session.get(Subscription, payg.late.id).status == SubscriptionStatus.PAST_DUE
    assert b.session.get(Subscription, payg.late.id).outstanding_minor == 150_00


def test_b8_nothing_moves_when_the_charges_changed_since_the_preview(b, payg):
    with pytest.raises(InvalidInput):
        methods.move_subscriptions(b, payg.admin, payg.acc.id, [payg.late.id], payg.spare.id, 100_00)
    b.session.rollback()
    assert b.session.get(Subscription, payg.late.id).payment_method_id == payg.failed.id


def test_b8_moving_needs_subscriptions_of_this_account_that_change(b, payg, agreement):
    with pytest.raises(InvalidInput):
        methods.preview_move(b, payg.admin, payg.acc.id, [payg.late.id], payg.failed.id)  # already there
    with pytest.raises(NotFound):
        methods.preview_move(b, payg.admin, payg.acc.id, [payg.late.id], agreement.other.id)
    other = f.subscription(b, agreement.acc, agreement.card)
    f.commit(b)
    with pytest.raises(NotFound):
        methods.preview_move(b, payg.admin, payg.acc.id, [other.id], payg.spare.id)
    with pytest.raises(NotAuthorized):
        methods.preview_move(b, payg.member, payg.acc.id, [payg.late.id], payg.spare.id)


# --- B8: the expiring-card reminder ---------------------------------------------------------

def test_b8_a_card_expiring_within_30_days_is_reminded_of_once(b, payg):
    payg.unused.exp_month, payg.unused.exp_year = 11, 2026   # ends 2026-11-30: reminded
    payg.spare.exp_month, payg.spare.exp_year = 12, 2026     # ends 2026-12-31: not yet (36 days)
    f.commit(b)
    today = date(2026, 11, 25)
    assert methods.remind_expiring_cards(b, today) == 1
    assert methods.remind_expiring_cards(b, today) == 0  # once
    mail = b.session.scalars(select(OutboxMessage).where(OutboxMessage.template == "card_expiring")).one()
    assert mail.to_address == payg.acc.notification_email and mail.payload["expires_on"] == "2026-11-30"
    assert b.session.scalars(select(Notice.user_id).where(Notice.kind == "card_expiring")).all() == [payg.admin.id]
    # Six days later the other card's month comes within reach.
    assert methods.remind_expiring_cards(b, date(2026, 12, 2)) == 1


def test_b8_the_billing_cycle_sends_the_reminders(b, payg):
    payg.unused.exp_month, payg.unused.exp_year = 11, 2026
    f.commit(b)
    summary = lifecycle.run_billing_cycle(b)  # the clock says 2026-11-25
    assert summary.cards_reminded == 1


# --- B9: payments history and exports ------------------------------------------------------

def _payment(b, acc, method, when: datetime, minor=100_00, profile=None, key=None) -> Payment:
    p = Payment(idempotency_key=key or f"k-{acc.id}-{when.isoformat()}-{minor}", account_id=acc.id,
                billing_profile_id=profile.id if profile else None, payment_method_id=method.id,
                purpose=PaymentPurpose.INVOICE if profile else PaymentPurpose.SETTLE, amount_minor=minor,
                currency="SEK", gateway_reference="sbx", created_at=when)
    b.session.add(p)
    b.session.flush()
    return p


def test_b9_payments_newest_first_a_page_at_a_time(b, payg):
    for day in range(1, 31):
        _payment(b, payg.acc, payg.spare, datetime(2026, 11, day, 10), minor=day * 100)
    f.commit(b)
    first = history.payments_of(b, payg.member, payg.acc.id, per_page=25)
    assert first.total == 30 and [r.payment.amount_minor for r in first][:2] == [3000, 2900]
    second = history.payments_of(b, payg.member, payg.acc.id, page=first.next_page, per_page=25)
    assert [r.payment.amount_minor for r in second] == [500, 400, 300, 200, 100]
    assert (second.position, second.total, second.has_next) == (26, 30, False)
    last = history.payments_of(b, payg.member, payg.acc.id, page="last", per_page=25)
    assert [r.payment.amount_minor for r in last][-2:] == [200, 100] and last.position == 6


def test_b9_a_period_is_whole_days_in_the_readers_time_zone(b, payg):
    from zoneinfo import ZoneInfo
    # 23:30 UTC on 30 November is 00:30 on 1 December in Stockholm.
    late = _payment(b, payg.acc, payg.spare, datetime(2026, 11, 30, 23, 30))
    f.commit(b)
    december = Period(date(2026, 12, 1), date(2026, 12, 31))
    assert [r.payment.id for r in history.payments_of(b, payg.admin, payg.acc.id, december)] == [late.id]
    in_utc = Period(date(2026, 12, 1), date(2026, 12, 31), ZoneInfo("UTC"))
    assert list(history.payments_of(b, payg.admin, payg.acc.id, in_utc)) == []
    with pytest.raises(InvalidInput):
        Period(date(2026, 12, 2), date(2026, 12, 1))


def test_b9_customer_agreement_payments_only_for_profiles_the_person_has_a_role_on(b, agreement):
    other_profile = f.profile(b, agreement.acc)
    mine = _payment(b, agreement.acc, agreement.card, datetime(2026, 11, 3, 9), profile=agreement.profile)
    theirs = _payment(b, agreement.acc, agreement.card, datetime(2026, 11, 4, 9), profile=other_profile)
    f.commit(b)
    assert [r.payment.id for r in history.payments_of(b, agreement.reader, agreement.acc.id)] == [mine.id]
    assert [r.payment.id for r in history.payments_for_export(b, agreement.reader, agreement.acc.id, Period())] \
        == [mine.id]
    with pytest.raises(NotFound):
        overview.payment_of(b, agreement.reader, agreement.acc.id, theirs.id)


def test_b9_the_export_reads_every_payment_in_batches_oldest_first(b, payg, monkeypatch):
    monkeypatch.setattr(history, "EXPORT_BATCH", 7)
    made = [_payment(b, payg.acc, payg.spare, datetime(2026, 11, 1, 8) + timedelta(minutes=i)).id for i in range(20)]
    f.commit(b)
    assert [r.payment.id for r in history.payments_for_export(b, payg.admin, payg.acc.id, Period())] == made


# --- B10: personal settings --------------------------------------------------------------

def test_b10_a_person_chooses_their_language_and_time_zone(b, payg):
    overview.change_personal_settings(b, payg.member, "en", "Europe/London")
    b.session.expire_all()
    me = b.session.get(User, payg.member.id)
    assert (me.locale, me.timezone) == ("en", "Europe/London")
    assert b.session.scalars(select(AuditEvent.action)).all() == ["settings.changed"]
    for locale, zone in (("fi", "Europe/London"), ("sv", "Mars/Olympus"), ("sv", "")):
        with pytest.raises(InvalidInput):
            overview.change_personal_settings(b, payg.member, locale, zone)


# --- R06/B2: what is owed, for every role ------------------------------------------------------

def test_r06_b2_the_overview_total_is_what_every_subscription_owes(b, payg):
    deleted = f.past_due(b, payg.acc, payg.spare, charges=(7_00,))
    deleted.status = SubscriptionStatus.DELETED  # its charges are still owed
    f.commit(b)
    counts = overview.status_counts(b, payg.acc)
    assert overview.total_outstanding(payg.acc, counts).minor == 150_00 + 7_00

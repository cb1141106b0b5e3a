"""What the account looks like to each user, and the settings they may change:
R06, R11, R13, R14, B1, B2, B3."""
from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from portal.billing.accounts import access, overview
from portal.billing.accounts.access import Action
from portal.errors import InvalidInput, NotAuthorized, NotFound
from portal.models import (AccountKind, AuditEvent, OutboxMessage, Role, SubscriptionStatus)
from tests import factories as f


@pytest.fixture
def payg(b):
    acc = f.account(b)
    card = f.card(b, acc)
    late = f.past_due(b, acc, card, past_due_since=date(2026, 11, 2))
    off = f.subscription(b, acc, card, SubscriptionStatus.DISABLED, past_due_since=date(2026, 9, 1),
                         disabled_on=date(2026, 10, 1))
    ok = f.subscription(b, acc, card)
    admin = f.user(b, Role.ACCOUNT_ADMIN, acc)
    member = f.user(b, Role.ACCOUNT_USER, acc)
    f.commit(b)
    return type("Payg", (), dict(acc=acc, card=card, late=late, off=off, ok=ok, admin=admin, member=member))


def test_r06_overview_lists_subscriptions_with_status_and_settle_link(b, payg):
    views = {v.subscription.id: v for v in overview.subscription_page(b, payg.acc)}
    assert views[payg.late.id].subscription.status == SubscriptionStatus.PAST_DUE
    assert views[payg.late.id].can_settle
    assert not views[payg.ok.id].can_settle


def test_b1_disabled_subscription_has_the_settle_link_too(b, payg):
    views = {v.subscription.id: v for v in overview.subscription_page(b, payg.acc)}
    assert views[payg.off.id].can_settle
    assert views[payg.off.id].delete_on == date(2026, 12, 30)


def test_b3_banners_warn_while_past_due_and_alert_when_disabled(b, payg):
    result = overview.banners(b, payg.acc)
    assert [(x.level, x.kind, x.day) for x in result] == [
        ("error", "disabled", date(2026, 12, 30)), ("warning", "past_due", date(2026, 12, 2))]


def test_b3_no_banner_in_good_standing(b):
    acc = f.account(b)
    f.subscription(b, acc, f.card(b, acc))
    f.commit(b)
    assert overview.banners(b, acc) == []


def test_r14_user_sees_agreement_type_and_role(b):
    acc = f.account(b, AccountKind.CUSTOMER_AGREEMENT)
    profile = f.profile(b, acc)
    manager = f.user(b, Role.INVOICE_MANAGER, acc, profile)
    f.commit(b)
    membership = overview.membership(b, manager, acc.id)
    assert membership.account.kind == AccountKind.CUSTOMER_AGREEMENT
    assert membership.roles == {Role.INVOICE_MANAGER}


def test_b2_refusals_say_why(b, payg):
    assert access.decide(b.session, payg.member, payg.acc, Action.SETTLE).reason == "not_account_admin"
    assert access.decide(b.session, payg.admin, payg.acc, Action.PAY_INVOICES).reason == "wrong_account_kind"
    assert access.decide(b.session, payg.admin, payg.acc, Action.SETTLE)
    stranger = f.user(b)
    assert access.decide(b.session, stranger, payg.acc, Action.VIEW).reason == "not_a_member"
    with pytest.raises(NotFound):
        access.get_account(b.session, stranger, payg.acc.id)


def test_r11_admin_changes_the_notification_address_and_both_are_told(b, payg):
    old = payg.acc.notification_email
    assert overview.change_notification_email(b, payg.admin, payg.acc.id, " Anna@Example.COM ") == "Anna@example.com"
    b.session.refresh(payg.acc)
    assert payg.acc.notification_email == "Anna@example.com"
    sent = sorted(b.session.scalars(select(OutboxMessage.to_address)).all())
    assert sent == sorted([old, "Anna@example.com"])
    assert b.session.scalars(select(AuditEvent.action)).all() == ["notification_email.changed"]


def test_r11_only_the_admin_and_only_a_valid_address(b, payg):
    with pytest.raises(NotAuthorized):
        overview.change_notification_email(b, payg.member, payg.acc.id, "x@example.com")
    with pytest.raises(InvalidInput):
        overview.change_notification_email(b, payg.admin, payg.acc.id, "not an address")
    b.session.refresh(payg.acc)
    assert payg.acc.notification_email.startswith("billing")


def test_r13_support_request_opened_and_listed(b, payg):
    request = overview.open_support_request(b, payg.member, payg.acc.id, payg.off.id,
                                           "Paid but still disabled", "I paid yesterday.")
    assert [r.id for r in overview.support_requests_of(b, payg.member, payg.acc.id)] == [request.id]
    assert overview.support_requests_of(b, payg.admin, payg.acc.id) == []  # each sees their own
    mail = b.session.scalars(select(OutboxMessage)).one()
    assert (mail.template, mail.to_address) == ("support_request_received", payg.member.email)


def test_r13_support_request_input_is_checked(b, payg):
    with pytest.raises(InvalidInput, match="subject"):
        overview.open_support_request(b, payg.member, payg.acc.id, None, "  ", "body")
    with pytest.raises(InvalidInput, match="body"):
        overview.open_support_request(b, payg.member, payg.acc.id, None, "subject", "x" * 5001)
    other = f.account(b)
    foreign = f.subscription(b, other, None)
    f.commit(b)
    with pytest.raises(NotFound):
        overview.open_support_request(b, payg.member, payg.acc.id, foreign.id, "s", "b")

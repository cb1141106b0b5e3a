"""Issue 33 item 3 (a saved card updated in place) and ux-F4 (the card that failed is
known as such), in the service layer."""
from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from portal.billing.payments import methods
from portal.errors import CardDeclined, CardRemoved, InvalidCard, NotAuthorized, NotFound
from portal.models import AuditEvent, OutboxMessage, PaymentMethod, Subscription
from tests import factories as f
from tests.billing import test_methods

payg, agreement = test_methods.payg, test_methods.agreement  # the same accounts as B8's tests


def events(b) -> list[str]:
    return b.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()


def test_i33_item3_a_saved_card_gets_its_new_expiry_and_name_in_place(b, agreement):
    card = agreement.card  # the profile's default
    card.expiry_reminded_on = date(2026, 11, 20)
    f.commit(b)
    charged_before = len(b.gateway.ledger())
    method = methods.update_card(b, agreement.owner, agreement.acc.id, card.id, 3, 2031, "  Anna Lindqvist ")
    b.session.expire_all()
    method = b.session.get(PaymentMethod, card.id)
    assert (method.exp_month, method.exp_year, method.holder_name) == (3, 2031, "Anna Lindqvist")
    assert method.gateway_token is not None and method.removed_at is None
    assert agreement.profile.default_payment_method_id == card.id  # what used it keeps using it
    assert method.expiry_reminded_on is None  # the new expiry gets its own reminder
    assert len(b.gateway.ledger()) == charged_before  # checked with the issuer, never charged
    event = b.session.scalars(select(AuditEvent).where(AuditEvent.action == "payment_method.updated")).one()
    assert event.actor_user_id == agreement.owner.id and event.details["expires_on"] == "2031-03-31"
    assert event.details["from_expires_on"] == "2030-12-31"
    mail = b.session.scalars(select(OutboxMessage).where(OutboxMessage.template == "payment_method_updated")).one()
    assert mail.to_address == agreement.acc.notification_email
    assert mail.payload["expires_on"] == "2031-03-31" and mail.payload["method"]["last4"] == method.last4


def test_i33_item3_subscriptions_on_the_card_stay_on_it(b, payg):
    sub = f.subscription(b, payg.acc, payg.spare)
    f.commit(b)
    methods.update_card(b, payg.admin, payg.acc.id, payg.spare.id, 1, 2032, "Holder")
    b.session.expire_all()
    assert b.session.get(Subscription, sub.id).payment_method_id == payg.spare.id


@pytest.mark.parametrize("month, year, holder, reason", [
    (10, 2026, "A", "expired"), (13, 2030, "A", "expiry"), (0, 2030, "A", "expiry"), (5, 26, "A", "expiry"),
    (5, 2030, "   ", "holder"), (5, 2030, "x" * 201, "holder")])
def test_i33_item3_the_server_refuses_an_expiry_or_name_that_is_no_card_s(b, payg, month, year, holder, reason):
    before = (payg.spare.exp_month, payg.spare.exp_year, payg.spare.holder_name)
    with pytest.raises(InvalidCard) as refused:
        methods.update_card(b, payg.admin, payg.acc.id, payg.spare.id, month, year, holder)
    assert refused.value.reason == reason
    b.session.rollback()
    spare = b.session.get(PaymentMethod, payg.spare.id)
    assert (spare.exp_month, spare.exp_year, spare.holder_name) == before
    assert events(b) == [] and not b.session.scalars(select(OutboxMessage)).all()


def test_i33_item3_a_card_the_issuer_refuses_is_left_as_it_was(b, payg):
    with pytest.raises(CardDeclined) as declined:
        methods.update_card(b, payg.admin, payg.acc.id, payg.failed.id, 6, 2031, "Holder")
    assert declined.value.reason == "insufficient_funds"
    b.session.rollback()
    assert b.session.get(PaymentMethod, payg.failed.id).exp_year == 2030
    assert events(b) == ["payment_method.update_declined"]
    assert not b.session.scalars(select(OutboxMessage)).all()


def test_i33_item3_only_who_manages_payment_methods_updates_a_card_of_this_account(b, payg, agreement):
    with pytest.raises(NotAuthorized):
        methods.update_card(b, payg.member, payg.acc.id, payg.spare.id, 6, 2031, "Holder")
    with pytest.raises(NotAuthorized):
        methods.update_card(b, agreement.reader, agreement.acc.id, agreement.card.id, 6, 2031, "Holder")
    with pytest.raises(NotFound):  # another account's card
        methods.update_card(b, payg.admin, payg.acc.id, agreement.card.id, 6, 2031, "Holder")
    assert events(b) == ["access.refused", "access.refused"]
    methods.remove_card(b, payg.admin, payg.acc.id, payg.unused.id)
    with pytest.raises(CardRemoved):
        methods.update_card(b, payg.admin, payg.acc.id, payg.unused.id, 6, 2031, "Holder")


def test_i33_f04_the_card_whose_charge_failed_is_known_as_such(b, payg):
    uses = {u.method.id: u for u in methods.methods_page(b, payg.admin, payg.acc.id).methods}
    assert uses[payg.failed.id].failed
    assert not uses[payg.spare.id].failed and not uses[payg.unused.id].failed
    assert methods.card_use(b, payg.admin, payg.acc.id, payg.failed.id).failed

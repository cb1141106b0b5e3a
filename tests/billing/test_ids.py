"""Ids from outside that cannot be ids (too large for the column, negative, booleans)
are "not found" in every service — never a database error (PostgreSQL refuses an
integer out of range in a query; SQLite one beyond 64 bits)."""
from __future__ import annotations

import pytest

from portal.billing import payments
from portal.billing.accounts import access, overview
from portal.errors import NotFound
from portal.billing.ids import MAX_ID, is_id
from portal.billing.payments import UseSavedCard
from portal.models import Role
from tests import factories as f

BAD = [MAX_ID + 1, 2**63, 10**30, 0, -1, True]


def test_is_id():
    assert is_id(1) and is_id(MAX_ID)
    assert not any(is_id(v) for v in BAD + ["1", 1.0, None])


@pytest.mark.parametrize("bad", BAD, ids=str)
def test_every_lookup_answers_not_found(b, bad):
    acc = f.account(b)
    card = f.card(b, acc)
    sub = f.past_due(b, acc, card)
    admin = f.user(b, Role.ACCOUNT_ADMIN, acc)
    agreement = f.account(b, kind="customer_agreement")
    profile = f.profile(b, agreement, default=f.card(b, agreement))
    owner = f.user(b, Role.OWNER, agreement, profile)
    f.commit(b)
    calls = [
        lambda: access.get_account(b.session, admin, bad),
        lambda: payments.settleable_subscription(b, admin, bad),
        lambda: payments.quote_settlement(b, admin, sub.id, bad),
        lambda: payments.settle_balance(b, admin, sub.id, UseSavedCard(bad), 100_00, "key-ids-000001"),
        lambda: payments.payable_profile(b, owner, bad),
        lambda: payments.quote_invoices(b, owner, profile.id, [bad]),
        lambda: overview.viewable_profile(b, owner, bad),
        lambda: overview.open_support_request(b, admin, acc.id, bad, "Hej", "Hjälp"),
        lambda: overview.invoice_of(b, owner, agreement.id, bad),
        lambda: overview.payment_of(b, admin, acc.id, bad),
        lambda: overview.dismiss_notice(b, admin, acc.id, bad),
    ]
    for call in calls:
        with pytest.raises(NotFound):
            call()
        b.session.rollback()
    assert b.gateway.charges_for() == []

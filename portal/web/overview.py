"""Overview (Översikt): subscriptions and banners (R06, B1, B3, R12); for a customer
agreement the Summary tab with the total due and Pay now (R20), the agreement type
and the user's role (R14)."""
from __future__ import annotations

from flask import current_app

from portal.billing.accounts import access, credit_history, overview
from portal.billing.invoicing.remittance import remittance_from_config
from portal.billing.accounts.access import Action
from portal.billing.bank import autogiro_status
from portal.models import AccountKind
from portal.web.common import page_arg, signed_in_blueprint, user
from portal.services import billing
from portal.web.rendering import render

bp = signed_in_blueprint("overview")


@bp.get("/accounts/<int:account_id>/")
def show(account_id: int):
    b, me = billing(), user()
    membership = overview.membership(b, me, account_id)
    account = membership.account
    payg = account.kind == AccountKind.PAY_AS_YOU_GO
    summaries = overview.profile_summaries(b, me, account)
    counts = overview.status_counts(b, account) if payg else None
    banners = overview.banners(b, account, {s.profile.id: s for s in summaries}, counts)
    can_pay = {s.profile.id: access.decide(b.session, me, account, Action.PAY_INVOICES, s.profile.id)
               for s in summaries}
    subscriptions = overview.subscription_page(b, account, page_arg(), counts=counts) if payg else None
    return render(
        "overview/overview.html", account=account, membership=membership, subscriptions=subscriptions,
        sub_mandates=autogiro_status.for_subscriptions(b, [v.subscription for v in subscriptions or ()]),  # B23
        outstanding=overview.total_outstanding(account, counts) if payg else None,
        banners=banners, notices=overview.notices_for(b, me, account.id, banners),
        credit=credit_history.balance_seen_by(b, me, account), had_credit=credit_history.had_credit(b, me, account),
        settle=access.decide(b.session, me, account, Action.SETTLE),
        summaries=[(s, can_pay[s.profile.id]) for s in summaries], can_pay=can_pay,
        autogiro=autogiro_status.for_overview(b, account, {s.profile.id: s.invoices for s in summaries}),  # B23
        remittance=None if payg else remittance_from_config(current_app.config))  # ux-F5

"""Settle balance (Reglera saldo): R04, R05, R07–R10, R13, B5."""
from __future__ import annotations

from flask import current_app, url_for

from portal.billing import payments
from portal.billing.accounts import overview
from portal.billing.context import Billing
from portal.errors import BillingError
from portal.billing.invoicing.remittance import remittance_from_config
from portal.models import Subscription, User
from portal.web import checkout
from portal.web.common import page_arg, signed_in_blueprint, user
from portal.services import billing

bp = signed_in_blueprint("settle")


def _checkout(b: Billing, me: User, subscription: Subscription) -> checkout.Checkout:
    account = subscription.account
    return checkout.Checkout(
        kind="settle", account=account, cards=payments.cards_of(b, account),
        quote=lambda method_id: payments.preview_settlement(
            b, subscription, method_id, page_arg(), page_arg("chosen_page")),
        action_url=url_for("settle.pay", account_id=account.id, subscription_id=subscription.id),
        back_url=url_for("overview.show", account_id=account.id),
        paid_by=lambda: payments.last_payment_of(b, subscription),
        extra={"subscription": subscription, "failed_method_id": subscription.payment_method_id,
               # R12: past due (disable date) or disabled (since, deletion date), as on Overview.
               "banners": [x for x in [overview.subscription_banner(b, subscription)] if x],
               # B11: a check/wire payer quotes the account's OCR reference with the transfer.
               "remittance": remittance_from_config(current_app.config).for_account(account.id)})


@bp.get("/accounts/<int:account_id>/subscriptions/<int:subscription_id>/settle")
def start(account_id: int, subscription_id: int):
    b, me = billing(), user()
    subscription = payments.settleable_subscription(b, me, subscription_id, account_id)  # R02
    return checkout.show(_checkout(b, me, subscription))


@bp.post("/accounts/<int:account_id>/subscriptions/<int:subscription_id>/settle")
def pay(account_id: int, subscription_id: int):
    b, me = billing(), user()
    subscription = payments.settleable_subscription(b, me, subscription_id, account_id)  # R02, for the page
    page = _checkout(b, me, subscription)
    form, choice = checkout.submitted()
    if choice is None:
        return checkout.show(page, status=422, pay_form=form)
    try:
        payment = payments.settle_balance(b, me, subscription_id, choice, int(form.expected_total.data),
                                          form.idempotency_key.data)  # R02 again, under the lock
    except BillingError as refusal:
        return checkout.refused(page, form, refusal)
    return checkout.paid(page, payment.id)

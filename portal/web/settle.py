"""Settle balance (Reglera saldo): R04, R05, R07–R10, R13, B5 — and the receipt."""
from __future__ import annotations

from flask import current_app, flash, url_for
from flask_babel import lazy_gettext as _l

from portal.billing import accounts, payments
from portal.billing.remittance import remittance_from_config
from portal.web import checkout
from portal.web.common import page_arg, see_other, signed_in_blueprint, user
from portal.web.deps import billing
from portal.web.rendering import render

bp = signed_in_blueprint("settle")


def _checkout(account_id: int, subscription_id: int) -> checkout.Checkout:
    b, me = billing(), user()
    subscription = payments.settleable_subscription(b, me, subscription_id, account_id)  # R02
    account = subscription.account
    return checkout.Checkout(
        kind="settle", account=account, cards=payments.cards_of(b, account),
        quote=lambda method_id: payments.preview_settlement(
            b, me, subscription_id, method_id, page_arg(), page_arg("chosen_page")),
        pay=lambda choice, expected, key: payments.settle_balance(
            b, me, subscription_id, choice, expected, key),
        action_url=url_for("settle.pay", account_id=account_id, subscription_id=subscription_id),
        done_url=lambda payment_id: url_for("settle.receipt", account_id=account_id, payment_id=payment_id),
        back_url=url_for("overview.show", account_id=account_id),
        extra={"subscription": subscription, "failed_method_id": subscription.payment_method_id,
               # R12: past due (disable date) or disabled (since, deletion date), as on Overview.
               "banners": [x for x in [accounts.subscription_banner(b, subscription)] if x],
               "remittance": remittance_from_config(current_app.config)})


@bp.get("/accounts/<int:account_id>/subscriptions/<int:subscription_id>/settle")
def start(account_id: int, subscription_id: int):
    return checkout.show(_checkout(account_id, subscription_id))


@bp.post("/accounts/<int:account_id>/subscriptions/<int:subscription_id>/settle")
def pay(account_id: int, subscription_id: int):
    return checkout.submit(_checkout(account_id, subscription_id))


@bp.get("/accounts/<int:account_id>/payments/<int:payment_id>")
def receipt(account_id: int, payment_id: int):
    b = billing()
    payment = accounts.payment_of(b, user(), account_id, payment_id)
    return render("payments/receipt.html", account=payment.payment_method.account, payment=payment,
                  paid=accounts.paid_subscriptions(b, payment, page_arg()))


@bp.post("/accounts/<int:account_id>/payments/check")
def check(account_id: int):
    """After "we could not confirm the payment": ask the gateway under the same key."""
    result = payments.check_unconfirmed(billing(), user(), account_id)
    if result.paid:
        flash(_l("The payment went through. Here is the receipt."), "success")
        return see_other("settle.receipt", account_id=account_id, payment_id=result.paid[-1].id)
    if result.declined:
        flash(_l("The payment was declined after all. Nothing was charged."), "info")
    else:
        flash(_l("No payment is waiting to be confirmed."), "info")
    return see_other("overview.show", account_id=account_id)

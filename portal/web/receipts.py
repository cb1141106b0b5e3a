"""A payment's receipt (Kvitto), for every kind of payment, "Check the payment" after
the gateway could not confirm one (M5), and the return from the bank's challenge (B13)."""
from __future__ import annotations

from flask import flash, url_for
from flask_babel import lazy_gettext as _l, pgettext

from portal import document_store
from portal.billing import payments
from portal.billing.accounts import overview
from portal.billing.payments import methods
from portal.errors import AlreadyPaid, AuthenticationRequired, CardDeclined
from portal.models import PaymentPurpose
from portal.web import checkout
from portal.billing.ids import payment_reference
from portal.document_files import receipt_pdf
from portal.i18n import SUPPORTED_LOCALES, page_lang
from portal.web.common import account_for, page_arg, see_other, signed_in_blueprint, user
from portal.services import billing
from portal.web.rendering import download, render

bp = signed_in_blueprint("receipts")


@bp.get("/accounts/<int:account_id>/payments/<int:payment_id>")
def show(account_id: int, payment_id: int):
    b = billing()
    payment = overview.payment_of(b, user(), account_id, payment_id)
    return render("payments/receipt.html", account=payment.payment_method.account, payment=payment,
                  reference=payment_reference(payment.id),
                  paid=overview.paid_subscriptions(b, payment, page_arg()),
                  invoices_paid=overview.invoices_paid_by(b, payment),
                  not_active=overview.paid_but_not_active(b, payment),
                  credited=overview.credited_by(b, payment),
                  offer_default=methods.offer_as_default(b, user(), payment))


@bp.get("/accounts/<int:account_id>/payments/<int:payment_id>/pdf")
def pdf(account_id: int, payment_id: int):
    """The receipt as a PDF/A-3 file, in the page's language (B6): the one stored at
    payment (issue 28), made now only if there is none yet in this language."""
    b = billing()
    payment = overview.payment_of(b, user(), account_id, payment_id)
    lang = page_lang()
    # The pseudo-locale (development, tests) is rendered, never stored.
    content = (document_store.receipt_pdf(b, payment, lang).content if lang in SUPPORTED_LOCALES
               else receipt_pdf(document_store.receipt_document_of(b, payment)))
    # Translators: the start of a downloaded receipt's file name, e.g. "receipt-12.pdf".
    word = pgettext("file name", "receipt")
    return download(content, "application/pdf", f"{word}-{payment.id}.pdf")


@bp.get("/accounts/<int:account_id>/payments/authenticated/<key>")
def authenticated(account_id: int, key: str):
    """B13: back from the bank's challenge (a plain redirect, as banks send people
    back): finish the payment under its key. Safe to arrive twice or to reload: the
    key charges once, and a finished one shows its receipt."""
    b, me = billing(), user()
    account = account_for(account_id)
    waiting = payments.awaiting_purpose(b, me, account.id, key)  # where a decline sends them back to
    try:
        payment = payments.finish_authenticated(b, me, account.id, key)
    except AlreadyPaid as done:
        return see_other("receipts.show", account_id=account.id, payment_id=done.payment_id)
    except AuthenticationRequired as still_waiting:  # came back without finishing: the bank again
        return checkout.to_the_bank(still_waiting)
    except CardDeclined as refusal:  # now, or earlier and this is the decline page reloaded
        if waiting is None and refusal.attempt_id is not None:
            waiting = payments.declined_attempt(b, me, account.id, refusal.attempt_id)
        return checkout.declined(_try_again(account, waiting), refusal.reason, refusal.attempt_id)
    # ux-F16: the receipt itself says "Payment received": no second banner saying the same
    return checkout.with_receipt(see_other("receipts.show", account_id=account.id, payment_id=payment.id),
                                 payment.id)


@bp.get("/accounts/<int:account_id>/payments/declined/<int:attempt_id>")
def declined(account_id: int, attempt_id: int):
    """A declined payment's page again, by its own address (issue 20 item 5): the Pay
    POST shows it, and its language switch leads here. Only the person who paid sees
    it; it reads the audit log and charges nothing."""
    b = billing()
    account = account_for(account_id)
    attempt = payments.declined_attempt(b, user(), account.id, attempt_id)
    return checkout.declined(_try_again(account, attempt), attempt.reason, attempt_id, status=200)


def _try_again(account, attempt) -> checkout.Checkout:
    """The decline page's way back: the page the payment was started from."""
    if attempt is not None and attempt.purpose == PaymentPurpose.SETTLE:
        kind, again = "settle", url_for("settle.start", account_id=account.id, subscription_id=attempt.subscription_id)
    elif attempt is not None:
        kind, again = "invoices", url_for("invoices.start", account_id=account.id,
                                          profile_id=attempt.billing_profile_id, invoice=attempt.invoice_ids or [])
    else:
        kind, again = "settle", url_for("overview.show", account_id=account.id)
    return checkout.Checkout(kind=kind, account=account, cards=[], quote=lambda _method_id: None,
                             action_url=again, back_url=url_for("overview.show", account_id=account.id))


@bp.post("/accounts/<int:account_id>/payments/check")
def check(account_id: int):
    """After "we could not confirm the payment": ask the gateway under the same key."""
    result = payments.check_unconfirmed(billing(), user(), account_id)
    if result.paid:
        # ux-F16: the receipt itself says "Payment received": no second banner saying the same
        return checkout.with_receipt(
            see_other("receipts.show", account_id=account_id, payment_id=result.paid[-1].id), result.paid[-1].id)
    if result.declined:
        flash(_l("The payment was declined after all. Nothing was charged."), "info")
    else:
        flash(_l("No payment is waiting to be confirmed."), "info")
    return see_other("overview.show", account_id=account_id)

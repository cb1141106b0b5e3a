"""The pages of the one payment flow behind Settle balance and Pay now: Select a
payment method (an htmx partial), see what will be charged, Pay (one PaymentForm, one
template). Each route calls its own service (settle.py, invoices.py); this module only
turns a form into a `MethodChoice` and a service's answer or refusal into a page."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import flash, make_response, redirect, request, url_for
from flask_babel import gettext as _, lazy_gettext as _l

from portal.errors import (AlreadyPaid, AuthenticationRequired, BalanceChanged, BillingError, CardDeclined,
                           InvalidCard, NothingToPay, PaymentAwaitsAuthentication, PaymentFormReused,
                           PaymentInProgress, CardRemoved)
from portal import document_store
from portal.i18n import page_lang, this_page_is
from portal.services import billing
from portal.billing.payments import MethodChoice, UseNewCard, UseSavedCard
from portal.forms import (CARD_NUMBER_INVALID, CVC_INVALID, HOLDER_MISSING, NEW_CARD, MethodChoiceForm,
                          PaymentForm)
from portal.models import PaymentMethod
from portal.wording import DECLINE_REASON, card_name
from portal.web.rendering import render

TEMPLATE = "payments/checkout.html"
PANEL = "payment_panel"

# Which field an InvalidCard reason belongs to.
CARD_ERROR_FIELD = {"number": "card_number", "expired": "exp_year", "expiry": "exp_month",
                    "cvc": "cvc", "holder": "holder"}
CARD_ERROR_TEXT = {
    "number": CARD_NUMBER_INVALID,
    "expired": _l("The card has expired. Use another card."),
    "expiry": _l("Enter a valid expiry date"),
    "cvc": CVC_INVALID,
    "holder": HOLDER_MISSING,
}


@dataclass
class Checkout:
    """What one checkout page needs, for a payer the route has checked (R02/R19);
    `quote(method_id)` asks the service layer what would be charged."""
    kind: str                                   # "settle" or "invoices"
    account: Any
    cards: list[PaymentMethod]
    quote: Callable[[int | None], Any]
    action_url: str
    back_url: str
    extra: dict = field(default_factory=dict)
    # Settle balance: the payment that last paid (a page opened again after paying).
    paid_by: Callable[[], int | None] | None = None

    def receipt_url(self, payment_id: int) -> str:
        return url_for("receipts.show", account_id=self.account.id, payment_id=payment_id)

    def choices(self) -> list[tuple[str, str]]:
        failed = self.extra.get("failed_method_id")
        return [(str(c.id), _("%(card)s (the card that failed)", card=card_name(c)) if c.id == failed
                 else card_name(c)) for c in self.cards] + [(NEW_CARD, str(_l("Add a new card")))]

    def selected(self, raw: str | None) -> tuple[str | None, int | None]:
        """('12', 12) for a saved card, ('new', None), or (None, None)."""
        if raw == NEW_CARD:
            return NEW_CARD, None
        if raw and raw.isascii() and raw.isdigit() and any(c.id == int(raw) for c in self.cards):
            return raw, int(raw)
        return None, None


def show(checkout: Checkout, status: int = 200, pay_form: PaymentForm | None = None,
         notice: str | None = None):
    """GET: the page, or only the payment panel when htmx asks (method chosen)."""
    raw = pay_form.method.data if pay_form is not None else request.args.get("method")
    chosen, method_id = checkout.selected(raw)
    choice_form = MethodChoiceForm(formdata=None, method=chosen)
    choice_form.method.choices = checkout.choices()
    if raw is not None and chosen is None:
        choice_form.method.errors = [_("Select a payment method")]
        status = 422 if status == 200 else status
    try:
        quote = checkout.quote(method_id)
    except NothingToPay:  # paid meanwhile (a second tab, an old email's Pay now link)
        return nothing_left(checkout)
    if checkout.kind == "settle" and quote.total.minor <= 0 and checkout.paid_by is not None:
        payment_id = checkout.paid_by()  # Back after paying, or a second tab (issue 20 item 2)
        if payment_id is not None:
            return already_paid(checkout, payment_id)
    part = checkout.extra.get("part")  # B12: only this much of the total, now
    if pay_form is None:
        pay_form = PaymentForm(formdata=None, method=chosen, expected_total=str(quote.total.minor))
    else:
        pay_form.method.data = chosen
        pay_form.expected_total.data = str(quote.total.minor)
        pay_form.forget_secrets()
    pay_form.part.data = str(part.minor) if part is not None else ""
    chosen_card = next((c for c in checkout.cards if c.id == method_id), None)
    return render(TEMPLATE, block=PANEL, status=status, checkout=checkout, account=checkout.account,
                  quote=quote, chosen=chosen, chosen_card=chosen_card, choice_form=choice_form,
                  form=pay_form, notice=notice, **checkout.extra)


def submitted() -> tuple[PaymentForm, MethodChoice | None]:
    """The posted Pay form and the method it chose; None when the form is invalid
    (its errors say why: `show(…, status=422, pay_form=form)`)."""
    form = PaymentForm()
    choice = _choice(form) if form.validate_on_submit() else None
    if choice is None and not form.errors:
        form.method.errors = [_("Select a payment method")]
    return form, choice


def _choice(form: PaymentForm) -> MethodChoice | None:
    if form.is_new_card:
        return UseNewCard(form.card())
    if form.method.data and form.method.data.isascii() and form.method.data.isdigit():
        return UseSavedCard(int(form.method.data))
    return None


def refused(checkout: Checkout, form: PaymentForm, refusal: BillingError):
    """A payment the service refused, as a page that says why and what to do; a
    refusal with no page of its own here goes on to the error pages (errors.py)."""
    if isinstance(refusal, InvalidCard):
        getattr(form, CARD_ERROR_FIELD.get(refusal.reason, "card_number")).errors = [
            CARD_ERROR_TEXT.get(refusal.reason, CARD_ERROR_TEXT["number"])]
        return show(checkout, status=422, pay_form=form)
    if isinstance(refusal, CardDeclined):
        return declined(checkout, refusal.reason, refusal.attempt_id)
    if isinstance(refusal, AuthenticationRequired) and not isinstance(refusal, PaymentAwaitsAuthentication):
        return to_the_bank(refusal)
    if isinstance(refusal, BalanceChanged):
        form = PaymentForm(formdata=None, method=form.method.data)  # a fresh key for the new total
        return show(checkout, status=409, pay_form=form, notice=_(
            "The amount to pay has changed since the page was shown. Nothing was charged. "
            "Check the new total below and press the button again."))
    if isinstance(refusal, CardRemoved):  # removed in another tab, or by another person
        return show(checkout, status=409, pay_form=PaymentForm(formdata=None), notice=_(
            "The card you chose has been removed meanwhile. Nothing was charged. Choose another card."))
    if isinstance(refusal, PaymentInProgress):  # issue 27: another tab's or person's, at the gateway now
        return show(checkout, status=409, pay_form=form, notice=_(
            "Another payment for this account is being made right now, in another tab or by another "
            "person. Nothing was charged by this one. Wait a moment, then check the total below before "
            "you press the button again."))
    if isinstance(refusal, PaymentFormReused):
        form = PaymentForm(formdata=None, method=form.method.data)
        return show(checkout, status=409, pay_form=form, notice=_(
            "This payment form was already used for an attempt with another card or amount, so "
            "nothing more was charged. Check the details below and press the button again."))
    if isinstance(refusal, AlreadyPaid):
        flash(_l("This payment has already been made. Here is the receipt."), "info")
        return see_other_url(checkout.receipt_url(refusal.payment_id))
    if isinstance(refusal, NothingToPay):
        return nothing_left(checkout)
    raise refusal


def declined(checkout: Checkout, reason: str, attempt_id: int | None = None, status: int = 402):
    """R10: why, and what to check with the bank for that reason (B14 item 5). The
    answer to the Pay POST; `attempt_id` gives the page its own GET address
    (`receipts.declined`), where the language switch leads (issue 20 item 5)."""
    if attempt_id is not None:
        this_page_is("receipts.declined", account_id=checkout.account.id, attempt_id=attempt_id)
    return render("payments/declined.html", status=status, checkout=checkout, account=checkout.account,
                  reason=DECLINE_REASON.get(reason, DECLINE_REASON["generic_decline"]), reason_code=reason)


def to_the_bank(waiting: AuthenticationRequired):
    """B13: to the bank's challenge (303, a plain redirect: no JavaScript needed), which
    sends the cardholder back to `receipts.authenticated` under the attempt's key."""
    return see_other_url(challenge_url(waiting))


def challenge_url(waiting: AuthenticationRequired) -> str:
    return billing().gateway.challenge_url(
        waiting.challenge, url_for("receipts.authenticated", account_id=waiting.account_id, key=waiting.key))


def paid(checkout: Checkout, payment_id: int):
    """After Pay: the receipt (303, so a reload does not post again). Its PDF is made
    and stored once this answer has gone out (issue 28)."""
    return with_receipt(see_other_url(checkout.receipt_url(payment_id)), payment_id)


def with_receipt(response, payment_id: int):
    """Store the recorded payment's receipt PDF, in this page's language, after
    `response` has been sent: outside the payment's transaction and lock, unable to
    fail it (a failure leaves it to the first download)."""
    return document_store.make_receipt_after(response, billing(), payment_id, page_lang())


def already_paid(checkout: Checkout, payment_id: int):
    """The balance is paid: say so, and show the receipt — never the page that asks to pay."""
    flash(_l("The balance is paid. Here is the receipt."), "success")
    url = checkout.receipt_url(payment_id)
    if request.headers.get("HX-Request") == "true":
        response = make_response("", 200)
        response.headers["HX-Redirect"] = url
        return response
    return see_other_url(url)


def nothing_left(checkout: Checkout):
    """Back to where one came from, told why; htmx is told to go there too (a
    redirect answered to its partial request would swap a whole page into the panel)."""
    flash(_l("There is nothing left to pay: it has already been paid."), "info")
    if request.headers.get("HX-Request") == "true":
        response = make_response("", 200)
        response.headers["HX-Redirect"] = checkout.back_url
        return response
    return see_other_url(checkout.back_url)


def see_other_url(url: str):
    return redirect(url, code=303)

"""Invoices (Fakturor): list with filter, detail with remittance details (R03, R16,
R17, B4), and Pay now (Betala nu) through the shared checkout (R19–R22)."""
from __future__ import annotations

from flask import current_app, request, url_for

from portal.billing import accounts, payments
from portal.billing.access import Action, decide
from portal.billing.errors import NotFound
from portal.billing.remittance import remittance_from_config
from portal.forms import InvoiceFilterForm
from portal.models import InvoiceStatus
from portal.web import checkout
from portal.web.common import MAX_ID, account_for, page_arg, signed_in_blueprint, user
from portal.web.deps import billing
from portal.web.labels import INVOICE_STATUS
from portal.web.rendering import render

bp = signed_in_blueprint("invoices")


@bp.get("/accounts/<int:account_id>/invoices")
def index(account_id: int):
    b, me = billing(), user()
    account = account_for(account_id)
    form = InvoiceFilterForm(request.args)
    form.status.choices = [("", str(_all_label()))] + [(s.value, str(INVOICE_STATUS[s])) for s in InvoiceStatus]
    status = request.args.get("status") or None
    status_code = 200
    if status is not None and not form.validate():
        status, status_code = None, 422
    invoices = accounts.invoices_of(b, me, account.id, status, page_arg())
    can_pay = {p.id: decide(b.session, me, account, Action.PAY_INVOICES, p.id) for p in account.profiles}
    return render("invoices/list.html", block="invoice_table", status=status_code, account=account,
                  invoices=invoices, form=form, can_pay=can_pay)


def _all_label():
    from flask_babel import lazy_gettext as _l
    return _l("All")


@bp.get("/accounts/<int:account_id>/invoices/<int:invoice_id>")
def detail(account_id: int, invoice_id: int):
    b, me = billing(), user()
    invoice = accounts.invoice_of(b, me, account_id, invoice_id)
    account = invoice.billing_profile.account
    remittance = remittance_from_config(current_app.config).for_invoice(invoice.number)
    return render("invoices/detail.html", account=account, invoice=invoice, remittance=remittance,
                  can_pay=decide(b.session, me, account, Action.PAY_INVOICES, invoice.billing_profile_id))


def _invoice_ids() -> list[int] | None:
    """B4: ?invoice=ID pays one invoice; without it, everything due (R20)."""
    raw = request.values.getlist("invoice")
    if not raw:
        return None
    if not all(v.isascii() and v.isdigit() and len(v) < 12 and int(v) <= MAX_ID for v in raw):
        raise NotFound("invoice")
    return [int(v) for v in raw]


def _checkout(account_id: int, profile_id: int) -> checkout.Checkout:
    b, me = billing(), user()
    profile = payments.payable_profile(b, me, profile_id, account_id)  # R19
    account = profile.account
    invoice_ids = _invoice_ids()
    query = {"invoice": invoice_ids} if invoice_ids else {}
    return checkout.Checkout(
        kind="invoices", account=account, cards=payments.cards_of(b, account),
        quote=lambda _method_id: payments.quote_invoices(b, me, profile_id, invoice_ids),
        pay=lambda choice, expected, key: payments.pay_invoices(
            b, me, profile_id, invoice_ids, choice, expected, key),
        action_url=url_for("invoices.pay", account_id=account_id, profile_id=profile_id, **query),
        done_url=lambda payment_id: url_for("settle.receipt", account_id=account_id, payment_id=payment_id),
        back_url=url_for("invoices.index", account_id=account_id),
        extra={"profile": profile, "remittance": remittance_from_config(current_app.config)})


@bp.get("/accounts/<int:account_id>/profiles/<int:profile_id>/pay")
def start(account_id: int, profile_id: int):
    return checkout.show(_checkout(account_id, profile_id))


@bp.post("/accounts/<int:account_id>/profiles/<int:profile_id>/pay")
def pay(account_id: int, profile_id: int):
    return checkout.submit(_checkout(account_id, profile_id))

"""B22 (issue 33 item 5): one OCR reference for several invoices — choose a billing
profile's open invoices (POST, then redirect: no JavaScript needed) and see the
request's page: what it covers, the total, bankgiro, OCR, and whether it is still valid."""
from __future__ import annotations

from flask import current_app, flash, request
from flask_babel import gettext as _

from portal.billing.invoicing import payment_requests
from portal.billing.invoicing.payment_requests import TooFewInvoices
from portal.billing.invoicing.remittance import remittance_from_config
from portal.errors import NotFound
from portal.forms import PaymentRequestForm
from portal.services import billing
from portal.web.common import MAX_ID, see_other, signed_in_blueprint, user
from portal.web.rendering import render

bp = signed_in_blueprint("payment_requests")


@bp.route("/accounts/<int:account_id>/profiles/<int:profile_id>/one-transfer", methods=["GET", "POST"])
def new(account_id: int, profile_id: int):
    """GET: the open invoices, all chosen. POST: the request for those chosen (at least
    two), then its page; a refused role is 403 (audited), an invoice no longer open 409."""
    b, me = billing(), user()
    chosen = payment_requests.choice(b, me, account_id, profile_id)  # R19: before the form is read
    form = PaymentRequestForm() if request.method == "POST" else PaymentRequestForm(
        formdata=None, invoices=[str(i.id) for i in chosen.invoices])
    status = 200
    if request.method == "POST":
        valid, wanted = form.validate_on_submit(), form.invoices.data or []
        if valid and len(wanted) < payment_requests.MINIMUM_INVOICES:
            form.invoices.errors, valid = [_("Choose at least two invoices")], False
        if not valid:
            status = 422
        else:
            if not all(v.isascii() and v.isdigit() and len(v) < 12 and int(v) <= MAX_ID for v in wanted):
                raise NotFound("invoice")
            try:
                made = payment_requests.create(b, me, profile_id, [int(v) for v in wanted])
            except (NotFound, TooFewInvoices):  # paid meanwhile: asked again, with what is open now
                chosen = payment_requests.choice(b, me, account_id, profile_id)
                form.invoices.data = [str(i.id) for i in chosen.invoices]
                flash(_("Nothing was changed: an invoice you chose is no longer open. Check the invoices and choose "
                        "again."), "error")
                status = 409
            else:
                return see_other("payment_requests.show", account_id=account_id, request_id=made.id)
    return render("payment_requests/new.html", status=status, account=chosen.profile.account, choice=chosen,
                  form=form)


@bp.get("/accounts/<int:account_id>/one-transfer/<int:request_id>")
def show(account_id: int, request_id: int):
    b = billing()
    view = payment_requests.request_of(b, user(), account_id, request_id)
    remittance = remittance_from_config(current_app.config).for_request(view.request.id)
    profile = view.items[0][0].billing_profile
    return render("payment_requests/show.html", account=profile.account, profile=profile, view=view,
                  remittance=remittance)

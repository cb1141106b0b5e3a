"""Invoices (Fakturor): list with filter, detail with remittance details (R03, R16,
R17, B4), and Pay now (Betala nu) through the shared checkout (R19–R22)."""
from __future__ import annotations

from datetime import date

from flask import current_app, request, stream_with_context, url_for
from flask_babel import gettext as _, lazy_gettext as _l, pgettext

from portal.billing import payments
from portal.billing.payments import methods
from portal.billing.accounts import overview
from portal.billing.bank import autogiro_status
from portal.billing.invoicing import documents, payment_requests
from portal.billing.accounts.access import Action, decide
from portal.billing.context import Billing
from portal.errors import BillingError, InvalidPart, NotFound, NothingToPay
from portal.billing.invoicing.remittance import remittance_from_config
from portal import document_store, document_zip
from portal.billing.accounts import history
from portal.document_files import invoice_filename, invoice_pdf
from portal.i18n import SUPPORTED_LOCALES, page_lang
from portal.forms import BulkDownloadForm, InvoiceFilterForm, PartForm, PaymentForm
from portal.i18n import money, parse_money
from portal.models import AccountKind, BillingProfile, Invoice, InvoiceStatus
from portal.money import Money
from portal.web import checkout
from portal.web.common import MAX_ID, account_for, page_arg, signed_in_blueprint, user
from portal.services import billing
from portal.wording import INVOICE_STATUS
from portal.web.rendering import download, render

bp = signed_in_blueprint("invoices")


@bp.get("/accounts/<int:account_id>/invoices")
def index(account_id: int):
    b, me = billing(), user()
    account = account_for(account_id, profiles=True)
    form = InvoiceFilterForm(request.args)
    form.status.choices = [("", str(_all_label()))] + [(s.value, str(INVOICE_STATUS[s])) for s in InvoiceStatus]
    status = request.args.get("status") or None
    status_code = 200
    if status is not None and not form.validate():
        status, status_code = None, 422
    invoices = overview.invoices_of(b, me, account.id, status, page_arg())
    can_pay = {p.id: decide(b.session, me, account, Action.PAY_INVOICES, p.id) for p in account.profiles}
    return render("invoices/list.html", block="invoice_table", status=status_code, account=account,
                  invoices=invoices, form=form, can_pay=can_pay,
                  draws=autogiro_status.draw_dates(b, account.profiles, invoices))  # B23


def _all_label():
    # Translators: the invoice filter's choice that shows every billing profile or status.
    return _l("All")


@bp.get("/accounts/<int:account_id>/invoices/<int:invoice_id>")
def detail(account_id: int, invoice_id: int):
    b, me = billing(), user()
    invoice = overview.invoice_of(b, me, account_id, invoice_id)
    account = invoice.billing_profile.account
    return render("invoices/detail.html", account=account, invoice=invoice, doc=_document(invoice),
                  can_pay=decide(b.session, me, account, Action.PAY_INVOICES, invoice.billing_profile_id),
                  draw_on=autogiro_status.draw_date(b, invoice))  # B23


@bp.get("/accounts/<int:account_id>/invoices/<int:invoice_id>/pdf")
def pdf(account_id: int, invoice_id: int):
    """The invoice as a PDF/A-3 file, in the page's language (B6): the one stored when
    it was issued (issue 28), made now only if there is none yet."""
    invoice = overview.invoice_of(billing(), user(), account_id, invoice_id, whole=False)
    # Translators: the start of a downloaded invoice's file name, e.g. "invoice-10001.pdf".
    word = pgettext("file name", "invoice")
    return download(_pdf_of(invoice, page_lang()), "application/pdf", invoice_filename(invoice, word))


def _pdf_of(invoice, lang: str) -> bytes:
    """The stored PDF in `lang` (made and stored first if there is none). The
    pseudo-locale (development, tests) is rendered, never stored."""
    if lang in SUPPORTED_LOCALES:
        return document_store.invoice_pdf(invoice, lang).content
    return invoice_pdf(_document(invoice))


@bp.get("/accounts/<int:account_id>/invoices/<int:invoice_id>/ubl")
def ubl(account_id: int, invoice_id: int):
    """The invoice's EN 16931 data as UBL 2.1 XML, for accounts-payable systems (B6),
    as stored when it was issued (issue 28)."""
    invoice = overview.invoice_of(billing(), user(), account_id, invoice_id, whole=False)
    word = pgettext("file name", "invoice")
    return download(document_store.invoice_ubl(invoice).content, "application/xml",
                    invoice_filename(invoice, word, "xml"))


@bp.get("/accounts/<int:account_id>/invoices/download")
def bulk(account_id: int):
    """Issue 30: a fiscal year's or a period's invoices as one zip of their PDFs (and
    UBL XML if asked), streamed; the form again with what is wrong, or with "no
    invoices" rather than an empty zip. A GET form: works without JavaScript."""
    b, me = billing(), user()
    account = account_for(account_id)
    if account.kind != AccountKind.CUSTOMER_AGREEMENT:
        raise NotFound("invoices")
    form = BulkDownloadForm(request.args)
    today = b.clock.today()
    form.year.choices = [("", _("None: the days below"))] + [
        (str(y), str(y)) for y in range(today.year, min(account.created_on.year, today.year) - 1, -1)]
    asked = any(name in request.args for name in ("year", "first", "last", "xml"))  # the form was sent
    if not asked or not form.validate():
        return render("invoices/download.html", status=422 if asked else 200, account=account, form=form, empty=False)
    year = int(form.year.data) if form.year.data else None
    first, last = (date(year, 1, 1), date(year, 12, 31)) if year else (form.first.data, form.last.data)
    ids = history.invoices_to_download(b, me, account.id, first, last)
    if not ids:
        return render("invoices/download.html", account=account, form=form, empty=True, first=first, last=last)
    lang = page_lang()
    word = pgettext("file name", "invoice")
    files = document_zip.invoice_files(
        ids, lambda invoice_id: b.session.get(Invoice, invoice_id), word, lambda invoice: _pdf_of(invoice, lang),
        (lambda invoice: document_store.invoice_ubl(invoice).content) if form.xml.data else None)
    name = "-".join([pgettext("file name", "invoices").lower(), str(year)] if year
                    else [pgettext("file name", "invoices").lower(), first.isoformat(), last.isoformat()]) + ".zip"

    def body():
        try:
            yield from document_zip.stream_zip(files)
        finally:
            b.session.rollback()  # as the exports: the transaction ends with the file
    return download(stream_with_context(body()), "application/zip", name)


def _document(invoice):
    return documents.invoice_document(invoice, current_app.extensions["seller"],
                                      remittance_from_config(current_app.config))


def _invoice_ids() -> list[int] | None:
    """B4: ?invoice=ID pays one invoice; without it, everything due (R20)."""
    raw = request.values.getlist("invoice")
    if not raw:
        return None
    if not all(v.isascii() and v.isdigit() and len(v) < 12 and int(v) <= MAX_ID for v in raw):
        raise NotFound("invoice")
    return [int(v) for v in raw]


def _checkout(b: Billing, profile: BillingProfile, invoice_ids: list[int] | None,
              part_form: PartForm | None = None, part: Money | None = None) -> checkout.Checkout:
    account = profile.account
    query = {"invoice": invoice_ids} if invoice_ids else {}
    try:
        can_pay_part = payments.can_pay_part(payments.invoices_to_pay(b, profile, invoice_ids))
    except NothingToPay:  # checkout.show says so
        can_pay_part = False
    return checkout.Checkout(
        kind="invoices", account=account, cards=payments.cards_of(b, account),
        quote=lambda _method_id: payments.invoices_to_pay(b, profile, invoice_ids),
        action_url=url_for("invoices.pay", account_id=account.id, profile_id=profile.id, **query),
        back_url=url_for("invoices.index", account_id=account.id),
        extra={"profile": profile, "remittance": remittance_from_config(current_app.config),
               # ux-F4: the default card whose automatic charge failed is named so
               "failed_method_id": (profile.default_payment_method_id
                                    if profile.default_payment_method_id in methods.failed_defaults(b, account)
                                    else None),
               "can_pay_part": can_pay_part, "part": part,
               "payment_request": payment_requests.current(b, profile.id),  # B22
               "part_form": part_form or PartForm(formdata=None),
               "minimum_part": Money(payments.MINIMUM_PART_MINOR, account.currency)})


def _part(b: Billing, profile: BillingProfile, invoice_ids: list[int] | None) -> tuple[PartForm | None, Money | None]:
    """B12: ?part=AMOUNT (typed in the page's language) asks to pay only that much now.
    The form, with its error if the amount is not one the service takes."""
    if "part" not in request.args:
        return None, None
    form = PartForm(request.args)
    if not form.validate():
        return form, None
    try:
        quote = payments.invoices_to_pay(b, profile, invoice_ids)
    except NothingToPay:
        return None, None
    amount = parse_money(form.part.data, quote.currency)
    if amount is None:
        # Translators: the example is an amount in the page's language, like "500,50".
        form.part.errors = [_("Enter an amount in numbers, like %(example)s", example=money(
            Money(500_50, quote.currency)))]
        return form, None
    try:
        return form, payments.part_to_pay(quote, amount.minor)
    except InvalidPart as refusal:
        form.part.errors = [part_refused(refusal, quote.currency)]
        return form, None


def part_refused(refusal: InvalidPart, currency: str) -> str:
    return _("Enter at least %(minimum)s and less than the whole %(total)s",
             minimum=money(Money(refusal.minimum_minor, currency)), total=money(Money(refusal.total_minor, currency)))


@bp.get("/accounts/<int:account_id>/profiles/<int:profile_id>/pay")
def start(account_id: int, profile_id: int):
    b = billing()
    profile = payments.payable_profile(b, user(), profile_id, account_id)  # R19
    invoice_ids = _invoice_ids()
    part_form, part = _part(b, profile, invoice_ids)
    status = 422 if part_form is not None and part_form.errors else 200
    return checkout.show(_checkout(b, profile, invoice_ids, part_form, part), status=status)


@bp.post("/accounts/<int:account_id>/profiles/<int:profile_id>/pay")
def pay(account_id: int, profile_id: int):
    b, me = billing(), user()
    profile = payments.payable_profile(b, me, profile_id, account_id)  # R19, for the page
    invoice_ids = _invoice_ids()
    form, choice = checkout.submitted()
    part_minor = int(form.part.data) if choice is not None and form.part.data else None
    page = _checkout(b, profile, invoice_ids, part=Money(part_minor, profile.account.currency) if part_minor else None)
    if choice is None:
        return checkout.show(page, status=422, pay_form=form)
    try:
        payment = payments.pay_invoices(b, me, profile_id, invoice_ids, choice, int(form.expected_total.data),
                                        form.idempotency_key.data, part_minor)  # R19 again, under the lock
    except InvalidPart as refusal:  # the page's part is no longer one: the whole, with why
        page.extra["part"] = None
        form = PaymentForm(formdata=None, method=form.method.data)
        return checkout.show(page, status=409, pay_form=form, notice=_(
            "Nothing was charged. %(why)s.", why=part_refused(refusal, profile.account.currency)))
    except BillingError as refusal:
        return checkout.refused(page, form, refusal)
    return checkout.paid(page, payment.id)

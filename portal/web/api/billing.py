"""/api/v1, read-only: invoices with their lines and documents (PDF, UBL), payments
with their receipts, transfers to review, the credit balance; and issuing a month's
invoices and charges now (the billing cycle's code)."""
from __future__ import annotations

from typing import Literal

from flask import request, url_for
from pydantic import Field
from spectree import Response

from portal import document_store
from portal.billing.provider import reads
from portal.document_files import invoice_filename
from portal.services import billing
from portal.web.api.core import EVERY_OPERATION_PROBLEMS, WRITE, answers, bp, dump, idempotent, listed, spec
from portal.web.api.schemas import (CreditOut, CreditQuery, InvoiceList, InvoiceOut, IssueIn,
                                    IssueOut, ListQuery, PaymentList, PaymentOut, Problem, Strict, TransferList,
                                    TransferOut)
from portal.web.rendering import download


class AccountListQuery(ListQuery):
    account_id: int | None = Field(None, ge=1, le=2**31 - 1)


class LanguageQuery(Strict):
    lang: Literal["sv", "en"] = "sv"


def _files(status: int = 200) -> Response:
    """A document's bytes (no model to check) and the problems of every operation."""
    return Response(f"HTTP_{status}", **{f"HTTP_{code}": Problem for code in (*EVERY_OPERATION_PROBLEMS, 404, 422)})


def invoice_out(invoice) -> dict:
    out = dump(InvoiceOut, invoice)
    out["documents"] = {"pdf_sv": url_for("api.invoice_pdf", invoice_id=invoice.id, lang="sv"),
                        "pdf_en": url_for("api.invoice_pdf", invoice_id=invoice.id, lang="en"),
                        "ubl": url_for("api.invoice_ubl", invoice_id=invoice.id)}
    return out


def payment_out(payment) -> dict:
    return {**dump(PaymentOut, payment), "receipt": url_for("api.receipt_pdf", payment_id=payment.id)}


@bp.get("/invoices")
@spec.validate(query=AccountListQuery, resp=answers(200, InvoiceList, 422), tags=["invoices"])
def list_invoices():
    q = request.context.query
    found = reads.invoices(billing(), q.after, q.limit, q.updated_since, q.account_id)
    return {"items": [invoice_out(i) for i in found.items], "next_after": found.next_after}


@bp.get("/invoices/<int:invoice_id>")
@spec.validate(resp=answers(200, InvoiceOut, 404), tags=["invoices"])
def get_invoice(invoice_id: int):
    return invoice_out(reads.invoice(billing(), invoice_id))


@bp.get("/invoices/<int:invoice_id>/pdf")
@spec.validate(query=LanguageQuery, resp=_files(), tags=["invoices"])
def invoice_pdf(invoice_id: int):
    """The invoice's PDF/A-3 (with Factur-X inside), as stored when it was issued."""
    invoice = reads.invoice(billing(), invoice_id)
    return download(document_store.invoice_pdf(invoice, request.context.query.lang).content, "application/pdf",
                    invoice_filename(invoice, "invoice"))


@bp.get("/invoices/<int:invoice_id>/ubl")
@spec.validate(resp=_files(), tags=["invoices"])
def invoice_ubl(invoice_id: int):
    """The invoice's EN 16931 data as UBL 2.1 XML."""
    invoice = reads.invoice(billing(), invoice_id)
    return download(document_store.invoice_ubl(invoice).content, "application/xml",
                    invoice_filename(invoice, "invoice", "xml"))


@bp.post("/invoices/issue")
@spec.validate(json=IssueIn, resp=answers(200, IssueOut, 409, 422), tags=["invoices"], **WRITE)
def issue():
    """Bill one month now, with the billing cycle's code: each customer agreement's
    invoice and each pay-as-you-go subscription's charge, once."""
    body = request.context.json

    def work():
        issued, charged = reads.issue_period(billing(), body.period_start, body.period_end)
        return 200, {"invoices_issued": issued, "charges_made": charged}
    return idempotent(work, own_transactions=True)


@bp.get("/payments")
@spec.validate(query=AccountListQuery, resp=answers(200, PaymentList, 422), tags=["payments"])
def list_payments():
    q = request.context.query
    found = reads.payments(billing(), q.after, q.limit, q.updated_since, q.account_id)
    return {"items": [payment_out(p) for p in found.items], "next_after": found.next_after}


@bp.get("/payments/<int:payment_id>")
@spec.validate(resp=answers(200, PaymentOut, 404), tags=["payments"])
def get_payment(payment_id: int):
    return payment_out(reads.payment(billing(), payment_id))


@bp.get("/payments/<int:payment_id>/receipt")
@spec.validate(query=LanguageQuery, resp=_files(), tags=["payments"])
def receipt_pdf(payment_id: int):
    """The payment's receipt as a PDF."""
    b = billing()
    payment = reads.payment(b, payment_id)
    return download(document_store.receipt_pdf(b, payment, request.context.query.lang).content, "application/pdf",
                    f"receipt-{payment.id}.pdf")


@bp.get("/transfers")
@spec.validate(query=ListQuery, resp=answers(200, TransferList, 422), tags=["payments"])
def list_transfers():
    """Money by bank that matched no reference and waits for a person (B11)."""
    q = request.context.query
    found = reads.transfers_to_review(billing(), q.after, q.limit, q.updated_since)
    return listed(TransferOut, found)


@bp.get("/accounts/<int:account_id>/credit")
@spec.validate(query=CreditQuery, resp=answers(200, CreditOut, 404, 422), tags=["payments"])
def credit_balance(account_id: int):
    """The credit balance (B15) of an account, or of one of its billing profiles."""
    profile_id = request.context.query.billing_profile_id
    amount = reads.credit_balance(billing(), account_id, profile_id)
    return {"account_id": account_id, "billing_profile_id": profile_id, "amount_minor": amount.minor,
            "currency": amount.currency}


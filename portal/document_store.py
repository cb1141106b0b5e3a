"""Issued documents, made once and kept (issue 28): an invoice's PDF (per language, the
Factur-X XML inside) and its UBL XML are rendered when the billing cycle has issued
the invoice, a receipt PDF once a payment made in the portal has been recorded (after
Pay's answer has gone out); every download after that serves the stored bytes. Bookkeeping law keeps issued documents 7 years, and they never
change: a file is written once (bytes, sha256, when, and what rendered it) and never
overwritten — a second writer finds the first one's file and serves that.

Where the files live is configuration (DOCUMENT_STORE): the database (`stored_documents`,
the default) or a directory (DOCUMENT_DIRECTORY). Both stand behind `DocumentStore`
(get/put), which an S3-compatible bucket could implement too (not written yet).

Three modules, three jobs (a later issue gives them clearer names):
    portal/billing/invoicing/documents.py  the read model: what an invoice or a receipt says
    portal/document_files.py          rendering: read model → PDF / XML bytes
    portal/document_store.py     this one: when files are made, where they are kept

Languages: invoices are rendered in every supported language at issue (a job, no one
waits; an invoice goes to accounts payable in either language), receipts in the payer's
page language at payment (a person waits for that request to end; most receipts are
never downloaded in the other language), the other on its first download. A document
with no stored file (issued before this, demo data, or a render that failed) is
rendered and stored by its first download, or by `flask documents render-missing`."""
from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Protocol

from flask import Flask, current_app, g
from flask_babel import force_locale
from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from portal import document_files as files
from portal.billing.accounts import balances
from portal.billing.clock import day_in_zone
from portal.billing.context import Billing
from portal.billing.accounts.details import details_for
from portal.billing.invoicing.documents import (InvoiceDocument, ReceiptDocument, invoice_document, invoices_paid,
                                     receipt_document)
from portal.billing.invoicing.remittance import remittance_from_config
from portal.billing.transaction import write_transaction
from portal.extensions import db
from portal.i18n import SUPPORTED_LOCALES
from portal.models import Invoice, Payment, StoredDocument
from portal.wording import card_name

log = logging.getLogger(__name__)

INVOICE_PDF, INVOICE_UBL, RECEIPT_PDF = "invoice_pdf", "invoice_ubl", "receipt_pdf"
PDF, XML = "application/pdf", "application/xml"
_EXTENSION = {PDF: "pdf", XML: "xml"}


@dataclass(frozen=True)
class DocumentKey:
    """Which file: its kind, whose (an invoice or a payment), in which language ("" for
    a file in none, like the UBL XML)."""
    kind: str
    invoice_id: int | None = None
    payment_id: int | None = None
    language: str = ""


@dataclass(frozen=True)
class StoredFile:
    key: DocumentKey
    content: bytes
    content_type: str
    sha256: str
    renderer: str
    created_at: datetime


class DocumentStore(Protocol):
    """Where issued documents are kept. `put` never overwrites: it returns the file
    stored under the key — the given one, or the one a first writer stored before."""

    def get(self, key: DocumentKey) -> StoredFile | None: ...

    def put(self, file: StoredFile) -> StoredFile: ...


class DatabaseStore:
    """The `stored_documents` table (the default): backed up with everything else."""

    def __init__(self, session: Callable[[], Session]):
        self._session = session

    def get(self, key: DocumentKey) -> StoredFile | None:
        row = self._session().scalars(select(StoredDocument).where(
            StoredDocument.kind == key.kind, StoredDocument.invoice_id == key.invoice_id,
            StoredDocument.payment_id == key.payment_id, StoredDocument.language == key.language)).first()
        if row is None:
            return None
        return StoredFile(key, row.content, row.content_type, row.sha256, row.renderer, row.created_at)

    def put(self, file: StoredFile) -> StoredFile:
        session = self._session()
        key = file.key
        try:
            with write_transaction(session):
                session.add(StoredDocument(kind=key.kind, invoice_id=key.invoice_id, payment_id=key.payment_id,
                                           language=key.language, content_type=file.content_type,
                                           content=file.content, sha256=file.sha256, renderer=file.renderer,
                                           created_at=file.created_at))
        except IntegrityError:  # stored a moment ago by another request or job: theirs stands
            session.rollback()
            stored = self.get(key)
            if stored is None:
                raise
            return stored
        return file


class DirectoryStore:
    """Files under a directory (DOCUMENT_DIRECTORY), e.g. invoice_pdf/17-sv.pdf, each
    with its facts beside it (17-sv.pdf.json). The file is put in place with a hard
    link, which fails if one is there: never overwritten, whoever comes second."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def _path(self, key: DocumentKey, content_type: str = PDF) -> Path:
        owner = key.invoice_id if key.invoice_id is not None else key.payment_id
        name = f"{owner}-{key.language}" if key.language else f"{owner}"
        return self.root / key.kind / f"{name}.{_EXTENSION[XML if key.kind == INVOICE_UBL else content_type]}"

    def get(self, key: DocumentKey) -> StoredFile | None:
        path = self._path(key)
        try:
            content = path.read_bytes()
        except FileNotFoundError:
            return None
        try:
            facts = json.loads(path.with_name(path.name + ".json").read_text(encoding="utf-8"))
        except FileNotFoundError:  # a crash between the file and its facts: the file is what counts
            facts = {"content_type": XML if key.kind == INVOICE_UBL else PDF, "renderer": "",
                     "created_at": datetime.fromtimestamp(path.stat().st_mtime, timezone.utc)
                     .replace(tzinfo=None).isoformat()}
        return StoredFile(key, content, facts["content_type"], hashlib.sha256(content).hexdigest(),
                          facts["renderer"], datetime.fromisoformat(facts["created_at"]))

    def put(self, file: StoredFile) -> StoredFile:
        path = self._path(file.key, file.content_type)
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".part-")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(file.content)
                out.flush()
                os.fsync(out.fileno())
            try:
                os.link(temporary, path)
            except FileExistsError:
                return self.get(file.key) or file
        finally:
            os.unlink(temporary)
        facts = {"content_type": file.content_type, "sha256": file.sha256, "renderer": file.renderer,
                 "created_at": file.created_at.isoformat()}
        path.with_name(path.name + ".json").write_text(json.dumps(facts), encoding="utf-8")
        return file


def store_from_config(config) -> DocumentStore:
    if config.get("DOCUMENT_STORE", "database") == "directory":
        return DirectoryStore(config["DOCUMENT_DIRECTORY"])
    return DatabaseStore(db.session)


def store(app: Flask | None = None) -> DocumentStore:
    app = app or current_app
    if "document_store" not in app.extensions:
        app.extensions["document_store"] = store_from_config(app.config)
    return app.extensions["document_store"]


# --- making them: once, then served ---------------------------------------------------

@contextmanager
def _in_language(lang: str) -> Iterator[None]:
    """Render in `lang` whatever the request's language (templates read g.lang too)."""
    before = g.get("lang")
    g.lang = lang
    try:
        with force_locale(lang):
            yield
    finally:
        if before is None:
            g.pop("lang", None)
        else:
            g.lang = before


def _obtain(key: DocumentKey, content_type: str, render: Callable[[], bytes]) -> StoredFile:
    """The stored file under `key`; rendered and stored first if there is none."""
    kept = store().get(key)
    if kept is not None:
        return kept
    content = render()
    return store().put(StoredFile(key, content, content_type, hashlib.sha256(content).hexdigest(),
                                  files.RENDERER, current_app.extensions["clock"].now()))  # naive UTC


def _invoice_document(invoice: Invoice) -> InvoiceDocument:
    return invoice_document(invoice, current_app.extensions["seller"], remittance_from_config(current_app.config))


def invoice_pdf(invoice: Invoice, lang: str) -> StoredFile:
    """The invoice's PDF in `lang` (sv, en), as stored at issue."""
    def render() -> bytes:
        with _in_language(lang):
            return files.invoice_pdf(_invoice_document(invoice))
    return _obtain(DocumentKey(INVOICE_PDF, invoice_id=invoice.id, language=lang), PDF, render)


def invoice_ubl(invoice: Invoice) -> StoredFile:
    """The invoice's UBL 2.1 XML (in no language), as stored at issue."""
    return _obtain(DocumentKey(INVOICE_UBL, invoice_id=invoice.id), XML,
                   lambda: files.invoice_xml(_invoice_document(invoice)))


RECEIPT_LINES = 100  # a receipt PDF names this many subscriptions and sums the rest


def receipt_document_of(b: Billing, payment: Payment) -> ReceiptDocument:
    """What the receipt says, in the current language (the card's name is words): the
    parties kept with the payment when it was recorded (B17), whenever it is made; a
    payment of invoices names the buyer the invoices were made out to."""
    invoices, invoiced_buyer = invoices_paid(b.session, payment)
    paid, more, more_amount = (balances.paid_in_part(b.session, payment, RECEIPT_LINES)
                               if payment.billing_profile_id is None and not invoices else ([], 0, None))
    return receipt_document(
        payment, current_app.extensions["seller"],
        details_for(b.session, payment.account_id, payment.billing_profile_id) if payment.parties is None else None,
        day_in_zone(payment.created_at, b.clock.tz),
        card_name(payment.payment_method) if payment.payment_method.is_card else None,
        [(row.name, row.period_start, row.period_end, row.amount) for row in paid],
        invoices, (more, more_amount), invoiced_buyer)


def receipt_pdf(b: Billing, payment: Payment, lang: str) -> StoredFile:
    """The payment's receipt PDF in `lang`, as stored at payment."""
    def render() -> bytes:
        with _in_language(lang):
            return files.receipt_pdf(receipt_document_of(b, payment))
    return _obtain(DocumentKey(RECEIPT_PDF, payment_id=payment.id, language=lang), PDF, render)


def issue_invoice(invoice: Invoice) -> None:
    """Everything an issued invoice is downloaded as: its PDF in each language, its UBL."""
    for lang in SUPPORTED_LOCALES:
        invoice_pdf(invoice, lang)
    invoice_ubl(invoice)


def issue_invoices_of(session: Session, day: date) -> tuple[int, int]:
    """The billing cycle's job (`flask billing cycle`, after each day): store the files
    of the invoices issued on `day` that have none yet. A render that fails is logged
    and left to the first download. (made, failed)"""
    made = failed = 0
    for invoice_id in session.scalars(select(Invoice.id).where(Invoice.issued_on == day, _incomplete(Invoice))
                                      .order_by(Invoice.id)).all():
        try:
            issue_invoice(session.get(Invoice, invoice_id))
            made += 1
        except Exception:  # noqa: BLE001 — the invoice is issued; its download renders it
            log.exception("documents of invoice %s not stored; its first download will", invoice_id)
            session.rollback()
            failed += 1
    return made, failed


def make_receipt_after(response, b: Billing, payment_id: int, lang: str):
    """Store the receipt of a recorded payment once `response` has gone to the person
    (after the commit, outside the account lock): nothing here can undo or fail the
    payment. If rendering fails, its first download renders it. (Payments made by
    batches — the cycle's automatic charges, a BgMax file — get theirs on first
    download or from `flask documents render-missing`: 100,000 receipts rendered in
    a cycle would take hours, and most are never downloaded.)"""
    app = current_app._get_current_object()
    clock = b.clock

    def make() -> None:
        with app.app_context():
            try:
                session = db.session()
                payment = session.get(Payment, payment_id)
                if payment is not None and lang in SUPPORTED_LOCALES:
                    receipt_pdf(Billing(session, b.gateway, clock, b.policy), payment, lang)
            except Exception:  # noqa: BLE001 — the payment stands; the download renders it
                log.exception("receipt of payment %s not stored; its first download will", payment_id)
    response.call_on_close(make)
    return response


def _incomplete(model: type) -> object:
    """The rows of `model` (Invoice, Payment) missing one of their files: an anti-join
    per file on the unique key."""
    if model is Invoice:
        wanted = [(INVOICE_UBL, "")] + [(INVOICE_PDF, lang) for lang in SUPPORTED_LOCALES]
        column = StoredDocument.invoice_id
    else:
        wanted = [(RECEIPT_PDF, lang) for lang in SUPPORTED_LOCALES]
        column = StoredDocument.payment_id
    return or_(*(~select(StoredDocument.id).where(StoredDocument.kind == kind, column == model.id,
                                                   StoredDocument.language == lang).exists()
                 for kind, lang in wanted))


def render_missing(b: Billing, invoices: bool = True, receipts: bool = True, limit: int | None = None,
                   progress: Callable[[int], None] | None = None) -> tuple[int, int]:
    """For operators (`flask documents render-missing`): store every file an issued
    invoice (both languages and UBL) or a payment (its receipt in both languages) is
    missing, oldest first. (documents made whole, failed)"""
    made = failed = 0
    todo: list[tuple[type, Callable]] = []
    if invoices:
        todo.append((Invoice, lambda invoice: issue_invoice(invoice)))
    if receipts:
        todo.append((Payment, lambda payment: [receipt_pdf(b, payment, lang) for lang in SUPPORTED_LOCALES]))
    for model, make in todo:
        query = select(model.id).where(_incomplete(model)).order_by(model.id)
        for owner_id in b.session.scalars(query.limit(None if limit is None else limit - made - failed)).all():
            try:
                make(b.session.get(model, owner_id))
                made += 1
            except Exception:  # noqa: BLE001 — counted and logged; the rest go on
                log.exception("documents of %s %s not stored", model.__tablename__, owner_id)
                b.session.rollback()
                failed += 1
            if progress is not None:
                progress(1)
    return made, failed

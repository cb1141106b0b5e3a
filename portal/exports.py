"""Exports (B9): a period's payments and invoices as CSV that a spreadsheet opens
correctly in the reader's language — Swedish: semicolon, decimal comma, UTF-8 with a
byte-order mark (Excel reads the encoding from it); English: comma and dot. The column
order is fixed and documented in the README ("CSV exports"); only the headings are
translated. Rows are written as they are read, so an export of any size streams."""
from __future__ import annotations

import csv
import functools
import io
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from babel.numbers import get_currency_precision
from flask_babel import lazy_gettext as _l, lazy_pgettext, pgettext

from portal.billing.clock import day_in_zone
from portal.billing.ids import payment_reference
from portal.billing.accounts.history import ExportRow, InvoiceExportRow
from portal.wording import INVOICE_STATUS, PAYMENT_PURPOSE, STATEMENT, card_name

BOM = "\ufeff"


@dataclass(frozen=True)
class Dialect:
    separator: str
    decimal: str
    bom: bool


DIALECTS = {"sv": Dialect(";", ",", True), "en": Dialect(",", ".", False)}


@dataclass(frozen=True)
class Column:
    key: str        # stable name, documented in the README
    heading: object  # lazy-translated heading


# Translators: headings of the payments spreadsheet (CSV export).
PAYMENT_COLUMNS = (
    Column("date", _l("Date")),
    Column("payment_id", _l("Payment ID")),
    Column("purpose", _l("Paid for")),
    Column("amount", _l("Amount")),
    Column("currency", _l("Currency")),
    Column("payment_method", _l("Payment method")),
    Column("invoices", _l("Invoices")),
    Column("subscriptions", _l("Number of subscriptions")),
)

# Translators: headings of the invoices spreadsheet (CSV export).
INVOICE_COLUMNS = (
    Column("invoice_number", _l("Invoice number")),
    Column("billing_profile", _l("Billing profile")),
    Column("issued_on", _l("Invoice date")),
    Column("period_start", _l("Period start")),
    Column("period_end", _l("Period end")),
    Column("due_on", _l("Due date")),
    Column("amount", _l("Amount")),
    Column("credits_applied", _l("Credits applied")),
    Column("amount_due", _l("Amount due")),
    Column("currency", _l("Currency")),
    Column("status", _l("Status")),
    Column("paid_on", _l("Paid on")),
    Column("payment_id", _l("Payment ID")),
)

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def text_cell(value: str | None) -> str:
    """Text a person typed (names) never starts a formula when the file is opened
    (CSV injection): it is prefixed with an apostrophe, which spreadsheets hide."""
    value = value or ""
    return "'" + value if value.startswith(FORMULA_START) else value


def amount_cell(minor: int, currency: str, dialect: Dialect) -> str:
    """A plain number a spreadsheet reads as one: no grouping, the language's decimal mark."""
    return _amount(minor, _digits(currency), dialect)


@functools.cache
def _digits(currency: str) -> int:
    return get_currency_precision(currency)  # Babel's lookup: once per currency, not per cell


def _amount(minor: int, digits: int, dialect: Dialect) -> str:
    if not digits:
        return str(minor)
    whole, part = divmod(abs(minor), 10 ** digits)
    return f"{'-' if minor < 0 else ''}{whole}{dialect.decimal}{part:0{digits}d}"


def day_cell(value: date | None) -> str:
    return value.isoformat() if value else ""  # ISO 8601: read as a date in every language


def payment_cells(zone: ZoneInfo, dialect: Dialect) -> Callable[[ExportRow], list[str]]:
    """The cells of a payment's line. The words (what it paid for, the payment method)
    are translated once per export and value, the day worked out once per day the
    payments fall on (they come oldest first), not once per line."""
    purposes: dict = {}
    methods: dict = {}
    day = Days(zone)

    def cells(row: ExportRow) -> list[str]:
        payment_id, created_at, purpose_key, amount_minor, currency, method_id = row.payment
        purpose = purposes.get(purpose_key)
        if purpose is None:
            purpose = purposes[purpose_key] = str(PAYMENT_PURPOSE.get(purpose_key, purpose_key))
        method = methods.get(method_id)
        if method is None:
            method = methods[method_id] = card_name(row.method)
        return [day(created_at), payment_reference(payment_id), purpose,
                _amount(amount_minor, _digits(currency), dialect), currency, method,
                " ".join(row.invoices), str(row.subscription_count) if row.subscription_count else ""]
    return cells


class Days:
    """The day (ISO 8601) an instant (naive UTC) falls on in `zone`, remembering the
    last day's bounds: instants in order cost a comparison, not a time-zone lookup."""

    def __init__(self, zone: ZoneInfo) -> None:
        self.zone = zone
        self.start = self.end = None
        self.text = ""

    def __call__(self, instant) -> str:
        if self.start is None or not self.start <= instant < self.end:
            day = day_in_zone(instant, self.zone)
            self.start, self.end = utc_start_of(day, self.zone), utc_start_of(day + timedelta(days=1), self.zone)
            self.text = day.isoformat()
        return self.text


def utc_start_of(day: date, zone: ZoneInfo) -> datetime:
    """The first instant of `day` in `zone`, as the naive UTC the database keeps."""
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(timezone.utc).replace(tzinfo=None)


def invoice_cells(dialect: Dialect) -> Callable[[InvoiceExportRow], list[str]]:
    """The cells of an invoice's line; its status worded once per export and status."""
    statuses: dict = {}

    def cells(row: InvoiceExportRow) -> list[str]:
        invoice = row.invoice
        status = statuses.get(invoice.status)
        if status is None:
            status = statuses[invoice.status] = str(INVOICE_STATUS[invoice.status])
        return [invoice.number, text_cell(row.profile_name), day_cell(invoice.issued_on),
                day_cell(invoice.period_start), day_cell(invoice.period_end), day_cell(invoice.due_on),
                amount_cell(invoice.subtotal_minor, invoice.currency, dialect),
                amount_cell(invoice.credits_applied_minor, invoice.currency, dialect),
                amount_cell(invoice.subtotal_minor - invoice.credits_applied_minor, invoice.currency, dialect),
                invoice.currency, status, day_cell(invoice.paid_on),
                payment_reference(invoice.payment_id) if invoice.payment_id else ""]
    return cells


CHUNK = 64 * 1024  # characters per piece of the streamed file


def csv_lines(columns: tuple[Column, ...], rows: Iterable, cells: Callable[[object], list[str]],
              dialect: Dialect) -> Iterator[str]:
    """The file, in pieces of about CHUNK characters (whole lines; a piece per line made
    the server write a million times): headings first, CRLF line ends (RFC 4180)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=dialect.separator, lineterminator="\r\n")

    def line(values: list[str]) -> str:
        writer.writerow(values)
        return line_break(buffer)

    yield (BOM if dialect.bom else "") + line([str(c.heading) for c in columns])
    for row in rows:
        writer.writerow(cells(row))
        if buffer.tell() >= CHUNK:
            yield line_break(buffer)
    if buffer.tell():
        yield line_break(buffer)


def line_break(buffer: io.StringIO) -> str:
    """What the buffer holds (whole lines), emptied: the next piece of the file."""
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text


# --- the account statement (issue 30) -----------------------------------------------------

STATEMENT_COLUMNS = tuple(Column(key, STATEMENT[key]) for key in
                          ("date", "kind", "reference", "due_on", "amount", "balance", "currency"))


def statement_rows(statement, movements: Iterable) -> Iterator[tuple]:
    """The statement's CSV lines: the opening balance, every movement with the balance
    after it, the closing balance — (day, kind, reference, due, amount, balance)."""
    yield statement.first, "opening", "", None, None, statement.opening.minor
    for movement, balance in movements:
        yield movement.day, movement.kind, movement.reference, movement.due_on, movement.amount_minor, balance
    yield statement.last, "closing", "", None, None, statement.closing.minor


def statement_cells(currency: str, dialect: Dialect) -> Callable[[tuple], list[str]]:
    kinds = {key: str(STATEMENT[key]) for key in ("opening", "closing", "invoice", "charge", "payment", "refund")}
    digits = _digits(currency)

    def cells(row: tuple) -> list[str]:
        day, kind, reference, due_on, amount, balance = row
        return [day_cell(day), kinds[kind], text_cell(reference), day_cell(due_on),
                "" if amount is None else _amount(amount, digits, dialect), _amount(balance, digits, dialect),
                currency]
    return cells


# --- the costs per subscription and month (issue 33 item 2) ---------------------------------

# Translators: headings of the costs spreadsheet (CSV export): a line per subscription and month.
COSTS_COLUMNS = (
    Column("month", lazy_pgettext("costs spreadsheet", "Month")),
    Column("subscription_id", _l("Subscription ID")),
    Column("subscription", _l("Subscription")),
    Column("amount", _l("Amount")),
    Column("currency", _l("Currency")),
    Column("billed", _l("Billed")),
)


def costs_cells(currency: str, dialect: Dialect) -> Callable[[tuple], list[str]]:
    """(month, subscription id, name, minor units, billed) → the line's cells; the month
    as ISO 8601 (2026-11), read alike in every language."""
    digits = _digits(currency)
    # Translators: whether a month of the costs spreadsheet has been billed.
    yes, no = pgettext("costs spreadsheet", "yes"), pgettext("costs spreadsheet", "no")

    def cells(row: tuple) -> list[str]:
        first, sub_id, name, minor, billed = row
        return [first.strftime("%Y-%m"), str(sub_id), text_cell(name), _amount(minor, digits, dialect), currency,
                yes if billed else no]
    return cells

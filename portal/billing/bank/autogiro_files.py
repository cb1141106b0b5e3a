"""Bankgirot's Autogiro files (issue 34, B23), in the new file layout of Bankgirot's
technical manual: fixed-width records of 80 characters, ISO 8859-1, each starting with its
transaction code (TK). The positions of every record are in docs/autogiro.md.

    to Bankgirot     the request file: TK01 opening, TK04 new mandates, TK03 cancelled
                     mandates, TK82 payment orders (draw on a day, the invoice's OCR)
    from Bankgirot   mandate answers ("AG-MEDAVI"): TK01, TK73 per mandate, TK09 closing
                     payment results ("BET. SPEC & STOPP TK"): TK01, TK15 per draw day,
                     TK82 per order with its status code, TK09 closing

Every file is read whole and refused (`AutogiroRejected`, with the line and the reason)
unless each record is well formed and every count and total adds up; a file the portal
writes is read back and compared before it is written (`write_request`). Nothing here
touches the database."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime

from portal.money import MAX_MINOR

RECORD_LENGTH = 80
LAYOUT = "AUTOGIRO"
MANDATE_ANSWERS = "AG-MEDAVI"
PAYMENT_RESULTS = "BET. SPEC & STOPP TK"

# TK82 in a payment results file: what became of the order.
DRAWN = "0"
RESULT_CODES = {DRAWN: "drawn", "1": "insufficient_funds", "2": "no_mandate"}
# TK73: the comment code of a mandate answer → (the mandate's new status, the reason).
MANDATE_CODES = {
    "32": ("active", None),                      # new mandate approved
    "33": ("cancelled", "cancelled"),            # cancelled, as the payee asked
    "02": ("cancelled", "by_payer"),             # cancelled by the payer or the payer's bank
    "03": ("cancelled", "account_closed"),
    "04": ("rejected", "account_not_approved"),  # the account cannot be used for Autogiro
    "09": ("rejected", "wrong_payer_id"),        # the payer's number does not match the account
    "10": ("rejected", "already_exists"),        # the payer number is already in use
}


class AutogiroRejected(ValueError):
    """The file is not one the portal can apply whole; nothing of it is applied."""

    def __init__(self, line: int, reason: str) -> None:
        super().__init__(f"line {line}: {reason}" if line else reason)
        self.line, self.reason = line, reason


@dataclass(frozen=True)
class Addition:          # TK04
    payer_number: str
    clearing: str        # four digits (a Swedbank clearing number of five: its first four)
    account_number: str  # up to twelve digits
    payer_id: str        # organisationsnummer or personnummer, twelve digits


@dataclass(frozen=True)
class Order:             # TK82, to Bankgirot and back
    payer_number: str
    draw_on: date
    amount_minor: int
    reference: str       # the invoice's OCR, at most 16 characters
    result: str = ""     # in a results file: a key of RESULT_CODES
    line: int = field(default=0, compare=False)   # where a file read said it


@dataclass(frozen=True)
class Request:
    written_on: date
    customer_number: str
    bankgiro: str
    additions: tuple[Addition, ...] = ()
    cancellations: tuple[str, ...] = ()   # payer numbers (TK03)
    orders: tuple[Order, ...] = ()


@dataclass(frozen=True)
class Answer:            # TK73
    payer_number: str
    clearing: str
    account_number: str
    payer_id: str
    info: str            # 04: a new mandate, 03: a cancellation …
    comment: str         # a key of MANDATE_CODES
    answered_on: date
    line: int = field(default=0, compare=False)


@dataclass(frozen=True)
class MandateAnswers:
    written_on: date
    customer_number: str
    bankgiro: str
    answers: tuple[Answer, ...]


@dataclass(frozen=True)
class PaymentResults:
    written_at: datetime
    customer_number: str
    bankgiro: str
    results: tuple[Order, ...]   # with `result`; each day's deposit (TK15) made from them


# --- fields ---------------------------------------------------------------------------

def _digits(line: int, value: str, what: str, blank_ok: bool = False) -> str:
    value = value.strip()
    if blank_ok and not value:
        return ""
    if not (value.isascii() and value.isdigit()):
        raise AutogiroRejected(line, f"{what} is not a number: {value!r}")
    return value


def _id(line: int, value: str, what: str, blank_ok: bool = False) -> str:
    """A number that names something (bankgiro, payer, account): its digits without the
    zeros that fill its field."""
    digits = _digits(line, value, what, blank_ok)
    return str(int(digits)) if digits else ""


def _number(line: int, value: str, what: str) -> int:
    return int(_digits(line, value, what))


def _day(line: int, value: str) -> date:
    try:
        return date(int(value[:4]), int(value[4:6]), int(value[6:8]))
    except ValueError:
        raise AutogiroRejected(line, f"not a date: {value!r}") from None


def _amount(line: int, value: str) -> int:
    amount = _number(line, value, "amount")
    if not 0 < amount <= MAX_MINOR:
        raise AutogiroRejected(line, f"an amount of {amount} öre, not one the portal draws")
    return amount


def _field(value: str, width: int, what: str, digits: bool = True, right: bool = True) -> str:
    """A value made to fit its field, or ValueError: a file is never written with a field
    cut short or a letter where Bankgirot expects digits."""
    value = str(value)
    if len(value) > width or (digits and value and not (value.isascii() and value.isdigit())):
        raise ValueError(f"{what} {value!r} does not fit {width} {'digits' if digits else 'characters'}")
    return value.rjust(width, "0") if right else value.ljust(width)


def _record(*parts: str) -> str:
    text = "".join(parts)
    if len(text) > RECORD_LENGTH:
        raise ValueError(f"a record of {len(text)} characters: {text!r}")
    return text.ljust(RECORD_LENGTH)


def _lines(lines: Iterable[str | bytes]) -> list[tuple[int, str]]:
    """(line number, record) of each non-empty line, every one 80 characters at most."""
    found = []
    for number, raw in enumerate(lines, start=1):
        text = (raw.decode("latin-1") if isinstance(raw, bytes) else raw).rstrip("\r\n")
        if not text.strip():
            continue
        if len(text) > RECORD_LENGTH:
            raise AutogiroRejected(number, f"a record is {RECORD_LENGTH} characters, this one {len(text)}")
        found.append((number, text.ljust(RECORD_LENGTH)))
    if not found:
        raise AutogiroRejected(0, "the file is empty")
    return found


def _encode(records: list[str]) -> bytes:
    return ("\r\n".join(records) + "\r\n").encode("latin-1")


def _opening_of(record: str) -> str:
    """Which file a first record opens: 'request', 'mandates', 'payments' — or ''."""
    if record[:2] != "01":
        return ""
    if record[10:18] == LAYOUT and record[2:10].isdigit():
        return "request"
    if record[2:10] == LAYOUT and record[44:64].strip() == MANDATE_ANSWERS:
        return "mandates"
    if record[2:10] == LAYOUT and record[44:64] == PAYMENT_RESULTS:
        return "payments"
    return ""


def kind_of(lines: Iterable[str | bytes]) -> str:
    """'mandates' or 'payments' (a file from Bankgirot), 'request' (ours), else refused."""
    number, first = _lines(lines)[0]
    kind = _opening_of(first)
    if not kind:
        raise AutogiroRejected(number, "not an Autogiro file: it must open with TK01 and the layout's name")
    return kind


# --- the request file (to Bankgirot) ----------------------------------------------------

def _account16(clearing: str, account_number: str) -> str:
    if not (clearing or account_number):  # a cancellation's answer names no account
        return " " * 16
    return _field(clearing[:4], 4, "clearing number") + _field(account_number, 12, "account number")


def write_request(request: Request) -> bytes:
    """The file, checked whole: every field fits, and reading it back gives `request`."""
    bg = _field(request.bankgiro, 10, "bankgiro")
    records = [_record("01", request.written_on.strftime("%Y%m%d"), LAYOUT, " " * 44,
                       _field(request.customer_number, 6, "customer number"), bg)]
    for payer in request.cancellations:
        records.append(_record("03", bg, _field(payer, 16, "payer number")))
    for a in request.additions:
        records.append(_record("04", bg, _field(a.payer_number, 16, "payer number"),
                               _account16(a.clearing, a.account_number), _field(a.payer_id, 12, "payer's number")))
    for o in request.orders:
        if not 0 < o.amount_minor <= MAX_MINOR or len(str(o.amount_minor)) > 12:
            raise ValueError(f"an order of {o.amount_minor} öre cannot be drawn")
        records.append(_record("82", o.draw_on.strftime("%Y%m%d"), "0", "   ", " ",
                               _field(o.payer_number, 16, "payer number"), _field(str(o.amount_minor), 12, "amount"),
                               bg, _field(o.reference, 16, "reference", digits=False, right=False)))
    content = _encode(records)
    if read_request(content.splitlines()) != request:  # the layout's own check, before anything is written
        raise ValueError("the request file does not read back as written")
    return content


def read_request(lines: Iterable[str | bytes]) -> Request:
    records = _lines(lines)
    number, first = records[0]
    if _opening_of(first) != "request":
        raise AutogiroRejected(number, "not an Autogiro request file (TK01 … AUTOGIRO)")
    bankgiro = _id(number, first[68:78], "bankgiro")
    additions, cancellations, orders = [], [], []
    for number, record in records[1:]:
        where = {"03": (2, 12), "04": (2, 12), "82": (43, 53)}.get(record[:2])
        if where and _id(number, record[where[0]:where[1]], "bankgiro") != bankgiro:
            raise AutogiroRejected(number, "a record for another bankgiro than the opening's")
        match record[:2]:
            case "03":
                cancellations.append(_id(number, record[12:28], "payer number"))
            case "04":
                additions.append(Addition(_id(number, record[12:28], "payer number"),
                                          _digits(number, record[28:32], "clearing number"),
                                          _id(number, record[32:44], "account number"),
                                          _digits(number, record[44:56], "payer's number")))
            case "82":
                orders.append(Order(_id(number, record[15:31], "payer number"), _day(number, record[2:10]),
                                    _amount(number, record[31:43]), record[53:69].strip(), line=number))
            case code:
                raise AutogiroRejected(number, f"unknown record type {code!r} in a request file")
    return Request(_day(records[0][0], first[2:10]), _id(records[0][0], first[62:68], "customer number"),
                   bankgiro, tuple(additions), tuple(cancellations), tuple(orders))


# --- mandate answers (from Bankgirot) ---------------------------------------------------

def write_mandate_answers(f: MandateAnswers) -> bytes:
    """As Bankgirot would send them: the demo's and the tests' files."""
    bg = _field(f.bankgiro, 10, "bankgiro")
    records = [_record("01", LAYOUT, " " * 14, f.written_on.strftime("%Y%m%d"), " " * 12,
                       _field(MANDATE_ANSWERS, 20, "layout", digits=False, right=False),
                       _field(f.customer_number, 6, "customer number"), bg)]
    for a in f.answers:
        records.append(_record("73", bg, _field(a.payer_number, 16, "payer number"),
                               _account16(a.clearing, a.account_number),
                               _field(a.payer_id, 12, "payer's number") if a.payer_id else " " * 12, " " * 5, _field(a.info, 2, "information code"), _field(a.comment, 2, "comment code"),
                               a.answered_on.strftime("%Y%m%d")))
    records.append(_record("09", f.written_on.strftime("%Y%m%d"), "9900", _field(str(len(f.answers)), 7, "count")))
    return _encode(records)


def read_mandate_answers(lines: Iterable[str | bytes]) -> MandateAnswers:
    records = _lines(lines)
    number, first = records[0]
    if _opening_of(first) != "mandates":
        raise AutogiroRejected(number, f"not a file of mandate answers (TK01 … {MANDATE_ANSWERS})")
    bankgiro, answers, closed = _id(number, first[70:80], "bankgiro"), [], False
    for number, record in records[1:]:
        if closed:
            raise AutogiroRejected(number, "records after the closing record (TK09)")
        match record[:2]:
            case "73":
                if _id(number, record[2:12], "bankgiro") != bankgiro:
                    raise AutogiroRejected(number, "a mandate of another bankgiro than the opening's")
                comment = record[63:65]
                if comment not in MANDATE_CODES:
                    raise AutogiroRejected(number, f"comment code {comment!r} is not one the portal knows")
                answers.append(Answer(_id(number, record[12:28], "payer number"),
                                      _digits(number, record[28:32], "clearing number", blank_ok=True),
                                      _id(number, record[32:44], "account number", blank_ok=True),
                                      _digits(number, record[44:56], "payer's number", blank_ok=True),
                                      _digits(number, record[61:63], "information code"), comment,
                                      _day(number, record[65:73]), number))
            case "09":
                if _number(number, record[14:21], "record count") != len(answers):
                    raise AutogiroRejected(number, f"the closing record counts {record[14:21]} mandates; "
                                                   f"the file has {len(answers)}")
                closed = True
            case code:
                raise AutogiroRejected(number, f"unknown record type {code!r} in a file of mandate answers")
    if not closed:
        raise AutogiroRejected(0, "the file ends without its closing record (TK09): it may be cut short")
    return MandateAnswers(_day(records[0][0], first[24:32]), _id(records[0][0], first[64:70], "customer number"),
                          bankgiro, tuple(answers))


# --- payment results (from Bankgirot) ---------------------------------------------------

def write_payment_results(f: PaymentResults, account: str = "5841000001009823") -> bytes:
    """As Bankgirot would send them: one deposit (TK15) per draw day, its amount what was
    drawn, its count every order of the day."""
    bg = _field(f.bankgiro, 10, "bankgiro")
    records = [_record("01", LAYOUT, " " * 14, f.written_at.strftime("%Y%m%d%H%M%S000000"), PAYMENT_RESULTS,
                       _field(f.customer_number, 6, "customer number"), bg)]
    days = sorted({r.draw_on for r in f.results})
    for serial, day in enumerate(days, start=1):
        of_day = [r for r in f.results if r.draw_on == day]
        drawn = sum(r.amount_minor for r in of_day if r.result == DRAWN)
        records.append(_record("15", _field(account, 35, "account"), day.strftime("%Y%m%d"),
                               _field(str(serial), 5, "serial"), _field(str(drawn), 18, "amount"), "SEK",
                               _field(str(len(of_day)), 8, "count")))
        for r in of_day:
            records.append(_record("82", day.strftime("%Y%m%d"), "0", "   ", " ",
                                   _field(r.payer_number, 16, "payer number"),
                                   _field(str(r.amount_minor), 12, "amount"), bg,
                                   _field(r.reference, 16, "reference", digits=False, right=False), " " * 10,
                                   _field(r.result, 1, "result")))
    records.append(_record("09", f.written_at.strftime("%Y%m%d"), "9900", _field(str(len(days)), 6, "sections"),
                           _field(str(len(f.results)), 12, "records"), "0" * 36))
    return _encode(records)


def read_payment_results(lines: Iterable[str | bytes]) -> PaymentResults:
    records = _lines(lines)
    number, first = records[0]
    if _opening_of(first) != "payments":
        raise AutogiroRejected(number, f"not a file of payment results (TK01 … {PAYMENT_RESULTS})")
    bankgiro = _id(number, first[70:80], "bankgiro")
    try:
        written_at = datetime.strptime(first[24:38], "%Y%m%d%H%M%S")
    except ValueError:
        raise AutogiroRejected(number, f"not a time: {first[24:44]!r}") from None
    results: list[Order] = []
    deposit: tuple[int, date, int, int] | None = None   # (line, day, amount said, count said)
    of_deposit: list[Order] = []
    sections, closed = 0, False

    def close_deposit() -> None:
        if deposit is None:
            return
        line, _day_, amount, count = deposit
        if count != len(of_deposit):
            raise AutogiroRejected(line, f"the deposit says {count} orders, the file has {len(of_deposit)}")
        drawn = sum(o.amount_minor for o in of_deposit if o.result == DRAWN)
        if amount != drawn:
            raise AutogiroRejected(line, f"the deposit says {amount} öre, its drawn orders add up to {drawn}")

    for number, record in records[1:]:
        if closed:
            raise AutogiroRejected(number, "records after the closing record (TK09)")
        match record[:2]:
            case "15":
                close_deposit()
                if record[68:71] != "SEK":
                    raise AutogiroRejected(number, f"deposit currency {record[68:71]!r}, not SEK")
                deposit = (number, _day(number, record[37:45]), _number(number, record[50:68], "deposit amount"),
                           _number(number, record[71:79], "number of orders"))
                _digits(number, record[45:50], "deposit serial")
                of_deposit, sections = [], sections + 1
            case "82":
                if deposit is None:
                    raise AutogiroRejected(number, "a payment result (TK82) outside a deposit (TK15)")
                if _id(number, record[43:53], "bankgiro") != bankgiro:
                    raise AutogiroRejected(number, "an order of another bankgiro than the opening's")
                if record[79] not in RESULT_CODES:
                    raise AutogiroRejected(number, f"result code {record[79]!r} is not one the portal knows")
                day = _day(number, record[2:10])
                if day != deposit[1]:
                    raise AutogiroRejected(number, f"an order of {day} in the deposit of {deposit[1]}")
                order = Order(_id(number, record[15:31], "payer number"), day, _amount(number, record[31:43]),
                              record[53:69].strip(), record[79], number)
                of_deposit.append(order)
                results.append(order)
            case "09":
                close_deposit()
                said = (_number(number, record[14:20], "sections"), _number(number, record[20:32], "records"))
                if said != (sections, len(results)):
                    raise AutogiroRejected(number, f"the closing record counts {said[0]} deposits and {said[1]} "
                                                   f"orders; the file has {sections} and {len(results)}")
                closed, deposit = True, None
            case code:
                raise AutogiroRejected(number, f"unknown record type {code!r} in a file of payment results")
    if not closed:
        raise AutogiroRejected(0, "the file ends without its closing record (TK09): it may be cut short")
    return PaymentResults(written_at, _id(records[0][0], first[64:70], "customer number"), bankgiro,
                          tuple(results))


def answers_for(request: Request, when: datetime, not_drawn: dict[str, str] | None = None
                ) -> tuple[MandateAnswers | None, PaymentResults | None]:
    """What Bankgirot would answer to a request file (the demo's loop, tried locally):
    every new mandate approved (32), every cancellation confirmed (33), every order
    drawn — or not, with the result code `not_drawn` gives for its reference."""
    not_drawn = not_drawn or {}
    answers = tuple(Answer(a.payer_number, a.clearing, a.account_number, a.payer_id, "04", "32", when.date())
                    for a in request.additions) + tuple(Answer(payer, "", "", "", "03", "33", when.date())
                                                        for payer in request.cancellations)
    results = tuple(Order(o.payer_number, o.draw_on, o.amount_minor, o.reference, not_drawn.get(o.reference, DRAWN))
                    for o in request.orders)
    return (MandateAnswers(when.date(), request.customer_number, request.bankgiro, answers) if answers else None,
            PaymentResults(when, request.customer_number, request.bankgiro, results) if results else None)

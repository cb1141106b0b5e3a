"""Bankgirot's payment file, "Bankgiro Inbetalningar" in the BgMax layout (B11): fixed-width
records of 80 characters, read as a stream into typed records.

Layout (Bankgirot's technical manual, BgMax): each record starts with its transaction code
(TK). 01 opens the file (layout name "BGMAX", version, timestamp, P/T); each deposit is 05
(recipient bankgiro, currency), its payments 20 (sender bankgiro, reference, amount in öre,
reference code, channel, Bankgirot's serial number), 21 deductions, 22/23 extra references,
25 information, 26–29 name, address and organisation number, and 15 closes it (account,
payment date, deposit serial, deposit amount, currency, number of payments); 70 closes the
file with the number of payment, deduction, extra reference and deposit records.

An amount is 18 digits of öre, so a file can say up to 9 999 999 999 999 999,99 kr; one
payment above money.MAX_MINOR is no real payment, and the file is refused (issue 27).

`check` reads the whole file once and refuses it (BgMaxRejected, with the line and the
reason) unless every record is well formed and every total adds up; only then does
`payments` read it again and yield one payment at a time — so a file is applied whole or
not at all, and memory holds at most one deposit's payments, whatever the file's size."""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date

from portal.money import MAX_MINOR

RECORD_LENGTH = 80
REFERENCE_CODE_OCR = "2"  # Bankgirot has checked the OCR reference's check digit


class BgMaxRejected(ValueError):
    """The file is not a BgMax file whose totals add up; nothing of it is applied."""

    def __init__(self, line: int, reason: str) -> None:
        super().__init__(f"line {line}: {reason}" if line else reason)
        self.line, self.reason = line, reason


@dataclass(frozen=True)
class Payment:
    """One payment (TK20) with what its deposit (TK05/TK15) says about it."""
    recipient_bankgiro: str   # ours, as the file gives it (digits)
    sender_bankgiro: str
    reference: str            # as the payer gave it (OCR, invoice numbers, free text)
    reference_code: str       # 2: an OCR reference whose check digits Bankgirot verified
    amount_minor: int         # öre
    currency: str
    serial: str               # Bankgirot's serial number of the payment
    paid_on: date             # the deposit's payment date
    deposit_serial: str       # the deposit's serial number: with the payment's, unique to it
    extra_references: tuple[str, ...] = ()  # TK22: more invoices in the same transfer
    payer_name: str = ""

    @property
    def key(self) -> str:
        """What makes a second import of the same file record nothing new."""
        return f"bgmax-{self.recipient_bankgiro}-{self.paid_on.isoformat()}-{self.deposit_serial}-{self.serial}"


@dataclass
class _Deposit:
    bankgiro: str
    currency: str
    payments: list[dict] = field(default_factory=list)


def _digits(line: int, value: str, what: str) -> int:
    if not (value.isascii() and value.isdigit()):
        raise BgMaxRejected(line, f"{what} is not a number: {value!r}")
    return int(value)


def _amount(line: int, value: str) -> int:
    amount = _digits(line, value, "amount")
    if amount > MAX_MINOR:
        raise BgMaxRejected(line, f"an amount of {amount} öre, more than any payment the portal takes ({MAX_MINOR})")
    return amount


def _day(line: int, value: str) -> date:
    try:
        return date(int(value[:4]), int(value[4:6]), int(value[6:8]))
    except ValueError:
        raise BgMaxRejected(line, f"not a date: {value!r}") from None


def _records(lines: Iterable[str | bytes]) -> Iterator[tuple[int, str]]:
    """(line number, record) for each non-empty line. Bankgirot sends ISO 8859-1."""
    for number, raw in enumerate(lines, start=1):
        text = raw.decode("latin-1") if isinstance(raw, bytes) else raw
        text = text.rstrip("\r\n")
        if not text.strip():
            continue
        if len(text) > RECORD_LENGTH:
            raise BgMaxRejected(number, f"a record is {RECORD_LENGTH} characters, this one {len(text)}")
        yield number, text.ljust(RECORD_LENGTH)


def _read(lines: Iterable[str | bytes]) -> Iterator[Payment]:
    """The one reading of the file both passes share: checks every record and total
    as it goes, yields each deposit's payments once its closing record (TK15) agrees."""
    deposit: _Deposit | None = None
    counts = {"20": 0, "21": 0, "22": 0, "23": 0, "15": 0}
    opened = closed = False
    last_payment: dict | None = None
    for number, record in _records(lines):
        code = record[:2]
        if closed:
            raise BgMaxRejected(number, "records after the closing record (TK70)")
        if not opened:
            if code != "01" or record[2:22].strip() != "BGMAX":
                raise BgMaxRejected(number, "not a BgMax file: it must start with TK01 and the layout name BGMAX")
            opened = True
            continue
        match code:
            case "05":
                if deposit is not None:
                    raise BgMaxRejected(number, "a deposit (TK05) opens before the last one closed (TK15)")
                deposit = _Deposit(bankgiro=str(_digits(number, record[2:12], "recipient bankgiro")),
                                   currency=record[22:25])
            case "20" | "21":
                if deposit is None:
                    raise BgMaxRejected(number, f"a payment (TK{code}) outside a deposit")
                counts[code] += 1
                amount = _amount(number, record[37:55])
                last_payment = {"sender": str(_digits(number, record[2:12], "sender bankgiro")),
                                "reference": record[12:37].strip(), "amount": amount if code == "20" else -amount,
                                "reference_code": record[55], "serial": record[57:69], "extra": [], "name": ""}
                _digits(number, last_payment["serial"], "serial number")
                deposit.payments.append(last_payment)
            case "22" | "23":
                if last_payment is None:
                    raise BgMaxRejected(number, f"an extra reference (TK{code}) without a payment")
                counts[code] += 1
                if record[12:37].strip():
                    last_payment["extra"].append(record[12:37].strip())
            case "26":
                if last_payment is not None:
                    last_payment["name"] = record[2:37].strip()
            case "25" | "27" | "28" | "29":
                pass  # information, address, organisation number: kept by Bankgirot, not needed here
            case "15":
                if deposit is None:
                    raise BgMaxRejected(number, "a deposit closes (TK15) that never opened")
                counts["15"] += 1
                paid_on = _day(number, record[37:45])
                amount = _digits(number, record[50:68], "deposit amount")
                how_many = _digits(number, record[71:79], "number of payments")
                if record[68:71] != deposit.currency:
                    raise BgMaxRejected(number, f"deposit currency {record[68:71]!r}, its opening said "
                                                f"{deposit.currency!r}")
                payments = [p for p in deposit.payments if p["amount"] >= 0]
                if how_many != len(payments):
                    raise BgMaxRejected(number, f"the deposit says {how_many} payments, the file has {len(payments)}")
                if amount != sum(p["amount"] for p in deposit.payments):
                    raise BgMaxRejected(number, f"the deposit says {amount} öre, its payments add up to "
                                                f"{sum(p['amount'] for p in deposit.payments)}")
                for p in payments:
                    yield Payment(deposit.bankgiro, p["sender"], p["reference"], p["reference_code"], p["amount"],
                                  deposit.currency, p["serial"], paid_on, record[45:50], tuple(p["extra"]), p["name"])
                deposit, last_payment = None, None
            case "70":
                if deposit is not None:
                    raise BgMaxRejected(number, "the file closes (TK70) inside a deposit")
                said = [_digits(number, record[i:i + 8], "record count") for i in (2, 10, 18, 26)]
                found = [counts["20"], counts["21"], counts["22"] + counts["23"], counts["15"]]
                if said != found:
                    raise BgMaxRejected(number, f"the closing record counts {said} (payments, deductions, extra "
                                                f"references, deposits); the file has {found}")
                closed = True
            case _:
                raise BgMaxRejected(number, f"unknown record type {code!r}")
    if not opened:
        raise BgMaxRejected(0, "the file is empty")
    if not closed:
        raise BgMaxRejected(0, "the file ends without its closing record (TK70): it may be cut short")


def check(lines: Iterable[str | bytes], recipient_bankgiro: str) -> int:
    """Read the whole file and refuse it (BgMaxRejected) unless it is well formed, every
    total adds up and every deposit is to `recipient_bankgiro`; the number of payments."""
    ours = str(int("".join(c for c in recipient_bankgiro if c.isdigit()) or "0"))
    count = 0
    for payment in _read(lines):
        if payment.recipient_bankgiro != ours:
            raise BgMaxRejected(0, f"a deposit to bankgiro {payment.recipient_bankgiro}, not ours ({ours})")
        count += 1
    return count


def payments(lines: Iterable[str | bytes]) -> Iterator[Payment]:
    """The payments of a file `check` accepted, one at a time."""
    yield from _read(lines)


# --- writing (the demo's sample file, and the tests' files) ------------------------------

@dataclass(frozen=True)
class Transfer:
    """One payment to write into a file."""
    reference: str
    amount_minor: int
    extra: tuple[str, ...] = ()   # more references (TK22): one transfer for several invoices
    name: str = ""
    sender: str = "3783511"


def _fixed(text: str) -> str:
    if len(text) > RECORD_LENGTH:
        raise ValueError(f"record longer than {RECORD_LENGTH}: {text!r}")
    return text.ljust(RECORD_LENGTH)


def build_file(deposits: list[list[Transfer]], recipient_bankgiro: str, paid_on: date, first_serial: int = 1,
               deposit_amounts: list[int] | None = None, closing_counts: tuple[int, ...] | None = None) -> bytes:
    """A BgMax file as Bankgirot would send it (ISO 8859-1, 80-character records).
    `deposit_amounts` and `closing_counts` replace the true totals: a broken file, to test."""
    bankgiro = "".join(c for c in recipient_bankgiro if c.isdigit()).rjust(10, "0")
    lines = [_fixed("01" + "BGMAX".ljust(20) + "01" + paid_on.strftime("%Y%m%d") + "120000000000" + "P")]
    serial, extra_count = first_serial, 0
    for number, deposit in enumerate(deposits, start=1):
        lines.append(_fixed("05" + bankgiro + " " * 10 + "SEK"))
        for transfer in deposit:
            tail = "2" + "1" + str(serial).rjust(12, "0") + "0"  # OCR checked, channel, serial, no image
            lines.append(_fixed("20" + transfer.sender.rjust(10, "0") + transfer.reference.ljust(25)
                                + str(transfer.amount_minor).rjust(18, "0") + tail))
            for reference in transfer.extra:
                lines.append(_fixed("22" + transfer.sender.rjust(10, "0") + reference.ljust(25) + "0" * 18 + tail))
                extra_count += 1
            if transfer.name:
                lines.append(_fixed("26" + transfer.name))
            serial += 1
        amount = deposit_amounts[number - 1] if deposit_amounts else sum(t.amount_minor for t in deposit)
        lines.append(_fixed("15" + "5841000001009823".rjust(35, "0") + paid_on.strftime("%Y%m%d")
                            + str(number).rjust(5, "0") + str(amount).rjust(18, "0") + "SEK"
                            + str(len(deposit)).rjust(8, "0")))
    counts = closing_counts or (sum(len(d) for d in deposits), 0, extra_count, len(deposits))
    lines.append(_fixed("70" + "".join(str(n).rjust(8, "0") for n in counts)))
    return ("\r\n".join(lines) + "\r\n").encode("latin-1")

"""Remittance details printed on invoices for check/bank-transfer customers (R03, R17):
the provider's bankgiro, IBAN and BIC, plus each invoice's OCR reference, a pay-as-you-go
account's, and a payment request's (B22: one for several invoices).

Check digits come from libraries (stdnum.luhn, schwifty), not hand-written code.

OCR references follow Bankgirot's "length digit" variant (OCR-referenskontroll with
variable length and length digit): the reference is the invoice digits, then a length
digit, then a Luhn (mod 10) check digit. The length digit is the length of the whole
reference, including the length and check digits, modulo 10. References are 2–25 digits.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import lru_cache

from schwifty import BIC, IBAN
from schwifty.exceptions import SchwiftyException
from stdnum import luhn
from stdnum.util import isdigits

OCR_MIN_LENGTH = 2
OCR_MAX_LENGTH = 25  # Bankgirot's limit for OCR references


class InvalidRemittanceDetails(ValueError):
    """A remittance setting is missing or invalid; the message names the setting."""

    def __init__(self, setting: str, reason: str) -> None:
        super().__init__(f"{setting}: {reason}")
        self.setting = setting
        self.reason = reason


def _compact(value: str) -> str:
    return "".join(value.split())


def ocr_reference(invoice_number: str) -> str:
    """Invoice digits + length digit + Luhn check digit (Bankgirot's length-digit variant)."""
    if not isdigits(invoice_number):  # ASCII digits only; also rejects ''
        raise ValueError(f"invoice number must be digits only, got {invoice_number!r}")
    length = len(invoice_number) + 2
    if length > OCR_MAX_LENGTH:
        raise ValueError(f"OCR reference would be {length} digits; at most {OCR_MAX_LENGTH}")
    body = invoice_number + str(length % 10)
    return body + luhn.calc_check_digit(body)


ACCOUNT_PREFIX = "0"  # invoice numbers never start with 0: an OCR body that does names an account


def account_reference(account_id: int) -> str:
    """B11: the OCR reference a pay-as-you-go account pays its check/wire charges with
    (no invoice to quote): 0 + the account id in 7 digits, then length and check digit."""
    return ocr_reference(ACCOUNT_PREFIX + str(account_id).rjust(7, "0"))


REQUEST_PREFIX = "00"  # with 8 digits or more after it: an account's body starting 00 is 8 digits in all


def request_reference(request_id: int) -> str:
    """B22: a payment request's OCR reference (one transfer for several invoices): 00 +
    the request id in 8 digits, then length and check digit. Never an invoice's (they
    never start with 0) nor an account's (0 + 7 digits: a body that starts 00 is then
    exactly 8 digits long; one of 8 digits or more after 0 never starts 00)."""
    return ocr_reference(REQUEST_PREFIX + str(request_id).rjust(8, "0"))


@lru_cache(maxsize=4096)  # the BgMax import asks it of each reference a few times a batch
def ocr_target(reference: str) -> tuple[str, int | str] | None:
    """What a valid OCR reference names: ("account", id), ("request", id) or ("invoice",
    number); None when it is not a valid one."""
    digits = _compact(reference)
    if not is_valid_ocr(digits):
        return None
    body = digits[:-2]
    if body.startswith(REQUEST_PREFIX) and len(body) >= len(REQUEST_PREFIX) + 8:
        return ("request", int(body)) if body.strip("0") else None
    if body.startswith(ACCOUNT_PREFIX):
        return ("account", int(body)) if body.strip("0") else None
    return ("invoice", body)


def is_valid_ocr(reference: str) -> bool:
    """True if the reference (spaces ignored) has a correct length digit and Luhn check digit."""
    digits = _compact(reference)
    return (isdigits(digits)
            and OCR_MIN_LENGTH <= len(digits) <= OCR_MAX_LENGTH
            and digits[-2] == str(len(digits) % 10)
            and luhn.is_valid(digits))


def _bankgiro(raw: str) -> str:
    """Validate a bankgiro number and return its display form, NNN-NNNN or NNNN-NNNN."""
    digits = _compact(raw).replace("-", "")
    if not isdigits(digits) or not 7 <= len(digits) <= 8:
        raise InvalidRemittanceDetails("REMITTANCE_BANKGIRO", f"{raw!r} is not 7–8 digits")
    if not luhn.is_valid(digits):
        raise InvalidRemittanceDetails("REMITTANCE_BANKGIRO", f"{raw!r} has a wrong check digit")
    return f"{digits[:-4]}-{digits[-4:]}"


@dataclass(frozen=True)
class RemittanceDetails:
    """Where to send payment; ocr is None on the provider-level object."""

    bankgiro: str  # display form, NNN-NNNN or NNNN-NNNN
    iban: str  # compact, e.g. SE4550000000058398257466
    iban_display: str  # groups of four, e.g. SE45 5000 0000 0583 9825 7466
    bic: str  # compact, 8 or 11 characters
    ocr: str | None = None

    def for_invoice(self, invoice_number: str) -> RemittanceDetails:
        """A copy carrying the OCR reference for one invoice."""
        return replace(self, ocr=ocr_reference(invoice_number))

    def for_request(self, request_id: int) -> RemittanceDetails:
        """A copy carrying a payment request's OCR reference (B22)."""
        return replace(self, ocr=request_reference(request_id))

    def for_account(self, account_id: int) -> RemittanceDetails:
        """A copy carrying a pay-as-you-go account's OCR reference (B11)."""
        return replace(self, ocr=account_reference(account_id))


def remittance_from_config(config: Mapping[str, str]) -> RemittanceDetails:
    """Validate REMITTANCE_BANKGIRO, REMITTANCE_IBAN and REMITTANCE_BIC from the app config."""
    values: dict[str, str] = {}
    for key in ("REMITTANCE_BANKGIRO", "REMITTANCE_IBAN", "REMITTANCE_BIC"):
        value = config.get(key)
        if not isinstance(value, str) or not value.strip():
            raise InvalidRemittanceDetails(key, "is not set")
        values[key] = value
    return _details(values["REMITTANCE_BANKGIRO"], values["REMITTANCE_IBAN"], values["REMITTANCE_BIC"])


@lru_cache(maxsize=16)
def _details(bankgiro_raw: str, iban_raw: str, bic_raw: str) -> RemittanceDetails:
    """The details checked once per set of values (pages show them on every view; the
    IBAN and BIC checks cost 0.1 ms a time): a refusal is raised again each time."""
    values = {"REMITTANCE_BANKGIRO": bankgiro_raw, "REMITTANCE_IBAN": iban_raw, "REMITTANCE_BIC": bic_raw}
    bankgiro = _bankgiro(values["REMITTANCE_BANKGIRO"])
    try:
        iban = IBAN(values["REMITTANCE_IBAN"])
    except SchwiftyException as exc:
        raise InvalidRemittanceDetails(
            "REMITTANCE_IBAN", f"{values['REMITTANCE_IBAN']!r} is not a valid IBAN ({exc})") from exc
    try:
        bic = BIC(values["REMITTANCE_BIC"])
    except SchwiftyException as exc:
        raise InvalidRemittanceDetails(
            "REMITTANCE_BIC", f"{values['REMITTANCE_BIC']!r} is not a valid BIC ({exc})") from exc
    return RemittanceDetails(bankgiro=bankgiro, iban=iban.compact,
                             iban_display=iban.formatted, bic=bic.compact)

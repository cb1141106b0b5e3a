"""BgMax files built by the tests (portal.billing.bank.bgmax.build_file), so each case —
valid, duplicate, bad totals, unknown OCR, partial, over-payment — is a file."""
from __future__ import annotations

from datetime import date

from portal.billing.bank.bgmax import Transfer, build_file

OUR_BANKGIRO = "5050-1055"  # the test configuration's REMITTANCE_BANKGIRO


def Paid(reference: str, amount_minor: int, extra: list[str] | tuple = (), name: str = "Fjällström Logistik AB"):
    return Transfer(reference, amount_minor, tuple(extra), name)


def bgmax_file(deposits, paid_on: date = date(2026, 12, 3), **totals) -> bytes:
    return build_file(deposits, OUR_BANKGIRO, paid_on, **totals)

"""The payment gateway boundary: the interface a real card processor implements
(`PaymentGateway`), what it answers with, and card checks made before any call.
The sandbox that stands in for a processor in development and tests is
`portal/billing/payments/sandbox.py`; nothing here knows of it."""
from __future__ import annotations

import datetime as dt
import enum
import re
from dataclasses import dataclass
from typing import Protocol

from portal.errors import InvalidCard
from portal.money import Money


class DeclineCode(enum.StrEnum):
    """Why a gateway declined a charge (R10). Values match Stripe's decline codes."""

    GENERIC_DECLINE = "generic_decline"
    INSUFFICIENT_FUNDS = "insufficient_funds"
    CREDIT_LIMIT_EXCEEDED = "credit_limit_exceeded"
    INTERNATIONAL_NOT_ALLOWED = "international_not_allowed"
    RECURRING_NOT_ENABLED = "recurring_not_enabled"
    EXPIRED_CARD = "expired_card"
    INCORRECT_CVC = "incorrect_cvc"
    PROCESSING_ERROR = "processing_error"
    # B13: an off-session charge (the billing cycle) the bank will only take with the
    # cardholder present; and a challenge the cardholder failed, cancelled or abandoned.
    AUTHENTICATION_REQUIRED = "authentication_required"
    AUTHENTICATION_FAILED = "authentication_failed"


class IdempotencyConflict(Exception):
    """An idempotency key was reused for a different token, amount or currency.

    That is a programming error on the caller's side (a key must identify exactly one
    intended charge), so it is not a BillingError shown to users."""


class RefundRefused(Exception):
    """A refund the processor will not make: no such approved charge, or more than is
    left of it."""


class GatewayError(Exception):
    """The processor could not be used. Never a decline: a decline is an answer."""


class GatewayNotReached(GatewayError):
    """The request never reached the processor (refused, unreachable): certainly
    nothing was charged."""


class GatewayNoAnswer(GatewayError):
    """The request was sent but no answer came back (timed out, connection lost):
    the charge may have gone through. Asking again with the same idempotency key
    returns what really happened, without charging again."""


@dataclass(frozen=True, repr=False)
class CardDetails:
    """Raw card data as typed by the customer. Lives only long enough to tokenize."""

    number: str
    exp_month: int
    exp_year: int
    cvc: str
    holder: str

    def __repr__(self) -> str:
        # PAN and CVC must never reach logs or tracebacks (PCI DSS 3.3 / 3.2).
        last4 = normalize_card_number(str(self.number))[-4:]
        return (
            f"CardDetails(number='****{last4}', exp_month={self.exp_month!r}, "
            f"exp_year={self.exp_year!r}, cvc='***', holder={self.holder!r})"
        )

    __str__ = __repr__


@dataclass(frozen=True)
class CardToken:
    """What the portal may store about a card: an opaque token plus display data."""

    token: str
    brand: str
    last4: str
    exp_month: int
    exp_year: int
    holder: str


@dataclass(frozen=True)
class ChargeResult:
    """Outcome of a charge. `reference` is set iff approved; `decline_code` iff
    declined; `challenge` iff the bank wants the cardholder to authenticate first
    (B13, 3-D Secure): send them to `challenge_url(challenge, …)`, and ask `charge`
    again with the same key when they come back."""

    approved: bool
    reference: str | None
    decline_code: DeclineCode | None
    challenge: str | None = None

    @property
    def requires_action(self) -> bool:
        return self.challenge is not None


class PaymentGateway(Protocol):
    """What the billing service needs from a card processor.

    Contract:
    - `tokenize` validates the card (raising `InvalidCard`) and exchanges it for a
      `CardToken`; the token never contains the card number or CVC.
    - `charge` is idempotent per `idempotency_key`: the first call decides and records
      the result; every later call with the same key returns that same result (same
      reference, or same decline) and never charges a second time, even when calls race
      from several threads or processes. Reusing a key with a different token, amount
      or currency raises `IdempotencyConflict`. A decline is a normal `ChargeResult`,
      not an exception; `amount.minor <= 0` raises `InvalidAmount`.
    - `charge` raises `GatewayNotReached` when the request certainly did not reach the
      processor, and `GatewayNoAnswer` when it may have been charged but no answer
      came back; a later call with the same key then returns the real outcome.
    - B13: a charge the issuer wants authenticated answers `requires_action` (nothing
      charged yet); the same key asked again answers the same challenge until the
      cardholder has passed it (approved or declined then, once) or it has expired
      (declined `authentication_failed`). `off_session=True` (nobody there to
      authenticate: the billing cycle) answers `authentication_required` instead.
    """

    def tokenize(self, card: CardDetails) -> CardToken:
        """Validate `card` and return a token for it. Raises InvalidCard."""
        ...

    def charge(self, token: str, amount: Money, idempotency_key: str, off_session: bool = False) -> ChargeResult:
        """Charge `amount` to `token` at most once per `idempotency_key`."""
        ...

    def challenge_url(self, challenge: str, return_to: str) -> str:
        """Where the cardholder authenticates (the bank's page), coming back to the
        portal's `return_to` (a path) when done."""
        ...

    def verify(self, token: str) -> DeclineCode | None:
        """Ask the issuer whether the card can be charged, charging nothing (a real
        processor: a zero-amount authorization). None: it can; else why not. Raises
        GatewayError when no answer comes (nothing moved either way)."""
        ...

    def refund(self, reference: str, amount: Money, idempotency_key: str) -> str:
        """B15: pay `amount` of the approved charge `reference` back to its card, at most
        once per `idempotency_key` (the same key again answers the same refund);
        the refund's reference. Never more than is left of the charge (RefundRefused);
        GatewayError when no answer comes (asked again under the same key)."""
        ...

    def ledger(self) -> list[LedgerEntry]:
        """Every charge the processor has decided, oldest first (a real processor:
        its "list charges" API); `reconcile` compares it with the payments recorded."""
        ...


# --- pure card helpers --------------------------------------------------------------

_SEPARATORS = re.compile(r"[\s-]+")


def normalize_card_number(raw: str) -> str:
    """Drop the spaces and dashes people type between digit groups."""
    return _SEPARATORS.sub("", raw)


def luhn_valid(digits: str) -> bool:
    """Luhn (mod 10) checksum; False for empty or non-digit input."""
    if not digits or not digits.isascii() or not digits.isdigit():
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def card_brand(digits: str) -> str:
    """'visa', 'mastercard', 'amex' or 'unknown', from the issuer prefix (IIN)."""
    if not digits.isascii() or not digits.isdigit():
        return "unknown"
    if digits.startswith(("34", "37")):
        return "amex"
    if digits.startswith("4"):
        return "visa"
    if len(digits) >= 2 and 51 <= int(digits[:2]) <= 55:
        return "mastercard"
    if len(digits) >= 4 and 2221 <= int(digits[:4]) <= 2720:
        return "mastercard"
    return "unknown"


# Years further out than this are typos, not cards (issuers use <= ~10 years).
_MAX_YEARS_AHEAD = 50


def validate_card(card: CardDetails, today: dt.date) -> None:
    """Raise InvalidCard(reason) for the first problem found, in the order the form
    shows fields: 'number', 'expiry', 'expired', 'cvc', 'holder'."""
    digits = normalize_card_number(card.number) if isinstance(card.number, str) else ""
    if not (12 <= len(digits) <= 19) or not luhn_valid(digits):
        raise InvalidCard("number")

    validate_expiry(card.exp_month, card.exp_year, today)

    cvc_len = 4 if card_brand(digits) == "amex" else 3
    if not (isinstance(card.cvc, str) and card.cvc.isascii() and card.cvc.isdigit()
            and len(card.cvc) == cvc_len):
        raise InvalidCard("cvc")

    if not isinstance(card.holder, str) or not card.holder.strip():
        raise InvalidCard("holder")


def validate_expiry(month: object, year: object, today: dt.date) -> None:
    """InvalidCard('expiry') for a month/year that is no expiry date, 'expired' for one
    already past: a new card, and a saved card's new expiry (issue 33 item 3)."""
    if (
        not isinstance(month, int)
        or isinstance(month, bool)
        or not isinstance(year, int)
        or isinstance(year, bool)
        or not 1 <= month <= 12
        # Two-digit years are rejected rather than guessed at; the form sends four.
        or not 2000 <= year <= today.year + _MAX_YEARS_AHEAD
    ):
        raise InvalidCard("expiry")
    # A card is valid through the last day of its expiry month.
    if (year, month) < (today.year, today.month):
        raise InvalidCard("expired")


@dataclass(frozen=True)
class LedgerEntry:
    """One row of the sandbox ledger, for tests to inspect."""

    id: int
    idempotency_key: str
    token: str
    amount: Money
    approved: bool
    decline_code: DeclineCode | None
    reference: str | None
    created_at: dt.datetime

"""Money as integer minor units with an ISO 4217 currency (M1). Never floats."""
from __future__ import annotations

from dataclasses import dataclass

from portal.errors import CurrencyMismatch, InvalidAmount

# The largest amount, in minor units, that the portal takes from outside: from a form or
# a bank's file (issue 27). That is 9 999 999 999 999,99 kr, which is more than Sweden's
# yearly GDP, so no real invoice or transfer comes near it. It has 15 digits, which is
# what the payment forms' hidden amounts always allowed. It is far below the end of a
# 64-bit column (about 9.2 × 10^18), so sums of such amounts still fit: an invoice's lines,
# what it has received, or what a subscription owes. It is also below 2^53, so an amount
# is exact as a JSON number or as a float.
MAX_MINOR = 10**15 - 1


@dataclass(frozen=True, order=False)
class Money:
    minor: int
    currency: str

    def __post_init__(self) -> None:
        if not isinstance(self.minor, int) or isinstance(self.minor, bool):
            raise InvalidAmount("amount must be an integer of minor units")
        if not (isinstance(self.currency, str) and len(self.currency) == 3 and self.currency.isalpha() and self.currency.isupper()):
            raise InvalidAmount(f"not an ISO 4217 currency code: {self.currency!r}")

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(0, currency)

    def _same_currency(self, other: Money) -> None:
        if self.currency != other.currency:
            raise CurrencyMismatch(self.currency, other.currency)

    def __add__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.minor + other.minor, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.minor - other.minor, self.currency)

    def __lt__(self, other: Money) -> bool:
        self._same_currency(other)
        return self.minor < other.minor

    def __le__(self, other: Money) -> bool:
        self._same_currency(other)
        return self.minor <= other.minor


def total(amounts, currency: str) -> Money:
    """Sum Money values that must all be in `currency`."""
    result = Money.zero(currency)
    for amount in amounts:
        result = result + amount
    return result

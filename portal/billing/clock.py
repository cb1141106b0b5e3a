"""Time comes from an injected clock so lifecycle rules (30 days, 90 days) are testable."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Protocol
from zoneinfo import ZoneInfo


class Clock(Protocol):
    def today(self) -> date: ...
    def now(self) -> datetime: ...


@dataclass(frozen=True)
class SystemClock:
    """Billing days are calendar days in the provider's time zone; instants are UTC."""
    tz: ZoneInfo = field(default_factory=lambda: ZoneInfo("Europe/Stockholm"))

    def today(self) -> date:
        return datetime.now(self.tz).date()

    def now(self) -> datetime:
        return datetime.now(timezone.utc).replace(tzinfo=None)


@dataclass
class FixedClock:
    """A clock for tests and for running the billing cycle 'as of' a date."""
    current: date

    def today(self) -> date:
        return self.current

    def now(self) -> datetime:
        return datetime(self.current.year, self.current.month, self.current.day, 12, 0)

    def advance(self, days: int) -> None:
        self.current += timedelta(days=days)

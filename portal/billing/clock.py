"""Time comes from an injected clock, so every calendar rule is testable on any day.

M7: billing days are calendar days in the portal's time zone (PORTAL_TIMEZONE,
Europe/Stockholm): a charge at 23:30 on 31 January in Stockholm belongs to January,
though it is already 1 February nowhere and 31 January in UTC. Instants (created_at,
next_attempt_at …) are naive UTC.

The system clock is read here and nowhere else in the portal (tests/test_architecture.py),
in two ways: `wall_clock()`, what day and time it is (through SystemClock and
PinnedDayClock, or the sandbox's calendar), and `epoch_seconds()`, for durations shared
between processes (rate-limit windows, how long a sandbox challenge waits), which never
decide a day. The suite counts every `wall_clock()` read, so a test whose outcome could
depend on the moment it runs carries the `wall_clock` marker and runs at every
moved-clock moment in CI (tests/conftest.py).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
import time as _time
from datetime import date, datetime, time, timedelta, timezone
from typing import Protocol
from zoneinfo import ZoneInfo

PORTAL_ZONE = "Europe/Stockholm"


class Clock(Protocol):
    def today(self) -> date: ...
    def now(self) -> datetime: ...


def wall_clock() -> datetime:
    """The system clock's instant (aware, UTC): what day and time it is."""
    return datetime.now(timezone.utc)


def epoch_seconds() -> float:
    """Seconds since the epoch, for durations that several processes measure alike
    (a window that opened in another worker); never for which day it is."""
    return _time.time()


def day_in_zone(instant: datetime, tz: ZoneInfo) -> date:
    """The calendar day an instant (aware, or naive UTC) falls on in `tz`."""
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=timezone.utc)
    return instant.astimezone(tz).date()


@dataclass(frozen=True)
class SystemClock:
    """The real clock. `source` gives the current instant (aware); tests hand it a
    fixed instant to prove where the day boundary falls."""
    tz: ZoneInfo = field(default_factory=lambda: ZoneInfo(PORTAL_ZONE))
    source: Callable[[], datetime] | None = None  # None: wall_clock, looked up at each call

    def today(self) -> date:
        return day_in_zone(_instant(self.source), self.tz)

    def now(self) -> datetime:
        return _instant(self.source).astimezone(timezone.utc).replace(tzinfo=None)


@dataclass
class FixedClock:
    """A clock for tests and for running the billing cycle 'as of' a date: noon of
    that day in the portal's zone (never near a day boundary)."""
    current: date
    tz: ZoneInfo = field(default_factory=lambda: ZoneInfo(PORTAL_ZONE))

    def today(self) -> date:
        return self.current

    def now(self) -> datetime:
        noon = datetime.combine(self.current, time(12, 0), tzinfo=self.tz)
        return noon.astimezone(timezone.utc).replace(tzinfo=None)

    def advance(self, days: int) -> None:
        self.current += timedelta(days=days)


@dataclass(frozen=True)
class PinnedDayClock:
    """A running server whose calendar day is pinned (PORTAL_TODAY, development and
    tests only): today() is always that day, for every billing rule; now() is the
    real instant, so timestamps, timeouts and "older than" keep moving forward — in
    every process alike, also across a real midnight."""
    day: date
    tz: ZoneInfo = field(default_factory=lambda: ZoneInfo(PORTAL_ZONE))
    source: Callable[[], datetime] | None = None

    def today(self) -> date:
        return self.day

    def now(self) -> datetime:
        return _instant(self.source).astimezone(timezone.utc).replace(tzinfo=None)


def _instant(source: Callable[[], datetime] | None) -> datetime:
    return source() if source is not None else wall_clock()


def clock_from_config(config) -> Clock:
    """The application's clock: the real one, or a pinned day when PORTAL_TODAY is set."""
    tz = ZoneInfo(config.get("BABEL_DEFAULT_TIMEZONE") or PORTAL_ZONE)
    pinned = config.get("PINNED_TODAY")
    return PinnedDayClock(pinned, tz) if pinned else SystemClock(tz)

"""The billing calendar (M7): periods are calendar months, and an invoice is due
through its due day and past due from the next. Days are dates in the portal's time
zone (see clock.py); the R12 dates (disable, deletion) are BillingPolicy's, because
their lengths are configuration.
"""
from __future__ import annotations

import calendar
from collections.abc import Iterable
from datetime import date, timedelta


def month_end(day: date) -> date:
    """The last day of `day`'s calendar month."""
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def month_of(day: date) -> tuple[date, date]:
    """(first day, last day) of `day`'s calendar month."""
    return day.replace(day=1), month_end(day)


def previous_month(today: date) -> tuple[date, date]:
    """(first day, last day) of the calendar month before `today`'s."""
    last = today.replace(day=1) - timedelta(days=1)
    return last.replace(day=1), last


def months_back(today: date, months: int) -> tuple[date, date]:
    """(first day, last day) of the calendar month `months` (1 or more) before `today`'s."""
    start, end = previous_month(today)
    for _ in range(months - 1):
        start, end = previous_month(start)
    return start, end


def billing_day(period_end: date) -> date:
    """The day the billing cycle first bills a period: the day after it ends."""
    return period_end + timedelta(days=1)


def is_past_due(due_on: date, today: date) -> bool:
    """M7: due through the due day itself, past due from the next day on."""
    return today > due_on


def billed_part(started_on: date, period_start: date, period_end: date) -> tuple[date, date]:
    """The part of a month a subscription is billed for: from the month's first day,
    or from the day it started when that is later (a period that starts mid-month)."""
    return max(started_on, period_start), period_end


def enabled_parts(start: date, end: date,
                  disabled: Iterable[tuple[date, date | None]]) -> list[tuple[date, date]]:
    """B16: the parts of start..end (both included) a subscription was not disabled,
    in order. Each stretch (disabled_on, enabled_on) takes out the days from
    `disabled_on` to the day before `enabled_on`, the day it was re-enabled (None: it
    is disabled still)."""
    parts = [(start, end)]
    for off, on in disabled:
        if on is not None and on <= off:  # re-enabled the day it was disabled: no day off
            continue
        kept = []
        for first, last in parts:
            if off > last or (on is not None and on <= first):  # no day in common
                kept.append((first, last))
                continue
            if first < off:
                kept.append((first, off - timedelta(days=1)))
            if on is not None and on <= last:
                kept.append((on, last))
        parts = kept
    return sorted(parts)


def prorated(monthly_minor: int, start: date, end: date, days: int | None = None) -> int:
    """A monthly fee for the days start..end (both included) of one calendar month —
    or for `days` of them (B16: less the days it was disabled) — by the days of that
    month, rounded half up to a whole minor unit (M1: integers)."""
    month_days = calendar.monthrange(end.year, end.month)[1]
    if days is None:
        days = (end - start).days + 1
    return (2 * monthly_minor * days + month_days) // (2 * month_days)

"""The billing calendar (M7): periods are calendar months, and an invoice is due
through its due day and past due from the next. Days are dates in the portal's time
zone (see clock.py); the R12 dates (disable, deletion) are BillingPolicy's, because
their lengths are configuration.
"""
from __future__ import annotations

import calendar
from datetime import date, timedelta


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


def prorated(monthly_minor: int, start: date, end: date) -> int:
    """A monthly fee for the days start..end (both included) of one calendar month,
    by the days of that month, rounded half up to a whole minor unit (M1: integers)."""
    month_days = calendar.monthrange(end.year, end.month)[1]
    days = (end - start).days + 1
    return (2 * monthly_minor * days + month_days) // (2 * month_days)

"""Billing periods are calendar months."""
from __future__ import annotations

from datetime import date, timedelta


def previous_month(today: date) -> tuple[date, date]:
    """(first day, last day) of the calendar month before `today`'s."""
    last = today.replace(day=1) - timedelta(days=1)
    return last.replace(day=1), last

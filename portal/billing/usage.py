"""Usage lines (issue 32): what a subscription used in a period, posted by the provider
through the API, rated here and billed by the billing cycle — into the period's charge
of a pay-as-you-go subscription (cycle/lifecycle.bill_subscription), or as lines of the
customer agreement's invoice (cycle/invoices.generate_invoice). The unit price is a
price like the monthly fee (VAT included, docs/vat.md); the amount is quantity × unit
price rounded half up to the minor unit, once, when the line is posted."""
from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from portal.billing.paging import LIMIT, PAGE_SIZE, Keyset, Page, read_page
from portal.billing.transaction import reader
from portal.models import UsageLine
from portal.money import Money


def rated(quantity: Decimal, unit_price_minor: int) -> int:
    return int((quantity * unit_price_minor).to_integral_value(rounding=ROUND_HALF_UP))


def usage_total(session: Session, subscription_id: int, period_start: date, period_end: date) -> int:
    """The rated usage of one subscription in a period (minor units)."""
    return int(session.scalar(select(func.coalesce(func.sum(UsageLine.amount_minor), 0)).where(
        UsageLine.subscription_id == subscription_id,
        UsageLine.period_start.between(period_start, period_end))) or 0)


def usage_lines(session: Session, subscription_ids: list[int], period_start: date,
                period_end: date) -> list[UsageLine]:
    """The usage lines of these subscriptions in a period, for an invoice's lines."""
    if not subscription_ids:
        return []
    return list(session.scalars(select(UsageLine).where(
        UsageLine.subscription_id.in_(subscription_ids),
        UsageLine.period_start.between(period_start, period_end)).order_by(UsageLine.subscription_id, UsageLine.id)))


@dataclass(frozen=True)
class UsageSummary:
    """What one subscription used in a period, in short: its lines, counted, and their amount."""
    lines: int
    amount: Money


# Built once, values bound when it runs: per subscription of a page (a bounded list of
# ids), its lines of a period counted and summed — ranges of ix_usage_lines_subscription_period.
_SUMMARIES = (select(UsageLine.subscription_id, func.count(), func.sum(UsageLine.amount_minor))
              .where(UsageLine.subscription_id.in_(bindparam("ids", expanding=True)),
                     UsageLine.period_start.between(bindparam("start"), bindparam("end")))
              .group_by(UsageLine.subscription_id))


def usage_summaries(session: Session, subscription_ids: list[int], period_start: date, period_end: date,
                    currency: str) -> dict[int, UsageSummary]:
    """The Overview's usage per row (issue 32): for each of `subscription_ids` (a page's)
    that used anything in the period, its lines counted and summed — one query for the
    whole page, whatever the number of subscriptions; none without any."""
    if not subscription_ids:
        return {}
    return {sub_id: UsageSummary(int(lines), Money(int(minor), currency)) for sub_id, lines, minor
            in reader(session).execute(_SUMMARIES, {"ids": subscription_ids, "start": period_start, "end": period_end})}


# A subscription's lines of a month on its page, in the order of its index
# (ix_usage_lines_subscription_period: subscription, period start, id), a page at a time.
LINE_ORDER = Keyset(UsageLine.period_start, UsageLine.id, kinds=(date, int))
_OF_MONTH = (UsageLine.subscription_id == bindparam("subscription_id"),
             UsageLine.period_start.between(bindparam("start"), bindparam("end")))


@functools.cache
def _page_of_lines(mode: str):
    return select(UsageLine).where(*_OF_MONTH, *LINE_ORDER.where(mode)).order_by(*LINE_ORDER.order_by(mode)).limit(LIMIT)


def lines_page(session: Session, subscription_id: int, period_start: date, period_end: date, page: str | None,
               total: int) -> Page[UsageLine]:
    """One page of what a subscription used in a period, line by line (its page: the
    Overview shows the count and the amount). `total`: the lines' count, known from its
    summary; a page costs the same whichever it is and however many lines there are."""
    binds = {"subscription_id": subscription_id, "start": period_start, "end": period_end}

    def fetch(mode: str, more: dict) -> list[UsageLine]:
        return list(session.scalars(_page_of_lines(mode), {**binds, **more}))

    def count(mode: str | None, more: dict) -> int:
        return session.scalar(LINE_ORDER.bounded_count(select(UsageLine.id).where(*_OF_MONTH), mode),
                              {**binds, **more}) or 0
    return read_page(LINE_ORDER, LINE_ORDER.parse(page), fetch, lambda line: (line.period_start, line.id),
                     PAGE_SIZE, count, total=total)

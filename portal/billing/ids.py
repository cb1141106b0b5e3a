"""Ids as they arrive from outside: anything that cannot be a row's id is no row; and
the one id a person quotes for a payment."""
from __future__ import annotations

from typing import TypeVar

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

# Ids are 32-bit integer columns; SQLite and PostgreSQL both refuse a larger number
# in a query (an error, not "no row"), so it is answered here.
MAX_ID = 2**31 - 1

T = TypeVar("T")


def is_id(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_ID


def get(session: Session, model: type[T], value: object, options=()) -> T | None:
    """The row with this id, or None for anything that cannot be one; `options`
    (e.g. joinedload) load what the caller needs next in the same query."""
    return session.get(model, value, options=options) if is_id(value) else None


def by_id(model, *options):
    """The statement `get_by` reads a row of `model` with: built once by its caller (a
    page reads its account or subscription on every view; Session.get builds its
    statement per call, about as costly as running it — issue 28)."""
    return select(model).where(model.id == bindparam("id")).options(*options).execution_options(autoflush=False)


def get_by(session: Session, statement, model: type[T], value: object, options=()) -> T | None:
    """`get(session, model, value, options)` with `statement` (`by_id(model, *options)`):
    the session's own copy when it has one (Session.get's rules), else the row read
    without autoflush, as Session.get reads it."""
    if not is_id(value):
        return None
    if Session.identity_key(model, value) in session.identity_map:
        return session.get(model, value, options=options)
    return session.scalars(statement, {"id": value}).unique().one_or_none()


def payment_reference(payment_id: int) -> str:
    """What a customer quotes for a payment (issue 20 item 4): its number — short,
    stable, the same on the receipt page, its PDF and email, in a support request and
    in the exports' Payment ID column. The gateway's own reference (`gateway_reference`)
    is for staff and the gateway's ledger, never what a customer is told to quote."""
    return str(payment_id)

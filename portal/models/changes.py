"""When a row last changed (issue 32): `updated_at` on the rows a provider lists by
`updated_since` and that can change — billing accounts, billing profiles,
subscriptions, invoices, role assignments, invitations, webhook deliveries. (Payments, usage lines,
events and transfers to review are written once: their creation time is their change
time.)

It is set from the injected clock (`Billing.clock`, which a `Billing` leaves in its
session's `info`), by every write that goes through a session, so no write path can
forget it:

- the ORM (`before_flush`): a new row gets the time unless it has one; a changed row
  (any column, a many-to-one included) gets it;
- a set-based UPDATE of one of these tables through the session — `update(Subscription)`
  of a settlement (settle.record, balances._update_figures), a move of subscriptions, the
  invoices of a bank file (`update(Invoice.__table__)`) — gets `updated_at = :now` added
  to its SET (`do_orm_execute`). Such an UPDATE must not set `updated_at` itself.

An INSERT statement's rows that do not name it get the session's clock too (the
column's default, from the statement's execution option NOW_OPTION).
No trigger and no index: a settlement of 100,000 past-due subscriptions (issue 28) writes
one more column of rows it rewrites anyway, and on PostgreSQL the update stays HOT (no
index holds the column). Lists filter by it within an account's rows (reads.py)."""
from __future__ import annotations

from datetime import datetime

from flask import current_app, has_app_context
from sqlalchemy import DateTime, event
from sqlalchemy.orm import Mapped, Session, mapped_column

from portal.extensions import db

CLOCK_KEY = "clock"  # Session.info[CLOCK_KEY]: the clock of the last Billing made on it


NOW_OPTION = "change_time"  # an INSERT's execution option: the time its rows are stamped with


def _inserted_at(context) -> datetime:
    """The default of an INSERT's rows that do not name updated_at (many rows in one
    statement: test set-ups, the demo): the session's clock (NOW_OPTION), else the app's."""
    now = context.execution_options.get(NOW_OPTION)
    return now if now is not None else _app_clock().now()


class ChangeTracked:
    """A model whose rows carry the time they last changed (`updated_at`, UTC)."""
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=_inserted_at)


_TABLES: set[str] | None = None  # the tracked tables' names, known once every model is mapped


def tracked(table_name: str) -> bool:
    global _TABLES
    if _TABLES is None:
        _TABLES = {mapper.local_table.name for mapper in db.Model.registry.mappers
                   if issubclass(mapper.class_, ChangeTracked)}
    return table_name in _TABLES


def now_of(session: Session) -> datetime | None:
    """The time of a change through `session`: its Billing's clock, or the application's;
    None outside the application (a test's or an operator's own session, which must name
    updated_at when it inserts a row and leaves it as it was when it updates one)."""
    clock = session.info.get(CLOCK_KEY) or _app_clock_or_none()
    return None if clock is None else clock.now()


def _app_clock_or_none():
    return current_app.extensions.get("clock") if has_app_context() else None


def _app_clock():
    clock = _app_clock_or_none()
    if clock is None:
        raise RuntimeError("no clock for updated_at: name it, or make a Billing on this session first")
    return clock


@event.listens_for(Session, "before_flush")
def _stamp_objects(session: Session, _context, _instances) -> None:
    changed = [obj for obj in session.new if isinstance(obj, ChangeTracked) and obj.updated_at is None] + [
        obj for obj in session.dirty if isinstance(obj, ChangeTracked) and session.is_modified(
            obj, include_collections=False)]
    now = now_of(session) if changed else None
    if now is not None:
        for obj in changed:
            obj.updated_at = now


@event.listens_for(Session, "do_orm_execute")
def _stamp_statements(state) -> None:
    statement = state.statement
    if not (state.is_update or state.is_insert) or getattr(statement, "table", None) is None \
            or not tracked(statement.table.name):
        return
    now = now_of(state.session)
    if now is None:
        return
    if state.is_update:
        state.statement = statement.values(updated_at=now)
    else:
        state.update_execution_options(**{NOW_OPTION: now})

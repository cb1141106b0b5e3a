"""Write transactions that two requests cannot interleave.

SQLite: pysqlite's own transaction handling is switched off so that write paths can
start with BEGIN IMMEDIATE (take the write lock before reading the balance) and wait
up to the busy timeout instead of failing with "database is locked". WAL lets readers
go on meanwhile. PostgreSQL: callers lock the rows they pay with SELECT … FOR UPDATE
(`lock_account`), ignored by SQLite where the whole database is already locked.
"""
from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy import event, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from portal.models import BillingAccount

BUSY_TIMEOUT_MS = 15_000
IN_WRITE_TRANSACTION = "portal.in_write_transaction"


@event.listens_for(Engine, "connect")
def _configure_sqlite(dbapi_connection, _record) -> None:
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    dbapi_connection.isolation_level = None  # we emit BEGIN ourselves, see below
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


@event.listens_for(Engine, "begin")
def _begin_sqlite(conn) -> None:
    if conn.dialect.name != "sqlite":
        return
    mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
    conn.exec_driver_sql(f"BEGIN {mode}")


@contextmanager
def write_transaction(session: Session) -> Iterator[Session]:
    """One atomic unit of work (M2): everything inside commits together or not at all.

    A read-only transaction left open by the caller (e.g. loading the signed-in user)
    is ended first, so the write transaction starts fresh with the write lock.
    """
    if session.in_transaction():
        if session.new or session.dirty or session.deleted:
            raise RuntimeError("unsaved changes outside a write transaction")
        session.commit()
    with session.begin():
        session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})
        session.info[IN_WRITE_TRANSACTION] = True
        try:
            yield session
        finally:
            session.info.pop(IN_WRITE_TRANSACTION, None)


def reader(session: Session):
    """Where a read of plain values (columns, sums, counts — no entities) runs: the
    session's own connection, in the session's transaction, which costs a third of the
    ORM's execution of the same statement (issue 28: ~20 against ~50-120 µs a
    statement, and pages read 5-8); or the session itself while it holds unflushed
    changes, so that its autoflush writes them first and the read sees them, as before."""
    if session.new or session.dirty or session.deleted:
        return session
    return session.connection()


def in_write_transaction(session: Session) -> bool:
    return bool(session.info.get(IN_WRITE_TRANSACTION))


def lock_account(session: Session, account_id: int):
    """Lock an account's row for the rest of the transaction (PostgreSQL); payments of
    one account then run one after the other.

    FOR NO KEY UPDATE, not FOR UPDATE: it is as exclusive between payments, but does
    not block the key-share locks that inserting a row referring to the account takes
    (an audit event, an email). With FOR UPDATE, a request writing an audit event while
    holding an attempt's row waits for the account, whose holder waits for that row:
    a deadlock, seen as a 500 by one of two racing tabs.

    Rows read before the lock was granted may have been changed by the request that
    held it (READ COMMITTED): everything loaded so far is expired, so the caller reads
    the balance, the subscriptions and the payments again, as they are now."""
    account = session.scalars(
        select(BillingAccount).where(BillingAccount.id == account_id).with_for_update(key_share=True)
    ).one_or_none()
    if session.get_bind().dialect.name != "sqlite":  # SQLite: locked since BEGIN IMMEDIATE
        session.expire_all()
    return account


def lock_accounts(session: Session, account_ids: list[int]) -> dict:
    """`lock_account` for several accounts at once (a BgMax batch's): one statement,
    the rows locked in id order (two batches never wait for each other in a circle),
    everything loaded before expired once — first, so that the accounts themselves are
    read as the lock finds them, not again. The accounts by id."""
    if not account_ids:
        return {}
    if session.get_bind().dialect.name != "sqlite":  # SQLite: locked since BEGIN IMMEDIATE
        session.expire_all()
    accounts = session.scalars(select(BillingAccount).where(BillingAccount.id.in_(account_ids))
                               .order_by(BillingAccount.id).with_for_update(key_share=True)).all()
    return {account.id: account for account in accounts}


Progress = Callable[[int], None]  # told how many more items are done (the CLI's progress bar)


def each_under_its_account_lock(session: Session, model, row_ids, work: Callable[[object], object],
                                progress: Progress | None = None) -> int:
    """`work(row)` for each row of `model` (anything with an `account_id`), each in a
    transaction of its own under its account's lock — one failure does not undo the
    rest, and a payment of the account waits for it. How many rows gave a result."""
    made = 0
    for row_id in row_ids:
        with write_transaction(session):
            row = session.get(model, row_id)
            lock_account(session, row.account_id)
            if work(row) is not None:
                made += 1
        if progress is not None:
            progress(1)
    return made

"""Query plans of the statements a page runs: SQLite's EXPLAIN QUERY PLAN and
PostgreSQL's EXPLAIN, summarised as "index" or "full scan" per table.

A full scan is any `SCAN <table>` in SQLite (with or without an index: all rows are
read), and any `Seq Scan on <table>` in PostgreSQL planned with `enable_seqscan`
off — PostgreSQL rightly reads a table of a few rows sequentially, so the question
asked of it is whether an index *could* serve the query.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import event
from sqlalchemy.engine import Engine


@dataclass(frozen=True)
class Plan:
    statement: str
    detail: list[str]          # the plan, one line per step
    full_scans: list[str]      # tables read from start to end
    temp_sorts: int            # SQLite: USE TEMP B-TREE (a sort the index does not give)


class Recorder:
    """Records the statements (and parameters) an engine runs while on."""

    def __init__(self, engine: Engine):
        self.engine, self.on, self.statements = engine, False, []
        event.listen(engine, "before_cursor_execute", self._record)

    def _record(self, _conn, _cursor, statement, parameters, _context, executemany):
        if self.on and not executemany and statement.lstrip().upper().startswith("SELECT"):
            self.statements.append((statement, parameters))

    def close(self) -> None:
        event.remove(self.engine, "before_cursor_execute", self._record)


def explain(engine: Engine, statement: str, parameters) -> Plan:
    with engine.connect() as conn:  # rolled back on close: SET LOCAL ends with it
        if conn.dialect.name == "sqlite":
            detail = [row[-1] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)]
            # A subquery's rows (SQLAlchemy names it anon_N) are no table: counting a
            # bounded subquery (paging.Keyset.bounded_count) scans only what it read.
            scans = [m.group(1) for line in detail if (m := re.match(r"SCAN (\w+)", line))
                     and not re.fullmatch(r"anon_\d+", m.group(1))]
            return Plan(statement, detail, scans, sum("TEMP B-TREE" in line for line in detail))
        # PostgreSQL: could an index serve it? With seq scans off, one left means none can.
        conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
        detail = [row[0] for row in conn.exec_driver_sql("EXPLAIN " + statement, parameters)]
    scans = [m.group(1) for line in detail if (m := re.search(r"Seq Scan on (\w+)", line))]
    return Plan(statement, detail, scans, 0)


def real_plan(engine: Engine, statement: str, parameters) -> list[str]:
    """The plan the database would use (PostgreSQL: seq scans allowed), for the report."""
    with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            return [row[-1] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)]
        return [row[0] for row in conn.exec_driver_sql("EXPLAIN " + statement, parameters)]


def short(statement: str, width: int = 110) -> str:
    """SELECT … FROM t JOIN u WHERE … in one line, for the report."""
    text = " ".join(statement.split())
    text = re.sub(r"SELECT .*? FROM", "SELECT … FROM", text, count=1)
    return text if len(text) <= width else text[: width - 1] + "…"


def of_pages(app, pages: dict[str, tuple[str, str, dict]]) -> dict[str, list]:
    """Each page's SELECT statements and their plans, through the app in-process."""
    from bench.load import csrf_token
    from bench.seed import PASSWORD
    from portal.extensions import db

    with app.app_context():
        engine = db.engine
    recorder = Recorder(engine)
    client = app.test_client()
    result = {}
    try:
        for name, (user, path, headers) in pages.items():
            if name == "invoice_filter":
                continue
            page = client.get("/sv/sign-in").get_data()
            client.post("/sv/sign-in", data={"csrf_token": csrf_token(page), "email": user, "password": PASSWORD})
            recorder.statements.clear()
            recorder.on = True
            assert client.get(path, headers=headers).status_code == 200, (name, path)
            recorder.on = False
            result[name] = [(explain(engine, stmt, params), real_plan(engine, stmt, params))
                            for stmt, params in recorder.statements]
    finally:
        recorder.close()
    return result

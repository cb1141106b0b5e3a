"""SQL statements per request, for the benchmark and the query-budget tests.

A `before_cursor_execute` listener on the portal's engine counts every statement a
request sends; the answer carries the count in `X-SQL-Queries`. Only when the
BENCHMARK or TESTING setting is on: in production nothing is counted or exposed.
"""
from __future__ import annotations

from flask import Flask, Response, g, has_request_context
from sqlalchemy import event

from portal.extensions import db

HEADER = "X-SQL-Queries"


def _count(_conn, _cursor, statement, _parameters, _context, _executemany) -> None:
    # SQLite's explicit BEGIN is transaction control, not a query (PostgreSQL sends none).
    if has_request_context() and not statement.startswith("BEGIN"):
        g.sql_queries = g.get("sql_queries", 0) + 1


def _expose(response: Response) -> Response:
    response.headers[HEADER] = str(g.get("sql_queries", 0))
    return response


def init_app(app: Flask) -> None:
    if not (app.config.get("BENCHMARK") or app.config.get("TESTING")):
        return
    with app.app_context():
        engine = db.engine  # the portal's own engine: not the sandbox gateway's ledger
    event.listen(engine, "before_cursor_execute", _count)
    app.after_request(_expose)

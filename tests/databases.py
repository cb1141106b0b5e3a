"""Test databases, made cheap: one PostgreSQL database per xdist worker, and a way back
to a known state in milliseconds instead of rebuilding a schema or restarting a server.

- `own_postgres_database`: the URL of this worker's database (created when missing).
- `fresh_schema`: the models' schema, empty, as `create_all` leaves it. On PostgreSQL
  the schema is built once per database and afterwards only its rows are deleted —
  TRUNCATE and DROP SCHEMA cost a quarter of a second each on every test (measured:
  0.15–0.28 s against 0.01 s for DELETE on the demo's small tables).
- `Snapshot`: every row of some tables, taken once and put back between tests (the
  live deployments' seeded demo).
"""
from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy import Integer, MetaData, Table, create_engine, select, text, update
from sqlalchemy.engine import Connection, Engine

# How long a reset waits for a lock that a test left behind before failing loudly
# (a hang would only end at CI's limit).
LOCK_TIMEOUT = "20s"


def own_postgres_database(url: str, purpose: str, worker: str) -> str:
    """`url` with its database named for `purpose` and the xdist `worker` (created when
    missing): portal_test → portal_test_gw1, portal_test_live_gw1, portal_test_live."""
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    own = "_".join(part for part in (name, purpose, worker) if part)
    if own == name:
        return url
    import psycopg
    plain = urlunsplit(parts._replace(scheme="postgresql"))
    with psycopg.connect(plain, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (own,)).fetchone() is None:
            conn.execute(f'CREATE DATABASE "{own}"')
    return urlunsplit(parts._replace(path=f"/{own}"))


@dataclass
class Snapshot:
    """The rows of every table of `metadata`, to restore later in one transaction."""
    metadata: MetaData
    rows: dict[str, list[dict]]

    @classmethod
    def take(cls, conn: Connection, metadata: MetaData) -> Snapshot:
        return cls(metadata, {table.name: [dict(row) for row in conn.execute(
            select(*(column for column in table.columns if column.computed is None))).mappings()]
            for table in _written(metadata)})  # generated columns (status_rank) follow their rows

    def restore(self, conn: Connection) -> None:
        lock_tables(conn, self.metadata.sorted_tables)
        empty_tables(conn, self.metadata.sorted_tables)  # the kept figures too (emptied by then)
        tables = _written(self.metadata)
        # Foreign keys to a table inserted later (or to the same table) are filled in
        # once every row exists; the rest go in with their rows.
        order = {table.name: n for n, table in enumerate(tables)}
        late = {table.name: [fk.parent.name for fk in table.foreign_keys
                             if order[fk.column.table.name] >= order[table.name]] for table in tables}
        for table in tables:
            rows = self.rows[table.name]
            if rows:
                conn.execute(table.insert(), [{**row, **dict.fromkeys(late[table.name])} for row in rows])
        for table in tables:
            for row in self.rows[table.name]:
                values = {column: row[column] for column in late[table.name] if row[column] is not None}
                if values:
                    [key] = table.primary_key.columns
                    conn.execute(update(table).where(key == row[key.name]).values(values))
        restart_identities(conn, tables)


def _written(metadata: MetaData) -> list[Table]:
    """The tables rows are written to: not those the database's triggers keep (the
    subscriptions' figures, portal/figures.py; payments' links, portal/payment_links.py), which
    follow the rows they count."""
    return [table for table in metadata.sorted_tables if not table.info.get("kept_by_triggers")]


def lock_tables(conn: Connection, tables: list[Table]) -> None:
    """PostgreSQL: wait for every transaction touching these tables to end and keep new
    ones out until commit. A live server still writes after its answer (a receipt is
    stored once the response is sent); without the lock, one landing between the
    deletes makes a row refer to a payment being deleted. (SQLite's one writer already
    serialises the reset.)"""
    if conn.dialect.name == "postgresql" and tables:
        conn.exec_driver_sql("LOCK TABLE " + ", ".join(f'"{table.name}"' for table in tables)
                             + " IN ACCESS EXCLUSIVE MODE")


def empty_tables(conn: Connection, tables: list[Table]) -> None:
    """Delete every row. Nullable foreign keys are cleared first: some tables refer
    to each other (a billing profile's default method, an invoice's payment). Only in
    tables others refer to: the rest go first anyway, and a CHECK may want a key set
    (an Autogiro order names its invoice or its charge)."""
    referred = {fk.column.table.name for table in tables for fk in table.foreign_keys}
    for table in tables:
        if table.name not in referred:
            continue
        nullable = {fk.parent.name: None for fk in table.foreign_keys if fk.parent.nullable}
        if nullable:
            conn.execute(update(table).values(nullable))
    for table in reversed(tables):
        conn.execute(table.delete())


def restart_identities(conn: Connection, tables: list[Table]) -> None:
    """PostgreSQL: each table's id sequence continues after its highest id, as in a
    database that just got these rows (SQLite takes the highest id + 1 by itself).
    One statement for all of them: a reset runs before every live test."""
    if conn.dialect.name != "postgresql":
        return
    keyed = [(table, keys[0]) for table in tables if len(keys := list(table.primary_key.columns)) == 1
             and keys[0].autoincrement is not False and isinstance(keys[0].type, Integer)]
    if not keyed:
        return
    parts = [f"SELECT pg_get_serial_sequence('{table.name}', '{key.name}') AS s, "
             f"(SELECT max({key.name}) FROM {table.name}) AS v" for table, key in keyed]
    conn.execute(text("SELECT setval(s, coalesce(v, 1), v IS NOT NULL) FROM ("
                      + " UNION ALL ".join(parts) + ") AS sequences WHERE s IS NOT NULL"))


_pristine: dict[str, Snapshot] = {}  # database URL → the rows create_all leaves
_sqlite_schemas: dict[tuple[str, ...], Path] = {}  # the models' tables → a file create_all made


def _new_sqlite_file(engine: Engine, metadata: MetaData) -> None:
    """A copy of a file create_all made once per process (create_all itself cost every
    test 30 ms, a copy 1 ms); create_all where the file exists already or is in memory."""
    path = engine.url.database
    if not path or path == ":memory:" or os.path.exists(path):
        metadata.create_all(engine)
        return
    tables = tuple(sorted(metadata.tables))
    if tables not in _sqlite_schemas:
        built = Path(tempfile.mkdtemp(prefix="portal-schema-")) / "schema.sqlite"
        maker = create_engine(f"sqlite:///{built}")
        metadata.create_all(maker)
        maker.dispose()
        atexit.register(shutil.rmtree, built.parent, ignore_errors=True)
        _sqlite_schemas[tables] = built
    shutil.copyfile(_sqlite_schemas[tables], path)


def fresh_schema(engine: Engine, metadata: MetaData) -> None:
    """The models' schema with only the rows create_all puts in (a new SQLite file
    gets it built; PostgreSQL gets it built once, then emptied)."""
    if engine.dialect.name != "postgresql":
        _new_sqlite_file(engine, metadata)
        return
    key = engine.url.render_as_string(hide_password=False)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
        present = set(conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).scalars())
        if key in _pristine and present == set(metadata.tables):
            _pristine[key].restore(conn)
            return
        # First use, or a test changed the schema itself (the migrations' tests).
        conn.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    metadata.create_all(engine)
    with engine.connect() as conn:
        _pristine[key] = Snapshot.take(conn, metadata)

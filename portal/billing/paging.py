"""One page of a long list, read by key (issue 28): lists that grow with the account
(payments, subscriptions, invoices, the subscriptions of a settlement) are read a page
at a time from an index, after or before the sort key of a row the reader saw — never
by OFFSET, which walks every row before the page — so the first page, the last page
and every page between cost the same at 10 rows and at a million.

A list's order is a `Keyset`: columns, the last one unique (the id), all ascending or
all descending, so "after this row" is one row-value comparison, `(a, id) > (:a, :id)`,
which is one range of an index in that order. Where a page is in the list, and how long
the list is, are counted only up to COUNT_BOUND rows (or taken from a figure the caller
keeps): past that the page says "more than 1,000" instead of counting a million rows."""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Generic, TypeVar

from sqlalchemy import Integer, bindparam, func, select, tuple_

T = TypeVar("T")
U = TypeVar("U")

PAGE_SIZE = 25
COUNT_BOUND = 1000  # lists are counted up to here, and "more than 1,000" past it

LIMIT = bindparam("limit", type_=Integer)  # a page's statements read :limit rows (per_page + 1)

_EPOCH = datetime(1970, 1, 1)
_MAX_INT = 2 ** 63 - 1


@dataclass(frozen=True)
class Cursor:
    """Which page to read: "first", "last", or the page "after" / "before" the row
    whose sort key is `key`."""
    mode: str = "first"
    key: tuple = ()


FIRST, LAST = Cursor("first"), Cursor("last")
_BACKWARD = {"before", "last"}  # read in the reverse order, then turned round


def _encode(value) -> str:
    if isinstance(value, datetime):
        return str((value - _EPOCH) // timedelta(microseconds=1))
    if isinstance(value, date):
        return str(value.toordinal())
    return str(int(value))


def _decode(kind: type, digits: str):
    """A key part from the URL, or ValueError/OverflowError for anything unusable."""
    number = int(digits)
    if kind is datetime:
        return _EPOCH + timedelta(microseconds=number)
    if kind is date:
        return date.fromordinal(number)
    if number > _MAX_INT:
        raise ValueError(digits)
    return number


class Keyset:
    """A list's order: `columns` (the last unique), with the type of each (int, date or
    datetime) to read a key back from the URL."""

    def __init__(self, *columns, kinds: tuple[type, ...], descending: bool = False):
        assert len(columns) == len(kinds)
        self.columns, self.kinds, self.descending = columns, kinds, descending
        # Typed like their columns: a datetime is bound as the column stores it (on
        # SQLite a string, where "08:00:00" and "08:00:00.000000" would not compare equal).
        self._key = [bindparam(f"key_{n}", type_=column.type) for n, column in enumerate(columns)]
        self._pattern = re.compile(r"([ab])" + r"\.(\d{1,20})" * len(columns))

    def _row(self):
        return tuple_(*self.columns) if len(self.columns) > 1 else self.columns[0]

    def _bound(self):
        return tuple_(*self._key) if len(self._key) > 1 else self._key[0]

    def where(self, mode: str) -> list:
        """The condition of `mode`'s rows: after the key (later in the list's order),
        before it, or none. Key values are bound as key_0, key_1, … (`binds`)."""
        if mode not in ("after", "before"):
            return []
        later = (mode == "after") != self.descending
        return [self._row() > self._bound() if later else self._row() < self._bound()]

    def order_by(self, mode: str) -> list:
        """The order to read `mode`'s rows in: the list's own, or its reverse (the
        page before a key, and the last page, are read from the far end)."""
        descending = self.descending != (mode in _BACKWARD)
        return [c.desc() if descending else c.asc() for c in self.columns]

    def binds(self, cursor: Cursor) -> dict:
        return {f"key_{n}": value for n, value in enumerate(cursor.key)}

    def token(self, mode: str, key: tuple) -> str:
        """The URL value of a page: "a.<key>" (after), "b.<key>" (before): only the
        row's sort values and id, which the reader saw in the list anyway."""
        return mode[0] + "".join("." + _encode(value) for value in key)

    def parse(self, raw: str | None) -> Cursor:
        """The page a URL value asks for; anything unusable is the first page."""
        if raw == "last":
            return LAST
        match = self._pattern.fullmatch(raw) if isinstance(raw, str) and raw.isascii() else None
        if match is None:
            return FIRST
        try:
            key = tuple(_decode(kind, part) for kind, part in zip(self.kinds, match.groups()[1:]))
        except (ValueError, OverflowError):
            return FIRST
        return Cursor("after" if match.group(1) == "a" else "before", key)

    def bounded_count(self, where_select, mode: str | None = None):
        """A statement counting `where_select`'s rows (those after/before the key with
        `mode`) up to COUNT_BOUND + 1: it reads at most that many index entries."""
        inner = where_select.where(*self.where(mode or "")).limit(COUNT_BOUND + 1)
        return select(func.count()).select_from(inner.subquery())


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    per_page: int
    has_previous: bool
    has_next: bool
    previous_page: str | None  # URL values of the neighbouring pages ("" is the first page)
    next_page: str | None
    position: int | None       # 1-based place of the first item, when known
    total: int | None          # rows in the whole list, when known (counted up to COUNT_BOUND)

    @property
    def more_than(self) -> int:
        """When the total is not known: the list has more rows than this."""
        return COUNT_BOUND

    @property
    def pages(self) -> int:
        """More than one page? (1 or 2: a keyset page does not know how many there are.)"""
        return 2 if self.has_previous or self.has_next else 1

    @property
    def count(self) -> int:
        """The number to choose a plural by: the total, or more than COUNT_BOUND."""
        return self.total if self.total is not None else COUNT_BOUND + 1

    @property
    def first(self) -> int | None:
        return self.position if self.items else 0

    @property
    def last(self) -> int | None:
        return None if self.position is None else self.position + len(self.items) - 1

    def map(self, convert: Callable[[list[T]], list[U]]) -> Page[U]:
        return replace(self, items=convert(self.items))  # type: ignore[arg-type]

    def __iter__(self):
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def __bool__(self) -> bool:
        return bool(self.items)


def read_page(keyset: Keyset, cursor: Cursor, fetch: Callable[[str, dict], list],
              key_of: Callable[[object], tuple], per_page: int = PAGE_SIZE,
              count: Callable[[str | None, dict], int] | None = None, total: int | None = None) -> Page:
    """The page `cursor` asks for. `fetch(mode, binds)` returns up to :limit rows in
    `keyset.order_by(mode)` order, after/before the key when the mode says so;
    `count(mode, binds)` counts rows, after/before the key, up to COUNT_BOUND + 1.
    `total`: the list's length when the caller keeps it (then it is not counted).
    Walking on by Next or Previous never shows a row twice: the page at either end
    may be short. A key past either end gives the last or the first page."""
    def read(mode: str, key: tuple) -> tuple[list, bool]:
        rows = fetch(mode, {**keyset.binds(Cursor(mode, key)), "limit": per_page + 1})
        more = len(rows) > per_page
        rows = rows[:per_page]
        return (rows[::-1] if mode in _BACKWARD else rows), more

    mode = cursor.mode
    rows, more = read(mode, cursor.key)
    if not rows and mode in ("after", "before"):  # a key past the end (rows gone, or a made-up key)
        mode = "last" if mode == "after" else "first"
        rows, more = read(mode, ())
    has_previous = mode in ("after",) or (mode in _BACKWARD and more)
    has_next = mode == "before" or (mode in ("first", "after") and more)
    if total is None and count is not None:
        counted = count(None, {})
        total = counted if counted <= COUNT_BOUND else None
    position = _position(keyset, "first" if not has_previous else "last" if not has_next else mode,
                         rows, key_of, count, total)
    has_previous = has_previous and position != 1  # a made-up key before the first row
    return Page(rows, per_page, has_previous, has_next,
                _token(keyset, "before", rows[0], key_of) if has_previous else None,
                _token(keyset, "after", rows[-1], key_of) if has_next else None,
                position, total)


def _token(keyset: Keyset, mode: str, row, key_of) -> str:
    return keyset.token(mode, key_of(row))


def _position(keyset: Keyset, mode: str, rows: list, key_of, count, total: int | None) -> int | None:
    """Where the page starts in the list, counted from whichever end is within COUNT_BOUND."""
    if mode == "first" or not rows:
        return 1
    if mode == "last" and total is not None:
        return total - len(rows) + 1
    if count is None:
        return None
    before = count("before", keyset.binds(Cursor("before", key_of(rows[0]))))
    if before <= COUNT_BOUND:
        return before + 1
    if total is not None:
        after = count("after", keyset.binds(Cursor("after", key_of(rows[-1]))))
        if after <= COUNT_BOUND:
            return total - after - len(rows) + 1
    return None

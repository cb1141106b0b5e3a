"""One page of a long list: lists that grow with the account (subscriptions,
invoices, the subscriptions of a settlement) are read a page at a time, so a page
costs the same at 10 subscriptions and at 10,000."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")

PAGE_SIZE = 25


def page_number(requested: int | None, total: int, per_page: int) -> int:
    """The page to show: 1 for anything unusable, the last page past the end."""
    pages = max(1, -(-total // per_page))
    if not isinstance(requested, int) or requested < 1:
        return 1
    return min(requested, pages)


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    number: int      # 1-based
    per_page: int
    total: int       # items on every page together

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.per_page

    @property
    def first(self) -> int:
        """1-based position of the first item shown (0 when there is none)."""
        return self.offset + 1 if self.items else 0

    @property
    def last(self) -> int:
        return self.offset + len(self.items)

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.pages

    def __iter__(self):
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def __bool__(self) -> bool:
        return bool(self.items)

"""What every email is made of (portal/mail/messages.py and access_messages.py):
its content, the outbox payload read with formatting at the edge (M1), and the
sentences several emails share."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from types import SimpleNamespace
from typing import Any

from babel.lists import format_list
from flask_babel import get_locale, gettext as _

from portal.i18n import day, money
from portal.money import Money
from portal.wording import FAILURE_REASON, card_name, method_in_sentence


@dataclass(frozen=True)
class Link:
    text: str
    url: str


@dataclass
class Content:
    subject: str
    heading: str
    paragraphs: list[str]
    facts: list[tuple[str, str]] = field(default_factory=list)  # label, value
    action: Link | None = None
    footer: str = ""


class Payload:
    """The outbox payload with formatting at the edge (M1) and tolerance for keys
    that messages queued by an older version lack."""

    def __init__(self, raw: dict[str, Any], to_address: str):
        self.raw, self.to_address = raw, to_address

    def text(self, key: str) -> str:
        value = self.raw.get(key)
        return "" if value is None else str(value)

    def money(self, key: str = "amount_minor") -> str:
        if not isinstance(self.raw.get(key), int) or not self.raw.get("currency"):
            return ""
        return money(Money(self.raw[key], self.raw["currency"]))

    def day(self, key: str) -> str:
        try:
            return day(date.fromisoformat(self.raw[key]))
        except (KeyError, TypeError, ValueError):
            return ""

    def method(self, in_sentence: bool = False) -> str:
        """The payment method: on its own ("Check/wire transfer", a fact's value), or
        `in_sentence` ("… was paid with check/wire transfer")."""
        method = self.raw.get("method")
        if not isinstance(method, dict):
            return ""
        name = method_in_sentence if in_sentence else card_name
        return name(SimpleNamespace(kind=method.get("kind"), brand=method.get("brand"), last4=method.get("last4")))

    def reason(self) -> str:
        reason = FAILURE_REASON.get(self.text("reason"))
        return str(reason) if reason else ""

    def names(self, key: str) -> str:
        values = [str(v) for v in self.raw.get(key) or [] if v]
        return format_list(values, locale=get_locale()) if values else ""


def facts(*pairs: tuple[str, str]) -> list[tuple[str, str]]:
    return [(label, value) for label, value in pairs if value]


def billing_footer(p: Payload, provider: str) -> str:
    return _("You receive this email because %(address)s is where %(provider)s sends billing "
             "notifications for the account.", address=p.to_address, provider=provider)

"""Issue 20 item 6: one Swedish word per concept. The glossary the localization team
owns (`translations/glossary.csv`: SPEC.md's vocabulary table plus the team's later
decisions) is checked against every Swedish message: where the English says the
concept, the Swedish uses the chosen word, and the words decided against appear
nowhere."""
from __future__ import annotations

import csv
import re
from dataclasses import dataclass

import pytest

from portal import catalogs
from portal.catalogs import PLACEHOLDER, TAG, TRANSLATIONS

GLOSSARY = TRANSLATIONS / "glossary.csv"


@dataclass(frozen=True)
class Term:
    concept: str
    english: re.Pattern | None
    swedish: re.Pattern | None
    avoid: re.Pattern | None
    source: str


def _pattern(text: str) -> re.Pattern | None:
    return re.compile(text, re.IGNORECASE) if text else None


def glossary() -> list[Term]:
    with GLOSSARY.open(encoding="utf-8", newline="") as handle:
        return [Term(row["concept"], _pattern(row["english"]), _pattern(row["swedish"]), _pattern(row["avoid"]),
                     row["source"]) for row in csv.DictReader(handle)]


def _words(text: str) -> str:
    """What a reader reads: no placeholders (%(total)s is not the word 'total'), no tags."""
    return TAG.sub("", PLACEHOLDER.sub("", text))


def swedish_messages() -> list[tuple[str, str]]:
    """(English, Swedish) for every form of every message in the Swedish catalog."""
    pairs = []
    for message in catalogs._read(TRANSLATIONS / "sv/LC_MESSAGES/messages.po"):
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        for form, text in enumerate(strings):
            pairs.append((ids[min(form, len(ids) - 1)], text))
    return pairs


def violations(terms: list[Term], pairs: list[tuple[str, str]]) -> list[str]:
    found = []
    for term in terms:
        for english, swedish in pairs:
            if term.avoid and term.avoid.search(swedish):
                found.append(f"{term.concept}: avoid {term.avoid.pattern!r} ({term.source})\n"
                             f"    {english!r}\n    {swedish!r}")
            elif term.english and term.swedish and term.english.search(_words(english)) \
                    and not term.swedish.search(_words(swedish)):
                found.append(f"{term.concept}: say {term.swedish.pattern!r} ({term.source})\n"
                             f"    {english!r}\n    {swedish!r}")
    return found


def test_i20_6_every_swedish_message_uses_the_glossary():
    problems = violations(glossary(), swedish_messages())
    assert not problems, f"{len(problems)} message(s) off the glossary:\n" + "\n".join(problems)


def test_i20_6_the_glossary_holds_spec_vocabulary_and_the_teams_decisions():
    concepts = {term.concept: term for term in glossary()}
    for concept in ("subscription", "payment method", "account administrator", "billing profile",
                    "support request", "outstanding charges", "past due", "settle the balance",
                    "charge (verb)", "nothing was charged", "deleted (data)", "email (message)",
                    "billing notifications", "total", "action required (worst banner level)"):
        assert concept in concepts, concept
    assert concepts["charge (verb)"].avoid.search("Inga pengar har dragits")
    assert concepts["deleted (data)"].avoid.search("Dess data raderas den 1 mars")
    assert concepts["email (message)"].avoid.search("Du får det här mejlet")


@pytest.mark.parametrize("english, swedish, concept", [
    ("%(amount)s will be charged to %(method)s.", "%(amount)s dras från %(method)s.", "charge (verb)"),
    ("Nothing was charged.", "Inga pengar har dragits.", "nothing was charged"),
    ("Its data will be deleted on %(date)s", "Dess data raderas den %(date)s", "deleted (data)"),
    ("Billing notifications", "Aviseringar om fakturering", "billing notifications"),
    ("Show the total", "Visa summan", "total"),
    ("Action required", "Viktigt", "action required (worst banner level)"),
    ("Data will be deleted on %(date)s", "Data tas bort %(date)s", "a date in running text"),
    ("Pay now", "Betala direkt", "pay now"),
])
def test_i20_6_the_check_finds_the_wordings_decided_against(english, swedish, concept):
    problems = violations(glossary(), [(english, swedish)])
    assert any(p.startswith(f"{concept}:") for p in problems), problems


def test_i20_6_placeholders_are_not_words():
    assert not violations(glossary(), [("Less than the whole %(total)s", "Mindre än hela beloppet %(total)s")])

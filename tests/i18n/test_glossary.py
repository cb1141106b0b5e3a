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
    unless: re.Pattern | None = None  # English of messages the term does not apply to


def _pattern(text: str) -> re.Pattern | None:
    return re.compile(text, re.IGNORECASE) if text else None


def glossary() -> list[Term]:
    with GLOSSARY.open(encoding="utf-8", newline="") as handle:
        return [Term(row["concept"], _pattern(row["english"]), _pattern(row["swedish"]), _pattern(row["avoid"]),
                     row["source"], _pattern(row.get("except") or "")) for row in csv.DictReader(handle)]


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
            if term.unless and term.unless.search(english):
                continue
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
                    "billing notifications", "total", "action required (worst banner level)",
                    # issue 35, the December 2026 review's decisions
                    "du (not ni)", "remittance details", "past-due balance", "bank transfer",
                    "expires (column header)", "paid on (column header)", "debitera X med Y",
                    "paid for (column header)", "debit a payment", "billing notification address", "its data",
                    "see (link)", "subtotal"):
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
    # issue 35: each wording the December 2026 review found, as it was
    ("We charged %(amount)s to %(method)s for invoice %(number)s.",
     "Vi har debiterat %(method)s %(amount)s för faktura %(number)s.", "debitera X med Y"),  # sv-1, sv-2
    ("%(amount)s was charged automatically to %(method)s.", "%(amount)s debiterades automatiskt %(method)s.",
     "debitera X med Y"),  # sv-3
    ("%(amount)s will be charged to the new card.", "%(amount)s debiteras det nya kortet.", "debitera X med Y"),
    ("Invoices issued from now on are charged to it.", "Fakturor som utfärdas från och med nu debiteras det.",
     "debitera X med Y"),  # sv-6
    ("We could not collect the payment for %(subscription)s",
     "Vi kunde inte debitera betalningen för %(subscription)s", "debit a payment"),  # sv-10
    ("The account's billing address has its own copy.", "Kontots faktureringsadress har fått en egen kopia.",
     "billing notification address"),  # sv-12
    ("Pay invoices to the remittance details on each invoice.",
     "Betala fakturorna enligt betalningsuppgifterna på varje faktura.", "remittance details"),  # sv-13
    ("settle a past-due balance", "reglera ett förfallet saldo", "past-due balance"),  # sv-14
    ("Bank transfer", "Bankgiroinbetalning", "bank transfer"),  # sv-15
    ("Expires", "Går ut", "expires (column header)"),  # sv-16
    ("Paid on", "Betald den", "paid on (column header)"),  # sv-18
    ("Paid for", "Betalt för", "paid for (column header)"),  # sv-19
    ("Your billing details have changed", "Era faktureringsuppgifter har ändrats", "du (not ni)"),  # sv-24
    ("If you did not expect this change, …", "Om ni inte väntade er den här ändringen …", "du (not ni)"),  # sv-25
    ("… the details you save here.", "… de uppgifter som ni sparar här.", "du (not ni)"),  # sv-27
    ("Its data will be deleted on %(date)s", "Dess data tas bort den %(date)s", "its data"),  # sv-42
    ("See the audit log", "Se granskningsloggen", "see (link)"),  # sv-45
    ("Subtotal", "Belopp", "subtotal"),  # source problem 2: the sum of the lines was "Belopp"
])
def test_i20_6_the_check_finds_the_wordings_decided_against(english, swedish, concept):
    problems = violations(glossary(), [(english, swedish)])
    assert any(p.startswith(f"{concept}:") for p in problems), problems


def test_i35_du_not_ni_spares_the_fixed_term_and_the_customers_own_request():
    """'Er referens' is the invoice's fixed label; the prefilled support request is the
    customer writing to the provider, so it says ni to them."""
    terms = [t for t in glossary() if t.concept == "du (not ni)"]
    assert not violations(terms, [("Your reference", "Er referens"),
                                  ("Printed on every invoice as “Your reference”.", "Skrivs ut som ”Er referens”."),
                                  ("We would like to pay our invoices by check/wire transfer instead of by card. "
                                   "Please tell us what you need from us to approve it.",
                                   "Berätta vad ni behöver från oss för att godkänna det.")])
    assert violations(terms, [("Your reference or purchase order number",
                               "Er referens eller ert inköpsordernummer")])


def test_i35_debitera_x_med_y_accepts_the_decided_wordings():
    terms = [t for t in glossary() if t.concept == "debitera X med Y"]
    assert not violations(terms, [
        ("", "Vi har debiterat %(method)s med %(amount)s för faktura %(number)s."),
        ("", "%(method)s debiterades automatiskt med %(amount)s."),
        ("", "Det nya kortet debiteras med %(amount)s."),
        ("", "Välj %(card)s, så debiteras det kortet automatiskt för kommande fakturor."),
        ("", "Du debiteras inte två gånger.")])


def test_i20_6_placeholders_are_not_words():
    assert not violations(glossary(), [("Less than the whole %(total)s", "Mindre än hela beloppet %(total)s")])

"""Issue 27, "money across flows", on the real deployment: two gunicorn instances on one
database and one gateway ledger, SQLite and PostgreSQL, the gateway taking 1.5 s to
answer each charge (like a real processor). Every pair of the nine flows that move
money or change what a payment pays — settle, pay now, pay part, move subscriptions,
set a profile's default, remove a card, a Bankgirot import, the billing cycle and its
retries — is raced: the first starts a payment and, once it waits at the gateway, the
second runs on instance B (a command in a process of its own).

After each race: no answer but 200/303/402/409/422 (and a 409 says nothing was done),
no exception in any instance's log (a 500), every command exits 0, `flask payments
reconcile --older-than 0` exits 0 with nothing left to finish, and for every account
the gateway's approved charges are the recorded card payments and every payment's
money is on what it paid or in the credit balance (`assert_ledger_agrees`). A second
that certainly ran while its account's first payment was open (it ended before that
attempt did) must also have done the one right thing: a writer refused with 409 "A
payment is in progress", the card kept, the transfer sent to review as being paid, the
retry left for later.

The matrix in a few minutes (measured: about two per database): one reset holds
several pairs (RACES). A payment of the pay-as-you-go account (Anna's) and one of the
customer agreement (Fjällström's) wait at the gateway together, and every second
action of the race starts at once — each first with each second, and the seconds with
each other. A pair runs on one account wherever both flows apply to it (settling,
moving subscriptions and retries are pay-as-you-go's; Pay now, a profile's default are
the agreement's; a card, a bank file and the cycle are both's); the rest run side by
side on the one database. `test_every_pair_is_raced` checks that RACES holds every
pair. Commands start in tens of milliseconds (tests/server/flask_forks.py), so they
land while a payment waits. Each race runs RUNS times, from the seeded demo.

A card removed in one tab while another tab removes it too, makes it the default or
pays with it (race 8) was a 500 on PostgreSQL and a 404 on SQLite when this matrix was
written; now the second removal is done already (303), Set default says the card has
been removed (303 with the message), Pay now with it is 409 "Nothing was charged".

B22's payment request is raced too (one matchup, not a flow of the pair matrix): Pay now
of the request's invoices waits at the gateway while the bank file paying the request, a
new request in another tab and the billing cycle run; the transfer waits for a person,
never recorded beside the card payment. B23's Autogiro import is raced the same way: money
Autogiro drew for an invoice a card attempt pays is recorded as credit (M8) — and, issue
34 Deliver 1, money drawn for a pay-as-you-go charge that Settle balance pays.

The issue's two reproductions and issue 28's worker killed mid-settlement, on the same
kind of deployment, are in test_live_races_reproduced.py."""
from __future__ import annotations

import itertools
import re
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from portal.billing.invoicing.remittance import account_reference, ocr_reference, request_reference
from portal.models import (Invoice, InvoiceStatus, PaymentMethod, PaymentRequest, Subscription, TransferToReview,
                           UnconfirmedPayment)
from tests.bgmax_files import Paid, bgmax_file
from tests.conftest import TODAY
from tests.server.autogiro_race import (autogiro_drew, autogiro_drew_charge, drawn_as_credit,
                                        subscription_on_autogiro)
from tests.server.live import Client, csrf_from, hidden_fields
from tests.server.test_live_faults import assert_ledger_agrees

RUNS = 3
BILLING_DAY = "2026-12-01"  # the cycle charges Anna's cards (four charges) and issues November's invoice
RETRY_DAY = TODAY.isoformat()  # the cycle retries Säkerhetskopiering's charge (set due before the race)
ALLOWED = {200, 303, 402, 409, 422}
IN_PROGRESS = "A payment is in progress"
# Every 409 says that nothing was done: a writer's "A payment is in progress" page
# ("Nothing was changed"), a payment's notice ("Nothing was charged …", also when
# another payment of the account is at the gateway right now).
REFUSED = ("Nothing was changed", "Nothing was charged", "nothing more was charged")
PART = "1000.00"  # pay part: 1 000 kr of the agreement's open invoices, the oldest first
LIMIT = 60.0


@pytest.fixture(params=["sqlite", "postgresql"])
def live(request, race_deployments):
    """This file's deployment on one database, as freshly seeded (conftest's
    `no_crash_on_any_instance` checks its logs after each test)."""
    running = race_deployments(request.param)
    running.reset()
    return running


def person(live, email: str, server) -> Client:
    """A signed-in browser of `email` talking to `server` (signed in once per
    deployment: a reset keeps the users, so the session cookie stays good)."""
    if email not in live.cookies:
        client = Client(live.a)
        client.sign_in(email, lang="en")
        live.cookies[email] = dict(client.cookies)
    return Client(server, live.cookies[email])


def cli(live, *args: str) -> tuple[int, str]:
    """`flask *args` in a process of its own, with the deployment's environment."""
    return live.forks(*args)


# --- the nine flows ---------------------------------------------------------------------

SETTLE, PAY_NOW, PAY_PART, MOVE, SET_DEFAULT, REMOVE_CARD, BANK_IMPORT, CYCLE, RETRY = FLOWS = (
    "settle", "pay now", "pay part", "move subscriptions", "set default", "remove card", "bank import",
    "billing cycle", "retry")
# Removing a card: Anna's tab removes the card her account's first payment charges, and
# Olivia's the agreement's saved card (the one Pay now charges).
R_PAYG, R_AGREEMENT = REMOVE_CARD + " (Anna's)", REMOVE_CARD + " (Fjällström's)"
# B22: a bank file paying the seed's payment request (one OCR reference for the agreement's
# two open invoices), and a second tab making a new request for them. Not flows of their
# own in the pair matrix: one race puts them against Pay now of those invoices and the cycle.
REQUEST_FILE, NEW_REQUEST = "bank file paying a request", "new payment request"
# B23: Bankgirot's answer that Autogiro drew Fjällström's oldest invoice (tests/server/autogiro_race.py).
AUTOGIRO_FILE = "Autogiro file drawing an invoice"
# Issue 34 Deliver 1: its answer that Autogiro drew Webbshop – produktion's charge (the
# subscription moved to a mandate before the race; Settle balance of it pays that charge too).
PAYG_AUTOGIRO_FILE = "Autogiro file drawing a subscription's charge"


@dataclass
class Outcome:
    what: str
    status: int | None = None          # a web answer's
    location: str = ""
    body: str = ""
    code: int | None = None            # a command's exit status
    output: str = ""
    first_still_open: bool = False     # the same account's first payment still waited when this one ended


@dataclass
class Demo:
    """The ids a race needs, read once per deployment (a reset gives the same ones)."""
    payg: int
    agreement: int
    profile: int
    production: int
    testing: int
    backup: int
    card_9995: int
    card_4444: int
    card_4242: int
    card_5556: int
    agreement_card: int
    oldest_invoice: int
    oldest_invoice_number: str
    oldest_invoice_left: int
    request_id: int                    # B22: the seed's payment request, and its total
    request_total: int

    @classmethod
    def of(cls, live) -> Demo:
        if not hasattr(live, "demo"):
            ids = live.ids()
            with live.session() as s:
                oldest = s.scalars(select(Invoice).where(Invoice.billing_profile_id == ids["profile"],
                                                         Invoice.status != InvoiceStatus.PAID)
                                   .order_by(Invoice.due_on, Invoice.id)).first()
                number, left = oldest.number, oldest.left.minor
                request_id, request_total = s.execute(select(PaymentRequest.id, PaymentRequest.amount_minor)).one()
            live.demo = cls(ids["payg"], ids["agreement"], ids["profile"], ids["subs"]["Webbshop – produktion"],
                            ids["subs"]["Webbshop – test"], ids["subs"]["Säkerhetskopiering"], ids["cards"]["9995"],
                            ids["cards"]["4444"], ids["cards"]["4242"], ids["cards"]["5556"], ids["agreement_card"],
                            oldest.id, number, left, request_id, request_total)
        return live.demo


class Race:
    """One reset: the firsts are started (each waits at the gateway, or — the cycle —
    holds Anna's account while it does), then every second at once, on instance B."""

    def __init__(self, live, firsts: tuple[str, ...], seconds: tuple[str, ...], workdir: Path):
        self.live, self.demo, self.workdir = live, Demo.of(live), workdir
        self.firsts, self.seconds = firsts, seconds
        self.waiting: dict[str, Callable[[], bool]] = {}  # account → "its first payment still waits"
        self.running: dict[str, Future] = {}
        # The card Anna's first payment charges (the one her second tab tries to remove).
        self.payg_card = self.demo.card_4444 if RETRY in firsts else self.demo.card_5556

    # -- the flows: each reads its page now, and is done by the function returned --

    def web(self, what: str, client: Client, path: str, form: dict) -> Callable[[], Outcome]:
        def post() -> Outcome:
            status, headers, body = client.post(path, form)
            return Outcome(what, status=status, location=headers.get("location", ""), body=body)
        return post

    def command(self, what: str, *args: str) -> Callable[[], Outcome]:
        def run() -> Outcome:
            code, output = cli(self.live, *args)
            return Outcome(what, code=code, output=output)
        return run

    def settle(self, server, card: int) -> tuple[Callable[[], Outcome], str]:
        """Anna settles Webbshop – produktion's balance (the failed card's: two subscriptions)."""
        anna = person(self.live, "anna@example.com", server)
        path = f"/en/accounts/{self.demo.payg}/subscriptions/{self.demo.production}/settle"
        status, _, page = anna.get(f"{path}?method={card}")
        assert status == 200, page[:300]
        form = hidden_fields(page)
        return self.web(SETTLE, anna, path, form), form["idempotency_key"]

    def pay(self, what: str, email: str, server) -> tuple[Callable[[], Outcome], str]:
        """Pay now of every open invoice of the profile (or PART of it) with the saved card."""
        payer = person(self.live, email, server)
        path = f"/en/accounts/{self.demo.agreement}/profiles/{self.demo.profile}/pay"
        part = f"&part={PART}" if what == PAY_PART else ""
        status, _, page = payer.get(f"{path}?method={self.demo.agreement_card}{part}")
        assert status == 200, page[:300]
        form = hidden_fields(page)
        return self.web(what, payer, path, form), form["idempotency_key"]

    def move(self) -> Callable[[], Outcome]:
        """Anna moves Webbshop – test (one of those a settlement pays) to her 4444 card."""
        anna = person(self.live, "anna@example.com", self.live.b)
        path = f"/en/accounts/{self.demo.payg}/payment-methods/move"
        status, _, page = anna.get(f"{path}?subscriptions={self.demo.testing}&to={self.demo.card_4444}")
        assert status == 200, page[:300]
        return self.web(MOVE, anna, path, hidden_fields(page, f'<form method="post" action="{path}"'))

    def set_default(self) -> Callable[[], Outcome]:
        """Olivia makes the saved card her profile's default (check/wire until now)."""
        olivia = person(self.live, "olivia@example.com", self.live.b)
        token = csrf_from(olivia.get(f"/en/accounts/{self.demo.agreement}/payment-methods")[2])
        return self.web(SET_DEFAULT, olivia, f"/en/accounts/{self.demo.agreement}/profiles/{self.demo.profile}"
                        "/default-method", {"csrf_token": token, f"p{self.demo.profile}-method": self.demo.agreement_card})

    def remove(self, what: str, email: str, account: int, card: int) -> Callable[[], Outcome]:
        who = person(self.live, email, self.live.b)
        token = csrf_from(who.get(f"/en/accounts/{account}/payment-methods")[2])
        return self.web(what, who, f"/en/accounts/{account}/payment-methods/{card}/remove", {"csrf_token": token})

    def bank_file(self) -> Path:
        """Fjällström pays its oldest open invoice in full by bankgiro (the one a card
        payment of the agreement pays first), and 500 kr arrives with the OCR reference
        of Anna's account (for check/wire charges: it has none, so it becomes credit)."""
        path = self.workdir / "race.bgmax"
        path.write_bytes(bgmax_file([[Paid(ocr_reference(self.demo.oldest_invoice_number),
                                           self.demo.oldest_invoice_left),
                                      Paid(account_reference(self.demo.payg), 500_00, name="Nordlund Konsult AB")]],
                                    paid_on=TODAY))
        return path

    def request_file(self) -> Path:
        """Fjällström pays both open invoices with one transfer and the seed's request's
        OCR reference (a day earlier than the other file: keys of its own)."""
        path = self.workdir / "request.bgmax"
        path.write_bytes(bgmax_file([[Paid(request_reference(self.demo.request_id), self.demo.request_total)]],
                                    paid_on=TODAY - timedelta(days=1)))
        return path

    def new_request(self) -> Callable[[], Outcome]:
        """Olivia, in another tab, asks for a new OCR reference for the open invoices."""
        olivia = person(self.live, "olivia@example.com", self.live.b)
        path = f"/en/accounts/{self.demo.agreement}/profiles/{self.demo.profile}/one-transfer"
        status, _, page = olivia.get(path)
        assert status == 200, page[:300]
        invoices = re.findall(r'name="invoices" id="[^"]*" value="(\d+)"', page)
        return self.web(NEW_REQUEST, olivia, path, {"csrf_token": csrf_from(page), "invoices": invoices})

    def retry_due(self) -> None:
        """Säkerhetskopiering's failed charge (a soft decline) is to be retried today."""
        with self.live.engine.begin() as conn:
            conn.execute(update(Subscription).where(Subscription.id == self.demo.backup)
                         .values(next_retry_on=TODAY))

    def attempt_open(self, key: str | None = None, like: str | None = None) -> bool:
        return attempt_open(self.live, key, like)

    def prepare_first(self, what: str) -> tuple[str, Callable[[], Outcome], Callable[[], bool]]:
        """(what, do it, "it waits at the gateway now")."""
        if what == SETTLE:
            do, key = self.settle(self.live.a, self.demo.card_5556)
            self.waiting["payg"] = lambda: self.attempt_open(key)
            return what, do, self.waiting["payg"]
        if what in (PAY_NOW, PAY_PART):
            do, key = self.pay(what, "david@example.com", self.live.a)
            self.waiting["agreement"] = lambda: self.attempt_open(key)
            return what, do, self.waiting["agreement"]
        if what == RETRY:
            self.waiting["payg"] = lambda: self.attempt_open(like="auto-retry-%")
            return what, self.command(RETRY, "billing", "cycle", "--date", RETRY_DAY), self.waiting["payg"]
        if what == CYCLE:
            # The cycle holds Anna's account while the gateway answers each of its four
            # charges (not written ahead): once the first is in the ledger, the second
            # is being made. It "waits" for as long as it runs.
            self.waiting["payg"] = lambda: not self.running[CYCLE].done()
            return what, self.command(CYCLE, "billing", "cycle", "--date", BILLING_DAY), lambda: any(
                e.idempotency_key.startswith("auto-charge-") for e in self.live.gateway.ledger())
        raise AssertionError(what)

    def prepare_second(self, what: str) -> tuple[str, Callable[[], Outcome]]:
        """(the account whose first it races, do it)."""
        if what == SETTLE:
            return "payg", self.settle(self.live.b, self.demo.card_4242)[0]
        if what in (PAY_NOW, PAY_PART):
            return "agreement", self.pay(what, "olivia@example.com", self.live.b)[0]
        if what == MOVE:
            return "payg", self.move()
        if what == SET_DEFAULT:
            return "agreement", self.set_default()
        if what == R_PAYG:
            return "payg", self.remove(what, "anna@example.com", self.demo.payg, self.payg_card)
        if what == R_AGREEMENT:
            return "agreement", self.remove(what, "olivia@example.com", self.demo.agreement, self.demo.agreement_card)
        if what == BANK_IMPORT:  # what it must do right concerns the agreement's invoice
            return "agreement", self.command(BANK_IMPORT, "billing", "import-bgmax", str(self.bank_file()))
        if what == RETRY:
            return "payg", self.command(RETRY, "billing", "cycle", "--date", RETRY_DAY)
        if what == REQUEST_FILE:
            return "agreement", self.command(REQUEST_FILE, "billing", "import-bgmax", str(self.request_file()))
        if what == NEW_REQUEST:
            return "agreement", self.new_request()
        if what == AUTOGIRO_FILE:
            return "agreement", self.command(AUTOGIRO_FILE, "autogiro", "import",
                                             str(autogiro_drew(self.live, self.demo.oldest_invoice, self.workdir)))
        if what == PAYG_AUTOGIRO_FILE:
            return "payg", self.command(PAYG_AUTOGIRO_FILE, "autogiro", "import",
                                        str(autogiro_drew_charge(self.live, self.demo.production, self.workdir)))
        if what == CYCLE:
            return "payg", self.command(CYCLE, "billing", "cycle", "--date", BILLING_DAY)
        raise AssertionError(what)

    # -- the race ------------------------------------------------------------------------

    def run(self) -> list[Outcome]:
        if RETRY in self.firsts + self.seconds:
            self.retry_due()
        if PAYG_AUTOGIRO_FILE in self.seconds:
            subscription_on_autogiro(self.live, self.demo.production)
        firsts = [self.prepare_first(what) for what in self.firsts]
        seconds = [self.prepare_second(what) for what in self.seconds]
        with ThreadPoolExecutor(len(firsts) + len(seconds)) as pool:
            for what, do, _ in firsts:
                self.running[what] = pool.submit(do)
            # Every first watched at once: one that reaches the gateway early must be
            # seen there while a slower one (a command starting under load) is awaited.
            unseen, deadline = {what: waits for what, _, waits in firsts}, time.monotonic() + LIMIT
            while unseen:
                for what, waits in list(unseen.items()):
                    if waits():
                        del unseen[what]
                    elif self.running[what].done():
                        pytest.fail(f"{what} ended before it was seen at the gateway: "
                                    f"{describe(self.running[what].result())}")
                assert time.monotonic() < deadline, f"{sorted(unseen)} never reached the gateway"
                time.sleep(0.01)  # polling the conditions above
            later = [pool.submit(self.then_look, account, do) for account, do in seconds]
            return [self.running[what].result() for what, _, _ in firsts] + [done.result() for done in later]

    def then_look(self, account: str, do: Callable[[], Outcome]) -> Outcome:
        outcome = do()
        waits = self.waiting.get(account)
        outcome.first_still_open = bool(waits and waits())
        return outcome


def attempt_open(live, key: str | None = None, like: str | None = None) -> bool:
    """Whether the attempt of this key (or one whose key is `like` this) is written and unfinished."""
    where = UnconfirmedPayment.idempotency_key == key if key else UnconfirmedPayment.idempotency_key.like(like)
    with live.session() as s:
        return s.scalar(select(UnconfirmedPayment.id).where(where).limit(1)) is not None


def describe(outcome: Outcome) -> str:
    if outcome.code is not None:
        return f"{outcome.what}: exit {outcome.code}: {outcome.output[-1500:]}"
    return f"{outcome.what}: {outcome.status} {outcome.location} {outcome.body[:600]}"


# --- the matrix -------------------------------------------------------------------------

WRITERS = (MOVE, R_PAYG, SET_DEFAULT, R_AGREEMENT, BANK_IMPORT)


@dataclass(frozen=True)
class Matchup:
    id: str
    firsts: tuple[str, ...]
    seconds: tuple[str, ...]
    runs: int = RUNS


RACES = (
    # Anna settles and Fjällström pays now; the writers of both accounts, the bank
    # file and a retry come while both wait at the gateway.
    Matchup("settle+paynow-writers+retry", (SETTLE, PAY_NOW), WRITERS + (RETRY,)),
    Matchup("settle+paynow-settle+paynow", (SETTLE, PAY_NOW), (SETTLE, PAY_NOW)),  # a second tab of each
    Matchup("settle+paypart-cycle", (SETTLE, PAY_PART), (CYCLE,)),  # the billing day comes
    Matchup("retry+paypart-writers", (RETRY, PAY_PART), WRITERS),
    Matchup("retry+paypart-settle+paypart", (RETRY, PAY_PART), (SETTLE, PAY_PART)),
    Matchup("retry+paynow-retry+paypart+cycle", (RETRY, PAY_NOW), (RETRY, PAY_PART, CYCLE)),
    # The billing cycle charges Anna's cards (holding her account while the gateway
    # answers): everything else meanwhile, the writers twice over, another cycle too.
    Matchup("cycle-writersx2+settle+paynow+cycle", (CYCLE,),
            (MOVE, MOVE, R_PAYG, SET_DEFAULT, SET_DEFAULT, BANK_IMPORT, BANK_IMPORT, SETTLE, PAY_NOW, CYCLE)),
    # Two tabs remove the same card (the cycle holds the account, so both have read
    # the card before either can remove it); a card another person is removing is made
    # the default and paid with.
    Matchup("cycle-removex2+default+paynow", (CYCLE,), (R_PAYG, R_PAYG, R_AGREEMENT, SET_DEFAULT, PAY_NOW)),
    # B22: Pay now of the request's invoices waits at the gateway; the bank file paying the
    # request, a new request in another tab and the billing day come meanwhile.
    Matchup("paynow-requestfile+newrequest+cycle", (PAY_NOW,), (REQUEST_FILE, NEW_REQUEST, CYCLE)),
    # B23: Pay now of Fjällström's invoices waits at the gateway; Bankgirot's answer that
    # Autogiro drew the oldest of them is imported, a second tab pays them, the billing day comes.
    Matchup("paynow-autogiro+paynow+cycle", (PAY_NOW,), (AUTOGIRO_FILE, PAY_NOW, CYCLE)),
    # Issue 34 Deliver 1: Settle balance of a subscription paying by Autogiro waits at the
    # gateway; Bankgirot's answer that its charge was drawn is imported, a second tab
    # settles it, the billing day comes. Once per database (CI's budget).
    Matchup("settle-paygautogiro+settle+cycle", (SETTLE,), (PAYG_AUTOGIRO_FILE, SETTLE, CYCLE), runs=1),
)


def flow_of(what: str) -> str:
    return REMOVE_CARD if what.startswith(REMOVE_CARD) else what


def pairs_covered() -> set[frozenset]:
    """Each pair of flows some race runs together: a first with each second, the firsts
    with each other, the seconds (all started at once) with each other."""
    covered = set()
    for race in RACES:
        together = itertools.chain(itertools.product(race.firsts, race.seconds),
                                   itertools.combinations(race.firsts, 2), itertools.combinations(race.seconds, 2))
        covered.update(frozenset((flow_of(a), flow_of(b))) for a, b in together)
    return covered


def test_every_pair_is_raced():
    every = {frozenset(pair) for pair in itertools.combinations_with_replacement(FLOWS, 2)}
    assert sorted(tuple(sorted(p)) for p in every - pairs_covered()) == []


@pytest.mark.parametrize("matchup, run", [(race, run) for race in RACES for run in range(race.runs)],
                         ids=[f"{race.id}-{run}" for race in RACES for run in range(race.runs)])
def test_race(live, matchup, run, tmp_path):
    race = Race(live, matchup.firsts, matchup.seconds, tmp_path)
    outcomes = race.run()
    crashes = live.crashes()
    for outcome in outcomes:
        if outcome.code is not None:
            assert outcome.code == 0, describe(outcome)
        else:
            assert outcome.status in ALLOWED, describe(outcome)
            assert outcome.status != 409 or any(honest in outcome.body for honest in REFUSED), describe(outcome)
    assert crashes == [], "\n".join(crashes)
    reconciled(live)
    assert_ledger_agrees(live)
    check_what_each_second_did(live, race, outcomes)


def reconciled(live) -> None:
    """`flask payments reconcile --older-than 0` exits 0, with nothing left to finish."""
    code, out = cli(live, "payments", "reconcile", "--older-than", "0")
    assert code == 0, out
    assert out.startswith("0 unfinished payments recorded, 0 declined, 0 still waiting"), out


def check_what_each_second_did(live, race: Race, outcomes: list[Outcome]) -> None:
    """The one right answer of a second that ran while its account's first payment was
    certainly still open (it ended before that attempt did)."""
    demo = race.demo
    payg_first = next((f for f in race.firsts if f in (SETTLE, RETRY)), None)
    agreement_first = next((f for f in race.firsts if f in (PAY_NOW, PAY_PART)), None)
    with live.session() as s:
        removed = {m.id for m in s.scalars(select(PaymentMethod).where(PaymentMethod.removed_at.is_not(None)))}
        reviewed = {(t.invoice_id, t.reason) for t in s.scalars(select(TransferToReview))}
    for outcome in outcomes[len(race.firsts):]:
        if not outcome.first_still_open:
            continue
        if outcome.what == MOVE and payg_first:
            assert outcome.status == 409 and IN_PROGRESS in outcome.body, describe(outcome)
        if outcome.what == SET_DEFAULT and agreement_first:
            assert outcome.status == 409 and IN_PROGRESS in outcome.body, describe(outcome)
        if outcome.what == R_PAYG and payg_first:
            assert outcome.status == 303 and race.payg_card not in removed, describe(outcome)
        if outcome.what == R_AGREEMENT and agreement_first:
            assert outcome.status == 303 and demo.agreement_card not in removed, describe(outcome)
        if outcome.what == BANK_IMPORT and agreement_first:
            assert (demo.oldest_invoice, "being_paid") in reviewed, outcome.output
        if outcome.what == REQUEST_FILE and agreement_first:
            # The card pays the request's invoices: the transfer waits for a person (being
            # paid, or the request replaced by the other tab's), never recorded as well.
            assert "0 recorded" in outcome.output and "1 to review" in outcome.output, outcome.output
        if outcome.what == AUTOGIRO_FILE and agreement_first:  # drawn: recorded, all credit (M8)
            assert "1 drawn" in outcome.output and drawn_as_credit(live), outcome.output
        if outcome.what == PAYG_AUTOGIRO_FILE and payg_first == SETTLE:  # the settlement pays the charge (M8)
            assert "1 drawn" in outcome.output and drawn_as_credit(live), outcome.output
        if outcome.what == NEW_REQUEST and agreement_first:
            assert outcome.status == 303, describe(outcome)  # it moves no money: made at once
        if outcome.what == RETRY and payg_first == SETTLE:
            assert "1 retried (0 paid)" in outcome.output, outcome.output

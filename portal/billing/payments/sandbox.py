"""A deterministic sandbox `PaymentGateway` for development and tests.

It decides outcomes from well-known test card numbers (TEST_CARDS, FAULT_CARDS) and
keeps its own ledger database, so "was this key already charged?" survives crashes,
retries and concurrent workers exactly like a real processor's idempotency store would.
"""
from __future__ import annotations

import datetime as dt
import enum
import re
import secrets
import threading
import time
from collections.abc import Callable
from typing import NamedTuple
from urllib.parse import quote

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    event,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

from portal.billing.clock import epoch_seconds, wall_clock
from portal.errors import InvalidAmount
from portal.billing.gateway import (CardDetails, CardToken, ChargeResult, DeclineCode, GatewayNoAnswer,
                                    GatewayNotReached, IdempotencyConflict, LedgerEntry, RefundRefused, card_brand,
                                    normalize_card_number, validate_card)
from portal.money import Money


class Fault(enum.StrEnum):
    """Failures the sandbox can be told to simulate (README: "Sandbox faults")."""

    TIMEOUT = "timeout"              # charged, but the answer comes too late
    AFTER_CHARGE = "after_charge"    # charged, then the connection is lost
    BEFORE_CHARGE = "before_charge"  # unreachable: nothing charged


# --- sandbox test cards -------------------------------------------------------------

APPROVED = "approved"
# B13: outcomes of cards whose issuer wants the cardholder to authenticate (3-D Secure).
CHALLENGE = "challenge"              # approved once the challenge is passed
CHALLENGE_FAILS = "challenge_fails"  # the issuer fails the challenge, whatever is pressed


class TestCard(NamedTuple):
    number: str
    outcome: str  # APPROVED or a DeclineCode
    description: str

    __test__ = False  # not a pytest test class despite the name


TEST_CARDS: tuple[TestCard, ...] = (
    # Public Stripe test numbers, so developers can use what they already know.
    TestCard("4242424242424242", APPROVED, "Visa, approved"),
    TestCard("5555555555554444", APPROVED, "Mastercard, approved"),
    TestCard("4000000000000002", DeclineCode.GENERIC_DECLINE, "Declined, no reason given"),
    TestCard("4000000000009995", DeclineCode.INSUFFICIENT_FUNDS, "Insufficient funds"),
    TestCard("4000000000000069", DeclineCode.EXPIRED_CARD, "Issuer says card expired"),
    TestCard("4000000000000127", DeclineCode.INCORRECT_CVC, "Issuer says CVC incorrect"),
    TestCard("4000000000000119", DeclineCode.PROCESSING_ERROR, "Processing error at issuer"),
    # Sandbox-only numbers (Stripe has none for these codes); Luhn-valid.
    TestCard("4000000000000143", DeclineCode.CREDIT_LIMIT_EXCEEDED, "Credit limit exceeded"),
    TestCard("4000000000000150", DeclineCode.INTERNATIONAL_NOT_ALLOWED,
             "International charges not allowed"),
    TestCard("4000000000000168", DeclineCode.RECURRING_NOT_ENABLED,
             "Recurring payments not enabled"),
)

# B13: Stripe's public 3-D Secure test numbers. On-session: the bank's challenge first;
# off-session (the billing cycle): declined `authentication_required`.
CHALLENGE_CARDS: tuple[TestCard, ...] = (
    TestCard("4000002760003184", CHALLENGE, "Authentication required, approved once the cardholder confirms"),
    TestCard("4000008400001629", CHALLENGE_FAILS, "Authentication required, and the bank fails it"),
)

# Sandbox-only numbers that make the gateway itself fail (README: "Sandbox faults").
FAULT_CARDS: tuple[TestCard, ...] = (
    TestCard("4000000000000507", f"fault_{Fault.TIMEOUT}", "Charged, but no answer before the timeout"),
    TestCard("4000000000000515", f"fault_{Fault.AFTER_CHARGE}", "Charged, then the connection is lost"),
    TestCard("4000000000000523", f"fault_{Fault.BEFORE_CHARGE}", "Gateway unreachable, nothing charged"),
)

_OUTCOME_BY_NUMBER: dict[str, str] = {c.number: c.outcome for c in TEST_CARDS + FAULT_CARDS + CHALLENGE_CARDS}

_DECLINE_VALUES = frozenset(code.value for code in DeclineCode)

# sbx_<outcome>_<16 hex>: outcome is 'approved' or a DeclineCode value.
_TOKEN_RE = re.compile(r"^sbx_(?P<outcome>[a-z_]+)_(?P<nonce>[0-9a-f]{16})$")


def _utcnow() -> dt.datetime:
    """When a ledger row was written: for ordering and for how long a challenge has
    waited (a duration), never for which day it is."""
    return dt.datetime.fromtimestamp(epoch_seconds(), dt.UTC)


def _calendar_day() -> dt.date:
    """The day by the system clock, for a gateway made without a calendar of its own."""
    return wall_clock().date()


CHALLENGE_SECONDS = 10 * 60  # a challenge not passed within this is abandoned: declined
SCHEMA_ATTEMPTS = 12  # about 4 s in all, for processes racing to create the ledger


class SandboxLedger:
    """The sandbox's own ledger database: its charges, challenges (B13) and refunds (B15).

    The ledger uses its own engine, never the portal's session: a real processor
    commits a charge independently of whether the portal's transaction later commits
    or rolls back, and the sandbox must reproduce that to make the portal's recovery
    paths testable. Use a file (or server) URL when sharing across threads/processes;
    create the gateway after forking, as engines must not cross process boundaries.
    """

    def __init__(self, ledger_url: str) -> None:
        url = make_url(ledger_url)
        self._is_sqlite = url.get_backend_name() == "sqlite"
        if self._is_sqlite:
            # Concurrent writers wait for the lock instead of failing "database is locked".
            self._engine: Engine = create_engine(url, connect_args={"timeout": 15})
            event.listen(self._engine, "connect", _sqlite_pragmas)
        else:
            self._engine = create_engine(url, pool_pre_ping=True)
        self._metadata = MetaData()
        self._charges = Table(
            "sandbox_gateway_charges",
            self._metadata,
            Column("id", Integer, primary_key=True, autoincrement=True),
            Column("idempotency_key", String(255), nullable=False, unique=True),
            Column("token", String(255), nullable=False),
            # 64-bit, as the portal's money columns (issue 27). create_all alters no table:
            # a PostgreSQL ledger made before keeps its 32-bit column until it is dropped.
            Column("amount_minor", BigInteger, nullable=False),
            Column("currency", String(3), nullable=False),
            Column("approved", Boolean, nullable=False),
            Column("decline_code", String(64), nullable=True),
            Column("reference", String(64), nullable=True),
            Column("created_at", DateTime(timezone=True), nullable=False, default=_utcnow),
        )
        # B13: the sandbox bank's challenges, one per idempotency key; the charge is
        # decided (a ledger row) only once its challenge is passed, failed or abandoned.
        self._challenges = Table(
            "sandbox_gateway_challenges",
            self._metadata,
            Column("id", Integer, primary_key=True, autoincrement=True),
            Column("challenge", String(64), nullable=False, unique=True),
            Column("idempotency_key", String(255), nullable=False, unique=True),
            Column("token", String(255), nullable=False),
            Column("amount_minor", BigInteger, nullable=False),
            Column("currency", String(3), nullable=False),
            Column("state", String(16), nullable=False),  # waiting, passed, failed
            Column("created_at", DateTime(timezone=True), nullable=False),
        )
        # B15: refunds of approved charges, one per idempotency key.
        self._refunds = Table(
            "sandbox_gateway_refunds",
            self._metadata,
            Column("id", Integer, primary_key=True, autoincrement=True),
            Column("idempotency_key", String(255), nullable=False, unique=True),
            Column("charge_reference", String(64), nullable=False),
            Column("amount_minor", BigInteger, nullable=False),
            Column("currency", String(3), nullable=False),
            Column("reference", String(64), nullable=False),
            Column("created_at", DateTime(timezone=True), nullable=False, default=_utcnow),
        )
        self._schema_ready = False
        self._schema_lock = threading.Lock()

    # -- lifecycle --

    def close(self) -> None:
        """Release pooled connections (tests call this to avoid leaked handles)."""
        self._engine.dispose()

    def _ensure_schema(self) -> None:
        if self._schema_ready:
            return
        with self._schema_lock:
            if self._schema_ready:
                return
            for attempt in range(SCHEMA_ATTEMPTS):
                try:
                    self._metadata.create_all(self._engine)
                    break
                except (OperationalError, ProgrammingError, IntegrityError):
                    # Another process is creating the table at this moment: PostgreSQL
                    # reports a unique violation in its catalog; SQLite answers "database
                    # is locked" at once when a check-then-create cannot take the write
                    # lock. Wait a little and check again (which then only checks and
                    # re-raises a real failure).
                    if attempt == SCHEMA_ATTEMPTS - 1:
                        raise
                    time.sleep(0.05 * (attempt + 1))
            self._schema_ready = True

    def refunds(self) -> list[tuple[str, Money]]:
        """(charge reference, amount) of every refund, oldest first (tests)."""
        self._ensure_schema()
        with self._engine.connect() as conn:
            return [(row.charge_reference, Money(row.amount_minor, row.currency)) for row in conn.execute(
                select(self._refunds).order_by(self._refunds.c.id))]

    # -- ledger inspection (tests) --

    def charges_for(self, idempotency_key: str | None = None) -> list[LedgerEntry]:
        """Ledger rows in insertion order, optionally only those for one key."""
        self._ensure_schema()
        stmt = select(self._charges).order_by(self._charges.c.id)
        if idempotency_key is not None:
            stmt = stmt.where(self._charges.c.idempotency_key == idempotency_key)
        with self._engine.connect() as conn:
            return [_entry(row) for row in conn.execute(stmt).mappings()]

    def ledger(self) -> list[LedgerEntry]:
        return self.charges_for()

    def clear_ledger(self) -> None:
        """Forget every charge (tests that empty their world between examples)."""
        self._ensure_schema()
        with self._engine.begin() as conn:
            conn.execute(self._charges.delete())
            conn.execute(self._challenges.delete())
            conn.execute(self._refunds.delete())

    def count_approved(self) -> int:
        return sum(1 for e in self.charges_for() if e.approved)

    def _find(self, idempotency_key: str) -> LedgerEntry | None:
        entries = self.charges_for(idempotency_key)
        return entries[0] if entries else None

    def _challenge_row(self, where):
        self._ensure_schema()
        with self._engine.connect() as conn:
            return conn.execute(select(self._challenges).where(where)).mappings().first()


class SandboxGateway(SandboxLedger):
    """Deterministic PaymentGateway: outcomes from the test cards, each charge, challenge
    and refund kept in the ledger (`SandboxLedger`) under its idempotency key."""

    def __init__(
        self,
        ledger_url: str,
        clock: Callable[[], dt.date] = _calendar_day,
        *,
        fault: Fault | str | None = None,
        timeout_seconds: float = 10.0,
        latency_seconds: float = 0.0,
        challenge_seconds: float = CHALLENGE_SECONDS,
    ) -> None:
        """`fault` makes every charge fail that way (a whole deployment's gateway
        "down"); without it only the fault test cards do. `timeout_seconds` is how
        long a timed-out charge keeps the caller waiting; `latency_seconds` delays
        every new charge (to widen races in tests)."""
        self._clock = clock
        self._fault = Fault(fault) if fault else None
        self._timeout_seconds = timeout_seconds
        self._latency_seconds = latency_seconds
        self._challenge_seconds = challenge_seconds
        super().__init__(ledger_url)

    # -- PaymentGateway --

    def tokenize(self, card: CardDetails) -> CardToken:
        validate_card(card, self._clock())
        digits = normalize_card_number(card.number)
        outcome = _OUTCOME_BY_NUMBER.get(digits, APPROVED)
        # The token carries the outcome (so charge() stays stateless about cards) and a
        # random nonce; it is derived from neither the number nor the CVC.
        return CardToken(
            token=f"sbx_{outcome}_{secrets.token_hex(8)}",
            brand=card_brand(digits),
            last4=digits[-4:],
            exp_month=card.exp_month,
            exp_year=card.exp_year,
            holder=card.holder.strip(),
        )

    def charge(self, token: str, amount: Money, idempotency_key: str, off_session: bool = False) -> ChargeResult:
        if amount.minor <= 0:
            raise InvalidAmount("charge amount must be positive")
        if not idempotency_key:
            raise ValueError("idempotency_key is required")
        fault = self._fault or _fault_of(token)
        if fault == Fault.BEFORE_CHARGE:
            raise GatewayNotReached("sandbox: the payment gateway cannot be reached")
        self._ensure_schema()

        existing = self._find(idempotency_key)
        if existing is not None:
            return self._replay(existing, token, amount)

        if self._latency_seconds:
            time.sleep(self._latency_seconds)
        result = _decide(token)
        if _outcome(token) in (CHALLENGE, CHALLENGE_FAILS):
            if off_session:  # nobody there to authenticate
                result = ChargeResult(False, None, DeclineCode.AUTHENTICATION_REQUIRED)
            else:
                result = self._challenged(token, amount, idempotency_key)
                if result.requires_action:
                    return result
        try:
            with self._engine.begin() as conn:
                conn.execute(
                    insert(self._charges).values(
                        idempotency_key=idempotency_key,
                        token=token,
                        amount_minor=amount.minor,
                        currency=amount.currency,
                        approved=result.approved,
                        decline_code=result.decline_code.value if result.decline_code else None,
                        reference=result.reference,
                        created_at=_utcnow(),
                    )
                )
        except IntegrityError:
            # Lost the race: another caller recorded this key first. Theirs is the one
            # true result; the unique constraint, not a read-then-write, guarantees it.
            winner = self._find(idempotency_key)
            if winner is None:  # pragma: no cover - the constraint was something else
                raise
            return self._replay(winner, token, amount)
        # The charge is in the ledger (money moved); now the answer gets lost.
        if fault == Fault.AFTER_CHARGE:
            raise GatewayNoAnswer("sandbox: connection lost after the charge")
        if fault == Fault.TIMEOUT:
            time.sleep(self._timeout_seconds)
            raise GatewayNoAnswer(f"sandbox: no answer within {self._timeout_seconds:g} s")
        return result

    def challenge_url(self, challenge: str, return_to: str) -> str:
        """The sandbox bank's page (portal/web/sandbox.py), in the language of the
        portal page the cardholder comes back to."""
        lang = return_to.split("/")[1] if return_to.count("/") > 1 else "sv"
        return f"/{lang}/sandbox/challenge/{challenge}?return_to={quote(return_to, safe='/')}"

    def challenge(self, challenge: str) -> tuple[Money, str] | None:
        """What the bank's page shows: the amount, and 'waiting', 'passed' or 'failed'
        ('failed' also once abandoned). None for a challenge it never issued."""
        row = self._challenge_row(self._challenges.c.challenge == challenge)
        if row is None:
            return None
        return Money(row["amount_minor"], row["currency"]), self._state(row)

    def complete_challenge(self, challenge: str, confirmed: bool) -> bool:
        """The cardholder confirmed (or cancelled) on the bank's page. A challenge
        card that fails is failed either way. False when it was no longer waiting."""
        row = self._challenge_row(self._challenges.c.challenge == challenge)
        if row is None or self._state(row) != "waiting":
            return False
        passed = confirmed and _outcome(row["token"]) == CHALLENGE
        with self._engine.begin() as conn:
            done = conn.execute(update(self._challenges).where(
                self._challenges.c.challenge == challenge, self._challenges.c.state == "waiting")
                .values(state="passed" if passed else "failed")).rowcount
        return bool(done)

    def verify(self, token: str) -> DeclineCode | None:
        # Verifying moves no money: it leaves the ledger alone.
        if (self._fault or _fault_of(token)) in (Fault.BEFORE_CHARGE, Fault.TIMEOUT):
            raise GatewayNotReached("sandbox: the payment gateway cannot be reached")
        return _decide(token).decline_code

    def refund(self, reference: str, amount: Money, idempotency_key: str) -> str:
        if amount.minor <= 0:
            raise InvalidAmount("refund amount must be positive")
        self._ensure_schema()
        with self._engine.begin() as conn:
            done = conn.execute(select(self._refunds).where(
                self._refunds.c.idempotency_key == idempotency_key)).mappings().first()
            if done is not None:
                if done["charge_reference"] != reference or done["amount_minor"] != amount.minor:
                    raise IdempotencyConflict(f"idempotency key {idempotency_key!r} was used for another refund")
                return done["reference"]
            charge = conn.execute(select(self._charges).where(
                self._charges.c.reference == reference, self._charges.c.approved.is_(True))).mappings().first()
            refunded = conn.execute(select(func.coalesce(func.sum(self._refunds.c.amount_minor), 0)).where(
                self._refunds.c.charge_reference == reference)).scalar_one()
            if charge is None or charge["currency"] != amount.currency \
                    or refunded + amount.minor > charge["amount_minor"]:
                raise RefundRefused(f"nothing to refund of {reference!r} for {amount}")
            refund_reference = f"sbx_re_{secrets.token_hex(12)}"
            conn.execute(insert(self._refunds).values(
                idempotency_key=idempotency_key, charge_reference=reference, amount_minor=amount.minor,
                currency=amount.currency, reference=refund_reference, created_at=_utcnow()))
        return refund_reference

    # -- internals --

    def _challenged(self, token: str, amount: Money, idempotency_key: str) -> ChargeResult:
        """B13: the key's challenge (issued now if it has none): still waiting → the
        same challenge again; passed → approved; failed or abandoned → declined."""
        row = self._challenge_row(self._challenges.c.idempotency_key == idempotency_key)
        if row is None:
            try:
                with self._engine.begin() as conn:
                    conn.execute(insert(self._challenges).values(
                        challenge=f"sbx_3ds_{secrets.token_hex(12)}", idempotency_key=idempotency_key,
                        token=token, amount_minor=amount.minor, currency=amount.currency, state="waiting",
                        created_at=_utcnow()))
            except IntegrityError:
                pass  # another caller issued it first: theirs is the one
            row = self._challenge_row(self._challenges.c.idempotency_key == idempotency_key)
        if row["token"] != token or Money(row["amount_minor"], row["currency"]) != amount:
            raise IdempotencyConflict(f"idempotency key {idempotency_key!r} was used for a different charge")
        state = self._state(row)
        if state == "waiting":
            return ChargeResult(False, None, None, challenge=row["challenge"])
        if state == "passed":
            return ChargeResult(True, f"sbx_ch_{secrets.token_hex(12)}", None)
        return ChargeResult(False, None, DeclineCode.AUTHENTICATION_FAILED)

    def _state(self, row) -> str:
        created = row["created_at"]
        if created.tzinfo is None:  # SQLite gives it back naive
            created = created.replace(tzinfo=dt.UTC)
        if row["state"] == "waiting" and (_utcnow() - created).total_seconds() > self._challenge_seconds:
            return "failed"  # abandoned
        return row["state"]

    @staticmethod
    def _replay(entry: LedgerEntry, token: str, amount: Money) -> ChargeResult:
        if entry.token != token or entry.amount != amount:
            raise IdempotencyConflict(
                f"idempotency key {entry.idempotency_key!r} was used for a different charge"
            )
        return ChargeResult(entry.approved, entry.reference, entry.decline_code)


def _outcome(token: str) -> str:
    match = _TOKEN_RE.match(token)
    return match["outcome"] if match else ""


def _fault_of(token: str) -> Fault | None:
    match = _TOKEN_RE.match(token)
    outcome = match["outcome"] if match else ""
    faults = {f"fault_{fault}": fault for fault in Fault}
    return faults.get(outcome)


def _decide(token: str) -> ChargeResult:
    match = _TOKEN_RE.match(token)
    outcome = match["outcome"] if match else None
    if outcome == APPROVED or _fault_of(token) is not None:  # a fault card's charge goes through
        return ChargeResult(True, f"sbx_ch_{secrets.token_hex(12)}", None)
    if outcome in _DECLINE_VALUES:
        return ChargeResult(False, None, DeclineCode(outcome))
    # Not a token we issued: a real processor would refuse it, without detail.
    return ChargeResult(False, None, DeclineCode.GENERIC_DECLINE)


def _entry(row) -> LedgerEntry:
    return LedgerEntry(
        id=row["id"],
        idempotency_key=row["idempotency_key"],
        token=row["token"],
        amount=Money(row["amount_minor"], row["currency"]),
        approved=bool(row["approved"]),
        decline_code=DeclineCode(row["decline_code"]) if row["decline_code"] else None,
        reference=row["reference"],
        created_at=row["created_at"],
    )


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    # WAL lets readers proceed while one writer commits; busy_timeout mirrors the
    # connect timeout for statements issued after connect.
    cur = dbapi_conn.cursor()
    try:
        cur.execute("PRAGMA busy_timeout = 15000")
        cur.execute("PRAGMA journal_mode = WAL")
    finally:
        cur.close()

"""Autogiro, Bankgirot's direct debit (issue 34, B23): the payer's mandate, the files to
and from Bankgirot, and what their answers do.

    give_mandate / cancel_mandate   the customer's side: a bank account validated by the
                                    banks' rules (bankkonto), the payer's organisationsnummer
                                    or personnummer (stdnum); pending until Bankgirot answers
    export                          one request file: new and cancelled mandates, and a
                                    payment order for each open invoice (pay-as-you-go
                                    charge: autogiro_charges) of an active mandate due by
                                    the next banking day — never the same (invoice or
                                    charge, day) twice (AutogiroOrder's unique keys)
    import_file                     mandate answers or payment results, checked whole first;
                                    each answer then applied under its account's lock

A drawn order is recorded like every other payment: `ledger.record_payment`, the invoice's
share (`apply_to_invoices`, B12), the rest credit (B15), receipt, audit, provider events —
in one transaction. One not drawn makes its invoice past due, tells the customer why, and
(insufficient funds only: B14, the bank may say yes tomorrow) is ordered once more for the
next banking day. Decisions and layouts: docs/autogiro.md."""
from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import bankkonto
import holidays
from bankkonto.clearing import get_bank_from_clearing_number
from sqlalchemy import select
from stdnum.se import orgnr, personnummer

from portal.billing.accounts import access, credit, notify
from portal.billing.accounts.access import Action
from portal.billing.bank import autogiro_charges as charges, autogiro_files as files
from portal.billing.bank.matching import being_paid
from portal.billing.context import Billing
from portal.billing.invoicing.remittance import ocr_reference
from portal.billing.payments import apply_to_invoices, method_summary, record_payment
from portal.billing.transaction import lock_account, write_transaction
from portal.errors import InvalidDetails, InvalidState, NotFound
from portal.models import (AccountKind, AttemptAllocation, AutogiroMandate, AutogiroOrder, BillingAccount,
                           BillingProfile, Charge, ChargeStatus, DrawStatus, Invoice, InvoiceStatus, MandateStatus,
                           MethodKind, PaymentMethod, PaymentPurpose, User)
from portal.money import Money

PAYER_NUMBER_BASE = 10_000_000   # payer numbers: this + the mandate's id (16 digits at most)
RETRIED = frozenset({"insufficient_funds"})   # B14: soft; "no_mandate" is never retried
_SWEDEN = holidays.country_holidays("SE")
SEPARATED_DIGITS = frozenset("0123456789 -")   # what a person types: digits, spaces, hyphens


@dataclass(frozen=True)
class Payee:
    """Who draws: our bankgiro and Bankgirot's customer number for Autogiro."""
    bankgiro: str
    customer_number: str

    @property
    def bankgiro_digits(self) -> str:
        return str(int("".join(c for c in self.bankgiro if c.isdigit()) or "0"))


def is_banking_day(day: date) -> bool:
    """A weekday that is no Swedish public holiday (`holidays`) nor one of the eves the
    banks keep closed: midsummer (the Friday of 19–25 June), Christmas and New Year's Eve."""
    eve = (day.month, day.day) in ((12, 24), (12, 31)) or (day.month == 6 and 19 <= day.day <= 25
                                                            and day.weekday() == 4)
    return day.weekday() < 5 and day not in _SWEDEN and not eve


def next_banking_day(day: date) -> date:
    day += timedelta(days=1)
    while not is_banking_day(day):
        day += timedelta(days=1)
    return day


# --- the customer's side ------------------------------------------------------------------

@dataclass(frozen=True)
class BankAccount:
    clearing: str
    number: str
    bank_name: str


def bank_account(clearing: str, number: str) -> BankAccount:
    """A Swedish bank account checked by the banks' rules (Bankgirot's "Bankernas
    kontonummeruppbyggnad": clearing number ranges, length, check digit), or
    InvalidDetails naming the field."""
    if set(clearing) - SEPARATED_DIGITS:
        raise InvalidDetails({"clearing": "invalid"})
    if set(number) - SEPARATED_DIGITS:
        raise InvalidDetails({"account_number": "invalid"})
    clearing = "".join(c for c in clearing if c.isdigit())
    number = "".join(c for c in number if c.isdigit())
    if not clearing:
        raise InvalidDetails({"clearing": "missing"})
    if not number:
        raise InvalidDetails({"account_number": "missing"})
    try:
        name = get_bank_from_clearing_number(clearing[:4])
    except (bankkonto.BankkontoException, ValueError):
        raise InvalidDetails({"clearing": "invalid"}) from None
    try:
        bankkonto.validate(clearing, number)
    except bankkonto.BankkontoException as refused:
        field_name = "clearing" if "Clearing" in str(refused) else "account_number"
        raise InvalidDetails({field_name: "invalid"}) from None
    return BankAccount(clearing, str(int(number)), name)


def payer_identity(value: str) -> str:
    """The payer's organisationsnummer or personnummer as Autogiro writes it: twelve
    digits (an organisationsnummer with 16 before it), or InvalidDetails."""
    if set(value) - SEPARATED_DIGITS - {"+"}:  # "+": a personnummer of someone 100 or older
        raise InvalidDetails({"payer_id": "invalid"})
    digits = "".join(c for c in value if c.isdigit())
    # An organisationsnummer's third digit is 2 or more; a personnummer's (its month) 0 or 1.
    if (len(digits) == 10 or digits[:2] == "16") and digits[-8:-7] >= "2" and orgnr.is_valid(digits[-10:]):
        return "16" + digits[-10:]
    if personnummer.is_valid(value):
        century = personnummer.get_birth_date(value).year // 100
        return f"{century:02d}" + "".join(c for c in personnummer.compact(value) if c.isdigit())[-10:]
    raise InvalidDetails({"payer_id": "invalid"})


def give_mandate(b: Billing, user: User | None, account_id: int, clearing: str, number: str,
                 payer_id: str, profile_id: int | None = None, make_default: bool = True) -> AutogiroMandate:
    """A new mandate, pending until Bankgirot answers, with its payment method (kind
    autogiro); the billing profile's default when `profile_id` is given (R15). Who
    may change the profile's methods (B8), checked under the account's lock; the
    details (InvalidDetails) before anything."""
    account_found = bank_account(clearing, number)
    identity = payer_identity(payer_id)
    with write_transaction(b.session):
        account = lock_account(b.session, account_id)
        if user is not None:
            access.require(b.session, user, account, Action.MANAGE_PAYMENT_METHODS, profile_id)
        method = PaymentMethod(account_id=account.id, kind=MethodKind.AUTOGIRO, brand=account_found.bank_name[:60],
                               last4=account_found.number[-4:], holder_name=account_found.bank_name,
                               created_at=b.clock.now())
        b.session.add(method)
        b.session.flush()
        mandate = AutogiroMandate(account_id=account.id, payment_method_id=method.id, payer_number="pending",
                                  clearing=account_found.clearing, account_number=account_found.number,
                                  bank_name=account_found.bank_name[:60], payer_id=identity,
                                  status=MandateStatus.PENDING, created_at=b.clock.now())
        b.session.add(mandate)
        b.session.flush()
        mandate.payer_number = str(PAYER_NUMBER_BASE + mandate.id)
        if profile_id is not None and make_default:
            profile = b.session.get(BillingProfile, profile_id)
            if profile is None or profile.account_id != account.id:
                raise NotFound("billing profile")
            profile.default_payment_method_id = method.id
        notify.audit(b.session, b.clock, "payment_method.added", account_id=account.id, actor=user,
                     profile_id=profile_id, method=method_summary(method))
        return mandate


def cancel_mandate(b: Billing, user: User | None, mandate_id: int) -> AutogiroMandate:
    """The customer ends the mandate: nothing more is ordered under it, and the next
    export tells Bankgirot (TK03) — unless Bankgirot never had it."""
    with write_transaction(b.session):
        mandate = b.session.get(AutogiroMandate, mandate_id)
        if mandate is None:
            raise NotFound("mandate")
        account = lock_account(b.session, mandate.account_id)
        if user is not None:
            access.require(b.session, user, account, Action.MANAGE_PAYMENT_METHODS, _profile_using(b, mandate))
        if mandate.status in (MandateStatus.CANCELLED, MandateStatus.REJECTED):
            raise InvalidState("the mandate has already ended")
        mandate.cancel_requested_at = b.clock.now()
        if mandate.sent_on is None:   # Bankgirot never heard of it: nothing to send
            mandate.cancel_sent_on = b.clock.today()
        mandate.status, mandate.reason = MandateStatus.CANCELLED, "by_customer"
        _ended(b, mandate)
        notify.audit(b.session, b.clock, "payment_method.removed", account_id=mandate.account_id, actor=user,
                     method=method_summary(mandate.payment_method))
        return mandate


def _ended(b: Billing, mandate: AutogiroMandate) -> None:
    """Its method removed; the profiles it was the default of have none (R15: the
    customer chooses again; invoices are paid to the remittance details meanwhile)."""
    mandate.payment_method.removed_at = b.clock.now()
    for profile in b.session.scalars(select(BillingProfile).where(
            BillingProfile.default_payment_method_id == mandate.payment_method_id)):
        profile.default_payment_method_id = None
    for order in b.session.scalars(select(AutogiroOrder).where(AutogiroOrder.mandate_id == mandate.id,
                                                               AutogiroOrder.status == DrawStatus.WAITING)):
        order.status, order.reason = DrawStatus.WITHDRAWN, "mandate_ended"


def _profile_using(b: Billing, mandate: AutogiroMandate) -> int | None:
    return b.session.scalar(select(BillingProfile.id).where(
        BillingProfile.default_payment_method_id == mandate.payment_method_id).limit(1))


def banking_day_from(day: date) -> date:
    """`day` if it is a banking day, else the next one: when an invoice due then is drawn."""
    return day if is_banking_day(day) else next_banking_day(day)


# --- the request file ---------------------------------------------------------------------

@dataclass
class Export:
    path: Path | None = None
    additions: int = 0
    cancellations: int = 0
    orders: int = 0
    withdrawn: int = 0


def export(b: Billing, payee: Payee, directory: Path) -> Export:
    """Today's request file in `directory` (none when there is nothing to send): checked
    whole, written, then what it carries marked sent — all or nothing (the file is
    removed again if the commit fails). Orders: each open invoice whose profile pays by
    an active mandate and which falls due by the next banking day, drawn on that day;
    and the retries ordered for it. The same (invoice, day) is never ordered twice."""
    today = b.clock.today()
    draw_on = next_banking_day(today)
    summary = Export()
    with write_transaction(b.session):
        _order_invoices_due(b, today, draw_on)
        charges.order_charges_due(b, today, draw_on)   # pay-as-you-go subscriptions' charges
        additions = list(b.session.scalars(select(AutogiroMandate).where(
            AutogiroMandate.status == MandateStatus.PENDING, AutogiroMandate.sent_on.is_(None))
            .order_by(AutogiroMandate.id)))
        cancellations = list(b.session.scalars(select(AutogiroMandate).where(
            AutogiroMandate.cancel_requested_at.is_not(None), AutogiroMandate.cancel_sent_on.is_(None))
            .order_by(AutogiroMandate.id)))
        orders = []
        for order in b.session.scalars(select(AutogiroOrder).where(
                AutogiroOrder.status == DrawStatus.WAITING, AutogiroOrder.draw_on <= draw_on)
                .order_by(AutogiroOrder.id)):
            withdrawn = _why_withdrawn(order)
            if withdrawn is not None:
                order.status, order.reason = DrawStatus.WITHDRAWN, withdrawn
                summary.withdrawn += 1
                continue
            order.draw_on = max(order.draw_on, draw_on)
            orders.append(order)
        if not (additions or cancellations or orders):
            return summary
        content = files.write_request(files.Request(
            today, payee.customer_number, payee.bankgiro_digits,
            tuple(files.Addition(m.payer_number, m.clearing, m.account_number, m.payer_id) for m in additions),
            tuple(m.payer_number for m in cancellations),
            tuple(files.Order(o.mandate.payer_number, o.draw_on, o.amount_minor, o.reference) for o in orders)))
        for m in additions:
            m.sent_on = today
        for m in cancellations:
            m.cancel_sent_on = today
        for o in orders:
            o.status, o.sent_on = DrawStatus.SENT, today
        path = _write_new(directory, f"autogiro-{today:%Y%m%d}", content)
        summary.path, summary.additions, summary.cancellations, summary.orders = (
            path, len(additions), len(cancellations), len(orders))
        try:
            b.session.flush()
        except Exception:
            path.unlink(missing_ok=True)
            raise
    return summary


def _why_withdrawn(order: AutogiroOrder) -> str | None:
    """Why a waiting order is not sent after all: its invoice or charge was paid
    otherwise, its mandate ended, or (a charge) its subscription no longer pays by the
    mandate (moved to a card, R05 after settling)."""
    if order.charge_id is None:
        owed, moved = order.invoice.is_open, False
    else:
        owed = order.charge.status == ChargeStatus.OUTSTANDING
        moved = order.charge.subscription.payment_method_id != order.mandate.payment_method_id
    if not owed:
        return "paid"
    if order.mandate.status != MandateStatus.ACTIVE:
        return "mandate_ended"
    return "method_changed" if moved else None


def _order_invoices_due(b: Billing, today: date, draw_on: date) -> None:
    """A waiting order for each open invoice falling due by `draw_on` whose profile's
    default method is an active mandate, unless it has one for that day already."""
    due = b.session.execute(
        select(Invoice, AutogiroMandate).join(BillingProfile, Invoice.billing_profile_id == BillingProfile.id)
        .join(AutogiroMandate, AutogiroMandate.payment_method_id == BillingProfile.default_payment_method_id)
        .where(AutogiroMandate.status == MandateStatus.ACTIVE, Invoice.status == InvoiceStatus.DUE,
               Invoice.due_on > today, Invoice.due_on <= draw_on,
               ~select(AutogiroOrder.id).where(AutogiroOrder.invoice_id == Invoice.id).exists())
        .order_by(Invoice.id)).all()
    for invoice, mandate in due:
        b.session.add(AutogiroOrder(mandate_id=mandate.id, invoice_id=invoice.id, draw_on=draw_on,
                                    amount_minor=invoice.left.minor, currency=invoice.currency,
                                    reference=ocr_reference(invoice.number), created_at=b.clock.now()))
    b.session.flush()


def _write_new(directory: Path, stem: str, content: bytes) -> Path:
    """The file under a name not taken yet, written whole (a temporary name, then renamed)."""
    directory.mkdir(parents=True, exist_ok=True)
    for n in range(1, 1000):
        path = directory / f"{stem}-{n:03d}.txt"
        if not path.exists():
            temporary = directory / f".{path.name}.part"
            temporary.write_bytes(content)
            os.replace(temporary, path)
            return path
    raise RuntimeError(f"no free file name for {stem} in {directory}")


# --- files from Bankgirot -----------------------------------------------------------------

@dataclass
class Import:
    kind: str = ""
    records: int = 0
    applied: int = 0
    duplicates: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)


def import_file(b: Billing, payee: Payee, open_file: Callable[[], Iterable[bytes | str]]) -> Import:
    """Apply a file from Bankgirot: read whole and refused (AutogiroRejected, line and
    reason) unless every record is well formed, every total adds up, the file is for
    our bankgiro and every record names a mandate (and an order) we sent. Then each
    answer in a transaction of its own under its account's lock; an answer already
    applied is skipped, so importing a file again changes nothing."""
    kind = files.kind_of(open_file())
    if kind == "mandates":
        parsed = files.read_mandate_answers(open_file())
        records = parsed.answers
    elif kind == "payments":
        parsed = files.read_payment_results(open_file())
        records = parsed.results
    else:
        raise files.AutogiroRejected(1, "a request file is ours to send, not to import")
    if parsed.bankgiro != payee.bankgiro_digits:
        raise files.AutogiroRejected(1, f"a file for bankgiro {parsed.bankgiro}, not ours ({payee.bankgiro_digits})")
    mandates = {m.payer_number: m.id for m in b.session.scalars(select(AutogiroMandate).where(
        AutogiroMandate.payer_number.in_({r.payer_number for r in records})))}
    for record in records:
        if record.payer_number not in mandates:
            raise files.AutogiroRejected(record.line, f"payer number {record.payer_number} is no mandate of ours")
    if kind == "payments":
        orders = _orders_named(b, mandates, records)
    b.session.rollback()
    summary = Import(kind, len(records))
    for record in records:
        if kind == "mandates":
            outcome = _apply_answer(b, mandates[record.payer_number], record)
        else:
            outcome = _apply_result(b, orders[record.payer_number, record.reference, record.draw_on], record)
        if outcome == "duplicate":
            summary.duplicates += 1
        else:
            summary.applied += 1
            summary.outcomes[outcome] = summary.outcomes.get(outcome, 0) + 1
    return summary


def _orders_named(b: Billing, mandates: dict[str, int], results) -> dict[tuple, int]:
    found = {(m_payer, o.reference, o.draw_on): o.id for o, m_payer in b.session.execute(
        select(AutogiroOrder, AutogiroMandate.payer_number).join(AutogiroMandate)
        .where(AutogiroOrder.mandate_id.in_(list(mandates.values())), AutogiroOrder.sent_on.is_not(None)))}
    for r in results:
        if (r.payer_number, r.reference, r.draw_on) not in found:
            raise files.AutogiroRejected(r.line, f"no order of ours draws {r.reference} from payer "
                                                 f"{r.payer_number} on {r.draw_on}")
    return found


def _apply_answer(b: Billing, mandate_id: int, answer: files.Answer) -> str:
    status, reason = files.MANDATE_CODES[answer.comment]
    with write_transaction(b.session):
        mandate = b.session.get(AutogiroMandate, mandate_id, populate_existing=True)
        account = lock_account(b.session, mandate.account_id)
        if mandate.answered_on == answer.answered_on and mandate.status == status:
            return "duplicate"
        if mandate.status == MandateStatus.CANCELLED:
            # The customer cancelled it (Bankgirot confirms, or answered the addition
            # before it heard): that stands, and the customer knows already.
            if mandate.answered_on == answer.answered_on:
                return "duplicate"
            mandate.answered_on = answer.answered_on
            return "mandate_cancelled"
        mandate.status, mandate.reason, mandate.answered_on = MandateStatus(status), reason, answer.answered_on
        if status != "active":
            _ended(b, mandate)
            payload = {"reason": reason or status, "bank_name": mandate.bank_name,
                       "last4": mandate.account_number[-4:],
                       **({"subscriptions": True} if account.kind == AccountKind.PAY_AS_YOU_GO else {})}
            notify.queue_email(b.session, b.clock, account, "autogiro_mandate_ended", payload)
        return f"mandate_{status}"


def _apply_result(b: Billing, order_id: int, result: files.Order) -> str:
    with write_transaction(b.session):
        order = b.session.get(AutogiroOrder, order_id, populate_existing=True)
        account = lock_account(b.session, order.mandate.account_id)
        order = b.session.get(AutogiroOrder, order_id, populate_existing=True)
        if order.status != DrawStatus.SENT:
            return "duplicate"
        order.answered_on = b.clock.today()
        if order.charge_id is not None:   # a pay-as-you-go charge (autogiro_charges)
            charge = b.session.get(Charge, order.charge_id, populate_existing=True)
            if result.result == files.DRAWN:
                order.status = DrawStatus.DRAWN
                order.payment_id = charges.record_drawn(b, account, order, charge, result).id
                return "drawn"
            order.status, order.reason = DrawStatus.NOT_DRAWN, files.RESULT_CODES[result.result]
            charges.not_drawn(b, order, charge, _retry_on(b, order))
            return "not_drawn"
        invoice = b.session.get(Invoice, order.invoice_id, populate_existing=True)
        if result.result == files.DRAWN:
            order.status = DrawStatus.DRAWN
            order.payment_id = _record_drawn(b, account, order, invoice, result).id
            return "drawn"
        order.status, order.reason = DrawStatus.NOT_DRAWN, files.RESULT_CODES[result.result]
        _not_drawn(b, account, order, invoice)
        return "not_drawn"


def _retry_on(b: Billing, order: AutogiroOrder) -> date | None:
    """B14 for Autogiro: insufficient funds on the first draw under a mandate still
    active is drawn once more, the next banking day; nothing else is retried."""
    if order.attempt == 1 and order.reason in RETRIED and order.mandate.status == MandateStatus.ACTIVE:
        return next_banking_day(max(order.draw_on, b.clock.today()))
    return None


def _record_drawn(b: Billing, account: BillingAccount, order: AutogiroOrder, invoice: Invoice,
                  result: files.Order):
    """As the BgMax import records an invoice paid by bank (M2): payment, the invoice's
    share (B12), the rest credit (B15), receipt and audit — one commit. An invoice an open
    card attempt pays gets none: that attempt records what it wrote ahead (M8), this is credit."""
    method, profile_id = order.mandate.payment_method, invoice.billing_profile_id
    payment = record_payment(b, account, None, method, Money(result.amount_minor, order.currency),
                             f"autogiro:{order.mandate.payer_number}-{order.id}", f"autogiro-{order.id}",
                             PaymentPurpose.AUTOGIRO, profile_id)
    busy = being_paid(b, AttemptAllocation.invoice_id == invoice.id)
    applied, rest = apply_to_invoices(b, [] if busy else [invoice], payment, result.amount_minor)
    credit.add_surplus(b, account, payment, rest, "overpaid" if applied else "already_paid", profile_id)
    details = {"payment_id": payment.id, "amount_minor": payment.amount_minor, "currency": payment.currency,
               "method": method_summary(method), "invoices": [i.number for i in applied],
               "left_minor": sum(i.left.minor for i in applied), **({"credited_minor": rest} if rest else {})}
    notify.queue_receipt(b.session, b.clock, account, None, details)
    notify.audit(b.session, b.clock, "payment.succeeded", account_id=account.id, actor=None, purpose="autogiro",
                 paid_on=result.draw_on.isoformat(), profile_id=profile_id, **details)
    return payment


def _not_drawn(b: Billing, account: BillingAccount, order: AutogiroOrder, invoice: Invoice) -> None:
    """The invoice is past due (R01-like for invoices: M4), the customer told why and
    when it is drawn again — once, the next banking day, when the bank may say yes.
    (Paid meanwhile, by card or transfer: nothing more to say.)"""
    if not invoice.is_open:
        return
    retry_on = _retry_on(b, order)
    if retry_on is not None:
        b.session.add(AutogiroOrder(mandate_id=order.mandate_id, invoice_id=invoice.id, draw_on=retry_on, attempt=2,
                                    amount_minor=invoice.left.minor, currency=invoice.currency,
                                    reference=order.reference, created_at=b.clock.now()))
    if invoice.status == InvoiceStatus.DUE:
        invoice.status = InvoiceStatus.PAST_DUE
    payload = {"invoice_id": invoice.id, "number": invoice.number, "amount_minor": invoice.left.minor,
               "currency": invoice.currency, "due_on": invoice.due_on.isoformat(), "reason": order.reason,
               "profile_id": invoice.billing_profile_id, **({"next_draw_on": retry_on.isoformat()} if retry_on else {})}
    notify.queue_email(b.session, b.clock, account, "autogiro_not_drawn", payload)
    notify.notify_users(b.session, b.clock, account, "invoice_past_due", payload)
    notify.audit(b.session, b.clock, "payment.declined", account_id=account.id, profile_id=invoice.billing_profile_id,
                 purpose="autogiro", reason=order.reason, invoices=[invoice.number],
                 method=method_summary(order.mandate.payment_method), amount_minor=order.amount_minor,
                 currency=order.currency)

"""Recording money that has moved: the payment row, and exactly what its attempt
wrote ahead — charges paid set-based, each invoice its share (B12) — with what found
its charge or invoice paid meanwhile as the account's credit (B15). Never refused:
the money has been taken."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Date, case, func, insert, literal, or_, select, update

from portal.billing import events
from portal.billing.accounts import credit, notify
from portal.billing.accounts.balances import (IS_OUTSTANDING, SETTLEABLE, charges_of, expire_loaded, link_payments,
                                              recount_outstanding, subtract_paid)
from portal.billing.context import Billing
from portal.billing.invoicing.documents import buyer_of, frozen_parties
from portal.money import Money
from portal.models import (AttemptAllocation, BillingAccount, BillingDetails, BillingProfile, Charge, ChargeStatus,
                           DisabledSpan, Invoice, InvoicePayment, InvoiceStatus, Notice, Payment, PaymentMethod, PaymentPurpose,
                           PaymentSubscription, Subscription, SubscriptionFigure, SubscriptionStatus, User,
                           status_ranks)
from portal.billing.accounts.history import NAMES_SHOWN
from portal.billing.payments.cards import method_summary


# R13: a subscription paid that owes nothing more is re-enabled until deleted; B14: no more retries.
RE_ENABLED = dict(status=SubscriptionStatus.ACTIVE, past_due_since=None, disabled_on=None, retry_count=0,
                  next_retry_on=None)


@dataclass(frozen=True)
class Applied:
    """What recording an attempt's allocation paid, and what became credit (B15)."""
    subscriptions: notify.SomeNames  # the first few paid, and how many
    invoices: list[Invoice]
    credited_minor: int
    switched: notify.SomeNames | None = None  # R05: those of them moved to the paying card


def parties_now(b: Billing, account: BillingAccount, profile_id: int | None) -> dict:
    """The seller and the buyer (the account's or the profile's billing details) as
    they are now, to keep with a payment being recorded (B17, docs/vat.md)."""
    return parties_of(b, [(account, profile_id)])[account.id, profile_id]


def parties_of(b: Billing, payers: list[tuple[BillingAccount, int | None]]) -> dict[tuple[int, int | None], dict]:
    """`parties_now` of several (account, billing profile or None) at once — a BgMax
    batch's payers — in two statements whatever their number."""
    account_ids = {account.id for account, _profile_id in payers}
    profile_ids = {profile_id for _account, profile_id in payers if profile_id is not None}
    names = dict(b.session.execute(select(BillingProfile.id, BillingProfile.name).where(
        BillingProfile.id.in_(profile_ids))).all()) if profile_ids else {}
    details = {(d.account_id, d.billing_profile_id): d for d in b.session.scalars(
        select(BillingDetails).where(BillingDetails.account_id.in_(account_ids)))}  # one per owner (uq_billing_details_owner)
    return {(account.id, profile_id): frozen_parties(b.policy.seller, buyer_of(
        account.name, names.get(profile_id, ""), details.get((account.id, profile_id))))
        for account, profile_id in payers}


def record_payment(b: Billing, account: BillingAccount, user: User | None,
                    method: PaymentMethod, amount: Money, reference: str, key: str,
                    purpose: PaymentPurpose, profile_id: int | None = None) -> Payment:
    """The payment row, with the seller and the buyer as they are now (B17: its receipt,
    made after the answer or much later, shows them; the caller holds the account's
    lock, which a change of billing details takes too)."""
    payment = Payment(idempotency_key=key, account_id=account.id, billing_profile_id=profile_id,
                      user_id=user.id if user else None, payment_method_id=method.id,
                      purpose=purpose, amount_minor=amount.minor, currency=amount.currency,
                      gateway_reference=reference, created_at=b.clock.now(),
                      parties=parties_now(b, account, profile_id))
    b.session.add(payment)
    b.session.flush()
    return payment


def apply_allocation(b: Billing, account: BillingAccount, attempt_id: int | None, payment: Payment,
                     first_method_id: int, switch_to: int | None = None) -> Applied:
    """Step 3 of `pay`: apply exactly what the attempt wrote ahead — its charges paid,
    each invoice its share — set-based, never re-derived from the state of the moment.
    What finds its charge or invoice paid meanwhile (a bank transfer, another writer)
    becomes the account's credit (B15): the money is recorded whole, never refused,
    since it has been taken. `switch_to` (R05, settle): the subscriptions paid that
    use `first_method_id` (the failed card) move to this card, in the same statement.
    The caller holds the account's lock."""
    mine = (AttemptAllocation.attempt_id == attempt_id,)
    names, switched, charged = _pay_charges(b, payment, attempt_id if attempt_id is not None else [],
                                            first_method_id, switch_to)
    shares = list(b.session.execute(select(AttemptAllocation.invoice_id, AttemptAllocation.amount_minor)
                                    .where(*mine, AttemptAllocation.invoice_id.is_not(None))
                                    .order_by(AttemptAllocation.id)))
    invoices = {i.id: i for i in b.session.scalars(select(Invoice).where(
        Invoice.id.in_([invoice_id for invoice_id, _ in shares])).execution_options(populate_existing=True))}
    applied, received = apply_shares(b, [(invoices[invoice_id], share) for invoice_id, share in shares], payment)
    surplus = payment.amount_minor - charged - received
    if surplus < 0:  # more paid than the money: a bug, never a state to commit
        raise RuntimeError(f"payment {payment.id}: {charged + received} applied of {payment.amount_minor}")
    credit.add_surplus(b, account, payment, surplus, "already_paid" if charged + received == 0
                       else "allocation_changed", payment.billing_profile_id)
    return Applied(names, applied, surplus, switched)


def receipt_details(payment: Payment, method: PaymentMethod, applied: Applied, **what) -> dict:
    """The receipt's and the audit event's details of a recorded payment."""
    details = {"payment_id": payment.id, "amount_minor": payment.amount_minor, "currency": payment.currency,
               "method": method_summary(method), **what}
    if applied.credited_minor:
        details["credited_minor"] = applied.credited_minor  # B15: "… kr har blivit ett tillgodohavande"
    return details


def pay_charges(b: Billing, payment: Payment, charges, first_method_id: int) -> notify.SomeNames:
    """The outstanding ones of these charges marked paid by `payment`, set-based, in a
    handful of statements whatever their number (issue 28: a reseller settles 200,000):
    `charges` is a list of ids, or WHERE terms on Charge (an attempt's allocation,
    joined: `UPDATE … FROM`). Their subscriptions re-enabled until deleted (R13) —
    when they owe nothing more — and recounted, by one UPDATE; each one re-enabled
    keeps the stretch it was disabled (B16: those days are not billed, today's are);
    their figures less what it paid (`subtract_paid`).
    The first few names of the subscriptions paid, `first_method_id`'s first, and how
    many. The caller checks the sum against the money."""
    return _pay_charges(b, payment, charges, first_method_id)[0]


def _pay_charges(b: Billing, payment: Payment, charges, first_method_id: int,
                 switch_to: int | None = None) -> tuple[notify.SomeNames, notify.SomeNames | None, int]:
    """`pay_charges`; `charges` may also be an attempt's id: its allocation's charges
    (each subscription's outstanding ones up to the highest id priced). With
    `switch_to`, those of the subscriptions paid that use `first_method_id` move to
    that card (R05) in the same UPDATE (issue 28: one rewrite of a reseller's 100,000
    subscriptions, not two): their names too. Also what it charged in all."""
    if isinstance(charges, int):
        allocated = (AttemptAllocation.attempt_id == charges, AttemptAllocation.subscription_id.is_not(None))
        which = (Charge.subscription_id == AttemptAllocation.subscription_id,
                 Charge.id <= AttemptAllocation.up_to_charge_id, *allocated)
    else:
        allocated, which = None, (Charge.id.in_(charges),) if isinstance(charges, list) else tuple(charges)
    # Only status and payment_id change, neither indexed: on PostgreSQL a HOT update (models.Charge).
    marked = b.session.execute(update(Charge).where(*which, IS_OUTSTANDING)
                               .values(status=ChargeStatus.PAID, payment_id=payment.id)
                               .execution_options(synchronize_session=False)).rowcount
    expire_loaded(b.session, Charge, ["status", "payment_id"])
    figures = None
    priced_minor = _priced_if_all_paid(b, allocated, marked) if allocated is not None else None
    if priced_minor is not None:
        # Every charge it priced was still outstanding (the usual case): it paid exactly
        # the allocation's rows, which give the payment's subscriptions and figures
        # without reading 200,000 charges again. (Fewer: some were paid meanwhile — B15,
        # what was priced for them becomes credit — and the charges say which.)
        b.session.execute(insert(PaymentSubscription).from_select(
            ["payment_id", "subscription_id"],
            select(literal(payment.id), AttemptAllocation.subscription_id).where(*allocated)))
        figures = (select(AttemptAllocation.subscription_id, AttemptAllocation.charges.label("charges"),
                          AttemptAllocation.amount_minor.label("minor")).where(*allocated).subquery("paid"))
        charged = priced_minor
    else:
        link_payments(b.session, *which, Charge.payment_id == payment.id)
        charged = b.session.scalar(select(func.coalesce(func.sum(Charge.amount_minor), 0))
                                   .where(*charges_of(payment.id)))
    paid = notify.paid_by(payment.id)
    # The first few names, `first_method_id`'s first: each in id order from the index
    # on the payment method, reading a few rows, not the 100,000 a reseller's pays.
    on_first = Subscription.payment_method_id == first_method_id
    first_names = notify.first_names(b.session, (on_first, paid))
    names = first_names + (notify.first_names(b.session, (
        Subscription.account_id == payment.account_id, or_(~on_first, Subscription.payment_method_id.is_(None)),
        paid), NAMES_SHOWN - len(first_names)) if len(first_names) < NAMES_SHOWN else [])
    owes_nothing = ~select(Charge.id).where(Charge.subscription_id == Subscription.id, IS_OUTSTANDING).exists()
    b.session.execute(insert(DisabledSpan).from_select(  # B16, before re-enabling forgets disabled_on
        ["subscription_id", "disabled_on", "enabled_on"],
        select(Subscription.id, Subscription.disabled_on, literal(b.clock.today(), Date)).where(
            Subscription.account_id == payment.account_id, Subscription.status_rank.in_(status_ranks(SETTLEABLE)),
            Subscription.status.in_(SETTLEABLE),
            Subscription.disabled_on.is_not(None), paid, owes_nothing)))
    switch, were_on_first = {}, None
    if switch_to is not None and switch_to != first_method_id:
        were_on_first = _subscriptions_on(b, payment.account_id, first_method_id)
        switch = {"payment_method_id": case((on_first, switch_to), else_=Subscription.payment_method_id)}
    # R13: re-enabled until deleted; B14: no more retries — with the figures, one UPDATE,
    # whose row count is how many subscriptions it paid.
    count = subtract_paid(b.session, payment.id, when_settled=RE_ENABLED, also=switch, paid=figures)
    switched = None
    if were_on_first is not None:  # R05: those it moved, counted from the kept figures before and after
        switched = notify.SomeNames(first_names, were_on_first - _subscriptions_on(b, payment.account_id,
                                                                                      first_method_id))
    # Issue 20 item 1: "payment failed", "will be disabled" and "disabled" notices of the
    # subscriptions now active go away by themselves. Asked per notice (an account has
    # a few open), not by listing every subscription paid (a reseller's 100,000).
    notify.resolve_notices(b.session, b.clock, payment.account_id, subscription_ids=select(Subscription.id).where(
        Subscription.id == Notice.payload["subscription_id"].as_integer(),
        Subscription.status == SubscriptionStatus.ACTIVE, paid))
    return notify.SomeNames(names, count), switched, int(charged)


def _priced_if_all_paid(b: Billing, allocated: tuple, marked: int) -> int | None:
    """What the allocation's rows priced in all, when `marked` charges are all that they
    priced (each row's count known: rows written ahead before it was kept are not);
    otherwise None. One read of a reseller's 100,000 rows for both."""
    rows, known, priced, minor = b.session.execute(
        select(func.count(), func.count(AttemptAllocation.charges),
               func.coalesce(func.sum(AttemptAllocation.charges), 0),
               func.coalesce(func.sum(AttemptAllocation.amount_minor), 0)).where(*allocated)).one()
    return int(minor) if rows == known and priced == marked else None


def _subscriptions_on(b: Billing, account_id: int, method_id: int) -> int:
    """How many of the account's subscriptions use the method, from the kept figures."""
    return int(b.session.scalar(select(func.coalesce(func.sum(SubscriptionFigure.subscriptions), 0)).where(
        SubscriptionFigure.account_id == account_id, SubscriptionFigure.payment_method_id == method_id)))


def pay_charges_together(b: Billing, paying: list[tuple[Payment, list[int], int]]) -> list[notify.SomeNames]:
    """`pay_charges` for several payments at once, each (payment, its charge ids,
    first_method_id) paying charges of its own account, one payment per account — a BgMax batch's pay-as-you-go
    transfers (issue 28 item 3): the charges of all in one UPDATE, the subscriptions'
    names counted and picked in two grouped statements, their disabled stretches
    (B16), figures and re-enabling (R13) and their notices in one statement each.
    The same rows as `pay_charges` one payment after the other (their
    subscriptions are distinct). Each payment's names, in order."""
    charge_ids = [charge_id for _payment, ids, _first in paying for charge_id in ids]
    if not charge_ids:
        return [notify.SomeNames([], 0) for _ in paying]
    payment_of = {payment.account_id: payment.id for payment, _ids, _first in paying}
    if len(payment_of) != len(paying):
        raise ValueError("pay_charges_together: one payment per account")
    # Each charge's payment by its subscription's account: a CASE of as many branches as
    # payments, not as charges (a reseller's transfer may pay 100,000).
    account = select(Subscription.account_id).where(Subscription.id == Charge.subscription_id).scalar_subquery()
    b.session.execute(update(Charge).where(Charge.id.in_(charge_ids), IS_OUTSTANDING)
                      .values(status=ChargeStatus.PAID, payment_id=case(payment_of, value=account))
                      .execution_options(synchronize_session=False))
    expire_loaded(b.session, Charge, ["status", "payment_id"])
    ids = [payment.id for payment, _ids, _first in paying]
    link_payments(b.session, Charge.id.in_(charge_ids), Charge.payment_id.in_(ids))
    names = _names_by_payment(b, {payment.id: first for payment, _ids, first in paying})
    paid = Subscription.id.in_(select(PaymentSubscription.subscription_id)
                               .where(PaymentSubscription.payment_id.in_(ids)))
    owes_nothing = ~select(Charge.id).where(Charge.subscription_id == Subscription.id,
                                            IS_OUTSTANDING).exists()
    b.session.execute(insert(DisabledSpan).from_select(  # B16, before re-enabling forgets disabled_on
        ["subscription_id", "disabled_on", "enabled_on"],
        select(Subscription.id, Subscription.disabled_on, literal(b.clock.today(), Date)).where(
            paid, Subscription.status.in_(SETTLEABLE), Subscription.disabled_on.is_not(None), owes_nothing)
        .order_by(select(func.min(PaymentSubscription.payment_id)).where(
            PaymentSubscription.subscription_id == Subscription.id, PaymentSubscription.payment_id.in_(ids))
            .scalar_subquery(),
                  Subscription.id)))  # in the payments' order, as one after the other
    recount_outstanding(b.session, paid, when_settled=RE_ENABLED)
    accounts = list(dict.fromkeys(payment.account_id for payment, _ids, _first in paying))
    notify.resolve_notices(b.session, b.clock, accounts, subscription_ids=select(Subscription.id).where(  # issue 20
        Subscription.id == Notice.payload["subscription_id"].as_integer(),
        Subscription.status == SubscriptionStatus.ACTIVE,
        select(PaymentSubscription.subscription_id).where(PaymentSubscription.subscription_id == Subscription.id,
                                                          PaymentSubscription.payment_id.in_(ids)).exists()))
    return [names.get(payment.id, notify.SomeNames([], 0)) for payment, _ids, _first in paying]


def _names_by_payment(b: Billing, first_method: dict[int, int]) -> dict[int, notify.SomeNames]:
    """`notify.some_names` of the subscriptions each payment paid, `first_method`'s
    first: counted grouped, and the first few of each picked by a window, in two statements."""
    paid = (select(PaymentSubscription.payment_id, PaymentSubscription.subscription_id)
            .where(PaymentSubscription.payment_id.in_(list(first_method))).subquery("paid"))
    counts = dict(b.session.execute(select(paid.c.payment_id, func.count()).group_by(paid.c.payment_id)).all())
    other = case(*((paid.c.payment_id == payment_id, Subscription.payment_method_id != method_id)
                   for payment_id, method_id in first_method.items()), else_=False)
    ranked = (select(paid.c.payment_id, Subscription.name, func.row_number().over(
        partition_by=paid.c.payment_id, order_by=(other, Subscription.id)).label("n"))
        .where(Subscription.id == paid.c.subscription_id).subquery("ranked"))
    names: dict[int, list[str]] = {}
    for payment_id, name in b.session.execute(select(ranked.c.payment_id, ranked.c.name)
                                              .where(ranked.c.n <= notify.NAMES_SHOWN).order_by(ranked.c.payment_id,
                                                                                                 ranked.c.n)):
        names.setdefault(payment_id, []).append(name)
    return {payment_id: notify.SomeNames(names.get(payment_id, []), count) for payment_id, count in counts.items()}


def mark_invoices_paid(b: Billing, invoices: list[Invoice], payment: Payment | None) -> None:
    """R22: these invoices paid in full — by `payment`, or (None) by credits alone."""
    if payment is None:
        for invoice in invoices:
            invoice.status, invoice.paid_on = InvoiceStatus.PAID, b.clock.today()
            events.emit(b.session, b.clock, "invoice.paid", invoice_event(invoice, None))
        return
    apply_to_invoices(b, invoices, payment, sum(invoice.left.minor for invoice in invoices))


def oldest_first_shares(invoices: list[Invoice], amount_minor: int) -> tuple[list[tuple[int, int]], int]:
    """B12: `amount_minor` over these open invoices, the oldest due first: each gets
    what is left of it, or what is left of the money. ([(invoice id, share)], money left)."""
    shares, money_left = [], amount_minor
    for invoice in sorted(invoices, key=lambda i: (i.due_on, i.id)):
        share = min(invoice.left.minor, money_left) if invoice.is_open else 0
        if share > 0:
            shares.append((invoice.id, share))
            money_left -= share
    return shares, money_left


def apply_to_invoices(b: Billing, invoices: list[Invoice], payment: Payment, amount_minor: int) -> tuple[list[Invoice], int]:
    """B12: `amount_minor` of `payment` to these open invoices, the oldest due first.
    (The invoices that got some of it, the money left over.) The caller holds the
    account's lock and says where the rest goes (B15: credit)."""
    by_id = {invoice.id: invoice for invoice in invoices}
    shares, _left = oldest_first_shares(invoices, amount_minor)
    applied, received = apply_shares(b, [(by_id[invoice_id], share) for invoice_id, share in shares], payment)
    return applied, amount_minor - received


def invoice_event(invoice: Invoice, payment_id: int | None) -> dict:
    """The data of `invoice.paid` / `invoice.partly_paid` (issue 32's events)."""
    return {"invoice_id": invoice.id, "number": invoice.number, "billing_profile_id": invoice.billing_profile_id,
            "paid_minor": invoice.paid_minor or 0, "left_minor": invoice.left.minor, "currency": invoice.currency,
            "payment_id": payment_id}


def apply_shares(b: Billing, shares: list[tuple[Invoice, int]], payment: Payment) -> tuple[list[Invoice], int]:
    """Each invoice gets its share of `payment` — no more than is left of it, nothing
    once it is paid. One that is covered becomes Paid (R22) by this payment; the others
    keep their state, partly paid (B12). (The invoices that got some, how much in all.)"""
    applied: list[Invoice] = []
    received = 0
    for invoice, wanted in shares:
        share = min(invoice.left.minor, wanted) if invoice.is_open else 0
        if share <= 0:
            continue
        b.session.add(InvoicePayment(invoice_id=invoice.id, payment_id=payment.id, amount_minor=share))
        invoice.paid_minor = (invoice.paid_minor or 0) + share
        received += share
        if invoice.left.minor == 0:
            invoice.status, invoice.paid_on, invoice.payment_id = InvoiceStatus.PAID, b.clock.today(), payment.id
        events.emit(b.session, b.clock, "invoice.paid" if invoice.left.minor == 0 else "invoice.partly_paid",
                    invoice_event(invoice, payment.id))
        applied.append(invoice)
    notify.resolve_notices(b.session, b.clock, payment.account_id,  # issue 20 item 1
                           invoice_ids=[i.id for i in applied if i.status == InvoiceStatus.PAID])
    b.session.flush()
    b.session.expire(payment, ["invoices"])
    return applied, received

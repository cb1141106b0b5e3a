"""What a payment by bank names (B11, B22): its OCR references read as invoices, a
pay-as-you-go account or a payment request, and whether it pays that — or the reason it
waits for a person (`transfers.REASONS`). Read, never written: `transfers` records."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from portal.billing.bank import bgmax
from portal.billing.bank.transfer_batch import Owed, owed_by_account
from portal.billing.context import Billing
from portal.billing.invoicing import payment_requests
from portal.billing.invoicing.remittance import ocr_target
from portal.models import AccountKind, AttemptAllocation, BillingAccount, Invoice, PaymentRequest

HOME_CURRENCY = "SEK"  # invoices are in kronor; money in another currency waits for a person


def match_batch(b: Billing, batch: list[bgmax.Payment]) -> dict[str, Match]:
    """`match` of each payment, by key, with the invoices of the whole batch and what
    open card attempts pay of them read once."""
    requests = payment_requests.requests_by_id(
        b, {value for paid in batch for kind, value in targets_of(paid) if kind == "request"})
    numbers = ({value for paid in batch for kind, value in targets_of(paid) if kind == "invoice"}
               | {n for request in requests.values() for n in payment_requests.invoice_numbers(request)})
    invoices = {i.number: i for i in b.session.scalars(
        select(Invoice).where(Invoice.number.in_(numbers)).options(joinedload(Invoice.billing_profile))
        .execution_options(populate_existing=True))} if numbers else {}
    busy = set(b.session.scalars(select(AttemptAllocation.invoice_id).where(
        AttemptAllocation.invoice_id.in_([i.id for i in invoices.values()])))) if invoices else set()
    return {paid.key: match(b, paid, invoices, busy, requests) for paid in batch}


def targets_of(paid: bgmax.Payment) -> list[tuple[str, int | str]]:
    """What the payment's valid OCR references name (see `match` for the invalid)."""
    return [t for t in (ocr_target(r) for r in (paid.reference,) + paid.extra_references if r) if t is not None]


@dataclass
class Match:
    """What a payment's references name, and whether it pays that whole."""
    reason: str | None = None          # None: it pays what is owed, or part of it (B12), the rest credit
    invoices: list[Invoice] = field(default_factory=list)
    account: BillingAccount | None = None   # a pay-as-you-go account's check/wire charges
    owed_minor: int = 0                     # what it owes by check/wire (asked under its lock)
    charge_ids: list[int] = field(default_factory=list)  # the oldest of them the payment pays whole
    request: PaymentRequest | None = None   # B22: the payment request whose invoices these are

    @property
    def account_id(self) -> int | None:
        if self.account is not None:
            return self.account.id
        return self.invoices[0].billing_profile.account_id if self.invoices else None


def match(b: Billing, paid: bgmax.Payment, known: dict[str, Invoice] | None = None,
          busy: set[int] | None = None, requests: dict[int, PaymentRequest] | None = None) -> Match:
    """What `paid` names and whether it pays it. `known` (the invoices by number) and
    `busy` (the ids of those an open card attempt pays) are what `match_batch` read
    for a whole batch (and `requests`, the payment requests it names); without them they
    are read here. In a batch, an account's reference is only looked up: what it owes is asked when it is recorded."""
    if paid.amount_minor <= 0:  # no payment, no receipt: a person looks at what the bank sent
        return Match("no_amount")
    if paid.currency != HOME_CURRENCY:
        return Match("currency")
    references = [r for r in ((paid.reference,) + paid.extra_references) if r]
    if not references:
        return Match("no_reference")
    targets = [ocr_target(r) for r in references]
    if None in targets:
        return Match("invalid_reference")
    requested = {value for kind, value in targets if kind == "request"}
    if requested:  # B22: one reference for the request's invoices, while it is valid
        return match_request(b, paid, targets, known, busy, requests)
    accounts = {value for kind, value in targets if kind == "account"}
    if accounts:
        if len(set(targets)) > 1:
            return Match("several_profiles")
        if known is not None:
            account = b.session.get(BillingAccount, accounts.pop())
            if account is None or account.kind != AccountKind.PAY_AS_YOU_GO:
                return Match("unknown_reference")
            return Match(None, account=account)
        return match_account(b, paid, accounts.pop())
    numbers = list(dict.fromkeys(value for _kind, value in targets))
    if known is not None:
        return judge_invoices(sorted((known[n] for n in numbers if n in known), key=lambda i: i.id), numbers,
                               lambda invoices: any(i.id in busy for i in invoices))
    return match_invoices(b, paid, numbers)


def match_request(b: Billing, paid: bgmax.Payment, targets: list, known: dict[str, Invoice] | None,
                   busy: set[int] | None, requests: dict[int, PaymentRequest] | None) -> Match:
    """A payment request's reference pays exactly its invoices (as if the transfer had
    given each one's), the oldest due first — while the request is open and none of them
    was paid otherwise since it was made; else it waits for a person, saying which."""
    if len(set(targets)) > 1:
        return Match("request_with_others")
    request_id = targets[0][1]
    if requests is None:
        requests = payment_requests.requests_by_id(b, {request_id})
    request = requests.get(request_id)
    reason = payment_requests.why_not_payable(request)
    invoices = sorted((item.invoice for item in request.items), key=lambda i: i.id) if request is not None else []
    if reason is not None:
        return Match(reason, invoices)
    numbers = payment_requests.invoice_numbers(request)
    if known is not None:
        found = judge_invoices(sorted((known[n] for n in numbers if n in known), key=lambda i: i.id), numbers,
                               lambda invoices: any(i.id in busy for i in invoices))
    else:
        found = match_invoices(b, paid, numbers)
    found.request = request
    return found


def match_invoices(b: Billing, paid: bgmax.Payment, numbers: list[str]) -> Match:
    invoices = list(b.session.scalars(select(Invoice).where(Invoice.number.in_(numbers)).order_by(Invoice.id)
                                      .execution_options(populate_existing=True)))
    return judge_invoices(invoices, numbers, lambda invoices: being_paid(
        b, AttemptAllocation.invoice_id.in_([invoice.id for invoice in invoices])))


def judge_invoices(invoices: list[Invoice], numbers: list[str], being_paid: Callable[[list[Invoice]], bool]) -> Match:
    if len(invoices) != len(numbers):
        return Match("unknown_reference", invoices)
    if len({invoice.billing_profile_id for invoice in invoices}) > 1:
        return Match("several_profiles", invoices)
    if being_paid(invoices):
        return Match("being_paid", invoices)
    # Less than is left to pay is a partial payment (B12); more, or for a paid invoice,
    # is recorded and its rest becomes credit (B15).
    return Match(None, invoices)


def being_paid(b: Billing, allocated) -> bool:
    """Whether an open card attempt will pay what `allocated` (a clause on
    AttemptAllocation) selects: its allocation is left alone (issue 27)."""
    return b.session.scalar(select(AttemptAllocation.id).where(allocated).limit(1)) is not None


def match_account(b: Billing, paid: bgmax.Payment, account_id: int) -> Match:
    """A pay-as-you-go account's reference pays what its check/wire subscriptions owe."""
    account = b.session.get(BillingAccount, account_id)
    if account is None or account.kind != AccountKind.PAY_AS_YOU_GO:
        return Match("unknown_reference")
    return match_owed(paid, account, owed_by_account(b, [account.id])[account.id])


def match_owed(paid: bgmax.Payment, account: BillingAccount, owed: Owed) -> Match:
    total = sum(amount for _id, amount in owed.charges)
    if total and owed.being_paid:
        return Match("being_paid", account=account)
    # All it owes, or (less, B12) the oldest charges the money pays whole — stopping at
    # the first it cannot pay, as `oldest_charges_within`: a charge is never half paid.
    charge_ids, money_left = [], min(paid.amount_minor, total)
    for charge_id, amount in owed.charges:
        if amount > money_left:
            break
        charge_ids.append(charge_id)
        money_left -= amount
    if 0 < paid.amount_minor < total and not charge_ids:
        return Match("underpaid", account=account)
    # Nothing owed, or more than owed: the rest is credit (B15).
    return Match(None, account=account, owed_minor=total, charge_ids=charge_ids)

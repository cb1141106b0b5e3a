"""Payment requests (B22, issue 33 item 5): one OCR reference for a chosen set of a
billing profile's open invoices, so that one bank transfer pays them all — a Swedish
bank payment carries one OCR number, never a list (docs/payment-requests.md).

A request is valid until paid or changed:
- a profile has at most one open request: making a new one (a changed set) closes the
  one before ("replaced", under the account's lock, so two tabs leave one open);
- the Bankgirot import that pays it closes it ("paid", with the payment);
- an invoice of it paid otherwise (by card, by its own OCR, in part) leaves less to pay
  than the request asked for it: the request is "changed", worked out when it is read
  (`state_of`), so no other writer of invoices needs to know requests exist. The import
  sends money for a changed or closed request to a person (the review list), with why.

Its reference is `remittance.request_reference` (00 + the id in 8 digits + length and
check digit), which `remittance.ocr_target` resolves as ("request", id)."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from portal.billing import ids
from portal.billing.accounts import access, notify
from portal.billing.accounts.access import Action
from portal.billing.accounts.balances import invoice_quote
from portal.billing.context import Billing
from portal.billing.invoicing.remittance import request_reference
from portal.billing.transaction import lock_account, write_transaction
from portal.errors import NotFound
from portal.models import BillingProfile, Invoice, PaymentRequest, PaymentRequestInvoice, User
from portal.money import Money

MINIMUM_INVOICES = 2  # one invoice has its own OCR reference

# What a request is now (its page and the import say it in these words).
OPEN, PAID, REPLACED, CHANGED = "open", "paid", "replaced", "changed"


class TooFewInvoices(ValueError):
    """A request needs at least MINIMUM_INVOICES open invoices."""


@dataclass(frozen=True)
class RequestView:
    """A request as its page, the statement and Pay now show it."""
    request: PaymentRequest
    reference: str
    items: list[tuple[Invoice, Money]]   # each invoice, the oldest due first, and what was asked for it
    total: Money
    state: str
    changed: Invoice | None = None       # CHANGED: the first invoice paid otherwise

    @property
    def is_open(self) -> bool:
        return self.state == OPEN


def state_of(request: PaymentRequest) -> tuple[str, Invoice | None]:
    """OPEN, PAID, REPLACED, or CHANGED with the first invoice whose amount left differs
    from what the request asked for it (paid otherwise, in whole or in part)."""
    if request.closed_reason == "paid":
        return PAID, None
    if request.closed_at is not None:
        return REPLACED, None
    for item in sorted(request.items, key=lambda i: (i.invoice.due_on, i.invoice.id)):
        if not item.invoice.is_open or item.invoice.left.minor != item.amount_minor:
            return CHANGED, item.invoice
    return OPEN, None


def view_of(request: PaymentRequest) -> RequestView:
    state, changed = state_of(request)
    items = sorted(request.items, key=lambda i: (i.invoice.due_on, i.invoice.id))
    return RequestView(request, request_reference(request.id),
                       [(i.invoice, Money(i.amount_minor, request.currency)) for i in items],
                       Money(request.amount_minor, request.currency), state, changed)


def _loaded():
    return selectinload(PaymentRequest.items).joinedload(PaymentRequestInvoice.invoice)


def current(b: Billing, profile_id: int) -> RequestView | None:
    """The profile's request not closed (open, or changed since it was made), if any."""
    request = b.session.scalars(select(PaymentRequest).where(
        PaymentRequest.billing_profile_id == profile_id, PaymentRequest.closed_at.is_(None))
        .order_by(PaymentRequest.id.desc()).limit(1).options(_loaded())).first()
    return view_of(request) if request is not None else None


def open_for_profiles(b: Billing, profile_ids: list[int]) -> list[RequestView]:
    """The open requests of these profiles (the statement prints them), changed ones left out."""
    if not profile_ids:
        return []
    requests = b.session.scalars(select(PaymentRequest).where(
        PaymentRequest.billing_profile_id.in_(profile_ids), PaymentRequest.closed_at.is_(None))
        .order_by(PaymentRequest.id).options(_loaded()))
    return [view for view in map(view_of, requests) if view.is_open]


def request_of(b: Billing, user: User, account_id: int, request_id: int) -> RequestView:
    """A request the user may see (a role on its profile); NotFound otherwise."""
    account = access.get_account(b.session, user, account_id)
    request = b.session.scalars(select(PaymentRequest).where(PaymentRequest.id == request_id)
                                .options(_loaded())).first() if ids.is_id(request_id) else None
    if (request is None or request.account_id != account.id
            or not access.roles_of(b.session, user, account.id, request.billing_profile_id)):
        raise NotFound("payment request")
    return view_of(request)


@dataclass(frozen=True)
class Choice:
    """What a person chooses a request from: the profile's open invoices (the oldest due
    first) and its current request, if any."""
    profile: BillingProfile
    invoices: list[Invoice]
    current: RequestView | None


@notify.refusals_audited
def choice(b: Billing, user: User, account_id: int, profile_id: int) -> Choice:
    """For whoever may pay the profile's invoices (R19); another account's profile is NotFound."""
    profile = ids.get(b.session, BillingProfile, profile_id)
    if profile is None or profile.account_id != account_id:
        raise NotFound("billing profile")
    access.require(b.session, user, profile.account, Action.PAY_INVOICES, profile.id)
    return Choice(profile, invoice_quote(b.session, profile).invoices, current(b, profile.id))


@notify.refusals_audited
def create(b: Billing, user: User, profile_id: int, invoice_ids: list[int]) -> PaymentRequest:
    """B22: one OCR reference for these open invoices of the profile (at least two), for
    what is left to pay of each now. Whoever may pay the profile's invoices (R19) may ask
    for it. The profile's request before it, if any, is closed ("replaced"): one
    reference is valid at a time, so money for the old one waits for a person."""
    with write_transaction(b.session):
        profile = ids.get(b.session, BillingProfile, profile_id)
        if profile is None:
            raise NotFound("billing profile")
        access.require(b.session, user, profile.account, Action.PAY_INVOICES, profile.id)
        lock_account(b.session, profile.account_id)  # two tabs at once: one after the other
        quote = invoice_quote(b.session, profile, invoice_ids)  # NotFound: not an open invoice of it
        if len(quote.invoices) < MINIMUM_INVOICES:
            raise TooFewInvoices(f"choose at least {MINIMUM_INVOICES} invoices")
        now = b.clock.now()
        replaced = list(b.session.scalars(select(PaymentRequest).where(
            PaymentRequest.billing_profile_id == profile.id, PaymentRequest.closed_at.is_(None))))
        for old in replaced:
            old.closed_at, old.closed_reason = now, "replaced"
        request = PaymentRequest(account_id=profile.account_id, billing_profile_id=profile.id,
                                 created_by_user_id=user.id, created_at=now, amount_minor=quote.total.minor,
                                 currency=quote.currency, items=[
                                     PaymentRequestInvoice(invoice_id=i.id, invoice=i, amount_minor=i.left.minor)
                                     for i in quote.invoices])
        b.session.add(request)
        b.session.flush()
        notify.audit(b.session, b.clock, "payment_request.created", account_id=profile.account_id, actor=user,
                     profile_id=profile.id, request_id=request.id, reference=request_reference(request.id),
                     invoices=[i.number for i in quote.invoices], amount_minor=request.amount_minor,
                     currency=request.currency, replaced=[old.id for old in replaced])
        return request


# --- for the Bankgirot import (portal/billing/bank/transfers.py) ----------------------

def requests_by_id(b: Billing, request_ids: set[int]) -> dict[int, PaymentRequest]:
    """The requests these references name, with their invoices, read afresh."""
    if not request_ids:
        return {}
    return {r.id: r for r in b.session.scalars(select(PaymentRequest).where(PaymentRequest.id.in_(request_ids))
                                               .options(_loaded()).execution_options(populate_existing=True))}


def invoice_numbers(request: PaymentRequest) -> list[str]:
    return [item.invoice.number for item in request.items]


def why_not_payable(request: PaymentRequest | None) -> str | None:
    """None if money with this request's reference pays its invoices; else the import's
    review reason: unknown, closed (paid or replaced) or changed (an invoice paid otherwise)."""
    if request is None:
        return "unknown_reference"
    state, _changed = state_of(request)
    return {OPEN: None, PAID: "request_paid", REPLACED: "request_replaced", CHANGED: "request_changed"}[state]


def mark_paid(request: PaymentRequest, payment_id: int, now) -> None:
    request.closed_at, request.closed_reason, request.payment_id = now, "paid", payment_id

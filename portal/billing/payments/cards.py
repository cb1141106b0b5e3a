"""The cards a payment is made with: a saved card of the account, or a new one the
gateway tokenises first (never its number or CVC kept); what the audit log names them by."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import bindparam, select

from portal.billing import ids
from portal.billing.context import Billing
from portal.errors import CardRemoved, NotFound
from portal.billing.gateway import CardDetails, CardToken, validate_card
from portal.models import BillingAccount, MethodKind, PaymentMethod


@dataclass(frozen=True)
class UseSavedCard:
    method_id: int


@dataclass(frozen=True)
class UseNewCard:
    card: CardDetails


@dataclass(frozen=True)
class UseTokenizedCard:
    """A new card already exchanged for a gateway token: finishing an unconfirmed
    attempt charges exactly the token that was sent the first time."""
    token: CardToken


MethodChoice = UseSavedCard | UseNewCard | UseTokenizedCard


def saved_card(b: Billing, account: BillingAccount, method_id: int) -> PaymentMethod:
    """A card of this account; any other id (another account's, a check/wire method,
    garbage) is NotFound, so ids of other customers reveal nothing."""
    method = ids.get(b.session, PaymentMethod, method_id)
    if method is None or method.account_id != account.id or method.kind != MethodKind.CARD:
        raise NotFound("payment method")
    if method.removed_at is not None:  # this account's, removed meanwhile: the page says so
        raise CardRemoved("payment method")
    return method


_CARDS = (select(PaymentMethod).where(PaymentMethod.account_id == bindparam("account_id"),
                                      PaymentMethod.kind == MethodKind.CARD, PaymentMethod.removed_at.is_(None))
          .order_by(PaymentMethod.id))


def cards_of(b: Billing, account: BillingAccount) -> list[PaymentMethod]:
    return list(b.session.scalars(_CARDS, {"account_id": account.id}))


def prepare_new_card(b: Billing, card: CardDetails) -> CardToken:
    validate_card(card, b.clock.today())  # before the gateway is called
    return b.gateway.tokenize(card)


def save_card(b: Billing, account: BillingAccount, token: CardToken) -> PaymentMethod:
    method = PaymentMethod(
        account_id=account.id, kind=MethodKind.CARD, brand=token.brand, last4=token.last4,
        exp_month=token.exp_month, exp_year=token.exp_year, holder_name=token.holder,
        gateway_token=token.token, created_at=b.clock.now())
    b.session.add(method)
    b.session.flush()
    return method


def method_summary(method: PaymentMethod) -> dict:
    return {"kind": str(method.kind), "brand": method.brand, "last4": method.last4}

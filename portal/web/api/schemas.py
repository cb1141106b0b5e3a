"""The API's shapes (pydantic): one model validates a request's body or query and
documents it in the OpenAPI 3.1 document (spectree), and one validates each answer."""
from __future__ import annotations

import re
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

from portal.models import SubscriptionStatus

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Id = Annotated[int, Field(ge=1, le=2**31 - 1)]
Minor = Annotated[int, Field(ge=0, le=10**15 - 1, description="an amount in minor units (öre)")]
AnyMinor = Annotated[int, Field(description="an amount in minor units (öre)")]
Day = Annotated[date, Field(ge=date(2000, 1, 1), le=date(2999, 12, 31))]
# Times are kept as UTC without a zone; answered as RFC 3339 with one.
Utc = Annotated[datetime, AfterValidator(lambda d: d if d.tzinfo else d.replace(tzinfo=timezone.utc))]
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


def _rfc3339(value):
    """An RFC 3339 date-time with its offset (not a number, not a zoneless time)."""
    if not isinstance(value, str) or not _RFC3339.match(value):
        raise ValueError("an RFC 3339 date-time with an offset, e.g. 2026-11-01T00:00:00Z")
    return value


def _as_utc(value: datetime) -> datetime:
    if value.year < 1900 or value.year > 9000:
        raise ValueError("a date-time between 1900 and 9000")
    return value.astimezone(timezone.utc).replace(tzinfo=None)


Since = Annotated[datetime, BeforeValidator(_rfc3339), AfterValidator(_as_utc)]
# When a row last changed (its updated_at): a list's `updated_since` at or before it
# finds it. None only in an answer stored before it was kept (an Idempotency-Key's).
Changed = Annotated[Utc | None, Field(description="when it last changed: a later list's updated_since")]
Email = Annotated[str, StringConstraints(pattern=r"^[^@\s]{1,64}@[^@\s]{1,185}\.[^@\s]{2,63}$", max_length=254)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class Problem(BaseModel):
    """RFC 9457 problem details."""
    type: str
    title: str
    status: int
    detail: str = ""
    errors: list[dict] | None = None


class IdempotencyHeaders(BaseModel):
    idempotency_key: str | None = Field(None, alias="Idempotency-Key", max_length=255,
                                        description="the same key and body get the same answer")


class ListQuery(Strict):
    after: Id | None = Field(None, description="the `next_after` of the previous page")
    limit: int = Field(25, ge=1, le=100)
    updated_since: Since | None = Field(None, description="only rows changed at or after this time (RFC 3339); "
                                                          "rows written once: made at or after it")


# -- accounts ---------------------------------------------------------------------------
class AccountIn(Strict):
    kind: Literal["pay_as_you_go", "customer_agreement"]
    name: Name
    notification_email: Email
    currency: Literal["SEK"] | None = None


class AccountOut(Out):
    id: int
    kind: str
    name: str
    currency: str
    notification_email: str
    created_on: date
    updated_at: Changed = None


class AccountList(BaseModel):
    items: list[AccountOut]
    next_after: int | None


class ProfileIn(Strict):
    name: Name


class ProfileOut(Out):
    id: int
    account_id: int
    name: str
    updated_at: Changed = None


class ProfileList(BaseModel):
    items: list[ProfileOut]
    next_after: int | None


class DetailsIn(Strict):
    company_name: Annotated[str, StringConstraints(max_length=200)]
    org_number: Annotated[str, StringConstraints(max_length=40)] = ""
    vat_number: Annotated[str, StringConstraints(max_length=20)] = ""
    street: Annotated[str, StringConstraints(max_length=200)]
    postcode: Annotated[str, StringConstraints(max_length=20)]
    city: Annotated[str, StringConstraints(max_length=100)]
    country: Annotated[str, StringConstraints(min_length=2, max_length=2)] = "SE"
    reference: Annotated[str, StringConstraints(max_length=100)] = ""
    recipients: list[Annotated[str, StringConstraints(max_length=254)]] = Field(default_factory=list, max_length=5)
    invoice_language: Literal["sv", "en"] = "sv"


class DetailsOut(Out):
    account_id: int
    billing_profile_id: int | None
    company_name: str
    org_number: str
    vat_number: str
    street: str
    postcode: str
    city: str
    country: str
    reference: str
    recipients: list[str]
    invoice_language: str
    updated_at: Utc


# -- subscriptions and usage ------------------------------------------------------------
class SubscriptionIn(Strict):
    name: Name
    monthly_fee_minor: Minor = 0
    started_on: Day
    billing_profile_id: Id | None = None


class SubscriptionBatchIn(Strict):
    subscriptions: list[SubscriptionIn] = Field(min_length=1, max_length=1000)


class SubscriptionChangeIn(Strict):
    name: Name | None = None
    monthly_fee_minor: Minor | None = None
    price_from: Day | None = Field(None, description="the first day of a month not billed yet (default: this month)")
    cancel_on: Day | None = Field(None, description="disabled from this day (today or earlier); deleted after "
                                                     "the retention period (R12)")
    cancel_at: Day | None = Field(None, description="a planned end (B21): runs and is billed until the day before "
                                                     "this later day, then cancelled (not disabled); the customer "
                                                     "may undo it until then")


class SubscriptionOut(Out):
    id: int
    account_id: int
    billing_profile_id: int | None
    name: str
    # Every value the portal gives a subscription (the OpenAPI enum), B21's paused too.
    status: SubscriptionStatus
    monthly_fee_minor: int
    started_on: date
    past_due_since: date | None
    disabled_on: date | None
    deleted_on: date | None
    cancel_at: date | None = None  # B21: the first day out of service of a planned cancellation
    outstanding_minor: int
    updated_at: Changed = None


class SubscriptionList(BaseModel):
    items: list[SubscriptionOut]
    next_after: int | None


class UsageIn(Strict):
    period_start: Day
    period_end: Day
    quantity: Annotated[Decimal, Field(gt=0, le=Decimal("1e9"), max_digits=16, decimal_places=6)]
    unit: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]
    unit_price_minor: Minor
    description: Name


class UsageBatchIn(Strict):
    lines: list[UsageIn] = Field(min_length=1, max_length=1000)


class UsageOut(Out):
    id: int
    subscription_id: int
    period_start: date
    period_end: date
    quantity: str
    unit: str
    unit_price_minor: int
    amount_minor: int
    description: str
    created_at: Utc


class UsageList(BaseModel):
    items: list[UsageOut]
    next_after: int | None


# -- billing ----------------------------------------------------------------------------
class IssueIn(Strict):
    period_start: Day
    period_end: Day


class IssueOut(BaseModel):
    invoices_issued: int
    charges_made: int


class InvoiceLineOut(Out):
    subscription_id: int | None
    description: str
    amount_minor: int


class InvoiceOut(Out):
    id: int
    number: str
    billing_profile_id: int
    currency: str
    period_start: date
    period_end: date
    issued_on: date
    due_on: date
    status: str
    subtotal_minor: int
    credits_applied_minor: int
    paid_minor: int
    paid_on: date | None
    updated_at: Changed = None
    lines: list[InvoiceLineOut] = []
    documents: dict[str, str] = {}


class InvoiceList(BaseModel):
    items: list[InvoiceOut]
    next_after: int | None


class PaymentOut(Out):
    id: int
    account_id: int
    billing_profile_id: int | None
    purpose: str
    amount_minor: int
    currency: str
    created_at: Utc
    receipt: str = ""


class PaymentList(BaseModel):
    items: list[PaymentOut]
    next_after: int | None


class TransferOut(Out):
    id: int
    reason: str
    reference: str
    amount_minor: int
    currency: str
    payer_name: str
    paid_on: date
    invoice_id: int | None
    created_at: Utc


class TransferList(BaseModel):
    items: list[TransferOut]
    next_after: int | None


class CreditOut(BaseModel):
    account_id: int
    billing_profile_id: int | None
    amount_minor: AnyMinor
    currency: str


class CreditQuery(Strict):
    billing_profile_id: Id | None = None


# -- events -----------------------------------------------------------------------------
class EndpointIn(Strict):
    url: Annotated[str, StringConstraints(max_length=2000, pattern=r"^https?://[^\s/]+(/\S*)?$")]
    secret: Annotated[str, StringConstraints(pattern=r"^whsec_[A-Za-z0-9+/]{16,88}={0,2}$")] | None = None


class EndpointOut(Out):
    id: int
    url: str
    created_at: Utc
    disabled_at: Utc | None


class EndpointCreated(EndpointOut):
    secret: str


class EndpointList(BaseModel):
    items: list[EndpointOut]
    next_after: int | None


class EventOut(Out):
    id: int
    type: str
    data: dict
    created_at: Utc


class EventList(BaseModel):
    items: list[EventOut]
    next_after: int | None


class DeliveryOut(Out):
    id: int
    event_id: int
    endpoint_id: int
    status: str
    attempts: int
    next_attempt_at: Utc | None
    sent_at: Utc | None
    last_status_code: int | None
    last_error: str | None
    updated_at: Changed = None


class DeliveryList(BaseModel):
    items: list[DeliveryOut]
    next_after: int | None


class ReplayIn(Strict):
    endpoint_id: Id | None = None


# -- people: invitations and roles (the Access page's rules, portal/billing/accounts/people.py)
class InvitationIn(Strict):
    email: Email
    role: Literal["account_admin", "account_user", "owner", "contributor", "invoice_manager", "reader"] = Field(
        description="pay-as-you-go: account_admin, account_user; customer agreement: owner, contributor, "
                    "invoice_manager, reader")
    billing_profile_id: Id | None = Field(None, description="a customer agreement's billing profile; "
                                                             "none: the whole account")
    locale: Literal["sv", "en"] = Field("sv", description="the language of the invitation's email")


class InvitationOut(Out):
    id: int
    account_id: int
    billing_profile_id: int | None
    email: str
    role: str
    locale: str
    created_at: Utc
    expires_at: Utc
    closed_at: Utc | None = Field(description="accepted or withdrawn at")
    accepted_by_user_id: int | None
    updated_at: Changed = None


class InvitationList(BaseModel):
    items: list[InvitationOut]
    next_after: int | None


class PersonOut(Out):
    id: int
    email: str
    name: str


class RoleOut(Out):
    id: int
    account_id: int
    billing_profile_id: int | None
    role: str
    user: PersonOut
    granted_at: Utc | None
    granted_by_user_id: int | None = Field(description="none: the provider (or before this was kept)")
    updated_at: Changed = None


class RoleList(BaseModel):
    items: list[RoleOut]
    next_after: int | None

"""The columns' own types: money as 64-bit minor units (M1) and the enumerations,
stored by value."""
from __future__ import annotations

import enum

from sqlalchemy import BigInteger, Enum, TypeDecorator



class MinorUnits(TypeDecorator):
    """A money column: integer minor units, 64-bit (issue 27), since a 32-bit column ends
    at 21 474 836,47 kr. What comes in is bounded by money.MAX_MINOR. PostgreSQL sums a
    bigint as numeric, which arrives as a Decimal; any sum or coalesce of these columns
    is read back as an int, as Money wants."""
    impl = BigInteger
    cache_ok = True

    def process_result_value(self, value, dialect):
        return None if value is None else int(value)


def _enum(cls: type[enum.Enum]) -> Enum:
    # Store the value (readable in SQL, stable across renames of the Python name).
    return Enum(cls, values_callable=lambda e: [m.value for m in e], native_enum=False,
                length=32, validate_strings=True)


class AccountKind(enum.StrEnum):
    PAY_AS_YOU_GO = "pay_as_you_go"
    CUSTOMER_AGREEMENT = "customer_agreement"


class Role(enum.StrEnum):
    # Pay-as-you-go account
    ACCOUNT_ADMIN = "account_admin"
    ACCOUNT_USER = "account_user"  # sees the account, may not settle (R02)
    # Customer agreement, per billing profile
    OWNER = "owner"
    CONTRIBUTOR = "contributor"
    INVOICE_MANAGER = "invoice_manager"
    READER = "reader"


class SubscriptionStatus(enum.StrEnum):
    ACTIVE = "active"
    PAST_DUE = "past_due"
    DISABLED = "disabled"
    DELETED = "deleted"
    # Issue 33: ended by the customer's (or provider's) cancellation on its cancel_at
    # day — not for non-payment, unlike disabled; nothing is billed from that day.
    CANCELLED = "cancelled"
    # B21: paused by the customer where the provider allows it — services stopped
    # without R12's countdown (nothing was owed when it paused); not billed from its
    # paused_on until resumed (PausedSpan), then active again.
    PAUSED = "paused"


class MethodKind(enum.StrEnum):
    CARD = "card"
    CHECK_WIRE = "check_wire"
    AUTOGIRO = "autogiro"      # issue 34: Bankgirot's direct debit, from a mandate (AutogiroMandate)


class ChargeStatus(enum.StrEnum):
    OUTSTANDING = "outstanding"
    PAID = "paid"


class InvoiceStatus(enum.StrEnum):
    DUE = "due"
    PAST_DUE = "past_due"
    PAID = "paid"


class PaymentPurpose(enum.StrEnum):
    SETTLE = "settle"          # pay-as-you-go: settle a past-due balance
    INVOICE = "invoice"        # customer agreement: Pay now
    AUTO_CHARGE = "auto_charge"  # billing cycle: card charged automatically
    TRANSFER = "transfer"      # money that arrived by bank (Bankgirot's BgMax file, B11)
    AUTOGIRO = "autogiro"      # drawn by Autogiro on the due date (issue 34, B23)


class OutboxStatus(enum.StrEnum):
    PENDING = "pending"    # waiting for `flask mail send` (again, after next_attempt_at)
    SENDING = "sending"    # claimed by one sender; handed to the mail server, not yet marked
    SENT = "sent"
    FAILED = "failed"      # given up: refused, malformed, out of attempts, or outcome unknown


class AttemptState(enum.StrEnum):
    PENDING = "pending"      # written ahead, committed before the gateway is called
    IN_DOUBT = "in_doubt"    # the gateway did not answer: it may have charged
    AWAITING_ACTION = "awaiting_action"  # B13: the bank wants the cardholder to authenticate first


class CreditKind(enum.StrEnum):
    SURPLUS = "surplus"    # money received for what was already paid, or more than owed (+)
    APPLIED = "applied"    # used to pay a charge or an invoice (−)
    REFUNDED = "refunded"  # paid back to the customer by a person (−)


class MandateStatus(enum.StrEnum):
    """B23: an Autogiro mandate (medgivande) as Bankgirot knows it."""
    PENDING = "pending"        # given by the customer; not yet confirmed by Bankgirot
    ACTIVE = "active"          # Bankgirot approved it: invoices are drawn on their due date
    REJECTED = "rejected"      # Bankgirot (or the payer's bank) refused it: `reason` says why
    CANCELLED = "cancelled"    # by the customer, the payer's bank or Bankgirot


class DrawStatus(enum.StrEnum):
    """An Autogiro payment order for one invoice on one day."""
    WAITING = "waiting"        # to go in the next export file
    SENT = "sent"              # in an export file; Bankgirot's answer not yet imported
    DRAWN = "drawn"            # the money was taken: a payment recorded it
    NOT_DRAWN = "not_drawn"    # not taken (`reason`): the invoice is past due
    WITHDRAWN = "withdrawn"    # never sent: the invoice was paid otherwise, or the mandate ended

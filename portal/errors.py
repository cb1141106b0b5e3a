"""Typed domain errors, raised by the service layer (portal/billing/) and by Money.
They stand below both (this module imports nothing of the portal), so models and
money never reach up into billing. Views translate each one to a message and a status
code in one place (portal/web/errors.py); the service layer never formats user text."""
from __future__ import annotations


class BillingError(Exception):
    """Base of every error the service layer raises on purpose."""


class NotFound(BillingError):
    """An id that does not exist, or that the user may not know exists (no IDOR leak)."""


class CardRemoved(NotFound):
    """A card of this account that has been removed (in another tab, by another person):
    never charged or chosen again. A NotFound where nobody says otherwise."""


class NotAuthorized(BillingError):
    """The user's role does not allow the action. `reason` is a machine code:
    'not_account_admin', 'reader_cannot_pay', 'not_a_member', 'wrong_account_kind'."""

    def __init__(self, reason: str, *, account_id: int | None = None, action: str | None = None,
                 profile_id: int | None = None):
        super().__init__(reason)
        self.reason = reason
        # What was refused where, for the audit log (written by the service layer).
        self.account_id = account_id
        self.action = action
        self.profile_id = profile_id
        self.audited = False


class InvalidAmount(BillingError):
    """Amounts must be positive integers of minor units."""


class InvalidPart(BillingError):
    """B12: a part of an invoice payment must be at least the minimum and less than
    the whole (the whole is paid without a part)."""

    def __init__(self, minimum_minor: int, total_minor: int):
        super().__init__(f"a part must be {minimum_minor} or more and less than {total_minor}")
        self.minimum_minor = minimum_minor
        self.total_minor = total_minor


class AuthenticationRequired(BillingError):
    """B13: the bank wants the cardholder to authenticate this payment first (3-D
    Secure). Nothing is charged yet; the attempt waits under its key for their return."""

    def __init__(self, account_id: int, key: str, challenge: str):
        super().__init__(key)
        self.account_id = account_id
        self.key = key
        self.challenge = challenge


class PaymentAwaitsAuthentication(AuthenticationRequired):
    """B13: another payment of the account waits for its cardholder to authenticate:
    it is finished (or expires, charging nothing) before anything else is charged."""


class PaymentInProgress(BillingError):
    """Another payment of the account is at the payment service right now (another tab,
    person or instance): nothing was changed or charged by this request. Finished in a
    moment; what it pays must not change meanwhile (issue 27)."""

    def __init__(self, account_id: int):
        super().__init__(account_id)
        self.account_id = account_id


class CurrencyMismatch(BillingError):
    def __init__(self, expected: str, got: str):
        super().__init__(f"{expected} != {got}")
        self.expected = expected
        self.got = got


class NothingToPay(BillingError):
    """Nothing is outstanding (anymore): the balance is already settled."""


class AlreadyPaid(BillingError):
    """The idempotency key was used by a payment that went through."""

    def __init__(self, payment_id: int):
        super().__init__(payment_id)
        self.payment_id = payment_id


class BalanceChanged(BillingError):
    """The total the customer saw is not the total now outstanding (stale page)."""

    def __init__(self, expected_minor: int, current_minor: int):
        super().__init__(f"expected {expected_minor}, now {current_minor}")
        self.expected_minor = expected_minor
        self.current_minor = current_minor


class InvalidCard(BillingError):
    """Card details rejected before the gateway is called.
    `reason`: 'number' (Luhn or length), 'expired', 'expiry', 'cvc', 'holder'."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class CardDeclined(BillingError):
    """The gateway declined the charge (R10). `reason` is a decline code of
    portal.billing.gateway.DeclineCode. `attempt_id`: the decline's record (its audit
    event) for a payment a person made, so its page can be shown again by address."""

    def __init__(self, reason: str, attempt_id: int | None = None):
        super().__init__(reason)
        self.reason = reason
        self.attempt_id = attempt_id


class GatewayUnavailable(BillingError):
    """The gateway could not be reached or did not answer; nothing was recorded as
    paid. `maybe_charged`: the request reached the gateway and may have been charged
    (timeout, connection lost) — the attempt is kept as unconfirmed and settled with
    the gateway, under the same key, before anything else is charged."""

    def __init__(self, maybe_charged: bool = False):
        super().__init__("maybe charged" if maybe_charged else "not charged")
        self.maybe_charged = maybe_charged


class NotEligible(BillingError):
    """Check/wire transfer needs approval first (R15)."""


class MethodInUse(BillingError):
    """A payment method something still uses cannot be removed (B8): the billing
    profiles whose default it is, how many subscriptions it pays for, and whether a
    payment with it is not finished yet."""

    def __init__(self, default_for: list[str], subscriptions: int, unconfirmed: bool):
        super().__init__(default_for, subscriptions, unconfirmed)
        self.default_for = default_for
        self.subscriptions = subscriptions
        self.unconfirmed = unconfirmed


class InvalidState(BillingError):
    """The object is in a state that does not allow the action (e.g. deleted)."""


class InvalidInput(BillingError):
    """A value the user typed is not acceptable; `field` names it."""

    def __init__(self, field: str):
        super().__init__(field)
        self.field = field


class InvitationInvalid(BillingError):
    """Issue 31: an invitation's link that cannot be used: 'unknown', 'used' (accepted
    or withdrawn, or sent again with a new link), 'expired', 'sign_in_first' (the
    address is a person's already: they accept signed in), 'other_person' (signed in
    as someone else)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class InvalidDetails(BillingError):
    """Several values the user typed are not acceptable: field → reason code."""

    def __init__(self, problems: dict[str, str]):
        super().__init__(problems)
        self.problems = problems


class PaymentFormReused(BillingError):
    """The one-time key of a payment form was already used for a different card or
    amount (e.g. a declined card, then the same form resubmitted with another).
    Nothing more was charged; the customer gets a fresh form."""


class Refused(BillingError):
    """The provider's API refuses a request for a reason it names with a stable code
    (issue 32): e.g. 'idempotency_key_reused', 'period_billed', 'wrong_account_kind'.
    The API answers it as an RFC 9457 problem whose `type` ends in the code."""

    def __init__(self, code: str, detail: str = "", status: int = 422):
        super().__init__(code)
        self.code, self.detail, self.status = code, detail, status

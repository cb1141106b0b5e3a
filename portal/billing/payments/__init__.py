"""Moving money by card (M2, M3, M5, M6), one module per concern:

    sandbox     the `PaymentGateway` that stands in for a card processor (dev and tests)
    cards       the card a payment is made with (saved, or new and tokenised)
    attempts    the attempt written ahead with its allocation, and its states
    ledger      recording money that moved: exactly the allocation; the rest credit (B15)
    engine      every payment's three steps (`pay`), and finishing an attempt left behind
    settle      settle a past-due balance (pay-as-you-go)
    invoices    pay invoices, whole or in part (customer agreement)
    retry       the billing cycle's retry of a failed automatic charge (B14)
    reconcile   "check the payment", back from the bank, and `reconcile`
    methods     payment methods (B8, R15): add, remove, default, move, expiry reminders

Arrows run down that list (a module imports only those above it); the three kinds of
payment register themselves in `engine.FLOWS`. Other modules import from here.
The gateway interface itself (`portal/billing/gateway.py`) stays at the top of billing/,
because the context every service is given holds a gateway.

May import: billing's shared modules, accounts/ and invoicing/ — never bank/ or cycle/
(tests/test_architecture.py)."""
from __future__ import annotations

from portal.billing.payments.attempts import refuse_while_paying
from portal.billing.payments.cards import (MethodChoice, UseNewCard, UseSavedCard, UseTokenizedCard, cards_of,
                                           method_summary, prepare_new_card, save_card, saved_card)
from portal.billing.payments.engine import CheckResult
from portal.billing.payments.invoices import (MINIMUM_PART_MINOR, can_pay_part, invoices_to_pay, part_to_pay,
                                              pay_invoices, payable_profile, quote_invoices)
from portal.billing.payments.ledger import (apply_to_invoices, mark_invoices_paid, pay_charges,
                                            record_payment)
from portal.billing.payments.reconcile import (AUTO_CHARGE_KEYS, DeclinedAttempt, Reconciliation, WaitingAttempt,
                                               awaiting_purpose, check_unconfirmed, declined_attempt,
                                               finish_authenticated, reconcile)
from portal.billing.payments.retry import retry_subscription
from portal.billing.payments.settle import (last_payment_of, preview_settlement, quote_settlement,
                                            settle_balance, settleable_subscription)

__all__ = [
    "AUTO_CHARGE_KEYS", "CheckResult", "DeclinedAttempt", "MINIMUM_PART_MINOR", "MethodChoice", "Reconciliation",
    "UseNewCard", "UseSavedCard", "UseTokenizedCard", "WaitingAttempt", "apply_to_invoices", "awaiting_purpose",
    "can_pay_part", "cards_of", "check_unconfirmed", "declined_attempt", "finish_authenticated",
    "invoices_to_pay", "last_payment_of", "mark_invoices_paid", "method_summary", "part_to_pay", "pay_charges",
    "pay_invoices", "payable_profile", "prepare_new_card", "quote_invoices", "quote_settlement", "reconcile",
    "record_payment", "refuse_while_paying", "retry_subscription", "save_card", "saved_card", "settle_balance",
    "settleable_subscription", "preview_settlement",
]

"""The data model (SQLAlchemy 2 typed mappings). Money columns are integer minor
units beside an ISO 4217 currency (M1), 64-bit (MinorUnits); the billing rules live in
portal/billing/.

One module per domain; every model, enumeration and constant is imported here, so
`from portal.models import X` is the one way to name them (alembic's env.py and the
schema made without migrations rely on every table being registered by this import):

    columns        money as minor units, the enumerations
    accounts       users, billing accounts and profiles, billing details, roles, invitations,
                   recovery codes, sign-in links
    subscriptions  subscriptions, charges, kept figures, disabled spans, billed periods, spending alerts
    invoices       invoices, lines, credits, the number series, stored documents, payment requests (B22)
    payments       payment methods, payments, attempts and allocations, transfers, credit
    messages       outbox, notices, support requests, the audit log
    autogiro       Autogiro mandates and payment orders (issue 34)
    provider       API tokens, idempotent answers, usage lines, webhook events and deliveries
"""
from portal.extensions import db  # the models' metadata: `models.db.metadata`
from portal.models.columns import (AccountKind, AttemptState, ChargeStatus, CreditKind, DrawStatus, InvoiceStatus,
    MandateStatus, MethodKind, MinorUnits, OutboxStatus, PaymentPurpose, Role, SubscriptionStatus, _enum)
from portal.models.accounts import (BillingAccount, BillingDetails, BillingProfile, Invitation,
    RateLimitCounter, RecoveryCode, RoleAssignment, SignInToken, User)
from portal.models.payments import (AttemptAllocation, CreditEntry, Payment, PaymentMethod, TransferToReview,
    UnconfirmedPayment)
from portal.models.subscriptions import (BilledPeriod, Charge, DisableWarning, DisabledSpan, OUTSTANDING_SQL,
    PausedSpan, PaymentSubscription, STATUS_RANK_SQL, SpendingAlert, Subscription, SubscriptionFigure, status_ranks)
from portal.models.invoices import (Credit, CreditApplication, FIRST_INVOICE_NUMBER, INVOICE_SERIES, Invoice,
    InvoiceLine, InvoiceNumberSeries, InvoicePayment, PaymentRequest, PaymentRequestInvoice, StoredDocument)
from portal.models.messages import (AuditEvent, Notice, OutboxMessage, SupportRequest)
from portal.models.autogiro import AutogiroMandate, AutogiroOrder
from portal.models.provider import (ApiToken, IdempotentRequest, UsageLine, WebhookDelivery, WebhookEndpoint,
    WebhookEvent)

__all__ = ["db", "AccountKind", "AttemptState", "ChargeStatus", "CreditKind", "InvoiceStatus", "MethodKind",
           "MinorUnits", "OutboxStatus", "PaymentPurpose", "Role", "SubscriptionStatus", "_enum",
           "BillingAccount", "BillingDetails", "BillingProfile", "Invitation", "RateLimitCounter", "RecoveryCode",
           "RoleAssignment", "SignInToken", "User",
           "AttemptAllocation", "CreditEntry", "Payment", "PaymentMethod", "TransferToReview",
           "UnconfirmedPayment", "BilledPeriod", "Charge", "DisableWarning", "DisabledSpan",
           "OUTSTANDING_SQL", "PausedSpan", "PaymentSubscription", "STATUS_RANK_SQL", "SpendingAlert", "Subscription", "SubscriptionFigure", "status_ranks",
           "Credit", "CreditApplication", "FIRST_INVOICE_NUMBER", "INVOICE_SERIES", "Invoice", "InvoiceLine",
           "InvoiceNumberSeries", "InvoicePayment", "PaymentRequest", "PaymentRequestInvoice", "StoredDocument", "AuditEvent", "Notice", "OutboxMessage",
           "SupportRequest", "ApiToken", "IdempotentRequest", "UsageLine", "WebhookDelivery", "WebhookEndpoint",
           "WebhookEvent", "AutogiroMandate", "AutogiroOrder", "DrawStatus", "MandateStatus"]

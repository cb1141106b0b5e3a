"""Every word the pages and the emails show for a code of the service layer: web/ and
mail/ both stand on it, so a status or a decline reason reads the same in a page, a
notice and an email. One module per kind of word:

    statuses        what each status, kind, role and payment purpose is called
    refusals        why an action, a password, an invitation or a billing detail is refused
    payments        decline reasons and what to check with the bank, a method's name
    notices         the in-portal notices and the banner's level
    audit           the audit log's sentences, one per action
    statement       the account statement's lines and ageing
    subscriptions   a subscription's own page: its refusals and audit sentences

Callers import from here (`from portal.wording import REFUSAL`, `wording.audit_text`)."""
from portal.wording.audit import REFUSED_ACTION, audit_actor, audit_text
from portal.wording.notices import BANNER_LEVEL, notice_text
from portal.wording.payments import (AUTOGIRO_REASON, CARD_BRAND, DECLINE_CHECKS, DECLINE_NEXT, DECLINE_REASON,
                                     FAILURE_REASON, card_name, method_from_summary, method_in_sentence)
from portal.wording.refusals import DETAILS_ERROR, INVITATION_INVALID, PASSWORD_PROBLEM, REFUSAL, TOO_LONG
from portal.wording.statement import AGEING, STATEMENT
from portal.wording.statuses import (ACCOUNT_KIND, INVOICE_STATUS, MANDATE_STATUS, PAYMENT_PURPOSE, ROLE,
                                     SUBSCRIPTION_STATUS, translated)
from portal.wording.subscriptions import SUBSCRIPTION_ACTIONS, SUBSCRIPTION_REFUSAL, subscription_audit_text

__all__ = [
    "ACCOUNT_KIND", "AGEING", "AUTOGIRO_REASON", "BANNER_LEVEL", "CARD_BRAND", "DECLINE_CHECKS", "DECLINE_NEXT",
    "DECLINE_REASON", "DETAILS_ERROR", "FAILURE_REASON", "INVITATION_INVALID", "INVOICE_STATUS", "MANDATE_STATUS",
    "PASSWORD_PROBLEM", "PAYMENT_PURPOSE", "REFUSAL", "REFUSED_ACTION", "ROLE", "STATEMENT", "SUBSCRIPTION_ACTIONS",
    "SUBSCRIPTION_REFUSAL", "SUBSCRIPTION_STATUS", "TOO_LONG", "audit_actor", "audit_text", "card_name",
    "method_from_summary", "method_in_sentence", "notice_text", "subscription_audit_text", "translated",
]

"""The account statement (issue 30): its lines, columns and ageing."""
from __future__ import annotations

from flask_babel import lazy_pgettext

# The account statement (issue 30): its lines, columns and ageing, on the page, in the
# PDF and in the CSV alike — one message each, with the context "statement".
STATEMENT = {
    # Translators: the statement's lines and columns (kontoutdrag): sv "Ingående saldo".
    "opening": lazy_pgettext("statement", "Opening balance"),
    # Translators: sv "Utgående saldo".
    "closing": lazy_pgettext("statement", "Closing balance"),
    "invoice": lazy_pgettext("statement", "Invoice"),
    # Translators: a pay-as-you-go subscription's charge for a month (sv "Debitering").
    "charge": lazy_pgettext("statement", "Charge"),
    "payment": lazy_pgettext("statement", "Payment"),
    # Translators: credit balance (tillgodohavande) paid back to the customer.
    "refund": lazy_pgettext("statement", "Refund of credit"),
    "date": lazy_pgettext("statement", "Date"),
    "kind": lazy_pgettext("statement", "Type"),
    # Translators: a statement line's reference: an invoice number, a subscription, a payment's number.
    "reference": lazy_pgettext("statement", "Reference"),
    "due_on": lazy_pgettext("statement", "Due date"),
    "amount": lazy_pgettext("statement", "Amount"),
    "balance": lazy_pgettext("statement", "Balance"),
    "currency": lazy_pgettext("statement", "Currency"),
    "left": lazy_pgettext("statement", "Left to pay"),
    "days": lazy_pgettext("statement", "Days past due"),
    # Translators: invoiced (customer agreement) in the period, as a statement's total.
    "invoiced": lazy_pgettext("statement", "Invoiced"),
    # Translators: charged (pay-as-you-go) in the period, as a statement's total.
    "charged": lazy_pgettext("statement", "Charged"),
    "received": lazy_pgettext("statement", "Payments received"),
    "refunded": lazy_pgettext("statement", "Credit refunded"),
}

AGEING = {
    # Translators: the ageing of open items (åldersanalys): not yet past the due date.
    "not_due": lazy_pgettext("ageing", "Not yet due"),
    # Translators: days past the due date, a column of the ageing table.
    "0_30": lazy_pgettext("ageing", "0–30 days"),
    "31_60": lazy_pgettext("ageing", "31–60 days"),
    "61_90": lazy_pgettext("ageing", "61–90 days"),
    "over_90": lazy_pgettext("ageing", "More than 90 days"),
}

"""Issue 35 (deliver 3): one English word, two meanings, needs a context. The Swedish
review found "To" shared by the payments period filter ("Till och med") and the invoice
parties ("Till"); it now has msgctxt "period filter". Short messages (labels, headers,
buttons) are where this hides, so every short message used in more than one file is
listed here with the one meaning it has everywhere; a new one fails until someone
decides: the same meaning (add it here) or a context (pgettext)."""
from __future__ import annotations

from portal import catalogs
from portal.catalogs import TRANSLATIONS

# msgid -> the one meaning it has in every file that uses it (reviewed for issue 35).
KNOWN_SHARED = {
    # B22: one OCR reference for several invoices.
    "What it pays": "a link to a payment request's page: the invoices its OCR reference pays",
    "Total to pay": "the sum a payment pays (Pay now's summary, a payment request's table)",
    # B21: a subscription's page, its confirmations and emails.
    "Data deleted on": "the day a disabled subscription's data is (or was) deleted (R12)",
    "Last day": "the last day a cancelled subscription runs and is billed",
    "Outstanding": "what a subscription owes (a column, a fact)",
    "Undo cancellation": "the action of keeping a subscription cancelled at period end (link, button)",
    # B24: a subscription's plan (its page, the plan page, the email).
    "Plan": "the provider's plan a subscription is on (a fact)",
    "Monthly price": "a subscription's price for a calendar month (a fact)",
    "Change plan": "the action of moving a subscription to another plan (link, button)",
    # B21: pause and resume, on the subscription's page and its confirmation.
    "Pause subscription": "the action of pausing a subscription (link, button)",
    "Resume subscription": "the action of resuming a paused subscription (link, button)",
    # Issue 31: sign-in security.
    "Password": "the sign-in password (form label, heading)",
    "Reset your password": "the action of choosing a new password (page, email, link)",
    "Sign in": "the action of signing in (page title, button)",
    "Forgot your password?": "the link to reset a password",
    "Date": "the day a payment was made (column header, CSV)",
    "Payment ID": "the payment's number a customer quotes",
    "Paid for": "what a payment paid (column header: Avser)",
    "Amount": "a payment's or invoice's amount (column/label)",
    "Payment method": "the card or check/wire transfer used or chosen",
    "Invoices": "the invoices (navigation, page title, CSV column)",
    "Invoice number": "the invoice's number",
    "Billing profile": "the billing profile an invoice belongs to",
    "Invoice date": "the day the invoice was issued",
    "Due date": "the invoice's due date",
    "Credits applied": "credits taken off the invoice",
    "Amount due": "what is left to pay on an invoice",
    "Status": "an invoice's or subscription's status (filter label and column)",
    "Subject": "a support request's subject",
    "Company name": "the buyer's company name",
    "Organisation number": "a company's organisationsnummer",
    "Invoice language": "the language invoices are issued in",
    "Default payment method": "the billing profile's default payment method",
    "Subscription": "a subscription (column header)",
    "Costs": "the Costs page of an account (navigation, page title): Kostnader",
    "Total outstanding amount": "what the account owes in all",
    "Invoice": "an invoice (column header)",
    "Amount paid": "what a payment paid",
    "Invoices paid": "the invoices a payment paid (its receipt's table caption, page and PDF)",
    "Payment received": "a payment has been received (heading)",
    "Expires": "a card's expiry (column header: Giltig till)",
    "Manage payment methods": "a link to the Payment methods page",
    "Name on card": "the cardholder's name printed on a card (field label, email fact)",
    "Check/wire transfer": "the payment method",
    "Settle balance": "the action (SPEC: Reglera saldo)",
    "Save": "save a form (button)",
    "VAT registration number": "a company's VAT number",
    "Your reference": "the buyer's reference on an invoice (Er referens)",
    "Error:": "prefix of an error message",
    "My settings": "the page",
    "Overview": "the page",
    "Payments": "the page",
    "Payment methods": "the page",
    "Billing details": "the page",
    "Audit log": "the page",
    "Accessibility statement": "the page",
    # Issue 31 (people and access).
    "Accept the invitation": "the action: accept an invitation to a role (link and button)",
    "Email address": "a person's email address (label, column header)",
    "Role": "a person's role on a billing account or profile",
    "Enter your name": "the person's own name is missing (form error)",
    "Person": "a person with a role (label, column header)",
    "Expired": "no longer valid: a card, an invitation's link (status)",
    "What was paid": "heading of a receipt's list",
    "Charges paid": "heading of a receipt's list",
    "Period": "the period an invoice or charge is for",
    "Description": "an invoice or receipt line's description",
    "Amount incl. VAT": "a line's amount with VAT",
    "Amount excl. VAT": "a line's amount without VAT (reverse charge: no Swedish VAT)",
    "Remittance details": "how to pay by transfer (Betalningsinformation)",
    "Bankgiro": "the bankgiro number",
    "IBAN": "the IBAN",
    "BIC": "the BIC",
    "OCR reference": "the OCR number",
    "Download invoice (PDF)": "the link",
    "Pay now": "the action (SPEC: Betala nu)",
    "Actions": "the heading of a table's actions column",
    "Pages of subscriptions": "the pager's name",
    "What happens next": "heading",
    "Back": "a link back to the previous page of a flow",
    "Try again": "try the payment again",
    "Check the payment": "ask the payment service what happened",
    "From": "the seller's block on an invoice or receipt (the period filter has msgctxt)",
    "To": "the buyer's block on an invoice or receipt (the period filter has msgctxt)",
    "For example 2026-11-01": "the hint under a date field",
    "Account statement": "the page (SPEC: kontoutdrag), its title and the links to it",
    "Credit balance": "the account's credit (SPEC: tillgodohavande)",
    # Issue 33 item 4: the credit history's columns, on its page and in the statement.
    "Entry": "one movement of the credit balance (column header: Händelse)",
    "From payment": "the payment whose money a credit entry moved (column header)",
    # Issue 33 item 2: a row's button that removes what the row shows (a card, a spending alert).
    "Remove": "the button that removes the row's item; what it removes is said to screen readers beside it",
}


def shared_short_messages() -> dict[str, set[str]]:
    """Messages of at most three words, no placeholders and no context, used in more
    than one file: {msgid: files}."""
    shared = {}
    for message in catalogs._read(TRANSLATIONS / "messages.pot"):
        if not message.id or message.context or isinstance(message.id, tuple):
            continue
        files = {file for file, _ in message.locations}
        if len(files) > 1 and len(message.id.split()) <= 3 and "%(" not in message.id:
            shared[message.id] = files
    return shared


def test_i35_no_new_short_message_is_shared_without_a_decision():
    unknown = {msgid: sorted(files) for msgid, files in shared_short_messages().items()
               if msgid not in KNOWN_SHARED}
    assert not unknown, ("one meaning everywhere? add it to KNOWN_SHARED with that meaning; "
                         f"two meanings? give one a context (pgettext): {unknown}")


def test_i35_the_list_has_nothing_that_is_no_longer_shared():
    gone = set(KNOWN_SHARED) - set(shared_short_messages()) - {"From", "To"}
    assert not gone, f"no longer shared, remove from KNOWN_SHARED: {sorted(gone)}"


def test_i35_sv41_the_period_filter_has_its_own_from_and_to():
    template = {(m.context, m.id): m for m in catalogs._read(TRANSLATIONS / "messages.pot") if m.id}
    for word in ("From", "To"):
        assert {f for f, _ in template[("period filter", word)].locations} == {"portal/forms.py"}
        assert "portal/forms.py" not in {f for f, _ in template[(None, word)].locations}

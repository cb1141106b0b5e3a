"""B15 (issue 33 item 4) through HTTP, in Swedish and English: money a bank file brings
for more than was owed, or for an invoice already paid, becomes credit; Overview and
Payments link its history (only once there is or was credit); the history says where
each amount came from (the payment, linking its receipt) and what it paid (the
invoice, linking it; a charge, by subscription and period), newest first with the
balance after each, and that credit does not expire; the statement lists the period's
credit movements. Readers see it as they see Payments; another account's person gets 404."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from portal.billing.accounts import credit
from portal.billing.bank import transfers
from portal.billing.invoicing.remittance import ocr_reference
from portal.models import BillingAccount, CreditEntry, Invoice, Payment, Subscription
from tests import factories as f
from tests.bgmax_files import OUR_BANKGIRO, Paid, bgmax_file
from tests.web.conftest import sign_in_as
from tests.web.test_invoice_documents import text_of

WORDS = {
    "sv": {"link": "Historik för tillgodohavandet: var det kom ifrån och vad det har betalat",
           "title": "Historik för tillgodohavandet", "over": "Tillkommet: betalningen var större än skulden",
           "already": "Tillkommet: det betalningen gällde var redan betalt", "expire": "Tillgodohavandet förfaller inte",
           "balance": "Tillgodohavande 2 500,00 kr", "payment": "Betalning", "charge": "Använt till debiteringen för",
           "movements": "Tillgodohavandets händelser under perioden"},
    "en": {"link": "Credit history: where it came from and what it paid", "title": "Credit history",
           "over": "Added: the payment was more than was owed",
           "already": "Added: what the payment was for had already been paid", "expire": "Credit does not expire",
           "balance": "Credit balance SEK 2,500.00", "payment": "Payment", "charge": "Used for the charge of",
           "movements": "Credit movements in the period"},
}


def text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace("\xa0", " ").replace("\u202f", " ")


def _bank_credit(app, b, demo) -> list[int]:
    """The bank file: the past-due invoice paid with 500 kr over, the paid one paid again
    (2,000 kr). The payments whose money became credit."""
    past_due, paid = b.session.get(Invoice, demo.past_due), b.session.get(Invoice, demo.paid)
    content = bgmax_file([[Paid(ocr_reference(past_due.number), past_due.left.minor + 500_00),
                           Paid(ocr_reference(paid.number), 2_000_00)]])
    with app.app_context():
        assert transfers.import_bgmax(b, lambda: content.splitlines(keepends=True), OUR_BANKGIRO).recorded == 2
    b.session.rollback()
    return sorted(b.session.scalars(select(CreditEntry.payment_id).where(CreditEntry.account_id == demo.agreement)))


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_b15_credit_history_from_overview_and_payments(app, browser, demo, b, lang):
    words = WORDS[lang]
    sign_in_as(browser, "olivia@example.com", lang)
    overview = browser.get(f"/{lang}/accounts/{demo.agreement}/").get_data(as_text=True)
    assert words["link"] not in overview  # never any credit: no history to link
    payment_ids = _bank_credit(app, b, demo)
    credit_url = f"/{lang}/accounts/{demo.agreement}/credit"
    for page in (f"/{lang}/accounts/{demo.agreement}/", f"/{lang}/accounts/{demo.agreement}/payments"):
        html = browser.get(page).get_data(as_text=True)
        assert f'href="{credit_url}"' in html and words["link"] in html, page
    response = browser.get(credit_url)
    assert response.status_code == 200
    html, shown = response.get_data(as_text=True), text(response.get_data(as_text=True))
    assert f"<title>{words['title']} – Fjällström Logistik AB" in html
    assert words["balance"] in shown and words["expire"] in shown
    assert words["over"] in shown and words["already"] in shown
    for payment_id in payment_ids:  # each entry links the receipt of the payment it came from
        assert f'href="/{lang}/accounts/{demo.agreement}/payments/{payment_id}"' in html
        assert browser.get(f"/{lang}/accounts/{demo.agreement}/payments/{payment_id}").status_code == 200
    # The statement of the month lists them too.
    statement = text(browser.get(f"/{lang}/accounts/{demo.agreement}/statement?profile={demo.profile}"
                                 ).get_data(as_text=True))
    assert words["movements"] in statement and words["over"] in statement
    pdf = browser.get(f"/{lang}/accounts/{demo.agreement}/statement.pdf?profile={demo.profile}")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert words["over"] in text_of(pdf.data)


def test_b15_credit_applied_to_an_invoice_links_it_and_readers_see_it(app, browser, demo, b):
    _bank_credit(app, b, demo)
    due = b.session.get(Invoice, demo.due)
    b.session.rollback()
    with app.app_context():
        credit.apply_to_invoice(b, due, demo.agreement)
        b.session.commit()
    sign_in_as(browser, "rasmus@example.com", "sv")  # a reader: sees Payments, so the credit
    html = browser.get(f"/sv/accounts/{demo.agreement}/credit").get_data(as_text=True)
    number = b.session.get(Invoice, demo.due).number
    assert f'<a href="/sv/accounts/{demo.agreement}/invoices/{demo.due}">Använt till faktura {number}</a>' in html
    # Newest first: the invoice's entry before the surplus it used; the balance after each.
    shown = text(html)
    assert shown.index(f"Använt till faktura {number}") < shown.index("Tillkommet")


def test_b15_pay_as_you_go_credit_paid_a_charge(app, browser, demo, b):
    account = b.session.get(BillingAccount, demo.payg)
    wire = f.wire(b, account)
    payment = Payment(idempotency_key="b15-web", account_id=account.id, payment_method_id=wire.id,
                      purpose="transfer", amount_minor=300_00, currency="SEK", gateway_reference="bank-b15",
                      created_at=b.clock.now())
    b.session.add(payment)
    b.session.flush()
    with app.app_context():
        credit.add_surplus(b, account, payment, 300_00, "overpaid")
        charge = f.charge(b, b.session.get(Subscription, demo.backup), 120_00, months_ago=20)
        assert credit.apply_to_charge(b, charge, account.id)
        b.session.commit()
    for lang in ("sv", "en"):
        sign_in_as(browser, "anna@example.com", lang)
        shown = text(browser.get(f"/{lang}/accounts/{demo.payg}/credit").get_data(as_text=True))
        assert WORDS[lang]["charge"] in shown and ("180,00 kr" in shown or "SEK 180.00" in shown)


def test_b15_another_accounts_credit_history_is_not_found(app, browser, demo, b):
    _bank_credit(app, b, demo)
    sign_in_as(browser, "anna@example.com", "sv")  # pay-as-you-go only
    assert browser.get(f"/sv/accounts/{demo.agreement}/credit").status_code == 404

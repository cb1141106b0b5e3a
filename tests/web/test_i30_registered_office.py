"""Issue 30: the seller's registered office (SELLER_REGISTERED_OFFICE), printed in the
seller block of the invoice and the receipt, in Swedish and English — read back from
the PDFs. Bolagsverket asks for "the place where the board has its registered office":
Swedish "Styrelsens säte", English "Registered office"."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from portal.billing import payments
from portal.billing.payments import UseSavedCard
from portal.models import User
from tests.web.conftest import sign_in_as
from tests.web.test_invoice_documents import pdf_of, text_of

LABEL = {"sv": "Styrelsens säte", "en": "Registered office"}


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_i30_the_invoice_and_the_receipt_name_the_registered_office(browser, demo, b, lang):
    sign_in_as(browser, "olivia@example.com", lang)
    invoice = re.sub(r"\s+", " ", text_of(pdf_of(browser, demo, demo.due, lang).data))
    assert f"{LABEL[lang]} Stockholm" in invoice, invoice
    anna = b.session.scalars(select(User).where(User.email == "anna@example.com")).one()
    quote = payments.quote_settlement(b, anna, demo.production, demo.spare_card)
    payment = payments.settle_balance(b, anna, demo.production, UseSavedCard(demo.spare_card), quote.total.minor,
                                      f"i30-registered-office-{lang}")
    sign_in_as(browser, "anna@example.com", lang)
    receipt = browser.get(f"/{lang}/accounts/{demo.payg}/payments/{payment.id}/pdf")
    assert receipt.status_code == 200
    assert f"{LABEL[lang]} Stockholm" in re.sub(r"\s+", " ", text_of(receipt.data))

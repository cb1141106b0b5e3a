"""B6: one gap-free invoice number series, safe when several billing runs issue at
once; seller and buyer frozen onto each invoice when it is issued."""
from __future__ import annotations

import dataclasses
import threading
from datetime import date
from decimal import Decimal

from hypothesis import given, settings, strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.billing.cycle import invoices
from portal.billing.context import Billing
from portal.billing.invoicing.documents import Buyer, DocumentLine, InvoiceDocument, invoice_document, vat_included
from portal.billing.invoicing.einvoice import en16931_terms
from portal.billing.seller import Seller
from portal.billing.invoicing.remittance import RemittanceDetails
from portal.billing.transaction import write_transaction
from portal.models import AccountKind, BillingProfile, Invoice, InvoiceStatus
from portal.money import Money
from tests import factories as f
from tests.conftest import examples

OCT = (date(2026, 10, 1), date(2026, 10, 31))
SELLER = Seller(name="Contoso Cloud AB", street="Box 1234", postcode="111 22", city="Stockholm",
                org_number="556677-8899", vat_number="SE556677889901", f_tax=True, email="faktura@contoso.example")
REMITTANCE = RemittanceDetails(bankgiro="5050-1055", iban="SE4550000000058398257466",
                               iban_display="SE45 5000 0000 0583 9825 7466", bic="ESSESESS")


def profiles(b, n):
    made = []
    for _ in range(n):
        acc = f.account(b, AccountKind.CUSTOMER_AGREEMENT)
        wire = f.wire(b, acc)
        profile = f.profile(b, acc, default=wire, check_wire_approved=True)
        f.subscription(b, acc, wire, fee=1_000_00, profile=profile)
        made.append(profile)
    f.commit(b)
    return made


def numbers(b) -> list[int]:
    b.session.rollback()
    return sorted(int(n) for n in b.session.scalars(select(Invoice.number)))


def test_b6_numbers_come_from_one_series_without_gaps_when_runs_race(b):
    """Three billing runs (each its own session, as on three machines) issue 24
    invoices at once: every number once, one after the other."""
    ids = [p.id for p in profiles(b, 24)]
    engine, errors = b.session.get_bind(), []

    def run(mine):
        with Session(engine) as session:
            other = Billing(session, b.gateway, b.clock, b.policy)
            try:
                for profile_id in mine:
                    with write_transaction(session):
                        invoices.generate_invoice(other, session.get(BillingProfile, profile_id), *OCT)
            except Exception as failed:  # noqa: BLE001 - reported below
                errors.append(failed)

    threads = [threading.Thread(target=run, args=(ids[i::3],)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    issued = numbers(b)
    assert len(issued) == 24 and issued == list(range(issued[0], issued[0] + 24))


def test_b6_a_number_taken_by_an_issue_that_fails_is_given_back(b):
    first, second = profiles(b, 2)
    try:
        with write_transaction(b.session):
            taken = invoices.generate_invoice(b, first, *OCT).number
            raise RuntimeError("the issuing transaction fails after taking its number")
    except RuntimeError:
        pass
    with write_transaction(b.session):
        assert invoices.generate_invoice(b, second, *OCT).number == taken


def test_b6_an_issued_invoice_keeps_its_seller_and_buyer(b):
    [profile] = profiles(b, 1)
    with write_transaction(b.session):
        invoice = invoices.generate_invoice(b, profile, *OCT)
    before = invoice_document(invoice, b.policy.seller, REMITTANCE)
    renamed = dataclasses.replace(b.policy.seller, name="Contoso Moln AB", street="Ny väg 1", postcode="222 33", city="Lund")
    profile.account.name, profile.name = "Another Name AB", "Another profile"
    f.commit(b)
    after = invoice_document(b.session.get(Invoice, invoice.id), renamed, REMITTANCE)
    assert after == before
    assert (after.seller.name, after.buyer.name) == (b.policy.seller.name, before.buyer.name)


@settings(max_examples=examples(60), deadline=None)
@given(lines=st.lists(st.integers(1, 10**9), min_size=0, max_size=8), credit_share=st.floats(0, 1))
def test_b6_the_en16931_terms_add_up_to_the_document_for_any_lines_and_credits(lines, credit_share):
    """BR-CO-10/13/15: line nets less allowances are the taxable amount, taxable plus
    VAT is the total, and the total is what the document says is due — exactly."""
    subtotal = sum(lines) or 1_000_00
    credits = int(subtotal * credit_share)
    due = Money(subtotal - credits, "SEK")
    doc = InvoiceDocument(
        number="10001", issued_on=date(2026, 11, 1), due_on=date(2026, 12, 1), period_start=OCT[0],
        period_end=OCT[1], status=InvoiceStatus.DUE, paid_on=None, seller=SELLER, buyer=Buyer("Köpare AB", "Köpare"),
        lines=[DocumentLine(f"Line {i}", *OCT, Money(m, "SEK")) for i, m in enumerate(lines)],
        subtotal=Money(subtotal, "SEK"), credits=Money(credits, "SEK"), amount_due=due, vat=[vat_included(due)],
        remittance=REMITTANCE.for_invoice("10001"), payment_terms_days=30)
    terms = en16931_terms(doc)
    minor = lambda text: round(Decimal(text) * 100)  # noqa: E731
    nets = sum(minor(line["BT-131"]) for line in terms["BG-25"])
    allowance = minor(terms.get("BT-107", "0"))
    assert nets == minor(terms["BT-106"])
    assert nets - allowance == minor(terms["BT-109"]) == minor(terms["BG-23"][0]["BT-116"])
    assert minor(terms["BT-109"]) + minor(terms["BT-110"]) == minor(terms["BT-112"]) == due.minor
    assert all(minor(line["BT-131"]) >= 0 for line in terms["BG-25"]) and allowance >= 0

"""Billing emails as they arrive at a real SMTP server, after the billing cycle has
run over simulated days and months: right recipients, the recipient's language,
plain text and accessible HTML, deep links that open the page acting on it (B1)."""
from __future__ import annotations

import dataclasses
import io
import re
from datetime import date, timedelta
from pathlib import Path

import pypdf
from sqlalchemy import select

from portal.billing import payments
from portal.billing.accounts import (costs, credit, details, overview, pauses, people, plans, sign_in_links,
                                     subscriptions)
from portal.deeplinks import SIGN_IN_LINKS
from portal.money import Money
from portal.billing.cycle import lifecycle
from portal.billing.transaction import write_transaction
from portal.billing.payments import UseSavedCard, methods
from portal.mail.messages import COMPOSERS
from portal.models import (BillingProfile, Invoice, Notice, OutboxMessage, OutboxStatus, Payment, PaymentMethod,
                           RoleAssignment, Subscription, SubscriptionStatus, User)
from tests import factories as f
from tests.mail.conftest import deliver
from tests.web.conftest import sign_in_as

ROOT = Path(__file__).resolve().parents[2]


def run_cycle(b, clock, first: date, last: date | None = None) -> None:
    day = first
    while day <= (last or first):
        clock.current = day
        lifecycle.run_billing_cycle(b)
        day += timedelta(days=1)


def user(b, email: str) -> User:
    return b.session.scalars(select(User).where(User.email == email)).one()


def set_default_card(b, demo, number: str) -> PaymentMethod:
    """The agreement's billing profile pays by card (R18) instead of check/wire."""
    profile = b.session.get(BillingProfile, demo.profile)
    card = f.card(b, profile.account, number)
    profile.default_payment_method_id = card.id
    b.session.commit()
    return card


def assert_in_language(received, lang: str) -> None:
    assert received.message["Content-Language"] == lang
    assert f'<html lang="{lang}">' in received.html
    assert received.path.startswith(f"/{lang}/")


def assert_opens(browser, received, email: str, expect: str | None = None) -> str:
    """B1: the email's link answers 200 for the person who acts on it — or, for a
    balance paid since the email was sent, shows that payment's receipt (issue 20 item 2)."""
    sign_in_as(browser, email, received.path[1:3])
    path = received.path
    response = browser.get(path)
    if response.status_code == 303 and path.endswith("/settle"):
        assert "/payments/" in response.location, path
        path = response.location
        response = browser.get(path)
    html = response.get_data(as_text=True)
    assert response.status_code == 200, (received.path, html[:300])
    if expect:
        assert expect in html
    browser.post(f"/{received.path[1:3]}/sign-out", {}, token_from=path)
    return html


# --- R01: payment failed ------------------------------------------------------------

def test_r01_failed_charge_emails_the_account_administrator_in_swedish_with_the_settle_link(
        app, b, demo, clock, mail_to, browser):
    run_cycle(b, clock, date(2026, 12, 1))
    report = deliver(app, clock)
    failed = mail_to.by_template_subject("Betalningen misslyckades")
    queued = b.session.scalars(select(OutboxMessage).where(OutboxMessage.template == "payment_failed")).all()
    assert report.sent == len(mail_to.received) and len(failed) == len(queued) == 2
    assert {r.to for r in failed} == {"anna@example.com"}  # the notification address (R11)
    production = next(r for r in failed if "Webbshop – produktion" in r.subject)
    assert_in_language(production, "sv")
    assert production.path == f"/sv/accounts/{demo.payg}/subscriptions/{demo.production}/settle"
    assert "Reglera saldot för Webbshop – produktion" in production.html  # the link's words
    assert "Enligt din bank finns det inte tillräckligt med pengar på kortet." in production.flat_text
    assert "13 december 2026" in production.text and "1\xa0234,50\xa0kr" in production.text
    assert production.path in production.text.replace("http://127.0.0.1:5000", "")
    assert_opens(browser, production, "anna@example.com", "Reglera saldo")


def test_r01_failed_charge_also_leaves_a_notice_with_the_settle_link(app, b, demo, clock, browser):
    run_cycle(b, clock, date(2026, 12, 1))
    anna = user(b, "anna@example.com")
    kinds = [n.kind for n in b.session.scalars(select(Notice).where(Notice.user_id == anna.id))]
    assert kinds.count("payment_failed") == 3  # the demo's, and one per failed charge
    sign_in_as(browser, "anna@example.com", "en")
    html = browser.get(f"/en/accounts/{demo.payg}/").get_data(as_text=True)
    assert (f'<a href="/en/accounts/{demo.payg}/subscriptions/{demo.testing}/settle">'
            f"Settle the balance for Webbshop – test</a>") in html


# --- R12: will be disabled on …, disabled — data deleted on … ------------------------

def test_r12_warned_7_and_1_days_before_disabling_then_told_the_deletion_date(
        app, b, demo, clock, mail_to, browser):
    run_cycle(b, clock, date(2026, 11, 26), date(2027, 3, 14))  # three and a half months, daily
    deliver(app, clock)
    production = [r for r in mail_to.to("anna@example.com") if "Webbshop – produktion" in r.subject]
    subjects = [r.subject for r in production]
    # Past due since 13 Nov: disabled 13 Dec (30 days), data deleted 13 Mar (90 days).
    assert subjects == [
        "Betalningen misslyckades: Webbshop – produktion är förfallen",  # 1 Dec charge
        "Påminnelse: Webbshop – produktion inaktiveras den 13 december 2026",  # 6 Dec: 7 days before
        "Påminnelse: Webbshop – produktion inaktiveras den 13 december 2026",  # 12 Dec: 1 day before
        "Webbshop – produktion har inaktiverats",  # 13 Dec
    ]
    warning, disabled = production[1], production[3]
    assert warning.message["Date"].datetime.date() == date(2026, 12, 6)
    assert production[2].message["Date"].datetime.date() == date(2026, 12, 12)
    assert "Totalt utestående belopp: 4\xa0481,50\xa0kr" in warning.text  # both subscriptions on the card
    assert "Prenumerationens data tas bort den 13 mars 2027." in disabled.flat_text
    for received in (warning, disabled):
        assert received.path == f"/sv/accounts/{demo.payg}/subscriptions/{demo.production}/settle"
    assert_opens(browser, disabled, "anna@example.com", "Reglera saldo")
    b.session.expire_all()
    assert b.session.get(Subscription, demo.production).status == SubscriptionStatus.DELETED
    assert len(mail_to.received) == len(set(r.message["Message-ID"] for r in mail_to.received))


def test_r12_the_warning_reaches_the_portal_in_its_one_banner(app, b, demo, clock, browser):
    """The warning is stored as Anna's notice; on Overview the page's one banner says it
    (with the Settle link) and the notice is not listed again under it (issue 20 item 3)."""
    run_cycle(b, clock, date(2026, 12, 6))
    sign_in_as(browser, "anna@example.com", "en")
    html = browser.get(f"/en/accounts/{demo.payg}/").get_data(as_text=True)
    banner = html[html.index('aria-labelledby="banner-title"'):]
    banner = banner[:banner.index("</div>")]
    assert "Webbshop – produktion is past due and will be disabled on December 13, 2026" in banner
    assert f"/subscriptions/{demo.production}/settle" in banner
    assert "Reminder: Webbshop – produktion is past due" not in html
    b.session.rollback()
    notice = b.session.scalars(select(Notice).where(Notice.kind == "subscription_disable_warning")).first()
    assert notice is not None and notice.dismissed_at is None


# --- R09 / R22: receipts --------------------------------------------------------------

def test_r09_receipt_after_settling_is_emailed_with_a_link_to_the_receipt(app, b, demo, clock, mail_to, browser):
    anna = user(b, "anna@example.com")
    quote = payments.quote_settlement(b, anna, demo.production, demo.spare_card)
    payment = payments.settle_balance(b, anna, demo.production, UseSavedCard(demo.spare_card),
                                      quote.total.minor, "settle-email-0001")
    deliver(app, clock)
    [receipt] = mail_to.received
    assert receipt.to == "anna@example.com"
    assert receipt.subject == "Kvitto för din betalning på 2\xa0858,00\xa0kr"
    assert "2\xa0858,00\xa0kr har betalats med Visa som slutar på 4242." in receipt.flat_text
    assert "Webbshop – produktion och Webbshop – test" in receipt.flat_text  # a list in Swedish
    assert receipt.path == f"/sv/accounts/{demo.payg}/payments/{payment.id}"
    assert_opens(browser, receipt, "anna@example.com", "Betalningen har tagits emot")


def test_r22_receipt_after_pay_now_goes_to_the_notification_address_in_its_language(
        app, b, demo, clock, mail_to, browser):
    olivia, david = user(b, "olivia@example.com"), user(b, "david@example.com")
    overview.change_notification_email(b, olivia, demo.agreement, "david@example.com")
    card = b.session.scalars(select(PaymentMethod).where(PaymentMethod.account_id == demo.agreement,
                                                         PaymentMethod.kind == "card")).first()
    quote = payments.quote_invoices(b, david, demo.profile, [demo.due])
    payment = payments.pay_invoices(b, david, demo.profile, [demo.due], UseSavedCard(card.id),
                                    quote.total.minor, "pay-now-email-0001")
    deliver(app, clock)
    [receipt] = mail_to.by_template_subject("Receipt for your payment")
    assert receipt.to == "david@example.com"
    assert_in_language(receipt, "en")
    assert f"These invoices are paid: {b.session.get(Invoice, demo.due).number}." in receipt.flat_text
    assert receipt.path == f"/en/accounts/{demo.agreement}/payments/{payment.id}"
    assert_opens(browser, receipt, "david@example.com", "Payment received")


# --- R18: invoice ready, automatic charge result ----------------------------------------

def test_r18_invoice_ready_and_card_charged_link_to_the_invoice(app, b, demo, clock, mail_to, browser):
    set_default_card(b, demo, f.APPROVE)
    run_cycle(b, clock, date(2026, 12, 1))
    deliver(app, clock)
    ready, = [r for r in mail_to.by_template_subject("är klar") if r.to == "olivia@example.com"]
    paid, = mail_to.by_template_subject("har betalats")
    assert paid.to == "olivia@example.com"
    # B7: and to the invoice recipient of the billing details, in the invoice language.
    [payable] = [r for r in mail_to.by_template_subject("är klar") if r.to == "leverantorsfakturor@example.com"]
    assert_in_language(payable, "sv")
    assert [a.get_content_type() for a in payable.message.iter_attachments()] == ["application/pdf"]
    assert_in_language(ready, "sv")
    invoice_id = b.session.scalars(select(OutboxMessage.payload).where(
        OutboxMessage.template == "invoice_ready")).first()["invoice_id"]
    for received in (ready, paid):
        assert received.path == f"/sv/accounts/{demo.agreement}/invoices/{invoice_id}"
    assert "Visa som slutar på 4242" in paid.text
    assert_opens(browser, paid, "olivia@example.com", "Betald")
    # B6: the invoice itself comes along, as a PDF in the recipient's language.
    number = b.session.get(Invoice, invoice_id).number
    [attached] = [part for part in ready.message.iter_attachments()]
    assert attached.get_content_type() == "application/pdf" and attached.get_filename() == f"faktura-{number}.pdf"
    text = "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(attached.get_content())).pages)
    assert f"Faktura {number}" in text and "Godkänd för F-skatt" in text and "Belopp att betala" in text
    assert list(paid.message.iter_attachments()) == []  # only the invoice email carries it


def test_r18_failed_automatic_charge_links_to_pay_now_for_that_invoice(app, b, demo, clock, mail_to, browser):
    set_default_card(b, demo, f.DECLINE)
    olivia = user(b, "olivia@example.com")
    overview.change_notification_email(b, olivia, demo.agreement, "david@example.com")
    run_cycle(b, clock, date(2026, 12, 1))
    deliver(app, clock)
    failed, = mail_to.by_template_subject("Payment failed for invoice")
    assert failed.to == "david@example.com"
    assert_in_language(failed, "en")
    invoice_id = b.session.scalars(select(OutboxMessage.payload).where(
        OutboxMessage.template == "auto_charge_failed")).one()["invoice_id"]
    assert failed.path == f"/en/accounts/{demo.agreement}/profiles/{demo.profile}/pay?invoice={invoice_id}"
    assert "Your bank declined the payment without giving a reason." in failed.flat_text
    html = assert_opens(browser, failed, "david@example.com", "Select a payment method")
    assert "Pay now" in html


# --- R11: notification address changed -----------------------------------------------------

def test_r11_old_and_new_address_are_both_told_each_in_their_language(app, b, demo, clock, mail_to, browser):
    olivia = user(b, "olivia@example.com")
    overview.change_notification_email(b, olivia, demo.agreement, "david@example.com")
    deliver(app, clock)
    old, = mail_to.to("olivia@example.com")
    new, = mail_to.to("david@example.com")
    assert old.subject == "Adressen för faktureringsaviseringar har ändrats"
    assert new.subject == "The billing notification address has changed"
    assert_in_language(old, "sv")
    assert_in_language(new, "en")
    assert "Om du inte har bett om den här ändringen" in old.flat_text  # a hijack does not go unnoticed
    assert "spam folder" in new.flat_text
    assert old.path == f"/sv/accounts/{demo.agreement}/notifications"
    assert_opens(browser, old, "olivia@example.com", "david@example.com")


# --- R13: support request received -------------------------------------------------------------

def test_r13_support_request_is_confirmed_to_the_person_who_opened_it_in_english(
        app, b, demo, clock, mail_to, browser):
    david = user(b, "david@example.com")
    request = overview.open_support_request(b, david, demo.agreement, None, "Paid but disabled",
                                            "I paid yesterday.")
    deliver(app, clock)
    [confirmation] = mail_to.received
    assert confirmation.to == "david@example.com"  # not the notification address
    assert_in_language(confirmation, "en")
    assert confirmation.subject == "We have received your support request"
    assert f"Reference: #{request.id}" in confirmation.text and "Paid but disabled" in confirmation.text
    assert_opens(browser, confirmation, "david@example.com", "Paid but disabled")


# --- B1: every email deep-links to a page that answers ----------------------------------------

def test_b1_every_billing_email_links_to_a_page_that_opens_for_the_right_person(
        app, b, demo, clock, mail_to, browser):
    """One of each message, then every link is followed as the person who acts on it;
    a visitor not signed in is sent to sign in and then back to the same page."""
    olivia, anna = user(b, "olivia@example.com"), user(b, "anna@example.com")
    set_default_card(b, demo, f.DECLINE)
    overview.change_notification_email(b, olivia, demo.agreement, "david@example.com")
    overview.open_support_request(b, anna, demo.payg, demo.archive, "Hjälp", "Arkivet är inaktiverat.")
    details.change_billing_details(b, olivia, demo.agreement, demo.profile, details.DetailsInput(
        company_name="Fjällström Logistik AB", org_number="556677-8899", street="Hamngatan 1", postcode="411 14",
        city="Göteborg"))
    costs.set_alert(b, anna, demo.payg, Money(1_00, "SEK"))  # issue 33: reached each month
    run_cycle(b, clock, date(2026, 11, 26), date(2027, 1, 2))
    quote = payments.quote_settlement(b, anna, demo.backup, demo.spare_card)
    settled = payments.settle_balance(b, anna, demo.backup, UseSavedCard(demo.spare_card), quote.total.minor,
                                      "b1-settle-01")
    with write_transaction(b.session):  # B15: 100 kr of it as credit, then refunded to the card
        paid = b.session.get(Payment, settled.id)
        credit.add_surplus(b, paid.payment_method.account, paid, 100_00, "overpaid")
    assert [r.amount.minor for r in credit.refund(b, demo.payg)] == [100_00]
    methods.update_card(b, anna, demo.payg, demo.spare_card, 4, 2031, "Anna Lindqvist")  # issue 33: in place
    subscriptions.cancel_at_period_end(b, anna, demo.payg, demo.intranet)  # B21: cancelled, then kept
    subscriptions.undo_cancellation(b, anna, demo.payg, demo.intranet)
    b.policy = dataclasses.replace(b.policy, customer_may_change_plan=True,  # B24: and moved to another plan
                                   plans=(("Standard", 590_00), ("Premium", 990_00)))
    plans.change_plan(b, anna, demo.payg, demo.intranet, "Premium")
    b.policy = dataclasses.replace(b.policy, customer_may_pause=True)  # B21: paused, then resumed
    pauses.pause(b, anna, demo.payg, demo.intranet)
    pauses.resume(b, anna, demo.payg, demo.intranet)
    report = deliver(app, clock)
    templates = set(b.session.scalars(select(OutboxMessage.template)))
    # The card declines here; the emails about people and roles (issue 31) are followed in
    # test_i31_people_emails below and in tests/browser/test_i31_access.py; the sign-in
    # links (issue 31) are a person's own, not billing email:
    # tests/web/test_i31_sign_in_security.py follows them.
    # Autogiro's emails (B23) come from Bankgirot's files: tests/billing/test_autogiro.py sends them.
    assert templates == set(COMPOSERS) - {"auto_charge_succeeded", "invitation", "role_changed", *SIGN_IN_LINKS,
                                          "autogiro_not_drawn", "autogiro_mandate_ended"}
    assert report.sent == len(mail_to.received) == len(b.session.scalars(select(OutboxMessage.id)).all())
    assert {r.to for r in mail_to.received} == {"anna@example.com", "olivia@example.com", "david@example.com",
                                                "sara@example.com"}  # B23: the Autogiro customer's invoices issued
    for received in mail_to.received:
        assert len(received.links) == 1, received.subject
        assert received.links[0].startswith("http://127.0.0.1:5000/")
        assert_opens(browser, received, received.to)  # each recipient here is a user who acts on it
    anonymous = browser.client.get(mail_to.received[0].path)
    assert anonymous.status_code == 302 and "/sign-in?next=" in anonymous.headers["Location"]


def test_b1_links_use_the_configured_base_url_and_its_path(app, b, demo, clock, mail_to):
    app.config["PORTAL_BASE_URL"] = "https://billing.contoso.example/portal"
    anna = user(b, "anna@example.com")
    overview.open_support_request(b, anna, demo.payg, None, "Fråga", "Hur?")
    deliver(app, clock)
    [received] = mail_to.received
    assert received.links == [f"https://billing.contoso.example/portal/sv/accounts/{demo.payg}/support"]


# --- the messages themselves ---------------------------------------------------------------------

def test_every_queued_template_has_a_message_and_every_message_is_used():
    source = "\n".join(p.read_text() for p in (ROOT / "portal" / "billing").rglob("*.py"))
    queued = set(re.findall(r'queue_email\([^)]*?"([a-z_]+)"', source, re.S))
    assert queued | set(SIGN_IN_LINKS) == set(COMPOSERS)
    assert set(SIGN_IN_LINKS) == {*sign_in_links.TEMPLATES.values(), sign_in_links.UNKNOWN_TEMPLATE}


def test_html_part_is_accessible_and_says_what_the_text_part_says(app, b, demo, clock, mail_to):
    run_cycle(b, clock, date(2026, 12, 1), date(2026, 12, 13))
    deliver(app, clock)
    assert mail_to.received
    for received in mail_to.received:
        html = received.html
        assert re.search(r'<html lang="(sv|en)">', html) and f"<title>{received.subject}</title>" in html
        assert html.count("<h1") == 1 and "<img" not in html
        assert all('scope="row"' in th for th in re.findall(r"<th[^>]*>", html))
        [link_text] = re.findall(r"<a [^>]*>([^<]+)</a>", html)
        assert link_text.strip() and link_text.strip().lower() not in ("click here", "här", "klicka här")
        heading = re.search(r"<h1[^>]*>([^<]+)</h1>", html).group(1)
        assert heading in received.text and link_text in received.text


def test_messages_queued_before_links_existed_are_still_sent(app, b, demo, clock, mail_to):
    """An outbox row from an older version (no account_id in its payload) renders,
    without a link rather than with a broken one."""
    b.session.add(OutboxMessage(template="invoice_past_due", to_address="olivia@example.com", locale="sv",
                                payload={"number": "202609000001", "amount_minor": 100_00, "currency": "SEK"},
                                message_key="outbox-legacy-1", created_at=clock.now()))
    b.session.commit()
    report = deliver(app, clock)
    [received] = mail_to.received
    assert report.sent == 1 and received.links == []
    assert "Faktura 202609000001 på 100,00\xa0kr har inte betalats." in received.flat_text
    assert b.session.scalars(select(OutboxMessage.status)).one() == OutboxStatus.SENT


def test_i31_invitation_and_role_emails_arrive_in_the_chosen_language_with_links_that_open(
        app, b, demo, clock, mail_to, browser):
    """The invitation in the language the inviter chose, with the single-use link (the
    accept page opens signed out); the role change to the person and the owner, each
    in their own language, linking to the account."""
    olivia = user(b, "olivia@example.com")
    people.invite(b, olivia, demo.agreement, demo.profile, "eva@example.com", "reader", "en", app.secret_key)
    rasmus = user(b, "rasmus@example.com")
    mine = b.session.scalars(select(RoleAssignment).where(RoleAssignment.user_id == rasmus.id)).one()
    people.change_role(b, olivia, demo.agreement, mine.id, "invoice_manager")
    deliver(app, clock)
    [invited] = mail_to.to("eva@example.com")
    assert invited.message["Content-Language"] == "en" and "Olivia Holm invites you to be Reader" in invited.flat_text
    opened = browser.client.get(invited.path)
    assert opened.status_code == 200 and "Accept and create my sign-in" in opened.get_data(as_text=True)
    [told] = mail_to.to("rasmus@example.com")
    [owner] = mail_to.to("olivia@example.com")
    assert "Rasmus" in told.flat_text and "Fakturaansvarig" in told.flat_text and "Läsare" in told.flat_text
    assert told.path == owner.path == f"/sv/accounts/{demo.agreement}/"
    assert_opens(browser, told, "rasmus@example.com")

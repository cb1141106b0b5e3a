"""Issue 33 items 3 and 6 on the pages, without JavaScript: a saved card updated in place,
and the walk's findings ux-F1…F22 that change what a page says (docs/decisions.md has
the ones the product answers otherwise)."""
from __future__ import annotations

import re

from sqlalchemy import select

from portal.models import Invoice, Notice, OutboxMessage, PaymentMethod
from tests.web.conftest import sign_in_as
from tests.web.test_flows import pay_url
from tests.web.test_partial_pay_now import card_of_agreement, pay_form, text


def methods_url(demo, lang="sv"):
    return f"/{lang}/accounts/{demo.payg}/payment-methods"


def update_url(demo, card, lang="sv"):
    return f"{methods_url(demo, lang)}/{card}/update"


def test_i33_item3_a_saved_card_is_updated_in_place_without_javascript(browser, demo, b):
    sign_in_as(browser, "anna@example.com", "sv")
    page = browser.get(methods_url(demo)).get_data(as_text=True)
    assert f'href="{update_url(demo, demo.spare_card)}"' in page and "Uppdatera giltighetstiden" in text(page)
    form = browser.get(update_url(demo, demo.spare_card)).get_data(as_text=True)
    assert "<h1>" in form and "Uppdatera Visa som slutar på 4242" in text(form)
    assert 'name="card_number"' not in form and 'name="cvc"' not in form  # same number: never asked again
    # The server checks what it is given, in the page's language.
    refused = browser.post(update_url(demo, demo.spare_card), {"exp_month": "10", "exp_year": "2026", "holder": "A"})
    assert refused.status_code == 422
    assert "Det datumet har redan passerat" in text(refused.get_data(as_text=True))
    response = browser.post(update_url(demo, demo.spare_card),
                            {"exp_month": "04", "exp_year": "2031", "holder": "Anna Lindqvist"})
    assert response.status_code == 303 and response.location.endswith(methods_url(demo))
    done = text(browser.get(methods_url(demo)).get_data(as_text=True))
    assert "Visa som slutar på 4242 har uppdaterats och är giltigt till och med 30 april 2031" in done
    b.session.rollback()
    card = b.session.get(PaymentMethod, demo.spare_card)
    assert (card.exp_month, card.exp_year, card.holder_name) == (4, 2031, "Anna Lindqvist")
    mail = b.session.scalars(select(OutboxMessage).where(OutboxMessage.template == "payment_method_updated")).one()
    assert mail.payload["method_id"] == demo.spare_card


def test_i33_item3_a_person_who_may_not_manage_cards_gets_the_reason(browser, demo, b):
    sign_in_as(browser, "erik@example.com", "en")
    assert browser.get(update_url(demo, demo.spare_card, "en")).status_code == 403
    assert browser.post(update_url(demo, demo.spare_card, "en"), {"exp_month": "4", "exp_year": "2031",
                                                                  "holder": "X"}).status_code == 403
    b.session.rollback()
    assert b.session.get(PaymentMethod, demo.spare_card).exp_year != 2031


def test_i33_f04_the_card_that_failed_is_marked_and_never_chosen_beforehand(browser, demo):
    sign_in_as(browser, "anna@example.com", "sv")
    page = browser.get(methods_url(demo)).get_data(as_text=True)
    rows = page[page.index("<tbody>"):page.index("</tbody>")].split("<tr>")[1:]
    badge = {last4: "Debiteringen misslyckades" in next(r for r in rows if f"slutar på {last4}<" in r)
             for last4 in ("9995", "4242")}
    assert badge == {"9995": True, "4242": False}  # 9995's charge left two subscriptions past due
    select_html = page[page.index('id="to" name="to"'):]
    select_html = select_html[:select_html.index("</select>")]
    options = re.findall(r"<option[^>]*>[^<]*</option>", select_html)
    assert options[0] == '<option value="">Välj ett kort</option>'
    assert "selected" not in select_html
    assert f'value="{demo.failed_card}">Visa som slutar på 9995 (kortet där betalningen misslyckades)' in select_html
    preview = browser.get(f"{methods_url(demo)}/move?subscriptions={demo.backup}&to=")
    assert preview.status_code == 422
    assert "Välj kortet som de ska flyttas till" in text(preview.get_data(as_text=True))


def test_i33_f01_f02_a_part_paid_now_is_the_bold_figure_and_the_rest_is_the_amount_due(browser, demo, b):
    sign_in_as(browser, "olivia@example.com", "sv")
    card = card_of_agreement(b, demo)
    html = browser.get(pay_url(demo, "sv") + f"?method={card}&part=1000%2C50").get_data(as_text=True)
    page = text(html)
    assert "Att betala nu 1 000,50 kr av 15 780,00 kr" in page
    assert "<strong>1\xa0000,50\xa0kr</strong>" in html and "<strong>15\xa0780,00\xa0kr</strong>" not in html
    assert "Betala 1 000,50 kr nu" in page
    assert browser.post(pay_url(demo, "sv"), pay_form(html)).status_code == 303
    b.session.rollback()
    past_due = b.session.get(Invoice, demo.past_due)
    assert past_due.is_partly_paid
    listing = text(browser.get(f"/sv/accounts/{demo.agreement}/invoices").get_data(as_text=True))
    left, whole = (f"{m.minor // 100:,}".replace(",", " ") + f",{m.minor % 100:02d} kr"
                   for m in (past_due.left, past_due.amount_due))
    assert f"{left} av {whole}" in listing


def test_i33_f05_f09_the_overview_names_the_past_due_invoice_and_where_to_pay_it(browser, demo, b):
    sign_in_as(browser, "olivia@example.com", "sv")
    past_due = b.session.get(Invoice, demo.past_due)
    page = text(browser.get(f"/sv/accounts/{demo.agreement}/").get_data(as_text=True))
    assert f"Faktura {past_due.number} för" in page and "är förfallen:" in page
    assert "skulle ha betalats senast den" in page
    assert "betala till bankgiro" in page and "OCR-numret" in page
    assert "En faktura för" not in page
    pay = text(browser.get(pay_url(demo, "sv")).get_data(as_text=True))
    assert "Betala till Contoso Cloud AB och ange OCR-numret" in pay  # the invoice's payee (ux-F9)


def test_i33_f06_due_and_past_due_badges_differ_beyond_colour(browser, demo):
    sign_in_as(browser, "olivia@example.com", "sv")
    html = browser.get(f"/sv/accounts/{demo.agreement}/invoices").get_data(as_text=True)
    assert 'class="status status--past_due">Förfallen' in html and 'class="status status--due">' in html
    with open("static/css/portal.css", encoding="utf-8") as handle:
        css = handle.read()
    due = re.search(r"\.status--due \{([^}]*)\}", css).group(1)
    past_due = re.search(r"\.status--past_due \{([^}]*)\}", css).group(1)
    assert "border-left-width" in past_due and "border-left-width" not in due  # shape, not colour alone
    assert re.search(r"color: ([^;]+);", due).group(1) != re.search(r"color: ([^;]+);", past_due).group(1)


def test_i33_f07_a_card_that_has_expired_is_not_going_to_expire(browser, demo, b):
    sign_in_as(browser, "anna@example.com", "sv")
    [failed] = b.session.scalars(select(Notice)).all()
    for last4, day in (("4242", "2026-11-24"), ("4444", "2026-12-31")):  # the clock says 2026-11-25
        b.session.add(Notice(user_id=failed.user_id, account_id=demo.payg, kind="card_expiring",
                             payload={"method": {"kind": "card", "brand": "visa", "last4": last4},
                                      "expires_on": day}, created_at=failed.created_at))
    b.session.commit()
    page = text(browser.get(f"/sv/accounts/{demo.payg}/").get_data(as_text=True))
    assert "Visa som slutar på 4242 gick ut den 24 november 2026" in page
    assert "Visa som slutar på 4242 går ut" not in page
    assert "Visa som slutar på 4444 går ut den 31 december 2026" in page


def test_i33_f17_an_organisation_number_with_a_wrong_check_digit_is_told_so(browser, demo):
    from tests.web.test_billing_details import GOOD, page_url
    sign_in_as(browser, "olivia@example.com", "sv")
    url = page_url(demo)
    typo = text(browser.post(url, GOOD | {"org_number": "556677-8898"}).get_data(as_text=True))
    assert "Organisationsnumrets sista siffra stämmer inte med de andra" in typo
    short = text(browser.post(url, GOOD | {"org_number": "55667788"}).get_data(as_text=True))
    assert "Ange ett giltigt svenskt organisationsnummer" in short and "sista siffra" not in short


def test_i33_f15_f21_the_invoices_actions_have_a_heading_and_the_export_says_what_it_holds(browser, demo):
    sign_in_as(browser, "olivia@example.com", "sv")
    invoices = browser.get(f"/sv/accounts/{demo.agreement}/invoices").get_data(as_text=True)
    assert '<th scope="col">Åtgärder</th>' in invoices
    payments = f"/sv/accounts/{demo.agreement}/payments"
    everything = text(browser.get(payments).get_data(as_text=True))
    assert "Ladda ner alla betalningar (CSV)" in everything and "Ladda ner alla fakturor (CSV)" in everything
    assert "periodens" not in everything
    chosen = text(browser.get(payments + "?first=2026-01-01&last=2026-12-31").get_data(as_text=True))
    assert "Ladda ner alla betalningar" not in chosen and "(CSV)" in chosen


def test_i33_f10_the_banner_says_once_who_may_settle(browser, demo):
    sign_in_as(browser, "erik@example.com", "sv")
    html = browser.get(f"/sv/accounts/{demo.payg}/").get_data(as_text=True)
    banner = text(html[html.index('id="banner-title"'):html.index("</div>", html.index('id="banner-title"'))])
    assert banner.count("Bara kontoadministratören kan reglera saldot") == 1
    assert "Bara kontoadministratören kan göra det här" not in banner


def test_i33_f13_a_receipt_of_invoices_gives_an_invoice_example(browser, demo, b):
    sign_in_as(browser, "olivia@example.com", "sv")
    payment_id = b.session.get(Invoice, demo.paid).payment_id
    page = text(browser.get(f"/sv/accounts/{demo.agreement}/payments/{payment_id}").get_data(as_text=True))
    assert "till exempel att en faktura inte visas som betald" in page
    assert "prenumeration fortfarande är inaktiverad" not in page

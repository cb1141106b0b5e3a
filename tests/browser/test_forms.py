"""Forms as the browser's accessibility tree exposes them: a visible label per field,
errors tied to fields and summarised in a focused error summary whose links lead to
each field, card fields with the right autocomplete and inputmode, and the payment
method choice as a real radio group with a legend."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.a11y import focused
from tests.browser.states import STATES

ERROR_STATES = ["sign-in-with-errors", "settle-card-errors", "settle-unknown-method",
                "notifications-with-errors", "support-with-errors", "payments-with-errors",
                "payment-methods-add-card-errors"]


@pytest.mark.parametrize("state", ERROR_STATES)
def test_error_summary_takes_focus_and_each_link_leads_to_its_field(site, shared_page, state):
    user, reach = STATES[state]
    page = shared_page(site, user, "sv")
    reach(page, site.ids)
    assert page.title().startswith("Fel: ")
    summary = page.locator(".error-summary")
    where = focused(page)
    assert where is not None and where["path"] == summary.evaluate(
        "el => { const p = []; for (; el && el.parentElement; el = el.parentElement)"
        " p.unshift(el.tagName.toLowerCase() + ':' + [...el.parentElement.children].indexOf(el));"
        " return p.join('/'); }"), "the error summary has focus when the page opens"
    expect(summary).to_have_accessible_name("Det finns ett problem")
    links = summary.get_by_role("link")
    assert links.count() >= 1
    page.set_viewport_size({"width": 390, "height": 400})  # small: following a link must scroll
    for i in range(links.count()):
        link = links.nth(i)
        message = link.inner_text()
        target = link.get_attribute("href")
        link.click()
        control = page.locator(target)
        expect(control).to_be_focused()
        if control.get_attribute("type") == "radio":  # the group carries the error
            group = page.get_by_role("group", name="Välj en betalningsmetod")
            expect(group).to_have_accessible_description(re.compile(re.escape(message)))
        else:
            expect(control).to_have_attribute("aria-invalid", "true")
            expect(control).to_have_accessible_description(re.compile(re.escape(message)))
        # the field's question is on screen with it, not scrolled away above
        question = page.locator(f"label[for='{control.get_attribute('id')}']")
        if control.get_attribute("type") == "radio":
            question = page.locator("fieldset:has(input[name=method]) > legend")
        box, field_box = question.bounding_box(), control.bounding_box()
        assert box["y"] >= -1 and field_box["y"] + field_box["height"] <= 400, (message, box, field_box)
        page.evaluate("() => window.scrollTo(0, 0)")


def test_card_fields_autocomplete_inputmode_and_labels_after_the_swap(site, shared_page):
    page = shared_page(site, "anna@example.com", "en")
    STATES["settle-add-card"][1](page, site.ids)
    expected = {  # name: (label, autocomplete, inputmode)
        "card_number": ("Card number", "cc-number", "numeric"),
        "exp_month": ("Month", "cc-exp-month", "numeric"),
        "exp_year": ("Year", "cc-exp-year", "numeric"),
        "cvc": ("Security code (CVC)", "cc-csc", "numeric"),
        "holder": ("Name on card", "cc-name", None),
    }
    for name, (label, autocomplete, inputmode) in expected.items():
        field = page.get_by_role("textbox", name=label, exact=True)
        expect(field).to_have_attribute("name", name)
        expect(field).to_have_attribute("autocomplete", autocomplete)
        if inputmode:
            expect(field).to_have_attribute("inputmode", inputmode)
        expect(page.locator(f"label[for='{name}']")).to_be_visible()
    expiry = page.get_by_role("group", name="Expiry date")
    expect(expiry).to_have_accessible_description("For example 04 2030")
    expect(expiry.get_by_role("textbox")).to_have_count(2)


@pytest.mark.parametrize("lang, legend", [("sv", "Välj en betalningsmetod"), ("en", "Select a payment method")])
def test_r21_payment_method_is_a_radio_group_with_a_legend_none_preselected(site, shared_page, lang, legend):
    page = shared_page(site, "olivia@example.com", lang)
    STATES["pay-now-no-method"][1](page, site.ids)
    group = page.get_by_role("group", name=legend)
    radios = group.get_by_role("radio")
    expect(radios).to_have_count(2)  # the saved card and a new one
    assert not any(radios.nth(i).is_checked() for i in range(radios.count()))
    assert page.locator("fieldset > legend").first.inner_text() == legend


def test_balance_changed_notice_takes_focus_and_nothing_is_lost(site, shared_page):
    """The new total after a stale page: the notice is focused (and is an alert), the
    chosen method is kept, and the new total stands below it."""
    page = shared_page(site, "anna@example.com", "en")
    STATES["settle-balance-changed"][1](page, site.ids)
    notice = page.get_by_role("alert").filter(has_text="The amount to pay has changed")
    expect(notice).to_be_focused()
    expect(page.locator(f"input[type=radio][value='{site.ids['card_4242']}']")).to_be_checked()
    expect(page.locator("#total")).to_contain_text("SEK\xa02,858.00")

"""Bad input at scale for the forms of issues 31 and 33 (the Access page's invitation,
invitation links, a card's update in place, a subscription's cancellation and plan change) and of
issue 34 (an Autogiro mandate): the same generated values and the same
checks as tests/web/test_bad_input.py, whose fixtures these reuse."""
from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from portal.models import Subscription
from tests.web.conftest import Browser
from tests.web.test_bad_input import SETTINGS, Fuzz, segment, weird_text


@pytest.fixture
def fuzz(app, demo, b):
    return Fuzz(app, demo, b)


@SETTINGS
@given(data=st.data())
def test_i31_invitation_form_with_one_bad_value_changes_nothing(fuzz, data):
    """Any text in one field of the invitation form: a translated 422 (or 400 for a NUL
    byte) that invites nobody — or, when the text is a usable address after all, sent."""
    form = {"email": "ny@example.com", "role": "account_user", "scope": "", "locale": "sv"}
    name = data.draw(st.sampled_from(sorted(form)), label="field")
    form[name] = data.draw(weird_text.filter(lambda t: t not in ("account_admin", "account_user", "en")),
                           label="value")
    response = fuzz.anna.client.post(f"/sv/accounts/{fuzz.demo.payg}/access/invite",
                                     data=form | {"csrf_token": fuzz.token(fuzz.anna, fuzz.demo.payg)})
    if response.status_code == 303:  # a usable value after all (an address; '' is the whole account): invited
        fuzz.before = fuzz.snapshot()
        return
    fuzz.check(response, allowed={400, 422})


@SETTINGS
@given(token=weird_text.filter(lambda t: t.strip() not in ("", ".", "..")), post=st.booleans())
def test_i31_any_invitation_token_that_is_not_one_is_a_translated_404(fuzz, token, post):
    browser = Browser(fuzz.app.test_client())
    path = f"/sv/invitations/{segment(token)}"
    # Followed: a token with a leading '/' makes '//', which Werkzeug answers with a 308 to
    # the merged path (for a POST too) — the answer that counts is where that lands.
    response = (browser.client.post(path, data={"name": "x", "password": "y" * 12}, follow_redirects=True)
                if post else browser.get(path, follow_redirects=True))
    fuzz.check(response, allowed={400, 404})


@SETTINGS
@given(data=st.data())
def test_i33_item3_a_card_update_with_one_bad_value_changes_nothing(fuzz, data):
    """Issue 33 item 3: any text in one field of the card update: saved (a value that
    happens to be a card's expiry or name), or a translated 422 that changes nothing."""
    url = f"/sv/accounts/{fuzz.demo.payg}/payment-methods/{fuzz.demo.spare_card}/update"
    form = {"exp_month": "04", "exp_year": "2031", "holder": "Anna Lindqvist"}
    name = data.draw(st.sampled_from(sorted(form)), label="field")
    form[name] = data.draw(weird_text, label="value")
    response = fuzz.anna.client.post(url, data=form | {"csrf_token": fuzz.token(fuzz.anna, fuzz.demo.payg)})
    if response.status_code == 303:  # acceptable after all: saved; the new state is the baseline
        fuzz.before = fuzz.snapshot()
        return
    fuzz.check(response, allowed={400, 422})  # 400: a NUL byte, refused before any view


@SETTINGS
@given(data=st.data())
def test_i33_a_cancellation_with_a_bad_last_day_changes_nothing(fuzz, data):
    """Issue 33 item 1: any text for the confirmed last day: a translated 422 (not a
    date) or 409 (another day: asked again), never a cancellation."""
    url = f"/sv/accounts/{fuzz.demo.payg}/subscriptions/{fuzz.demo.intranet}/cancel"
    value = data.draw(weird_text.filter(lambda t: t.strip() != "2026-11-30"), label="last_day")
    response = fuzz.anna.client.post(url, data={"last_day": value, "csrf_token": fuzz.token(fuzz.anna, fuzz.demo.payg)})
    fuzz.check(response, allowed={400, 409, 422})


@SETTINGS
@given(data=st.data())
def test_b24_a_plan_change_with_one_bad_value_changes_nothing(fuzz, data):
    """B24: any text for the plan or the confirmed day: a translated 422 (not a day, no
    plan), 409 (another day, or a plan not offered), never a change."""
    fuzz.app.config.update(SUBSCRIPTION_PLAN_CHANGES=True, SUBSCRIPTION_PLANS=(("Bas", 290_00), ("Standard", 590_00)))
    url = f"/sv/accounts/{fuzz.demo.payg}/subscriptions/{fuzz.demo.intranet}/plan"
    form = {"plan": "Bas", "price_from": "2026-11-01"}
    name = data.draw(st.sampled_from(sorted(form)), label="field")
    form[name] = data.draw(weird_text.filter(lambda t: t.strip() not in ("Bas", "2026-11-01")), label="value")
    response = fuzz.anna.client.post(url, data={**form, "csrf_token": fuzz.token(fuzz.anna, fuzz.demo.payg)})
    fuzz.check(response, allowed={400, 409, 422})
    fuzz.b.session.rollback()
    assert fuzz.b.session.get(Subscription, fuzz.demo.intranet).monthly_fee_minor == 590_00


@SETTINGS
@given(data=st.data())
def test_i34_a_mandate_with_one_bad_value_gives_nothing(fuzz, data):
    """B23: one field garbage (the others a real account and payer): refused, no mandate."""
    demo, p = fuzz.demo, f"ag{fuzz.demo.profile}-"
    fields = {"csrf_token": fuzz.token(fuzz.olivia, demo.agreement), p + "clearing": "9029",
              p + "account_number": "5735211", p + "payer_id": "556036-0793", p + "accept": "y"}
    what = data.draw(st.sampled_from(["clearing", "account_number", "payer_id"]))
    fields[p + what] = data.draw(weird_text)
    from sqlalchemy import func, select
    from portal.models import AutogiroMandate
    fuzz.b.session.rollback()
    before = fuzz.b.session.scalar(select(func.count()).select_from(AutogiroMandate))
    fuzz.check(fuzz.olivia.client.post(f"/sv/accounts/{demo.agreement}/profiles/{demo.profile}/autogiro",
                                       data=fields), allowed={303, 400, 422})
    fuzz.b.session.rollback()
    given = fuzz.b.session.scalar(select(func.count()).select_from(AutogiroMandate)) - before
    typed = fields[p + what]
    still_valid = not set(typed) - set("0123456789 -") and "".join(c for c in typed if c.isdigit()) == {
        "clearing": "9029", "account_number": "5735211", "payer_id": "5560360793"}[what]
    assert given == 0 or still_valid


@SETTINGS
@given(data=st.data())
def test_b23_a_pay_as_you_go_mandate_with_one_bad_value_gives_nothing(fuzz, data):
    """B23 for pay-as-you-go: the account's mandate form, one field garbage (the others a
    real account and payer): refused, no mandate."""
    from sqlalchemy import func, select
    from portal.models import AutogiroMandate
    demo = fuzz.demo
    fields = {"csrf_token": fuzz.token(fuzz.anna, demo.payg), "ag-clearing": "9029", "ag-account_number": "5735211",
              "ag-payer_id": "556036-0793", "ag-accept": "y"}
    what = data.draw(st.sampled_from(["clearing", "account_number", "payer_id"]))
    fields["ag-" + what] = data.draw(weird_text)
    fuzz.b.session.rollback()
    before = fuzz.b.session.scalar(select(func.count()).select_from(AutogiroMandate))
    fuzz.check(fuzz.anna.client.post(f"/sv/accounts/{demo.payg}/autogiro", data=fields), allowed={303, 400, 422})
    fuzz.b.session.rollback()
    given = fuzz.b.session.scalar(select(func.count()).select_from(AutogiroMandate)) - before
    typed = fields["ag-" + what]
    still_valid = not set(typed) - set("0123456789 -") and "".join(c for c in typed if c.isdigit()) == {
        "clearing": "9029", "account_number": "5735211", "payer_id": "5560360793"}[what]
    assert given == 0 or still_valid

"""Account settings and help through the pages: R11, R13, notices (R01), sign-in."""
from __future__ import annotations

from sqlalchemy import select

from portal.models import BillingAccount, Notice, OutboxMessage, SupportRequest
from tests.web.conftest import sign_in_as


def test_r11_notification_email_page_advises_and_saves(browser, demo, b):
    sign_in_as(browser, "anna@example.com", "en")
    url = f"/en/accounts/{demo.payg}/notifications"
    html = browser.get(url).get_data(as_text=True)
    assert "anna@example.com" in html and "spam folder" in html and "read regularly" in html
    response = browser.post(url, {"email": "faktura@nordlund.example"})
    assert response.status_code == 303
    assert "has been changed" in browser.get(response.location).get_data(as_text=True)
    b.session.rollback()
    assert b.session.get(BillingAccount, demo.payg).notification_email == "faktura@nordlund.example"
    sent = set(b.session.scalars(select(OutboxMessage.to_address).where(
        OutboxMessage.template == "notification_email_changed")))
    assert sent == {"anna@example.com", "faktura@nordlund.example"}


def test_r11_invalid_address_is_explained_and_kept(browser, demo, b):
    sign_in_as(browser, "anna@example.com", "en")
    url = f"/en/accounts/{demo.payg}/notifications"
    response = browser.post(url, {"email": "anna at example"})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "There is a problem" in html and "correct format" in html and 'value="anna at example"' in html
    b.session.rollback()
    assert b.session.get(BillingAccount, demo.payg).notification_email == "anna@example.com"


def test_r11_non_admin_sees_the_address_but_cannot_change_it(browser, demo, b):
    sign_in_as(browser, "erik@example.com", "en")
    url = f"/en/accounts/{demo.payg}/notifications"
    html = browser.get(url).get_data(as_text=True)
    assert "anna@example.com" in html and "Only the account administrator" in html and "<input" not in html.split("<main")[1].split("</main>")[0].replace('type="hidden"', "")
    response = browser.post(url, {"email": "evil@example.com"}, token_from=f"/en/accounts/{demo.payg}/")
    assert response.status_code == 403
    b.session.rollback()
    assert b.session.get(BillingAccount, demo.payg).notification_email == "anna@example.com"


def test_r13_open_a_support_request_and_see_it(browser, demo, b):
    sign_in_as(browser, "anna@example.com", "en")
    url = f"/en/accounts/{demo.payg}/support"
    html = browser.get(url + f"?subscription={demo.archive}").get_data(as_text=True)
    assert f'<option selected value="{demo.archive}">' in html
    response = browser.post(url, {"subscription": str(demo.archive), "subject": "Paid but disabled",
                                  "body": "I paid yesterday and Arkiv is still disabled."})
    assert response.status_code == 303
    listing = browser.get(response.location).get_data(as_text=True)
    assert "has been received" in listing and "Paid but disabled" in listing
    b.session.rollback()
    assert b.session.scalars(select(SupportRequest.subscription_id)).all() == [demo.archive]


def test_r13_support_request_needs_subject_and_description(browser, demo, b):
    sign_in_as(browser, "anna@example.com", "en")
    response = browser.post(f"/en/accounts/{demo.payg}/support", {"subject": "", "body": ""})
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and "Enter a subject" in html and "Describe what happened" in html
    foreign = browser.post(f"/en/accounts/{demo.payg}/support",
                           {"subscription": "999999", "subject": "x", "body": "y"})
    assert foreign.status_code == 422
    b.session.rollback()
    assert b.session.scalars(select(SupportRequest)).all() == []


def test_r01_notice_shown_and_dismissed_per_user(browser, demo, b):
    """R01: the failed payment is a notice in the portal: while the subscription is
    past due the page's one banner says it (the stored notice is not listed twice,
    issue 20 item 3); news such as an expiring card is listed and dismissed per user."""
    sign_in_as(browser, "anna@example.com", "en")
    html = browser.get(f"/en/accounts/{demo.payg}/").get_data(as_text=True)
    assert "Webbshop – produktion is past due and will be disabled on" in html
    assert "did not go through, so it is past due" not in html
    [failed] = b.session.scalars(select(Notice)).all()
    assert failed.kind == "payment_failed"
    b.session.add(Notice(user_id=failed.user_id, account_id=demo.payg, kind="card_expiring",
                         payload={"method": {"kind": "card", "brand": "visa", "last4": "4242"},
                                  "expires_on": "2026-12-31"}, created_at=failed.created_at))
    b.session.commit()
    html = browser.get(f"/en/accounts/{demo.payg}/").get_data(as_text=True)
    assert "Visa ending in 4242 expires on" in html
    notice = b.session.scalars(select(Notice).where(Notice.kind == "card_expiring")).one()
    response = browser.post(f"/en/accounts/{demo.payg}/notices/{notice.id}/dismiss", {},
                            token_from=f"/en/accounts/{demo.payg}/")
    assert response.status_code == 303
    assert "Visa ending in 4242 expires on" not in browser.get(f"/en/accounts/{demo.payg}/").get_data(as_text=True)


def test_someone_elses_notice_cannot_be_dismissed(browser, demo, b):
    notice = b.session.scalars(select(Notice)).one()
    sign_in_as(browser, "erik@example.com", "en")
    response = browser.post(f"/en/accounts/{demo.payg}/notices/{notice.id}/dismiss", {},
                            token_from=f"/en/accounts/{demo.payg}/")
    assert response.status_code == 404
    b.session.rollback()
    assert b.session.get(Notice, notice.id).dismissed_at is None


def test_sign_in_rejects_wrong_password_in_the_users_language(browser, demo):
    response = browser.post("/en/sign-in", {"email": "anna@example.com", "password": "wrong"})
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and "email address or password is not right" in html


def test_sign_in_renews_the_session_and_follows_only_local_next(browser, demo):
    client = browser.client
    client.get("/en/sign-in")
    with client.session_transaction() as session:
        session["planted"] = "by an attacker"
    response = browser.post("/en/sign-in?next=https://evil.example/", {
        "email": "anna@example.com", "password": "demo-password"})
    assert response.location == "/en/"
    with client.session_transaction() as session:
        assert "planted" not in session
    response = browser.post("/en/sign-out", {}, token_from=f"/en/accounts/{demo.payg}/")
    assert response.status_code == 303
    assert browser.get(f"/en/accounts/{demo.payg}/").status_code == 302


def test_sign_in_follows_a_local_next(browser, demo):
    response = browser.post(f"/en/sign-in?next=/en/accounts/{demo.payg}/invoices",
                            {"email": "anna@example.com", "password": "demo-password"})
    assert response.location == f"/en/accounts/{demo.payg}/invoices"

"""The audit log: every payment attempt, decline, method change, role refusal and
notification-address change — who, when, what — shown to the account administrator
or the billing profile's owner only, in Swedish and English."""
from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from portal.billing import payments
from portal.billing.accounts import overview
from portal.errors import NotAuthorized
from portal.billing.payments import UseSavedCard
from portal.models import AuditEvent, Invoice, InvoiceStatus, Role
from tests import factories as f
from tests.web.conftest import sign_in_as
from tests.web.test_flows import pay_form, pay_url, settle_url


def events(b, action=None):
    b.session.rollback()
    query = select(AuditEvent).order_by(AuditEvent.id)
    if action:
        query = query.where(AuditEvent.action == action)
    return list(b.session.scalars(query))


def test_role_refusals_are_audited_once_in_their_own_transaction(browser, demo, b):
    sign_in_as(browser, "erik@example.com", "en")
    assert browser.get(settle_url(demo)).status_code == 403                       # the page
    response = browser.post(settle_url(demo), {"method": str(demo.spare_card), "expected_total": "285800",
                                               "idempotency_key": "abcdef123456"},
                            token_from=f"/en/accounts/{demo.payg}/")              # a forced POST
    assert response.status_code == 403
    assert browser.post(f"/en/accounts/{demo.payg}/notifications", {"email": "x@example.com"}).status_code == 403
    assert browser.get(f"/en/accounts/{demo.payg}/audit").status_code == 403
    refused = events(b, "access.refused")
    assert [(e.details["attempted"], e.details["reason"]) for e in refused] == [
        ("settle", "not_account_admin"), ("settle", "not_account_admin"),
        ("manage_notifications", "not_account_admin"), ("view_audit", "not_account_admin")]
    assert {e.actor.email for e in refused} == {"erik@example.com"}
    assert {e.account_id for e in refused} == {demo.payg}


def test_r19_reader_refusal_is_audited_for_the_profile(browser, demo, b):
    sign_in_as(browser, "rasmus@example.com", "en")
    assert browser.post(pay_url(demo), {"method": "new", "expected_total": "1578000",
                                        "idempotency_key": "abcdef123456"},
                        token_from=f"/en/accounts/{demo.agreement}/").status_code == 403
    [refused] = events(b, "access.refused")
    assert (refused.billing_profile_id, refused.details["reason"]) == (demo.profile, "reader_cannot_pay")


@pytest.mark.parametrize("who, allowed", [
    ("anna@example.com", True), ("erik@example.com", False), ("olivia@example.com", True),
    ("david@example.com", False), ("ines@example.com", False), ("rasmus@example.com", False)])
def test_audit_log_is_for_the_administrator_and_the_owner_only(browser, demo, who, allowed):
    sign_in_as(browser, who, "en")
    account = demo.payg if who in ("anna@example.com", "erik@example.com") else demo.agreement
    overview = browser.get(f"/en/accounts/{account}/").get_data(as_text=True)
    assert (f'href="/en/accounts/{account}/audit"' in overview) is allowed  # the nav link
    response = browser.get(f"/en/accounts/{account}/audit")
    assert response.status_code == (200 if allowed else 403)
    if not allowed:
        assert "You cannot do this" in response.get_data(as_text=True)


@pytest.mark.parametrize("lang, texts", [
    ("sv", ("Granskningslogg", "När", "Vem", "Vad", "Anna Lindqvist (anna@example.com)",
            "betalades med Visa som slutar på 4242 för att reglera saldot för Webbshop – produktion och Webbshop – test",
            "Visa som slutar på 4242 ersatte", "nekades. Enligt din bank finns det inte tillräckligt",
            "ändrades från anna@example.com till faktura@nordlund.example",
            "Erik Berg (erik@example.com)", "Nekad åtgärd: Reglera saldo. Bara kontoadministratören får göra det här.",
            "25 november 2026 kl. ")),
    ("en", ("Audit log", "When", "Who", "What", "Anna Lindqvist (anna@example.com)",
            "was paid with Visa ending in 4242 to settle the balance of Webbshop – produktion and Webbshop – test",
            "Visa ending in 4242 replaced Visa ending in 9995 as the payment method of Webbshop – produktion and Webbshop – test.", "was declined. Your bank says there are not enough funds",
            "changed from anna@example.com to faktura@nordlund.example",
            "Erik Berg (erik@example.com)", "Refused: Settle balance. Only the account administrator may do this.",
            "November 25, 2026 at ")),
])
def test_audit_log_shows_who_when_what_in_both_languages(browser, demo, b, lang, texts):
    sign_in_as(browser, "erik@example.com", lang)
    browser.get(settle_url(demo, lang=lang))                                   # refused
    browser.post(f"/{lang}/sign-out", {}, token_from=f"/{lang}/accounts/{demo.payg}/")
    sign_in_as(browser, "anna@example.com", lang)
    declined = pay_form(browser.get(settle_url(demo, lang=lang) + f"?method={demo.failed_card}").get_data(as_text=True))
    assert browser.post(settle_url(demo, lang=lang), declined).status_code == 402   # a decline
    paid = pay_form(browser.get(settle_url(demo, lang=lang) + f"?method={demo.spare_card}").get_data(as_text=True))
    assert browser.post(settle_url(demo, lang=lang), paid).status_code == 303       # payment + switch
    assert browser.post(f"/{lang}/accounts/{demo.payg}/notifications",
                        {"email": "faktura@nordlund.example"}).status_code == 303  # address change
    html = browser.get(f"/{lang}/accounts/{demo.payg}/audit").get_data(as_text=True)
    for text in texts:
        assert text in html, text
    assert html.index("faktura@nordlund.example") < html.index("Erik Berg")  # newest first
    assert "<caption" in html and '<th scope="col">' in html


def test_audit_log_pages_backwards(browser, demo, b):
    anna = b.session.scalars(select(AuditEvent)).first()  # the demo writes none: make some
    assert anna is None
    from portal.models import User
    admin = b.session.scalars(select(User).where(User.email == "anna@example.com")).one()
    for n in range(overview.AUDIT_PAGE_SIZE + 5):
        b.session.add(AuditEvent(at=b.clock.now(), actor_user_id=admin.id, account_id=demo.payg,
                                 action="notification_email.changed",
                                 details={"old": f"a{n}@example.com", "new": f"b{n}@example.com"}))
    b.session.commit()
    sign_in_as(browser, "anna@example.com", "en")
    first = browser.get(f"/en/accounts/{demo.payg}/audit").get_data(as_text=True)
    assert f"b{overview.AUDIT_PAGE_SIZE + 4}@example.com" in first and "b4@example.com" not in first
    older = first[first.index("?page=a."):].split('"')[0]
    second = browser.get(f"/en/accounts/{demo.payg}/audit{older}").get_data(as_text=True)
    assert "b4@example.com" in second and "b0@example.com" in second and "b5@example.com" not in second
    assert 'data-pager="next"' not in second and 'data-pager="previous"' in second
    for bad in ("?page=abc", "?page=a.-1", "?page=a.99999999999999999999", "?page=%EF%BC%91", "?before=1"):
        again = browser.get(f"/en/accounts/{demo.payg}/audit{bad}")  # an unusable key: the first page
        assert again.status_code == 200 and f"b{overview.AUDIT_PAGE_SIZE + 4}@example.com" in again.get_data(as_text=True)


def test_a_profile_owner_sees_that_profiles_events_and_the_account_wide_ones(b):
    acc = f.account(b, kind="customer_agreement")
    card = f.card(b, acc)
    mine, theirs = f.profile(b, acc, default=card), f.profile(b, acc, default=card)
    owner = f.user(b, Role.OWNER, acc, mine)
    manager = f.user(b, Role.INVOICE_MANAGER, acc, theirs)
    reader = f.user(b, Role.READER, acc, theirs)
    admin_wide = f.user(b, Role.OWNER, acc)  # an owner for the whole account
    b.session.add(Invoice(billing_profile_id=theirs.id, number="INV-THEIRS", currency="SEK",
                          period_start=date(2026, 10, 1), period_end=date(2026, 10, 31),
                          issued_on=date(2026, 11, 1), due_on=date(2026, 12, 1),
                          status=InvoiceStatus.DUE, subtotal_minor=500_00))
    f.commit(b)
    payments.pay_invoices(b, manager, theirs.id, None, UseSavedCard(card.id), 500_00, "key-theirs-0001")
    overview.change_notification_email(b, admin_wide, acc.id, "ekonomi@example.com")
    with pytest.raises(NotAuthorized):
        payments.pay_invoices(b, reader, theirs.id, None, UseSavedCard(card.id), 500_00,
                              "key-theirs-0002")  # a reader of their profile: refused
    seen_by_owner = [e.action for e in overview.audit_log(b, owner, acc.id)]
    seen_by_wide = [e.action for e in overview.audit_log(b, admin_wide, acc.id)]
    assert seen_by_owner == ["notification_email.changed"]
    assert seen_by_wide == ["access.refused", "notification_email.changed", "payment.succeeded"]
    with pytest.raises(NotAuthorized):
        overview.audit_log(b, manager, acc.id)

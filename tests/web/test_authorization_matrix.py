"""The authorization matrix: every route of `app.url_map` × every demo role and a
stranger with accounts of their own × their own ids, another account's ids, and the
two mixes (own account with another's resource id, and the reverse). Nothing of
another account is ever readable or payable (IDOR): those answers are 404, which
does not even tell that the id exists."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import pytest
from sqlalchemy import func, select

from portal.demo import DEMO_PASSWORD
from portal.models import (AccountKind, BillingProfile, Invitation, Invoice, InvoiceStatus, Notice, Payment,
                           PaymentPurpose, PaymentRequest, PaymentRequestInvoice, RoleAssignment, User)
from tests import factories as f
from tests.conftest import FAST_HASH
from tests.web.conftest import Browser, csrf_from

# Routes that carry no ids of an account: checked on their own below.
NO_IDS = {"static", "root", "pages.home", "auth.sign_in", "auth.sign_out", "pages.accessibility",
          "pages.baseline", "account.settings",
          "people.accept",  # issue 31: an invitation's link, its token the only key (tests/web/test_i31_access_pages.py)
          "health.ready",  # readiness, open to a load balancer (tests/web/test_health.py)
          "sandbox.challenge", "favicon"}  # B13: the sandbox bank's page, no account in it (tests/web/test_authentication_pages.py)
# Sign-in security: a person's own pages, no account in them (tests/web/test_i31_sign_in_security.py);
# the signed-in ones, like every page, send a stranger to sign in (below).
SIGN_IN_SECURITY_OPEN = {"sign_in_links.forgot_password", "sign_in_links.send_unlock", "sign_in_links.email_sent",
                         "sign_in_links.reset_password", "sign_in_links.unlock", "second_factor.code",
                         "second_factor.recovery_code", "second_factor.with_code"}
SIGN_IN_SECURITY_OWN = {"second_factor.security", "second_factor.setup", "second_factor.new_recovery_codes",
                        "second_factor.forget_browsers", "second_factor.turn_off", "second_factor.step_up"}
NO_IDS |= SIGN_IN_SECURITY_OPEN | SIGN_IN_SECURITY_OWN

ADMIN, USER, OWNER, CONTRIBUTOR, MANAGER, READER = (
    "account_admin", "account_user", "owner", "contributor", "invoice_manager", "reader")
PAYING = {OWNER, CONTRIBUTOR, MANAGER}
MANAGING = {ADMIN, OWNER, CONTRIBUTOR}  # B8: who changes payment methods


def expected(endpoint: str, method: str, role: str, kind: str) -> int:
    """What a member with `role` on the account (of `kind`) gets for their own ids."""
    payg = kind == AccountKind.PAY_AS_YOU_GO
    match endpoint, method:
        case ("overview.show" | "invoices.index" | "invoices.detail" | "invoices.pdf" | "invoices.ubl"
              | "receipts.show" | "receipts.pdf" | "payments.index" | "payments.payments_csv" | "methods.index"
              | "payments.credit"  # issue 33: the credit history, for those who see Payments
              | "account.notifications" | "account.support", "GET"):
            return 200
        case ("payments.invoices_csv" | "invoices.bulk"), "GET":
            return 404 if payg else 200                            # B9, issue 30: invoices are an agreement's
        case ("statements.show" | "statements.pdf" | "statements.csv"), "GET":
            return 200                                             # issue 30: this month so far, every role
        case ("costs.show" | "costs.csv"), "GET":
            return 200                                             # issue 33: what it costs, every role
        case "costs.set_alert", "POST":
            return 422 if role in (ADMIN, OWNER) else 403          # issue 33: empty amount
        case "costs.remove_alert", "POST":
            return 303 if role in (ADMIN, OWNER) else 403          # issue 33: none set, nothing removed
        case ("methods.add_card" | "methods.move", "POST") | ("methods.preview_move", "GET"):
            return 422 if role in MANAGING else 403                # B8; empty form
        case "methods.update", "GET":
            return 200 if role in MANAGING else 403                # issue 33: a card's new expiry, in place
        case "methods.update", "POST":
            return 422 if role in MANAGING else 403                # empty form
        case ("methods.remove" | "methods.set_default"), "POST":
            return 303 if role in MANAGING else 403                # B8/R15: in use / nothing chosen, told why
        case "methods.give_mandate", "POST":
            return 422 if role in MANAGING else 403                # B23: empty form
        case "methods.give_account_mandate", "POST":               # B23: a pay-as-you-go account's mandate
            return (422 if role in MANAGING else 403) if payg else 404  # empty form; agreements: per profile
        case "methods.cancel_mandate", "POST":
            return 404                                             # B23: the matrix's method is a card, no mandate
        case "settle.start", "GET":
            return 200 if payg and role == ADMIN else 403          # R02; not for agreements
        case "settle.pay", "POST":
            return 422 if payg and role == ADMIN else 403          # empty form: "select a method"
        case "receipts.check", "POST":
            return 403 if payg and role != ADMIN else 303
        case "invoices.start", "GET":
            return 200 if role in PAYING else 403                  # R19
        case "invoices.pay", "POST":
            return 422 if role in PAYING else 403
        case "account.notifications", "POST":
            return 422 if role in (ADMIN, OWNER) else 403          # R11; empty address
        case "account.support", "POST":
            return 422                                             # empty subject
        case "account.dismiss_notice", "POST":
            return 303
        case "account.billing_details", "GET":
            return 200 if payg else 303                            # an agreement: to its profile's page
        case "account.billing_details", "POST":
            return (422 if role == ADMIN else 403) if payg else 303  # B7; empty form
        case "account.profile_billing_details", "GET":
            return 200
        case "account.profile_billing_details", "POST":
            return 422 if role == OWNER else 403
        case "account.audit_log", "GET":
            return 200 if role in (ADMIN, OWNER) else 403
        # Issue 31: the Access page. A profile's owner is taken from the account's page to
        # their profile's; the matrix's role ids are each account's last owner's (their
        # own for the owner: refused, "own last owner") and an empty role (refused).
        case "people.index", "GET":
            return (200 if role == ADMIN else 403) if payg else (303 if role == OWNER else 403)
        case "people.profile", "GET":
            return 200 if role == OWNER else 403
        case "people.invite", "POST":
            return 422 if role in (ADMIN, OWNER) else 403          # empty form
        case ("people.change" | "people.remove"), "POST":
            return 403
        case ("people.resend" | "people.withdraw"), "POST":
            return 303 if role in (ADMIN, OWNER) else 403          # sent again, then withdrawn
        # Issue 33: a subscription's page, and its confirmations. The matrix's pay-as-you-go
        # subscriptions are past due (cancel refused: 409), the agreements' running and not
        # cancelled (nothing to undo: 409); an empty form is 422 for those who may.
        case "subscriptions.show", "GET":
            return 200
        case "subscriptions.cancel", "GET":
            return 403 if role not in MANAGING else 409 if payg else 200
        case "subscriptions.undo", "GET":
            return 409 if role in MANAGING else 403
        case ("subscriptions.cancel" | "subscriptions.undo"), "POST":
            return 422 if role in MANAGING else 403
        # B21: pausing is off by default (the provider's setting) and none is paused
        # (nothing to resume): 409 with the reason for those who may, the role's first.
        case ("subscriptions.pause" | "subscriptions.resume"), "GET":
            return 409 if role in MANAGING else 403
        case ("subscriptions.pause" | "subscriptions.resume"), "POST":
            return 422 if role in MANAGING else 403
        # B24: plan changes are off by default (the provider's setting): 409 for those
        # who may, with the reason; the role's refusal first.
        case "subscriptions.change_plan", ("GET" | "POST"):
            return 409 if role in MANAGING else 403
        # B22: one OCR reference for several invoices — chosen by who may pay them (R19),
        # seen by every role on the profile; an empty form is 422.
        case "payment_requests.new", "GET":
            return 200 if role in PAYING else 403
        case "payment_requests.new", "POST":
            return 422 if role in PAYING else 403
        case "payment_requests.show", "GET":
            return 200
        case "receipts.authenticated", "GET":
            return 404                                             # B13: no payment of theirs waits under it
        case "receipts.declined", "GET":
            return 404                                             # issue 20 item 5: no decline of theirs
            # (a decline shown to its payer only: tests/web/test_issue20_findings.py)
    raise AssertionError(f"no expectation for {method} {endpoint}: add it to the matrix")


@dataclass
class Ids:
    """The ids of one account, as its members would use them."""
    kind: str
    account_id: int
    subscription_id: int
    payment_id: int
    profile_id: int | None = None
    invoice_id: int | None = None
    card_id: int | None = None
    assignment_id: int | None = None   # issue 31: the last owner's (administrator's) role
    invitation_id: int | None = None
    request_id: int | None = None      # B22: a payment request of the profile
    notice_id: dict[str, int] = field(default_factory=dict)  # per user: notices are personal

    def value(self, arg: str, email: str) -> int | None:
        if arg == "notice_id":
            return self.notice_id.get(email)
        if arg == "method_id":
            return self.card_id
        if arg == "key":  # B13: an attempt's key (none waits in the matrix)
            return "matrix-no-such-key"
        if arg == "attempt_id":  # issue 20 item 5: a declined attempt (an audit event; none is a decline here)
            return self.payment_id
        return getattr(self, arg)


@pytest.fixture
def world(demo, b):
    """The demo's two accounts, and a stranger's two (admin of one, owner of the
    other), each with a subscription, a payment and a notice per member."""
    s = b.session
    payg_payment = Payment(idempotency_key="matrix-payg-payment", account_id=demo.payg,
                           payment_method_id=demo.spare_card, purpose=PaymentPurpose.SETTLE,
                           amount_minor=100_00, currency="SEK", gateway_reference="sbx_ch_matrix",
                           created_at=b.clock.now())
    s.add(payg_payment)
    demo_agreement_payment = s.scalars(select(Invoice.payment_id).where(Invoice.id == demo.paid)).one()
    agreement_sub = s.scalars(select(RoleAssignment)).first()  # any: replaced just below
    from portal.models import Subscription
    agreement_sub = s.scalars(select(Subscription).where(Subscription.account_id == demo.agreement)).first()
    agreement_card = s.scalars(select(Payment.payment_method_id).where(Payment.id == demo_agreement_payment)).one()
    # Every card of the matrix is in use, so no role's "remove" (B8) takes one away from the next.
    s.get(BillingProfile, demo.profile).default_payment_method_id = agreement_card

    stranger = User(email="stranger@example.com", name="Sten Främling", locale="sv",
                    password_hash=__import__("werkzeug.security").security.generate_password_hash(
                        DEMO_PASSWORD, method=FAST_HASH))
    s.add(stranger)
    s.flush()
    own_payg = f.account(b)
    own_card = f.card(b, own_payg)
    own_sub = f.past_due(b, own_payg, own_card, charges=(123_00,))
    s.add(RoleAssignment(user_id=stranger.id, account_id=own_payg.id, role=ADMIN))
    own_payg_payment = Payment(idempotency_key="matrix-stranger-payg", account_id=own_payg.id,
                               payment_method_id=own_card.id, purpose=PaymentPurpose.SETTLE,
                               amount_minor=50_00, currency="SEK", gateway_reference="sbx_ch_stranger",
                               created_at=b.clock.now())
    own_agreement = f.account(b, kind=AccountKind.CUSTOMER_AGREEMENT)
    agreement_own_card = f.card(b, own_agreement)
    profile = f.profile(b, own_agreement, default=agreement_own_card)
    s.add(RoleAssignment(user_id=stranger.id, account_id=own_agreement.id, billing_profile_id=profile.id,
                         role=OWNER))
    own_agreement_sub = f.subscription(b, own_agreement, agreement_own_card, profile=profile)
    invoice = Invoice(billing_profile_id=profile.id, number="20261099990001", currency="SEK",
                      period_start=date(2026, 10, 1), period_end=date(2026, 10, 31), issued_on=date(2026, 11, 1),
                      due_on=date(2026, 12, 1), status=InvoiceStatus.DUE, subtotal_minor=777_00)
    own_agreement_payment = Payment(idempotency_key="matrix-stranger-agreement", account_id=own_agreement.id,
                                    payment_method_id=agreement_own_card.id, purpose=PaymentPurpose.INVOICE,
                                    amount_minor=10_00, currency="SEK", gateway_reference="sbx_ch_stranger2",
                                    created_at=b.clock.now())
    s.add_all([own_payg_payment, invoice, own_agreement_payment])
    s.flush()
    own_request = PaymentRequest(account_id=own_agreement.id, billing_profile_id=profile.id, created_at=b.clock.now(),
                                 amount_minor=777_00, currency="SEK",
                                 items=[PaymentRequestInvoice(invoice_id=invoice.id, amount_minor=777_00)])
    s.add(own_request)
    s.flush()
    demo_request = s.scalars(select(PaymentRequest.id).where(PaymentRequest.account_id == demo.agreement)).one()
    users = {u.email: u for u in s.scalars(select(User))}

    def last_owner(email: str, account_id: int) -> int:
        return s.scalars(select(RoleAssignment.id).where(RoleAssignment.user_id == users[email].id,
                                                         RoleAssignment.account_id == account_id)).one()

    def invitation(account_id: int, profile_id: int | None) -> int:
        row = Invitation(account_id=account_id, billing_profile_id=profile_id, email="invited@example.com",
                         role=READER if profile_id else USER, locale="sv", token_hash=f"matrix-{account_id}",
                         created_at=b.clock.now(), sent_at=b.clock.now(), expires_at=b.clock.now())
        s.add(row)
        s.flush()
        return row.id

    accounts = {
        "demo-payg": Ids(AccountKind.PAY_AS_YOU_GO, demo.payg, demo.production, payg_payment.id,
                         card_id=demo.spare_card, assignment_id=last_owner("anna@example.com", demo.payg),
                         invitation_id=invitation(demo.payg, None)),
        "demo-agreement": Ids(AccountKind.CUSTOMER_AGREEMENT, demo.agreement, agreement_sub.id,
                              demo_agreement_payment, demo.profile, demo.due, agreement_card,
                              assignment_id=last_owner("olivia@example.com", demo.agreement),
                              invitation_id=invitation(demo.agreement, demo.profile), request_id=demo_request),
        "stranger-payg": Ids(AccountKind.PAY_AS_YOU_GO, own_payg.id, own_sub.id, own_payg_payment.id,
                             card_id=own_card.id, assignment_id=last_owner("stranger@example.com", own_payg.id),
                             invitation_id=invitation(own_payg.id, None)),
        "stranger-agreement": Ids(AccountKind.CUSTOMER_AGREEMENT, own_agreement.id, own_agreement_sub.id,
                                  own_agreement_payment.id, profile.id, invoice.id, agreement_own_card.id,
                                  assignment_id=last_owner("stranger@example.com", own_agreement.id),
                                  invitation_id=invitation(own_agreement.id, profile.id), request_id=own_request.id),
    }
    members = {  # email → (account, role) for each account they belong to
        "anna@example.com": [("demo-payg", ADMIN)], "erik@example.com": [("demo-payg", USER)],
        "olivia@example.com": [("demo-agreement", OWNER)], "david@example.com": [("demo-agreement", CONTRIBUTOR)],
        "ines@example.com": [("demo-agreement", MANAGER)], "rasmus@example.com": [("demo-agreement", READER)],
        "stranger@example.com": [("stranger-payg", ADMIN), ("stranger-agreement", OWNER)],
    }
    for email, memberships in members.items():
        for name, _role in memberships:
            notice = Notice(user_id=users[email].id, account_id=accounts[name].account_id, kind="invoice_ready",
                            payload={"number": "X", "amount_minor": 1, "currency": "SEK"}, created_at=b.clock.now())
            s.add(notice)
            s.flush()
            accounts[name].notice_id[email] = notice.id
    s.commit()
    return accounts, members


def rules(app):
    """Every page's route: the provider's API (`api.*`, a token, never a session) has its
    own matrix of tokens and scopes in tests/web/test_i32_api.py and Schemathesis."""
    return [(rule.endpoint, rule.rule, method) for rule in app.url_map.iter_rules()
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"})
            if rule.endpoint not in NO_IDS and not rule.endpoint.startswith("api.")]


def url(rule: str, values: dict) -> str:
    path = rule.replace("<lang:lang>", "en")
    for name, value in values.items():
        path = path.replace(f"<int:{name}>", str(value)).replace(f"<{name}>", str(value))
    assert "<" not in path, path
    return path


def call(browser: Browser, method: str, path: str, token: str):
    if method == "GET":
        return browser.get(path)
    return browser.post(path, {"csrf_token": token})


def test_every_route_every_role_own_and_other_ids(app, client, world, b):
    accounts, members = world
    payments_before = b.session.scalar(select(func.count()).select_from(Payment))
    routes = rules(app)
    covered = {endpoint for endpoint, _, _ in routes}
    assert {"settle.pay", "invoices.pay", "account.audit_log", "account.dismiss_notice"} <= covered
    failures = []
    for email, memberships in members.items():
        browser = Browser(app.test_client())
        browser.sign_in(email, "en")
        own_names = {name for name, _ in memberships}
        token = csrf_from(browser.get(f"/en/accounts/{accounts[memberships[0][0]].account_id}/").get_data(as_text=True))
        for endpoint, rule, method in routes:
            args = [a for a in app.url_map._rules_by_endpoint[endpoint][0].arguments if a != "lang"]
            for own_name, role in memberships:
                own = accounts[own_name]
                own_values = {a: own.value(a, email) for a in args}
                if None in own_values.values():
                    continue  # this kind of account has no such resource (a profile of a pay-as-you-go one)
                cases = [("own", own_values, expected(endpoint, method, role, own.kind))]
                for other_name, other in accounts.items():
                    if other_name in own_names:
                        continue
                    other_values = {a: other.value(a, email) or other.value(a, next(iter(other.notice_id)))
                                    for a in args}
                    if None not in other_values.values():
                        cases.append((f"other:{other_name}", other_values, 404))
                    for arg in args:
                        if arg != "account_id" and other_values[arg] is not None:
                            # own account, another account's resource id
                            cases.append((f"mixed:{other_name}:{arg}", {**own_values, arg: other_values[arg]}, 404))
                    if len(args) > 1:  # another account's address, own resource id
                        cases.append((f"swapped:{other_name}", {**own_values, "account_id": other.account_id}, 404))
                for case, values, want in cases:
                    response = call(browser, method, url(rule, values), token)
                    if response.status_code != want:
                        failures.append((email, method, endpoint, case, want, response.status_code))
                    if want == 404:
                        body = response.get_data(as_text=True)
                        assert "Page not found" in body, (email, endpoint, case)
    assert failures == [], "\n".join(map(str, failures))
    # Nothing was paid by any of it.
    assert b.gateway.charges_for() == []
    b.session.rollback()
    assert b.session.scalar(select(func.count()).select_from(Payment)) == payments_before


def test_routes_without_ids(app, client, world):
    """Home, sign-in and sign-out for each person; and, signed out, every route of the
    matrix sends the visitor to sign in (even a POST with a valid form token)."""
    accounts, members = world
    for email in members:
        browser = Browser(app.test_client())
        browser.sign_in(email, "en")
        home = browser.get("/en/")
        assert home.status_code == (200 if email == "stranger@example.com" else 302)
        assert browser.get("/en/sign-in").status_code == 200
        assert browser.post("/en/sign-out", {}, token_from="/en/sign-in").status_code == 303
        assert browser.get(f"/en/accounts/{accounts[members[email][0][0]].account_id}/").status_code == 302
    anonymous = Browser(app.test_client())
    assert anonymous.get("/en/accessibility").status_code == 200  # the statement is for everyone
    assert anonymous.get("/healthz").status_code == 200  # and readiness for a load balancer
    assert anonymous.get("/en/benchmark/baseline").status_code == 302
    signed_in = Browser(app.test_client())
    signed_in.sign_in("anna@example.com", "en")
    assert signed_in.get("/en/benchmark/baseline").status_code == 404  # only with PORTAL_BENCHMARK=1
    token = csrf_from(anonymous.get("/en/sign-in").get_data(as_text=True))
    for endpoint, rule, method in rules(app):
        values = {a: 1 for a in app.url_map._rules_by_endpoint[endpoint][0].arguments if a != "lang"}
        response = call(anonymous, method, url(rule, values), token)
        assert response.status_code == 302 and "/en/sign-in?next=" in response.location, (method, endpoint)


def test_idor_complete_payment_forms_for_another_accounts_ids_pay_nothing(browser, world, b):
    """Not just empty forms: a full, well-formed payment aimed at the stranger's
    subscription, profile, invoice and card from Anna's and David's own pages."""
    accounts, _ = world
    mine, theirs = accounts["demo-payg"], accounts["stranger-payg"]
    browser.sign_in("anna@example.com", "en")
    token = csrf_from(browser.get(f"/en/accounts/{mine.account_id}/").get_data(as_text=True))
    form = {"csrf_token": token, "method": str(mine.card_id), "expected_total": "12300",
            "idempotency_key": "idor-0000000001"}
    for account_id, subscription_id, method in [
            (mine.account_id, theirs.subscription_id, mine.card_id),     # their balance, my card
            (theirs.account_id, theirs.subscription_id, theirs.card_id),  # their everything
            (mine.account_id, mine.subscription_id, theirs.card_id)]:     # my balance, their card
        response = browser.post(f"/en/accounts/{account_id}/subscriptions/{subscription_id}/settle",
                                form | {"method": str(method), "expected_total": "285800"})
        assert response.status_code == 404, (account_id, subscription_id, method)
    shown = browser.get(f"/en/accounts/{mine.account_id}/subscriptions/{mine.subscription_id}/settle"
                        f"?method={theirs.card_id}")
    assert shown.status_code == 422  # not one of my cards: "select a payment method"
    browser.post("/en/sign-out", {"csrf_token": token})

    agreement, their_agreement = accounts["demo-agreement"], accounts["stranger-agreement"]
    browser.sign_in("david@example.com", "en")
    token = csrf_from(browser.get(f"/en/accounts/{agreement.account_id}/").get_data(as_text=True))
    base = f"/en/accounts/{agreement.account_id}/profiles/{agreement.profile_id}/pay"
    assert browser.get(f"{base}?invoice={their_agreement.invoice_id}").status_code == 404
    for path, method in [(f"{base}?invoice={their_agreement.invoice_id}", agreement.card_id),
                         (f"/en/accounts/{agreement.account_id}/profiles/{their_agreement.profile_id}/pay",
                          agreement.card_id),
                         (base, their_agreement.card_id)]:
        response = browser.post(path, {"csrf_token": token, "method": str(method), "expected_total": "1578000",
                                       "idempotency_key": "idor-0000000002"})
        assert response.status_code == 404, path
    assert b.gateway.charges_for() == []

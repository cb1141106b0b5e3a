"""Every page in every state, reached the way a person reaches it: each function
takes a page (with page.base and page.lang) and the demo's ids, and gets there by
the real interaction (the htmx partial swapped in by choosing, the form submitted
with errors). test_axe.py checks each of them; test_layout.py reuses them."""
from __future__ import annotations

from tests.browser.a11y import swaps, wait_for_swap

ANNA, ERIK = "anna@example.com", "erik@example.com"
OLIVIA, RASMUS = "olivia@example.com", "rasmus@example.com"
SARA = "sara@example.com"   # B23: the demo's customer paying by Autogiro


def submit(page, selector="main button[type=submit]"):
    with page.expect_navigation():
        page.click(selector)


def choose(page, value):
    """Select a payment method with the mouse: htmx swaps in the payment panel."""
    before = swaps(page)
    page.check(f"input[name=method][value='{value}']")
    wait_for_swap(page, before)


def settle(page, ids):
    page.goto(f"{page.base}/{page.lang}/accounts/{ids['payg']}/subscriptions/{ids['production']}/settle")


def pay_now(page, ids):
    page.goto(f"{page.base}/{page.lang}/accounts/{ids['agreement']}/profiles/{ids['profile']}/pay")


def sign_in_errors(page, ids):
    page.goto(f"{page.base}/{page.lang}/sign-in")
    submit(page)


def wrong_password(page, ids):
    page.goto(f"{page.base}/{page.lang}/sign-in")
    page.fill("#email", ANNA)
    page.fill("#password", "not-the-password")
    submit(page)


def settle_saved_card_with_charges(page, ids):  # R08: the chosen card's own charges are added
    settle(page, ids)
    choose(page, ids["card_4444"])


def settle_add_card(page, ids):
    settle(page, ids)
    choose(page, "new")


def settle_card_errors(page, ids):
    settle_add_card(page, ids)
    page.fill("#card_number", "4242 4242 4242 4241")
    submit(page, "#payment-panel button[type=submit]")


def settle_balance_changed(page, ids):
    settle(page, ids)
    choose(page, ids["card_4242"])
    # The page was shown with another total than the one the server now has.
    page.eval_on_selector("input[name=expected_total]", "el => { el.value = '1'; }")
    submit(page, "#payment-panel button[type=submit]")


def settle_declined(page, ids):  # R10: the card the gateway declines
    settle(page, ids)
    choose(page, ids["card_0002"])
    submit(page, "#payment-panel button[type=submit]")


def notifications_errors(page, ids):
    page.goto(f"{page.base}/{page.lang}/accounts/{ids['payg']}/notifications")
    page.fill("#email", "not an address")
    submit(page)


def support_errors(page, ids):
    page.goto(f"{page.base}/{page.lang}/accounts/{ids['payg']}/support")
    submit(page)


def billing_details_errors(page, ids):
    page.goto(f"{page.base}/{page.lang}/accounts/{ids['agreement']}/profiles/{ids['profile']}/billing-details")
    page.fill("#org_number", "556677-8898")
    page.fill("#city", "")
    submit(page)


def invoices_filtered(page, ids):
    page.goto(f"{page.base}/{page.lang}/accounts/{ids['agreement']}/invoices")
    before = swaps(page)
    page.select_option("#status", "paid")
    wait_for_swap(page, before)


def pay_now_saved_card(page, ids):
    pay_now(page, ids)
    choose(page, ids["agreement_card"])


def pay_now_add_card(page, ids):
    pay_now(page, ids)
    choose(page, "new")


def add_card_errors(page, ids):  # B8: a card number that fails its check digit
    page.goto(f"{page.base}/{page.lang}/accounts/{ids['payg']}/payment-methods")
    page.fill("#card_number", "4242 4242 4242 4241")
    page.fill("#exp_month", "04")
    page.fill("#exp_year", "2031")
    page.fill("#cvc", "123")
    page.fill("#holder", "Anna Lindqvist")
    submit(page, "form[action$='/payment-methods/cards'] button[type=submit]")


def move_preview(page, ids):  # B8: what moves, shown before anything moves
    page.goto(f"{page.base}/{page.lang}/accounts/{ids['payg']}/payment-methods")
    page.check(f"input[name=subscriptions][value='{ids['production']}']")
    page.select_option("#to", str(ids["card_4444"]))
    submit(page, "form[action$='/payment-methods/move'] button[type=submit]")


def autogiro_errors(page, ids):  # B23: a clearing number no bank has, and the mandate not accepted
    page.goto(f"{page.base}/{page.lang}/accounts/{ids['agreement']}/payment-methods")
    prefix = f"#ag{ids['profile']}-"
    page.fill(prefix + "clearing", "0999")
    page.fill(prefix + "account_number", "5735211")
    submit(page, "form[action$='/autogiro'] button[type=submit]")


def payg_autogiro_errors(page, ids):  # B23 for pay-as-you-go: the account's mandate, a clearing number no bank has
    page.goto(f"{page.base}/{page.lang}/accounts/{ids['payg']}/payment-methods")
    page.fill("#ag-clearing", "0999")
    page.fill("#ag-account_number", "5735211")
    submit(page, "form[action$='/autogiro'] button[type=submit]")


def access_errors(page, ids):  # issue 31: the invitation form sent empty
    page.goto(f"{page.base}/{page.lang}/accounts/{ids['agreement']}/profiles/{ids['profile']}/access")
    submit(page, "form[action$='/access/invite'] button[type=submit]")


def forgot_password_errors(page, ids):  # issue 31
    page.goto(f"{page.base}/{page.lang}/forgot-password")
    submit(page)


def authenticator_setup_errors(page, ids):  # issue 31: a wrong code (nothing is turned on)
    page.goto(f"{page.base}/{page.lang}/security/authenticator")
    page.fill("#code", "000000")
    submit(page)


def update_card_errors(page, ids):  # issue 33 item 3: a date that has passed, no name
    page.goto(f"{page.base}/{page.lang}/accounts/{ids['payg']}/payment-methods/{ids['card_4242']}/update")
    page.fill("#exp_year", "2025")
    page.fill("#holder", "")
    submit(page, "form[action$='/update'] button[type=submit]")


def spending_alert_errors(page, ids):  # issue 33 item 2: an amount that is no number
    page.goto(f"{page.base}/{page.lang}/accounts/{ids['payg']}/costs")
    page.fill("#amount", "tusen")
    submit(page, "form[action$='/costs/alert'] button[type=submit]")


def change_plan_errors(page, ids):  # B24: no plan chosen
    page.goto(f"{page.base}/{page.lang}/accounts/{ids['payg']}/subscriptions/{ids['intranet']}/plan")
    submit(page, "form[action$='/plan'] button[type=submit]")


def subscription_spending_alert(page, ids):  # issue 33 item 2: one subscription's alert, listed
    page.goto(f"{page.base}/{page.lang}/accounts/{ids['payg']}/costs")
    page.select_option("#applies_to", str(ids["archive"]))
    page.fill("#amount", "500")
    submit(page, "form[action$='/costs/alert'] button[type=submit]")


def one_transfer_errors(page, ids):  # B22: fewer than two invoices chosen
    page.goto(f"{page.base}/{page.lang}/accounts/{ids['agreement']}/profiles/{ids['profile']}/one-transfer")
    page.locator("input[name=invoices]").first.uncheck()
    submit(page, "form[action$='/one-transfer'] button[type=submit]")


def go(path):
    def _go(page, ids):
        page.goto(f"{page.base}/{page.lang}" + path.format(**ids))
    return _go


STATES = {
    # signed out
    "sign-in": (None, go("/sign-in")),
    "sign-in-with-errors": (None, sign_in_errors),
    "sign-in-wrong-password": (None, wrong_password),
    "404-signed-out": (None, go("/no-such-page")),
    "accessibility-statement": (None, go("/accessibility")),
    # issue 31: password reset and the links sent by email (the code pages, the recovery
    # codes and the paused sign-in are checked along tests/browser/test_i31_sign_in_security.py)
    "forgot-password": (None, go("/forgot-password")),
    "forgot-password-with-errors": (None, forgot_password_errors),
    "email-sent": (None, go("/email-sent")),
    "link-not-valid": (None, go("/reset-password/no-such-link")),
    # account administrator, pay-as-you-go
    "overview-account-admin": (ANNA, go("/accounts/{payg}/")),
    "settle-no-method": (ANNA, settle),
    "settle-saved-card-with-own-charges": (ANNA, settle_saved_card_with_charges),
    "settle-add-card": (ANNA, settle_add_card),
    "settle-card-errors": (ANNA, settle_card_errors),
    "settle-balance-changed": (ANNA, settle_balance_changed),
    "settle-declined": (ANNA, settle_declined),
    "settle-unknown-method": (ANNA, go("/accounts/{payg}/subscriptions/{production}/settle?method=999999")),
    "settle-disabled-subscription": (ANNA, go("/accounts/{payg}/subscriptions/{archive}/settle")),
    "notifications": (ANNA, go("/accounts/{payg}/notifications")),
    "notifications-with-errors": (ANNA, notifications_errors),
    "support": (ANNA, go("/accounts/{payg}/support?subscription={archive}")),
    "support-with-errors": (ANNA, support_errors),
    "404-signed-in": (ANNA, go("/accounts/999999/")),
    "payments": (ANNA, go("/accounts/{payg}/payments")),
    "payments-with-errors": (ANNA, go("/accounts/{payg}/payments?first=31%2F12%2F2026")),
    "payment-methods": (ANNA, go("/accounts/{payg}/payment-methods")),
    "payment-methods-add-card-errors": (ANNA, add_card_errors),
    "payment-methods-move-preview": (ANNA, move_preview),
    "payment-methods-update-card": (ANNA, go("/accounts/{payg}/payment-methods/{card_4242}/update")),
    "payment-methods-update-card-errors": (ANNA, update_card_errors),
    # Issue 33: a subscription's page and its confirmations (allowed, refused while past due).
    "subscription": (ANNA, go("/accounts/{payg}/subscriptions/{intranet}")),
    "subscription-past-due": (ANNA, go("/accounts/{payg}/subscriptions/{production}")),
    "subscription-cancel": (ANNA, go("/accounts/{payg}/subscriptions/{intranet}/cancel")),
    "subscription-cancel-past-due": (ANNA, go("/accounts/{payg}/subscriptions/{production}/cancel")),
    # B24: the plans offered (the test site's SUBSCRIPTION_PLANS), none chosen, refused while past due.
    "subscription-change-plan": (ANNA, go("/accounts/{payg}/subscriptions/{intranet}/plan")),
    "subscription-change-plan-errors": (ANNA, change_plan_errors),
    "subscription-change-plan-past-due": (ANNA, go("/accounts/{payg}/subscriptions/{production}/plan")),
    # B21: the pause confirmation (the test site's provider allows pauses), refused while
    # past due, and Resume of one not paused (refused). A paused subscription's page and
    # its Resume confirmation are checked with axe along the keyboard walk
    # (tests/browser/test_i33_cancel_subscription.py), which pauses one on a site of its own.
    "subscription-pause": (ANNA, go("/accounts/{payg}/subscriptions/{intranet}/pause")),
    "subscription-pause-past-due": (ANNA, go("/accounts/{payg}/subscriptions/{production}/pause")),
    "subscription-resume-not-paused": (ANNA, go("/accounts/{payg}/subscriptions/{intranet}/resume")),
    "my-settings": (ANNA, go("/settings")),
    "audit-log": (ANNA, go("/accounts/{payg}/audit")),
    "404-unknown-address-signed-in": (ANNA, go("/no-such-page")),
    "accessibility-statement-signed-in": (ANNA, go("/accessibility")),
    # not the account administrator
    "overview-user": (ERIK, go("/accounts/{payg}/")),
    "statement-payg-user": (ERIK, go("/accounts/{payg}/statement")),
    "notifications-user": (ERIK, go("/accounts/{payg}/notifications")),
    "403-settle-user": (ERIK, go("/accounts/{payg}/subscriptions/{production}/settle")),
    "payment-methods-user": (ERIK, go("/accounts/{payg}/payment-methods")),
    "403-subscription-cancel-user": (ERIK, go("/accounts/{payg}/subscriptions/{intranet}/cancel")),
    # owner, customer agreement
    "overview-owner": (OLIVIA, go("/accounts/{agreement}/")),
    "invoices": (OLIVIA, go("/accounts/{agreement}/invoices")),
    "invoices-filtered": (OLIVIA, invoices_filtered),
    "billing-details": (OLIVIA, go("/accounts/{agreement}/profiles/{profile}/billing-details")),
    "billing-details-with-errors": (OLIVIA, billing_details_errors),
    "invoice-detail": (OLIVIA, go("/accounts/{agreement}/invoices/{due_invoice}")),
    "invoice-detail-paid": (OLIVIA, go("/accounts/{agreement}/invoices/{paid_invoice}")),
    "pay-now-no-method": (OLIVIA, pay_now),
    "pay-now-saved-card": (OLIVIA, pay_now_saved_card),
    "pay-now-add-card": (OLIVIA, pay_now_add_card),
    "pay-now-part": (OLIVIA, go("/accounts/{agreement}/profiles/{profile}/pay?method={agreement_card}&part=1000")),
    "pay-now-part-errors": (OLIVIA, go("/accounts/{agreement}/profiles/{profile}/pay?part=5")),
    "receipt-invoice": (OLIVIA, go("/accounts/{agreement}/payments/{invoice_payment}")),
    "payments-owner": (OLIVIA, go("/accounts/{agreement}/payments")),
    # issue 33 item 4: the credit history (the demo has had no credit: the page says so;
    # with entries it is checked along tests/browser/test_b15_credit_history.py)
    "credit-history-owner": (OLIVIA, go("/accounts/{agreement}/credit")),
    "payment-methods-owner": (OLIVIA, go("/accounts/{agreement}/payment-methods")),
    # B22: one OCR reference for several invoices — the choice, its error, the request, as a reader.
    "one-transfer-choose": (OLIVIA, go("/accounts/{agreement}/profiles/{profile}/one-transfer")),
    "one-transfer-with-errors": (OLIVIA, one_transfer_errors),
    "one-transfer-request": (OLIVIA, go("/accounts/{agreement}/one-transfer/{payment_request}")),
    "one-transfer-request-reader": (RASMUS, go("/accounts/{agreement}/one-transfer/{payment_request}")),
    "payment-methods-autogiro-errors": (OLIVIA, autogiro_errors),  # B23
    "payment-methods-payg-autogiro-errors": (ANNA, payg_autogiro_errors),  # B23, issue 34 Deliver 1
    # B23: an active mandate — its status and next draw on Overview, Invoices, the invoice.
    "overview-autogiro": (SARA, go("/accounts/{autogiro}/")),
    "invoices-autogiro": (SARA, go("/accounts/{autogiro}/invoices")),
    "invoice-detail-autogiro": (SARA, go("/accounts/{autogiro}/invoices/{autogiro_invoice}")),
    "subscription-cancelled-owner": (OLIVIA, go("/accounts/{agreement}/subscriptions/{customer_portal}")),
    "subscription-undo-owner": (OLIVIA, go("/accounts/{agreement}/subscriptions/{customer_portal}/undo-cancel")),
    "statement-owner": (OLIVIA, go("/accounts/{agreement}/statement?first=2026-01-01&last=2026-11-25")),
    "statement-with-errors": (OLIVIA, go("/accounts/{agreement}/statement?first=2026-13-01&last=2026-11-25")),
    "invoices-download": (OLIVIA, go("/accounts/{agreement}/invoices/download")),
    "invoices-download-with-errors": (OLIVIA, go("/accounts/{agreement}/invoices/download?last=2026-11-30")),
    "invoices-download-none": (OLIVIA, go("/accounts/{agreement}/invoices/download?first=2020-01-01&last=2020-12-31")),
    # reader
    "overview-reader": (RASMUS, go("/accounts/{agreement}/")),
    "sign-in-security": (RASMUS, go("/security")),
    "authenticator-setup": (RASMUS, go("/security/authenticator")),
    "authenticator-setup-with-errors": (RASMUS, authenticator_setup_errors),
    "invoices-reader": (RASMUS, go("/accounts/{agreement}/invoices")),
    "billing-details-reader": (RASMUS, go("/accounts/{agreement}/profiles/{profile}/billing-details")),
    "403-pay-now-reader": (RASMUS, go("/accounts/{agreement}/profiles/{profile}/pay")),
    "payment-methods-reader": (RASMUS, go("/accounts/{agreement}/payment-methods")),
    # Issue 31: the Access page (Åtkomst), its invitation form with errors, a dead invitation link.
    "access-owner": (OLIVIA, go("/accounts/{agreement}/profiles/{profile}/access")),
    "access-with-errors": (OLIVIA, access_errors),
    "access-account-admin": (ANNA, go("/accounts/{payg}/access")),
    "invitation-link-unknown": (None, go("/invitations/0123456789abcdef")),
    # Issue 33 item 2: Costs (table, chart, alert form), its errors, as a reader, a customer agreement's.
    "costs": (ANNA, go("/accounts/{payg}/costs")),
    "costs-alert-errors": (ANNA, spending_alert_errors),
    "costs-subscription-alert": (ANNA, subscription_spending_alert),
    "costs-user": (ERIK, go("/accounts/{payg}/costs")),
    "costs-owner": (OLIVIA, go("/accounts/{agreement}/costs")),
}

EXPECTED_STATUS = {"sign-in-with-errors": 422, "sign-in-wrong-password": 422, "404-signed-out": 404,
                   "settle-card-errors": 422, "settle-unknown-method": 422,
                   "404-unknown-address-signed-in": 404, "settle-balance-changed": 409, "settle-declined": 402,
                   "notifications-with-errors": 422, "billing-details-with-errors": 422, "support-with-errors": 422, "404-signed-in": 404,
                   "403-settle-user": 403, "403-pay-now-reader": 403, "pay-now-part-errors": 422,
                   "payments-with-errors": 422, "payment-methods-add-card-errors": 422,
                   "statement-with-errors": 422, "one-transfer-with-errors": 422, "invoices-download-with-errors": 422,
                   "access-with-errors": 422, "invitation-link-unknown": 404,
                   "forgot-password-with-errors": 422, "link-not-valid": 410, "authenticator-setup-with-errors": 422,
                   "payment-methods-update-card-errors": 422,
                   "subscription-cancel-past-due": 409, "403-subscription-cancel-user": 403,
                   "costs-alert-errors": 422, "payment-methods-autogiro-errors": 422,
                   "payment-methods-payg-autogiro-errors": 422,
                   "subscription-change-plan-errors": 422, "subscription-change-plan-past-due": 409,
                   "subscription-pause-past-due": 409, "subscription-resume-not-paused": 409}

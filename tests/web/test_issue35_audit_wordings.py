"""Issue 35 a11y-1: every action the audit log records reads as a sentence in Swedish
and English — never a raw code such as "payment.form_reused" read aloud by a screen
reader. The actions are notify.AUDIT_ACTIONS; `notify.audit` refuses any other."""
from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import pytest
from flask_babel import force_locale

from portal.billing.accounts import notify
from portal.config import ROOT
from portal.wording import audit_text

VISA = {"kind": "card", "brand": "visa", "last4": "4242"}
PAID = {"amount_minor": 814000, "currency": "SEK", "method": VISA}

# A recorded example of each action's details (as the code that records it writes them).
EXAMPLES = {
    "access.refused": {"attempted": "settle", "reason": "not_account_admin"},
    "api.request": {"token": "erp", "method": "POST", "path": "/api/v1/accounts", "status": 201},
    "billing_details.changed": {"company_name": "Nordlund Konsult AB"},
    "charge.failed": {**PAID, "subscription": "Arkiv", "reason": "insufficient_funds"},
    "charge.retry_failed": {"subscription_id": 1, "subscription": "Arkiv", "reason": "insufficient_funds",
                            "retries": 2, "next_retry_on": "2026-12-10"},
    "credit.added": {"payment_id": 1, "amount_minor": 100000, "currency": "SEK", "reason": "overpaid"},
    "credit.refunded": {"payment_id": 1, "amount_minor": 100000, "currency": "SEK", "how": "card", "method": VISA},
    "invitation.accepted": {"person": "Eva Berg", "person_email": "eva@example.com", "role": "owner",
                            "from_role": None, "scope": "Sverige", "change": "granted"},
    "invitation.sent": {"email": "eva@example.com", "role": "reader", "scope": None},
    "invitation.withdrawn": {"email": "eva@example.com", "role": "reader"},
    "notification_email.changed": {"old": "a@example.com", "new": "b@example.com"},
    "payment.authentication_requested": {**PAID, "purpose": "settle"},
    "payment.declined": {**PAID, "reason": "insufficient_funds"},
    "payment.form_reused": PAID,
    "payment.gateway_unavailable": PAID,
    "payment.succeeded": {**PAID, "subscriptions": ["Arkiv"], "subscription_count": 1},
    "payment.unconfirmed": PAID,
    "payment_method.added": {"method": VISA},
    "payment_method.declined": {"method": VISA, "reason": "card_declined"},
    "payment_method.default_changed": {"method": VISA, "profile": "Sverige"},
    "payment_method.expiry_reminded": {"method": VISA, "expires_on": "2026-12-31"},
    "payment_method.removed": {"method": VISA},
    "spending_alert.set": {"amount_minor": 500000, "currency": "SEK"},
    "spending_alert.removed": {"amount_minor": 500000, "currency": "SEK"},
    "spending_alert.reached": {"percent": 80, "spent_minor": 400000, "amount_minor": 500000, "currency": "SEK",
                               "month": "2026-12-01"},
    "payment_method.updated": {"method": VISA, "expires_on": "2031-04-30", "from_expires_on": "2030-12-31"},
    "payment_method.update_declined": {"method": VISA, "reason": "card_declined"},
    "payment_method.switched": {"method": VISA, "from_method": VISA, "subscriptions": ["Arkiv"]},
    "role.changed": {"person": "Eva Berg", "person_email": "eva@example.com", "role": "reader",
                     "from_role": "owner", "scope": "Sverige", "change": "changed"},
    "role.granted": {"person": "Eva Berg", "person_email": "eva@example.com", "role": "account_admin",
                     "from_role": None, "scope": None, "change": "granted"},
    "role.removed": {"person": "Eva Berg", "person_email": "eva@example.com", "role": "contributor",
                     "from_role": "contributor", "scope": None, "change": "removed"},
    "payment_request.created": {"request_id": 1, "reference": "000000000125", "invoices": ["10001", "10002"],
                                "amount_minor": 300000, "currency": "SEK", "replaced": []},
    "password.reset": {},
    "second_factor.enabled": {},
    "second_factor.reset": {"user_id": 1, "how": "provider"},
    "settings.changed": {"before": {"locale": "sv"}, "after": {"locale": "en"}},
    "subscription.deleted": {"subscription": "Arkiv"},
    "subscription.disable_warning": {"subscription": "Arkiv", "disable_on": "2026-12-24", "days_before": 7},
    "subscription.disabled": {"subscription": "Arkiv", "delete_on": "2027-03-24"},
    "subscriptions.moved": {"method": VISA, "subscriptions": ["Arkiv"]},
    # Issue 33: cancelled at the end of the period, undone, ended by the cycle.
    "subscription.cancel_planned": {"subscription": "Intranät", "cancel_at": "2027-01-01", "last_day": "2026-12-31"},
    "subscription.cancel_undone": {"subscription": "Intranät", "cancel_at": "2027-01-01", "last_day": "2026-12-31"},
    "subscription.cancelled": {"subscription": "Intranät", "cancel_at": "2027-01-01", "last_day": "2026-12-31"},
    "subscription.plan_changed": {"subscription": "Intranät", "old_plan": "Bas", "plan": "Standard",
                                  "old_amount_minor": 29000, "amount_minor": 59000, "currency": "SEK",
                                  "price_from": "2026-12-01"},
    # B21: paused and resumed.
    "subscription.paused": {"subscription": "Intranät", "paused_on": "2026-11-25"},
    "subscription.resumed": {"subscription": "Intranät", "paused_on": "2026-11-25", "resumed_on": "2026-12-03"},
}


def test_i35_a11y1_every_recorded_action_has_an_example_here():
    assert set(EXAMPLES) == notify.AUDIT_ACTIONS


@pytest.mark.parametrize("action", sorted(notify.AUDIT_ACTIONS))
def test_i35_a11y1_every_recorded_action_reads_as_a_sentence_in_both_languages(app, action):
    event = SimpleNamespace(action=action, details=EXAMPLES[action])
    with app.test_request_context():
        with force_locale("sv"):
            swedish = audit_text(event)
        with force_locale("en"):
            english = audit_text(event)
    for text in (swedish, english):
        assert action not in text and "%(" not in text, text
        assert not text.startswith(("Other event", "Annan händelse")), text
        assert text.rstrip().endswith("."), text
    assert not re.search(r"\b(the|was|were|with|has|been|to|of)\b", swedish), swedish  # translated


def test_i35_a11y1_an_action_without_a_wording_cannot_be_recorded(b):
    with pytest.raises(ValueError, match="AUDIT_ACTIONS"):
        notify.audit(b.session, b.clock, "payment.something_new", account_id=None)


def test_i35_a11y1_every_action_named_in_the_code_is_listed():
    """The code's literal action names (audit(…, "x.y"), close_attempt(…, "x.y"), _event(now, "x.y"))."""
    named = set()
    for path in (ROOT / "portal").rglob("*.py"):
        source = Path(path).read_text(encoding="utf-8")
        named |= set(re.findall(r'(?:audit\(|close_attempt\(|_event\()[^()"]*?"([a-z_]+\.[a-z_]+)"', source, re.S))
    assert named and named <= notify.AUDIT_ACTIONS, named - notify.AUDIT_ACTIONS

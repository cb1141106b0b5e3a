"""Web fixtures: the demo data, a signed-in client, CSRF tokens read from pages."""
from __future__ import annotations

import re
from html import unescape

import pytest
from sqlalchemy import select

from sqlalchemy.orm import Session

from portal.billing.context import Billing
from portal.demo import DEMO_PASSWORD, seed_demo
from portal.extensions import db
from portal.services import policy
from portal.models import BillingAccount, BillingProfile, Invoice, PaymentMethod, PaymentRequest, Subscription
from tests.conftest import FAST_HASH


@pytest.fixture
def b(app, clock):
    """For web tests: a session of its own, like another process looking at the same
    database — and no application context held open around the client's requests
    (it would share `g` between requests)."""
    with app.app_context():
        engine, rules = db.engine, policy()
    session = Session(engine)
    yield Billing(session, app.extensions["payment_gateway"], clock, rules)
    session.close()


@pytest.fixture
def demo(b):
    seed_demo(b, FAST_HASH)
    s = b.session
    payg = s.scalars(select(BillingAccount).where(BillingAccount.name == "Nordlund Konsult AB")).one()
    eu = s.scalars(select(BillingAccount).where(BillingAccount.name == "Brandt Software GmbH")).one()
    agreement = s.scalars(select(BillingAccount).where(BillingAccount.name == "Fjällström Logistik AB")).one()
    autogiro = s.scalars(select(BillingAccount).where(BillingAccount.name == "Sjöberg Bygg AB")).one()  # B23
    subs = {x.name: x for x in s.scalars(select(Subscription))}
    cards = {m.last4: m for m in s.scalars(select(PaymentMethod).where(PaymentMethod.account_id == payg.id))}
    profile = s.scalars(select(BillingProfile).where(BillingProfile.account_id == agreement.id)).one()
    invoices = {i.status: i for i in s.scalars(select(Invoice).where(Invoice.billing_profile_id == profile.id))}
    ids = dict(payg=payg.id, eu=eu.id, agreement=agreement.id, profile=profile.id, autogiro=autogiro.id,
               production=subs["Webbshop – produktion"].id, testing=subs["Webbshop – test"].id,
               backup=subs["Säkerhetskopiering"].id, intranet=subs["Intranät"].id, archive=subs["Arkiv"].id,
               customer_portal=subs["Kundportal"].id,
               failed_card=cards["9995"].id, second_card=cards["4444"].id, spare_card=cards["4242"].id,
               declining_card=cards["0002"].id,
               due=invoices["due"].id, past_due=invoices["past_due"].id, paid=invoices["paid"].id,
               request=s.scalars(select(PaymentRequest.id)).one())  # B22: the seed's payment request
    s.commit()
    return type("Demo", (), ids)


CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|<meta name="csrf-token" content="([^"]+)"')


def csrf_from(html: str) -> str:
    match = CSRF.search(html)
    assert match, "no CSRF token on the page"
    return unescape(match.group(1) or match.group(2))


def hidden(html: str, name: str) -> str:
    match = re.search(rf'<input[^>]*name="{name}"[^>]*value="([^"]*)"', html) or \
        re.search(rf'<input[^>]*value="([^"]*)"[^>]*name="{name}"', html)
    assert match, f"no hidden field {name}"
    return unescape(match.group(1))


class Browser:
    """A test client that behaves like a browser without JavaScript."""

    def __init__(self, client):
        self.client = client
        self.last = None

    def get(self, url, **kw):
        self.last = self.client.get(url, **kw)
        return self.last

    def post(self, url, data=None, token_from=None, **kw):
        data = dict(data or {})
        if "csrf_token" not in data:
            page = self.client.get(token_from or url).get_data(as_text=True)
            data["csrf_token"] = csrf_from(page)
        self.last = self.client.post(url, data=data, **kw)
        return self.last

    def sign_in(self, email, lang="sv"):
        response = self.post(f"/{lang}/sign-in", {"email": email, "password": DEMO_PASSWORD})
        assert response.status_code == 303, response.get_data(as_text=True)[:500]
        return response


@pytest.fixture
def browser(client):
    return Browser(client)


def sign_in_as(browser, email, lang="sv"):
    browser.sign_in(email, lang)
    return browser

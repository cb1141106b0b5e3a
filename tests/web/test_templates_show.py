"""Issue 15: views compute, templates show — no template sends a query while it
renders (a lazy load, a role check in the layout), on any page, signed in as each kind
of payer. What a page shows is loaded before `render` is called, where the query
budgets (test_performance.py) can see it."""
from __future__ import annotations

import pytest
from flask import before_render_template, request, template_rendered
from sqlalchemy import event, select

from portal.extensions import db
from portal.billing import payments
from portal.billing.payments import UseSavedCard
from portal.errors import CardDeclined
from portal.models import Invoice, User
from tests.web.conftest import sign_in_as

PAGES = [  # (who, address)
    ("anna@example.com", "/{lang}/accounts/{payg}/"),
    ("anna@example.com", "/{lang}/accounts/{payg}/subscriptions/{production}/settle"),
    ("anna@example.com", "/{lang}/accounts/{payg}/subscriptions/{production}/settle?method={second_card}"),
    ("anna@example.com", "/{lang}/accounts/{payg}/subscriptions/{production}/settle?method=new"),
    ("anna@example.com", "/{lang}/accounts/{payg}/payments/{payment}"),
    ("anna@example.com", "/{lang}/accounts/{payg}/notifications"),
    ("anna@example.com", "/{lang}/accounts/{payg}/support"),
    ("anna@example.com", "/{lang}/accounts/{payg}/support?payment={payment}"),  # issue 20 item 4
    ("anna@example.com", "/{lang}/accounts/{payg}/payments/declined/{declined}"),  # issue 20 item 5
    ("anna@example.com", "/{lang}/accounts/{payg}/audit"),
    ("anna@example.com", "/{lang}/accounts/{payg}/payments"),
    ("anna@example.com", "/{lang}/accounts/{payg}/payment-methods"),
    ("anna@example.com", "/{lang}/accounts/{payg}/payment-methods/move?subscriptions={production}&to={second_card}"),
    ("anna@example.com", "/{lang}/settings"),
    ("erik@example.com", "/{lang}/accounts/{payg}/"),
    ("olivia@example.com", "/{lang}/accounts/{agreement}/"),
    ("olivia@example.com", "/{lang}/accounts/{agreement}/invoices"),
    ("olivia@example.com", "/{lang}/accounts/{agreement}/invoices?status=paid"),
    ("olivia@example.com", "/{lang}/accounts/{agreement}/invoices/{paid}"),
    ("olivia@example.com", "/{lang}/accounts/{agreement}/profiles/{profile}/pay"),
    ("olivia@example.com", "/{lang}/accounts/{agreement}/profiles/{profile}/pay?part=1000"),
    ("olivia@example.com", "/{lang}/accounts/{agreement}/payments"),
    ("olivia@example.com", "/{lang}/accounts/{agreement}/payments/{agreement_payment}"),
    ("olivia@example.com", "/{lang}/accounts/{agreement}/credit"),  # issue 33: the credit history
    ("olivia@example.com", "/{lang}/accounts/{agreement}/payment-methods"),
    ("rasmus@example.com", "/{lang}/accounts/{agreement}/invoices"),
    ("rasmus@example.com", "/{lang}/accounts/{agreement}/payment-methods"),
]


@pytest.fixture
def queries_while_rendering(app):
    """The SQL statements sent between a template's start and its end."""
    rendering, sent = [], []

    def started(_app, template, context, **_):
        rendering.append(template.name)

    def finished(_app, template, context, **_):
        rendering.pop()

    def counted(_conn, _cursor, statement, *_args):
        if rendering and not statement.startswith("BEGIN"):
            sent.append((request.full_path, rendering[-1], statement.split("\n")[0][:120]))

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", counted)
    before_render_template.connect(started, app)
    template_rendered.connect(finished, app)
    yield sent
    template_rendered.disconnect(finished, app)
    before_render_template.disconnect(started, app)
    event.remove(engine, "before_cursor_execute", counted)


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_a3_no_template_sends_a_query(browser, demo, b, queries_while_rendering, lang):
    anna = b.session.scalars(select(User).where(User.email == "anna@example.com")).one()
    # A settlement's receipt — of the second card's own balance, so the failed card's
    # Settle balance pages below still have something to pay (a paid one shows the receipt).
    quote = payments.quote_settlement(b, anna, demo.backup, demo.spare_card)
    payment = payments.settle_balance(b, anna, demo.backup, UseSavedCard(demo.spare_card), quote.total.minor,
                                      f"templates-show-{lang}").id
    b.session.commit()
    # A declined payment: its page has an address of its own (issue 20 item 5).
    quote = payments.quote_settlement(b, anna, demo.production, demo.declining_card)
    with pytest.raises(CardDeclined) as declined:
        payments.settle_balance(b, anna, demo.production, UseSavedCard(demo.declining_card),
                                quote.total.minor, f"templates-declined-{lang}")
    b.session.commit()
    agreement_payment = b.session.scalars(select(Invoice.payment_id).where(Invoice.id == demo.paid)).one()
    ids = {k: v for k, v in vars(demo).items() if not k.startswith("_")} | {
        "payment": payment, "agreement_payment": agreement_payment, "lang": lang,
        "declined": declined.value.attempt_id}
    signed_in = None
    for who, address in PAGES:
        if who != signed_in:
            browser.client.get(f"/{lang}/sign-out") if signed_in else None
            sign_in_as(browser, who, lang)
            signed_in = who
        response = browser.get(address.format(**ids))
        assert response.status_code == 200, address
    assert queries_while_rendering == [], "\n".join(map(str, queries_while_rendering))

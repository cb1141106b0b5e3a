"""M2, M3 and the sign-in limits against a real deployment: TWO gunicorn instances
(separate processes, several workers and threads each, different ports) on one
database and one gateway ledger — the way the portal grows past one machine.

Each scenario runs on SQLite (two instances on one machine, one file) and on
PostgreSQL (TEST_POSTGRES_URL; the skip is loud, and REQUIRE_POSTGRES=1 — set by
.ci/run — turns it into a failure)."""
from __future__ import annotations

import re
import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import select, text

from portal.models import ChargeStatus, Invoice, InvoiceStatus, PaymentMethod, Subscription, User
from tests.server.live import Client, csrf_from, hidden_fields

CONCURRENT = 20
# The card whose number and CVC must never be kept. A CVC with a leading zero cannot
# be mistaken for a process id, a byte count or an amount in the logs.
AMEX, AMEX_CVC = "378282246310005", "0738"




def burst(requests):
    """Fire every (client, path, data) at the same moment; (status, headers, body,
    the client's cookies after its answer) for each, in order."""
    start = threading.Barrier(len(requests))

    def one(item):
        client, path, data = item
        start.wait(timeout=30)
        status, headers, body = client.post(path, data)
        return status, headers, body, dict(client.cookies)

    with ThreadPoolExecutor(len(requests)) as pool:
        return list(pool.map(one, requests))


def test_m3_twenty_identical_submissions_across_two_instances_charge_once(live):
    """A double (or twentyfold) click, half on each instance: one charge; the others
    get the receipt with "already paid" in Swedish; a replay later does too (M2, M3)."""
    ids = live.ids()
    anna = Client(live.a)
    anna.sign_in("anna@example.com")
    [session_cookie] = [c for c in anna.set_cookie_headers if c.startswith("session=")]
    assert all(flag in session_cookie for flag in ("Secure", "HttpOnly", "SameSite=Lax"))  # production
    url = f"/sv/accounts/{ids['payg']}/subscriptions/{ids['subs']['Webbshop – produktion']}/settle"
    _, _, page = anna.get(f"{url}?method={ids['cards']['4242']}")
    form = hidden_fields(page)
    approved_before, payments_before = live.gateway.count_approved(), live.payments()

    clients = [Client(live.a if i % 2 else live.b, anna.cookies) for i in range(CONCURRENT)]
    answers = burst([(c, url, form) for c in clients])

    assert [status for status, *_ in answers] == [303] * CONCURRENT, [a[2][:300] for a in answers if a[0] != 303]
    receipts = {headers["location"] for _, headers, _, _ in answers}
    assert len(receipts) == 1 and re.search(r"/sv/accounts/\d+/payments/\d+$", receipts.pop())
    assert live.gateway.count_approved() == approved_before + 1
    assert len(live.gateway.charges_for(form["idempotency_key"])) == 1
    assert live.payments() == payments_before + 1
    # What each of the twenty sees next: one plain receipt, nineteen "already paid".
    already = 0
    for _, headers, _, cookies in answers:
        status, _, body = Client(live.a, cookies).get(headers["location"])
        assert status == 200 and "Betalningen har tagits emot" in body
        already += "Den här betalningen är redan gjord" in body
    assert already == CONCURRENT - 1
    # M2: the charges are paid and the method switched (R05) in the same commit.
    with live.session() as s:
        production = s.get(Subscription, ids["subs"]["Webbshop – produktion"])
        assert production.payment_method_id == ids["cards"]["4242"]
        assert all(c.status == ChargeStatus.PAID for c in production.charges)
    # A replayed POST (the browser resends the form), on the other instance, later.
    status, headers, _ = Client(live.b, anna.cookies).post(url, form)
    assert status == 303 and "/payments/" in headers["location"]
    assert live.gateway.count_approved() == approved_before + 1


def test_m3_two_tabs_paying_the_same_balance_charge_once(live):
    """Two tabs of one person, each with its own form (its own key), different cards,
    each submitted ten times at once across both instances."""
    ids = live.ids()
    anna = Client(live.b)
    anna.sign_in("anna@example.com")
    url = f"/sv/accounts/{ids['payg']}/subscriptions/{ids['subs']['Säkerhetskopiering']}/settle"
    tab1 = hidden_fields(anna.get(f"{url}?method={ids['cards']['4242']}")[2])
    tab2 = hidden_fields(anna.get(f"{url}?method=new")[2]) | {
        "card_number": "5555 5555 5555 4444", "exp_month": "12", "exp_year": "2031",
        "cvc": "123", "holder": "Anna Lindqvist"}
    assert tab1["idempotency_key"] != tab2["idempotency_key"]
    approved_before = live.gateway.count_approved()

    work = [(Client(live.a if i % 2 else live.b, anna.cookies), url, tab1 if i % 4 < 2 else tab2)
            for i in range(CONCURRENT)]
    answers = burst(work)

    assert {status for status, *_ in answers} == {303}
    assert live.gateway.count_approved() == approved_before + 1
    keys = [e.idempotency_key for e in live.gateway.charges_for()[-1:]]
    winner = tab1 if keys == [tab1["idempotency_key"]] else tab2
    for (client, _, data), (_, headers, _, cookies) in zip(work, answers):
        _, _, body = Client(live.a, cookies).get(headers["location"])
        if data is winner:
            assert "/payments/" in headers["location"]
        else:  # the other tab: nothing left to pay, said in Swedish, not an error
            assert headers["location"].endswith(f"/sv/accounts/{ids['payg']}/")
            assert "Det finns inget kvar att betala" in body


def test_m3_two_people_paying_the_same_invoices_charge_once(live):
    """A contributor on instance A and an invoice manager on instance B press Pay now
    for the same invoices at the same moment."""
    ids = live.ids()
    david, ines = Client(live.a), Client(live.b)
    david.sign_in("david@example.com", lang="en")
    ines.sign_in("ines@example.com", lang="en")
    url = f"/en/accounts/{ids['agreement']}/profiles/{ids['profile']}/pay"
    forms = [hidden_fields(c.get(f"{url}?method={ids['agreement_card']}")[2]) for c in (david, ines)]
    approved_before = live.gateway.count_approved()

    answers = burst([(Client(c.server, c.cookies), url, form) for c, form in
                     [(david, forms[0]), (ines, forms[1])] * 5])

    assert {status for status, *_ in answers} == {303}
    assert live.gateway.count_approved() == approved_before + 1
    locations = [headers["location"] for _, headers, _, _ in answers]
    assert sum("/payments/" in loc for loc in locations) == 5  # the winner's five submissions
    loser = next(a for a in answers if "/payments/" not in a[1]["location"])
    _, _, body = Client(live.b, loser[3]).get(loser[1]["location"])
    assert "There is nothing left to pay: it has already been paid." in body
    with live.session() as s:
        # Every invoice of the profile paid (the demo's other customer agreement keeps its own).
        paid = s.scalars(select(Invoice.status).where(Invoice.billing_profile_id == ids["profile"]))
        assert set(paid) == {InvoiceStatus.PAID}


def test_sign_in_limit_is_counted_across_instances(live):
    """Failed sign-ins alternate between the instances; the limit (5 per account) is
    one count, so the sixth is refused — with a translated page — wherever it lands."""
    servers = [live.a, live.b]
    for attempt in range(5):
        client = Client(servers[attempt % 2])
        _, _, page = client.get("/sv/sign-in")
        status, _, _ = client.post("/sv/sign-in", {"csrf_token": csrf_from(page),
                                                   "email": "erik@example.com", "password": f"wrong{attempt}"})
        assert status == 422
    for server in servers:
        client = Client(server)
        _, _, page = client.get("/sv/sign-in")
        status, headers, body = client.post("/sv/sign-in", {
            "csrf_token": csrf_from(page), "email": "ERIK@example.com ", "password": "demo-password"})
        assert status == 429 and "För många försök att logga in" in body
        assert int(headers["retry-after"]) > 0
    # Another account from the same address is not locked out by Erik's.
    Client(live.b).sign_in("olivia@example.com")


def test_no_card_number_or_cvc_is_stored_or_logged(live):
    """Pay with a new card through a real instance, then look through the whole
    database (both ledgers included) and every log line the instances wrote."""
    ids = live.ids()
    anna = Client(live.a)
    anna.sign_in("anna@example.com", lang="en")
    url = f"/en/accounts/{ids['payg']}/subscriptions/{ids['subs']['Arkiv']}/settle"
    form = hidden_fields(anna.get(f"{url}?method=new")[2]) | {
        "card_number": "3782 822463 10005", "exp_month": "7", "exp_year": "2031",
        "cvc": AMEX_CVC, "holder": "Anna Lindqvist"}
    status, headers, body = anna.post(url, form)
    assert status == 303, body[:2000]
    assert "Payment received" in anna.get(headers["location"])[2]
    with live.session() as s:
        card = s.scalars(select(PaymentMethod).order_by(PaymentMethod.id.desc())).first()
        assert (card.brand, card.last4) == ("amex", "0005")

    cells = list(_every_cell(live))
    assert cells and any("0005" == c for c in cells)   # we did look at the right data
    for cell in cells:
        assert AMEX not in re.sub(r"[\s-]", "", cell), cell[:200]
        assert cell != AMEX_CVC and not re.search(rf"\b{AMEX_CVC}\b", cell), cell[:200]
    if live.backend == "sqlite":  # and the raw files, write-ahead logs included
        for path in live.deploy.workdir.glob("*.sqlite*"):
            raw = path.read_bytes()
            assert AMEX.encode() not in raw and b"3782 822463 10005" not in raw, path
    logs = live.deploy.logs()
    assert "POST /en/accounts/" in logs   # the access log was captured
    assert AMEX not in re.sub(r"[\s-]", "", logs) and "822463" not in logs
    assert not re.search(rf"\b{AMEX_CVC}\b", logs)


def _every_cell(live):
    """Every value of every row of every table, as text (a dump of the database)."""
    with live.engine.connect() as conn:
        if live.backend == "sqlite":
            tables = [r[0] for r in conn.execute(text("SELECT name FROM sqlite_master WHERE type='table'"))]
            ledger = live.deploy.workdir / "sandbox-gateway.sqlite"
            with sqlite3.connect(ledger) as raw:
                for line in raw.iterdump():
                    yield line
        else:
            tables = [r[0] for r in conn.execute(text(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))]
        for table in tables:
            for row in conn.execute(text(f'SELECT * FROM "{table}"')):
                for value in row:
                    if value is not None:
                        yield str(value)


def test_demo_passwords_are_hashed_with_scrypt(live):
    with live.session() as s:
        hashes = list(s.scalars(select(User.password_hash)))
    assert hashes and all(h.startswith("scrypt:") and "demo-password" not in h for h in hashes)

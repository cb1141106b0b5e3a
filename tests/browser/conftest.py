"""Browser tests: Debian's Chromium driven by Playwright, against the real app in a
real server process (tests/browser/server.py).

Without Chromium (or when it cannot start) these tests skip with a loud reason —
unless REQUIRE_BROWSER=1 (set by .ci/run), which turns the skip into a failure.
One browser per test session; one read-only server (`site`) for every test that
only looks, and a server of its own (`fresh_site`) for each module that pays.
"""
from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from tests.browser.a11y import HTMX_PROBE, SCREENSHOTS
from tests.browser.server import LiveServer
from tests.real_clock import real_clock

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
DEMO_PASSWORD = "demo-password"
LOCALES = {"sv": "sv-SE", "en": "en-GB"}
_skipped_because: list[str] = []


def _no_browser(reason: str):
    message = (f"BROWSER TESTS NOT RUN: {reason}. Install Debian's Chromium "
               f"(`apt-get install -y chromium`, which `python3 dev.py test` does when root).")
    if os.environ.get("REQUIRE_BROWSER") == "1":
        pytest.fail(message + " REQUIRE_BROWSER=1, so this is a failure.", pytrace=False)
    _skipped_because.append(message)
    pytest.skip(message)


@pytest.fixture(scope="package")
def chromium():
    if not Path(CHROMIUM).exists():
        _no_browser(f"{CHROMIUM} does not exist")
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError as exc:  # pragma: no cover - playwright is a test dependency
        _no_browser(f"Playwright is not installed ({exc})")
    manager = sync_playwright()
    with real_clock():
        playwright = manager.start()
    try:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    except Error as exc:
        manager.__exit__(None, None, None)
        _no_browser(f"Playwright could not start {CHROMIUM}: {str(exc).splitlines()[0]}")
    # This run's screenshots only; two xdist workers each take some of them.
    started = float(os.environ.get("PORTAL_TEST_RUN_STARTED", "inf"))
    for old in SCREENSHOTS.glob("*.png"):
        if old.stat().st_mtime < started:
            old.unlink(missing_ok=True)
    yield browser
    browser.close()
    manager.__exit__(None, None, None)


class Site:
    """A running portal with the demo data, and what tests need to know about it."""

    def __init__(self, server: LiveServer):
        self.server = server
        self.url = server.url
        self._states: dict[str, dict] = {}
        self.ids = self._read_ids(server.folder / "portal.sqlite")

    @staticmethod
    def _read_ids(path: Path) -> dict[str, int]:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            one = lambda sql, *args: db.execute(sql, args).fetchone()[0]  # noqa: E731
            return {
                "payg": one("SELECT id FROM billing_accounts WHERE name = 'Nordlund Konsult AB'"),
                "agreement": one("SELECT id FROM billing_accounts WHERE name = 'Fjällström Logistik AB'"),
                "profile": one("SELECT p.id FROM billing_profiles p JOIN billing_accounts a ON a.id = p.account_id "
                               "WHERE a.name = 'Fjällström Logistik AB'"),
                # B23: the demo's customer paying by Autogiro, and its invoice Autogiro draws next.
                "autogiro": one("SELECT id FROM billing_accounts WHERE name = 'Sjöberg Bygg AB'"),
                "autogiro_invoice": one("SELECT i.id FROM invoices i JOIN billing_profiles p ON p.id = i.billing_profile_id "
                                        "JOIN billing_accounts a ON a.id = p.account_id WHERE a.name = 'Sjöberg Bygg AB' "
                                        "AND i.status = 'due' ORDER BY i.due_on"),
                "production": one("SELECT id FROM subscriptions WHERE name = ?", "Webbshop – produktion"),
                "archive": one("SELECT id FROM subscriptions WHERE name = ?", "Arkiv"),
                "intranet": one("SELECT id FROM subscriptions WHERE name = ?", "Intranät"),
                "customer_portal": one("SELECT id FROM subscriptions WHERE name = ?", "Kundportal"),
                "paid_invoice": one("SELECT id FROM invoices WHERE status = 'paid' ORDER BY id"),
                "due_invoice": one("SELECT id FROM invoices WHERE status = 'due' ORDER BY id"),
                "invoice_payment": one("SELECT payment_id FROM invoices WHERE status = 'paid' ORDER BY id"),
                "payment_request": one("SELECT id FROM payment_requests"),  # B22: the seed's
                "agreement_card": one("SELECT m.id FROM payment_methods m JOIN billing_accounts a "
                                      "ON a.id = m.account_id WHERE a.name = 'Fjällström Logistik AB' "
                                      "AND m.kind = 'card'"),
                **{f"card_{last4}": one("SELECT m.id FROM payment_methods m JOIN billing_accounts a "
                                        "ON a.id = m.account_id WHERE a.kind = 'pay_as_you_go' "
                                        "AND m.last4 = ?", last4)
                   for last4 in ("9995", "4444", "4242", "0002")},
            }

    def signed_in(self, browser, email: str) -> dict:
        """The cookies of `email` signed in through the sign-in form (once per site)."""
        if email not in self._states:
            context = browser.new_context()
            page = context.new_page()
            page.goto(f"{self.url}/en/sign-in")
            page.fill("#email", email)
            page.fill("#password", DEMO_PASSWORD)
            with page.expect_navigation():
                page.click("main button[type=submit]")
            assert "/sign-in" not in page.url, f"{email} could not sign in"
            self._states[email] = context.storage_state()
            context.close()
        return self._states[email]


@pytest.fixture(scope="session")
def seeded(tmp_path_factory) -> Path:
    """The demo's database files, made once by `flask db upgrade` and `flask demo seed`;
    every server below starts from a copy."""
    server = LiveServer(tmp_path_factory.mktemp("seeded"))
    server.prepare()
    return server.folder


@pytest.fixture(scope="package")
def site(chromium, seeded, tmp_path_factory):
    """A server for tests that only look: nothing may pay or change data on it."""
    with LiveServer(tmp_path_factory.mktemp("site"), seeded_from=seeded) as server:
        yield Site(server)


@pytest.fixture(scope="module")
def fresh_site(chromium, seeded, tmp_path_factory):
    """A server of the module's own, for tests that pay or change data."""
    with LiveServer(tmp_path_factory.mktemp("fresh-site"), seeded_from=seeded) as server:
        yield Site(server)


def _new_context(chromium, site, user, lang, width=1280, height=800, scale=1,
                 reduced_motion="no-preference"):
    context = chromium.new_context(
        viewport={"width": width, "height": height}, device_scale_factor=scale,
        locale=LOCALES[lang], reduced_motion=reduced_motion,
        storage_state=site.signed_in(chromium, user) if user else None)
    context.set_default_timeout(10_000)
    context.add_init_script(HTMX_PROBE)
    return context


def _page(context, site, lang):
    page = context.new_page()
    page.base, page.lang = site.url, lang  # page.goto(f"{page.base}/{page.lang}/…")
    return page


@pytest.fixture
def open_page(chromium):
    """open_page(site, user=None, lang="sv", width=1280, height=800, scale=1) → a page
    in a browser context of its own (signed in as `user`), closed after the test."""
    contexts = []

    def _open(site: Site, user: str | None = None, lang: str = "sv", **options):
        context = _new_context(chromium, site, user, lang, **options)
        contexts.append(context)
        return _page(context, site, lang)

    yield _open
    for context in contexts:
        context.close()


@pytest.fixture(scope="module")
def _shared_contexts(chromium):
    contexts: dict[tuple, object] = {}
    yield contexts
    for context in contexts.values():
        context.close()


@pytest.fixture
def shared_page(chromium, _shared_contexts):
    """Like open_page, but the browser context (cookies, cache) of one user and
    language is kept for the module: faster for tests that only look. Each test
    still gets a new page, closed after it."""
    pages = []

    def _open(site: Site, user: str | None = None, lang: str = "sv"):
        key = (site.url, user, lang)
        if key not in _shared_contexts:
            _shared_contexts[key] = _new_context(chromium, site, user, lang)
        page = _page(_shared_contexts[key], site, lang)
        pages.append(page)
        return page

    yield _open
    for page in pages:
        page.close()


def pytest_terminal_summary(terminalreporter):
    if _skipped_because:
        terminalreporter.section("browser tests skipped", sep="!", red=True, bold=True)
        terminalreporter.line(_skipped_because[0], red=True)

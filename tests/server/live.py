"""Real deployments for tests: gunicorn processes serving the portal on free ports of
127.0.0.1, a database prepared with the same commands an operator runs (`flask db
upgrade`, `flask demo seed`), and a small HTTP client that behaves like a browser
without JavaScript (cookies, no redirects followed).

One deployment per database is started for the whole session (tests/server/conftest.py)
and put back to the seeded demo before each test (`Live.reset`)."""
from __future__ import annotations

import http.client
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass, field
from html import unescape
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode

from sqlalchemy import create_engine, func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from tests.conftest import TODAY
from tests.databases import LOCK_TIMEOUT, Snapshot, own_postgres_database

ROOT = Path(__file__).resolve().parents[2]
SECRET = "live-test-secret-shared-by-every-instance"
# An instance is waited for until /healthz answers, for as long as its process lives: a
# busy machine only makes it slower. The limit is there only to end a hung start.
START_LIMIT = 300.0
REQUEST_TIMEOUT = 60.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_ready(url: str, process: subprocess.Popen, describe) -> None:
    """Poll GET {url}/healthz until it answers 200; fail at once if the process exits
    (`describe()` says why: its log), or after START_LIMIT."""
    deadline, pause = time.monotonic() + START_LIMIT, 0.02
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited at start (status {process.returncode}):\n{describe()}")
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=5) as answer:
                if answer.status == 200:
                    return
        except (OSError, http.client.HTTPException):
            pass  # not listening yet, or not yet ready
        if time.monotonic() > deadline:
            raise RuntimeError(f"the server did not become ready within {START_LIMIT:.0f} s:\n{describe()}")
        time.sleep(pause)  # polling the condition above, not waiting for a guess
        pause = min(pause * 2, 0.5)


def reset_postgres(url: str) -> None:
    """An empty public schema (what an earlier test or run left behind is dropped)."""
    engine = create_engine(_sqlalchemy_url(url))
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    finally:
        engine.dispose()


def _sqlalchemy_url(url: str) -> str:
    from portal.config import _database_url
    return _database_url(url)


@dataclass
class Deployment:
    """One database (and gateway ledger) shared by one or more portal instances."""
    database_url: str
    ledger_url: str
    workdir: Path
    env: dict = field(default_factory=dict)
    servers: list[Server] = field(default_factory=list)

    def flask(self, *args: str, env: dict | None = None) -> str:
        """A `flask` command of this deployment (`env`: settings of this run only)."""
        result = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", *args], cwd=ROOT,
                                env={**self.env, **(env or {})}, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    def start(self, *names: str, workers: int = 2, threads: int = 4) -> list[Server]:
        """Launch the instances side by side, then wait until each answers."""
        servers = [Server(name, free_port(), self.workdir / f"{name}.log") for name in names]
        self.servers.extend(servers)
        for server in servers:
            server.launch(self.env, workers, threads)
        for server in servers:
            server.wait_ready()
        return servers

    def stop(self) -> None:
        for server in self.servers:
            server.stop()

    def logs(self) -> str:
        return "".join(s.log_path.read_text(errors="replace") for s in self.servers if s.log_path.exists())


def deployment(database_url: str, ledger_url: str, workdir: Path, **extra_env: str) -> Deployment:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SANDBOX_", "RATELIMIT_", "SIGN_IN_"))}
    env.update({
        # Production-like (secure cookies, HSTS, a real secret shared by every
        # instance), with the calendar day pinned (M7: never the day the suite runs).
        "PORTAL_ENV": "test", "PORTAL_TODAY": TODAY.isoformat(), "SECRET_KEY": SECRET,
        "DATABASE_URL": database_url, "SANDBOX_GATEWAY_URL": ledger_url,
        # The gateway takes a while, so concurrent submissions really overlap.
        "SANDBOX_GATEWAY_LATENCY_MS": "300",
        # The money paths' deployments: the demo people sign in with their password (the
        # second factor that production asks of payers, issue 31, is proven on its own in
        # tests/web/test_i31_sign_in_security.py and tests/browser/test_i31_sign_in_security.py).
        "REQUIRE_SECOND_FACTOR": "0",
        "PYTHONUNBUFFERED": "1",
        **extra_env,
    })
    return Deployment(database_url, ledger_url, workdir, env)


class Server:
    def __init__(self, name: str, port: int, log_path: Path):
        self.name, self.port, self.log_path = name, port, log_path
        self.process: subprocess.Popen | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def launch(self, env: dict, workers: int, threads: int) -> None:
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{self.port}",
             "--workers", str(workers), "--worker-class", "gthread", "--threads", str(threads),
             "--timeout", "60", "--graceful-timeout", "5", "--access-logfile", "-",
             "--error-logfile", "-", "--log-level", "debug", "wsgi:app"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()

    def wait_ready(self) -> None:
        try:
            wait_until_ready(self.base, self.process,
                             lambda: f"{self.name}: {self.log_path.read_text(errors='replace')[-3000:]}")
        except RuntimeError:
            self.stop()
            raise

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)  # gunicorn's master stops its workers
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=5)


CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|<meta name="csrf-token" content="([^"]+)"')


def csrf_from(html: str) -> str:
    match = CSRF.search(html)
    assert match, "no CSRF token on the page"
    return unescape(match.group(1) or match.group(2))


def hidden_fields(html: str, start_marker: str = '<form method="post" action="') -> dict[str, str]:
    """The hidden inputs of the first form after start_marker (the Pay form)."""
    form = html[html.index(start_marker):]
    form = form[:form.index("</form>")]
    fields = {}
    for tag in re.findall(r"<input[^>]*>", form):
        name = re.search(r'name="([^"]*)"', tag)
        value = re.search(r'value="([^"]*)"', tag)
        if name and 'type="hidden"' in tag:
            fields[unescape(name.group(1))] = unescape(value.group(1)) if value else ""
    return fields


class Client:
    """One browser: its cookies, sent to any instance (the session is signed with the
    shared SECRET_KEY, so every instance accepts it)."""

    def __init__(self, server: Server, cookies: dict | None = None):
        self.server = server
        self.cookies: dict[str, str] = dict(cookies or {})
        self.set_cookie_headers: list[str] = []

    def on(self, server: Server) -> Client:
        """The same browser talking to another instance (a load balancer's choice)."""
        other = Client(server, self.cookies)
        return other

    def request(self, method: str, path: str, data: dict | None = None,
                headers: dict | None = None) -> tuple[int, dict, str]:
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=REQUEST_TIMEOUT)
        try:
            body = urlencode(data or {}, doseq=True) if data is not None else None
            sent = {"Accept-Language": "sv", **(headers or {})}
            if body is not None:
                sent["Content-Type"] = "application/x-www-form-urlencoded"
            if self.cookies:
                sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
            conn.request(method, path, body=body, headers=sent)
            response = conn.getresponse()
            text = response.read().decode("utf-8", "replace")
            set_cookies = response.msg.get_all("Set-Cookie") or []
            self.set_cookie_headers = set_cookies
            for header in set_cookies:
                cookie = SimpleCookie()
                cookie.load(header)
                for name, morsel in cookie.items():
                    self.cookies[name] = morsel.value
            return response.status, {k.lower(): v for k, v in response.getheaders()}, text
        finally:
            conn.close()

    def get(self, path: str, **kw):
        return self.request("GET", path, **kw)

    def post(self, path: str, data: dict, **kw):
        return self.request("POST", path, data, **kw)

    def sign_in(self, email: str, password: str = "demo-password", lang: str = "sv") -> None:
        _, _, page = self.get(f"/{lang}/sign-in")
        status, headers, body = self.post(f"/{lang}/sign-in", {
            "csrf_token": csrf_from(page), "email": email, "password": password})
        assert status == 303, (status, body[:500])


def postgres_url() -> str:
    """TEST_POSTGRES_URL, or a loud skip (a failure under REQUIRE_POSTGRES=1, as .ci/run sets)."""
    import pytest
    url = os.environ.get("TEST_POSTGRES_URL")
    if url:
        return url
    message = ("TEST_POSTGRES_URL is not set: the two-instance test on PostgreSQL did NOT run. "
               ".ci/run sets it; locally point it at a database of your own, e.g. "
               "postgresql://postgres@127.0.0.1:54330/portal_reliability_multi")
    if os.environ.get("REQUIRE_POSTGRES") == "1":
        pytest.fail(message)
    pytest.skip(message)


class Live:
    """A running deployment: instances A and B, the portal's database and the ledger.
    `reset()` puts it back to the seeded demo between tests."""

    def __init__(self, backend, deploy, a, b, engine, gateway, seeded: Snapshot):
        self.backend, self.deploy, self.a, self.b = backend, deploy, a, b
        self.engine, self.gateway, self.seeded = engine, gateway, seeded
        self._seen: dict[str, int] = {}

    def session(self) -> Session:
        return Session(self.engine)

    def reset(self) -> None:
        """Every row as `flask demo seed` left it (sign-in counters included), the
        gateway's ledger empty, and instances a test started beyond A and B stopped:
        a few milliseconds instead of a new deployment."""
        for extra in self.deploy.servers[2:]:
            extra.stop()
        del self.deploy.servers[2:]
        for attempt in range(5):
            try:
                with self.engine.begin() as conn:
                    if self.backend == "postgresql":
                        conn.exec_driver_sql(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
                    self.seeded.restore(conn)
                break
            except OperationalError as error:
                # The reset locks every table (tests/databases.py::lock_tables); a server
                # still finishing the last test's work may hold one and want another:
                # PostgreSQL then gives up one of the two. If it was the reset, again.
                if "deadlock detected" not in str(error) or attempt == 4:
                    raise
        self.gateway.clear_ledger()

    def ids(self) -> dict:
        from portal.models import BillingAccount, PaymentMethod, Subscription
        with self.session() as s:
            payg = s.scalars(select(BillingAccount).where(BillingAccount.name == "Nordlund Konsult AB")).one()
            agreement = s.scalars(select(BillingAccount).where(BillingAccount.name == "Fjällström Logistik AB")).one()
            subs = {x.name: x.id for x in s.scalars(select(Subscription))}
            cards = {m.last4: m.id for m in s.scalars(select(PaymentMethod).where(
                PaymentMethod.account_id == payg.id, PaymentMethod.kind == "card"))}
            agreement_card = s.scalars(select(PaymentMethod.id).where(
                PaymentMethod.account_id == agreement.id, PaymentMethod.kind == "card")).first()
            profile = agreement.profiles[0].id
            return dict(payg=payg.id, agreement=agreement.id, profile=profile, subs=subs, cards=cards,
                        agreement_card=agreement_card)

    def crashes(self) -> list[str]:
        """Every exception an instance logged since the last call (each one a 500 some
        client saw): a live test ends with none, and shows them when it does not."""
        found = []
        for server in self.deploy.servers:
            log = server.log_path.read_text(errors="replace") if server.log_path.exists() else ""
            new, self._seen[server.name] = log[self._seen.get(server.name, 0):], len(log)
            found += [f"{server.name}:{part[:4000]}" for part in new.split("ERROR in app:")[1:]]
        return found

    def payments(self) -> int:
        from portal.models import Payment
        with self.session() as s:
            return s.scalar(select(func.count()).select_from(Payment))


@contextmanager
def live_deployment(backend: str, workdir: Path, postgres_database: str = "", **extra_env: str):
    """The demo on one database (SQLite file, or TEST_POSTGRES_URL; with
    `postgres_database`, a database of its own beside that one — its name and this
    one's, created when missing — for a deployment started beside the shared one),
    served by instances A and B, with its gateway ledger."""
    from portal.billing.payments.sandbox import SandboxGateway
    from portal.extensions import db
    if backend == "postgresql":
        url = postgres_url()
        if postgres_database:
            url = own_postgres_database(url, postgres_database, "")
        reset_postgres(url)
        database_url, ledger_url = url, url  # one server holds the portal and the ledger
    else:
        database_url = f"sqlite:///{workdir / 'portal.sqlite'}"
        ledger_url = f"sqlite:///{workdir / 'sandbox-gateway.sqlite'}"
    deploy = deployment(database_url, ledger_url, workdir, **extra_env)
    deploy.flask("db", "upgrade")
    assert "anna@example.com" in deploy.flask("demo", "seed")
    gateway = SandboxGateway(_sqlalchemy_url(ledger_url))
    gateway.count_approved()  # the ledger's table exists before the instances race for it
    # Resets wait for a writer that is still finishing rather than fail "locked".
    engine = create_engine(_sqlalchemy_url(database_url),
                           **({"connect_args": {"timeout": 30}} if backend == "sqlite" else {}))
    with engine.connect() as conn:
        seeded = Snapshot.take(conn, db.metadata)
    try:
        a, b = deploy.start("A", "B")
        running = Live(backend, deploy, a, b, engine, gateway, seeded)
        running.crashes()  # start-up logs are not a test's
        yield running
    finally:
        deploy.stop()
        gateway.close()
        engine.dispose()

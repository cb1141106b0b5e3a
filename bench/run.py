"""The benchmark: `python3 dev.py bench` (or `.venv/bin/python -m bench`).

1. A fresh database (SQLite in a temporary folder, or --database-url, which is
   wiped), built by `flask db upgrade` as in production, seeded with accounts of
   1, 100, 1,000 and 10,000 subscriptions and as many invoices (bench/seed.py).
2. The portal under gunicorn on a free loopback port, production settings, plus
   PORTAL_BENCHMARK=1 (the baseline page and the X-SQL-Queries header).
3. Per size, a separate client process (bench/load.py) signs in and loads each
   page for a fixed time: requests per second and p50/p95/p99 latency, each also
   as a ratio to the baseline page (the same base layout, signed in, no data).
   At the sizes with a budget, each list is also loaded on its LAST page (the pager's
   link marked data-pager="last", else its last link), and the invoice detail of the
   last invoice in the list.
4. SQL queries per page, bytes per page (HTML, CSS, JS; raw and gzipped), the
   complete settle flow of a first visit, the query plans of every page's
   statements (SQLite and PostgreSQL), and the budgets: PASS/FAIL, exit 1 on FAIL.

`--scale reseller` instead builds issue 28's reseller on PostgreSQL (bench/reseller.py:
100,000 subscriptions, 1,000,000 charges and payments, 10,000 invoices) and measures
every page, first and last, against the bare page (budget 3×). It needs a PostgreSQL
database it may wipe: --database-url, or the BENCH_DATABASE_URL environment variable.
"""
from __future__ import annotations

import argparse
import gzip
import http.client
import importlib
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import traceback
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlencode

from bench import plans
from bench.inprocess import bgmax_timings, pdf_timings
from bench.load import Client, csrf_token, find_last_pages, sign_in
from bench.report import P95_BUDGET, PAGES, RESELLER_P95_BUDGET, Figures, Report, loadavg, machine, print_report
from bench.seed import PASSWORD, Seeded, seed_size

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
SIZES = (1, 100, 1_000, 10_000)
UNJUDGED_SECONDS = 1.5                      # per page, at sizes without a p95 budget
RESELLER_URL_ENV = "BENCH_DATABASE_URL"   # --scale reseller: where, without --database-url


def free_port() -> int:
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def urls(s: Seeded) -> dict[str, tuple[str, str, dict]]:
    """name → (user, path, headers)."""
    payg, agr = f"/sv/accounts/{s.payg_account}", f"/sv/accounts/{s.agreement_account}"
    settle = f"{payg}/subscriptions/{s.settle_subscription}/settle"
    hx = {"HX-Request": "true"}
    return {
        "baseline": (s.payg_email, "/sv/benchmark/baseline", {}),
        "overview": (s.payg_email, f"{payg}/", {}),
        "settle": (s.payg_email, settle, {}),
        "partial": (s.payg_email, f"{settle}?method={s.second_card}", hx),
        "invoices": (s.agreement_email, f"{agr}/invoices", {}),
        "invoice": (s.agreement_email, f"{agr}/invoices/{s.invoice}", {}),
        "invoice_filter": (s.agreement_email, f"{agr}/invoices?status=paid", hx),
        "payments": (s.payg_email, f"{payg}/payments", {}),
        "methods": (s.payg_email, f"{payg}/payment-methods", {}),
    }


# --- set-up ------------------------------------------------------------------------

# What the app under measurement reads from the environment (`environment`). The bench
# measures pages, not signing in: its people sign in with a password alone, as the
# live deployments' demo people do (the second factor has its own tests).
APP_SETTINGS = ("PORTAL_ENV", "SECRET_KEY", "PORTAL_BENCHMARK", "REQUIRE_SECOND_FACTOR",
                "DATABASE_URL", "SANDBOX_GATEWAY_URL")


def environment(workdir: Path, database_url: str | None) -> dict[str, str]:
    return {**os.environ,
            "PORTAL_ENV": "production", "SECRET_KEY": secrets.token_hex(32), "PORTAL_BENCHMARK": "1",
            "REQUIRE_SECOND_FACTOR": "0",
            "DATABASE_URL": database_url or f"sqlite:///{workdir / 'portal.sqlite'}",
            "SANDBOX_GATEWAY_URL": f"sqlite:///{workdir / 'gateway.sqlite'}"}


def own_environment(workdir: Path, database_url: str | None) -> dict[str, str]:
    """A measurement module's environment (`environment`), made this process's own — the
    app it creates reads it — with its database built (`database_url` is WIPED)."""
    env = environment(workdir, database_url)
    os.environ.update({k: env[k] for k in APP_SETTINGS})
    build_database(env)
    return env


def build_database(env: dict[str, str]) -> None:
    from sqlalchemy import create_engine
    from portal.config import _database_url

    url = _database_url(env["DATABASE_URL"])
    if url.startswith("postgresql"):
        engine = create_engine(url)
        with engine.begin() as conn:  # --database-url is the benchmark's own: wiped
            conn.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
        engine.dispose()
    subprocess.run([str(BIN / "flask"), "--app", "wsgi", "db", "upgrade"], cwd=ROOT, env=env, check=True,
                   stdout=subprocess.DEVNULL)


def seed(app, sizes) -> list[Seeded]:
    from portal.extensions import db
    from portal.services import clock, policy

    seeded = []
    with app.app_context():
        session = db.session()
        for size in sizes:
            began = time.perf_counter()
            seeded.append(seed_size(session, size, clock().today(), policy()))
            session.commit()
            print(f"  seeded {size:>6,} subscriptions and invoices in {time.perf_counter() - began:.1f} s",
                  flush=True)
    ready_cards(app)
    return seeded


def seed_reseller(app) -> tuple[list[Seeded], float]:
    from bench import reseller
    from portal.extensions import db
    from portal.services import clock, policy

    with app.app_context():
        began = time.perf_counter()
        seeded = reseller.build(db.engine, clock().today(), policy())
        took = time.perf_counter() - began
    print(f"  built the reseller data set in {took:.1f} s", flush=True)
    ready_cards(app)
    return [seeded], took


def ready_cards(app) -> None:
    """Cards the sandbox gateway knows, so the flow can really pay (receipt bytes)."""
    from portal.billing.gateway import CardDetails
    from portal.extensions import db
    from portal.models import PaymentMethod

    with app.app_context():
        session, gateway = db.session(), app.extensions["payment_gateway"]
        numbers = {"9995": "4000000000009995", "4444": "5555555555554444", "4242": "4242424242424242"}
        for method in session.query(PaymentMethod).filter(PaymentMethod.kind == "card"):
            token = gateway.tokenize(CardDetails(numbers[method.last4], 12, 2031, "123", "Bench Holder"))
            method.gateway_token = token.token
        session.commit()
        if db.engine.dialect.name == "postgresql":
            with db.engine.connect() as conn:
                conn.exec_driver_sql("COMMIT")
                conn.exec_driver_sql("ANALYZE")  # what autovacuum would have done by now


def start_gunicorn(env: dict[str, str], port: int, workers: int, workdir: Path) -> subprocess.Popen:
    log = open(workdir / "gunicorn.log", "w")
    process = subprocess.Popen(
        [str(BIN / "gunicorn"), "--workers", str(workers), "--bind", f"127.0.0.1:{port}", "wsgi:app"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 180  # until the app answers: workers load it after gunicorn listens
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"gunicorn stopped: see {workdir / 'gunicorn.log'}")
        try:
            with closing(http.client.HTTPConnection("127.0.0.1", port, timeout=60)) as conn:
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    return process
        except (OSError, http.client.HTTPException):
            pass
        time.sleep(0.2)
    process.terminate()
    raise SystemExit("gunicorn did not answer within 180 s")


# --- measurements ------------------------------------------------------------------

def measure_pages(port: int, seeded: list[Seeded]) -> dict:
    """One request per page and size: status, SQL queries, bytes raw and gzipped."""
    result = {}
    cookies = {}
    for s in seeded:
        for name, (user, path, headers) in urls(s).items():
            if user not in cookies:
                cookies[user] = sign_in("127.0.0.1", port, user, PASSWORD)
            client = Client("127.0.0.1", port, cookies[user])
            response, body = client.request("GET", path, headers)
            result[(s.size, name)] = {
                "status": response.status, "queries": int(response.getheader("X-SQL-Queries", "-1")),
                "raw": len(body), "gz": len(gzip.compress(body, 6)), "body": body}
    return result


def last_pages(port: int, s: Seeded) -> dict[str, tuple[str, str, dict]]:
    """`find_last_pages` through the served portal, each person signed in once."""
    cookies: dict[str, str] = {}

    def get(user: str, path: str, headers: dict) -> bytes:
        if user not in cookies:
            cookies[user] = sign_in("127.0.0.1", port, user, PASSWORD)
        return Client("127.0.0.1", port, cookies[user]).request("GET", path, headers)[1]

    return find_last_pages(urls(s), get)


def load(port: int, pages: dict[str, tuple[str, str, dict]], seconds: float, warmup: float,
         concurrency: int) -> dict:
    """`pages`: name → (user, path, headers), the baseline among them."""
    baseline = pages["baseline"][1]  # the same for every user
    targets = [{"name": name, "user": user, "path": path, "headers": headers,
                "baseline": baseline if name != "baseline" else None}
               for name, (user, path, headers) in pages.items()]
    plan = {"base": f"http://127.0.0.1:{port}", "password": PASSWORD,
            "users": sorted({t["user"] for t in targets}), "targets": targets,
            "seconds": seconds, "warmup": warmup, "concurrency": concurrency}
    timeout = len(targets) * (seconds + warmup + 30 + 60) + 60  # bench/load.py: EXTRA_SECONDS, TIMEOUT
    done = subprocess.run([sys.executable, "-m", "bench.load"], input=json.dumps(plan), cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise SystemExit(f"the load client failed:\n{done.stderr}")
    return {row["name"]: row for row in map(json.loads, done.stdout.splitlines())}


def assets_of(html: bytes) -> list[str]:
    return re.findall(r'<(?:link rel="stylesheet" href|script src)="(/static/[^"]+)"', html.decode())


def fetch_asset(port: int, path: str) -> dict:
    client = Client("127.0.0.1", port)
    response, body = client.request("GET", path, {"Accept-Encoding": "gzip"})
    gzipped = response.getheader("Content-Encoding") == "gzip"
    raw = gzip.decompress(body) if gzipped else body
    fonts = re.findall(r"url\(([^)]+\.(?:woff2?|ttf|otf))\)", raw.decode(errors="ignore")) if path.endswith(".css") else []
    return {"path": path, "status": response.status, "raw": len(raw), "transferred": len(body),
            "gz": len(body) if gzipped else len(gzip.compress(raw, 6)),
            "cache": response.getheader("Cache-Control", ""), "fonts": fonts}


def pay_and_receipt(port: int, s: Seeded) -> dict:
    """The flow's last steps, for real: Pay with the second card, then the receipt."""
    user, path, _ = urls(s)["partial"]
    client = Client("127.0.0.1", port, sign_in("127.0.0.1", port, user, PASSWORD))
    _, page = client.request("GET", path)  # the whole page, with the Pay form
    form = page.decode()
    form = form[form.index('<form method="post"'):]
    fields = {name: re.search(rf'name="{name}"[^>]*value="([^"]*)"|value="([^"]*)"[^>]*name="{name}"', form)
              for name in ("method", "expected_total", "idempotency_key")}
    data = {name: (m.group(1) or m.group(2)) for name, m in fields.items()}
    data["csrf_token"] = csrf_token(page)
    began = time.perf_counter()
    response, _ = client.request("POST", path.split("?")[0], body=urlencode(data))
    took = time.perf_counter() - began
    if response.status != 303:
        return {"status": response.status, "seconds": took}
    location = response.getheader("Location")
    receipt_response, body = client.request("GET", location)
    return {"status": receipt_response.status, "seconds": took, "raw": len(body),
            "gz": len(gzip.compress(body, 6)), "queries": int(receipt_response.getheader("X-SQL-Queries", "-1"))}


# --- measurements other modules make (issue 28) -------------------------------------
# The coordinator wires each in with one line: its module under bench/ (imported only
# if it is there), what it measures, its budget, and how to get the figure from it
# (`measure(module, run)` → a number; `run` is the Run below). Printed with the budgets.

@dataclass(frozen=True)
class Extra:
    module: str
    what: str
    unit: str
    budget: float
    at_most: bool                       # True: the figure must not exceed the budget
    measure: Callable[[Any, Run], float]
    postgres_only: bool = False
    scales: tuple[str, ...] = ("default", "reseller")


@dataclass
class Run:
    args: argparse.Namespace
    app: Any
    database_url: str
    workdir: Path
    port: int
    seeded: list[Seeded]


def _own_database(run: Run) -> str | None:
    """The database a measurement module may wipe: PostgreSQL's bench database once the
    pages are measured (the module builds its own data there); on SQLite, None — the
    module makes a file of its own."""
    return run.database_url if run.database_url.startswith("postgresql") else None


_MEASURED: dict[tuple[str, int], dict] = {}


def _once(module, run: Run) -> dict:
    """A module's `measure` once per run, for a module whose figures several budgets judge."""
    key = (module.__name__, id(run))
    if key not in _MEASURED:
        _MEASURED[key] = module.measure(_own_database(run))
    return _MEASURED[key]


# Issue 28's measurements, each in a module of its own (a `measure` that builds its own
# data set); the figure judged is picked from what it returns.
EXTRAS: tuple[Extra, ...] = (
    Extra("settle_at_size", "settle 100,000 past-due subscriptions", "s", 3.0, True,
          lambda m, run: m.measure(run.database_url, 100_000, explain=False)["phases"][m.END_TO_END],
          postgres_only=True, scales=("reseller",)),
    Extra("exports", "CSV export of an account's payments", "rows/s", 20_000, False,
          lambda m, run: m.measure(_own_database(run))["export_rows_per_s"]),
    Extra("bgmax_import", "BgMax import (a mixed file of 10,000)", "payments/s", 3_000, False,
          lambda m, run: m.measure(_own_database(run))["import_per_s"], scales=("default",)),
    Extra("documents", "invoice document download p95 (20 and 1,000 lines)", "ms", 50, True,
          lambda m, run: 1000 * max(f["stored_p95_s"] for f in m.measure(None, renders=2).values()),
          scales=("default",)),
    Extra("api_bulk", "the provider's API: usage lines in batches of 1,000", "lines/s", 1_000_000 / 300, False,
          lambda m, run: _once(m, run)["api_per_s"], scales=("default",)),
    Extra("api_bulk", "the provider's API: subscriptions in batches of 1,000", "/s", 100_000 / 60, False,
          lambda m, run: _once(m, run)["subscriptions_per_s"], scales=("default",)),
)


def extras(run: Run, scale: str) -> list[tuple[str, str, str, bool | None]]:
    """(what, figure, budget, ok — None when not measured here) for each of EXTRAS."""
    result = []
    postgres = run.database_url.startswith("postgresql")
    for extra in EXTRAS:
        budget = f"{'≤' if extra.at_most else '≥'} {extra.budget:,g} {extra.unit}"
        if scale not in extra.scales or (extra.postgres_only and not postgres):
            where = ("on PostgreSQL" if scale in extra.scales
                     else "with --scale reseller" if "reseller" in extra.scales else "by the default bench")
            result.append((extra.what, f"measured {where}", budget, None))
            continue
        try:
            module = importlib.import_module(f"bench.{extra.module}")
        except ModuleNotFoundError as missing:
            if missing.name != f"bench.{extra.module}":
                raise
            result.append((extra.what, f"bench/{extra.module}.py is not there yet", budget, None))
            continue
        print(f"  measuring {extra.what} (bench/{extra.module}.py) …", flush=True)
        saved, began = dict(os.environ), time.perf_counter()  # a module points DATABASE_URL & co. at files
        try:                                                  # it removes afterwards
            figure = extra.measure(module, run)
            print(f"  … {time.perf_counter() - began:.0f} s (load average {loadavg()})", flush=True)
        except Exception as failed:  # a FAIL in the report, not a run whose page figures are lost
            traceback.print_exc()
            result.append((extra.what, f"failed: {failed!r}"[:200], budget, False))
            continue
        finally:
            os.environ.clear()
            os.environ.update(saved)
        ok = figure <= extra.budget if extra.at_most else figure >= extra.budget
        result.append((extra.what, f"{figure:,.1f} {extra.unit}", budget, ok))
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", choices=("default", "reseller"), default="default",
                        help="default: accounts of --sizes (SQLite unless --database-url); reseller: issue 28's "
                        "100,000 subscriptions and 1,000,000 payments, on PostgreSQL (--database-url or "
                        f"${RESELLER_URL_ENV})")
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)),
                        help="subscriptions (and invoices) per account, comma-separated")
    parser.add_argument("--seconds", type=float, help="measured time per page at a size with a budget (default "
                        f"3; 5 with --scale reseller, whose pages take up to seconds each today; other sizes "
                        f"at most {UNJUDGED_SECONDS:g})")
    parser.add_argument("--warmup", type=float, default=0.5, help="unmeasured time before each")
    parser.add_argument("--concurrency", type=int, default=2, help="client connections at once")
    parser.add_argument("--bgmax-payments", type=int, default=10_000,
                        help="payments in the Bankgirot file whose import is timed (B11); 100000 for the big one")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--database-url", help="a PostgreSQL database the benchmark may WIPE "
                        "(default: SQLite in a temporary folder)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    reseller = args.scale == "reseller"
    args.seconds = args.seconds or (5.0 if reseller else 3.0)
    if reseller:
        args.database_url = args.database_url or os.environ.get(RESELLER_URL_ENV)
        if not (args.database_url or "").startswith("postgresql"):
            parser.error(f"--scale reseller runs on PostgreSQL: give --database-url postgresql://… (a database "
                         f"it may WIPE) or set {RESELLER_URL_ENV}")
    sizes = sorted({int(x) for x in args.sizes.split(",")})
    report = Report()
    workdir = Path(tempfile.mkdtemp(prefix="portal-bench-"))
    env = environment(workdir, args.database_url)
    os.environ.update({k: env[k] for k in APP_SETTINGS})
    server, started, load_before = None, time.perf_counter(), loadavg()

    def step(text: str) -> None:
        print(f"[{time.perf_counter() - started:6.1f} s] {text}", flush=True)

    try:
        step(f"preparing the {env['DATABASE_URL'].split(':')[0]} database in {workdir} …")
        build_database(env)
        from portal import create_app
        app = create_app()
        build_s = 0.0
        if reseller:
            seeded, build_s = seed_reseller(app)
        else:
            seeded = seed(app, sizes)
        sizes = [s.size for s in seeded]
        port = free_port()
        server = start_gunicorn(env, port, args.workers, workdir)
        step("one request per page …")
        pages = measure_pages(port, seeded)
        loads, budgeted = {}, {**RESELLER_P95_BUDGET, **P95_BUDGET}
        for s in seeded:
            # Sizes without a budget are shown, not judged: shorter, first pages only.
            seconds = args.seconds if s.size in budgeted else min(args.seconds, UNJUDGED_SECONDS)
            step(f"loading size {s.size:,} ({args.concurrency} connections, {seconds:g} s per page) …")
            wanted = {name: url for name, url in urls(s).items() if name in ("baseline",) + PAGES}
            if s.size in budgeted:
                wanted.update(last_pages(port, s))
            loads[s.size] = load(port, wanted, seconds, args.warmup, args.concurrency)
        largest = seeded[-1]
        step("query plans …")
        plan_by_page = plans.of_pages(app, {**urls(largest), **last_pages(port, largest)})
        figures = Figures(args.scale, "PostgreSQL" if env["DATABASE_URL"].startswith("postgres") else "SQLite",
                          sizes, seeded, pages, loads, plan_by_page, build_s=build_s, load_before=load_before)
        if not reseller:  # the same at any size: measured on the default bench
            first_page = pages[(seeded[0].size, "settle")]["body"]
            figures.assets = [fetch_asset(port, path) for path in assets_of(first_page)]
            step("Pay and receipt …")
            figures.receipts = {s.size: pay_and_receipt(port, s) for s in seeded}
            step("making invoice PDFs …")
            figures.pdfs = pdf_timings(app)
            step(f"importing a Bankgirot file of {args.bgmax_payments:,} payments …")
            with app.app_context():
                figures.bank = bgmax_timings(app, workdir, args.bgmax_payments)
        figures.extras = extras(Run(args, app, env["DATABASE_URL"], workdir, port, seeded), args.scale)
        figures.load_after = loadavg()
        step("done")
        print_report(report, args, figures)
        report.out(f"Total wall time: {time.perf_counter() - started:.0f} s")
        if args.json:
            args.json.write_text(json.dumps({
                "machine": machine(), "scale": args.scale, "sizes": sizes, "build_s": build_s,
                "load_average": [load_before, figures.load_after],
                "pages": {f"{size}:{name}": {k: v for k, v in row.items() if k != "body"}
                          for (size, name), row in pages.items()},
                "load": loads, "assets": figures.assets, "receipts": figures.receipts, "pdfs": figures.pdfs,
                "extras": figures.extras, "failures": report.failures}, indent=2, default=str))
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
        shutil.rmtree(workdir, ignore_errors=True)
    return 1 if report.failures else 0

"""The benchmark: `python3 dev.py bench` (or `.venv/bin/python -m bench`).

1. A fresh database (SQLite in a temporary folder, or --database-url, which is
   wiped), built by `flask db upgrade` as in production, seeded with accounts of
   1, 100, 1,000 and 10,000 subscriptions and as many invoices (bench/seed.py).
2. The portal under gunicorn on a free loopback port, production settings, plus
   PORTAL_BENCHMARK=1 (the baseline page and the X-SQL-Queries header).
3. Per size, a separate client process (bench/load.py) signs in and loads each
   page for a fixed time: requests per second and p50/p95/p99 latency, each also
   as a ratio to the baseline page (the same base layout, signed in, no data).
4. SQL queries per page, bytes per page (HTML, CSS, JS; raw and gzipped), the
   complete settle flow of a first visit, the query plans of every page's
   statements (SQLite and PostgreSQL), and the budgets: PASS/FAIL, exit 1 on FAIL.
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import closing
from pathlib import Path
from urllib.parse import urlencode

from bench import plans
from bench.load import Client, csrf_token, sign_in
from bench.seed import PASSWORD, Seeded, seed_size

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
SIZES = (1, 100, 1_000, 10_000)
PAGES = ("overview", "settle", "partial", "invoices", "invoice", "payments", "methods")
LABELS = {"baseline": "Baseline (no data)", "overview": "Overview", "settle": "Settle balance",
          "partial": "Payment-method partial", "invoices": "Invoices", "invoice": "Invoice detail",
          "invoice_filter": "Invoice filter partial", "receipt": "Receipt", "payments": "Payments",
          "methods": "Payment methods"}
MAX_QUERIES = 12
PDF_BUDGET_S = {20: 0.2, 1_000: 2.0}              # p95 seconds to make an invoice PDF of that many lines
P95_BUDGET = {1_000: 3.0, 10_000: 5.0}          # × baseline p95, Overview, Settle balance, Payments
FLOW_BUDGET_GZ = 60 * 1024
PARTIAL_BUDGET = 8 * 1024
IMMUTABLE = re.compile(r"max-age=(\d+)")
HASHED = re.compile(r"\.[0-9a-f]{12}\.\w+$")


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


def kb(n: float) -> str:
    return f"{n / 1024:.1f} KB"


class Report:
    def __init__(self):
        self.failures: list[str] = []
        self.lines: list[str] = []

    def out(self, line: str = "") -> None:
        print(line, flush=True)
        self.lines.append(line)

    def budget(self, ok: bool, text: str) -> None:
        self.out(f"{'PASS' if ok else 'FAIL'}  {text}")
        if not ok:
            self.failures.append(text)


# --- set-up ------------------------------------------------------------------------

def environment(workdir: Path, database_url: str | None) -> dict[str, str]:
    return {**os.environ,
            "PORTAL_ENV": "production", "SECRET_KEY": secrets.token_hex(32), "PORTAL_BENCHMARK": "1",
            "DATABASE_URL": database_url or f"sqlite:///{workdir / 'portal.sqlite'}",
            "SANDBOX_GATEWAY_URL": f"sqlite:///{workdir / 'gateway.sqlite'}"}


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
    from portal.billing.gateway import CardDetails
    from portal.extensions import db
    from portal.models import PaymentMethod
    from portal.services import clock, policy

    seeded = []
    with app.app_context():
        session, gateway = db.session(), app.extensions["payment_gateway"]
        for size in sizes:
            began = time.perf_counter()
            seeded.append(seed_size(session, size, clock().today(), policy()))
            session.commit()
            print(f"  seeded {size:>6,} subscriptions and invoices in {time.perf_counter() - began:.1f} s",
                  flush=True)
        # Cards the sandbox gateway knows, so the flow can really pay (receipt bytes).
        numbers = {"9995": "4000000000009995", "4444": "5555555555554444", "4242": "4242424242424242"}
        for method in session.query(PaymentMethod).filter(PaymentMethod.kind == "card"):
            token = gateway.tokenize(CardDetails(numbers[method.last4], 12, 2031, "123", "Bench Holder"))
            method.gateway_token = token.token
        session.commit()
        if db.engine.dialect.name == "postgresql":
            with db.engine.connect() as conn:
                conn.exec_driver_sql("COMMIT")
                conn.exec_driver_sql("ANALYZE")  # what autovacuum would have done by now
    return seeded


def start_gunicorn(env: dict[str, str], port: int, workers: int, workdir: Path) -> subprocess.Popen:
    log = open(workdir / "gunicorn.log", "w")
    process = subprocess.Popen(
        [str(BIN / "gunicorn"), "--workers", str(workers), "--bind", f"127.0.0.1:{port}",
         "wsgi:app"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"gunicorn stopped: see {workdir / 'gunicorn.log'}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return process
        except OSError:
            time.sleep(0.1)
    process.terminate()
    raise SystemExit("gunicorn did not start within 30 s")


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


def load(port: int, s: Seeded, seconds: float, warmup: float, concurrency: int) -> dict:
    baseline = urls(s)["baseline"][1]  # the same for every user
    targets = [{"name": name, "user": user, "path": path, "headers": headers,
                "baseline": baseline if name != "baseline" else None}
               for name, (user, path, headers) in urls(s).items() if name in ("baseline",) + PAGES]
    plan = {"base": f"http://127.0.0.1:{port}", "password": PASSWORD,
            "users": sorted({t["user"] for t in targets}), "targets": targets,
            "seconds": seconds, "warmup": warmup, "concurrency": concurrency}
    timeout = len(targets) * (seconds + warmup + 30) + 60
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


def page_plans(app, s: Seeded) -> dict[str, list]:
    """Each page's SELECT statements and their plans, through the app in-process."""
    from portal.extensions import db

    with app.app_context():
        engine = db.engine
    recorder = plans.Recorder(engine)
    client = app.test_client()
    result = {}
    try:
        for name, (user, path, headers) in urls(s).items():
            if name == "invoice_filter":
                continue
            page = client.get("/sv/sign-in").get_data()
            client.post("/sv/sign-in", data={"csrf_token": csrf_token(page), "email": user, "password": PASSWORD})
            recorder.statements.clear()
            recorder.on = True
            assert client.get(path, headers=headers).status_code == 200, (name, path)
            recorder.on = False
            result[name] = [(plans.explain(engine, stmt, params), plans.real_plan(engine, stmt, params))
                            for stmt, params in recorder.statements]
    finally:
        recorder.close()
    return result


def pdf_timings(app, repeats: dict[int, int] | None = None) -> dict[int, dict]:
    """B6: making an invoice's PDF (PDF/A-3b, tagged, Factur-X inside) in process, for
    a 20-line and a 1,000-line invoice: p95 seconds, and the ratio to rendering the
    same document's HTML alone (the baseline, measured in the same run)."""
    import statistics
    from datetime import date

    from flask import render_template

    from portal.billing.documents import Buyer, DocumentLine, InvoiceDocument, vat_included
    from portal.billing.remittance import remittance_from_config
    from portal.billing.seller import seller_from_config
    from portal.documents import invoice_pdf
    from portal.models import InvoiceStatus
    from portal.money import Money

    repeats = repeats or {20: 20, 1_000: 3}
    result = {}
    with app.test_request_context("/sv/"):
        for lines, times in repeats.items():
            start, end = date(2026, 10, 1), date(2026, 10, 31)
            amounts = [Money(12_345 + i, "SEK") for i in range(lines)]
            due = Money(sum(a.minor for a in amounts), "SEK")
            doc = InvoiceDocument(
                number="10001", issued_on=date(2026, 11, 1), due_on=date(2026, 12, 1), period_start=start,
                period_end=end, status=InvoiceStatus.DUE, paid_on=None, seller=seller_from_config(app.config),
                buyer=Buyer("Bench AB", "Bench"), subtotal=due, credits=Money(0, "SEK"),
                lines=[DocumentLine(f"Subscription {i}", start, end, a) for i, a in enumerate(amounts)],
                amount_due=due, vat=[vat_included(due)], payment_terms_days=30,
                remittance=remittance_from_config(app.config).for_invoice("10001"))
            invoice_pdf(doc)  # unmeasured: fonts and the XML schemas load once per process
            pdf, html = [], []
            for _ in range(times):
                began = time.perf_counter()
                render_template("documents/invoice.html", doc=doc, lang="sv")
                html.append(time.perf_counter() - began)
                began = time.perf_counter()
                invoice_pdf(doc)
                pdf.append(time.perf_counter() - began)
            p95 = statistics.quantiles(pdf, n=20)[-1] if len(pdf) >= 20 else max(pdf)
            base = statistics.quantiles(html, n=20)[-1] if len(html) >= 20 else max(html)
            result[lines] = {"p95_s": p95, "html_p95_s": base, "ratio": p95 / base, "runs": times}
    return result


def bgmax_timings(app, workdir: Path, payments: int) -> dict:
    """B11: importing a Bankgirot file of `payments` payments (none of which names
    anything here, so each is a transaction that adds a row to the review list): checking
    it (a pass over the file, the baseline), importing it (a transaction per payment), and
    importing it again (every payment found already imported). Peak memory of the check
    at a tenth of the size and at the full size shows that the file streams."""
    import tracemalloc

    from portal.billing import bgmax, transfers
    from portal.services import billing

    our = app.config["REMITTANCE_BANKGIRO"]
    result: dict = {"payments": payments, "peak_kb": {}}
    for count in (payments // 10, payments):
        path = workdir / f"bgmax-{count}.txt"
        per_deposit = 1_000
        deposits = [[bgmax.Transfer(str(10_000_000 + d * per_deposit + i), 100 + i, name="Bench")
                     for i in range(min(per_deposit, count - d * per_deposit))]
                    for d in range(-(-count // per_deposit))]
        path.write_bytes(bgmax.build_file(deposits, our, datetime_date_today()))

        def lines(path=path):
            with path.open("rb") as handle:
                yield from handle

        tracemalloc.start()
        began = time.perf_counter()
        assert bgmax.check(lines(), our) == count
        result.setdefault("check_s", {})[count] = time.perf_counter() - began
        result["peak_kb"][count] = tracemalloc.get_traced_memory()[1] / 1024
        tracemalloc.stop()
    with app.app_context():
        b = billing()
        began = time.perf_counter()
        first = transfers.import_bgmax(b, lines, our)
        result["import_s"] = time.perf_counter() - began
        began = time.perf_counter()
        again = transfers.import_bgmax(b, lines, our)
        result["again_s"] = time.perf_counter() - began
    result["to_review"], result["duplicates"] = first.to_review, again.duplicates
    return result


def datetime_date_today():
    from portal.services import clock
    return clock().today()


# --- the report --------------------------------------------------------------------

def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} CPUs ({cpu}), Python {platform.python_version()}, {platform.system()} {platform.release()}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)),
                        help="subscriptions (and invoices) per account, comma-separated")
    parser.add_argument("--seconds", type=float, default=3.0, help="measured time per page and size")
    parser.add_argument("--warmup", type=float, default=1.0, help="unmeasured time before each")
    parser.add_argument("--concurrency", type=int, default=2, help="client connections at once")
    parser.add_argument("--bgmax-payments", type=int, default=100_000,
                        help="payments in the Bankgirot file whose import is timed (B11)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--database-url", help="a PostgreSQL database the benchmark may WIPE "
                        "(default: SQLite in a temporary folder)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    sizes = sorted({int(x) for x in args.sizes.split(",")})
    report = Report()
    workdir = Path(tempfile.mkdtemp(prefix="portal-bench-"))
    env = environment(workdir, args.database_url)
    os.environ.update({k: env[k] for k in ("PORTAL_ENV", "SECRET_KEY", "PORTAL_BENCHMARK",
                                           "DATABASE_URL", "SANDBOX_GATEWAY_URL")})
    server = None
    try:
        print(f"Preparing {env['DATABASE_URL'].split(':')[0]} database in {workdir} …", flush=True)
        build_database(env)
        from portal import create_app
        app = create_app()
        seeded = seed(app, sizes)
        port = free_port()
        server = start_gunicorn(env, port, args.workers, workdir)
        pages = measure_pages(port, seeded)
        loads = {}
        for s in seeded:
            print(f"  loading size {s.size:,} ({args.concurrency} connections, "
                  f"{args.seconds:g} s per page) …", flush=True)
            loads[s.size] = load(port, s, args.seconds, args.warmup, args.concurrency)
        largest = seeded[-1]
        plan_by_page = page_plans(app, largest)
        first_page = pages[(seeded[0].size, "settle")]["body"]
        assets = [fetch_asset(port, path) for path in assets_of(first_page)]
        receipts = {s.size: pay_and_receipt(port, s) for s in seeded}
        print("  making invoice PDFs …", flush=True)
        pdfs = pdf_timings(app)
        print(f"  importing a Bankgirot file of {args.bgmax_payments:,} payments …", flush=True)
        with app.app_context():
            bank = bgmax_timings(app, workdir, args.bgmax_payments)
        print_report(report, args, env, sizes, seeded, pages, loads, plan_by_page, assets, receipts, pdfs, bank)
        if args.json:
            args.json.write_text(json.dumps({
                "machine": machine(), "sizes": sizes,
                "pages": {f"{size}:{name}": {k: v for k, v in row.items() if k != "body"}
                          for (size, name), row in pages.items()},
                "load": loads, "assets": assets, "receipts": receipts, "pdfs": pdfs,
                "failures": report.failures}, indent=2, default=str))
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
        shutil.rmtree(workdir, ignore_errors=True)
    return 1 if report.failures else 0


def print_report(report: Report, args, env, sizes, seeded, pages, loads, plan_by_page, assets, receipts,
                 pdfs, bank) -> None:
    out = report.out
    database = "PostgreSQL" if env["DATABASE_URL"].startswith("postgres") else "SQLite"
    out()
    out(f"Machine: {machine()}")
    out(f"Server: gunicorn, {args.workers} sync workers, {database}; client: {args.concurrency} connections, "
        f"{args.seconds:g} s per page after {args.warmup:g} s warm-up, separate process, loopback")
    out()
    out("Latency and throughput; in brackets the ratio to the baseline page, measured in the same")
    out("seconds on the same connections (each connection alternates baseline and page)")
    out(f"{'size':>6}  {'page':<24} {'req/s':>14} {'p50 ms':>14} {'p95 ms':>14} {'p99 ms':>14}")
    for size in sizes:
        for name in ("baseline",) + PAGES:
            row = loads[size][name]
            base = row["baseline"] or row
            cells = [f"{row['rps']:6.0f} ({row['rps'] / base['rps']:4.2f}×)"] + [
                f"{row[q]:6.1f} ({row[q] / base[q]:4.1f}×)" for q in ("p50", "p95", "p99")]
            errors = f"  {row['errors']} errors" if row["errors"] else ""
            out(f"{size:>6,}  {LABELS[name]:<24} " + " ".join(f"{c:>14}" for c in cells) + errors)
    out()
    out("SQL queries per page (X-SQL-Queries) and bytes per page (HTML raw / gzipped)")
    out(f"{'page':<24}" + "".join(f"{size:>22,}" for size in sizes))
    for name in ("baseline",) + PAGES + ("invoice_filter",):
        cells = [pages[(size, name)] for size in sizes]
        out(f"{LABELS[name]:<24}" + "".join(
            f"{c['queries']:>4} q {kb(c['raw']):>8} /{kb(c['gz']):>8}" for c in cells))
    out(f"{'Receipt (after Pay)':<24}" + "".join(
        f"{r.get('queries', -1):>4} q {kb(r.get('raw', 0)):>8} /{kb(r.get('gz', 0)):>8}" for r in
        (receipts[size] for size in sizes)))
    out("Pay (settle everything on the failed card, the write path): " + ", ".join(
        f"{size:,}: {receipts[size]['seconds'] * 1000:.0f} ms" for size in sizes))
    out()
    out("Static files (first visit; cached for a year afterwards)")
    for a in assets:
        out(f"  {a['path']:<42} {kb(a['raw']):>9} raw {kb(a['gz']):>9} gzipped, sent {kb(a['transferred'])}"
            f"  [{a['cache']}]")
    fonts = sorted({f for a in assets for f in a["fonts"]})
    out(f"  fonts: {', '.join(fonts) if fonts else 'none (system fonts)'}")
    out()
    out(f"Query plans at {seeded[-1].size:,} subscriptions/invoices ({database})")
    for name, rows in plan_by_page.items():
        out(f"  {LABELS[name]}")
        for plan, real in rows:
            verdict = ("FULL SCAN " + ",".join(plan.full_scans)) if plan.full_scans else "index"
            out(f"    [{verdict}{' +sort' if plan.temp_sorts else ''}] {plans.short(plan.statement)}")
            for line in real:
                out(f"        {line.strip()}")
    out()
    out("Budgets")
    for name in ("baseline",) + PAGES + ("invoice_filter",):
        # Constant from 100 on. A one-subscription account is a case of its own
        # either way: no paid invoice or payment to load (one query fewer), or its
        # past-due subscription named in a banner of its own (one more; past
        # BANNER_LIMIT one banner counts them, from the counts already read).
        counts = [pages[(size, name)]["queries"] for size in sizes]
        statuses = {pages[(size, name)]["status"] for size in sizes}
        steady = counts[1:] if len(counts) > 1 and sizes[0] < 100 else counts
        report.budget(len(set(steady)) == 1 and max(counts) < MAX_QUERIES
                      and statuses == {200},
                      f"{LABELS[name]}: {' / '.join(map(str, counts))} SQL queries at "
                      f"{' / '.join(f'{size:,}' for size in sizes)} (no growth, < {MAX_QUERIES})")
    for size, factor in P95_BUDGET.items():
        if size not in loads:
            continue
        for name in ("overview", "settle", "payments"):
            p95, base = loads[size][name]["p95"], loads[size][name]["baseline"]["p95"]
            report.budget(p95 <= factor * base, f"{LABELS[name]} p95 at {size:,}: {p95:.1f} ms = "
                          f"{p95 / base:.1f}× baseline ({base:.1f} ms), budget {factor:g}×")
    static_gz = sum(a["gz"] for a in assets)
    for s in seeded:
        flow = [pages[(s.size, n)]["gz"] for n in ("overview", "settle", "partial")] + [receipts[s.size].get("gz", 0)]
        total = sum(flow) + static_gz
        report.budget(total < FLOW_BUDGET_GZ and receipts[s.size]["status"] == 200,
                      f"settle flow, first visit, at {s.size:,}: {kb(total)} gzipped (Overview, Settle balance, "
                      f"partial, receipt {kb(sum(flow))} + CSS/JS {kb(static_gz)}), budget {kb(FLOW_BUDGET_GZ)}")
    for name in ("partial", "invoice_filter"):
        largest = max(pages[(size, name)]["gz"] for size in sizes)
        raw = max(pages[(size, name)]["raw"] for size in sizes)
        report.budget(largest < PARTIAL_BUDGET, f"{LABELS[name]}: at most {kb(largest)} gzipped ({kb(raw)} raw) "
                      f"at any size, budget {kb(PARTIAL_BUDGET)}")
    for a in assets:
        age = IMMUTABLE.search(a["cache"])
        report.budget(bool(HASHED.search(a["path"])) and age is not None and int(age.group(1)) >= 31_536_000
                      and "immutable" in a["cache"],
                      f"{a['path']}: content-hashed name, Cache-Control {a['cache']}")
    for lines, row in pdfs.items():
        report.budget(row["p95_s"] <= PDF_BUDGET_S[lines],
                      f"invoice PDF of {lines:,} lines: p95 {row['p95_s'] * 1000:.0f} ms "
                      f"({row['ratio']:.0f}× its HTML alone, {row['html_p95_s'] * 1000:.1f} ms; {row['runs']} runs), "
                      f"budget {PDF_BUDGET_S[lines] * 1000:.0f} ms")
    scans = sorted({f"{LABELS[name]}: {table}" for name, rows in plan_by_page.items()
                    for plan, _real in rows for table in plan.full_scans})
    n, tenth = bank["payments"], bank["payments"] // 10
    out(f"Bankgirot file (B11), {n:,} payments: check {n / bank['check_s'][n]:,.0f} payments/s (the baseline: "
        f"one pass, no database); import {n / bank['import_s']:,.0f} transactions/s "
        f"({bank['check_s'][n] / bank['import_s'] * 100:.1f} % of the check's speed; {bank['to_review']:,} to review); "
        f"again {n / bank['again_s']:,.0f} payments/s ({bank['duplicates']:,} already imported)")
    report.budget(bank["peak_kb"][n] < 2 * bank["peak_kb"][tenth] + 256,
                  f"Bankgirot file streams: peak memory of the check {bank['peak_kb'][tenth]:,.0f} KB at "
                  f"{tenth:,} payments, {bank['peak_kb'][n]:,.0f} KB at {n:,} (budget: less than twice)")
    report.budget(not scans, "every query of every page uses an index" + (f" — full scans: {scans}" if scans else ""))
    out()
    out(f"{len(report.failures)} budget(s) failed." if report.failures else "All budgets met.")

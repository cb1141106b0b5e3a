"""Issue 28, Deliver 4: an invoice's PDF download, served from storage vs rendered on
every download (as before), for a 20-line and a 1,000-line invoice.

    .venv/bin/python -m bench.documents [--database-url URL] [--downloads 40] [--renders 5]

In process, through the real route (signed in, access checked, the file's bytes sent)
with Flask's test client: the demo data (SQLite in a temporary folder, or the given
database, which is WIPED), plus one invoice of each size. "Rendering" is the same route
with a store that keeps nothing (every download renders, as before issue 28); "stored"
is after the invoice was issued (document_store.issue_invoice, timed too). p95 of each,
and their ratio, measured in the same run. Budget: stored download p95 ≤ 50 ms."""
from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import time
from datetime import date
from html import unescape
from pathlib import Path

STORED_BUDGET_S = 0.050
CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|<meta name="csrf-token" content="([^"]+)"')


class _KeepsNothing:
    """A DocumentStore that stores nothing: every download renders (the old way)."""

    def get(self, key):
        return None

    def put(self, file):
        return file


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1] if len(values) >= 20 else max(values)


def _invoice(session, profile, lines: int, month: int):
    from portal.billing.invoicing.documents import buyer_of, frozen_parties
    from portal.models import Invoice, InvoiceLine, InvoiceStatus
    from portal.billing.cycle.invoices import next_invoice_number

    start, end = date(2025, month, 1), date(2025, month, 28)
    amounts = [12_345 + i for i in range(lines)]
    invoice = Invoice(billing_profile_id=profile.id, number=next_invoice_number(session), currency="SEK",
                      period_start=start, period_end=end, issued_on=end, due_on=end, status=InvoiceStatus.PAID,
                      paid_on=end, subtotal_minor=sum(amounts), credits_applied_minor=0, paid_minor=sum(amounts),
                      parties=frozen_parties(None, buyer_of(profile.account.name, profile.name, None)))
    session.add(invoice)
    session.flush()
    session.add_all(InvoiceLine(invoice_id=invoice.id, description=f"Prenumeration {i}", amount_minor=a)
                    for i, a in enumerate(amounts))
    session.commit()
    return invoice.id


def measure(database_url: str | None = None, lines: tuple[int, ...] = (20, 1_000), downloads: int = 40,
            renders: int = 5) -> dict[int, dict]:
    """{lines: {"render_p95_s", "stored_p95_s", "ratio", "issue_s", "bytes"}}."""
    from sqlalchemy import select

    from portal import create_app, document_store
    from portal.config import for_tests
    from portal.demo import DEMO_PASSWORD, seed_demo
    from portal.extensions import db
    from portal.models import BillingProfile, Invoice
    from portal.services import billing

    workdir = Path(tempfile.mkdtemp(prefix="bench-documents-"))
    overrides = {"PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
                 # its own file unless told: never the DATABASE_URL of whoever runs it (the bench's)
                 "SQLALCHEMY_DATABASE_URI": database_url.replace("postgresql://", "postgresql+psycopg://", 1)
                 if database_url else f"sqlite:///{workdir / 'documents.sqlite'}"}
    app = create_app(for_tests(workdir, **overrides))
    with app.app_context():
        db.drop_all()
        db.create_all()
        seed_demo(billing(), overrides["PASSWORD_HASH_METHOD"])
        profile = db.session.scalars(select(BillingProfile).where(  # the demo's Fjällström Logistik
            BillingProfile.name == "Fjällström Logistik – Sverige")).one()
        account_id = profile.account_id
        invoice_ids = {n: _invoice(db.session, profile, n, month) for month, n in enumerate(lines, start=1)}
    client = app.test_client()
    page = client.get("/sv/sign-in").get_data(as_text=True)
    token = unescape(next(g for g in CSRF.search(page).groups() if g))
    signed_in = client.post("/sv/sign-in", data={"csrf_token": token, "email": "olivia@example.com",
                                                 "password": DEMO_PASSWORD})
    assert signed_in.status_code == 303, signed_in.status_code
    real_store = app.extensions["document_store"]
    result = {}
    for n, invoice_id in invoice_ids.items():
        url = f"/sv/accounts/{account_id}/invoices/{invoice_id}/pdf"

        def timed(times: int) -> list[float]:
            spent = []
            for _ in range(times):
                began = time.perf_counter()
                response = client.get(url)
                spent.append(time.perf_counter() - began)
                assert response.status_code == 200 and response.data.startswith(b"%PDF")
            return spent

        app.extensions["document_store"] = _KeepsNothing()
        timed(1)  # unmeasured: fonts and schemas load once per process
        rendering = timed(renders)
        app.extensions["document_store"] = real_store
        with app.app_context():
            began = time.perf_counter()
            document_store.issue_invoice(db.session.get(Invoice, invoice_id))
            issue_s = time.perf_counter() - began
            size = len(document_store.invoice_pdf(db.session.get(Invoice, invoice_id), "sv").content)
        timed(2)  # unmeasured: warm
        stored = timed(downloads)
        result[n] = {"render_p95_s": p95(rendering), "stored_p95_s": p95(stored),
                     "ratio": p95(rendering) / p95(stored), "issue_s": issue_s, "bytes": size}
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    app.extensions["payment_gateway"].close()
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="a database to WIPE and use (default: SQLite in a temporary folder)")
    parser.add_argument("--downloads", type=int, default=40)
    parser.add_argument("--renders", type=int, default=5)
    args = parser.parse_args(argv)
    figures = measure(args.database_url, downloads=args.downloads, renders=args.renders)
    load = os.getloadavg()
    print(f"Invoice PDF download (in process), load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, "
          f"{'PostgreSQL' if args.database_url else 'SQLite'}")
    print(f"{'lines':>6} {'rendered p95':>13} {'stored p95':>11} {'ratio':>7} {'issue (sv+en+UBL)':>18} "
          f"{'PDF size':>9}  budget (stored p95 ≤ 50 ms)")
    failed = False
    for n, row in figures.items():
        ok = row["stored_p95_s"] <= STORED_BUDGET_S
        failed |= not ok
        print(f"{n:>6} {row['render_p95_s'] * 1000:>10.1f} ms {row['stored_p95_s'] * 1000:>8.1f} ms "
              f"{row['ratio']:>6.0f}× {row['issue_s']:>16.2f} s {row['bytes'] / 1024:>6.0f} kB  "
              f"{'PASS' if ok else 'FAIL'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

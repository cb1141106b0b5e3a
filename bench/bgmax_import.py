"""The Bankgirot import (B11, issue 28 item 3): payments recorded per second and the
import's own peak memory, for a file that mixes what real files carry.

`python -m bench.bgmax_import [--database-url URL] [--payments N]` (default 10,000
payments; the reseller run's 100,000 with `--payments 100000`). The database is WIPED
and built by `flask db upgrade`; without --database-url, SQLite in a temporary folder.

Each file is, per 100 payments: 40 pay an invoice exactly, 10 pay part of one, 10 pay
more than one is due (the rest becomes credit), 5 pay an invoice already paid (all of
it credit), 2 pay a pay-as-you-go account's check/wire charges, 33 name nothing here
(to review). Measured in one run:
- the check alone (one pass, no database): the speed baseline;
- the import a transaction per payment (IMPORT_BATCH = 1, as before issue 28) of a
  tenth of the file: the before;
- the import of the whole file (by the wall clock, and per CPU-second of this process,
  which on SQLite includes the database's work: what a machine shared with others
  hides), and importing it again (everything already imported);
- peak memory (tracemalloc) of the import of a tenth and of the whole file: flat
  means the whole file's is not ten times the tenth's.
"""
from __future__ import annotations

import argparse
import shutil
import tempfile
import time
import tracemalloc
from datetime import date, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert

from bench.run import own_environment

BUDGET_PER_S = 3_000
MIX = (("exact", 40), ("part", 10), ("over", 10), ("paid", 5), ("account", 2), ("nothing", 33))
REVIEW_ONLY = (("nothing", 1),)  # bench/run.py's file: no reference names anything here


def _kinds(count: int, mix=MIX) -> list[str]:
    pattern = [kind for kind, n in mix for _ in range(n)]
    return [pattern[(i * 37) % len(pattern)] for i in range(count)]  # spread, not in runs


def _seed(session, today: date, prefix: int, count: int, bgmax, mix=MIX) -> list:
    """Invoices and accounts for one file of `count` payments; the file's transfers."""
    from portal.billing.invoicing.remittance import account_reference, ocr_reference
    from portal.models import (AccountKind, BillingAccount, BillingProfile, Charge, Invoice, InvoiceStatus,
                               MethodKind, PaymentMethod, Subscription, SubscriptionStatus)
    from bench.seed import _ids

    now = datetime.combine(today, datetime.min.time())
    [agreement] = _ids(session, BillingAccount, [dict(
        kind=AccountKind.CUSTOMER_AGREEMENT, name=f"Import {prefix}", currency="SEK",
        notification_email=f"import-{prefix}@bench.example", created_on=today - timedelta(days=500))])
    [wire] = _ids(session, PaymentMethod, [dict(account_id=agreement, kind=MethodKind.CHECK_WIRE, created_at=now)])
    [profile] = _ids(session, BillingProfile, [dict(account_id=agreement, name=f"Import {prefix}",
                                                    default_payment_method_id=wire, check_wire_approved=True)])
    kinds = _kinds(count, mix)
    invoices = [dict(billing_profile_id=profile, number=f"{prefix}{i:07d}", currency="SEK",
                     period_start=today - timedelta(days=60 + i), period_end=today - timedelta(days=31 + i),
                     issued_on=today - timedelta(days=30), due_on=today, subtotal_minor=1_000_00,
                     credits_applied_minor=0, status=InvoiceStatus.PAID if kind == "paid" else InvoiceStatus.DUE,
                     paid_on=today - timedelta(days=1) if kind == "paid" else None, paid_minor=0)
                for i, kind in enumerate(kinds) if kind in ("exact", "part", "over", "paid")]
    if invoices:
        session.execute(insert(Invoice), invoices)
    numbers = iter(row["number"] for row in invoices)
    payg_count = kinds.count("account")
    payg = _ids(session, BillingAccount, [dict(
        kind=AccountKind.PAY_AS_YOU_GO, name=f"Import {prefix}-{n}", currency="SEK",
        notification_email=f"import-{prefix}-{n}@bench.example", created_on=today - timedelta(days=400))
        for n in range(payg_count)])
    methods = _ids(session, PaymentMethod, [dict(account_id=a, kind=MethodKind.CHECK_WIRE, created_at=now)
                                            for a in payg])
    subs = _ids(session, Subscription, [dict(account_id=a, name="Prenumeration", monthly_fee_minor=100_00,
                                             status=SubscriptionStatus.PAST_DUE, payment_method_id=m,
                                             started_on=today - timedelta(days=90),
                                             past_due_since=today - timedelta(days=12),
                                             outstanding_charges=2, outstanding_minor=200_00)
                                        for a, m in zip(payg, methods)])
    if subs:
        session.execute(insert(Charge), [dict(subscription_id=s, amount_minor=100_00, currency="SEK",
                                              period_start=today - timedelta(days=30 * k + 30),
                                              period_end=today - timedelta(days=30 * k + 1))
                                         for s in subs for k in range(2)])
    accounts = iter(payg)
    transfers = []
    amounts = {"exact": 1_000_00, "part": 400_00, "over": 1_250_00, "paid": 1_000_00}
    for i, kind in enumerate(kinds):
        if kind in amounts:
            last = bgmax.Transfer(ocr_reference(next(numbers)), amounts[kind], name="Bench")
        elif kind == "account":
            last = bgmax.Transfer(account_reference(next(accounts)), 200_00, name="Bench")
        else:
            last = bgmax.Transfer(str(10_000_000 + i), 100 + i, name="Bench")
        transfers.append(last)
    return transfers


def _file(workdir: Path, name: str, transfers: list, our: str, paid_on: date, bgmax) -> Path:
    path = workdir / f"bgmax-{name}.txt"
    per_deposit = 1_000
    deposits = [transfers[d:d + per_deposit] for d in range(0, len(transfers), per_deposit)]
    path.write_bytes(bgmax.build_file(deposits, our, paid_on))
    return path


def _lines(path: Path):
    def lines():
        with path.open("rb") as handle:
            yield from handle
    return lines


def measure(database_url: str | None = None, payments: int = 10_000, mix=MIX) -> dict:
    """The figures of one run (see the module's doc). `database_url` is WIPED."""
    workdir = Path(tempfile.mkdtemp(prefix="portal-bgmax-"))
    try:
        env = own_environment(workdir, database_url)
        from portal import create_app
        from portal.billing.bank import bgmax, transfers
        from portal.extensions import db
        from portal.services import billing, clock

        app = create_app()
        tenth = max(payments // 10, 1)
        with app.app_context():
            today, our = clock().today(), app.config["REMITTANCE_BANKGIRO"]
            files = {}
            for prefix, (name, count) in enumerate((("before", tenth), ("whole", payments),
                                                    ("mem-tenth", tenth), ("mem-whole", payments)), start=1):
                files[name] = _file(workdir, name, _seed(db.session, today, prefix, count, bgmax, mix), our,
                                    today - timedelta(days=prefix), bgmax)
            db.session.commit()
            result: dict = {"payments": payments, "database": env["DATABASE_URL"].split(":")[0]}
            began = time.perf_counter()
            bgmax.check(_lines(files["whole"])(), our)
            result["check_per_s"] = payments / (time.perf_counter() - began)
            b = billing()
            saved = transfers.IMPORT_BATCH
            try:
                transfers.IMPORT_BATCH = 1
                began = time.perf_counter()
                transfers.import_bgmax(b, _lines(files["before"]), our)
                result["one_by_one_per_s"] = tenth / (time.perf_counter() - began)
            finally:
                transfers.IMPORT_BATCH = saved
            began, cpu = time.perf_counter(), time.process_time()
            summary = transfers.import_bgmax(b, _lines(files["whole"]), our)
            result["import_per_s"] = payments / (time.perf_counter() - began)
            result["import_per_cpu_s"] = payments / (time.process_time() - cpu)
            result["summary"] = summary
            began = time.perf_counter()
            again = transfers.import_bgmax(b, _lines(files["whole"]), our)
            result["again_per_s"] = payments / (time.perf_counter() - began)
            result["again_duplicates"] = again.duplicates
            result["peak_kb"] = {}
            for name, count in (("mem-tenth", tenth), ("mem-whole", payments)):
                b.session.expunge_all()
                tracemalloc.start()
                transfers.import_bgmax(b, _lines(files[name]), our)
                result["peak_kb"][count] = tracemalloc.get_traced_memory()[1] / 1024
                tracemalloc.stop()
        return result
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def report(r: dict) -> bool:
    n, tenth = r["payments"], max(r["payments"] // 10, 1)
    s = r["summary"]
    print(f"Bankgirot import (B11), {n:,} payments on {r['database']}: "
          f"{s.recorded:,} recorded, {s.to_review:,} to review {dict(sorted(s.reasons.items()))}")
    print(f"  check (no database, the baseline)  {r['check_per_s']:>10,.0f} payments/s")
    print(f"  a transaction a payment ({tenth:,})  {r['one_by_one_per_s']:>10,.0f} payments/s")
    print(f"  in batches (the whole file)        {r['import_per_s']:>10,.0f} payments/s "
          f"({r['import_per_s'] / r['one_by_one_per_s']:.1f}× one by one, "
          f"{r['import_per_s'] / r['check_per_s'] * 100:.1f} % of the check)")
    print(f"  per CPU-second of this process     {r['import_per_cpu_s']:>10,.0f} payments/s "
          f"(the database's work too on SQLite; what a busy machine's wall clock hides)")
    print(f"  again (all already imported)       {r['again_per_s']:>10,.0f} payments/s "
          f"({r['again_duplicates']:,} found)")
    fast = r["import_per_s"] >= BUDGET_PER_S
    flat = r["peak_kb"][n] < 2 * r["peak_kb"][tenth] + 256
    print(f"{'PASS' if fast else 'FAIL'}  import {r['import_per_s']:,.0f} payments/s, budget {BUDGET_PER_S:,}")
    print(f"{'PASS' if flat else 'FAIL'}  import's peak memory {r['peak_kb'][tenth]:,.0f} KB at {tenth:,} "
          f"payments, {r['peak_kb'][n]:,.0f} KB at {n:,} (budget: less than twice)")
    return fast and flat


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bgmax_import", description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="a PostgreSQL database the benchmark may WIPE (default: SQLite)")
    parser.add_argument("--payments", type=int, default=10_000, help="payments in the file (reseller: 100000)")
    parser.add_argument("--review-only", action="store_true",
                        help="a file none of whose references names anything (bench/run.py's), not the mix")
    args = parser.parse_args(argv)
    return 0 if report(measure(args.database_url, args.payments, REVIEW_ONLY if args.review_only else MIX)) else 1


if __name__ == "__main__":
    raise SystemExit(main())

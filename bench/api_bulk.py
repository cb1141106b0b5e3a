"""The provider's API in bulk (B20): usage lines posted through `/api/v1` in batches of
1,000, and subscriptions created in batches of 1,000 — per second, with the API's own
peak memory.

`python -m bench.api_bulk [--database-url URL] [--lines N] [--subscriptions N]`
(defaults 100,000 lines and 20,000 subscriptions; the provider's target is 1,000,000
lines in 5 minutes and 100,000 subscriptions in 60 s: `--lines 1000000`). The database
is WIPED and built by `flask db upgrade`; without --database-url, SQLite in a
temporary folder. Measured in one run, in process (the WSGI app through its test
client: HTTP parsing, token, validation, idempotency, audit — no network):
- the same batches handed straight to the service (`catalog.post_usage`), the baseline;
- the same through the API, by the wall clock: the ratio is what the API layer costs;
- peak memory (tracemalloc, in runs of their own: it slows Python) of posting a tenth
  and the whole: flat means the whole's is not ten times the tenth's;
- subscriptions in batches of 1,000 (`/accounts/{id}/subscriptions/batch`), and — shown
  beside them, the baseline — 200 created one request each.
"""
from __future__ import annotations

import argparse
import shutil
import tempfile
import time
import tracemalloc
from decimal import Decimal
from pathlib import Path

from bench.run import own_environment

BATCH = 1_000
LINES_BUDGET_PER_S = 1_000_000 / 300      # 1,000,000 lines in 5 minutes
SUBSCRIPTIONS_BUDGET_PER_S = 100_000 / 60  # 100,000 subscriptions in 60 s


def _batch(day: str) -> list[dict]:
    return [{"period_start": day, "period_end": day, "quantity": f"{n % 97 + 1}.5", "unit": "GB",
             "unit_price_minor": 125, "description": "Storage"} for n in range(BATCH)]


ONE_BY_ONE = 200  # subscriptions created one request each, for comparison


def measure(database_url: str | None = None, lines: int = 100_000, subscriptions: int = 20_000) -> dict:
    workdir = Path(tempfile.mkdtemp(prefix="portal-api-bulk-"))
    try:
        env = own_environment(workdir, database_url)
        from portal import create_app
        from portal.billing.provider import catalog, tokens
        from portal.billing.transaction import write_transaction
        from portal.extensions import db
        from portal.models import AccountKind
        from portal.services import billing

        app = create_app({"API_RATE_LIMIT": "1000000 per minute"})
        client = app.test_client()
        batches = max(lines // BATCH, 1)
        with app.app_context():
            b = billing()
            token, _ = tokens.create_token(b.session, b.clock, "bench", "write")
            with write_transaction(b.session):
                account = catalog.create_account(b, AccountKind.PAY_AS_YOU_GO, "Bulk AB", "bulk@example.com")
                subs = [catalog.create_subscription(b, account.id, f"S{n}", 0, b.clock.today().replace(day=1)).id
                        for n in range(2)]
                account_id = account.id
            day = b.clock.today().replace(day=1).isoformat()
            headers = {"Authorization": f"Bearer {token}"}
            result: dict = {"lines": batches * BATCH, "subscriptions": subscriptions,
                            "database": env["DATABASE_URL"].split(":")[0]}
            body = _batch(day)
            service_lines = [catalog.Usage(**{**line, "period_start": b.clock.today().replace(day=1),
                                              "period_end": b.clock.today().replace(day=1),
                                              "quantity": Decimal(line["quantity"])})
                             for line in body]
            tenth = max(batches // 10, 1)
            began = time.perf_counter()
            for _ in range(tenth):
                with write_transaction(b.session):
                    catalog.post_usage(b, subs[0], service_lines)
                b.session.expunge_all()
            result["service_per_s"] = tenth * BATCH / (time.perf_counter() - began)

            def post(count: int) -> None:
                for _ in range(count):
                    response = client.post(f"/api/v1/subscriptions/{subs[1]}/usage", json={"lines": body},
                                           headers=headers)
                    assert response.status_code == 201, response.get_data(as_text=True)[:500]

            tracemalloc.start()
            post(tenth)
            result["peak_tenth_kb"] = tracemalloc.get_traced_memory()[1] / 1024
            tracemalloc.stop()
            began, cpu = time.perf_counter(), time.process_time()
            post(batches)  # timed without tracemalloc, which slows Python several times
            result["api_per_s"] = batches * BATCH / (time.perf_counter() - began)
            result["api_per_cpu_s"] = batches * BATCH / (time.process_time() - cpu)
            tracemalloc.start()
            post(batches)
            result["peak_whole_kb"] = tracemalloc.get_traced_memory()[1] / 1024
            tracemalloc.stop()
            def create(path: str, body: dict) -> None:
                response = client.post(f"/api/v1/accounts/{account_id}/{path}", headers=headers, json=body)
                assert response.status_code == 201, response.get_data(as_text=True)[:500]

            began = time.perf_counter()
            for n in range(ONE_BY_ONE):
                create("subscriptions", {"name": f"VM {n}", "monthly_fee_minor": 10_000, "started_on": day})
            result["one_by_one_per_s"] = ONE_BY_ONE / (time.perf_counter() - began)
            began = time.perf_counter()
            for first in range(0, subscriptions, BATCH):
                create("subscriptions/batch", {"subscriptions": [
                    {"name": f"VM {n}", "monthly_fee_minor": 10_000, "started_on": day}
                    for n in range(first, min(first + BATCH, subscriptions))]})
            result["subscriptions_per_s"] = subscriptions / (time.perf_counter() - began)
            db.session.remove()
        return result
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def report(r: dict) -> bool:
    n, tenth = r["lines"], max(r["lines"] // BATCH // 10, 1) * BATCH
    print(f"The provider's API in bulk (B20) on {r['database']}: {n:,} usage lines in batches of {BATCH:,}, "
          f"{r['subscriptions']:,} subscriptions")
    print(f"  usage, straight to the service (baseline)  {r['service_per_s']:>10,.0f} lines/s")
    print(f"  usage through the API                      {r['api_per_s']:>10,.0f} lines/s "
          f"({r['api_per_s'] / r['service_per_s']:.2f}× the service; "
          f"{r['api_per_cpu_s']:,.0f} per CPU-second of this process)")
    print(f"  1,000,000 lines would take                 {1_000_000 / r['api_per_s']:>10,.0f} s")
    print(f"  subscriptions, one request each (baseline) {r['one_by_one_per_s']:>10,.0f} /s")
    print(f"  subscriptions in batches of {BATCH:,}          {r['subscriptions_per_s']:>10,.0f} /s "
          f"({r['subscriptions_per_s'] / r['one_by_one_per_s']:.0f}× one by one; "
          f"100,000 would take {100_000 / r['subscriptions_per_s']:,.0f} s)")
    fast = r["api_per_s"] >= LINES_BUDGET_PER_S
    flat = r["peak_whole_kb"] < 2 * r["peak_tenth_kb"] + 256
    subs = r["subscriptions_per_s"] >= SUBSCRIPTIONS_BUDGET_PER_S
    print(f"{'PASS' if fast else 'FAIL'}  usage {r['api_per_s']:,.0f} lines/s, budget {LINES_BUDGET_PER_S:,.0f}")
    print(f"{'PASS' if flat else 'FAIL'}  peak memory {r['peak_tenth_kb']:,.0f} KB at {tenth:,} lines, "
          f"{r['peak_whole_kb']:,.0f} KB at {n:,} (budget: less than twice)")
    print(f"{'PASS' if subs else 'FAIL'}  subscriptions {r['subscriptions_per_s']:,.0f}/s, budget "
          f"{SUBSCRIPTIONS_BUDGET_PER_S:,.0f}")
    return fast and flat and subs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.api_bulk", description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="a PostgreSQL database the benchmark may WIPE (default: SQLite)")
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--subscriptions", type=int, default=20_000)
    args = parser.parse_args(argv)
    return 0 if report(measure(args.database_url, args.lines, args.subscriptions)) else 1


if __name__ == "__main__":
    raise SystemExit(main())

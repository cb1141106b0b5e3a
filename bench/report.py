"""The benchmark's report: figures, then the budgets as PASS/FAIL lines (bench/run.py
exits 1 when one fails)."""
from __future__ import annotations

import os
import platform
import re
from dataclasses import dataclass, field
from pathlib import Path

from bench import plans

LABELS = {"baseline": "Baseline (no data)", "overview": "Overview", "settle": "Settle balance",
          "partial": "Payment-method partial", "invoices": "Invoices", "invoice": "Invoice detail",
          "invoice_filter": "Invoice filter partial", "receipt": "Receipt", "payments": "Payments",
          "methods": "Payment methods"}
PAGES = ("overview", "settle", "partial", "invoices", "invoice", "payments", "methods")
MAX_QUERIES = 12
# p95 ÷ the bare page's p95 (measured in the same seconds), every page, first and last
# page alike (issue 28): ≤ 2× on SQLite at 1,000 and 10,000 subscriptions, ≤ 3× at the
# reseller's 100,000 on PostgreSQL.
P95_BUDGET = {1_000: 2.0, 10_000: 2.0}
RESELLER_P95_BUDGET = {100_000: 3.0}
RESELLER_BUILD_BUDGET_S = 60
FLOW_BUDGET_GZ = 60 * 1024
PARTIAL_BUDGET = 8 * 1024
IMMUTABLE = re.compile(r"max-age=(\d+)")
HASHED = re.compile(r"\.[0-9a-f]{12}\.\w+$")


def label(name: str) -> str:
    """`overview` → Overview; `overview_last` → Overview, last page."""
    if name.endswith("_last"):
        return LABELS[name[:-5]] + (", last in list" if name == "invoice_last" else ", last page")
    return LABELS[name]


def kb(n: float) -> str:
    return f"{n / 1024:.1f} KB"


def loadavg() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


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


@dataclass
class Figures:
    """What one run measured; a part not measured at this scale is empty."""
    scale: str
    database: str
    sizes: list[int]
    seeded: list
    pages: dict
    loads: dict
    plan_by_page: dict
    assets: list = field(default_factory=list)
    receipts: dict = field(default_factory=dict)
    pdfs: dict = field(default_factory=dict)
    bank: dict | None = None
    extras: list = field(default_factory=list)   # (label, figure, budget, ok or None when skipped)
    load_before: str = ""
    load_after: str = ""
    build_s: float = 0.0


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


def print_report(report: Report, args, f: Figures) -> None:
    out = report.out
    sizes = f.sizes
    out()
    out(f"Machine: {machine()}")
    out(f"Server: gunicorn, {args.workers} sync workers, {f.database}; client: {args.concurrency} connections, "
        f"{args.seconds:g} s per page (at most 1.5 s at sizes without a budget) after {args.warmup:g} s warm-up, "
        "separate process, loopback")
    out(f"Load average (1/5/15 min): {f.load_before} before the run, {f.load_after} after it")
    out()
    out("Latency and throughput; in brackets the ratio to the baseline page, measured in the same")
    out("seconds on the same connections (each connection alternates baseline and page)")
    out(f"{'size':>7}  {'page':<36} {'req/s':>14} {'p50 ms':>14} {'p95 ms':>14} {'p99 ms':>14}")
    for size in sizes:
        for name, row in f.loads[size].items():
            base = row["baseline"] or row
            cells = [f"{row['rps']:6.0f} ({row['rps'] / base['rps']:4.2f}×)"] + [
                f"{row[q]:6.1f} ({row[q] / base[q]:4.1f}×)" for q in ("p50", "p95", "p99")]
            errors = f"  {row['errors']} errors" if row["errors"] else ""
            out(f"{size:>7,}  {label(name):<36} " + " ".join(f"{c:>14}" for c in cells) + errors)
    out()
    out("SQL queries per page (X-SQL-Queries) and bytes per page (HTML raw / gzipped)")
    out(f"{'page':<24}" + "".join(f"{size:>22,}" for size in sizes))
    for name in ("baseline",) + PAGES + ("invoice_filter",):
        cells = [f.pages[(size, name)] for size in sizes]
        out(f"{LABELS[name]:<24}" + "".join(
            f"{c['queries']:>4} q {kb(c['raw']):>8} /{kb(c['gz']):>8}" for c in cells))
    if f.receipts:
        out(f"{'Receipt (after Pay)':<24}" + "".join(
            f"{r.get('queries', -1):>4} q {kb(r.get('raw', 0)):>8} /{kb(r.get('gz', 0)):>8}" for r in
            (f.receipts[size] for size in sizes)))
        out("Pay (settle everything on the failed card, the write path): " + ", ".join(
            f"{size:,}: {f.receipts[size]['seconds'] * 1000:.0f} ms" for size in sizes))
    out()
    if f.assets:
        out("Static files (first visit; cached for a year afterwards)")
        for a in f.assets:
            out(f"  {a['path']:<42} {kb(a['raw']):>9} raw {kb(a['gz']):>9} gzipped, sent {kb(a['transferred'])}"
                f"  [{a['cache']}]")
        fonts = sorted({font for a in f.assets for font in a["fonts"]})
        out(f"  fonts: {', '.join(fonts) if fonts else 'none (system fonts)'}")
        out()
    out(f"Query plans at {f.seeded[-1].size:,} subscriptions ({f.database})")
    for name, rows in f.plan_by_page.items():
        out(f"  {label(name)}")
        for plan, real in rows:
            verdict = ("FULL SCAN " + ",".join(plan.full_scans)) if plan.full_scans else "index"
            out(f"    [{verdict}{' +sort' if plan.temp_sorts else ''}] {plans.short(plan.statement)}")
            for line in real:
                out(f"        {line.strip()}")
    out()
    out("Budgets")
    if f.scale == "reseller":
        report.budget(f.build_s < RESELLER_BUILD_BUDGET_S, f"reseller data set built in {f.build_s:.1f} s, "
                      f"budget {RESELLER_BUILD_BUDGET_S} s")
    query_budgets(report, f)
    ratio_budgets(report, f)
    if f.receipts:
        flow_budgets(report, f)
    pdf_figures(report, f)
    if f.bank:
        bank_budget(report, f.bank)
    # --- figures of the measurement modules (bench/run.py: EXTRAS) ---------------------
    for what, figure, budget, ok in f.extras:
        if ok is None:
            out(f"SKIP  {what}: {figure} (budget {budget})")
        else:
            report.budget(ok, f"{what}: {figure}, budget {budget}")
    scans = sorted({f"{label(name)}: {table}" for name, rows in f.plan_by_page.items()
                    for plan, _real in rows for table in plan.full_scans})
    report.budget(not scans, "every query of every page uses an index" + (f" — full scans: {scans}" if scans else ""))
    out()
    out(f"{len(report.failures)} budget(s) failed." if report.failures else "All budgets met.")


def query_budgets(report: Report, f: Figures) -> None:
    sizes = f.sizes
    for name in ("baseline",) + PAGES + ("invoice_filter",):
        # Constant from 100 on. A one-subscription account is a case of its own
        # either way: no paid invoice or payment to load (one query fewer), or its
        # past-due subscription named in a banner of its own (one more; past
        # BANNER_LIMIT one banner counts them, from the counts already read).
        counts = [f.pages[(size, name)]["queries"] for size in sizes]
        statuses = {f.pages[(size, name)]["status"] for size in sizes}
        steady = counts[1:] if len(counts) > 1 and sizes[0] < 100 else counts
        report.budget(len(set(steady)) == 1 and max(counts) < MAX_QUERIES
                      and statuses == {200},
                      f"{LABELS[name]}: {' / '.join(map(str, counts))} SQL queries at "
                      f"{' / '.join(f'{size:,}' for size in sizes)} (no growth, < {MAX_QUERIES})")


def ratio_budgets(report: Report, f: Figures) -> None:
    """Every page, first and last page, p95 ÷ the baseline's p95 in the same seconds."""
    budgets = RESELLER_P95_BUDGET if f.scale == "reseller" else P95_BUDGET
    report.out(f"(load average {f.load_before} before, {f.load_after} after)")
    for size, factor in budgets.items():
        for name, row in f.loads.get(size, {}).items():
            if name == "baseline":
                continue
            p95, base = row["p95"], row["baseline"]["p95"]
            if not row["requests"]:
                report.budget(False, f"{label(name)} at {size:,} ({f.database}): no request answered in time, "
                              f"budget {factor:g}×")
                continue
            report.budget(p95 <= factor * base and not row["errors"],
                          f"{label(name)} p95 at {size:,} ({f.database}): {p95:.1f} ms = {p95 / base:.1f}× "
                          f"baseline ({base:.1f} ms), budget {factor:g}×"
                          + (f"; {row['errors']} errors" if row["errors"] else ""))


def flow_budgets(report: Report, f: Figures) -> None:
    static_gz = sum(a["gz"] for a in f.assets)
    for s in f.seeded:
        flow = [f.pages[(s.size, n)]["gz"] for n in ("overview", "settle", "partial")] + [
            f.receipts[s.size].get("gz", 0)]
        total = sum(flow) + static_gz
        report.budget(total < FLOW_BUDGET_GZ and f.receipts[s.size]["status"] == 200,
                      f"settle flow, first visit, at {s.size:,}: {kb(total)} gzipped (Overview, Settle balance, "
                      f"partial, receipt {kb(sum(flow))} + CSS/JS {kb(static_gz)}), budget {kb(FLOW_BUDGET_GZ)}")
    for name in ("partial", "invoice_filter"):
        largest = max(f.pages[(size, name)]["gz"] for size in f.sizes)
        raw = max(f.pages[(size, name)]["raw"] for size in f.sizes)
        report.budget(largest < PARTIAL_BUDGET, f"{LABELS[name]}: at most {kb(largest)} gzipped ({kb(raw)} raw) "
                      f"at any size, budget {kb(PARTIAL_BUDGET)}")
    for a in f.assets:
        age = IMMUTABLE.search(a["cache"])
        report.budget(bool(HASHED.search(a["path"])) and age is not None and int(age.group(1)) >= 31_536_000
                      and "immutable" in a["cache"],
                      f"{a['path']}: content-hashed name, Cache-Control {a['cache']}")


def pdf_figures(report: Report, f: Figures) -> None:
    """Issue 28: an invoice's PDF is made once, when it is issued (the billing cycle),
    and downloads serve the stored bytes (their budget, stored p95 ≤ 50 ms, is
    bench/documents.py's, among the extras). Making one is shown, not judged: nobody
    waits for it."""
    for lines, row in f.pdfs.items():
        report.out(f"INFO  making an invoice PDF of {lines:,} lines (once, at issue): {row['p95_s'] * 1000:.0f} ms "
                   f"({row['ratio']:.0f}× its HTML alone, {row['html_p95_s'] * 1000:.1f} ms; slowest of "
                   f"{row['runs']} runs; PDF/UA mending included: {row['pdfua_ratio']:.2f}× the PDF without "
                   f"it); no budget: downloads are served from storage")


def bank_budget(report: Report, bank: dict) -> None:
    n, tenth = bank["payments"], bank["payments"] // 10
    report.out(
        f"Bankgirot file (B11), {n:,} payments: check {n / bank['check_s'][n]:,.0f} payments/s (the baseline: "
        f"one pass, no database); import {n / bank['import_s']:,.0f} transactions/s "
        f"({bank['check_s'][n] / bank['import_s'] * 100:.1f} % of the check's speed; {bank['to_review']:,} to "
        f"review); again {n / bank['again_s']:,.0f} payments/s ({bank['duplicates']:,} already imported)")
    report.budget(bank["peak_kb"][n] < 2 * bank["peak_kb"][tenth] + 256,
                  f"Bankgirot file streams: peak memory of the check {bank['peak_kb'][tenth]:,.0f} KB at "
                  f"{tenth:,} payments, {bank['peak_kb'][n]:,.0f} KB at {n:,} (budget: less than twice)")

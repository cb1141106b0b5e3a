"""What the benchmark measures in process, without the server: making invoice PDFs (B6)
and importing a Bankgirot file (B11)."""
from __future__ import annotations

import time
from contextlib import contextmanager
from pathlib import Path


def pdf_timings(app, repeats: dict[int, int] | None = None) -> dict[int, dict]:
    """B6: making an invoice's PDF (PDF/A-3b, tagged, Factur-X inside) in process, for
    a 20-line and a 1,000-line invoice (done once per invoice, at issue): p95 seconds,
    and the ratio to rendering the same document's HTML alone (the baseline, measured
    in the same run)."""
    import statistics
    from datetime import date

    from flask import render_template

    from portal.billing.invoicing.documents import Buyer, DocumentLine, InvoiceDocument, vat_included
    from portal.billing.invoicing.remittance import remittance_from_config
    from portal.billing.seller import seller_from_config
    from portal.document_files import invoice_pdf
    from portal.models import InvoiceStatus
    from portal.money import Money

    # Shown, not judged, since issue 28 stores each invoice's PDF when it is issued
    # (bench/report.py): a few runs, whose slowest is the figure.
    repeats = repeats or {20: 5, 1_000: 1}
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
            if lines == min(repeats):
                invoice_pdf(doc)  # unmeasured: fonts and the XML schemas load once per process
            pdf, html = [], []
            for _ in range(times):
                began = time.perf_counter()
                render_template("documents/invoice.html", doc=doc, lang="sv", title="Faktura 10001")
                html.append(time.perf_counter() - began)
                began = time.perf_counter()
                invoice_pdf(doc)
                pdf.append(time.perf_counter() - began)
            untagged = []  # the same PDF without portal/pdf_tags.py's mending (PDF/UA), in the same run
            with _without_pdfua_mending():
                for _ in range(times):
                    began = time.perf_counter()
                    invoice_pdf(doc)
                    untagged.append(time.perf_counter() - began)
            p95 = statistics.quantiles(pdf, n=20)[-1] if len(pdf) >= 20 else max(pdf)
            base = statistics.quantiles(html, n=20)[-1] if len(html) >= 20 else max(html)
            result[lines] = {"p95_s": p95, "html_p95_s": base, "ratio": p95 / base, "runs": times,
                             "pdfua_ratio": p95 / max(untagged)}
    return result


@contextmanager
def _without_pdfua_mending():
    """PDFs as WeasyPrint tags them, for the baseline of what the PDF/UA mending costs."""
    from portal import pdf_tags
    mend = pdf_tags.tag_for_pdfua
    pdf_tags.tag_for_pdfua = lambda pdf: None
    try:
        yield
    finally:
        pdf_tags.tag_for_pdfua = mend


def bgmax_timings(app, workdir: Path, payments: int) -> dict:
    """B11: importing a Bankgirot file of `payments` payments (none of which names
    anything here, so each is a transaction that adds a row to the review list): checking
    it (a pass over the file, the baseline), importing it (a transaction per payment), and
    importing it again (every payment found already imported). Peak memory of the check
    at a tenth of the size and at the full size shows that the file streams."""
    import tracemalloc

    from portal.billing.bank import bgmax, transfers
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

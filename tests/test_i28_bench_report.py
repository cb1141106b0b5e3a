"""Issue 28: the bench judges only budgets someone owns. Invoice PDFs are made once, at
issue, and served from storage (bench/documents.py judges the download), so the time
to make one is printed as a figure, never as a PASS/FAIL."""
from __future__ import annotations

from bench.report import Figures, Report, pdf_figures


def test_i28_making_an_invoice_pdf_is_shown_not_judged():
    report = Report()
    figures = Figures("default", "SQLite", [], [], {}, {}, {}, pdfs={
        20: {"p95_s": 0.9, "html_p95_s": 0.003, "ratio": 300.0, "runs": 5, "pdfua_ratio": 1.02},
        1_000: {"p95_s": 9.0, "html_p95_s": 0.05, "ratio": 180.0, "runs": 1, "pdfua_ratio": 0.92}})
    pdf_figures(report, figures)
    assert report.failures == []
    assert not any(line.startswith(("PASS", "FAIL")) for line in report.lines)
    assert [line.split(" lines")[0] for line in report.lines] == [
        "INFO  making an invoice PDF of 20", "INFO  making an invoice PDF of 1,000"]

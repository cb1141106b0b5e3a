"""Issue 35, a11y-5: after an htmx swap that removed the focused control, portal.js
moves focus to the swapped region's first *visible* heading, or to the region itself —
never to a visually hidden heading (the Invoices table's "Invoice list" title), where
focus would be invisible. The script's own listener, run in Chromium on a static page
(no server): the swap is the event htmx sends, with focus already lost."""
from __future__ import annotations

from portal.config import ROOT
from tests.browser.test_helpers import page_html

SCRIPT = (ROOT / "static" / "js" / "portal.js").read_text(encoding="utf-8")
BODY = ('<h1>Invoices</h1>'
        '<section id="invoice-table" aria-labelledby="invoice-table-title">'
        '<h2 id="invoice-table-title" class="visually-hidden">Invoice list</h2><p>3 invoices shown</p></section>'
        '<section id="summary"><h2 class="visually-hidden">Hidden</h2><h2 id="shown">Summary</h2></section>')
SWAP = """id => {
  if (document.activeElement) { document.activeElement.blur(); }
  document.dispatchEvent(new CustomEvent("htmx:afterSwap", {detail: {target: document.getElementById(id)}}));
  return document.activeElement.id;
}"""


def test_i35_a11y5_after_a_swap_focus_never_lands_on_a_visually_hidden_heading(chromium):
    context = chromium.new_context()
    try:
        page = context.new_page()
        page.set_content(page_html(BODY))
        page.add_script_tag(content=SCRIPT)
        assert page.evaluate(SWAP, "invoice-table") == "invoice-table"  # the region, not its hidden title
        assert page.evaluate(SWAP, "summary") == "shown"  # the first heading one can see
    finally:
        context.close()

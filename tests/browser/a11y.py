"""Accessibility checks run in the real browser. Each raises AssertionError with a
report a person can act on; tests/browser/test_helpers.py proves they fail on a
deliberately broken page.

- assert_accessible: axe-core (WCAG 2.0/2.1/2.2 A + AA) with zero violations and no
  "incomplete" (needs review) result a person has not reviewed, every
  form control with a visible label, every error tied to its field.
- assert_focus_not_lost / assert_focus_visible: after an action (an htmx swap) focus
  is on an element of the page, never <body>, and the focused element shows it.
- tab_through: walk the page with Tab (or Shift+Tab) until focus comes back round;
  a keyboard trap or an unreachable control fails.
- assert_no_horizontal_scroll: WCAG 1.4.10 reflow.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from axe_playwright_python.sync_playwright import Axe

WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa"]
_axe = Axe()

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"


@dataclass(frozen=True)
class Reviewed:
    """An axe "incomplete" (needs review) result a person has looked at and found fine:
    the rule, where (a regular expression searched in the node's selector, and one
    searched in the page's path) and why."""
    rule: str
    target: str
    page: str
    reason: str

    def covers(self, rule: str, target: str, path: str) -> bool:
        return rule == self.rule and bool(re.search(self.target, target)) and bool(re.search(self.page, path))


# axe's "incomplete" results a person has reviewed, e.g.
#   Reviewed("color-contrast", r"^\.hero h1$", r"/accounts/\d+/$",
#            "white on the banner's gradient, measured by hand at its lightest end: 7.1:1")
# Keep it as short as possible: fix the page instead of listing it here. Empty today:
# no page in any state of tests/browser/states.py leaves axe undecided.
REVIEWED_INCOMPLETE: tuple[Reviewed, ...] = ()


def axe_results(page) -> dict:
    return _axe.run(page, options={"runOnly": {"type": "tag", "values": WCAG_TAGS},
                                   "resultTypes": ["violations", "incomplete"]}).response


def axe_violations(page) -> list[dict]:
    """axe's violations, and its incomplete results (it could not decide: a person must
    look) that no entry of REVIEWED_INCOMPLETE covers, each of those marked
    `needs_review`."""
    results = axe_results(page)
    path = urlsplit(page.url).path
    unreviewed = []
    for result in results["incomplete"]:
        nodes = [node for node in result["nodes"]
                 if not any(r.covers(result["id"], " ".join(map(str, node["target"])), path)
                            for r in REVIEWED_INCOMPLETE)]
        if nodes:
            unreviewed.append({**result, "nodes": nodes, "needs_review": True})
    return results["violations"] + unreviewed


def _axe_report(violations: list[dict]) -> str:
    lines = []
    for v in violations:
        kind = "needs review, not in REVIEWED_INCOMPLETE" if v.get("needs_review") else "violation"
        lines.append(f"- {v['id']} ({v['impact']}, {kind}): {v['help']} [{v['helpUrl']}]")
        for node in v["nodes"][:5]:
            lines.append(f"    at {', '.join(map(str, node['target']))}: {node['html'][:160]}")
            summary = (node.get("failureSummary") or "").replace("\n", " ")
            if v.get("needs_review"):
                summary = " ".join(check["message"] for group in ("any", "all", "none")
                                   for check in node.get(group, []))
            lines.append(f"       {summary[:300]}")
    return "\n".join(lines)


def assert_axe_clean(page, what: str = "") -> None:
    """No violation and no unreviewed incomplete result (see axe_violations)."""
    violations = axe_violations(page)
    assert not violations, (f"axe-core found {len(violations)} WCAG A/AA problem(s) on "
                            f"{what or page.url}:\n{_axe_report(violations)}")


# Every visible form control has a label a sighted user can see (axe accepts a
# visually hidden label or aria-label; the issue asks for visible labels).
_UNLABELLED_JS = """() => {
  const seen = el => { const r = el.getBoundingClientRect(); const s = getComputedStyle(el);
    return r.width > 2 && r.height > 2 && s.visibility !== 'hidden' && s.display !== 'none'
      && s.clip !== 'rect(0px, 0px, 0px, 0px)' && !(s.clipPath || '').startsWith('inset(50%'); };
  const bad = [];
  for (const el of document.querySelectorAll('input, select, textarea')) {
    if (['hidden', 'submit', 'button', 'reset', 'image'].includes(el.type) || !seen(el)) continue;
    const labels = [...(el.labels || [])].filter(l => seen(l) && l.textContent.trim());
    if (!labels.length) bad.push(el.outerHTML.slice(0, 160));
  }
  return bad;
}"""


def assert_labels_visible(page) -> None:
    bad = page.evaluate(_UNLABELLED_JS)
    assert not bad, "form controls without a visible label:\n" + "\n".join(bad)


# Errors: each message at a field is in that control's aria-describedby, an input
# in error has aria-invalid; each error summary link points at a focusable control.
_ERROR_WIRING_JS = """() => {
  const bad = [];
  for (const msg of document.querySelectorAll('.field-error')) {
    if (!msg.id) { bad.push('error message without id: ' + msg.textContent.trim()); continue; }
    const owners = [...document.querySelectorAll('[aria-describedby]')].filter(
      el => el.getAttribute('aria-describedby').split(/\\s+/).includes(msg.id));
    if (!owners.length) bad.push('error not tied to any field: ' + msg.textContent.trim());
    for (const el of owners) {
      if (['INPUT', 'SELECT', 'TEXTAREA'].includes(el.tagName) && el.getAttribute('aria-invalid') !== 'true')
        bad.push('field with an error lacks aria-invalid: ' + el.outerHTML.slice(0, 120));
    }
  }
  const summary = document.querySelector('.error-summary');
  if (document.querySelector('.field-error') && !summary) bad.push('errors at fields but no error summary');
  if (summary) {
    for (const link of summary.querySelectorAll('a')) {
      const target = document.getElementById((link.getAttribute('href') || '').replace(/^#/, ''));
      if (!target) { bad.push('error summary link to nothing: ' + link.getAttribute('href')); continue; }
      if (!['INPUT', 'SELECT', 'TEXTAREA'].includes(target.tagName))
        bad.push('error summary link to a non-field: ' + link.getAttribute('href'));
    }
  }
  return bad;
}"""


def assert_errors_tied_to_fields(page) -> None:
    bad = page.evaluate(_ERROR_WIRING_JS)
    assert not bad, "errors not tied to their fields:\n" + "\n".join(bad)


def assert_accessible(page, what: str = "") -> None:
    assert_axe_clean(page, what)
    assert_labels_visible(page)
    assert_errors_tied_to_fields(page)


# -- focus ---------------------------------------------------------------------------

# Where an element is in the document: identifies it even when two look the same.
_PATH_JS = """const pathOf = el => { const parts = [];
  for (; el && el.parentElement; el = el.parentElement)
    parts.unshift(el.tagName.toLowerCase() + ':' + [...el.parentElement.children].indexOf(el));
  return parts.join('/'); };"""

_FOCUSED_JS = """() => {""" + _PATH_JS + """
  const el = document.activeElement;
  if (!el || el === document.body || el === document.documentElement) return null;
  return {path: pathOf(el), tag: el.tagName.toLowerCase(), id: el.id, type: el.type || '', connected: el.isConnected,
          text: (el.innerText || el.value || el.getAttribute('aria-label') || '').trim().slice(0, 80),
          html: el.outerHTML.slice(0, 160)};
}"""


def focused(page) -> dict | None:
    """What has focus: None when it is lost to <body>."""
    return page.evaluate(_FOCUSED_JS)


def assert_focus_not_lost(page, after: str = "the action") -> dict:
    where = focused(page)
    assert where is not None and where["connected"], f"focus was lost to <body> after {after}"
    return where


_FOCUS_STYLE_JS = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return {ok: false, why: 'nothing focused'};
  const s = getComputedStyle(el);
  const outline = s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2
                  && s.outlineColor !== 'rgba(0, 0, 0, 0)' && s.outlineColor !== 'transparent';
  const shadow = s.boxShadow && s.boxShadow !== 'none';
  const r = el.getBoundingClientRect();
  const inView = r.width > 0 && r.height > 0 && r.bottom > 0 && r.right > 0
                 && r.top < innerHeight && r.left < innerWidth;
  let covered = false;
  if (inView) {
    const x = Math.min(Math.max(r.left + r.width / 2, 0), innerWidth - 1);
    const y = Math.min(Math.max(r.top + r.height / 2, 0), innerHeight - 1);
    const top = document.elementFromPoint(x, y);
    covered = !!top && top !== el && !el.contains(top) && !(el.labels && [...el.labels].some(l => l.contains(top)));
  }
  return {ok: (outline || shadow) && inView && !covered, outline, shadow, inView, covered,
          html: el.outerHTML.slice(0, 160)};
}"""


def assert_focus_visible(page) -> None:
    """The focused element has an indicator (an outline of 2 px or more, or a box
    shadow) and is on screen, not covered by something else (WCAG 2.4.7, 2.4.11)."""
    state = page.evaluate(_FOCUS_STYLE_JS)
    assert state["ok"], f"focus is not visible: {json.dumps(state)}"


_TABBABLE_JS = """() => {""" + _PATH_JS + """ return [...document.querySelectorAll(
    'a[href], button, input, select, textarea, summary, [tabindex]')].filter(el => {
  if (el.disabled || el.tabIndex < 0 || el.type === 'hidden') return false;
  if (el.closest('[inert], [hidden]')) return false;
  // Inside a closed disclosure: reached by opening it (its summary is the stop).
  const closed = el.closest('details:not([open])');
  if (closed && !(el.tagName === 'SUMMARY' && el.parentElement === closed)) return false;
  const s = getComputedStyle(el);
  if (s.visibility === 'hidden' || s.display === 'none') return false;
  if (el.type === 'radio' && el.name && !el.checked) {
    const group = [...document.querySelectorAll('input[type=radio]')].filter(r => r.name === el.name && r.form === el.form);
    const checked = group.find(r => r.checked);
    if (checked ? checked !== el : group[0] !== el) return false;   // one stop per radio group
  }
  return el.getClientRects().length > 0 || el.classList.contains('skip-link');
}).map(el => ({path: pathOf(el), html: el.outerHTML.slice(0, 160)})); }"""


def tabbable(page) -> list[dict]:
    return page.evaluate(_TABBABLE_JS)


def tab_through(page, backwards: bool = False, max_steps: int = 200, check_visible: bool = True) -> list[dict]:
    """Press Tab (or Shift+Tab) from the top of the page until focus leaves the
    document or comes back to the first stop. Fails on a trap (the same element
    again before every stop was reached, or no end within max_steps) and, unless
    check_visible is False, on any stop without a visible focus indicator."""
    page.evaluate("() => { document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0); }")
    key = "Shift+Tab" if backwards else "Tab"
    stops: list[dict] = []
    for _ in range(max_steps):
        page.keyboard.press(key)
        where = focused(page)
        if where is None:  # left the document: the walk is complete
            break
        if stops and where["path"] == stops[0]["path"]:
            break
        if where["path"] in [s["path"] for s in stops]:
            raise AssertionError(f"keyboard trap: focus went back to {where['html']} after {len(stops)} stops")
        if check_visible:
            assert_focus_visible(page)
        stops.append(where)
    else:
        raise AssertionError(f"keyboard trap: {key} never left the page in {max_steps} presses")
    expected = tabbable(page)
    reached = {s["path"] for s in stops}
    missing = [e["html"] for e in expected if e["path"] not in reached]
    assert not missing, f"not reachable with {key}:\n" + "\n".join(missing)
    return stops


def press_tab_until(page, predicate, key: str = "Tab", max_steps: int = 80) -> dict:
    """Tab (forwards or with Shift) until the focused element matches predicate."""
    for _ in range(max_steps):
        page.keyboard.press(key)
        where = focused(page)
        if where is not None and predicate(where):
            assert_focus_visible(page)
            return where
    raise AssertionError(f"no focusable element matched within {max_steps} presses of {key}")


# -- layout --------------------------------------------------------------------------

def assert_no_horizontal_scroll(page, what: str = "") -> None:
    sizes = page.evaluate("() => ({scroll: document.documentElement.scrollWidth, view: window.innerWidth, "
                          "wide: [...document.querySelectorAll('body *')].filter(el => "
                          "el.getBoundingClientRect().right > window.innerWidth + 1)"
                          ".slice(0, 5).map(el => el.outerHTML.slice(0, 120))})")
    assert sizes["scroll"] <= sizes["view"], (
        f"the page scrolls sideways on {what or page.url}: {sizes['scroll']} px wide in a "
        f"{sizes['view']} px viewport; too wide: {sizes['wide']}")


def screenshot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


# -- htmx ----------------------------------------------------------------------------

# Counts settled htmx swaps, so a test can wait for exactly the swap it caused.
HTMX_PROBE = """document.addEventListener('htmx:afterSettle', () => {
  window.__htmxSettled = (window.__htmxSettled || 0) + 1; });"""


def swaps(page) -> int:
    return page.evaluate("() => window.__htmxSettled || 0")


def wait_for_swap(page, before: int, timeout: float = 10_000) -> None:
    page.wait_for_function(f"() => (window.__htmxSettled || 0) > {before} && "
                           "!document.querySelector('.htmx-request')", timeout=timeout)


def wait_for_announcement(page, text: str, timeout: float = 5_000) -> str:
    page.wait_for_function("t => (document.getElementById('live-region').textContent || '').includes(t)",
                           arg=text, timeout=timeout)
    return page.text_content("#live-region")

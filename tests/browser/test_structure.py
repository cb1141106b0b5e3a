"""The page's structure as a screen reader presents it, on every page the browser tests
know (tests/browser/states.py, plus the pages only tests/web/test_templates_show.py
visits), in Swedish and English: headings never skip a level (WCAG 1.3.1, 2.4.6:
a heading list that jumps from h1 to h3 hides a level's worth of structure), and no
two landmarks of the same role share a name (2.4.1: a landmark list with three
"Varning" regions tells nobody which is which).

Both read what Chromium itself computes (its accessibility tree, through the DevTools
protocol), so a heading or region hidden from everyone (display: none, hidden,
aria-hidden) does not count and a visually hidden one does; every <details> is opened
first, so what a disclosure shows counts too. Each page is loaded once;
both tests use what it showed.
"""
from __future__ import annotations

import sqlite3

import pytest

from tests.browser.states import ANNA, STATES, go

# Pages tests/web/test_templates_show.py visits that no state of states.py shows.
EXTRA_STATES = {
    "audit-log": (ANNA, go("/accounts/{payg}/audit")),
    "receipt-settlement": (ANNA, go("/accounts/{payg}/payments/{payg_payment}")),
}
ALL_STATES = STATES | EXTRA_STATES

# Landmark roles (ARIA 1.2) as Chromium names them; form and region count only when
# named (the rule for those two roles: without a name they are not landmarks).
LANDMARKS = {"banner", "complementary", "contentinfo", "form", "main", "navigation", "region", "search"}
NAMED_ONLY = {"form", "region"}

ERROR_SUMMARY_TITLES = {"Det finns ett problem", "There is a problem"}

_seen: dict[tuple[str, str, str], dict] = {}


def _payg_payment(site) -> int:
    with sqlite3.connect(f"file:{site.server.folder / 'portal.sqlite'}?mode=ro", uri=True) as db:
        return db.execute("SELECT id FROM payments WHERE account_id = ? ORDER BY id LIMIT 1",
                          (site.ids["payg"],)).fetchone()[0]


def _prop(node: dict, name: str):
    for prop in node.get("properties", []):
        if prop["name"] == name:
            return prop["value"].get("value")
    return None


def structure(site, shared_page, state: str, lang: str) -> dict:
    """The headings (level, text) and landmarks (role, name) of a state, in document
    order, from Chromium's accessibility tree."""
    key = (site.url, state, lang)
    if key not in _seen:
        user, reach = ALL_STATES[state]
        page = shared_page(site, user, lang)
        reach(page, site.ids | {"payg_payment": _payg_payment(site)})
        # Every disclosure open, as a person reading all of it has it: Chromium leaves
        # a closed one's content out of the tree.
        page.evaluate("() => document.querySelectorAll('details').forEach(d => { d.open = true; })")
        cdp = page.context.new_cdp_session(page)
        try:
            nodes = cdp.send("Accessibility.getFullAXTree")["nodes"]
        finally:
            cdp.detach()
        by_id = {node["nodeId"]: node for node in nodes}
        children = {node["nodeId"]: node.get("childIds", []) for node in nodes}
        is_child = {child for ids in children.values() for child in ids}
        in_order, todo = [], [node["nodeId"] for node in nodes if node["nodeId"] not in is_child][::-1]
        while todo:  # depth first: the document's order
            node_id = todo.pop()
            if node_id in by_id:
                in_order.append(by_id[node_id])
                todo.extend(reversed(children[node_id]))
        headings, landmarks = [], []
        for node in in_order:
            if node.get("ignored"):
                continue
            role = node.get("role", {}).get("value")
            name = (node.get("name", {}).get("value") or "").strip()
            if role == "heading":
                headings.append((_prop(node, "level"), name))
            elif role in LANDMARKS and (name or role not in NAMED_ONLY):
                landmarks.append((role, name))
        _seen[key] = {"headings": headings, "landmarks": landmarks, "url": page.url}
    return _seen[key]


@pytest.mark.parametrize("lang", ["sv", "en"])
@pytest.mark.parametrize("state", list(ALL_STATES))
def test_i20_14_headings_never_skip_a_level(site, shared_page, state, lang):
    """Each heading is at most one level below the one before it (going back up any
    number of levels is fine), and the page has one h1. The first heading may be an h2
    only as the error summary, which comes before the h1 on purpose: it is what a
    person is taken to first after sending a form with mistakes."""
    seen = structure(site, shared_page, state, lang)
    headings = seen["headings"]
    outline = "\n".join(f"  {'  ' * (level - 1)}h{level} {text}" for level, text in headings)
    where = f"{state} ({lang}, {seen['url']})"
    assert [level for level, _ in headings].count(1) == 1, f"{where} has not exactly one h1:\n{outline}"
    first_level, first_text = headings[0]
    assert first_level == 1 or (first_level == 2 and first_text in ERROR_SUMMARY_TITLES), (
        f"{where} starts with an h{first_level}:\n{outline}")
    skips = [f"h{before} {before_text!r} → h{level} {text!r}"
             for (before, before_text), (level, text) in zip(headings, headings[1:]) if level > before + 1]
    assert not skips, f"{where} skips a heading level: {skips}\n{outline}"


@pytest.mark.parametrize("lang", ["sv", "en"])
@pytest.mark.parametrize("state", list(ALL_STATES))
def test_i20_14_no_two_landmarks_share_a_name(site, shared_page, state, lang):
    """Each landmark (banner, navigation, main, contentinfo, complementary, search, and
    named regions and forms) is told apart from the others of its role by its name."""
    seen = structure(site, shared_page, state, lang)
    landmarks = seen["landmarks"]
    assert ("main", "") in landmarks or any(role == "main" for role, _ in landmarks), landmarks
    twice = sorted({(role, name) for role, name in landmarks if landmarks.count((role, name)) > 1})
    assert not twice, (f"{state} ({lang}, {seen['url']}): landmarks of the same role with the same name: "
                       + ", ".join(f"{landmarks.count(t)} × {t[0]} {t[1]!r}" for t in twice)
                       + f"\nall landmarks: {landmarks}")

"""axe-core (WCAG 2.0/2.1/2.2 A and AA) finds nothing on any page, in Swedish and in
English, in every state (tests/browser/states.py) — no violation, and no "incomplete"
(needs review) result that a person has not reviewed and listed, with the reason, in
a11y.REVIEWED_INCOMPLETE: signed out and signed in as each role, each htmx partial
swapped in by the real interaction, each form with errors, the decline page, the
receipt, 403 and 404. Every form control has a visible label and every error is tied
to its field (assert_accessible).

All of these only look: they run against the shared read-only server. The receipt
of a settled balance is checked after the keyboard-only payment (test_keyboard.py).
"""
from __future__ import annotations

import pytest

from tests.browser.a11y import assert_accessible
from tests.browser.states import EXPECTED_STATUS, STATES


@pytest.mark.parametrize("lang", ["sv", "en"])
@pytest.mark.parametrize("state", list(STATES))
def test_wcag_a_aa_no_axe_violations(site, shared_page, state, lang):
    user, reach = STATES[state]
    page = shared_page(site, user, lang)
    statuses = []
    page.on("response", lambda r: statuses.append(r.status) if r.request.resource_type == "document" else None)
    reach(page, site.ids)
    assert statuses[-1] == EXPECTED_STATUS.get(state, 200), f"{state} answered {statuses[-1]}"
    assert f"/{lang}/" in page.url and page.get_attribute("html", "lang") == lang
    assert_accessible(page, f"{state} ({lang})")

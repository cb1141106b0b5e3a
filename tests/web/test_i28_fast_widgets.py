"""Issue 28: WTForms' attributes written without Markup.format give the same characters
as WTForms' own html_params, for every kind of value a widget passes."""
from __future__ import annotations

import pytest
from markupsafe import Markup
from wtforms.widgets import core

from portal.web.fast_widgets import WTFORMS_HTML_PARAMS, html_params

CASES = [
    {},
    {"name": "card_number", "id": "card_number", "type": "text", "value": ""},
    {"checked": True, "readonly": False, "disabled": None, "name": "method", "value": 2},
    {"class_": "input input--error", "for_": "x", "class__": "y", "data_pager": "last", "aria_describedby": "a b"},
    {"value": 'say "hi" <b>&</b>', "placeholder": Markup("<i>safe</i>"), "title": "åäö – 1 234,50\xa0kr"},
    {"autocomplete": "cc-number", "inputmode": "numeric", "maxlength": 23, "min": 0.5, "step": "any"},
    {"data_x_y_z": "1", "aria_invalid": "true", "required": True, "hx_get": "/sv/x?a=1&b=2"},
    {"value": 0, "size": False, "multiple": True, "style": None},
]


@pytest.mark.parametrize("kwargs", CASES)
def test_i28_html_params_writes_what_wtforms_writes(kwargs):
    ours, theirs = html_params(**kwargs), WTFORMS_HTML_PARAMS(**kwargs)
    assert ours == theirs and isinstance(ours, Markup)


def test_i28_the_widgets_use_it(app):
    assert core.html_params is html_params

"""Issue 28 (pages ≤ 2× the bare page): the templates' translation callables and their
url_for are faster stand-ins that must give what Jinja's and Flask's own give."""
from __future__ import annotations

import pytest
from flask import g, url_for
from jinja2 import Environment
from jinja2.utils import _PassArg

from portal.web import remembered_url_for

MESSAGES = [
    '{{ _("Overview") }}',
    '{{ _("100%% sure") }}',
    '{{ _("Invoice %(number)s", number=x) }}',
    '{{ gettext("Paid on %(date)s", date=x) }}',
    '{{ ngettext("%(num)s invoice", "%(num)s invoices", 3) }}',
    '{{ ngettext("%(num)s of %(x)s", "%(num)s of %(x)s", 1, x=x) }}',
    '{{ pgettext("period", "From") }} {{ pgettext("period", "%(context)s %(x)s", x=x) }}',
    '{{ npgettext("c", "%(num)s row", "%(num)s rows", 2, x=x) }}',
    '{% for i in [1, 2] %}{% set y = i %}{{ _("Row %(n)s of %(x)s", n=y, x=x) }}{% endfor %}',
    '{% trans n=x %}Hello {{ n }}{% endtrans %}',
]


@pytest.mark.parametrize("autoescape", [True, False], ids=["html", "text"])
@pytest.mark.parametrize("source", MESSAGES)
def test_i28_template_translation_writes_what_jinjas_newstyle_gettext_writes(app, source, autoescape):
    """The same text (escaped values in HTML, raw in e-mail text) as Jinja's own newstyle
    callables over the same catalog; a wrong `%`, escaping or num/context would differ."""
    ours = app.jinja_env.overlay(autoescape=autoescape)
    theirs = Environment(extensions=["jinja2.ext.i18n"], autoescape=autoescape)
    theirs.policies["ext.i18n.trimmed"] = True
    with app.test_request_context("/sv/"):
        g.lang = "sv"
        translations = app.extensions["babel"].instance.domain_instance.get_translations()
        theirs.install_gettext_translations(translations, newstyle=True)
        value = '<b>"Tom & Jerry"</b>'
        assert ours.from_string(source).render(x=value) == theirs.from_string(source).render(x=value)


def test_i28_translating_in_a_loop_copies_no_context(app):
    """Jinja copies the whole context for each call of a context function inside a loop
    (the cost that was cut); the template callables take the evaluation context."""
    for name in ("_", "gettext", "ngettext", "pgettext", "npgettext"):
        assert _PassArg.from_obj(app.jinja_env.globals[name]) is _PassArg.eval_context, name


def test_i28_remembered_links_are_flasks_links(app):
    """Per language, account and query value, and a link kept from one request is not
    given to another language or script root."""
    cases = [("overview.show", {"account_id": 7}), ("overview.show", {"account_id": 8}),
             ("account.settings", {"next": "/sv/accounts/7/"}), ("account.settings", {"next": None}),
             ("pages.accessibility", {"lang": "en"}), ("invoices.start", {"account_id": 7, "profile_id": 2,
                                                                          "invoice": 9})]
    for path, script_root in (("/sv/", ""), ("/en/", ""), ("/sv/", "/portal"), ("/sv/", "")):
        with app.test_request_context(path, base_url=f"http://localhost{script_root}/"):
            g.lang = path.strip("/")
            for endpoint, values in cases:
                assert remembered_url_for(endpoint, **values) == url_for(endpoint, **values)
            external = remembered_url_for("overview.show", account_id=7, _external=True)
            assert external == url_for("overview.show", account_id=7, _external=True)
            assert external.startswith("http") and f"{script_root}/{g.lang}/accounts/7/" in external
    assert app.jinja_env.globals["url_for"] is remembered_url_for

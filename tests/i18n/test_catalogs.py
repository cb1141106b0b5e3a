"""The catalog check a localization team relies on: it fails — naming file, line and
message — when the template is stale, a Swedish message is missing, empty or fuzzy,
placeholders or HTML tags differ, or plural forms are missing. A broken catalog is
reported by the check and never crashes the portal."""
from __future__ import annotations

import re
import shutil
from importlib.metadata import version
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import write_po

from portal import catalogs
from portal.catalogs import TRANSLATIONS
from portal.config import ROOT


def test_catalogs_are_complete_and_up_to_date():
    problems = catalogs.check()
    assert not problems, "\n".join(str(p) for p in problems)


def test_every_swedish_message_is_translated_and_compiled():
    from babel.messages.mofile import read_mo
    with (TRANSLATIONS / "sv/LC_MESSAGES/messages.mo").open("rb") as handle:
        compiled = read_mo(handle)
    assert len([m for m in compiled if m.id]) == len([m for m in catalogs._read(TRANSLATIONS / "messages.pot") if m.id])


def _catalogs(tmp_path: Path, *entries) -> Path:
    """A translations folder with a template and a Swedish catalog of `entries`:
    (msgid, msgstr, flags, context)."""
    template, swedish = Catalog(), Catalog(locale="sv")
    for msgid, msgstr, flags, context in entries:
        template.add(msgid, locations=[("templates/x.html", 3)], context=context)
        swedish.add(msgid, msgstr, flags=flags, context=context, locations=[("templates/x.html", 3)])
    (tmp_path / "sv/LC_MESSAGES").mkdir(parents=True)
    with (tmp_path / "messages.pot").open("wb") as handle:
        write_po(handle, template)
    with (tmp_path / "sv/LC_MESSAGES/messages.po").open("wb") as handle:
        write_po(handle, swedish)
    return tmp_path


def _check(folder: Path) -> list[str]:
    return [str(p) for p in catalogs.check(folder, fresh=folder / "messages.pot")]


def test_check_reports_empty_and_fuzzy_with_file_and_line(tmp_path):
    folder = _catalogs(tmp_path, ("Pay now", "", (), None), ("Invoices", "Fakturor", ("fuzzy",), None))
    problems = _check(folder)
    assert any("sv/LC_MESSAGES/messages.po:" in p and "not translated" in p and "'Pay now'" in p for p in problems)
    assert any("fuzzy" in p and "'Invoices'" in p for p in problems)


def test_check_reports_placeholders_and_tags_that_differ(tmp_path):
    folder = _catalogs(tmp_path, ("Total %(amount)s", "Totalt %(belopp)s", (), None),
                       ("Read <a>the terms</a>", "Läs villkoren", (), None))
    problems = _check(folder)
    assert any("placeholders differ" in p and "%(amount)s" in p and "%(belopp)s" in p for p in problems)
    assert any("HTML tags differ" in p for p in problems)


def test_check_reports_missing_plural_forms(tmp_path):
    folder = _catalogs(tmp_path, (("%(num)d invoice", "%(num)d invoices"), ("%(num)d faktura",), (), None))
    assert any("needs 2 plural forms" in p or "not translated" in p for p in _check(folder))


def test_check_reports_a_stale_template(tmp_path):
    folder = _catalogs(tmp_path, ("Pay now", "Betala nu", (), None))
    fresh = tmp_path / "fresh.pot"
    catalog = Catalog()
    catalog.add("Pay now", locations=[("templates/x.html", 3)])
    catalog.add("Brand new", locations=[("templates/new.html", 7)])
    with fresh.open("wb") as handle:
        write_po(handle, catalog)
    problems = [str(p) for p in catalogs.check(folder, fresh=fresh)]
    assert any(p.startswith("templates/new.html:7:") and "'Brand new'" in p for p in problems)


def test_check_reports_a_catalog_that_does_not_parse(tmp_path):
    folder = _catalogs(tmp_path, ("Pay now", "Betala nu", (), None))
    po = folder / "sv/LC_MESSAGES/messages.po"
    po.write_text(po.read_text() + "\nthis line is not PO syntax: a translator's slip\n")
    problems = _check(folder)
    assert any("does not parse" in p and "messages.po" in p for p in problems)
    assert catalogs.compile_all(folder) and not (folder / "sv/LC_MESSAGES/messages.mo").exists()


def test_a_broken_compiled_catalog_never_crashes_a_page(app, client, tmp_path):
    # A copy of the catalogs for this app only: tests on other workers read the real ones.
    copy = tmp_path / "translations"
    shutil.copytree(TRANSLATIONS, copy)
    (copy / "sv/LC_MESSAGES/messages.mo").write_bytes(b"\xde\x12\x04\x95 not a catalog")
    app.extensions["babel"].translation_directories = [str(copy)]
    response = client.get("/sv/sign-in")
    assert response.status_code == 200
    assert "Sign in" in response.get_data(as_text=True)  # the English source, not a crash


@pytest.mark.parametrize("path", ["babel.cfg"])
def test_extraction_uses_the_same_trimming_as_run_time(path):
    config = (Path(catalogs.ROOT) / path).read_text()
    assert "trimmed = true" in config and "silent = false" in config


# --- Issue 20 item 10: a translator's first extract changes nothing ---------------------

def _copy_of_the_catalogs(tmp_path: Path) -> Path:
    folder = tmp_path / "translations"
    shutil.copytree(TRANSLATIONS, folder, ignore=shutil.ignore_patterns("*.mo"))
    return folder


def test_i20_10_an_update_with_no_new_messages_rewrites_nothing(tmp_path):
    folder = _copy_of_the_catalogs(tmp_path)
    before = {path: path.read_bytes() for path in folder.rglob("*.po*")}
    catalogs.update(folder)
    assert {path: path.read_bytes() for path in folder.rglob("*.po*")} == before


def test_i20_10_committed_catalogs_name_source_files_not_lines():
    text = (TRANSLATIONS / "messages.pot").read_text(encoding="utf-8")
    locations = [line for line in text.splitlines() if line.startswith("#: ")]
    assert locations and not [line for line in locations if re.search(r":\d+\b", line)]


def test_i20_10_babel_is_pinned_to_the_version_that_wrote_the_catalogs():
    pinned = re.search(r'"Babel==([\d.]+)"', (ROOT / "pyproject.toml").read_text()).group(1)
    assert pinned == version("babel")
    assert f"Generated-By: Babel {pinned}" in (TRANSLATIONS / "messages.pot").read_text(encoding="utf-8")


def test_i20_10_a_new_language_is_in_progress_and_leaves_the_check_green(tmp_path):
    folder = _copy_of_the_catalogs(tmp_path)
    catalogs.init("fi", folder)
    total = len([m for m in catalogs._read(folder / "messages.pot") if m.id])
    assert catalogs.check(folder, fresh=folder / "messages.pot") == []
    assert catalogs.in_progress(folder) == {"fi": (0, total)}
    # Switched on, the same catalog is reported as untranslated.
    assert catalogs.check(folder, fresh=folder / "messages.pot", enabled=("sv", "en", "fi"))


def test_i20_10_an_in_progress_language_still_reports_what_would_break_it(tmp_path):
    folder = _catalogs(tmp_path, ("Total %(amount)s", "", (), None), ("Pay now", "", (), None))
    finnish = Catalog(locale="fi")
    finnish.add("Total %(amount)s", "Yhteensä %(summa)s", locations=[("templates/x.html", 3)])
    finnish.add("Pay now", "", locations=[("templates/x.html", 4)])
    (folder / "fi/LC_MESSAGES").mkdir(parents=True)
    with (folder / "fi/LC_MESSAGES/messages.po").open("wb") as handle:
        write_po(handle, finnish)
    problems = [str(p) for p in catalogs.check(folder, fresh=folder / "messages.pot", enabled=())]
    assert [p for p in problems if "fi/LC_MESSAGES" in p and "placeholders differ" in p]
    assert not [p for p in problems if "fi/LC_MESSAGES" in p and "not translated" in p]
    assert catalogs.in_progress(folder, enabled=()) == {"fi": (1, 2), "sv": (0, 2)}


def test_i20_10_the_check_reports_a_template_whose_comments_or_files_are_stale(tmp_path):
    folder = _catalogs(tmp_path, ("Pay now", "Betala nu", (), None))
    fresh = tmp_path / "fresh.pot"
    catalog = Catalog()
    catalog.add("Pay now", locations=[("templates/moved.html", 9)], auto_comments=["Translators: a button"])
    with fresh.open("wb") as handle:
        write_po(handle, catalog)
    problems = [str(p) for p in catalogs.check(folder, fresh=fresh)]
    assert any(p.startswith("templates/moved.html:9:") and "translator comments changed" in p for p in problems)


# --- Issue 20 item 9: short or ambiguous strings explain themselves ----------------------

AMBIGUOUS = ("Filter", "All", "Back", "Dismiss", "Reference", "Subject", "Pay", "Month", "Year", "When", "Who",
             "What", "Summary", "Warning", "Action required", "Information", "Description")


def test_i20_9_every_short_or_ambiguous_string_has_a_translator_comment():
    template = {m.id: m for m in catalogs._read(TRANSLATIONS / "messages.pot") if m.id and not m.context}
    missing = [text for text in AMBIGUOUS if not template[text].auto_comments]
    assert not missing, f"add a '# Translators:' comment for: {missing}"
    # ... and the comments reach the catalog a translator edits.
    swedish = {m.id: m for m in catalogs._read(TRANSLATIONS / "sv/LC_MESSAGES/messages.po") if m.id}
    assert all(swedish[text].auto_comments for text in AMBIGUOUS)


# --- Issue 35 a11y-6: a language being switched on, and the translator comments ---------

def test_i35_a11y6_the_check_summarises_a_switched_on_language_by_kind(tmp_path):
    folder = _copy_of_the_catalogs(tmp_path)
    catalogs.init("fi", folder)
    total = len([m for m in catalogs._read(folder / "messages.pot") if m.id])
    problems = catalogs.check(folder, fresh=folder / "messages.pot", enabled=("sv", "en", "fi"))
    assert len(problems) == total  # the long list: one line per message
    assert catalogs.summary(problems) == [f"{folder / 'fi/LC_MESSAGES/messages.po'}: {total} not translated"]


def test_i35_a11y6_the_summary_counts_each_kind_per_file(tmp_path):
    folder = _catalogs(tmp_path, ("Total %(amount)s", "Totalt %(belopp)s", (), None),
                       ("Pay now", "", (), None), ("Invoices", "Fakturor", ("fuzzy",), None),
                       ("Read <a>the terms</a>", "Läs villkoren", (), None))
    lines = catalogs.summary(catalogs.check(folder, fresh=folder / "messages.pot"))
    assert len(lines) == 1 and lines[0].endswith(
        ": 1 not translated, 1 marked fuzzy, 1 placeholders differ, 1 HTML tags differ"), lines


def test_i35_a11y6_the_cli_prints_the_summary_after_the_list(app, tmp_path, monkeypatch):
    folder = _catalogs(tmp_path, ("Pay now", "", (), None))
    real_check = catalogs.check
    monkeypatch.setattr(catalogs, "check", lambda: real_check(folder, fresh=folder / "messages.pot"))
    monkeypatch.setattr(catalogs, "in_progress", lambda: {})
    result = app.test_cli_runner().invoke(args=["translations", "check"])
    assert result.exit_code == 1
    assert "Summary by kind:" in result.output and "1 not translated" in result.output


def test_i35_a11y6_init_names_the_language_team_not_a_placeholder(tmp_path):
    folder = _copy_of_the_catalogs(tmp_path)
    catalogs.init("fi", folder)
    text = (folder / "fi/LC_MESSAGES/messages.po").read_text(encoding="utf-8")
    assert '"Language-Team: Finnish\\n"' in text and "LL@li.org" not in text
    assert '"Last-Translator: Portal localization team\\n"' in text


def test_i35_a11y6_every_translator_comment_carries_the_tag():
    for path in (TRANSLATIONS / "messages.pot", TRANSLATIONS / "sv/LC_MESSAGES/messages.po"):
        untagged = [m.id for m in catalogs._read(path)
                    if m.id and m.auto_comments and not m.auto_comments[0].startswith("Translators:")]
        assert not untagged, f"{path.name}: {untagged}"

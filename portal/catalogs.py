"""Catalog tooling for the localization team: extract, update, compile, add a
language, and the check that runs in the test suite. Messages name the file, line
and message, so a translator can act on them without reading Python.

Decision: `translations/messages.pot` and the `.po` files are committed; compiled
`.mo` files are not (they are built by `python3 dev.py serve|test` and by
`flask translations compile`), so a stale `.mo` cannot be committed.

Decision: the committed files name each message's source file but not its line
(`#: templates/base.html`), and an extraction that finds the same messages leaves the
template as it is (its creation date included): a translator's first `update` after
unrelated code moved by a few lines changes nothing. The problems the check reports
still name file and line: it extracts a fresh template of its own, with line numbers.
Babel is pinned in pyproject.toml because its output format is part of these files.

A language whose catalog exists but is not yet switched on (`SUPPORTED_LOCALES`) is in
progress: the check reports only what would break it (unparsable file, placeholders,
tags), not what is still untranslated, so `init fi` leaves the check green."""
from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from babel import Locale
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import PoFileError, read_po, write_po

from portal.config import ROOT
from portal.i18n import SUPPORTED_LOCALES

TRANSLATIONS = ROOT / "translations"
POT = TRANSLATIONS / "messages.pot"
MAPPING = ROOT / "babel.cfg"
KEYWORDS = ["_l", "lazy_gettext", "pgettext:1c,2", "lazy_pgettext:1c,2"]
TEAM = "Portal localization team"  # Last-Translator of a new catalog
SOURCE_LOCALE = "en"  # msgids are English; the en catalog starts as a copy of them

PLACEHOLDER = re.compile(r"%\((\w+)\)[sdif]|%[sdif]")
TAG = re.compile(r"</?([a-zA-Z][\w-]*)[^>]*>")


@dataclass(frozen=True)
class Problem:
    file: str
    line: int
    message: str
    problem: str
    kind: str = "other"  # one of KINDS: what `summary` counts


    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.problem}\n    msgid: {self.message!r}"


# What the check finds, in the order a team switching a language on fixes them.
KINDS = {
    "unparsable": "the file does not parse",
    "stale template": "messages.pot out of date with the code",
    "missing": "missing from the catalog",
    "untranslated": "not translated",
    "fuzzy": "marked fuzzy",
    "placeholders": "placeholders differ",
    "tags": "HTML tags differ",
    "plural forms": "plural forms missing",
    "other": "other",
}


def summary(problems: list[Problem]) -> list[str]:
    """One line per file: its problems counted by kind, e.g.
    `translations/fi/LC_MESSAGES/messages.po: 312 not translated, 4 placeholders differ`
    — what a language being switched on still needs, before the long list."""
    counts: dict[str, dict[str, int]] = {}
    for problem in problems:
        per_file = counts.setdefault(problem.file if problem.file.endswith(".po") else "messages.pot", {})
        kind = problem.kind if problem.kind in KINDS else "other"
        per_file[kind] = per_file.get(kind, 0) + 1
    return [f"{file}: " + ", ".join(f"{per_file[k]} {KINDS[k]}" for k in KINDS if k in per_file)
            for file, per_file in sorted(counts.items())]


def _pybabel(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "babel.messages.frontend", *args], check=True, cwd=ROOT,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def extract(output: Path = POT, *, line_numbers: bool = False) -> None:
    """Read every marked string from portal/ and templates/ into the template catalog.
    The file is left untouched when it already holds the same messages."""
    with tempfile.TemporaryDirectory() as scratch:
        fresh = Path(scratch) / "messages.pot"
        args = ["extract", "-F", str(MAPPING), f"--add-comments={COMMENT_TAG}", "--sort-by-file", "--no-wrap",
                f"--add-location={'full' if line_numbers else 'file'}",
                "--project=billing-portal", "--copyright-holder=Billing portal", "-o", str(fresh)]
        for keyword in KEYWORDS:
            args += ["-k", keyword]
        _pybabel(*args, ".")
        _tag_translator_comments(fresh)
        if not (output.exists() and _same_messages(_read(output), _read(fresh))):
            shutil.copyfile(fresh, output)


COMMENT_TAG = "Translators:"


def _tag_translator_comments(path: Path) -> None:
    """Jinja's extractor drops the `Translators:` tag that Python's keeps: every
    translator comment carries it in the catalogs, so a tool (or a person) that keys
    on it sees all of them (issue 35 a11y-6). Edited as text, so the file's order and
    layout stay as extracted."""
    blocks = path.read_text(encoding="utf-8").split("\n\n")
    for i, block in enumerate(blocks):
        lines = block.split("\n")
        first = next((n for n, line in enumerate(lines) if line.startswith("#. ")), None)
        if first is not None and not lines[first].startswith(f"#. {COMMENT_TAG}"):
            lines[first] = f"#. {COMMENT_TAG} {lines[first][3:]}"
            blocks[i] = "\n".join(lines)
    path.write_text("\n\n".join(blocks), encoding="utf-8")


def _same_messages(one: Catalog, other: Catalog) -> bool:
    def content(catalog: Catalog) -> list[tuple]:
        return [(m.context, m.id, m.locations, m.auto_comments, sorted(m.flags)) for m in catalog if m.id]
    return content(one) == content(other)


def locales(directory: Path = TRANSLATIONS) -> list[str]:
    return sorted(p.parent.parent.name for p in directory.glob("*/LC_MESSAGES/messages.po"))


def update(directory: Path = TRANSLATIONS) -> None:
    """Extract, then merge the template into every language (new messages empty,
    changed ones fuzzy); the English catalog is filled with the source text."""
    template = directory / "messages.pot"
    extract(template)
    _pybabel("update", "-i", str(template), "-d", str(directory), "--no-wrap", "--ignore-obsolete")
    fill_source_catalog(directory)


def fill_source_catalog(directory: Path = TRANSLATIONS) -> None:
    path = _po(SOURCE_LOCALE, directory)
    catalog = _read(path)
    for message in catalog:
        if not message.id:
            continue
        if isinstance(message.id, tuple):
            message.string = tuple(message.id[0] if i == 0 else message.id[1]
                                   for i in range(catalog.num_plurals))
        else:
            message.string = message.id
        message.flags.discard("fuzzy")
    _write(path, catalog)


def init(locale: str, directory: Path = TRANSLATIONS) -> None:
    """Add a language: a new catalog from the template, in progress until the
    language is switched on in `SUPPORTED_LOCALES`."""
    _pybabel("init", "-i", str(directory / "messages.pot"), "-d", str(directory), "-l", locale, "--no-wrap")
    # The header names the team, as the Swedish catalog does: no "<LL@li.org>" placeholder.
    path = _po(locale, directory)
    catalog = _read(path)
    catalog.language_team = Locale.parse(locale).english_name
    catalog.last_translator = TEAM
    _write(path, catalog)


def in_progress(directory: Path = TRANSLATIONS, enabled=SUPPORTED_LOCALES) -> dict[str, tuple[int, int]]:
    """Languages with a catalog that are not switched on: (translated, all) messages."""
    progress = {}
    for locale in locales(directory):
        if locale in enabled or locale == SOURCE_LOCALE:
            continue
        try:
            messages = [m for m in _read(_po(locale, directory)) if m.id]
        except PoFileError:
            continue  # check() reports it
        done = [m for m in messages if not m.fuzzy and all(m.string if isinstance(m.string, tuple) else (m.string,))]
        progress[locale] = (len(done), len(messages))
    return progress


def compile_all(directory: Path = TRANSLATIONS) -> list[str]:
    """Compile every catalog to .mo; a catalog that does not parse is skipped (and
    reported), so the portal keeps the last good one or falls back to English."""
    errors = []
    for locale in locales(directory):
        path = _po(locale, directory)
        try:
            catalog = _read(path)
        except PoFileError as exc:
            errors.append(f"{_name(path)}: {exc}")
            continue
        buffer = io.BytesIO()
        write_mo(buffer, catalog, use_fuzzy=False)
        target = path.with_suffix(".mo")
        # A temporary file of this process's own, then an atomic rename: a running
        # portal never reads half a file, and two processes compiling at once (two
        # instances starting, two test workers) never take each other's file.
        with tempfile.NamedTemporaryFile(dir=target.parent, prefix=".messages-", suffix=".mo",
                                         delete=False) as tmp:
            tmp.write(buffer.getvalue())
        os.chmod(tmp.name, 0o644)  # readable as a file written plainly would be
        Path(tmp.name).replace(target)
    return errors


def check(directory: Path = TRANSLATIONS, fresh: Path | None = None, enabled=SUPPORTED_LOCALES) -> list[Problem]:
    """Everything a translator must fix before release; empty when all is well.
    `fresh` is a template just extracted from the code (extracted here if not given).
    Languages not in `enabled` are in progress: only what would break them counts."""
    problems: list[Problem] = []
    template = _read(directory / "messages.pot")
    problems += _template_problems(template, _read(fresh or _fresh_template()))
    for locale in locales(directory):
        path = _po(locale, directory)
        try:
            catalog = _read(path)
        except PoFileError as exc:
            problems.append(Problem(_name(path), _line_of(exc), "", f"the file does not parse: {exc}",
                                    "unparsable"))
            continue
        problems += _catalog_problems(path, catalog, template,
                                      complete=locale in enabled or locale == SOURCE_LOCALE)
    return problems


# --- internals -------------------------------------------------------------------------

def _po(locale: str, directory: Path = TRANSLATIONS) -> Path:
    return directory / locale / "LC_MESSAGES" / "messages.po"


def _name(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def _read(path: Path) -> Catalog:
    with path.open("rb") as handle:
        return read_po(handle, abort_invalid=True)


def _write(path: Path, catalog: Catalog) -> None:
    with path.open("wb") as handle:
        write_po(handle, catalog, width=0, ignore_obsolete=True, include_lineno=False)  # order as extracted


def _fresh_template() -> Path:
    target = Path(tempfile.mkdtemp()) / "messages.pot"
    extract(target, line_numbers=True)  # so problems name the line
    return target


def _key(message) -> tuple:
    return (message.context, message.id)


def _where(message, default: str) -> tuple[str, int]:
    return message.locations[0] if message.locations else (default, message.lineno or 0)


def _template_problems(committed: Catalog, fresh: Catalog) -> list[Problem]:
    problems = []
    old = {_key(m): m for m in committed if m.id}
    new = {_key(m): m for m in fresh if m.id}
    for key in new.keys() & old.keys():
        if {file for file, _ in new[key].locations} != {file for file, _ in old[key].locations} or \
                new[key].auto_comments != old[key].auto_comments:
            file, line = _where(new[key], "?")
            problems.append(Problem(file, line, _text(new[key].id),
                                    "its source files or translator comments changed "
                                    "(run: python3 dev.py translations update)", "stale template"))
    for key in new.keys() - old.keys():
        file, line = _where(new[key], "?")
        problems.append(Problem(file, line, _text(new[key].id),
                                "new message in the code, missing from translations/messages.pot "
                                "(run: python3 dev.py translations update)", "stale template"))
    for key in old.keys() - new.keys():
        problems.append(Problem("translations/messages.pot", old[key].lineno or 0, _text(old[key].id),
                                "message no longer in the code (run: python3 dev.py translations update)",
                                "stale template"))
    return problems


def _catalog_problems(path: Path, catalog: Catalog, template: Catalog, complete: bool = True) -> list[Problem]:
    name = _name(path)
    problems = []
    translated = {_key(m): m for m in catalog if m.id}
    for message in template:
        if complete and message.id and _key(message) not in translated:
            problems.append(Problem(name, 0, _text(message.id),
                                    "missing from this catalog (run: python3 dev.py translations update)",
                                    "missing"))
    for message in catalog:
        if not message.id:
            continue

        def report(problem: str, kind: str, message=message) -> None:
            problems.append(Problem(name, message.lineno or 0, _text(message.id), problem, kind))

        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if message.fuzzy and complete:
            report("marked fuzzy: check the translation and remove the fuzzy flag", "fuzzy")
        if isinstance(message.id, tuple) and len(strings) != catalog.num_plurals:
            report(f"needs {catalog.num_plurals} plural forms, has {len(strings)}", "plural forms")
        if any(not s for s in strings):
            if complete:
                report("not translated (empty msgstr)", "untranslated")
            continue
        source = message.id if isinstance(message.id, tuple) else (message.id,)
        wanted = set(PLACEHOLDER.findall(" ".join(source)))
        for form, text in enumerate(strings):
            got = set(PLACEHOLDER.findall(text))
            if not got <= wanted or (len(strings) == 1 and got != wanted) or (
                    form > 0 and got != set(PLACEHOLDER.findall(source[-1]))):
                report(f"placeholders differ: source has {_names(wanted)}, translation has {_names(got)}",
                       "placeholders")
            if sorted(TAG.findall(" ".join(source))) != sorted(TAG.findall(text)) and len(strings) == 1:
                report("HTML tags differ between the source and the translation", "tags")
    return problems


def _names(found) -> str:
    return ", ".join(sorted(f"%({n})s" if n else "%s" for n in found)) or "none"


def _text(message_id) -> str:
    return message_id[0] if isinstance(message_id, tuple) else message_id


def _line_of(exc: Exception) -> int:
    match = re.search(r"line (\d+)", str(exc))
    return int(match.group(1)) if match else 0

"""Catalog tooling for the localization team: extract, update, compile, add a
language, and the check that runs in the test suite. Messages name the file, line
and message, so a translator can act on them without reading Python.

Decision: `translations/messages.pot` and the `.po` files are committed; compiled
`.mo` files are not (they are built by `python3 dev.py serve|test` and by
`flask translations compile`), so a stale `.mo` cannot be committed."""
from __future__ import annotations

import io
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import PoFileError, read_po, write_po

from portal.config import ROOT

TRANSLATIONS = ROOT / "translations"
POT = TRANSLATIONS / "messages.pot"
MAPPING = ROOT / "babel.cfg"
KEYWORDS = ["_l", "lazy_gettext", "pgettext:1c,2", "lazy_pgettext:1c,2"]
SOURCE_LOCALE = "en"  # msgids are English; the en catalog starts as a copy of them

PLACEHOLDER = re.compile(r"%\((\w+)\)[sdif]|%[sdif]")
TAG = re.compile(r"</?([a-zA-Z][\w-]*)[^>]*>")


@dataclass(frozen=True)
class Problem:
    file: str
    line: int
    message: str
    problem: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.problem}\n    msgid: {self.message!r}"


def _pybabel(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "babel.messages.frontend", *args], check=True, cwd=ROOT,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def extract(output: Path = POT) -> None:
    """Read every marked string from portal/ and templates/ into the template catalog."""
    args = ["extract", "-F", str(MAPPING), "--add-comments=Translators:", "--sort-by-file", "--no-wrap",
            "--project=billing-portal", "--copyright-holder=Billing portal", "-o", str(output)]
    for keyword in KEYWORDS:
        args += ["-k", keyword]
    _pybabel(*args, ".")


def locales(directory: Path = TRANSLATIONS) -> list[str]:
    return sorted(p.parent.parent.name for p in directory.glob("*/LC_MESSAGES/messages.po"))


def update() -> None:
    """Extract, then merge the template into every language (new messages empty,
    changed ones fuzzy); the English catalog is filled with the source text."""
    extract()
    _pybabel("update", "-i", str(POT), "-d", str(TRANSLATIONS), "--no-wrap", "--ignore-obsolete")
    fill_source_catalog()


def fill_source_catalog() -> None:
    path = _po(SOURCE_LOCALE)
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


def init(locale: str) -> None:
    """Add a language: a new catalog from the template."""
    _pybabel("init", "-i", str(POT), "-d", str(TRANSLATIONS), "-l", locale, "--no-wrap")


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
        tmp = target.with_suffix(".mo.tmp")
        tmp.write_bytes(buffer.getvalue())
        tmp.replace(target)  # atomic: a running portal never reads half a file
    return errors


def check(directory: Path = TRANSLATIONS, fresh: Path | None = None) -> list[Problem]:
    """Everything a translator must fix before release; empty when all is well.
    `fresh` is a template just extracted from the code (extracted here if not given)."""
    problems: list[Problem] = []
    template = _read(directory / "messages.pot")
    problems += _template_problems(template, _read(fresh or _fresh_template()))
    for locale in locales(directory):
        path = _po(locale, directory)
        try:
            catalog = _read(path)
        except PoFileError as exc:
            problems.append(Problem(_name(path), _line_of(exc), "", f"the file does not parse: {exc}"))
            continue
        problems += _catalog_problems(path, catalog, template)
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
        write_po(handle, catalog, width=0, sort_by_file=True, ignore_obsolete=True)


def _fresh_template() -> Path:
    target = Path(tempfile.mkdtemp()) / "messages.pot"
    extract(target)
    return target


def _key(message) -> tuple:
    return (message.context, message.id)


def _where(message, default: str) -> tuple[str, int]:
    return message.locations[0] if message.locations else (default, message.lineno or 0)


def _template_problems(committed: Catalog, fresh: Catalog) -> list[Problem]:
    problems = []
    old = {_key(m): m for m in committed if m.id}
    new = {_key(m): m for m in fresh if m.id}
    for key in new.keys() - old.keys():
        file, line = _where(new[key], "?")
        problems.append(Problem(file, line, _text(new[key].id),
                                "new message in the code, missing from translations/messages.pot "
                                "(run: python3 dev.py translations update)"))
    for key in old.keys() - new.keys():
        problems.append(Problem("translations/messages.pot", old[key].lineno or 0, _text(old[key].id),
                                "message no longer in the code (run: python3 dev.py translations update)"))
    return problems


def _catalog_problems(path: Path, catalog: Catalog, template: Catalog) -> list[Problem]:
    name = _name(path)
    problems = []
    translated = {_key(m): m for m in catalog if m.id}
    for message in template:
        if message.id and _key(message) not in translated:
            problems.append(Problem(name, 0, _text(message.id),
                                    "missing from this catalog (run: python3 dev.py translations update)"))
    for message in catalog:
        if not message.id:
            continue

        def report(problem: str, message=message) -> None:
            problems.append(Problem(name, message.lineno or 0, _text(message.id), problem))

        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if message.fuzzy:
            report("marked fuzzy: check the translation and remove the fuzzy flag")
        if isinstance(message.id, tuple) and len(strings) != catalog.num_plurals:
            report(f"needs {catalog.num_plurals} plural forms, has {len(strings)}")
        if any(not s for s in strings):
            report("not translated (empty msgstr)")
            continue
        source = message.id if isinstance(message.id, tuple) else (message.id,)
        wanted = set(PLACEHOLDER.findall(" ".join(source)))
        for form, text in enumerate(strings):
            got = set(PLACEHOLDER.findall(text))
            if not got <= wanted or (len(strings) == 1 and got != wanted) or (
                    form > 0 and got != set(PLACEHOLDER.findall(source[-1]))):
                report(f"placeholders differ: source has {_names(wanted)}, translation has {_names(got)}")
            if sorted(TAG.findall(" ".join(source))) != sorted(TAG.findall(text)) and len(strings) == 1:
                report("HTML tags differ between the source and the translation")
    return problems


def _names(found) -> str:
    return ", ".join(sorted(f"%({n})s" if n else "%s" for n in found)) or "none"


def _text(message_id) -> str:
    return message_id[0] if isinstance(message_id, tuple) else message_id


def _line_of(exc: Exception) -> int:
    match = re.search(r"line (\d+)", str(exc))
    return int(match.group(1)) if match else 0

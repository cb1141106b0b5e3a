"""The docs a newcomer reads: a README short enough to read in five minutes, and docs
that point at things that exist. Every relative link in README.md, CONTRIBUTING.md and
docs/*.md resolves to a file (and its #anchor to a heading there); every path in
backticks that names a repository file or folder (`portal/…`, `tests/…`, `docs/…`, …)
exists, as do the modules listed in the fenced module trees; and no issue numbers: the
product's docs speak in rule ids and dates.

When code moves, run `python -m tests.test_docs` from the repository's root: it prints
each path or link that no longer resolves, with its file and line."""
from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README_MAX_LINES = 250

# What a repository path starts with: a folder or a file at the top of the repository.
TOP_FOLDERS = ("portal/", "tests/", "bench/", "templates/", "static/", "translations/", "docs/", ".ci/")
TOP_FILES = {"README.md", "CONTRIBUTING.md", "dev.py", "wsgi.py", "gunicorn.conf.py", "pyproject.toml",
             "babel.cfg", ".ci/run"}
NOT_A_PATH = re.compile(r"[\s*<>{}…|]")   # globs, placeholders, prose
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
CODE_SPAN = re.compile(r"`([^`\n]+)`")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
ISSUE_NUMBER = re.compile(r"\bissues?\s+#?\d+|\bsession\s+\d+", re.IGNORECASE)


def doc_files(root: Path = ROOT) -> list[Path]:
    """The product's docs: README.md, CONTRIBUTING.md and every docs/*.md."""
    return [root / "README.md", root / "CONTRIBUTING.md", *sorted((root / "docs").glob("*.md"))]


def prose_lines(text: str) -> list[tuple[int, str, bool]]:
    """(line number, line, inside a fenced block) for every line of a Markdown text."""
    lines, fenced = [], False
    for number, line in enumerate(text.splitlines(), 1):
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        lines.append((number, line, fenced))
    return lines


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces → '-'."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link keeps its words
    text = re.sub(r"[^\w\- ]", "", text.strip().lower())
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Every anchor a file's headings give, duplicates numbered as GitHub does."""
    seen: dict[str, int] = {}
    result = set()
    for _, line, fenced in prose_lines(path.read_text(encoding="utf-8")):
        match = HEADING.match(line)
        if fenced or not match:
            continue
        base = slug(match.group(2))
        count = seen.get(base, 0)
        seen[base] = count + 1
        result.add(base if count == 0 else f"{base}-{count}")
    return result


def broken_links(root: Path = ROOT) -> list[str]:
    """Relative links (and their #anchors) that lead nowhere."""
    broken = []
    for doc in doc_files(root):
        for number, line, fenced in prose_lines(doc.read_text(encoding="utf-8")):
            if fenced:
                continue
            for target in LINK.findall(line):
                if re.match(r"[a-z][a-z0-9+.-]*:", target):  # https:, mailto:
                    continue
                file_part, _, anchor = target.partition("#")
                where = (doc.parent / file_part).resolve() if file_part else doc
                place = f"{doc.relative_to(root)}:{number}: {target}"
                if not where.exists():
                    broken.append(f"{place} (no such file)")
                elif anchor and where.suffix == ".md" and anchor not in anchors(where):
                    broken.append(f"{place} (no heading with that anchor)")
    return broken


def repo_path(span: str) -> str | None:
    """The repository path a code span names, or None when it names none: `portal/x.py`,
    `portal/x.py:function`, `tests/x.py::test`, `docs/`; not `instance/…`, globs or
    placeholders."""
    candidate = span.split("::")[0]
    candidate = re.sub(r"(:[\w.]*)+$", "", candidate).rstrip(",")
    if NOT_A_PATH.search(candidate) or candidate.startswith("../"):
        return None
    if candidate in TOP_FILES or candidate.startswith(TOP_FOLDERS):
        return candidate
    return None


def tree_paths(lines: list[tuple[int, str, bool]]) -> list[tuple[int, str]]:
    """The modules a fenced module tree lists: a line starting with a repository path
    (`portal/billing/   what it is`), and under a folder, the names indented beneath it
    (`  access.py   …`, `  clock.py, context.py`)."""
    found, folder = [], None
    for number, line, fenced in lines:
        if not fenced or not line.strip():
            continue
        if not line.startswith(" "):
            path = repo_path(line.split()[0])
            folder = path if path and path.endswith("/") else None
            if path:  # and the others before its description: `templates/ static/ translations/`
                found.extend((number, other) for other in map(repo_path, line.split("   ")[0].split()) if other)
        elif folder and re.match(r"  \S", line):
            names = line.strip().split("  ")[0]
            for name in re.split(r",\s*", names):
                name = name.split(" ")[0]
                if re.fullmatch(r"[\w.]+(\.py|/)", name):
                    found.append((number, folder + name))
    return found


def missing_paths(root: Path = ROOT) -> list[str]:
    """Paths in backticks, and modules in the fenced module trees, that do not exist.
    The coordinator runs this after moving modules (`python -m tests.test_docs`)."""
    missing = []
    for doc in doc_files(root):
        lines = prose_lines(doc.read_text(encoding="utf-8"))
        named = [(number, path) for number, line, fenced in lines if not fenced
                 for path in filter(None, map(repo_path, CODE_SPAN.findall(line)))]
        for number, path in named + tree_paths(lines):
            if not (root / path).exists():
                missing.append(f"{doc.relative_to(root)}:{number}: {path}")
    return missing


def issue_numbers(root: Path = ROOT) -> list[str]:
    """Mentions of an issue (or a session) by number, also across a line break: the
    docs say rule ids and dates."""
    found = []
    for doc in doc_files(root):
        text = doc.read_text(encoding="utf-8")
        for match in ISSUE_NUMBER.finditer(text):
            number = text.count("\n", 0, match.start()) + 1
            found.append(f"{doc.relative_to(root)}:{number}: {' '.join(match.group().split())}")
    return found


def test_i29_the_readme_is_read_in_five_minutes():
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines (at most {README_MAX_LINES})"


def test_i29_the_readme_keeps_its_two_commands():
    """.ci/run and dev.py rely on them; a newcomer starts with them."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert re.search(r"^python3 dev\.py serve\b", readme, re.M)
    assert re.search(r"^python3 dev\.py test\b", readme, re.M)


def test_i29_the_docs_a_newcomer_looks_for_are_there_and_linked_from_the_readme():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name in ("architecture", "decisions", "operations", "performance", "localization", "accessibility",
                 "money-across-flows", "vat"):
        assert (ROOT / "docs" / f"{name}.md").is_file(), name
        assert f"(docs/{name}.md" in readme, f"README.md does not link docs/{name}.md"
    assert "(CONTRIBUTING.md)" in readme


def test_i29_every_relative_link_and_anchor_resolves():
    assert broken_links() == []


def test_i29_every_repository_path_in_the_docs_exists():
    assert missing_paths() == []


def test_i29_the_docs_name_rules_and_dates_not_issue_numbers():
    assert issue_numbers() == []


def test_i29_the_checks_fail_on_a_broken_doc(tmp_path):
    """The checks can fail: a dead link, a wrong anchor, a missing module and an issue
    number in a copy of the docs are each reported."""
    (tmp_path / "docs").mkdir()
    (tmp_path / "portal").mkdir()
    (tmp_path / "portal" / "here.py").write_text("")
    (tmp_path / "CONTRIBUTING.md").write_text("# Contributing\n\n## Run one test\n")
    (tmp_path / "docs" / "a.md").write_text(
        "# A\n\n```\nportal/   the code\n  here.py   exists\n  gone.py   does not\n```\n")
    (tmp_path / "README.md").write_text(
        "# R\n\n[ok](CONTRIBUTING.md#run-one-test) [bad anchor](CONTRIBUTING.md#nowhere) [dead](docs/b.md)\n"
        "`portal/here.py:thing` `portal/missing.py` `instance/portal.sqlite` `tests/x.py::test_y`\n"
        "Since issue 28 it is fast, since issue\n  29 faster.\n")
    assert broken_links(tmp_path) == ["README.md:3: CONTRIBUTING.md#nowhere (no heading with that anchor)",
                                      "README.md:3: docs/b.md (no such file)"]
    assert missing_paths(tmp_path) == ["README.md:4: portal/missing.py", "README.md:4: tests/x.py",
                                       "docs/a.md:6: portal/gone.py"]
    assert issue_numbers(tmp_path) == ["README.md:5: issue 28", "README.md:5: issue 29"]


if __name__ == "__main__":
    problems = broken_links() + missing_paths() + issue_numbers()
    print("\n".join(problems) or "every link, anchor and path in the docs resolves")
    sys.exit(1 if problems else 0)

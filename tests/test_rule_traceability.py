"""Rule → test: every rule of ../shared/SPEC.md (R01–R22, B1–B23, M1–M9) is proven by at
least one test named after it (`test_r08_…`, `test_b21_…`, `test_m9_…`; CONTRIBUTING.md
"What a test looks like"), so anyone can go from a rule to its proof by name."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT.parent / "shared" / "SPEC.md"

# SPEC.md's rule ids as of December 2026 (kept here because SPEC.md lives beside the
# repository, not in it; the test below checks the list against it where it is there).
RULES = ([f"R{n:02d}" for n in range(1, 23)] + [f"B{n}" for n in range(1, 24)]
         + [f"M{n}" for n in range(1, 10)])
RULE_IN_SPEC = re.compile(r"^- \*\*([RBM]\d+)\*\*", re.M)
TEST_NAME = re.compile(r"^\s*(?:async\s+)?def (test_([rbm]\d+)_\w*)\(", re.M)


def rule_tests() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for path in ROOT.joinpath("tests").rglob("test_*.py"):
        for name, rule in TEST_NAME.findall(path.read_text(encoding="utf-8")):
            found.setdefault(rule.upper(), []).append(name)
    return found


def test_every_rule_of_the_spec_has_a_test_named_after_it():
    found = rule_tests()
    unproven = [rule for rule in RULES if rule not in found]
    assert not unproven, f"rules no test is named after: {unproven} (name a test test_<rule>_…)"


def test_the_rule_list_is_the_specs():
    if not SPEC.is_file():
        pytest.skip("../shared/SPEC.md is not beside this clone: the list above stands alone")
    assert RULES == RULE_IN_SPEC.findall(SPEC.read_text(encoding="utf-8"))


def test_a_rule_without_a_test_is_found(tmp_path, monkeypatch):
    monkeypatch.setattr("tests.test_rule_traceability.RULES", RULES + ["B99"])
    with pytest.raises(AssertionError, match="B99"):
        test_every_rule_of_the_spec_has_a_test_named_after_it()

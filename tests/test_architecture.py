"""Issue 15: the layers a newcomer can rely on, checked by walking every module's
imports (top-level and inside functions alike).

    errors, money, models            (nothing of the portal above them)
    billing/                         the service layer: its shared modules, then the
                                     packages accounts < invoicing < payments < bank, cycle
    wording, deeplinks, services     what web/, mail/ and the CLI share
    web/   mail/   cli               the edges: none reaches into another
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PORTAL = ROOT / "portal"


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> list[tuple[int, str, bool]]:
    """(line, imported module, inside a function?) for every import in the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inner = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef))
            if isinstance(child, ast.Import):
                found.extend((child.lineno, alias.name, in_function) for alias in child.names)
            elif isinstance(child, ast.ImportFrom) and child.level == 0 and child.module:
                # `from portal import wording` imports portal.wording
                found.extend((child.lineno, f"{child.module}.{alias.name}", in_function) for alias in child.names)
            visit(child, inner)

    visit(tree, False)
    return found


def modules() -> list[Path]:
    return sorted(p for p in PORTAL.rglob("*.py") if "migrations" not in p.parts)


def arrows(source_prefix: str, target_prefix: str) -> list[str]:
    bad = []
    for path in modules():
        name = module_name(path)
        if name != source_prefix and not name.startswith(source_prefix + "."):
            continue
        for line, imported, _ in imports_of(path):
            if imported == target_prefix or imported.startswith(target_prefix + "."):
                bad.append(f"{path.relative_to(ROOT)}:{line} imports {imported}")
    return bad


@pytest.mark.parametrize("edge", ["portal.mail", "portal.cli", "portal.users_cli", "portal.provider_cli",
                                  "portal.autogiro_cli"])
def test_a1_mail_and_the_cli_never_import_web(edge):
    assert arrows(edge, "portal.web") == []


@pytest.mark.parametrize("bottom", ["portal.models", "portal.money", "portal.errors"])
def test_a1_models_money_and_errors_never_import_billing(bottom):
    assert arrows(bottom, "portal.billing") == []


@pytest.mark.parametrize("layer", ["portal.billing", "portal.wording", "portal.deeplinks", "portal.services"])
def test_a1_the_service_layer_and_what_edges_share_never_import_an_edge(layer):
    assert [a for edge in ("portal.web", "portal.mail", "portal.cli") for a in arrows(layer, edge)] == []


def test_a1_the_walk_sees_an_arrow_when_there_is_one(tmp_path):
    """The check itself can fail: a module importing web inside a function is seen."""
    probe = tmp_path / "probe.py"
    probe.write_text("def f():\n    from portal.web import checkout\n")
    assert imports_of(probe) == [(2, "portal.web.checkout", True)]


def test_a3_function_level_imports_say_which_cycle_they_break():
    """An import inside a function hides a dependency; it is there only to break an
    import cycle, and a comment on its line or the line above says which."""
    unexplained = []
    for path in modules():
        lines = path.read_text(encoding="utf-8").splitlines()
        for line, imported, in_function in imports_of(path):
            said = " ".join(lines[max(line - 2, 0):line]).lower()
            if in_function and "cycle" not in said:
                unexplained.append(f"{path.relative_to(ROOT)}:{line} {imported}")
    assert unexplained == []


# M7: what the moved-clock runs and the `wall_clock` marker rely on.
CLOCK_MODULE = PORTAL / "billing" / "clock.py"
_READS = {"datetime": {"now", "utcnow", "today"}, "date": {"now", "today"},
          "time": {"time", "time_ns", "localtime", "gmtime", "ctime", "asctime"}}


def system_clock_reads(path: Path) -> list[str]:
    """Calls that read the system clock: datetime.now(), date.today(), time.time() …
    (whatever the module is imported as: `dt.datetime.now()` too)."""
    found, where = [], path.relative_to(ROOT) if path.is_relative_to(ROOT) else path.name
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = ast.unparse(node.func.value).split(".")[-1].lstrip("_")
            if node.func.attr in _READS.get(owner, ()) and not (owner == "time" and node.args):
                found.append(f"{where}:{node.lineno} {ast.unparse(node.func)}()")
    return found


def test_m7_only_the_clock_module_reads_the_system_clock():
    """Everything else asks the injected clock, or clock.wall_clock()/epoch_seconds():
    so a fixed clock in a test really fixes the time, and the suite can see (and mark)
    every test that reads the real one."""
    assert [read for path in modules() if path != CLOCK_MODULE for read in system_clock_reads(path)] == []
    assert len(system_clock_reads(CLOCK_MODULE)) == 2  # wall_clock() and epoch_seconds()


def test_m7_the_clock_check_sees_a_read_when_there_is_one(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("import datetime as dt, time\nx = dt.date.today()\ny = time.time()\n"
                     "z = time.gmtime(0)\nw = dt.datetime.now(dt.UTC)\n")
    assert [r.split(":", 1)[1] for r in system_clock_reads(probe)] == [
        "2 dt.date.today()", "3 time.time()", "5 dt.datetime.now()"]


PAYMENTS_ORDER = ["sandbox", "cards", "attempts", "ledger", "engine", "settle", "invoices", "retry", "reconcile", "methods"]


def test_i27_the_payment_package_imports_only_downwards():
    """portal/billing/payments/: each module imports only those above it in the
    package's list (its docstring), so the engine never depends on a kind of payment."""
    package = PORTAL / "billing" / "payments"
    assert sorted(p.stem for p in package.glob("*.py") if p.stem != "__init__") == sorted(PAYMENTS_ORDER)
    bad = []
    for rank, name in enumerate(PAYMENTS_ORDER):
        for line, imported, _ in imports_of(package / f"{name}.py"):
            if imported.startswith("portal.billing.payments."):
                target = imported.split(".")[3]
                if target not in PAYMENTS_ORDER[:rank]:
                    bad.append(f"{name}.py:{line} imports {imported}")
    assert bad == []


# Issue 29: billing/ by domain. Each package imports billing's shared top-level modules
# and the packages listed for it (its `__init__` docstring says the same); the shared
# modules import no package.
BILLING = PORTAL / "billing"
PACKAGE_ARROWS = {
    "shared": set(),
    "accounts": {"shared"},
    "invoicing": {"shared", "accounts"},
    "payments": {"shared", "accounts", "invoicing"},
    "bank": {"shared", "accounts", "invoicing", "payments"},
    "cycle": {"shared", "accounts", "invoicing", "payments"},
    "provider": {"shared", "accounts", "invoicing", "payments", "bank", "cycle"},  # issue 32
}


def billing_package(module: str) -> str | None:
    """'accounts' for portal.billing.accounts.credit, 'shared' for portal.billing.clock
    (or `from portal.billing import clock`), None outside billing."""
    parts = module.split(".")
    if parts[:2] != ["portal", "billing"] or len(parts) < 3:
        return None
    return parts[2] if parts[2] in PACKAGE_ARROWS else "shared"


def package_arrows() -> set[tuple[str, str, str]]:
    found = set()
    for path in BILLING.rglob("*.py"):
        source = billing_package(module_name(path))
        for line, imported, _ in imports_of(path):
            target = billing_package(imported)
            if target is not None and target != source:
                found.add((source, target, f"{path.relative_to(ROOT)}:{line} imports {imported}"))
    return found


def test_i29_billing_is_split_into_the_packages_the_arrows_name():
    packages = {p.parent.name for p in BILLING.glob("*/__init__.py")}
    assert packages == set(PACKAGE_ARROWS) - {"shared"}
    for name in packages:
        assert (BILLING / name / "__init__.py").read_text(encoding="utf-8").startswith('"""'), name


def test_i29_billing_packages_import_only_the_packages_below_them():
    assert sorted(where for source, target, where in package_arrows()
                  if target not in PACKAGE_ARROWS[source]) == []


def test_i29_the_allowed_package_arrows_have_no_cycle():
    """The allowed arrows form an order (so the real ones, a subset, cannot circle)."""
    done: list[str] = []
    remaining = dict(PACKAGE_ARROWS)
    while remaining:
        ready = [name for name, below in remaining.items() if below <= set(done)]
        assert ready, f"cycle among {sorted(remaining)}"
        for name in ready:
            done.append(name)
            del remaining[name]


def test_i29_the_package_check_sees_an_arrow_up():
    assert billing_package("portal.billing.cycle.lifecycle") == "cycle"
    assert billing_package("portal.billing.clock") == "shared"
    assert billing_package("portal.models") is None
    assert "cycle" not in PACKAGE_ARROWS[billing_package("portal.billing.payments.ledger")]


# Issue 29, item 2: rooms a newcomer can read. No module over MODULE_LINES lines and no
# class over CLASS_LINES, outside the migrations — unless a line `# size: <reason>` near
# the module's top says why it must be one (used sparingly).
MODULE_LINES, CLASS_LINES = 500, 200
SIZE_REASON = "# size: "


def python_files() -> list[Path]:
    skip = {"migrations", ".venv", "node_modules", "__pycache__"}
    return sorted(p for p in ROOT.rglob("*.py") if not skip & set(p.relative_to(ROOT).parts))


def too_large(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    if any(line.startswith(SIZE_REASON) and line[len(SIZE_REASON):].strip() for line in lines[:15]):
        return []
    where = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path.name
    found = [f"{where}: {len(lines)} lines"] if len(lines) > MODULE_LINES else []
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.ClassDef) and node.end_lineno - node.lineno + 1 > CLASS_LINES:
            found.append(f"{where}: class {node.name} {node.end_lineno - node.lineno + 1} lines")
    return found


def test_i29_no_module_over_500_lines_and_no_class_over_200_without_a_reason():
    assert [found for path in python_files() for found in too_large(path)] == []


def test_i29_the_size_check_sees_a_long_module_and_a_long_class_and_reads_a_reason(tmp_path):
    long_class = "class Big:\n" + "    x = 1\n" * CLASS_LINES
    probe = tmp_path / "probe.py"
    probe.write_text(long_class + "y = 2\n" * (MODULE_LINES - CLASS_LINES))
    assert too_large(probe) == ["probe.py: 501 lines", "probe.py: class Big 201 lines"]
    probe.write_text('"""Doc."""\n# size: one state machine\n' + long_class)
    assert too_large(probe) == []
    probe.write_text("# size:\n" + long_class)  # a reason must say something
    assert too_large(probe) == ["probe.py: class Big 201 lines"]

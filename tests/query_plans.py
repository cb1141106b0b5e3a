"""What a statement's plan reads, counted in rows (issue 28): tests that prove a page,
export or payment stays sublinear in the account count rows, never milliseconds, so they
fail on a plan regression on any machine."""
from __future__ import annotations

from sqlalchemy import text


class RowsRead(int):
    """A count of rows that shows, in a failed assertion, the plan that read them."""
    plan: str

    def __repr__(self) -> str:
        return f"{int(self)} (plan: {self.plan})"


def _outline(node, depth=0) -> str:
    line = "  " * depth + " ".join(str(node[k]) for k in ("Node Type", "Relation Name", "Index Name",
                                                          "Actual Rows", "Rows Removed by Filter") if k in node)
    return "\n".join([line, *(_outline(child, depth + 1) for child in node.get("Plans", []))])


def rows_read(b, statement) -> RowsRead:
    """Rows the plan of `statement` reads from its tables: PostgreSQL's EXPLAIN ANALYZE
    (the scans' rows plus those their filters removed), with sequential scans off so a
    small table still shows which index condition the plan can use."""
    compiled = statement.compile(b.session.get_bind(), compile_kwargs={"literal_binds": True})
    b.session.execute(text("SET LOCAL enable_seqscan = off"))
    [[plan]] = b.session.execute(text(f"EXPLAIN (ANALYZE, FORMAT JSON) {compiled}")).all()
    b.session.rollback()

    def walk(node) -> int:
        scanned = (node.get("Actual Rows", 0) + node.get("Rows Removed by Filter", 0)
                   if "Scan" in node["Node Type"] and "Relation Name" in node else 0)
        return scanned + sum(walk(child) for child in node.get("Plans", []))
    counted = RowsRead(walk(plan[0]["Plan"]))
    counted.plan = "\n" + _outline(plan[0]["Plan"])
    return counted

"""The large account (issue 28): what the database reads, counted in rows, not timed —
so a regression to a plan that reads the whole account fails here on any machine."""
from __future__ import annotations

from sqlalchemy import select, text

from portal.billing.accounts import history
from portal.models import Payment
from tests import factories as f
from tests.query_plans import rows_read

PAYMENTS = 3_000
TIES = 4  # payments recorded in the same second, ordered by id


def test_i28_each_export_batch_is_one_index_range_not_a_rescan_of_what_came_before(b):
    """The CSV export reads a batch after the last one by (created_at, id): the next
    batch must cost the batch, not every row before it (quadratic in a million)."""
    acc = f.account(b)
    card = f.card(b, acc)
    f.commit(b)
    f.payments(b, acc, card, PAYMENTS, "large", per_second=TIES)
    f.commit(b)
    where = [Payment.account_id == acc.id]
    ordered = list(b.session.execute(select(Payment.created_at, Payment.id).where(*where)
                                     .order_by(Payment.created_at, Payment.id)))
    after = tuple(ordered[-history.EXPORT_BATCH // 5 - 2])  # the last batch: a fifth of one, past a tie
    batch = b.session.execute(history.export_batch(where, after)).all()
    assert [(p.created_at, p.id) for p in batch] == [tuple(r) for r in ordered[-history.EXPORT_BATCH // 5 - 1:]]
    if b.session.get_bind().dialect.name == "postgresql":
        # Statistics of these rows, as autovacuum would gather them: those an earlier
        # test left (the database is emptied, not dropped) once chose the whole account.
        b.session.execute(text("ANALYZE payments"))
        assert rows_read(b, history.export_batch(where, after)) <= len(batch) + TIES
    else:
        plan = " ".join(row[-1] for row in b.session.execute(
            text("EXPLAIN QUERY PLAN " + str(history.export_batch(where, after).compile(
                b.session.get_bind(), compile_kwargs={"literal_binds": True})))))
        assert "ix_payments_account_created (account_id=? AND created_at>?)" in plan, plan  # a range

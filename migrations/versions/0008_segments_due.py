"""segments: which customers the next recompute must look at (an incremental recompute)

customers.segments_due_at: when the customer's segment, tier and flags must next be
recomputed. The recompute sets it to the earliest moment one of the customer's dates leaves a
window its classification counts (NULL: not until their orders or complaints change);
triggers set it to long ago (DUE_NOW) whenever an order or complaint of the customer is
written, whoever writes it. customers.segment_spend_cents: the spend the layer ranks by, as of
the last recompute, so that a recompute of a few customers can rank everyone.
orders.ix_orders_customer_paid also holds every column the recompute reads of an order.
segments_state: the moment and thresholds of the last recompute (a recompute at an earlier
moment, or with other thresholds, looks at every customer).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28 13:20:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

DUE_NOW = "1970-01-01 00:00:00.000000"  # app.segments.DUE_NOW, as SQLite stores it
# What the classification reads of an order (app.segments.gather); an update of other
# columns (items, shipped_at, ...) leaves the customer's segment as it is.
ORDER_COLUMNS = "customer_id, status, amount, refund_amount, review, created_at, paid_at"
COMPLAINT_COLUMNS = "customer_id, at"
COVERED = ["status", "amount", "refund_amount", "review", "created_at"]


def _mark(customer: str) -> str:
    return (
        f"UPDATE customers SET segments_due_at = '{DUE_NOW}' WHERE id = {customer}"
        f" AND (segments_due_at IS NULL OR segments_due_at > '{DUE_NOW}');"
    )


def _sqlite_triggers(table: str, columns: str) -> dict[str, str]:
    return {
        f"{table}_segments_insert": f"CREATE TRIGGER {table}_segments_insert AFTER INSERT ON {table} BEGIN "
        f"{_mark('new.customer_id')} END",
        f"{table}_segments_update": f"CREATE TRIGGER {table}_segments_update AFTER UPDATE OF {columns} ON {table} "
        f"BEGIN {_mark('old.customer_id')} {_mark('new.customer_id')} END",
        f"{table}_segments_delete": f"CREATE TRIGGER {table}_segments_delete AFTER DELETE ON {table} BEGIN "
        f"{_mark('old.customer_id')} END",
    }


SQLITE_TRIGGERS = _sqlite_triggers("orders", ORDER_COLUMNS) | _sqlite_triggers("complaints", COMPLAINT_COLUMNS)

# PostgreSQL: a recompute may read a customer while another transaction writes their orders,
# so each transaction marks with a moment of its own (within 1970's first 1,000 seconds): the
# recompute writes its result only where the mark is still the one it read (app.segments).
POSTGRESQL_FUNCTION = """CREATE FUNCTION mark_segments_due() RETURNS trigger AS $$
DECLARE
    mark timestamp := timestamp '1970-01-01' + (txid_current() % 1000000000) * interval '1 microsecond';
BEGIN
    IF TG_OP <> 'INSERT' THEN
        UPDATE customers SET segments_due_at = mark
            WHERE id = OLD.customer_id AND segments_due_at IS DISTINCT FROM mark;
    END IF;
    IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND NEW.customer_id <> OLD.customer_id) THEN
        UPDATE customers SET segments_due_at = mark
            WHERE id = NEW.customer_id AND segments_due_at IS DISTINCT FROM mark;
    END IF;
    RETURN NULL;
END
$$ LANGUAGE plpgsql"""


def upgrade():
    # ALTER TABLE ... ADD COLUMN (no table rebuild, which would drop the search triggers on SQLite).
    # Every customer is due at first: the first recompute after the upgrade looks at everyone.
    op.add_column(
        "customers", sa.Column("segments_due_at", sa.DateTime(), nullable=True, server_default=sa.text(f"'{DUE_NOW}'"))
    )
    op.add_column("customers", sa.Column("segment_spend_cents", sa.BigInteger(), nullable=False, server_default="0"))
    op.create_index("ix_customers_segments_due_at", "customers", ["segments_due_at"])
    # The ranking reads every ranked customer's spend (and whether they are due) from this index.
    op.create_index("ix_customers_layer_spend", "customers", ["layer", "segment_spend_cents", "segments_due_at"])
    # The orders' index by customer holds what the recompute reads of an order (a covering index).
    op.drop_index("ix_orders_customer_paid", table_name="orders")
    op.create_index("ix_orders_customer_paid", "orders", ["customer_id", "paid_at", *COVERED])
    op.create_table(
        "segments_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("computed_at", sa.DateTime(), nullable=False),
        sa.Column("thresholds", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_segments_state")),
    )
    if op.get_bind().dialect.name == "sqlite":
        for statement in SQLITE_TRIGGERS.values():
            op.execute(statement)
    else:
        op.execute(POSTGRESQL_FUNCTION)
        for table, columns in (("orders", ORDER_COLUMNS), ("complaints", COMPLAINT_COLUMNS)):
            op.execute(
                f"CREATE TRIGGER {table}_segments AFTER INSERT OR DELETE OR UPDATE OF {columns} ON {table}"
                " FOR EACH ROW EXECUTE FUNCTION mark_segments_due()"
            )


def downgrade():
    if op.get_bind().dialect.name == "sqlite":
        for name in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER {name}")
    else:
        for table in ("orders", "complaints"):
            op.execute(f"DROP TRIGGER {table}_segments ON {table}")
        op.execute("DROP FUNCTION mark_segments_due()")
    op.drop_table("segments_state")
    op.drop_index("ix_orders_customer_paid", table_name="orders")
    op.create_index("ix_orders_customer_paid", "orders", ["customer_id", "paid_at"])
    op.drop_index("ix_customers_layer_spend", table_name="customers")
    op.drop_index("ix_customers_segments_due_at", table_name="customers")
    # Plain DROP COLUMN (SQLite 3.35+): a batch rebuild would drop the search triggers.
    for column in ("segment_spend_cents", "segments_due_at"):
        op.execute(f"ALTER TABLE customers DROP COLUMN {column}")

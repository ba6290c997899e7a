"""customers: on PostgreSQL, an index in the list's "recent" order (last order first, none last)

PostgreSQL keeps NULLs last in an ascending index, so a descending scan of last_paid_at's own
index gives DESC NULLS FIRST; the list's order is DESC NULLS LAST, and without this index every
list in that order (the assignment page, the campaign sample) sorted all the customers. SQLite
needs none: its NULLs sort first ascending, so last_paid_at's index read backwards is already
the list's order (and it cannot store NULLS LAST in an index).

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-28 14:05:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.create_index(
            "ix_customers_recent_pg",
            "customers",
            [sa.text("last_paid_at DESC NULLS LAST"), sa.text("id DESC")],
        )


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_customers_recent_pg", table_name="customers")

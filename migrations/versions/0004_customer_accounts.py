"""customer accounts (several platform accounts per customer), import notes and counts, full refunds

A customer's platform + nickname becomes their first account; orders refunded in full become
refunded.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 09:00:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "customer_accounts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(length=20), nullable=False),
        sa.Column("nickname", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_customer_accounts_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_accounts")),
        sa.UniqueConstraint("platform", "nickname", name="uq_customer_accounts_platform_nickname"),
    )
    op.create_index(op.f("ix_customer_accounts_customer_id"), "customer_accounts", ["customer_id"])
    # Every customer's platform + nickname becomes their first account. customers keeps the
    # pair (and its unique constraint): dropping either would rebuild the table on SQLite,
    # which drops the search triggers.
    op.execute(
        "INSERT INTO customer_accounts (customer_id, platform, nickname) "
        "SELECT id, platform, nickname FROM customers WHERE platform IS NOT NULL AND nickname IS NOT NULL "
        "ORDER BY id"
    )

    # ALTER TABLE ... ADD COLUMN on both databases.
    op.add_column("import_runs", sa.Column("notes", sa.JSON(), nullable=True))
    for column in ("joined_by_phone", "phones_dropped", "older", "line_items"):
        op.add_column("import_runs", sa.Column(column, sa.Integer(), nullable=False, server_default="0"))

    # An order refunded in full is refunded, whatever status text its report gave it (the
    # importer says so from now on; this corrects what earlier imports stored).
    op.execute(
        "UPDATE orders SET status = 'refunded' "
        "WHERE refund_amount > 0 AND refund_amount >= amount AND status <> 'refunded'"
    )


def downgrade():
    # The refunded orders stay refunded: their earlier status text is not kept anywhere.
    for column in ("line_items", "older", "phones_dropped", "joined_by_phone", "notes"):
        op.execute(f"ALTER TABLE import_runs DROP COLUMN {column}")
    op.drop_index(op.f("ix_customer_accounts_customer_id"), table_name="customer_accounts")
    op.drop_table("customer_accounts")

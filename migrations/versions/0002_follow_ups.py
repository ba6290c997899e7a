"""follow-up cycles: tasks, the customer's cycle state, the blacklist

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 09:10:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade():
    # ALTER TABLE ... ADD COLUMN (no table rebuild, which would drop the search triggers on SQLite).
    op.add_column("customers", sa.Column("cycle", sa.Integer(), nullable=False, server_default="0"))
    op.add_column("customers", sa.Column("unconverted_streak", sa.Integer(), nullable=False, server_default="0"))
    op.add_column(
        "customers", sa.Column("follow_up_state", sa.String(length=10), nullable=False, server_default="active")
    )
    op.add_column("customers", sa.Column("last_contact_at", sa.DateTime(), nullable=True))

    op.create_table(
        "follow_ups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("assignee_id", sa.Integer(), nullable=False),
        sa.Column("cycle", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=15), nullable=False),
        sa.Column("due_at", sa.DateTime(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=True),
        sa.Column("channel", sa.String(length=10), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("completed_by_id", sa.Integer(), nullable=True),
        sa.Column("completed_at", sa.DateTime(), nullable=True),
        sa.Column("days_late", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["assignee_id"], ["users.id"], name=op.f("fk_follow_ups_assignee_id_users")),
        sa.ForeignKeyConstraint(["completed_by_id"], ["users.id"], name=op.f("fk_follow_ups_completed_by_id_users")),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], name=op.f("fk_follow_ups_customer_id_customers")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_follow_ups")),
    )
    op.create_index(
        "uq_follow_ups_open_customer",
        "follow_ups",
        ["customer_id"],
        unique=True,
        sqlite_where=sa.text("status = 'open'"),
        postgresql_where=sa.text("status = 'open'"),
    )
    op.create_index("ix_follow_ups_assignee_status_due", "follow_ups", ["assignee_id", "status", "due_at"])
    op.create_index("ix_follow_ups_audit", "follow_ups", ["due_on", "assignee_id", "status", "days_late", "outcome"])
    op.create_index("ix_follow_ups_customer_id", "follow_ups", ["customer_id", "id"])

    op.create_table(
        "blacklist",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.String(length=20), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("source", sa.String(length=40), nullable=False),
        sa.Column("added_by_id", sa.Integer(), nullable=True),
        sa.Column("added_at", sa.DateTime(), nullable=False),
        sa.Column("removed_at", sa.DateTime(), nullable=True),
        sa.Column("removed_by_id", sa.Integer(), nullable=True),
        sa.Column("removal_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["added_by_id"], ["users.id"], name=op.f("fk_blacklist_added_by_id_users")),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_blacklist_customer_id_customers"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(["removed_by_id"], ["users.id"], name=op.f("fk_blacklist_removed_by_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_blacklist")),
    )
    op.create_index(op.f("ix_blacklist_customer_id"), "blacklist", ["customer_id"])
    op.create_index(
        "uq_blacklist_active_phone",
        "blacklist",
        ["phone"],
        unique=True,
        sqlite_where=sa.text("removed_at IS NULL"),
        postgresql_where=sa.text("removed_at IS NULL"),
    )


def downgrade():
    op.drop_table("blacklist")
    op.drop_table("follow_ups")
    # Plain DROP COLUMN (SQLite 3.35+): a batch rebuild would drop the search triggers.
    for column in ("last_contact_at", "follow_up_state", "unconverted_streak", "cycle"):
        op.execute(f"ALTER TABLE customers DROP COLUMN {column}")

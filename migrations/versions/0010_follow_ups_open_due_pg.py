"""follow_ups: on PostgreSQL, the open tasks in due order (the follow-up audit's customers)

The audit's customers with an open task are listed soonest due first (due_at, id), a page at
a time. SQLite reads them in that order from ix_follow_ups_assignee_status_due, person by
person (app.followup_audit.services._open_task_ids); PostgreSQL read every open task and
sorted them for each page (3.8 ms for the bench's 20,585 open tasks; 0.05 ms with this
index). A partial index: only the open tasks, a small part of all.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-28 14:30:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.create_index(
            "ix_follow_ups_open_due_pg",
            "follow_ups",
            ["due_at", "id"],
            postgresql_where=sa.text("status = 'open'"),
        )


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_follow_ups_open_due_pg", table_name="follow_ups")

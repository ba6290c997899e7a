"""follow_up_days: each person's follow-up tasks counted per due day, for the follow-up audit

The audit (核查) added up every task due in the period on each request: a year is some
440,000 tasks. It now adds up these counts, at most one row per person and day; they are
filled here from the tasks as they stand, and kept by app.followups.daily_figures.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28 13:30:00

"""

from datetime import timedelta

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# app.followups.daily_figures.from_tasks, as it stands at this revision.
COUNTED = """
SELECT due_on, assignee_id,
       COUNT(*) AS due,
       COUNT(CASE WHEN status = 'done' THEN 1 END) AS done,
       COUNT(CASE WHEN status = 'done' AND days_late = 0 THEN 1 END) AS on_time,
       COUNT(CASE WHEN status = 'done' AND outcome = 'ordered' THEN 1 END) AS ordered,
       COALESCE(SUM(CASE WHEN status = 'done' THEN days_late END), 0) AS days_late
FROM follow_ups
WHERE status <> 'cancelled'
GROUP BY due_on, assignee_id
"""


def upgrade():
    table = op.create_table(
        "follow_up_days",
        sa.Column("week", sa.Date(), nullable=False),
        sa.Column("assignee_id", sa.Integer(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("due", sa.Integer(), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("on_time", sa.Integer(), nullable=False),
        sa.Column("ordered", sa.Integer(), nullable=False),
        sa.Column("days_late", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["assignee_id"], ["users.id"], name=op.f("fk_follow_up_days_assignee_id_users")),
        sa.PrimaryKeyConstraint("week", "assignee_id", "due_on", name=op.f("pk_follow_up_days")),
        sqlite_with_rowid=False,
    )
    # The week (its Monday) in Python: the same on SQLite and PostgreSQL, for one row per person and day.
    counted = sa.text(COUNTED).columns(due_on=sa.Date())
    rows = [dict(row._mapping) for row in op.get_bind().execute(counted)]
    for row in rows:
        row["week"] = row["due_on"] - timedelta(days=row["due_on"].weekday())
    if rows:
        op.bulk_insert(table, rows)


def downgrade():
    op.drop_table("follow_up_days")

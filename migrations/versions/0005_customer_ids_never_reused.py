"""customers: on SQLite, an id is never given again once its record is gone (a merged record)

Without AUTOINCREMENT, SQLite gives a new row the largest id plus one, so the record made
right after a merge took the merged record's id: old links and the merge's own history then
named another person. PostgreSQL's sequences never go back; nothing to do there.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28 09:30:00

"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# The search index's triggers (0001): rebuilding the table drops them, so they are made again.
TRIGGERS = {
    "customers_fts_insert": """CREATE TRIGGER customers_fts_insert AFTER INSERT ON customers BEGIN
           INSERT INTO customer_fts(rowid, search_text) VALUES (new.id, new.search_text);
       END""",
    "customers_fts_delete": """CREATE TRIGGER customers_fts_delete AFTER DELETE ON customers BEGIN
           INSERT INTO customer_fts(customer_fts, rowid, search_text) VALUES ('delete', old.id, old.search_text);
       END""",
    "customers_fts_update": """CREATE TRIGGER customers_fts_update AFTER UPDATE OF search_text ON customers BEGIN
           INSERT INTO customer_fts(customer_fts, rowid, search_text) VALUES ('delete', old.id, old.search_text);
           INSERT INTO customer_fts(rowid, search_text) VALUES (new.id, new.search_text);
       END""",
}


def _rebuild(autoincrement: bool) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    with op.batch_alter_table(
        "customers", recreate="always", table_kwargs={"sqlite_autoincrement": autoincrement}
    ) as batch:
        batch.alter_column("id")  # nothing changes but the table's AUTOINCREMENT
    for name, statement in TRIGGERS.items():
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute(statement)


def upgrade():
    _rebuild(autoincrement=True)


def downgrade():
    _rebuild(autoincrement=False)

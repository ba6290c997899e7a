"""The migrations make exactly the schema the models describe (SPEC §9: schema changes only
through migrations), on whichever database the run uses."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from app.extensions import db

# SQLite-only search machinery made by hand in 0001 (FTS5 table and its shadow tables).
_NOT_MODELLED = ("customer_fts",)


def _ours(item) -> bool:
    table = getattr(item[1], "table", item[1])
    name = getattr(table, "name", "") or ""
    return not name.startswith(_NOT_MODELLED)


def test_migrated_schema_matches_the_models(app):
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = [d for d in compare_metadata(context, db.metadata) if not isinstance(d, tuple) or _ours(d)]
    assert differences == []

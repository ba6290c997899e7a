"""The migrations make exactly the schema the models describe (SPEC §9: schema changes only
through migrations), on whichever database the run uses."""

import os
from contextlib import contextmanager

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import upgrade
from sqlalchemy import text

from app import create_app
from app.extensions import db
from app.models import utcnow
from tests.conftest import own_database

MIGRATIONS = os.path.join(os.path.dirname(__file__), "..", "migrations")

# SQLite-only search machinery made by hand in 0001 (FTS5 table and its shadow tables).
_NOT_MODELLED = ("customer_fts",)


def _ours(item) -> bool:
    table = getattr(item[1], "table", item[1])
    name = getattr(table, "name", "") or ""
    return not name.startswith(_NOT_MODELLED)


def _made_elsewhere(dialect: str) -> set[str]:
    """The indexes the models make only on another database (`Index.ddl_if`)."""
    return {
        index.name
        for table in db.metadata.tables.values()
        for index in table.indexes
        if index._ddl_if is not None and index._ddl_if.dialect not in (None, dialect)
    }


def test_migrated_schema_matches_the_models(app):
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        elsewhere = _made_elsewhere(connection.dialect.name)
        differences = [
            d
            for d in compare_metadata(context, db.metadata)
            if not isinstance(d, tuple) or (_ours(d) and getattr(d[1], "name", None) not in elsewhere)
        ]
    assert differences == []


# --- data the migrations carry over -----------------------------------------------------------


@contextmanager
def migrated_to(url: str, tmp_path, revision: str):
    """In the context of an app on `url` migrated up to `revision`; its engine let go after."""
    other = create_app("development", SQLALCHEMY_DATABASE_URI=url, EMBEDDED_REDIS_DIR=str(tmp_path))
    with other.app_context():
        try:
            upgrade(directory=MIGRATIONS, revision=revision)
            yield
        finally:
            db.engine.dispose()


@pytest.fixture
def fresh_database(tmp_path):
    """An empty database apart from the run's own: a SQLite file, or a new PostgreSQL schema."""
    with own_database(tmp_path, "fresh") as url:
        yield url


def test_0004_gives_every_customer_their_account_and_refunds_what_was_refunded_in_full(fresh_database, tmp_path):
    with migrated_to(fresh_database, tmp_path, "0003"):
        with db.engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO customers (id, name, platform, nickname, tags, source, created_at, updated_at,"
                    " paid_order_count, total_spend, refund_count, complaint_count, layer, activity, tier,"
                    " flag_bad_reviewer, flag_picky, search_text, cycle, unconverted_streak, follow_up_state)"
                    " VALUES (:id, :name, :platform, :nickname, '', 'import', :now, :now, 0, 0, 0, 0, 'prospect',"
                    " 'inactive', 'none', false, false, '', 0, 0, 'active')"
                ),
                [
                    {"id": 1, "name": "小猫", "platform": "taobao", "nickname": "小猫", "now": utcnow()},
                    {"id": 2, "name": "没旺旺", "platform": None, "nickname": None, "now": utcnow()},
                ],
            )
            connection.execute(
                text(
                    "INSERT INTO orders (order_no, customer_id, status, amount, refund_amount, created_at)"
                    " VALUES (:no, 1, :status, :amount, :refund, :now)"
                ),
                [
                    {"no": "full", "status": "completed", "amount": 300, "refund": 300, "now": utcnow()},
                    {"no": "part", "status": "completed", "amount": 300, "refund": 100, "now": utcnow()},
                    {"no": "none", "status": "closed", "amount": 0, "refund": 0, "now": utcnow()},
                ],
            )
        upgrade(directory=MIGRATIONS, revision="0004")
        with db.engine.connect() as connection:
            accounts = connection.execute(text("SELECT customer_id, platform, nickname FROM customer_accounts")).all()
            statuses = dict(connection.execute(text("SELECT order_no, status FROM orders")).all())
    assert [tuple(a) for a in accounts] == [(1, "taobao", "小猫")]
    assert statuses == {"full": "refunded", "part": "completed", "none": "closed"}


def test_0007_counts_the_tasks_already_there_per_person_and_due_day(fresh_database, tmp_path):
    with migrated_to(fresh_database, tmp_path, "0006"):
        with db.engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO users (id, username, display_name, password_hash, role, active, created_at,"
                    " session_version) VALUES (:id, :name, :name, 'x', 'sales', true, :now, 0)"
                ),
                [{"id": 1, "name": "ann", "now": utcnow()}, {"id": 2, "name": "ben", "now": utcnow()}],
            )
            connection.execute(
                text(
                    "INSERT INTO customers (id, name, tags, source, created_at, updated_at, paid_order_count,"
                    " total_spend, refund_count, complaint_count, layer, activity, tier, flag_bad_reviewer,"
                    " flag_picky, search_text, cycle, unconverted_streak, follow_up_state)"
                    " VALUES (1, '小猫', '', 'import', :now, :now, 0, 0, 0, 0, 'prospect', 'inactive', 'none',"
                    " false, false, '', 0, 0, 'active')"
                ),
                {"now": utcnow()},
            )
            tasks = [  # (person, due day, status, days late, outcome)
                (1, "2026-11-02", "done", 0, "ordered"),  # a Monday
                (1, "2026-11-02", "done", 3, "no_answer"),
                (1, "2026-11-02", "open", None, None),
                (1, "2026-11-02", "cancelled", None, None),
                (1, "2026-11-08", "done", 1, "ordered"),  # the Sunday of the same week
                (2, "2026-11-09", "cancelled", None, None),  # nothing counted for Ben
            ]
            connection.execute(
                text(
                    "INSERT INTO follow_ups (customer_id, assignee_id, cycle, kind, due_at, due_on, status,"
                    " days_late, outcome, created_at) VALUES (1, :person, 1, 'revisit', :now, :day, :status,"
                    " :late, :outcome, :now)"
                ),
                [
                    {"person": p, "day": d, "status": s, "late": late, "outcome": o, "now": utcnow()}
                    for p, d, s, late, o in tasks
                ],
            )
        upgrade(directory=MIGRATIONS, revision="0007")
        with db.engine.connect() as connection:
            rows = connection.execute(
                text(
                    "SELECT week, assignee_id, due_on, due, done, on_time, ordered, days_late FROM follow_up_days"
                    " ORDER BY due_on"
                )
            ).all()
    assert [tuple(str(v) if i in (0, 2) else v for i, v in enumerate(row)) for row in rows] == [
        ("2026-11-02", 1, "2026-11-02", 3, 2, 1, 1, 3),
        ("2026-11-02", 1, "2026-11-08", 1, 1, 0, 1, 1),
    ]

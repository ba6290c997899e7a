"""Copy a bench SQLite database (generate.py) into a PostgreSQL schema, to bench the same data there.

    .venv/bin/python bench/pg_copy.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test \
        [--db bench/data/bench.db] [--schema bench_search]

Makes the schema (it must not exist) with the real migrations, then copies every table's rows
(COPY, foreign keys and triggers off while it runs), sets the id sequences past the largest
ids and runs ANALYZE. Prints the URL to serve it with (search_path set to the schema). Drop
the schema when done: `DROP SCHEMA bench_search CASCADE`.
"""

import argparse
import os
import sqlite3
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import DEFAULT_DB  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--db", default=str(DEFAULT_DB))
    parser.add_argument("--schema", default="bench_search")
    args = parser.parse_args()

    from sqlalchemy import create_engine, inspect, text

    admin = create_engine(args.database_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"CREATE SCHEMA {args.schema}"))
    url = f"{args.database_url}{'&' if '?' in args.database_url else '?'}options=-csearch_path%3D{args.schema}"

    os.environ["PORTAL_ENV"] = "development"
    from flask_migrate import upgrade

    from app import create_app

    app = create_app("development", SQLALCHEMY_DATABASE_URI=url, REDIS_URL="redis://127.0.0.1:1/0")
    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"))

    engine = create_engine(url)
    tables = [t for t in inspect(engine).get_table_names() if t != "alembic_version"]
    source = sqlite3.connect(args.db)
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute("SET session_replication_role = replica")  # no FK checks, no triggers
        for table in tables:
            started = time.perf_counter()
            pg_columns = [c["name"] for c in inspect(engine).get_columns(table)]
            lite_columns = [r[1] for r in source.execute(f"PRAGMA table_info({table})")]
            columns = [c for c in pg_columns if c in lite_columns]
            types = {c["name"]: str(c["type"]) for c in inspect(engine).get_columns(table)}
            booleans = [i for i, c in enumerate(columns) if types[c] == "BOOLEAN"]
            rows = 0
            names = ", ".join(f'"{c}"' for c in columns)
            with cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                for row in source.execute(f"SELECT {names} FROM {table}"):
                    if booleans:
                        row = list(row)
                        for i in booleans:
                            if row[i] is not None:
                                row[i] = bool(row[i])
                    copy.write_row(row)
                    rows += 1
            print(f"{table}: {rows:,} rows, {time.perf_counter() - started:.1f} s", flush=True)
        raw.commit()
        cursor.execute("SET session_replication_role = DEFAULT")
        for table in tables:
            if "id" not in [c["name"] for c in inspect(engine).get_columns(table)]:
                continue
            cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", (table,))
            sequence = cursor.fetchone()[0]
            if sequence:
                cursor.execute(f"SELECT setval('{sequence}', GREATEST((SELECT max(id) FROM {table}), 1))")
        raw.commit()
        raw.autocommit = True
        cursor.execute("ANALYZE")
    finally:
        raw.close()
    print(url)
    return 0


if __name__ == "__main__":
    sys.exit(main())

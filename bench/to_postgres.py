"""Copy a bench database made by generate.py into PostgreSQL, for the latency benches' `--database-url`.

    .venv/bin/python bench/generate.py
    .venv/bin/python bench/to_postgres.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test

The schema (`bench` by default) is dropped if it exists, made again by the real migrations, then
filled table by table with COPY from the SQLite file (only the columns both have; SQLite's
full-text tables have no PostgreSQL counterpart), the id sequences moved past the copied ids,
and VACUUM (ANALYZE) run on the tables, so that both databases hold the same rows, read as after
autovacuum, and the follow-ups lie around the same moment. Copy right after generating: the follow-up bench's "due today" is the generation's.
"""

import argparse
import sqlite3
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import DEFAULT_DB, ROOT, make_app, schema_url  # noqa: E402

BENCH_SCHEMA = "bench"


def copy(sqlite_path: Path, url: str, schema: str = BENCH_SCHEMA) -> None:
    import psycopg
    from flask_migrate import upgrade
    from sqlalchemy import make_url

    from app.extensions import db

    libpq = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(libpq, autocommit=True) as connection:
        connection.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        connection.execute(f"CREATE SCHEMA {schema}")

    started = time.perf_counter()
    app = make_app(sqlite_path, SQLALCHEMY_DATABASE_URI=schema_url(url, schema))
    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"))
        tables = [t.name for t in db.metadata.sorted_tables]
    print(f"migrate: {time.perf_counter() - started:.2f} s", flush=True)

    source = sqlite3.connect(sqlite_path)
    with psycopg.connect(libpq, options=f"-csearch_path={schema}") as target:
        # Every row is copied as it is, so the foreign keys need no checking row by row.
        target.execute("SET session_replication_role = replica")
        for table in tables:
            started = time.perf_counter()
            theirs = {
                r[0]
                for r in target.execute(
                    "SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND table_name = %s",
                    (schema, table),
                )
            }
            ours = [r[1] for r in source.execute(f'PRAGMA table_info("{table}")')]
            columns = [c for c in ours if c in theirs]
            if not columns:
                continue
            names = ", ".join(f'"{c}"' for c in columns)
            rows = 0
            with target.cursor().copy(f'COPY "{table}" ({names}) FROM STDIN') as load:
                for row in source.execute(f'SELECT {names} FROM "{table}"'):
                    load.write_row(row)
                    rows += 1
            if "id" in columns:
                target.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM \"{table}\"))"
                    f" WHERE pg_get_serial_sequence('{table}', 'id') IS NOT NULL AND EXISTS (SELECT 1 FROM \"{table}\")"
                )
            print(f"{table}: {rows:,} rows, {time.perf_counter() - started:.2f} s", flush=True)
        target.commit()
        target.autocommit = True
        started = time.perf_counter()
        # VACUUM too, not only ANALYZE: a freshly loaded table has no visibility map, so no
        # index-only scan (autovacuum would make one soon after a real load; this server may
        # have it off). Without it the search's gram counts read the heap: its PostgreSQL
        # CPU per request was twice as much (phone fragment 1380001: 24.8 ms against 10.2 ms).
        for table in tables:
            target.execute(f'VACUUM (ANALYZE) "{table}"')
        print(f"vacuum, analyze: {time.perf_counter() - started:.2f} s", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--db", default=str(DEFAULT_DB), help=f"the SQLite file generate.py made (default {DEFAULT_DB})"
    )
    parser.add_argument("--database-url", required=True, help="postgresql+psycopg://user@host:port/database")
    parser.add_argument("--schema", default=BENCH_SCHEMA, help=f"the schema to (re)make (default {BENCH_SCHEMA})")
    args = parser.parse_args()
    path = Path(args.db).resolve()
    if not path.exists():
        raise SystemExit(f"{path} does not exist: run bench/generate.py first")
    started = time.perf_counter()
    copy(path, args.database_url, args.schema)
    print(f"Done in {time.perf_counter() - started:.1f} s: schema {args.schema}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

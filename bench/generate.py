"""Make the benchmark database: a migrated SQLite file with users, customers and a year of orders.

    .venv/bin/python bench/generate.py                       # bench/data/bench.db, 100k / 1M
    .venv/bin/python bench/generate.py /tmp/small.db --customers 5000 --orders 50000

20 users: an admin, the supervisor "bench" (password "bench-pass-1", which every generated
user shares), and 18 sales users who own the customers (about 1 in 19 is unassigned).
Rows come from app.demo: fake_customers written by insert_customers (which also fills the
search grams), fake_orders converted by SQLAlchemy's own type processors and written with
the driver's executemany, in chunks, made by a worker process while this one writes; then
app.segments.recompute fills in the figures and segments. Prints the time of each step.
While loading, the secondary indexes and the FTS insert trigger are dropped and made again
after (the FTS index rebuilt in one pass). An existing file at the path is replaced.
"""

import argparse
import gc
import multiprocessing
import random
import sys
import time
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import BENCH_PASSWORD, BENCH_USERNAME, DEFAULT_DB, make_app, step  # noqa: E402

CUSTOMER_CHUNK = 10_000
ORDER_CHUNK = 50_000
WORKERS = 1  # a process making rows while this one writes them (2 cores: one each)


def _fast_sqlite(dbapi_connection, _record) -> None:
    # Generation only: a crash mid-way just means generating again.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=OFF")
    cursor.execute("PRAGMA cache_size=-262144")  # 256 MiB
    cursor.execute("PRAGMA temp_store=MEMORY")
    cursor.close()


def remove_database(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


# Rows are made in a worker process (app.demo's generators are pure Python and take much of
# the time), each chunk from its own seed so the data does not depend on scheduling.
_customer_ids: list[int] = []


def _init_worker(customer_count: int) -> None:
    global _customer_ids
    # A fresh file numbers customers 1..N; the writer checks that it did.
    _customer_ids = list(range(1, customer_count + 1))


def _customer_chunk(job: tuple[int, int, int, list]) -> list[dict]:
    from app.demo import fake_customers

    first, count, seed, owners = job
    return fake_customers(count, random.Random(seed), first_number=first, owners=owners)


def _order_insert():
    """The INSERT for fake_orders rows, and how to turn one into its parameters.

    The same statement and type conversions as `connection.execute(insert(Order), rows)`,
    but applied here in the worker, so the writer only runs the driver's executemany.
    """
    from sqlalchemy import insert
    from sqlalchemy.dialects import sqlite

    from app.models import Order

    dialect = sqlite.dialect()
    keys = ["order_no", "customer_id", "platform", "status", "amount", "refund_amount", "items", "item_count",
            "review", "created_at", "paid_at", "shipped_at", "closed_at"]
    compiled = insert(Order.__table__).compile(dialect=dialect, column_keys=keys)
    assert list(compiled.positiontup) == keys, compiled.positiontup
    columns = Order.__table__.c
    processors = [columns[k].type.dialect_impl(dialect).bind_processor(dialect) for k in keys]
    return str(compiled), keys, processors


def _order_chunk(job: tuple[int, int, int]) -> list[tuple]:
    from app.demo import fake_orders

    first, count, seed = job
    _, keys, processors = _order_insert()
    rows = fake_orders(_customer_ids, count, random.Random(seed), first_number=first)
    pairs = list(zip(keys, processors))
    return [tuple(p(row[k]) if p and row[k] is not None else row[k] for k, p in pairs) for row in rows]


@contextmanager
def deferred(connection, names: list[str]):
    """Drop these indexes/triggers for a bulk load and create them again after it.

    Building an index once is cheaper than updating it row by row; the FTS index is then
    rebuilt from the table in one pass (the insert trigger would feed it row by row).
    """
    found = connection.exec_driver_sql(
        f"SELECT type, name, sql FROM sqlite_master WHERE name IN ({', '.join('?' * len(names))})", tuple(names)
    ).all()
    if len(found) != len(names):
        raise RuntimeError(f"expected {names} in the schema, found {[row.name for row in found]}")
    for kind, name, _ in found:
        connection.exec_driver_sql(f"DROP {kind.upper()} {name}")
    yield
    for _, _, sql in found:
        connection.exec_driver_sql(sql)
    if any(name.startswith("customers_fts") for name in names):
        connection.exec_driver_sql("INSERT INTO customer_fts(customer_fts) VALUES ('rebuild')")


def _chunks(total: int, size: int, seed: int):
    for number, first in enumerate(range(1, total + 1, size)):
        yield first, min(size, total + 1 - first), seed * 1_000_003 + number


def generate(path: Path, customers: int, orders: int, seed: int = 2026) -> dict:
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_database(path)
    # Fork the workers before anything opens the database.
    context = multiprocessing.get_context("fork")
    # Millions of row objects alive at once: the cyclic GC would rescan them over and over.
    gc.disable()
    with context.Pool(WORKERS, initializer=_init_worker, initargs=(customers,)) as pool:
        return _generate(pool, path, customers, orders, seed)


def _generate(pool, path: Path, customers: int, orders: int, seed: int) -> dict:
    from flask_migrate import upgrade
    from sqlalchemy import event, insert
    from werkzeug.security import generate_password_hash

    from app.demo import insert_customers
    from app.extensions import db
    from app.models import Role, User, utcnow
    from app.segments import Thresholds, recompute

    app = make_app(path)
    timings: dict[str, float] = {}
    with app.app_context():
        event.listen(db.engine, "connect", _fast_sqlite)
        with step("migrate", timings):
            upgrade(directory=str(Path(__file__).resolve().parent.parent / "migrations"))

        with db.engine.begin() as connection:
            with step("users (20)", timings):
                password_hash = generate_password_hash(BENCH_PASSWORD)  # hashed once: scrypt is slow on purpose
                now = utcnow()
                users = [("admin", "王管理", Role.ADMIN), (BENCH_USERNAME, "李主管", Role.SUPERVISOR)]
                users += [(f"sales{n:02d}", f"销售{n:02d}", Role.SALES) for n in range(1, 19)]
                rows = [{"username": u, "display_name": d, "role": r, "password_hash": password_hash,
                         "active": True, "created_at": now} for u, d, r in users]
                user_ids = list(connection.scalars(
                    insert(User).returning(User.id, sort_by_parameter_order=True), rows))
                owners = [uid for uid, (_, _, role) in zip(user_ids, users) if role == Role.SALES] + [None]

            # Both kinds of chunk are queued at once: workers make orders while customers are written.
            customer_chunks = pool.imap(
                _customer_chunk, [(*job, owners) for job in _chunks(customers, CUSTOMER_CHUNK, seed)])
            order_chunks = pool.imap(_order_chunk, _chunks(orders, ORDER_CHUNK, seed + 1))

            customer_ids: list[int] = []
            with step(f"customers ({customers:,}, with search grams)", timings):
                secondary = list(connection.exec_driver_sql(
                    "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'customers' AND sql IS NOT NULL"
                ).scalars())
                with deferred(connection, ["customers_fts_insert", *secondary]):
                    for chunk in customer_chunks:
                        customer_ids += insert_customers(connection, chunk)
            if customer_ids != list(range(1, customers + 1)):
                raise RuntimeError("customers were not numbered 1..N: is the database file fresh?")

            with step(f"orders ({orders:,})", timings):
                sql = _order_insert()[0]
                with deferred(connection, ["ix_orders_customer_paid"]):
                    for chunk in order_chunks:
                        connection.exec_driver_sql(sql, chunk)

            with step("segments recompute", timings):
                changed = recompute(connection, utcnow(), Thresholds.from_config(app.config))
            print(f"  {changed:,} customers updated by the recompute")

        with step("checkpoint", timings):
            with db.engine.connect() as connection:
                connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        db.engine.dispose()
    return timings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("path", nargs="?", default=str(DEFAULT_DB), help=f"SQLite file to write (default {DEFAULT_DB})")
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    path = Path(args.path).resolve()
    print(f"Generating {path}: {args.customers:,} customers, {args.orders:,} orders")
    start = time.perf_counter()
    generate(path, args.customers, args.orders, args.seed)
    size = path.stat().st_size / 2**20
    print(f"Done in {time.perf_counter() - start:.1f} s; {size:.0f} MiB. Sign in as {BENCH_USERNAME} / {BENCH_PASSWORD}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())

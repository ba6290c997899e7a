"""How long the segment recompute (app.segments.recompute) takes on the bench database.

    .venv/bin/python bench/generate.py                 # once: bench/data/bench.db
    .venv/bin/python bench/recompute_bench.py [--check] # works on a copy; the bench file is left alone

The copy is migrated to the latest revision first. Then, each run in its own transaction, as
the jobs do them:

1. every customer changes: every customer's derived figures forgotten and every customer
   marked due (as after the upgrade that brings the incremental recompute), at `now`;
2. nothing to change, at the same `now`: no customer due (an incremental run with no news);
3. nothing to change, every customer looked at (as with new thresholds, or an earlier `now`);
4. after importing 10,000 order rows (the real importer; a Taobao report of new orders, paid in
   the last 30 days, of 10,000 existing Taobao buyers picked at random), at the time after it;
5. a day later, with nothing imported: the nightly run (the customers one of whose dates left
   a window in that day).

The aggregate over every order is timed on its own too. Wall and CPU time (this process; the
database is in-process) for each. `--check` then compares every customer's stored values
with the rules applied to their orders one customer at a time (app.segments.stats_of +
classify, in Python) after runs 1 and 5.
"""

import argparse
import csv
import io
import random
import sqlite3
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import DEFAULT_DB, ROOT, make_app  # noqa: E402
from bench.import_bench import HEADER  # noqa: E402

TARGET_SECONDS = 5.0  # every customer changes
INCREMENTAL_TARGET_SECONDS = 1.0  # after a 10,000-row import
IMPORTED_ROWS = 10_000


def copy_database(source: Path, target: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)


def import_report(connection, rows: int, now, seed: int = 9) -> bytes:
    """A Taobao order report (GBK CSV) of `rows` new orders of as many existing Taobao buyers."""
    from sqlalchemy import select

    from app.models import CustomerAccount

    rng = random.Random(seed)
    a = CustomerAccount.__table__.c
    nicknames = list(connection.scalars(select(a.nickname).where(a.platform == "taobao")))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(HEADER)
    for i, nickname in enumerate(rng.sample(nicknames, rows)):
        created = now - timedelta(minutes=rng.randrange(30 * 24 * 60))
        writer.writerow(
            [
                f'="{4400000000000000000 + i}"',
                nickname,
                f"{rng.choice((39, 59, 89, 129, 199, 299, 499)) + rng.randint(0, 99) / 100:.2f}",
                "交易成功",
                "",
                "",
                "",
                created.strftime("%Y-%m-%d %H:%M:%S"),
                (created + timedelta(minutes=rng.randint(1, 60))).strftime("%Y-%m-%d %H:%M:%S"),
                "宝贝",
                "1",
                "0.00",
                "",
                "",
            ]
        )
    return out.getvalue().encode("gbk")


def check(connection, now, thresholds) -> int:
    """Customers whose stored values differ from the rules applied to their orders one by one."""
    from sqlalchemy import select

    from app.models import Complaint, Customer, Order
    from app.segments import classify, stats_of

    o = Order.__table__.c
    orders = {}
    columns = (o.customer_id, o.status, o.amount, o.refund_amount, o.review, o.created_at, o.paid_at)
    for row in connection.execute(select(*columns)):
        orders.setdefault(row.customer_id, []).append(row)
    complaints = {}
    for customer_id, at in connection.execute(select(Complaint.customer_id, Complaint.at)):
        complaints.setdefault(customer_id, []).append(at)
    stats, figures = {}, {}
    for cid in connection.scalars(select(Customer.id)):
        stats[cid], figures[cid] = stats_of(orders.get(cid, []), complaints.get(cid, []), now, thresholds)
    expected = {cid: values | figures[cid] for cid, values in classify(stats, now, thresholds).items()}
    keys = list(next(iter(expected.values())))
    c = Customer.__table__.c
    wrong = 0
    for row in connection.execute(select(c.id, *(c[k] for k in keys))):
        if {k: getattr(row, k) for k in keys} != expected[row.id]:
            wrong += 1
            if wrong <= 5:
                print(f"  customer {row.id}: stored {row._asdict()}, expected {expected[row.id]}")
    return wrong


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", default=str(DEFAULT_DB), help=f"database made by generate.py (default {DEFAULT_DB})")
    parser.add_argument("--in-place", action="store_true", help="work on the file itself rather than a copy")
    parser.add_argument("--check", action="store_true", help="compare with the rules applied customer by customer")
    args = parser.parse_args()
    source = Path(args.db).resolve()
    if not source.exists():
        print(f"{source} does not exist: run bench/generate.py first", file=sys.stderr)
        return 2

    from flask_migrate import upgrade
    from sqlalchemy import func, select, update

    from app.extensions import db
    from app.imports.importer import Counts, import_table
    from app.imports.presets import KNOWN_COLUMNS, TAOBAO
    from app.imports.rows import RowReader
    from app.imports.tables import known_columns, read_table
    from app.models import Customer, Order, utcnow
    from app.segments import DUE_NOW, Thresholds, gather, recompute

    path = source
    if not args.in_place:
        path = source.with_name("recompute-bench.db")
        print(f"copying {source.name} to {path.name} ...", flush=True)
        copy_database(source, path)
    timings = {}
    wrong = 0
    try:
        app = make_app(path)
        with app.app_context():
            began = time.perf_counter()
            upgrade(directory=str(ROOT / "migrations"))
            print(f"migrated to the latest revision: {time.perf_counter() - began:.2f} s")
            thresholds = Thresholds.from_config(app.config)
            now = utcnow()
            with db.engine.connect() as connection:
                customers = connection.scalar(select(func.count()).select_from(Customer))
                orders = connection.scalar(select(func.count()).select_from(Order))
            print(f"{customers:,} customers, {orders:,} orders")

            with db.engine.begin() as connection:  # not timed: forget every derived figure
                connection.execute(
                    update(Customer).values(
                        first_paid_at=None,
                        last_paid_at=None,
                        paid_order_count=0,
                        total_spend=0,
                        refund_count=0,
                        complaint_count=0,
                        layer="prospect",
                        activity="inactive",
                        tier="none",
                        flag_bad_reviewer=False,
                        flag_picky=False,
                        segment_spend_cents=0,
                        segments_due_at=DUE_NOW,
                    )
                )

            def run(label: str, at, everyone: bool = False) -> None:
                start, cpu = time.perf_counter(), time.process_time()
                with db.engine.begin() as connection:
                    changed = recompute(connection, at, thresholds, everyone=everyone)
                elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
                timings[label] = elapsed
                print(f"{label}: {elapsed:.2f} s (CPU {cpu:.2f} s), {changed:,} customers changed", flush=True)

            run("1. every customer changes", now)
            if args.check:
                with db.engine.connect() as connection:
                    wrong += check(connection, now, thresholds)
                print(f"  check: {wrong} customers differ from the rules applied one by one")
            run("2. nothing to change (no customer due)", now)
            run("3. nothing to change, every customer looked at", now, everyone=True)

            with db.engine.connect() as connection:
                content = import_report(connection, IMPORTED_ROWS, now)
            table = read_table(content, "ExportOrderList.csv", known_columns(KNOWN_COLUMNS))
            reader = RowReader.for_table(TAOBAO, TAOBAO.suggest(HEADER), table, app.config)
            start, cpu = time.perf_counter(), time.process_time()
            counts = import_table(table, reader, Counts())
            elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
            db.session.remove()
            print(
                f"import of {IMPORTED_ROWS:,} order rows: {elapsed:.2f} s (CPU {cpu:.2f} s),"
                f" {IMPORTED_ROWS / elapsed:,.0f} rows/s; {counts.summary()}"
            )
            with db.engine.connect() as connection:
                due = connection.scalar(
                    select(func.count()).select_from(Customer).where(Customer.segments_due_at <= utcnow())
                )
            print(f"customers due: {due:,}")
            run(f"4. after the {IMPORTED_ROWS:,}-row import", utcnow())
            later = utcnow() + timedelta(days=1)
            with db.engine.connect() as connection:
                due = connection.scalar(
                    select(func.count()).select_from(Customer).where(Customer.segments_due_at <= later)
                )
            print(f"customers due a day later: {due:,}")
            run("5. a day later (nightly, nothing imported)", later)
            if args.check:
                with db.engine.connect() as connection:
                    wrong += check(connection, later, thresholds)
                print(f"  check: {wrong} customers differ from the rules applied one by one")

            with db.engine.connect() as connection:
                start, cpu = time.perf_counter(), time.process_time()
                gather(connection, later, thresholds)
                print(
                    f"the aggregate over every order, read into Python (app.segments.gather, as refresh_figures reads it): {time.perf_counter() - start:.2f} s"
                    f" (CPU {time.process_time() - cpu:.2f} s)"
                )
            db.engine.dispose()
    finally:
        if not args.in_place:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)

    full = timings["1. every customer changes"]
    incremental = timings[f"4. after the {IMPORTED_ROWS:,}-row import"]
    print(f"every customer changing {full:.2f} s: {'within' if full <= TARGET_SECONDS else 'MISSES'} the 5 s target")
    print(
        f"after a {IMPORTED_ROWS:,}-row import {incremental:.2f} s:"
        f" {'within' if incremental <= INCREMENTAL_TARGET_SECONDS else 'MISSES'} the 1 s target"
    )
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())

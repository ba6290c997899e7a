"""Make the benchmark database: a migrated SQLite file with users, customers, a year of orders
and a year of follow-up tasks.

    .venv/bin/python bench/generate.py                       # bench/data/bench.db, 100k / 1M
    .venv/bin/python bench/generate.py /tmp/small.db --customers 5000 --orders 50000

22 users: an admin, the supervisor "bench" (password "bench-pass-1", which every generated
user shares), and 20 sales users who own the customers (about 1 in 21 is unassigned).
Rows come from app.demo: fake_customers written by insert_customers (which also fills the
search grams), fake_orders converted by SQLAlchemy's own type processors and written with
the driver's executemany, in chunks, made by a worker process while this one writes; then
app.segments.recompute fills in the figures and segments. Meanwhile the worker plays each
owned customer's follow-up cycles through the real rules (app.followups.cycles) over the
last year; the tasks are then written the same way, and the customers' cycle state updated.
The measured sales user (sales01) ends with exactly --open-tasks open tasks. Prints the time
of each step. While loading, the secondary indexes and the FTS insert trigger are dropped and
made again after (the FTS index rebuilt in one pass). An existing file at the path is replaced.
"""

import argparse
import gc
import multiprocessing
import random
import sys
import time
from bisect import bisect
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from itertools import accumulate
from operator import itemgetter
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import BENCH_PASSWORD, BENCH_USERNAME, DEFAULT_DB, MEASURED_SALES_USER, SALES_USERS, make_app, step  # noqa: E402

CUSTOMER_CHUNK = 10_000
ORDER_CHUNK = 50_000
FOLLOW_UP_CHUNK = 50_000
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


def _sqlite():
    from sqlalchemy.dialects import sqlite

    return sqlite.dialect()


def _insert(model, keys: list[str]):
    """The INSERT of `model` for rows with these keys, and how to turn a row into its parameters.

    The same statement and type conversions as `connection.execute(insert(model), rows)`,
    but applied in the worker, so the writer only runs the driver's executemany.
    """
    from sqlalchemy import insert

    dialect = _sqlite()
    compiled = insert(model.__table__).compile(dialect=dialect, column_keys=keys)
    assert list(compiled.positiontup) == keys, compiled.positiontup
    columns = model.__table__.c
    processors = [columns[k].type.dialect_impl(dialect).bind_processor(dialect) for k in keys]
    return str(compiled), processors


ORDER_KEYS = [
    "order_no",
    "customer_id",
    "platform",
    "status",
    "amount",
    "refund_amount",
    "items",
    "item_count",
    "review",
    "created_at",
    "paid_at",
    "shipped_at",
    "closed_at",
]


def _order_insert():
    from app.models import Order

    return _insert(Order, ORDER_KEYS)


def _parameters(rows: list[dict], keys: list[str], processors: list) -> list[tuple]:
    pairs = list(zip(keys, processors))
    return [tuple(p(row[k]) if p and row[k] is not None else row[k] for k, p in pairs) for row in rows]


def _order_chunk(job: tuple[int, int, int]) -> list[tuple]:
    from app.demo import fake_orders

    first, count, seed = job
    rows = fake_orders(_customer_ids, count, random.Random(seed), first_number=first)
    return _parameters(rows, ORDER_KEYS, _order_insert()[1])


# --- follow-up tasks ---------------------------------------------------------------------------
# Each owned customer's cycles are played through app.followups.cycles from the day they were
# assigned until now: a task is done on its due day or a little before (each person has their
# own punctuality), or 1-10 days late; the outcome decides the next task as the rules say; a
# task not done by now is the customer's open task. Tasks done more than a year ago are not
# written (their cycles still count).

OUTCOMES = {"ordered": 15, "interested": 25, "no_answer": 35, "not_interested": 23, "do_not_contact": 2}
CHANNELS = {"phone": 35, "wechat": 40, "wangwang": 15, "qq": 3, "sms": 5, "other": 2}
NOTES = {
    "ordered": ["已下单，谢谢支持", "拍了两件，备注加急", "用了优惠券下单", "老客回购，送小样", None],
    "interested": ["想等活动再买", "问了尺码，晚点回复", "发了新品图片", "说下周发工资再看", "对颜色有点犹豫", None],
    "no_answer": ["电话未接通", "微信未回复", "旺旺已读未回", "关机", None, None],
    "not_interested": ["暂时不需要", "觉得价格偏高", "上次的还没用完", "已在别家买了", None],
    "do_not_contact": ["要求不要再联系", "说再打就投诉", "不想收到消息"],
}
EARLY_DAYS = (0,) * 7 + (1, 1, 2)  # days before the due day, when on time
LATE_DAYS = (1, 1, 1, 1, 2, 2, 2, 3, 3, 4, 5, 6, 7, 8, 9, 10)
BRING_BACK = 0.2  # share of lost customers a supervisor brings back later
# Customers are assigned (their first task opened) at an even pace over this many days before
# now, whenever they were created, as the orders are spread over the year: a steady workload,
# as in a shop that has run for years, rather than one growing with the customer base.
ASSIGNMENT_DAYS = 700
FOLLOW_UP_KEYS = [
    "customer_id",
    "assignee_id",
    "cycle",
    "kind",
    "due_at",
    "due_on",
    "status",
    "outcome",
    "channel",
    "note",
    "completed_by_id",
    "completed_at",
    "days_late",
    "created_at",
]
ASSIGNEE, STATUS, COMPLETED_BY, CREATED_AT = (
    FOLLOW_UP_KEYS.index(k) for k in ("assignee_id", "status", "completed_by_id", "created_at")
)


@dataclass
class Played:
    """One customer's cycles: task rows (FOLLOW_UP_KEYS, assignee not yet set) and where the
    customer stands now."""

    customer_id: int
    owner_id: int
    tasks: list[list]
    cycle: int
    streak: int
    state: str
    last_contact_at: datetime | None

    @property
    def has_open_task(self) -> bool:
        return bool(self.tasks) and self.tasks[-1][STATUS] == "open"


class _Picker:
    """rng.choices(values, weights) for one value, without rebuilding the cumulative weights each time."""

    def __init__(self, weighted: dict):
        self.values, self.cumulative = list(weighted), list(accumulate(weighted.values()))

    def __call__(self, rng: random.Random):
        return self.values[bisect(self.cumulative, rng.random() * self.cumulative[-1])]


_channel = _Picker(CHANNELS)


def _moment(value: datetime) -> str:
    # SQLAlchemy's SQLite DateTime format, 5x faster than its processor: 500,000 tasks, 3 times each.
    return value.isoformat(" ", "microseconds")


class _Calendar:
    """The shop's working hours on a given shop-calendar day, cached (a year has few days)."""

    def __init__(self, zone: ZoneInfo):
        self.zone, self.opening = zone, {}

    def at_work(self, day: date, rng: random.Random) -> datetime:
        """A moment between 9:00 and 21:30, shop time, on `day`, as naive UTC."""
        opening = self.opening.get(day)
        if opening is None:
            local = datetime(day.year, day.month, day.day, 9, tzinfo=self.zone)
            opening = self.opening[day] = local.astimezone(UTC).replace(tzinfo=None)
        return opening + timedelta(minutes=int(rng.random() * 750))


def _play(
    customer_id: int,
    owner_id: int,
    assigned_at: datetime,
    rng: random.Random,
    on_time: float,
    outcome: _Picker,
    now: datetime,
    s,
    calendar: _Calendar,
) -> Played:
    from app.followups import cycles
    from app.shop_calendar import shop_date

    since = now - timedelta(days=365)
    tasks: list[list] = []
    streak, last_contact, opened_at = 0, None, assigned_at
    plan = cycles.first_task(assigned_at, None, lost=False, s=s)
    while True:
        due_on = shop_date(plan.due_at, calendar.zone)
        offset = -rng.choice(EARLY_DAYS) if rng.random() < on_time else rng.choice(LATE_DAYS)
        done_on = due_on + timedelta(days=offset)
        done_at = calendar.at_work(done_on, rng)
        if done_at <= opened_at:  # early, but not before the task existed
            done_at = opened_at + timedelta(minutes=5 + int(rng.random() * 180))
            done_on = shop_date(done_at, calendar.zone)
        task = [
            customer_id,
            None,
            plan.cycle,
            str(plan.kind),
            _moment(plan.due_at),
            due_on.isoformat(),
            "open",
            None,
            None,
            None,
            None,
            None,
            None,
            _moment(opened_at),
        ]
        if done_at > now:
            tasks.append(task)
            return Played(customer_id, owner_id, tasks, plan.cycle, streak, "active", last_contact)
        result = outcome(rng)
        if done_at >= since:
            # days_late as cycles.days_late counts it: shop-calendar days after the due day.
            task[STATUS:CREATED_AT] = [
                "done",
                str(result),
                _channel(rng),
                rng.choice(NOTES[result]),
                None,
                _moment(done_at),
                max(0, (done_on - due_on).days),
            ]
            tasks.append(task)
        last_contact = done_at
        decision = cycles.after_outcome(result, plan.cycle, streak, done_at, s)
        streak = decision.unconverted_streak
        if decision.lost:
            back = done_at + timedelta(days=20 + int(rng.random() * 100), minutes=int(rng.random() * 600))
            if rng.random() >= BRING_BACK or back >= now:
                return Played(customer_id, owner_id, tasks, plan.cycle, streak, "lost", last_contact)
            streak, opened_at = 0, back
            plan = cycles.first_task(back, None, lost=True, s=s, last_cycle=plan.cycle)
        elif decision.next_task is None:
            return Played(customer_id, owner_id, tasks, plan.cycle, streak, "stopped", last_contact)
        else:
            plan, opened_at = decision.next_task, done_at


def _hand_over(played: list[Played], measured: int, open_tasks: int, rng: random.Random) -> None:
    """Swap customers between the measured user and the others until the measured one has exactly
    `open_tasks` open tasks: one with an open task for one without, so everyone keeps as many customers."""
    mine = [p for p in played if p.owner_id == measured]
    others = [p for p in played if p.owner_id != measured]
    mine_open = [p for p in mine if p.has_open_task]
    surplus = len(mine_open) - open_tasks
    if surplus > 0:
        give, take = mine_open, [p for p in others if not p.has_open_task]
    else:
        give, take = [p for p in mine if not p.has_open_task], [p for p in others if p.has_open_task]
    count = abs(surplus)
    if count > min(len(give), len(take)):
        raise RuntimeError(f"cannot give {MEASURED_SALES_USER} {open_tasks} open tasks: too few customers")
    for a, b in zip(rng.sample(give, count), rng.sample(take, count)):
        a.owner_id, b.owner_id = b.owner_id, a.owner_id


def _follow_ups(job: tuple) -> tuple[list[tuple], list[tuple], list[tuple], dict]:
    """In the worker: the follow-up rows (INSERT parameters, in the order the tasks were opened),
    the customers' new cycle state and the owners swapped by _hand_over (UPDATE parameters), and
    a summary."""
    from app.followups.cycles import Outcome
    from app.models import FollowUp

    customers, sales_ids, measured, open_tasks, now, s, zone_name, seed = job
    _, processors = _insert(FollowUp, FOLLOW_UP_KEYS)
    sample = datetime(2026, 1, 2, 3, 4, 5)
    assert _moment(sample) == processors[FOLLOW_UP_KEYS.index("due_at")](sample), "SQLAlchemy's format changed"
    rng, calendar = random.Random(seed), _Calendar(ZoneInfo(zone_name))
    # Each person their own punctuality (70-95% on time) and knack for selling (10-20% ordered).
    traits = {}
    for i, uid in enumerate(rng.sample(sales_ids, len(sales_ids))):
        weights = {Outcome(o): w for o, w in OUTCOMES.items()} | {Outcome.ORDERED: 10 + (i * 7) % 11}
        traits[uid] = (0.70 + 0.25 * i / max(1, len(sales_ids) - 1), _Picker(weights))
    played = []
    for customer_id, owner_id in customers:
        assigned_at = now - timedelta(minutes=int(rng.random() * ASSIGNMENT_DAYS * 24 * 60))
        on_time, outcome = traits[owner_id]
        played.append(_play(customer_id, owner_id, assigned_at, rng, on_time, outcome, now, s, calendar))
    original = {p.customer_id: p.owner_id for p in played}
    _hand_over(played, measured, open_tasks, rng)

    rows = []
    for p in played:
        for task in p.tasks:
            task[ASSIGNEE] = p.owner_id
            if task[STATUS] == "done":
                task[COMPLETED_BY] = p.owner_id
        rows += p.tasks
    rows.sort(key=itemgetter(CREATED_AT))
    states = [
        (p.cycle, p.streak, p.state, p.last_contact_at and _moment(p.last_contact_at), p.customer_id) for p in played
    ]
    moves = [(p.owner_id, p.customer_id) for p in played if p.owner_id != original[p.customer_id]]
    summary = {
        "done": len(rows) - sum(p.has_open_task for p in played),
        "open": sum(p.has_open_task for p in played),
        "lost": sum(p.state == "lost" for p in played),
        "stopped": sum(p.state == "stopped" for p in played),
        "moved": len(moves),
    }
    return [tuple(row) for row in rows], states, moves, summary  # executemany wants tuples


def _secondary_indexes(connection, table: str) -> list[str]:
    return list(
        connection.exec_driver_sql(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL", (table,)
        ).scalars()
    )


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


def generate(path: Path, customers: int, orders: int, seed: int = 2026, open_tasks: int = 2000) -> dict:
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_database(path)
    # Fork the workers before anything opens the database.
    context = multiprocessing.get_context("fork")
    # Millions of row objects alive at once: the cyclic GC would rescan them over and over.
    gc.disable()
    with context.Pool(WORKERS, initializer=_init_worker, initargs=(customers,)) as pool:
        return _generate(pool, path, customers, orders, seed, open_tasks)


def _generate(pool, path: Path, customers: int, orders: int, seed: int, open_tasks: int) -> dict:
    from flask_migrate import upgrade
    from sqlalchemy import event, insert
    from werkzeug.security import generate_password_hash

    from app.demo import insert_customers
    from app.extensions import db
    from app.followups import daily_figures
    from app.followups.cycles import CycleSettings
    from app.models import FollowUp, Role, User, utcnow
    from app.segments import Thresholds, recompute

    app = make_app(path)
    timings: dict[str, float] = {}
    with app.app_context():
        event.listen(db.engine, "connect", _fast_sqlite)
        with step("migrate", timings):
            upgrade(directory=str(Path(__file__).resolve().parent.parent / "migrations"))

        with db.engine.begin() as connection:
            users = [("admin", "王管理", Role.ADMIN), (BENCH_USERNAME, "李主管", Role.SUPERVISOR)]
            users += [(f"sales{n:02d}", f"销售{n:02d}", Role.SALES) for n in range(1, SALES_USERS + 1)]
            with step(f"users ({len(users)})", timings):
                password_hash = generate_password_hash(BENCH_PASSWORD)  # hashed once: scrypt is slow on purpose
                now = utcnow()
                rows = [
                    {
                        "username": u,
                        "display_name": d,
                        "role": r,
                        "password_hash": password_hash,
                        "active": True,
                        "created_at": now,
                    }
                    for u, d, r in users
                ]
                user_ids = list(connection.scalars(insert(User).returning(User.id, sort_by_parameter_order=True), rows))
                by_name = {u: uid for uid, (u, _, _) in zip(user_ids, users)}
                sales_ids = [uid for uid, (_, _, role) in zip(user_ids, users) if role == Role.SALES]
                owners = sales_ids + [None]

            # Both kinds of chunk are queued at once: workers make orders while customers are written.
            customer_chunks = pool.imap(
                _customer_chunk, [(*job, owners) for job in _chunks(customers, CUSTOMER_CHUNK, seed)]
            )
            order_chunks = pool.imap(_order_chunk, _chunks(orders, ORDER_CHUNK, seed + 1))

            customer_ids: list[int] = []
            owned: list[tuple] = []  # (id, owner) of the owned customers, for their follow-ups
            with step(f"customers ({customers:,}, with search grams)", timings):
                with deferred(connection, ["customers_fts_insert", *_secondary_indexes(connection, "customers")]):
                    for chunk in customer_chunks:
                        ids = insert_customers(connection, chunk)
                        customer_ids += ids
                        owned += [(cid, row["owner_id"]) for cid, row in zip(ids, chunk) if row["owner_id"] is not None]
            if customer_ids != list(range(1, customers + 1)):
                raise RuntimeError("customers were not numbered 1..N: is the database file fresh?")

            with step(f"orders ({orders:,})", timings):
                sql = _order_insert()[0]
                # Every customer is new, hence due for the recompute already: the trigger that
                # marks an order's customer would only look each one up (0008).
                with deferred(connection, ["ix_orders_customer_paid", "orders_segments_insert"]):
                    for chunk in order_chunks:
                        connection.exec_driver_sql(sql, chunk)

            # The worker plays the follow-up cycles while this process recomputes the segments.
            follow_ups = pool.apply_async(
                _follow_ups,
                [
                    (
                        owned,
                        sales_ids,
                        by_name[MEASURED_SALES_USER],
                        open_tasks,
                        utcnow(),
                        CycleSettings.from_config(app.config),
                        app.config["SHOP_TIMEZONE"],
                        seed + 2,
                    )
                ],
            )

            with step("segments recompute", timings):
                changed = recompute(connection, utcnow(), Thresholds.from_config(app.config))
            print(f"  {changed:,} customers updated by the recompute")

            with step("follow-ups (waiting for the worker)", timings):
                task_rows, states, moves, summary = follow_ups.get()
            with step(f"follow-ups ({len(task_rows):,} tasks)", timings):
                sql = _insert(FollowUp, FOLLOW_UP_KEYS)[0]
                with deferred(connection, _secondary_indexes(connection, "follow_ups")):
                    for start in range(0, len(task_rows), FOLLOW_UP_CHUNK):
                        connection.exec_driver_sql(sql, task_rows[start : start + FOLLOW_UP_CHUNK])
                connection.exec_driver_sql(
                    "UPDATE customers SET cycle = ?, unconverted_streak = ?, follow_up_state = ?, last_contact_at = ?"
                    " WHERE id = ?",
                    states,
                )
                connection.exec_driver_sql("UPDATE customers SET owner_id = ? WHERE id = ?", moves)
            print(
                f"  {summary['done']:,} done, {summary['open']:,} open ({open_tasks:,} of them {MEASURED_SALES_USER}'s); "
                f"{summary['lost']:,} customers lost, {summary['stopped']:,} stopped; "
                f"{summary['moved']:,} customers moved to or from {MEASURED_SALES_USER}"
            )

        # The tasks went in as raw rows: the audit's daily figures are counted from them.
        with step("follow-up figures (per person and due day)", timings):
            daily_figures.rebuild()
            db.session.commit()

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
    parser.add_argument(
        "--open-tasks",
        type=int,
        default=2000,
        help=f"open follow-up tasks of {MEASURED_SALES_USER}, the user the queue bench signs in as",
    )
    args = parser.parse_args()
    path = Path(args.path).resolve()
    print(f"Generating {path}: {args.customers:,} customers, {args.orders:,} orders")
    start = time.perf_counter()
    generate(path, args.customers, args.orders, args.seed, args.open_tasks)
    size = path.stat().st_size / 2**20
    print(
        f"Done in {time.perf_counter() - start:.1f} s; {size:.0f} MiB. Sign in as {BENCH_USERNAME} / {BENCH_PASSWORD}."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

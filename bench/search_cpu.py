"""CPU time of the registry's requests in one process (Flask test client, no HTTP, no second worker).

    .venv/bin/python bench/search_cpu.py [--db PATH] [--runs 30] [--user bench] [--only TEXT] [--profile LABEL]

Signs in (the bench supervisor by default; `--user sales01` for a sales user), then sends
each of search_bench.py's requests `--runs` times one after the other and prints the median
CPU time (`time.process_time`) and wall time per request, the page's match count as shown,
and the same for a customer page (the customer with the most orders). On PostgreSQL (running
on this machine) also the server processes' CPU per request, from /proc (a mean: the kernel
counts it in 10 ms ticks). `--profile LABEL` runs
cProfile over that request instead and prints the top functions. Works on a copy of nothing:
it only reads. An embedded Redis in a temporary folder serves the login throttle.
"""

import argparse
import cProfile
import os
import pstats
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import DEFAULT_DB, sqlite_url  # noqa: E402
from bench.search_bench import CASES, _matches  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", default=str(DEFAULT_DB))
    parser.add_argument("--database-url", help="instead of --db, e.g. a PostgreSQL URL")
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--user", default="bench")
    parser.add_argument("--only")
    parser.add_argument("--profile")
    args = parser.parse_args()

    tmp = tempfile.TemporaryDirectory(prefix="search-cpu-")
    os.environ.update(
        PORTAL_ENV="development",
        DATABASE_URL=args.database_url or sqlite_url(Path(args.db)),
        EMBEDDED_REDIS_DIR=tmp.name,
        SESSION_COOKIE_SECURE="0",
    )
    from sqlalchemy import func, select

    from app import create_app
    from app.extensions import db
    from app.models import Customer, Order, User
    from app.redis import stop_embedded_redis

    app = create_app(WTF_CSRF_ENABLED=False)
    backends = _watch_backends(app) if "postgresql" in os.environ["DATABASE_URL"] else None
    try:
        client = app.test_client()
        response = client.post("/login", data={"username": args.user, "password": "bench-pass-1"})
        assert response.status_code == 302, response.text
        with app.app_context():
            user = db.session.scalar(select(User).where(User.username == args.user))
            orders = select(Order.customer_id).join(Customer, Customer.id == Order.customer_id)
            if not user.sees_everyone:  # a customer of theirs
                orders = orders.where(Customer.owner_id == user.id)
            busiest = db.session.execute(
                orders.group_by(Order.customer_id).order_by(func.count().desc()).limit(1)
            ).scalar()
        cases = [(c.label, c.path, c.headers) for c in CASES if c.path != "/ping"]
        cases.append((f"customer page ({busiest})", f"/customers/{busiest}", {}))
        if args.only:
            cases = [c for c in cases if args.only in c[0]]
        for label, path, headers in cases:
            if args.profile and args.profile not in label:
                continue
            for _ in range(3):
                body = client.get(path, headers=headers).text
            if args.profile:
                profiler = cProfile.Profile()
                profiler.enable()
                for _ in range(args.runs):
                    client.get(path, headers=headers)
                profiler.disable()
                pstats.Stats(profiler).sort_stats("cumulative").print_stats(45)
                pstats.Stats(profiler).sort_stats("tottime").print_stats(30)
                continue
            cpu, wall, server = [], [], []
            for _ in range(args.runs):
                s0 = _server_cpu(backends)
                c0, w0 = time.process_time(), time.perf_counter()
                response = client.get(path, headers=headers)
                cpu.append(time.process_time() - c0)
                wall.append(time.perf_counter() - w0)
                server.append(_server_cpu(backends) - s0)
                assert response.status_code == 200, (label, response.status_code)
            matches = _matches(body) if "customer page" not in label else "-"
            rows = len(re.findall(r'<a href="/customers/\d+">', body))
            print(
                f"{label:32} {matches:>8} rows {rows:3}  CPU {statistics.median(cpu) * 1000:6.1f} ms"
                f"  wall {statistics.median(wall) * 1000:6.1f} ms"
                + (f"  server CPU {statistics.mean(server) * 1000:6.1f} ms (mean)" if backends is not None else ""),
                flush=True,
            )
    finally:
        with app.app_context():
            stop_embedded_redis(save=False)
        tmp.cleanup()
    return 0


def _watch_backends(app) -> set[int]:
    """The process ids of the PostgreSQL server processes serving this app's connections (the
    server runs on this machine: its CPU per request is read from /proc)."""
    from sqlalchemy import event

    from app.extensions import db

    pids: set[int] = set()
    with app.app_context():
        engine = db.engine
        engine.dispose()

        @event.listens_for(engine, "connect")
        def _connected(connection, record) -> None:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                pids.add(cursor.fetchone()[0])

    return pids


def _server_cpu(pids: set[int] | None) -> float:
    """CPU seconds (user + system) the server processes `pids` have used."""
    total = 0.0
    for pid in pids or ():
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


if __name__ == "__main__":
    sys.exit(main())

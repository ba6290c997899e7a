"""The follow-up audit's pages in one process: CPU time per request, without a server.

    .venv/bin/python bench/audit_inprocess.py [--db bench/data/bench.db] [--runs 21]

Signs in as the supervisor `bench` through the Flask test client (an embedded Redis in a
temporary folder for the login throttle) and requests each page `--runs` times after one
warm-up, printing the median and the largest CPU time (`time.process_time`: what the request
costs, whatever else runs on the machine; the largest shows a garbage collection falling in
a request). Then the summary (`app.followup_audit.services.summary`) and the chart alone for
the same periods. The periods end today in the shop's calendar, as followups_bench.py's do.
"""

import argparse
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import BENCH_PASSWORD, BENCH_USERNAME, DEFAULT_DB, make_app  # noqa: E402


def cpu_ms(fn, runs: int) -> tuple[float, float]:
    """Median and largest CPU time of `runs` calls, in ms."""
    times = []
    for _ in range(runs):
        start = time.process_time()
        fn()
        times.append((time.process_time() - start) * 1000)
    return statistics.median(times), max(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", default=str(DEFAULT_DB), help=f"database made by generate.py (default {DEFAULT_DB})")
    parser.add_argument("--runs", type=int, default=21, help="requests per page (default 21)")
    args = parser.parse_args()

    app = make_app(args.db, REDIS_URL=None, EMBEDDED_REDIS_DIR=tempfile.mkdtemp(), WTF_CSRF_ENABLED=False)
    from app import shop_calendar
    from app.extensions import db
    from app.followup_audit import services

    with app.app_context():
        today = shop_calendar.today()

    def last(days: int) -> str:
        return urlencode({"from": (today - timedelta(days=days - 1)).isoformat(), "to": today.isoformat()})

    pages = [
        ("audit: last 4 weeks (default)", "/audit/"),
        ("audit: last 90 days", "/audit/?" + last(90)),
        ("audit: last 366 days", "/audit/?" + last(366)),
        ("audit: tasks done late, 90 days", "/audit/tasks?which=late&" + last(90)),
        ("audit: tasks due, 366 days", "/audit/tasks?which=due&" + last(366)),
        ("audit: per customer, page 1", "/audit/customers"),
    ]
    client = app.test_client()
    answer = client.post("/login", data={"username": BENCH_USERNAME, "password": BENCH_PASSWORD})
    if answer.status_code != 302:
        raise SystemExit(f"cannot sign in as {BENCH_USERNAME}: {answer.status_code}")
    print(f"{'page':<34} {'KiB':>5} {'CPU ms':>7} {'max':>7}")
    for label, url in pages:
        body = client.get(url).data
        median, largest = cpu_ms(lambda url=url: client.get(url), args.runs)
        print(f"{label:<34} {len(body) / 1024:5.0f} {median:7.1f} {largest:7.1f}")
    with app.app_context():
        for days in (35, 90, 366):
            period = services.Period(today - timedelta(days=days - 1), today)
            summary_ms, _ = cpu_ms(
                lambda period=period: (services.summary(period, today), db.session.rollback()), args.runs
            )
            s = services.summary(period, today)
            chart_ms, _ = cpu_ms(lambda s=s: services.chart(s), args.runs)
            print(f"summary of {days} days: {summary_ms:.1f} ms; its chart: {chart_ms:.2f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Follow-up queue and audit latency, measured against the real app served by gunicorn on loopback.

    .venv/bin/python bench/generate.py            # once: bench/data/bench.db
    .venv/bin/python bench/followups_bench.py     # 200 requests per page per concurrency

The same machinery as search_bench.py (bench/common.py): an embedded Redis and
`gunicorn -w 2 wsgi:app` on a free 127.0.0.1 port, a fixed number of GETs per page from 1 and
from 8 concurrent clients, /ping as the baseline, p50/p95/mean, requests/s, p95 over /ping's
p95 and the gunicorn workers' CPU time per request.

The pages, on the generator's data (sales01 has 2,000 open tasks; 20 sales users have a year
of done tasks, about 440,000):
- my queue as sales01: the whole page (three sections and their counters), the counters alone
  (htmx asks for them again after each outcome), and the "Show more" of each section that has
  one (htmx, the next cards after the first page's last one);
- the audit as the supervisor `bench`: the whole page for the default period (the last 4 weeks),
  the last 90 days and the last 366 days (the longest period allowed), shop-calendar days; the
  drill-down to the tasks done late in the last 90 days (first page); the per-customer audit
  (first page).
The column "KiB" is the size of the answer. Options: --help; bench/README.md has the figures.
"""

import html
import re
import sys
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (  # noqa: E402
    BASELINE,
    MEASURED_SALES_USER,
    Bench,
    Case,
    bench_arguments,
    htmx_headers,
    run_on_targets,
)

QUEUE = "/follow-ups/"
SHOW_MORE = re.compile(r'hx-get="(/follow-ups/\?[^"]*section=[^"]*)"')
COUNTERS = re.compile(r"<strong>(\d+)</strong>\s*([^<]+?)\s*</a>")


def _size(body: str) -> str:
    kib = len(body.encode()) / 1024
    return f"{kib:.1f}" if kib < 10 else f"{kib:.0f}"


def _shop_today():
    from app.config import Config
    from app.models import utcnow
    from app.shop_calendar import shop_date

    return shop_date(utcnow(), ZoneInfo(Config.SHOP_TIMEZONE))


def _period(days: int) -> str:
    """The query string of the last `days` shop-calendar days, today included."""
    today = _shop_today()
    return urlencode({"from": (today - timedelta(days=days - 1)).isoformat(), "to": today.isoformat()})


def queue_cases(page: str) -> list[Case]:
    """The queue's pages; `page` is the queue as the measured user sees it, for its "Show more" links."""
    cases = [
        Case(f"queue: whole page ({MEASURED_SALES_USER})", QUEUE, MEASURED_SALES_USER, detail=_size),
        Case(
            "queue: counters (htmx)",
            "/follow-ups/counters",
            MEASURED_SALES_USER,
            headers=htmx_headers(QUEUE, "counters"),
            detail=_size,
        ),
    ]
    for link in SHOW_MORE.findall(page):
        path = html.unescape(link)
        section = re.search(r"section=(\w+)", path).group(1)
        cases.append(
            Case(
                f"queue: show more, {section} (htmx)",
                path,
                MEASURED_SALES_USER,
                headers=htmx_headers(QUEUE, None),
                detail=_size,
            )
        )
    return cases


def audit_cases() -> list[Case]:
    return [
        Case("audit: last 4 weeks (default)", "/audit/", detail=_size),
        Case("audit: last 90 days", "/audit/?" + _period(90), detail=_size),
        Case("audit: last 366 days", "/audit/?" + _period(366), detail=_size),
        Case("audit: tasks done late, 90 days", "/audit/tasks?which=late&" + _period(90), detail=_size),
        Case("audit: per customer, page 1", "/audit/customers", detail=_size),
    ]


def cases(bench: Bench) -> list[Case]:
    """The queue's pages (their "Show more" links read from the queue itself) and the audit's."""
    status, page = bench.get(Case("queue", QUEUE, MEASURED_SALES_USER))
    if status != 200:
        raise SystemExit(f"{QUEUE} answers {status} to {MEASURED_SALES_USER}")
    counts = ", ".join(f"{label} {n}" for n, label in COUNTERS.findall(page)[:3])
    print(f"{MEASURED_SALES_USER}'s queue: {counts}")
    return [BASELINE, *queue_cases(page), *audit_cases()]


def main() -> int:
    args = bench_arguments(__doc__).parse_args()
    run_on_targets(args, cases, "followups_bench.gunicorn.log", "KiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())

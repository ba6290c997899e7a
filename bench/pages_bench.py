"""Every page sales staff and supervisors use, on SQLite and PostgreSQL side by side (issue 9).

    .venv/bin/python bench/generate.py
    .venv/bin/python bench/to_postgres.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test
    .venv/bin/python bench/pages_bench.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test

The registry's searches (search_bench.py), the customer page, the queue and the audit
(followups_bench.py), then every other page of the portal ("elsewhere": its own target is
p95 ≤ 100 ms at 8 clients), each from 1 and 8 concurrent clients, on each database named
(`--db` files, several allowed, and `--database-url`'s schema `bench`), one after the other;
then one table with the figures side by side and every miss of the targets listed.

How cost grows with the shop: generate files of several sizes and name them all, e.g.
`--db bench/data/bench-10k.db --db bench/data/bench.db --db bench/data/bench-1m.db
--only search,customer page,queue`.
"""

import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import BENCH_USERNAME, MEASURED_SALES_USER, Bench, Case, bench_arguments, run_on_targets  # noqa: E402
from bench.followups_bench import cases as followup_cases  # noqa: E402
from bench.search_bench import cases as search_cases  # noqa: E402

ADMIN = "admin"
FIRST_CUSTOMER = re.compile(r'href="/customers/(\d+)"')

# Pages outside the searches, the queue and the audit: (who, path).
ELSEWHERE = [
    (BENCH_USERNAME, "/customers/"),
    (MEASURED_SALES_USER, "/customers/"),
    (BENCH_USERNAME, "/customers/new"),
    (BENCH_USERNAME, "/reports/overview"),
    (BENCH_USERNAME, "/assignment/"),
    (BENCH_USERNAME, "/imports/"),
    (BENCH_USERNAME, "/blacklist/"),
    (BENCH_USERNAME, "/messages/"),
    (MEASURED_SALES_USER, "/messages/"),
    (BENCH_USERNAME, "/messages/templates/"),
    (BENCH_USERNAME, "/campaigns/"),
    (BENCH_USERNAME, "/campaigns/new"),
    (BENCH_USERNAME, "/account"),
    (ADMIN, "/users"),
    (ADMIN, "/settings/sending/"),
    (ADMIN, "/blacklist/new"),
]


def customer_pages(bench: Bench) -> list[Case]:
    """The page of the customer who spent most, as the supervisor and as its owner would open it."""
    cases = []
    for user in (BENCH_USERNAME, MEASURED_SALES_USER):
        status, page = bench.get(Case("registry", "/customers/?sort=spend", user))
        found = FIRST_CUSTOMER.search(page)
        if status != 200 or not found:
            raise SystemExit(f"no customer on /customers/?sort=spend for {user} (status {status})")
        cases.append(Case(f"customer page ({user})", f"/customers/{found.group(1)}", user))
    return cases


def cases(bench: Bench) -> list[Case]:
    queue_and_audit = followup_cases(bench)
    return [
        *search_cases(bench),
        *customer_pages(bench),
        *queue_and_audit[1:],  # the baseline is the searches' first case
        *(Case(f"elsewhere: {path} ({user})", path, user, targets={8: 100.0}) for user, path in ELSEWHERE),
    ]


def main() -> int:
    args = bench_arguments(__doc__).parse_args()
    run_on_targets(args, cases, "pages_bench.gunicorn.log", "detail")
    return 0


if __name__ == "__main__":
    sys.exit(main())

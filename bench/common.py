"""What the benchmarks share: paths, the bench login, the app on a given database file.

Run the benches from the project root with the project's virtualenv, e.g.
`.venv/bin/python bench/generate.py`; each script puts the root on sys.path itself.
"""

import os
import socket
import sys
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = ROOT / "bench" / "data"
DEFAULT_DB = DATA_DIR / "bench.db"

# The supervisor the generator creates and the search bench signs in as.
BENCH_USERNAME = "bench"
BENCH_PASSWORD = "bench-pass-1"

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

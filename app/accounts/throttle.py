"""Login throttling: at most N failed attempts per account and per address in a window.

Counts live in Redis with the window as their time to live, so every web process shares them.
"""

from flask import current_app

from ..redis import get_redis


def _keys(username: str, address: str) -> list[str]:
    return [f"login-failures:account:{username.strip().lower()}", f"login-failures:address:{address}"]


def seconds_locked(username: str, address: str) -> int:
    """0 if a login may be tried; else how long until it may."""
    redis = get_redis()
    limit = current_app.config["LOGIN_MAX_FAILURES"]
    waits = [redis.ttl(key) for key in _keys(username, address) if int(redis.get(key) or 0) >= limit]
    return max(waits, default=0)


def record_failure(username: str, address: str) -> None:
    window = current_app.config["LOGIN_FAILURE_WINDOW_SECONDS"]
    redis = get_redis()
    for key in _keys(username, address):
        if redis.incr(key) == 1:
            redis.expire(key, window)


def clear_account(username: str) -> None:
    # The address count stays: a success on one account must not reset guessing at others.
    get_redis().delete(_keys(username, "")[0])

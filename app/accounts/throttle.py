"""Login throttling: two limits on failed attempts in a window, for two different attacks.

- Per account: someone guessing one person's password, from any number of addresses.
- Per network address: one address trying many accounts (credential stuffing). A whole shop
  office shares one address, so this limit is much higher: a colleague's typos must not lock
  everyone out.

Counts live in Redis with the window as their time to live, so every web process shares them.
"""

from dataclasses import dataclass

from flask import current_app

from ..redis import get_redis


@dataclass(frozen=True)
class Lock:
    on_account: bool  # else on the address
    seconds: int  # until a login may be tried again


def _account_key(username: str) -> str:
    return f"login-failures:account:{username.strip().lower()}"


def _address_key(address: str) -> str:
    return f"login-failures:address:{address}"


def lock(username: str, address: str) -> Lock | None:
    """None if a login may be tried; else which limit was reached, and for how long."""
    redis, config = get_redis(), current_app.config
    for key, limit, on_account in (
        (_account_key(username), config["LOGIN_MAX_FAILURES_PER_ACCOUNT"], True),
        (_address_key(address), config["LOGIN_MAX_FAILURES_PER_ADDRESS"], False),
    ):
        if int(redis.get(key) or 0) >= limit:
            return Lock(on_account, max(redis.ttl(key), 1))  # the key may expire meanwhile
    return None


def record_failure(username: str, address: str) -> None:
    window = current_app.config["LOGIN_FAILURE_WINDOW_SECONDS"]
    redis = get_redis()
    for key in (_account_key(username), _address_key(address)):
        if redis.incr(key) == 1:
            redis.expire(key, window)


def clear_account(username: str) -> None:
    # The address count stays: a success on one account must not reset guessing at others.
    get_redis().delete(_account_key(username))

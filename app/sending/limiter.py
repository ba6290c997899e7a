"""A provider's rate limit, shared by every worker through Redis.

One counter per provider and second: a worker takes what it is about to send from the current
second's budget, and waits for the next second when the budget is spent.
"""

import time
from collections.abc import Callable

from redis import Redis


def take(
    redis: Redis,
    provider: str,
    count: int,
    per_second: int,
    *,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Wait until `count` messages may go to `provider`, and return the second (Unix time) whose
    budget they took; `count` must not exceed `per_second`."""
    if count > per_second:
        raise ValueError(f"{count} messages at once exceed the limit of {per_second} a second")
    while True:
        second = int(clock())
        key = f"sms:rate:{provider}:{second}"
        with redis.pipeline() as pipe:
            used, _ = pipe.incrby(key, count).expire(key, 2).execute()
        if used <= per_second:
            return second
        redis.decrby(key, count)  # give back what was not taken: another worker may fit in
        sleep(max(0.0, second + 1 - clock()))

"""Figures too costly to count for every page view (they read every customer), counted at most
once per period and kept in Redis, shared by every process; the pages say when they were counted."""

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from .models import utcnow
from .redis import get_redis


def kept(key: str, seconds: int, count: Callable[[], Any], fresh: bool = False) -> tuple[Any, datetime]:
    """What `count()` gave at most `seconds` ago (anything JSON can hold, as JSON gives it back)
    and when it was counted (naive UTC). `fresh` counts now, as after a change made on the page."""
    redis = get_redis()
    stored = None if fresh else redis.get(key)
    if stored is None:
        value, counted_at = count(), utcnow()
        stored = json.dumps({"value": value, "counted_at": counted_at.isoformat()})
        redis.set(key, stored, ex=seconds)
    data = json.loads(stored)  # also what was just counted: the same value on every path
    return data["value"], datetime.fromisoformat(data["counted_at"])

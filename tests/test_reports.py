"""The supervisor's overview, counted once a minute (its other figures: test_segments.py)."""

import re

from app.extensions import db
from app.models import Role
from app.redis import get_redis
from app.reports import services


def _total(text: str) -> int:
    return int(re.search(r"(\d+) customers? ·", text).group(1))


def test_overview_shows_when_it_counted_and_counts_again_after_a_minute(client, login_as, make_customer):
    login_as(Role.SUPERVISOR)
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    for _ in range(2):
        make_customer()
    text = client.get("/reports/overview").text
    assert _total(text) == 2
    assert re.search(r"Counted at \d\d:\d\d:\d\d; the figures are counted again at most once a minute.", text)

    make_customer()  # within the minute the page shows the count it made
    assert _total(client.get("/reports/overview").text) == 2
    [key] = get_redis().keys("reports:overview:*")
    assert 0 < get_redis().ttl(key) <= services.OVERVIEW_SECONDS

    get_redis().delete(key)  # as if the minute had passed
    assert _total(client.get("/reports/overview").text) == 3


def test_a_kept_overview_is_the_count_it_was_made_from(login_as, make_customer):
    """Kept in Redis and read back, every figure is the same, the unknown province and the
    provinces' order included."""
    supervisor = login_as(Role.SUPERVISOR)
    for province, flags in (
        ("浙江", {"flag_picky": True}),
        ("浙江", {}),
        ("江苏", {"flag_bad_reviewer": True}),
        (None, {}),
    ):
        make_customer(province=province, **flags)
    db.session.commit()

    counted = services.segment_counts(supervisor)
    first, counted_at = services.overview(supervisor)
    kept, kept_at = services.overview(supervisor)  # read back from Redis
    assert first == kept == counted and kept_at == counted_at
    assert list(kept.by_province.items()) == [("浙江", 2), (None, 1), ("江苏", 1)] or list(
        kept.by_province.items()
    ) == [("浙江", 2), ("江苏", 1), (None, 1)]  # the databases order NULL differently among equals
    assert list(kept.by_province) == list(counted.by_province)
    assert (kept.total, kept.flagged_bad_reviewer, kept.flagged_picky) == (4, 1, 1)

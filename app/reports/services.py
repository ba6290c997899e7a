"""The supervisor's overview: how many customers each segment, tier, activity and province holds.

Counting them reads every customer (100,000 in the bench: tens of milliseconds on SQLite, more
on PostgreSQL), so a count is kept in Redis for a minute and shared by everyone who sees the
same customers; the page says when it was counted.
"""

from dataclasses import dataclass
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from ..access import visible_customers
from ..extensions import db
from ..kept import kept
from ..models import User

# How long one count of the overview is shown before the customers are counted again.
OVERVIEW_SECONDS = 60


@dataclass
class SegmentCounts:
    total: int
    by_layer: dict[str, int]
    by_tier: dict[str, int]
    by_activity: dict[str, int]
    by_province: dict[str | None, int]  # largest first
    flagged_bad_reviewer: int
    flagged_picky: int

    @property
    def by_province_labels(self) -> list[tuple[str | None, str]]:
        return [(province, province or _l("Unknown")) for province in self.by_province]


def segment_counts(user: User) -> SegmentCounts:
    customers = visible_customers(user).subquery()

    def count_by(column) -> dict:
        return dict(db.session.execute(select(column, func.count()).group_by(column)).all())

    c = customers.c
    provinces = db.session.execute(
        select(c.province, func.count()).group_by(c.province).order_by(func.count().desc(), c.province)
    ).all()
    flags = db.session.execute(
        select(
            func.count(),
            func.coalesce(func.sum(c.flag_bad_reviewer.cast(db.Integer)), 0),
            func.coalesce(func.sum(c.flag_picky.cast(db.Integer)), 0),
        )
    ).one()
    return SegmentCounts(
        total=flags[0],
        by_layer=count_by(c.layer),
        by_tier=count_by(c.tier),
        by_activity=count_by(c.activity),
        by_province=dict(provinces),
        flagged_bad_reviewer=flags[1],
        flagged_picky=flags[2],
    )


def overview(user: User) -> tuple[SegmentCounts, datetime]:
    """The counts `user` sees and when they were made (naive UTC): at most OVERVIEW_SECONDS ago."""

    def count() -> dict:
        counts = segment_counts(user)
        # The provinces as pairs: JSON's keys are strings, and the unknown province is None.
        return vars(counts) | {"by_province": list(counts.by_province.items())}

    scope = "everyone" if user.sees_everyone else user.id
    values, counted_at = kept(f"reports:overview:{scope}", OVERVIEW_SECONDS, count)
    values["by_province"] = {province: n for province, n in values["by_province"]}
    return SegmentCounts(**values), counted_at

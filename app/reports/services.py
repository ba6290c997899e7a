from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from ..access import visible_customers
from ..extensions import db
from ..models import User


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

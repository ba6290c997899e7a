"""Segments, tiers and marketing flags (SPEC §4).

The rules are plain functions over plain values. `recompute` applies them to the customers
who may have changed since the last run: those whose orders or complaints were written since
(database triggers mark them, whoever writes: migration 0008), and those one of whose dates
has since left a window the rules count (the moment is kept per customer, `segments_due_at`).
One aggregate over those customers' orders, the rules in Python, and set-based writes of what
changed; the spend ranking (key / middle / bottom) is then applied to everyone as two
cut-off spends, since one customer's spend moves others' ranks.
"""

from bisect import bisect_left
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from functools import lru_cache

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    case,
    func,
    insert,
    or_,
    select,
    type_coerce,
    update,
)
from sqlalchemy.types import NullType

from .models import (
    PAID_STATUSES,
    Activity,
    Complaint,
    Customer,
    Layer,
    Money,
    Order,
    OrderStatus,
    Review,
    SegmentsState,
    Tier,
)


@dataclass(frozen=True)
class Thresholds:
    new_days: int = 30
    lost_days: int = 180
    spend_days: int = 365
    key_share: float = 0.10
    middle_share: float = 0.30
    active_days: int = 90
    active_min_orders: int = 2
    intermittent_days: int = 180
    vip_spend: Decimal = Decimal("2000")
    svip_spend: Decimal = Decimal("2500")
    tier_days: int = 365
    bad_review_days: int = 180
    picky_days: int = 365
    picky_min_refunds: int = 3
    picky_min_complaints: int = 2

    @classmethod
    def from_config(cls, config) -> "Thresholds":
        return cls(
            new_days=config["SEGMENT_NEW_DAYS"],
            lost_days=config["SEGMENT_LOST_DAYS"],
            spend_days=config["SEGMENT_SPEND_DAYS"],
            key_share=config["SEGMENT_KEY_SHARE"],
            middle_share=config["SEGMENT_MIDDLE_SHARE"],
            active_days=config["ACTIVE_DAYS"],
            active_min_orders=config["ACTIVE_MIN_ORDERS"],
            intermittent_days=config["INTERMITTENT_DAYS"],
            vip_spend=config["TIER_VIP_SPEND"],
            svip_spend=config["TIER_SVIP_SPEND"],
            tier_days=config["TIER_DAYS"],
            bad_review_days=config["BAD_REVIEW_DAYS"],
            picky_days=config["PICKY_DAYS"],
            picky_min_refunds=config["PICKY_MIN_REFUNDS"],
            picky_min_complaints=config["PICKY_MIN_COMPLAINTS"],
        )


@dataclass(frozen=True)
class Stats:
    """What the rules need to know of one customer's orders, as of the recompute."""

    first_paid_at: datetime | None = None
    last_paid_at: datetime | None = None
    spend_in_window: Decimal = Decimal("0")  # paid (less refunds) in the last `spend_days`
    spend_in_tier_window: Decimal = Decimal("0")  # paid (less refunds) in the last `tier_days`
    recent_paid_orders: int = 0  # paid in the last `active_days`
    recent_bad_reviews: int = 0  # neutral or bad, in the last `bad_review_days`
    recent_refunds: int = 0  # in the last `picky_days`
    recent_complaints: int = 0  # in the last `picky_days`


def base_layer(stats: Stats, now: datetime, t: Thresholds) -> Layer | None:
    """The layer decided by dates alone, or None when spend ranking decides."""
    if stats.first_paid_at is None:
        return Layer.PROSPECT
    if stats.first_paid_at >= now - timedelta(days=t.new_days):
        return Layer.NEW
    if stats.last_paid_at < now - timedelta(days=t.lost_days):
        return Layer.LOST
    return None


def ranked_layers(spends: dict[int, Decimal], t: Thresholds) -> dict[int, Layer]:
    """Top `key_share` by spend are key, the next `middle_share` middle, the rest bottom.

    Equal spend gets the same layer: a customer's rank is the share of customers who spent
    strictly more.
    """
    ordered = sorted(-s for s in spends.values())
    total = len(ordered)
    layers = {}
    for customer_id, spend in spends.items():
        share_above = bisect_left(ordered, -spend) / total
        if share_above < t.key_share:
            layers[customer_id] = Layer.KEY
        elif share_above < t.key_share + t.middle_share:
            layers[customer_id] = Layer.MIDDLE
        else:
            layers[customer_id] = Layer.BOTTOM
    return layers


def activity_of(stats: Stats, now: datetime, t: Thresholds) -> Activity:
    if stats.recent_paid_orders >= t.active_min_orders:
        return Activity.ACTIVE
    if stats.last_paid_at and stats.last_paid_at >= now - timedelta(days=t.intermittent_days):
        return Activity.INTERMITTENT
    return Activity.INACTIVE


def tier_of(stats: Stats, t: Thresholds) -> Tier:
    """The tier follows the rolling spend both ways: upgraded and downgraded alike."""
    if stats.spend_in_tier_window >= t.svip_spend:
        return Tier.SVIP
    if stats.spend_in_tier_window >= t.vip_spend:
        return Tier.VIP
    return Tier.NONE


def is_bad_reviewer(stats: Stats) -> bool:
    return stats.recent_bad_reviews > 0


def is_picky(stats: Stats, t: Thresholds) -> bool:
    return stats.recent_refunds >= t.picky_min_refunds or stats.recent_complaints >= t.picky_min_complaints


def classify(stats_by_customer: dict[int, Stats], now: datetime, t: Thresholds) -> dict[int, dict]:
    """Layer, activity, tier and flags for every customer."""
    layers = {cid: base_layer(s, now, t) for cid, s in stats_by_customer.items()}
    ranked = {cid: stats_by_customer[cid].spend_in_window for cid, layer in layers.items() if layer is None}
    if ranked:
        layers.update(ranked_layers(ranked, t))
    return {
        cid: {
            "layer": layers[cid],
            "activity": activity_of(s, now, t),
            "tier": tier_of(s, t),
            "flag_bad_reviewer": is_bad_reviewer(s),
            "flag_picky": is_picky(s, t),
        }
        for cid, s in stats_by_customer.items()
    }


def stats_of(orders, complaint_times, now: datetime, t: Thresholds) -> tuple[Stats, dict]:
    """One customer's Stats and figures, straight from their orders (anything with an Order's
    status, amount, refund_amount, review, created_at and paid_at) and the times of their
    complaints: what `recompute` works out for many customers at once in SQL."""

    def since(days: int) -> datetime:
        return now - timedelta(days=days)

    paid = [o for o in orders if o.status in PAID_STATUSES and o.paid_at is not None]
    refunded = [o for o in orders if o.status == OrderStatus.REFUNDED or o.refund_amount > 0]

    def spend(among) -> Decimal:
        return sum((Decimal(o.amount) - Decimal(o.refund_amount) for o in among), Decimal("0"))

    first = min((o.paid_at for o in paid), default=None)
    last = max((o.paid_at for o in paid), default=None)
    stats = Stats(
        first_paid_at=first,
        last_paid_at=last,
        spend_in_window=spend(o for o in paid if o.paid_at >= since(t.spend_days)),
        spend_in_tier_window=spend(o for o in paid if o.paid_at >= since(t.tier_days)),
        recent_paid_orders=sum(1 for o in paid if o.paid_at >= since(t.active_days)),
        recent_bad_reviews=sum(
            1 for o in orders if o.review in (Review.NEUTRAL, Review.BAD) and o.created_at >= since(t.bad_review_days)
        ),
        recent_refunds=sum(1 for o in refunded if o.created_at >= since(t.picky_days)),
        recent_complaints=sum(1 for at in complaint_times if at >= since(t.picky_days)),
    )
    figures = {
        "first_paid_at": first,
        "last_paid_at": last,
        "paid_order_count": len(paid),
        "total_spend": spend(paid).quantize(Decimal("0.01")),
        "refund_count": len(refunded),
        "complaint_count": len(complaint_times),
    }
    return stats, figures


RANKED = (Layer.KEY, Layer.MIDDLE, Layer.BOTTOM)
# A customer's `segments_due_at` once something they are classified by was written (the
# triggers of migration 0008 write this moment, or on PostgreSQL one within its first
# 1,000 seconds, a different one per transaction): before any recompute's `now`.
DUE_NOW = datetime(1970, 1, 1)


@dataclass(frozen=True)
class Cutoffs:
    """The least spend ranked key, and the least ranked middle (None: no one is)."""

    key: int | None
    middle: int | None


def layer_cutoffs(spends: list[int], t: Thresholds) -> Cutoffs:
    """`ranked_layers` as two cut-off spends: the layer of a spend among `spends` is key from
    `key` up, middle from `middle` up, bottom below (the same share of customers who spent
    strictly more, compared the same way)."""
    ordered = sorted(spends, reverse=True)
    total = len(ordered)
    key = middle = None
    for above, spend in enumerate(ordered):
        if above and spend == ordered[above - 1]:
            continue  # `above` counts only those who spent strictly more: the first of equals
        share_above = above / total
        if share_above < t.key_share:
            key = spend
        elif share_above < t.key_share + t.middle_share:
            middle = spend
        else:
            break
    return Cutoffs(key, middle if middle is not None else key)


def ranked_layer(spend: int, cutoffs: Cutoffs) -> Layer:
    if cutoffs.key is not None and spend >= cutoffs.key:
        return Layer.KEY
    if cutoffs.middle is not None and spend >= cutoffs.middle:
        return Layer.MIDDLE
    return Layer.BOTTOM


@dataclass(frozen=True)
class Dates:
    """When the earliest of a customer's dated items still inside each window happened: the
    first to leave it as time goes by (None: nothing inside)."""

    spend: datetime | None = None  # paid orders within `spend_days`
    tier: datetime | None = None  # within `tier_days`
    active: datetime | None = None  # within `active_days`
    bad_review: datetime | None = None  # within `bad_review_days`
    refund: datetime | None = None  # within `picky_days`
    complaint: datetime | None = None  # within `picky_days`


@lru_cache(maxsize=16)
def _spans(t: Thresholds) -> tuple[timedelta, ...]:
    return tuple(
        timedelta(days=days)
        for days in (
            t.spend_days,
            t.tier_days,
            t.active_days,
            t.bad_review_days,
            t.picky_days,
            t.picky_days,
            t.new_days,
            t.lost_days,
            t.intermittent_days,
        )
    )


def next_change(stats: Stats, dates: Dates, now: datetime, t: Thresholds) -> datetime | None:
    """The earliest moment after `now` from which the customer's Stats may differ with no new
    data: one of their dates leaves a window (an item counts while its date >= now - days,
    so it leaves once now > date + days). None: never, until their data changes."""
    spend, tier, active, bad_review, refund, complaint, new, lost, intermittent = _spans(t)
    edges = [
        dates.spend and dates.spend + spend,
        dates.tier and dates.tier + tier,
        dates.active and dates.active + active,
        dates.bad_review and dates.bad_review + bad_review,
        dates.refund and dates.refund + refund,
        dates.complaint and dates.complaint + complaint,
    ]
    if stats.first_paid_at is not None:
        edges += (stats.first_paid_at + new, stats.last_paid_at + lost, stats.last_paid_at + intermittent)
    return min((edge for edge in edges if edge is not None and edge >= now), default=None)


def cents(amount: Decimal) -> int:
    return int(amount.scaleb(2).to_integral_value())


def _raw(column):
    """The value as the driver gives it: SQLAlchemy's processing of each value (a datetime
    parsed in Python on SQLite) would cost more than the aggregate over 100,000 customers."""
    return type_coerce(column, NullType())


def _same(value):
    return value


def _money(value) -> Decimal | None:
    """A sum of Money as SQLAlchemy reads it: SQLite gives a float (or an int)."""
    if value is None or isinstance(value, Decimal):
        return value
    return Decimal(f"{value:.2f}")


class _Driver:
    """Dates and money between the driver's values and Python's, as the models' types convert
    them (SQLite keeps dates as text and money as floats), a few times faster."""

    def __init__(self, connection: Connection):
        sqlite = connection.dialect.name == "sqlite"
        self.moment = datetime.fromisoformat if sqlite else _same
        self.stored_moment = _stored_moment if sqlite else _same
        self.stored_money = float if sqlite else _same


def _stored_moment(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat(" ", "microseconds")


def _complaints_query(now: datetime, t: Thresholds):
    recent = Complaint.at >= now - timedelta(days=t.picky_days)
    return select(
        Complaint.customer_id, func.count(), func.count().filter(recent), _raw(func.min(Complaint.at).filter(recent))
    ).group_by(Complaint.customer_id)


def _orders_query(connection: Connection, now: datetime, t: Thresholds, customers=None):
    """Per customer with orders, one row: Stats' values, the figures, the Dates (see gather)."""

    def since(days: int) -> datetime:
        return now - timedelta(days=days)

    paid = Order.status.in_(PAID_STATUSES) & Order.paid_at.is_not(None)
    # What the customer kept paying for: a partial refund takes its amount off the order's
    # (a full refund makes the order refunded, which counts as no paid order at all).
    spent = Order.amount - Order.refund_amount
    refunded = or_(Order.status == OrderStatus.REFUNDED, Order.refund_amount > 0)
    bad = Order.review.in_([Review.NEUTRAL, Review.BAD])
    # Each order's values once (a CASE per order), then the aggregates over them.
    per_order = select(
        Order.customer_id.label("customer_id"),
        case((paid, Order.paid_at)).label("paid_at"),
        case((paid, spent)).label("spent"),
        case((bad, Order.created_at)).label("bad_at"),
        case((refunded, Order.created_at)).label("refund_at"),
    )
    if customers is not None:
        per_order = per_order.where(Order.customer_id.in_(customers))
    if connection.dialect.name == "sqlite":
        # Not flattened into the aggregate: SQLite then works out each CASE once per order
        # rather than once per aggregate that reads it (2.4 s of CPU for 1,000,000 orders, 3.2).
        per_order = per_order.limit(-1)
    o = per_order.subquery()

    def within(column, days):
        return column >= since(days)

    return select(
        o.c.customer_id,
        _raw(func.min(o.c.paid_at)),
        _raw(func.max(o.c.paid_at)),
        func.count(o.c.paid_at),
        _raw(func.sum(o.c.spent)),
        _raw(func.sum(o.c.spent).filter(within(o.c.paid_at, t.spend_days))),
        _raw(func.sum(o.c.spent).filter(within(o.c.paid_at, t.tier_days))),
        func.count(o.c.paid_at).filter(within(o.c.paid_at, t.active_days)),
        func.count(o.c.bad_at).filter(within(o.c.bad_at, t.bad_review_days)),
        func.count(o.c.refund_at).filter(within(o.c.refund_at, t.picky_days)),
        func.count(o.c.refund_at),
        _raw(func.min(o.c.paid_at).filter(within(o.c.paid_at, t.spend_days))),
        _raw(func.min(o.c.paid_at).filter(within(o.c.paid_at, t.tier_days))),
        _raw(func.min(o.c.paid_at).filter(within(o.c.paid_at, t.active_days))),
        _raw(func.min(o.c.bad_at).filter(within(o.c.bad_at, t.bad_review_days))),
        _raw(func.min(o.c.refund_at).filter(within(o.c.refund_at, t.picky_days))),
    ).group_by(o.c.customer_id)


def gather(connection: Connection, now: datetime, t: Thresholds, only=None):
    """Per customer with orders: Stats, the figures shown on the customer (as in FIGURES,
    complaint_count aside), the Dates; complaints per customer: (all, recent, earliest recent).
    Every customer's, or `only` these customers' (a list of ids, or a select of ids)."""
    driver = _Driver(connection)
    moment = driver.moment
    complaints_query = _complaints_query(now, t)
    if only is not None:
        complaints_query = complaints_query.where(Complaint.customer_id.in_(only))
    # Every complaint counts toward the customer's figure; only recent ones toward "picky".
    complaints = {
        cid: (total, recent, first and moment(first))
        for cid, total, recent, first in connection.execute(complaints_query)
    }
    stats, figures, dates = {}, {}, {}
    zero = Decimal("0")
    for (
        cid,
        first,
        last,
        count,
        total,
        spend,
        tier_spend,
        recent,
        bad,
        refunds,
        all_refunds,
        *earliest,
    ) in connection.execute(_orders_query(connection, now, t, only)):
        complained = complaints.get(cid)
        first = first and moment(first)
        last = last and moment(last)
        stats[cid] = Stats(
            first_paid_at=first,
            last_paid_at=last,
            spend_in_window=_money(spend) or zero,
            spend_in_tier_window=_money(tier_spend) or zero,
            recent_paid_orders=recent,
            recent_bad_reviews=bad,
            recent_refunds=refunds,
            recent_complaints=complained[1] if complained else 0,
        )
        figures[cid] = (first, last, count, (_money(total) or zero).quantize(CENT), all_refunds)
        dates[cid] = Dates(*(e and moment(e) for e in earliest), complaint=complained[2] if complained else None)
    return stats, figures, complaints, dates


CENT = Decimal("0.01")
NO_ORDERS = {
    "first_paid_at": None,
    "last_paid_at": None,
    "paid_order_count": 0,
    "total_spend": Decimal("0.00"),
    "refund_count": 0,
}


def refresh_figures(connection: Connection, customer_ids: list[int], now: datetime, t: Thresholds) -> None:
    """The figures of a few customers (paid orders, spend, refunds, complaints) from their
    orders now; their layer, tier and flags wait for the next recompute, which ranks
    everyone's spend."""
    _, figures, complaints, _ = gather(connection, now, t, only=customer_ids)
    table = Customer.__table__
    for cid in customer_ids:
        values = dict(zip(NO_ORDERS, figures[cid])) if cid in figures else dict(NO_ORDERS)
        values["complaint_count"] = complaints.get(cid, (0,))[0]
        connection.execute(update(table).where(table.c.id == cid).values(values))


# What a recompute writes of a customer, in the order of the rows it makes.
FIGURES = ("first_paid_at", "last_paid_at", "paid_order_count", "total_spend", "refund_count", "complaint_count")
CLASSIFIED = (*FIGURES, "layer", "activity", "tier", "flag_bad_reviewer", "flag_picky", "segment_spend_cents")


def _values_table() -> Table:
    """A temporary table of the recomputed customers' values, written to customers in one
    UPDATE … FROM."""
    return Table(
        "segment_values",
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("first_paid_at", DateTime),
        Column("last_paid_at", DateTime),
        Column("paid_order_count", Integer),
        Column("total_spend", Money),
        Column("refund_count", Integer),
        Column("complaint_count", Integer),
        Column("layer", String(10)),
        Column("activity", String(15)),
        Column("tier", String(5)),
        Column("flag_bad_reviewer", Boolean),
        Column("flag_picky", Boolean),
        Column("segment_spend_cents", BigInteger),
        Column("segments_due_at", DateTime),  # the customer's next change
        Column("seen_due_at", DateTime),  # as read: a customer marked again meanwhile stays due
        prefixes=["TEMPORARY"],
    )


def _state(connection: Connection):
    return connection.execute(
        select(SegmentsState.computed_at, SegmentsState.thresholds).where(SegmentsState.id == 1)
    ).first()


def recompute(connection: Connection, now: datetime, t: Thresholds, *, everyone: bool = False) -> int:
    """Recompute the figures, segment, tier and flags of every customer who may have changed
    since the last recompute; returns how many changed.

    Every customer is looked at when asked (`everyone`), on the first run, when the thresholds
    differ from the last run's, or when `now` is earlier than the last run's.
    """
    c = Customer.__table__.c
    state = _state(connection)
    fingerprint = repr(t)
    everyone = everyone or state is None or state.thresholds != fingerprint or state.computed_at > now
    # Written first: on SQLite the recompute then holds the write lock throughout, so no order
    # is written between what it reads and what it writes.
    table = SegmentsState.__table__
    if state is None:
        connection.execute(insert(table).values(id=1, computed_at=now, thresholds=fingerprint))
    else:
        connection.execute(update(table).where(table.c.id == 1).values(computed_at=now, thresholds=fingerprint))

    due = None if everyone else c.segments_due_at <= now
    # The marks before the orders: on PostgreSQL a customer whose orders are written after
    # this has another mark by the time the result is written, which is then left for the
    # next run.
    seen_query = select(c.id, _raw(c.segments_due_at))
    seen = connection.execute(seen_query if due is None else seen_query.where(due)).all()
    due_ids = None if due is None else select(c.id).where(due)
    stats, figures, complaints, dates = gather(connection, now, t, only=due_ids)

    # A row of the values table per customer looked at (its columns' order), as the driver takes them.
    driver = _Driver(connection)
    moment, money = driver.stored_moment, driver.stored_money
    rows, ranked = [], []
    no_dates = Dates()
    for cid, seen_due_at in seen:
        s = stats.get(cid)
        complained = complaints.get(cid)
        if s is None:
            s = Stats(recent_complaints=complained[1] if complained else 0)
            first = last = None
            count = refund_count = 0
            total = Decimal("0.00")
            when = next_change(s, Dates(complaint=complained[2]) if complained else no_dates, now, t)
        else:
            first, last, count, total, refund_count = figures[cid]
            when = next_change(s, dates[cid], now, t)
        layer = base_layer(s, now, t)
        row = [
            cid,
            moment(first),
            moment(last),
            count,
            money(total),
            refund_count,
            complained[0] if complained else 0,
            layer and layer.value,
            activity_of(s, now, t).value,
            tier_of(s, t).value,
            is_bad_reviewer(s),
            is_picky(s, t),
            cents(s.spend_in_window),
            moment(when),
            seen_due_at,
        ]
        if layer is None:
            ranked.append(row)
        rows.append(row)

    # The ranking: the spends of the ranked customers looked at now, and of those not.
    spends = [row[12] for row in ranked]
    if due is not None:
        not_due = or_(c.segments_due_at.is_(None), c.segments_due_at > now)
        spends += connection.scalars(select(c.segment_spend_cents).where(c.layer.in_(RANKED), not_due)).all()
    cutoffs = layer_cutoffs(spends, t)
    for row in ranked:
        row[7] = ranked_layer(row[12], cutoffs).value

    changed = 0
    if rows:
        values = _values_table()
        values.create(connection)
        marker = "?" if connection.dialect.paramstyle == "qmark" else "%s"
        names = ", ".join(column.name for column in values.columns)
        markers = ", ".join(marker for _ in values.columns)
        connection.exec_driver_sql(
            f"INSERT INTO {values.name} ({names}) VALUES ({markers})", [tuple(row) for row in rows]
        )
        v = values.c
        unchanged = c.segments_due_at.is_not_distinct_from(v.seen_due_at)
        changed = connection.execute(
            update(Customer.__table__)
            .values({k: v[k] for k in (*CLASSIFIED, "segments_due_at")})
            .where(c.id == v.id, unchanged, or_(*(c[k].is_distinct_from(v[k]) for k in CLASSIFIED)))
        ).rowcount
        connection.execute(
            update(Customer.__table__)
            .values(segments_due_at=v.segments_due_at)
            .where(c.id == v.id, unchanged, c.segments_due_at.is_distinct_from(v.segments_due_at))
        )
        values.drop(connection)

    # Everyone else ranked whose layer the new cut-offs move.
    whens = []
    if cutoffs.key is not None:
        whens.append((c.segment_spend_cents >= cutoffs.key, Layer.KEY.value))
    if cutoffs.middle is not None:
        whens.append((c.segment_spend_cents >= cutoffs.middle, Layer.MIDDLE.value))
    layer = case(*whens, else_=Layer.BOTTOM.value) if whens else Layer.BOTTOM.value
    changed += connection.execute(
        update(Customer.__table__).values(layer=layer).where(c.layer.in_(RANKED), c.layer != layer)
    ).rowcount

    return changed

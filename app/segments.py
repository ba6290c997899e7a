"""Segments, tiers and marketing flags (SPEC §4).

The rules are plain functions over plain values. `recompute` applies them to the customers
who may have changed since the last run: those whose orders or complaints were written since
(database triggers mark them, whoever writes: migration 0008), and those one of whose dates
has since left a window the rules count (the moment is kept per customer, `segments_due_at`).
For 100,000 customers that is set-based: one statement aggregates their orders and applies
the rules in SQL (`_Rules`, which mirrors the functions; tests/test_segments_recompute.py
checks it against them customer by customer) into a temporary table, and one UPDATE … FROM
writes the customers whose values changed. The spend ranking (key / middle / bottom) is then
applied to everyone as two cut-off spends, since one customer's spend moves others' ranks.
"""

from bisect import bisect_left
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace

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
    cast,
    func,
    insert,
    literal,
    null,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.exc import SQLAlchemyError

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


def cents(amount: Decimal) -> int:
    return int(amount.scaleb(2).to_integral_value())


# --- the same rules in SQL, for many customers at once ----------------------------------------
#
# Each mirrors the function above it names; tests/test_segments_recompute.py checks that the
# recompute gives what those functions give, customer by customer.


class _Rules:
    """The rules over the columns of one row of `_values_query`: the aggregates of a customer's
    orders (`a`) and complaints (`k`)."""

    def __init__(self, dialect: str, now: datetime, t: Thresholds, a, k):
        self.sqlite = dialect == "sqlite"
        self.now, self.t, self.a, self.k = now, t, a, k

    def since(self, days: int) -> datetime:
        return self.now - timedelta(days=days)

    def spend_cents(self, column):
        """cents(Stats.spend_in_window): on SQLite a sum of floats, rounded to the cent as
        SQLAlchemy reads it (exact for sums of amounts in cents)."""
        return cast(func.round(func.coalesce(column, 0) * 100), BigInteger)

    def base_layer(self):
        a, t = self.a, self.t
        return case(
            (a.first_paid_at.is_(None), Layer.PROSPECT.value),
            (a.first_paid_at >= self.since(t.new_days), Layer.NEW.value),
            (a.last_paid_at < self.since(t.lost_days), Layer.LOST.value),
            else_=null(),
        )

    def activity(self):
        a, t = self.a, self.t
        return case(
            (func.coalesce(a.recent_paid_orders, 0) >= t.active_min_orders, Activity.ACTIVE.value),
            (a.last_paid_at >= self.since(t.intermittent_days), Activity.INTERMITTENT.value),
            else_=Activity.INACTIVE.value,
        )

    def tier(self):
        spend = self.spend_cents(self.a.tier_spend)
        return case(
            (spend >= cents(self.t.svip_spend), Tier.SVIP.value),
            (spend >= cents(self.t.vip_spend), Tier.VIP.value),
            else_=Tier.NONE.value,
        )

    def bad_reviewer(self):
        return func.coalesce(self.a.recent_bad_reviews, 0) > 0

    def picky(self):
        return or_(
            func.coalesce(self.a.recent_refunds, 0) >= self.t.picky_min_refunds,
            func.coalesce(self.k.recent, 0) >= self.t.picky_min_complaints,
        )

    def plus_days(self, moment, days: int):
        if self.sqlite:  # dates are text: whole seconds through SQLite's date functions, then the fraction
            return func.strftime("%Y-%m-%d %H:%M:%S", moment, f"{days:+d} days").concat(func.substr(moment, 20))
        return moment + timedelta(days=days)

    def earliest(self, *moments):
        if self.sqlite:  # min() of several values is NULL if one is
            never = "9999-12-31 00:00:00.000000"
            return func.nullif(func.min(*(func.coalesce(m, never) for m in moments)), never)
        return func.least(*moments)

    def next_change(self):
        """The earliest moment after `now` from which the customer's Stats may differ with no
        new data: one of their dates leaves a window (an item counts while its date >= now -
        days, so it leaves once now > date + days). NULL: not before their data changes."""
        a, k, t = self.a, self.k, self.t
        first, last = a.first_paid_at, a.last_paid_at
        dates_by_days: dict[int, list] = {}
        for days, moment in (
            (t.spend_days, a.spend_from),
            (t.tier_days, a.tier_from),
            (t.active_days, a.active_from),
            (t.bad_review_days, a.bad_review_from),
            (t.picky_days, a.refund_from),
            (t.picky_days, k.recent_from),
            (t.new_days, case((first >= self.since(t.new_days), first))),
            (t.lost_days, case((last >= self.since(t.lost_days), last))),
            (t.intermittent_days, case((last >= self.since(t.intermittent_days), last))),
        ):
            dates_by_days.setdefault(days, []).append(moment)
        # Windows of as many days share one date sum (by default 4 instead of 9 a customer).
        return self.earliest(
            *(
                self.plus_days(self.earliest(*moments) if len(moments) > 1 else moments[0], days)
                for days, moments in dates_by_days.items()
            )
        )


def _complaints_query(now: datetime, t: Thresholds, customers=None):
    recent = Complaint.at >= now - timedelta(days=t.picky_days)
    query = select(
        Complaint.customer_id.label("customer_id"),
        func.count().label("total"),
        func.count().filter(recent).label("recent"),
        func.min(Complaint.at).filter(recent).label("recent_from"),
    ).group_by(Complaint.customer_id)
    return query if customers is None else query.where(Complaint.customer_id.in_(customers))


def _orders_query(dialect: str, now: datetime, t: Thresholds, customers=None):
    """Per customer with orders, one row: Stats' values, the figures, and in each window the
    date of the earliest item still in it (the first to leave)."""

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
    if dialect == "sqlite":
        # Not flattened into the aggregate: SQLite then works out each CASE once per order
        # rather than once per aggregate that reads it (2.4 s of CPU for 1,000,000 orders, 3.2).
        per_order = per_order.limit(-1)
    o = per_order.subquery()

    def within(column, days):
        return column >= since(days)

    return select(
        o.c.customer_id,
        func.min(o.c.paid_at).label("first_paid_at"),
        func.max(o.c.paid_at).label("last_paid_at"),
        func.count(o.c.paid_at).label("paid_orders"),
        func.sum(o.c.spent).label("total"),
        func.sum(o.c.spent).filter(within(o.c.paid_at, t.spend_days)).label("spend"),
        func.sum(o.c.spent).filter(within(o.c.paid_at, t.tier_days)).label("tier_spend"),
        func.count(o.c.paid_at).filter(within(o.c.paid_at, t.active_days)).label("recent_paid_orders"),
        func.count(o.c.bad_at).filter(within(o.c.bad_at, t.bad_review_days)).label("recent_bad_reviews"),
        func.count(o.c.refund_at).filter(within(o.c.refund_at, t.picky_days)).label("recent_refunds"),
        func.count(o.c.refund_at).label("refunds"),
        func.min(o.c.paid_at).filter(within(o.c.paid_at, t.spend_days)).label("spend_from"),
        func.min(o.c.paid_at).filter(within(o.c.paid_at, t.tier_days)).label("tier_from"),
        func.min(o.c.paid_at).filter(within(o.c.paid_at, t.active_days)).label("active_from"),
        func.min(o.c.bad_at).filter(within(o.c.bad_at, t.bad_review_days)).label("bad_review_from"),
        func.min(o.c.refund_at).filter(within(o.c.refund_at, t.picky_days)).label("refund_from"),
    ).group_by(o.c.customer_id)


def gather(connection: Connection, now: datetime, t: Thresholds, only=None):
    """Per customer with orders: Stats and the figures shown on the customer; complaints per
    customer: (all, recent). Every customer's, or `only` these customers' (a list of ids)."""
    complaints = {
        row.customer_id: (row.total, row.recent) for row in connection.execute(_complaints_query(now, t, only))
    }
    stats, figures = {}, {}
    for row in connection.execute(_orders_query(connection.dialect.name, now, t, only)):
        cid = row.customer_id
        stats[cid] = Stats(
            first_paid_at=row.first_paid_at,
            last_paid_at=row.last_paid_at,
            spend_in_window=Decimal(row.spend or 0),
            spend_in_tier_window=Decimal(row.tier_spend or 0),
            recent_paid_orders=row.recent_paid_orders,
            recent_bad_reviews=row.recent_bad_reviews,
            recent_refunds=row.recent_refunds,
            recent_complaints=complaints.get(cid, (0, 0))[1],
        )
        figures[cid] = {
            "first_paid_at": row.first_paid_at,
            "last_paid_at": row.last_paid_at,
            "paid_order_count": row.paid_orders,
            "total_spend": Decimal(row.total or 0).quantize(Decimal("0.01")),
            "refund_count": row.refunds,
        }
    return stats, figures, complaints


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
    _, figures, complaints = gather(connection, now, t, only=customer_ids)
    table = Customer.__table__
    for cid in customer_ids:
        values = figures.get(cid, NO_ORDERS) | {"complaint_count": complaints.get(cid, (0, 0))[0]}
        connection.execute(update(table).where(table.c.id == cid).values(values))


# What a recompute writes of a customer.
CLASSIFIED = (
    "first_paid_at",
    "last_paid_at",
    "paid_order_count",
    "total_spend",
    "refund_count",
    "complaint_count",
    "layer",
    "activity",
    "tier",
    "flag_bad_reviewer",
    "flag_picky",
    "segment_spend_cents",
)


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
        Column("layer", String(10)),  # NULL until ranked
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
    if connection.dialect.name != "sqlite":
        return _recompute(connection, now, t, everyone)
    # A larger SQLite page cache meanwhile, on this connection: the aggregate's sort and the
    # writes to the customers' indexes otherwise go through the default 2 MB (a tenth of the
    # time of a run that changes every customer).
    default_cache = connection.exec_driver_sql("PRAGMA cache_size").scalar()
    connection.exec_driver_sql(f"PRAGMA cache_size = -{RECOMPUTE_CACHE_KB}")
    try:
        return _recompute(connection, now, t, everyone)
    finally:
        try:  # best effort: a failure here must not hide the recompute's
            connection.exec_driver_sql(f"PRAGMA cache_size = {int(default_cache)}")
        except SQLAlchemyError:
            pass


RECOMPUTE_CACHE_KB = 128 * 1024


def _recompute(connection: Connection, now: datetime, t: Thresholds, everyone: bool) -> int:
    customers = Customer.__table__
    c = customers.c
    dialect = connection.dialect.name
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
    due_ids = None if due is None else select(c.id).where(due).scalar_subquery()
    a = _orders_query(dialect, now, t, due_ids).subquery("a")
    k = _complaints_query(now, t, due_ids).subquery("k")

    def looked_at(orders):
        """The values of each customer looked at, from the aggregates of their orders."""
        rules = _Rules(dialect, now, t, orders, k.c)
        return select(
            c.id,
            orders.first_paid_at,
            orders.last_paid_at,
            func.coalesce(orders.paid_orders, 0),
            func.round(func.coalesce(orders.total, 0), 2),
            func.coalesce(orders.refunds, 0),
            func.coalesce(k.c.total, 0),
            rules.base_layer(),
            rules.activity(),
            rules.tier(),
            rules.bad_reviewer(),
            rules.picky(),
            rules.spend_cents(orders.spend),
            rules.next_change(),
            # Read in the same statement as the orders: on PostgreSQL a customer whose orders
            # are written after it has another mark when the result is written, and is left
            # for the next run.
            c.segments_due_at,
        )

    values = _values_table()
    v = values.c
    values.create(connection)
    names = [column.name for column in values.columns]
    # Customers with orders, in the aggregate's order (each found by id), then those without.
    with_orders = (
        looked_at(a.c)
        .select_from(a.join(customers, c.id == a.c.customer_id).outerjoin(k, k.c.customer_id == c.id))
        .where(true() if due is None else due)
    )
    connection.execute(insert(values).from_select(names, with_orders))
    no_orders = SimpleNamespace(**{column.key: literal(None, column.type) for column in a.c})
    without_orders = (
        looked_at(no_orders)
        .select_from(customers.outerjoin(k, k.c.customer_id == c.id))
        .where(true() if due is None else due, ~select(Order.id).where(Order.customer_id == c.id).exists())
    )
    connection.execute(insert(values).from_select(names, without_orders))

    # The ranking: the spends of the ranked customers looked at now, and of those not.
    spends = list(connection.scalars(select(v.segment_spend_cents).where(v.layer.is_(None))))
    if due is not None:
        not_due = or_(c.segments_due_at.is_(None), c.segments_due_at > now)
        spends += connection.scalars(select(c.segment_spend_cents).where(c.layer.in_(RANKED), not_due))
    cutoffs = layer_cutoffs(spends, t)

    def ranked(spend):
        """ranked_layer in SQL."""
        whens = []
        if cutoffs.key is not None:
            whens.append((spend >= cutoffs.key, Layer.KEY.value))
        if cutoffs.middle is not None:
            whens.append((spend >= cutoffs.middle, Layer.MIDDLE.value))
        return case(*whens, else_=Layer.BOTTOM.value) if whens else literal(Layer.BOTTOM.value)

    connection.execute(update(values).where(v.layer.is_(None)).values(layer=ranked(v.segment_spend_cents)))
    unchanged = c.segments_due_at.is_not_distinct_from(v.seen_due_at)
    changed = connection.execute(
        update(customers)
        .values({k: v[k] for k in (*CLASSIFIED, "segments_due_at")})
        .where(c.id == v.id, unchanged, or_(*(c[k].is_distinct_from(v[k]) for k in CLASSIFIED)))
    ).rowcount
    connection.execute(
        update(customers)
        .values(segments_due_at=v.segments_due_at, updated_at=c.updated_at)  # nothing shown changed
        .where(c.id == v.id, unchanged, c.segments_due_at.is_distinct_from(v.segments_due_at))
    )
    values.drop(connection)

    # Everyone else ranked whose layer the new cut-offs move.
    layer = ranked(c.segment_spend_cents)
    changed += connection.execute(
        update(customers).values(layer=layer).where(c.layer.in_(RANKED), c.layer != layer)
    ).rowcount
    return changed

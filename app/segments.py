"""Segments, tiers and marketing flags (SPEC §4).

The rules are plain functions over plain values; `recompute` gathers the values for every
customer with two aggregate queries, applies the rules and writes back only what changed.
"""

from bisect import bisect_left
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import Connection, bindparam, case, func, or_, select, update

from .models import PAID_STATUSES, Activity, Complaint, Customer, Layer, Order, OrderStatus, Review, Tier


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


def gather(connection: Connection, now: datetime, t: Thresholds, only: list[int] | None = None):
    """Per customer with orders: Stats, the figures shown on the customer; complaint counts
    (all, recent). Every customer's, or `only` these customers'."""

    def since(days: int) -> datetime:
        return now - timedelta(days=days)

    paid = Order.status.in_(PAID_STATUSES) & Order.paid_at.is_not(None)
    # What the customer kept paying for: a partial refund takes its amount off the order's
    # (a full refund makes the order refunded, which counts as no paid order at all).
    spent = Order.amount - Order.refund_amount

    def paid_sum(value, days):
        return func.sum(case((paid & (Order.paid_at >= since(days)), value), else_=0))

    refunded = or_(Order.status == OrderStatus.REFUNDED, Order.refund_amount > 0)
    per_customer = select(
        Order.customer_id,
        func.min(case((paid, Order.paid_at))),
        func.max(case((paid, Order.paid_at))),
        func.sum(case((paid, 1), else_=0)),
        func.sum(case((paid, spent), else_=0)),
        paid_sum(spent, t.spend_days),
        paid_sum(spent, t.tier_days),
        paid_sum(1, t.active_days),
        func.sum(
            case(
                (Order.review.in_([Review.NEUTRAL, Review.BAD]) & (Order.created_at >= since(t.bad_review_days)), 1),
                else_=0,
            )
        ),
        func.sum(case((refunded & (Order.created_at >= since(t.picky_days)), 1), else_=0)),
        func.sum(case((refunded, 1), else_=0)),
    ).group_by(Order.customer_id)
    complaints_query = select(
        Complaint.customer_id,
        func.count(),
        func.sum(case((Complaint.at >= since(t.picky_days), 1), else_=0)),
    ).group_by(Complaint.customer_id)
    if only is not None:
        per_customer = per_customer.where(Order.customer_id.in_(only))
        complaints_query = complaints_query.where(Complaint.customer_id.in_(only))
    # Every complaint counts toward the customer's figure; only recent ones toward "picky".
    complaints = {cid: (total, recent or 0) for cid, total, recent in connection.execute(complaints_query)}
    stats, figures = {}, {}
    for cid, first, last, count, total, spend, tier_spend, recent, bad, refunds, all_refunds in connection.execute(
        per_customer
    ):
        stats[cid] = Stats(
            first_paid_at=first,
            last_paid_at=last,
            spend_in_window=Decimal(spend or 0),
            spend_in_tier_window=Decimal(tier_spend or 0),
            recent_paid_orders=recent or 0,
            recent_bad_reviews=bad or 0,
            recent_refunds=refunds or 0,
            recent_complaints=complaints.get(cid, (0, 0))[1],
        )
        figures[cid] = {
            "first_paid_at": first,
            "last_paid_at": last,
            "paid_order_count": count or 0,
            "total_spend": Decimal(total or 0).quantize(Decimal("0.01")),
            "refund_count": all_refunds or 0,
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


def recompute(connection: Connection, now: datetime, t: Thresholds) -> int:
    """Recompute every customer's figures, segment, tier and flags; returns how many changed."""
    stats, figures, complaints = gather(connection, now, t)
    columns = (
        Customer.id,
        Customer.first_paid_at,
        Customer.last_paid_at,
        Customer.paid_order_count,
        Customer.total_spend,
        Customer.refund_count,
        Customer.complaint_count,
        Customer.layer,
        Customer.activity,
        Customer.tier,
        Customer.flag_bad_reviewer,
        Customer.flag_picky,
    )
    current = {row.id: row._asdict() for row in connection.execute(select(*columns))}
    for cid in current:
        if cid not in stats:
            stats[cid] = Stats(recent_complaints=complaints.get(cid, (0, 0))[1])
    changes = []
    for cid, values in classify(stats, now, t).items():
        if cid not in current:  # orders of a customer deleted meanwhile
            continue
        values |= figures.get(cid, NO_ORDERS)
        values["complaint_count"] = complaints.get(cid, (0, 0))[0]
        before = current[cid]
        if any(before[k] != v for k, v in values.items()):
            changes.append({"b_id": cid} | {f"b_{k}": v for k, v in values.items()})
    if changes:
        # Bind names must differ from column names in an executemany UPDATE.
        table = Customer.__table__
        statement = (
            update(table)
            .where(table.c.id == bindparam("b_id"))
            .values({k[2:]: bindparam(k) for k in changes[0] if k != "b_id"})
        )
        connection.execute(statement, changes)
    return len(changes)

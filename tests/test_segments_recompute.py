"""The recompute (set-based, incremental) gives exactly what the rules give when applied to each
customer's orders one by one (app.segments.stats_of + classify), run after run, as orders,
reviews, refunds and complaints are written and time goes by."""

import random
from datetime import datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest
from sqlalchemy import delete, insert, select, update

from app.extensions import db
from app.models import Complaint, Customer, Order, OrderStatus, Review, utcnow
from app.segments import (
    DUE_NOW,
    Cutoffs,
    Stats,
    Thresholds,
    classify,
    layer_cutoffs,
    ranked_layer,
    ranked_layers,
    recompute,
    stats_of,
)

T = Thresholds()
START = datetime(2026, 3, 1, 9, 30)
STATUSES = [OrderStatus.COMPLETED] * 6 + [
    OrderStatus.PAID,
    OrderStatus.SHIPPED,
    OrderStatus.REFUNDED,
    OrderStatus.CLOSED,
    OrderStatus.UNPAID,
]
AMOUNTS = ["39.90", "100.00", "129.50", "199.00", "600.00", "1999.99", "2500.00"]  # few: equal spends
# Days before the run: around the rules' window edges (30, 90, 180, 365 days) and beyond.
DAYS = [0, 1, 29, 30, 31, 89, 90, 91, 179, 180, 181, 364, 365, 366, 400]
SHOWN = ("first_paid_at", "last_paid_at", "paid_order_count", "total_spend", "refund_count", "complaint_count")


def _order(rng: random.Random, number: int, customer_id: int, now: datetime) -> dict:
    status = rng.choice(STATUSES)
    created = now - timedelta(days=rng.choice(DAYS), minutes=rng.randint(-90, 90))
    amount = Decimal(rng.choice(AMOUNTS))
    refund = Decimal("0")
    if status == OrderStatus.REFUNDED:
        refund = amount
    elif rng.random() < 0.1:
        refund = (amount / 2).quantize(Decimal("0.01"))  # a partial refund
    return {
        "order_no": f"R{number:010d}",
        "customer_id": customer_id,
        "status": status,
        "amount": amount,
        "refund_amount": refund,
        "review": rng.choice([None, None, None, Review.GOOD, Review.NEUTRAL, Review.BAD]),
        "created_at": created,
        "paid_at": None if status in (OrderStatus.UNPAID, OrderStatus.CLOSED) else created + timedelta(minutes=7),
    }


def _expected(now: datetime, t: Thresholds) -> dict[int, dict]:
    """Every customer's values, from the rules applied to their orders one customer at a time."""
    orders: dict[int, list] = {}
    for row in db.session.execute(select(Order.__table__)):
        orders.setdefault(row.customer_id, []).append(row)
    complaints: dict[int, list] = {}
    for customer_id, at in db.session.execute(select(Complaint.customer_id, Complaint.at)):
        complaints.setdefault(customer_id, []).append(at)
    stats, figures = {}, {}
    for customer_id in db.session.scalars(select(Customer.id)):
        stats[customer_id], figures[customer_id] = stats_of(
            orders.get(customer_id, []), complaints.get(customer_id, []), now, t
        )
    return {cid: values | figures[cid] for cid, values in classify(stats, now, t).items()}


def _stored() -> dict[int, dict]:
    columns = [
        Customer.__table__.c[k] for k in ("layer", "activity", "tier", "flag_bad_reviewer", "flag_picky", *SHOWN)
    ]
    return {row.id: row._asdict() for row in db.session.execute(select(Customer.id, *columns))}


def _check(now: datetime, t: Thresholds = T) -> int:
    changed = recompute(db.session.connection(), now, t)
    db.session.commit()
    stored = _stored()
    expected = _expected(now, t)
    for cid, values in expected.items():
        assert {k: stored[cid].pop(k) for k in values} == values, f"customer {cid} at {now}"
    return changed


def _mutate(rng: random.Random, now: datetime, numbers) -> None:
    """Write what imports, reviews, merges and complaints write, on a few customers."""
    ids = list(db.session.scalars(select(Customer.id)))
    order_ids = list(db.session.scalars(select(Order.id)))
    table = Order.__table__
    for _ in range(rng.randint(0, 6)):  # new orders (an import)
        db.session.execute(insert(table).values(_order(rng, next(numbers), rng.choice(ids), now)))
    for order_id in rng.sample(order_ids, min(len(order_ids), rng.randint(0, 4))):
        change = rng.choice(["status", "review", "refund", "customer", "items"])
        if change == "status":
            values = {"status": rng.choice([OrderStatus.REFUNDED, OrderStatus.COMPLETED, OrderStatus.CLOSED])}
        elif change == "review":
            values = {"review": rng.choice([Review.GOOD, Review.NEUTRAL, Review.BAD])}
        elif change == "refund":
            values = {"refund_amount": Decimal("10.00")}
        elif change == "customer":  # a merge moves orders to the kept record
            values = {"customer_id": rng.choice(ids)}
        else:  # what the classification does not read
            values = {"items": "别的宝贝"}
        db.session.execute(update(table).where(table.c.id == order_id).values(values))
    if order_ids and rng.random() < 0.2:
        db.session.execute(delete(table).where(table.c.id == rng.choice(order_ids)))
    for _ in range(rng.randint(0, 2)):
        at = now - timedelta(days=rng.choice(DAYS))
        db.session.execute(insert(Complaint.__table__).values(customer_id=rng.choice(ids), at=at, note="投诉"))
    if rng.random() < 0.2:  # a new customer, with or without orders
        customer_id = db.session.execute(
            insert(Customer.__table__).values(name="新人", tags="", search_text="").returning(Customer.id)
        ).scalar_one()
        for _ in range(rng.randint(0, 2)):
            db.session.execute(insert(table).values(_order(rng, next(numbers), customer_id, now)))
    db.session.commit()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_recompute_equals_the_rules_applied_customer_by_customer(app, make_customer, seed):
    rng = random.Random(seed)
    numbers = iter(range(10**9))
    customers = [make_customer() for _ in range(40)]
    rows = []
    for customer in customers:
        for _ in range(rng.choice([0, 1, 1, 2, 3, 5, 8])):
            rows.append(_order(rng, next(numbers), customer.id, START))
    db.session.execute(insert(Order.__table__), rows)
    for customer in rng.sample(customers, 8):
        for _ in range(rng.randint(1, 3)):
            at = START - timedelta(days=rng.choice(DAYS))
            db.session.add(Complaint(customer_id=customer.id, at=at, note="投诉"))
    db.session.commit()

    now = START
    assert _check(now) > 0
    assert _check(now) == 0  # nothing written, no time gone by: nothing changes
    for _ in range(25):
        if rng.random() < 0.7:
            _mutate(rng, now, numbers)
        # Time goes by: minutes, a day, or to just past an edge (an order's 30/90/180/365 days).
        now += rng.choice([timedelta(0), timedelta(minutes=5), timedelta(days=1), timedelta(days=rng.randint(2, 40))])
        _check(now)
    # Other thresholds: every customer is looked at again.
    other = Thresholds(new_days=60, key_share=0.2, middle_share=0.5, vip_spend=Decimal("500"), picky_min_refunds=1)
    _check(now, other)
    _check(now + timedelta(days=3), other)


def test_only_customers_with_news_or_a_passing_edge_are_looked_at(app, make_customer, make_order):
    quiet, buyer, complainer = make_customer(), make_customer(), make_customer()
    make_order(quiet, days_ago=100)
    make_order(buyer, days_ago=200)
    now = utcnow()
    recompute(db.session.connection(), now, T)
    db.session.commit()
    due = select(Customer.id).where(Customer.segments_due_at <= now + timedelta(days=1))
    assert set(db.session.scalars(due)) == set()

    make_order(buyer, days_ago=1)  # written by anyone: the triggers mark the customer
    db.session.add(Complaint(customer_id=complainer.id, note="投诉"))
    db.session.commit()
    assert set(db.session.scalars(due)) == {buyer.id, complainer.id}
    quiet_due = db.session.scalar(select(Customer.segments_due_at).where(Customer.id == quiet.id))
    # The quiet customer's paid order leaves the 180-day window 80 days on (their next change).
    assert quiet_due > now + timedelta(days=79) and quiet_due < now + timedelta(days=81)
    assert DUE_NOW < now


def test_layer_cutoffs_rank_as_ranked_layers():
    rng = random.Random(5)
    for _ in range(300):
        spends = [rng.choice([0, 100, 250, 250, 999, 5000, rng.randint(0, 10**6)]) for _ in range(rng.randint(1, 60))]
        t = Thresholds(key_share=rng.choice([0.0, 0.1, 0.25, 1.0]), middle_share=rng.choice([0.0, 0.3, 0.5]))
        expected = ranked_layers({i: Decimal(s) / 100 for i, s in enumerate(spends)}, t)
        cutoffs = layer_cutoffs(spends, t)
        assert {i: ranked_layer(s, cutoffs) for i, s in enumerate(spends)} == expected


def test_no_one_ranked_has_no_cutoffs():
    assert layer_cutoffs([], T) == Cutoffs(None, None)


def test_stats_of_counts_as_the_rules_say():
    now = START
    order = SimpleNamespace
    orders = [
        order(status="completed", amount=Decimal("100"), refund_amount=Decimal("20"), review="bad",
              created_at=now - timedelta(days=10), paid_at=now - timedelta(days=10)),
        order(status="refunded", amount=Decimal("50"), refund_amount=Decimal("50"), review=None,
              created_at=now - timedelta(days=400), paid_at=now - timedelta(days=400)),
        order(status="unpaid", amount=Decimal("70"), refund_amount=Decimal("0"), review="neutral",
              created_at=now - timedelta(days=200), paid_at=None),
    ]  # fmt: skip
    stats, figures = stats_of(orders, [now - timedelta(days=400), now], now, T)
    assert stats == Stats(
        first_paid_at=now - timedelta(days=10),
        last_paid_at=now - timedelta(days=10),
        spend_in_window=Decimal("80"),
        spend_in_tier_window=Decimal("80"),
        recent_paid_orders=1,
        recent_bad_reviews=1,  # the neutral review is 200 days old
        recent_refunds=1,  # the partial refund, within 365 days
        recent_complaints=1,
    )
    assert figures == {
        "first_paid_at": now - timedelta(days=10),
        "last_paid_at": now - timedelta(days=10),
        "paid_order_count": 1,
        "total_spend": Decimal("80.00"),
        "refund_count": 2,
        "complaint_count": 2,
    }

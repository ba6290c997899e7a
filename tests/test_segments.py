"""Segments, tiers and flags (SPEC §4): the rules over plain values, then recompute over real rows."""

import re
from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from app import jobs, shop_calendar
from app.extensions import db
from app.models import Activity, Complaint, Customer, Layer, Order, OrderStatus, Review, Role, Tier, utcnow
from app.segments import (
    Stats,
    Thresholds,
    activity_of,
    base_layer,
    classify,
    is_bad_reviewer,
    is_picky,
    ranked_layers,
    recompute,
    tier_of,
)

NOW = datetime(2024, 6, 15, 12, 0, 0)
T = Thresholds()


def ago(days: float, now: datetime = NOW) -> datetime:
    return now - timedelta(days=days)


def buyer(first_days: float, last_days: float, **values) -> Stats:
    return Stats(first_paid_at=ago(first_days), last_paid_at=ago(last_days), **values)


# --- lifecycle layer decided by dates ---------------------------------------------------------


def test_no_paid_order_is_a_prospect():
    assert base_layer(Stats(), NOW, T) is Layer.PROSPECT


@pytest.mark.parametrize(
    "first_days, expected",
    [(0, Layer.NEW), (29.99, Layer.NEW), (30, Layer.NEW), (30.0001, None), (31, None)],
)
def test_new_means_first_paid_order_within_30_days(first_days, expected):
    assert base_layer(buyer(first_days, min(first_days, 1)), NOW, T) == expected


@pytest.mark.parametrize(
    "last_days, expected",
    [(179, None), (180, None), (180.0001, Layer.LOST), (400, Layer.LOST)],
)
def test_lost_means_no_paid_order_for_180_days(last_days, expected):
    assert base_layer(buyer(500, last_days), NOW, T) == expected


def test_a_recent_first_order_is_new_even_with_custom_thresholds():
    t = Thresholds(new_days=7, lost_days=60)
    assert base_layer(buyer(7, 7), NOW, t) is Layer.NEW
    assert base_layer(buyer(8, 8), NOW, t) is None
    assert base_layer(buyer(100, 61), NOW, t) is Layer.LOST


# --- the 10/30/60 split by spend --------------------------------------------------------------


def test_ranked_layers_split_ten_customers_1_3_6():
    spends = {cid: Decimal(1000 - cid * 10) for cid in range(10)}  # 0 spent most
    layers = ranked_layers(spends, T)
    assert [layers[cid] for cid in range(10)] == [Layer.KEY] + [Layer.MIDDLE] * 3 + [Layer.BOTTOM] * 6


def test_ranked_layers_split_a_hundred_customers_10_30_60():
    layers = ranked_layers({cid: Decimal(cid) for cid in range(1, 101)}, T)
    counts = {layer: list(layers.values()).count(layer) for layer in (Layer.KEY, Layer.MIDDLE, Layer.BOTTOM)}
    assert counts == {Layer.KEY: 10, Layer.MIDDLE: 30, Layer.BOTTOM: 60}
    assert layers[100] is Layer.KEY and layers[91] is Layer.KEY and layers[90] is Layer.MIDDLE
    assert layers[61] is Layer.MIDDLE and layers[60] is Layer.BOTTOM and layers[1] is Layer.BOTTOM


def test_equal_spend_gets_the_same_layer_at_a_boundary():
    # Ten customers; the 1st and 2nd spent the same, so both are key (only 0 % spent more).
    spends = {
        1: Decimal(900),
        2: Decimal(900),
        3: Decimal(500),
        4: Decimal(400),
        5: Decimal(400),
        6: Decimal(400),
        7: Decimal(100),
        8: Decimal(90),
        9: Decimal(80),
        10: Decimal(70),
    }
    layers = ranked_layers(spends, T)
    assert layers[1] is layers[2] is Layer.KEY
    assert layers[3] is Layer.MIDDLE
    # 3 of 10 spent more than each of 4, 5, 6: 30 % above is still inside key + middle (40 %).
    assert layers[4] is layers[5] is layers[6] is Layer.MIDDLE
    # 6 of 10 spent more than 7.
    assert {layers[c] for c in (7, 8, 9, 10)} == {Layer.BOTTOM}


def test_all_equal_spend_is_one_layer():
    layers = ranked_layers({cid: Decimal("50") for cid in range(20)}, T)
    assert set(layers.values()) == {Layer.KEY}


def test_a_single_ranked_customer_is_key():
    assert ranked_layers({7: Decimal("1")}, T) == {7: Layer.KEY}


def test_classify_ranks_only_customers_that_dates_do_not_decide():
    stats = {
        1: Stats(),  # prospect
        2: buyer(5, 5, spend_in_window=Decimal("9999")),  # new, however much spent
        3: buyer(400, 200, spend_in_window=Decimal("0")),  # lost
        4: buyer(300, 10, spend_in_window=Decimal("800")),
        5: buyer(300, 10, spend_in_window=Decimal("100")),  # half of the ranked spent more
    }
    layers = {cid: values["layer"] for cid, values in classify(stats, NOW, T).items()}
    assert layers == {1: Layer.PROSPECT, 2: Layer.NEW, 3: Layer.LOST, 4: Layer.KEY, 5: Layer.BOTTOM}


# --- activity ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "stats, expected",
    [
        (Stats(), Activity.INACTIVE),
        (buyer(100, 5, recent_paid_orders=2), Activity.ACTIVE),
        (buyer(100, 5, recent_paid_orders=1), Activity.INTERMITTENT),
        (buyer(300, 180, recent_paid_orders=0), Activity.INTERMITTENT),
        (buyer(300, 180.0001, recent_paid_orders=0), Activity.INACTIVE),
        (buyer(300, 250, recent_paid_orders=0), Activity.INACTIVE),
    ],
)
def test_activity_of(stats, expected):
    assert activity_of(stats, NOW, T) is expected


# --- member tier ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "spend, expected",
    [
        ("0", Tier.NONE),
        ("1999.99", Tier.NONE),
        ("2000", Tier.VIP),
        ("2000.00", Tier.VIP),
        ("2499.99", Tier.VIP),
        ("2500", Tier.SVIP),
        ("99999", Tier.SVIP),
    ],
)
def test_tier_follows_rolling_spend(spend, expected):
    assert tier_of(Stats(spend_in_tier_window=Decimal(spend)), T) is expected


def test_tier_is_downgraded_when_rolling_spend_falls():
    # Same customer, a month apart: the big order leaves the 12-month window.
    assert tier_of(Stats(spend_in_tier_window=Decimal("2600")), T) is Tier.SVIP
    assert tier_of(Stats(spend_in_tier_window=Decimal("2100")), T) is Tier.VIP
    assert tier_of(Stats(spend_in_tier_window=Decimal("300")), T) is Tier.NONE


# --- flags ------------------------------------------------------------------------------------


def test_bad_reviewer():
    assert not is_bad_reviewer(Stats())
    assert is_bad_reviewer(Stats(recent_bad_reviews=1))


@pytest.mark.parametrize(
    "refunds, complaints, expected",
    [(0, 0, False), (2, 1, False), (3, 0, True), (0, 2, True), (5, 5, True)],
)
def test_picky(refunds, complaints, expected):
    assert is_picky(Stats(recent_refunds=refunds, recent_complaints=complaints), T) is expected


# --- thresholds from settings -----------------------------------------------------------------


def test_thresholds_from_config(app):
    config = dict(app.config)
    assert Thresholds.from_config(config) == Thresholds()  # the settings' defaults are the rules' defaults
    config.update(SEGMENT_NEW_DAYS=14, SEGMENT_KEY_SHARE=0.2, TIER_VIP_SPEND=Decimal("1000"), PICKY_MIN_COMPLAINTS=5)
    t = Thresholds.from_config(config)
    assert (t.new_days, t.key_share, t.vip_spend, t.picky_min_complaints) == (14, 0.2, Decimal("1000"), 5)
    assert tier_of(Stats(spend_in_tier_window=Decimal("1000")), t) is Tier.VIP


# --- recompute over real rows -----------------------------------------------------------------


def _recompute() -> int:
    changed = recompute(db.session.connection(), utcnow(), Thresholds())
    db.session.commit()
    db.session.expire_all()
    return changed


def test_recompute_writes_figures_layers_tiers_and_flags(make_customer, make_order):
    prospect = make_customer(name="只问不买")
    newcomer = make_customer(name="新客")
    make_order(newcomer, days_ago=3, amount="88.50")
    lost = make_customer(name="流失")
    make_order(lost, days_ago=200, amount="3000")
    big = make_customer(name="大客户")
    make_order(big, days_ago=100, amount="1500")
    make_order(big, days_ago=60, amount="800")
    make_order(big, days_ago=20, amount="300", review=Review.BAD)
    make_order(big, days_ago=19, amount="50", status=OrderStatus.UNPAID)  # not counted
    small = [make_customer(name=f"小客{i}") for i in range(9)]
    for i, customer in enumerate(small):
        make_order(customer, days_ago=40 + i, amount=str(100 + i))
    picky = small[0]
    for _ in range(3):
        make_order(picky, days_ago=45, amount="10", status=OrderStatus.REFUNDED, refund_amount=Decimal("10"))

    changed = _recompute()
    assert changed == 12  # all but the prospect, who already had the defaults

    assert (prospect.layer, prospect.tier, prospect.paid_order_count) == (Layer.PROSPECT, Tier.NONE, 0)
    assert newcomer.layer == Layer.NEW
    assert newcomer.total_spend == Decimal("88.50") and newcomer.paid_order_count == 1
    assert newcomer.activity == Activity.INTERMITTENT
    assert lost.layer == Layer.LOST
    assert lost.tier == Tier.SVIP  # lost by date, yet 3000 was spent within the rolling year
    assert big.layer == Layer.KEY  # 10 ranked customers: the biggest spender is the top 10 %
    assert big.tier == Tier.SVIP  # 1500 + 800 + 300 = 2600
    assert big.total_spend == Decimal("2600.00") and big.paid_order_count == 3
    assert big.average_order_value == Decimal("866.67")
    assert big.activity == Activity.ACTIVE  # two paid orders within 90 days
    assert big.flag_bad_reviewer and not big.flag_picky
    assert big.first_paid_at < big.last_paid_at
    assert abs(big.last_paid_at - (utcnow() - timedelta(days=20))) < timedelta(minutes=10)
    assert picky.flag_picky and picky.refund_count == 3
    # Among the 9 small buyers and big: 1 key (big), 3 middle, 6 bottom.
    ranked = [big] + small
    assert sorted(c.layer for c in ranked).count(Layer.MIDDLE) == 3
    assert [c.layer for c in ranked].count(Layer.BOTTOM) == 6
    assert small[8].layer == Layer.MIDDLE  # spent 108, the most of the small ones

    assert _recompute() == 0


def test_recompute_downgrades_tier_when_orders_age_out(make_customer, make_order):
    customer = make_customer()
    make_order(customer, days_ago=20, amount="2500")
    _recompute()
    assert customer.tier == Tier.SVIP
    # The order leaves the rolling year.
    order_time = utcnow() - timedelta(days=370)
    db.session.execute(Order.__table__.update().values(created_at=order_time, paid_at=order_time))
    db.session.commit()
    assert _recompute() == 1
    assert customer.tier == Tier.NONE
    assert customer.layer == Layer.LOST
    assert customer.total_spend == Decimal("2500.00")  # lifetime figure, unchanged


def test_spend_counts_what_was_paid_less_what_was_refunded(make_customer, make_order):
    """A partial refund after delivery: the order stays completed, its refund is not spend."""
    customer = make_customer()
    make_order(customer, days_ago=40, amount="2200", refund_amount=Decimal("400"))
    make_order(customer, days_ago=50, amount="300")
    others = [make_customer() for _ in range(9)]
    for number, other in enumerate(others):
        make_order(other, days_ago=45, amount=str(1950 + number))  # each spent more than 1,900 and less than 2,100
    _recompute()
    assert customer.total_spend == Decimal("2100.00") and customer.paid_order_count == 2
    assert customer.tier == Tier.VIP  # 2,100 in the rolling year, not 2,500 (SVIP)
    assert customer.layer == Layer.KEY  # the ranking counts 2,100 too: still the top spender
    assert customer.refund_count == 1


def test_a_fully_refunded_order_is_no_spend(make_customer, make_order):
    customer = make_customer()
    make_order(customer, days_ago=40, amount="2600", status=OrderStatus.REFUNDED, refund_amount=Decimal("2600"))
    _recompute()
    assert (customer.total_spend, customer.paid_order_count, customer.tier) == (Decimal("0.00"), 0, Tier.NONE)
    assert customer.layer == Layer.PROSPECT


def test_recompute_counts_complaints_for_picky(make_customer):
    customer = make_customer()
    for days in (10, 20):
        db.session.add(Complaint(customer_id=customer.id, note="慢", at=utcnow() - timedelta(days=days)))
    db.session.commit()
    _recompute()
    assert customer.flag_picky and customer.complaint_count == 2
    assert customer.layer == Layer.PROSPECT


def test_old_complaints_still_count_but_do_not_flag(make_customer):
    customer = make_customer()
    for days in (400, 500):
        db.session.add(Complaint(customer_id=customer.id, note="旧事", at=utcnow() - timedelta(days=days)))
    db.session.commit()
    _recompute()
    assert not customer.flag_picky
    assert customer.complaint_count == 2  # the customer's figure counts every complaint
    assert _recompute() == 0


def test_recompute_job_runs_on_the_queue(make_customer, make_order, run_jobs):
    customer_id = make_customer().id
    make_order(db.session.get(Customer, customer_id), days_ago=2, amount="2000")
    jobs.enqueue_segment_recompute()
    run_jobs()
    customer = db.session.get(Customer, customer_id)
    assert (customer.layer, customer.tier, customer.paid_order_count) == (Layer.NEW, Tier.VIP, 1)


# --- the nightly run --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "now_utc, expected_utc",
    [
        # 03:00 in Shanghai (19:00 UTC the day before): tonight's run is 30 minutes away.
        (datetime(2024, 1, 1, 19, 0), datetime(2024, 1, 1, 19, 30)),
        # Exactly at the run time: the next one is tomorrow.
        (datetime(2024, 1, 1, 19, 30), datetime(2024, 1, 2, 19, 30)),
        # 04:00 in Shanghai: tomorrow night.
        (datetime(2024, 1, 1, 20, 0), datetime(2024, 1, 2, 19, 30)),
        # Just before midnight UTC is 07:59 the next day in Shanghai.
        (datetime(2024, 1, 1, 23, 59), datetime(2024, 1, 2, 19, 30)),
        # Just after midnight UTC (08:01 in Shanghai).
        (datetime(2024, 1, 2, 0, 1), datetime(2024, 1, 2, 19, 30)),
        # 18:00 in Shanghai (10:00 UTC).
        (datetime(2024, 1, 1, 10, 0), datetime(2024, 1, 1, 19, 30)),
        # Across a month and a year end.
        (datetime(2024, 12, 31, 20, 0), datetime(2025, 1, 1, 19, 30)),
    ],
)
def test_next_nightly_run_is_0330_shop_time(app, now_utc, expected_utc):
    assert app.config["SHOP_TIMEZONE"] == "Asia/Shanghai"
    assert shop_calendar.next_time_of_day(now_utc, "03:30") == expected_utc


def test_schedule_nightly_recompute_collapses_into_one_job(app):
    from app.redis import get_queue

    first = jobs.schedule_nightly_recompute()
    second = jobs.schedule_nightly_recompute()
    assert first == second
    registry = get_queue().scheduled_job_registry
    assert registry.get_job_ids() == [first]


# --- the supervisor's overview ----------------------------------------------------------------


def test_overview_counts_layers_tiers_and_provinces(client, login_as, make_customer, make_order):
    login_as(Role.SUPERVISOR)
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    for province, amount in (("浙江", "2600"), ("浙江", "50"), ("江苏", "40")):
        make_order(make_customer(province=province), days_ago=60, amount=amount)
    make_customer(province=None)  # a prospect of unknown province
    _recompute()
    text = client.get("/reports/overview").text
    assert "4 customers" in text

    def count(label_html: str) -> int:
        row = re.search(re.escape(label_html) + r'</td>\s*<td class="num">(\d+)</td>', text)
        return int(row.group(1))

    assert count('<a href="/customers/?layer=key">Key</a>') == 1
    assert count('<a href="/customers/?layer=middle">Middle</a>') == 1  # 1 of 3 spent more
    assert count('<a href="/customers/?layer=bottom">Bottom</a>') == 1
    assert count('<a href="/customers/?layer=prospect">Prospect</a>') == 1
    assert count('<a href="/customers/?tier=svip">SVIP</a>') == 1
    assert count('<a href="/customers/?province=%E6%B5%99%E6%B1%9F">浙江</a>') == 2
    # Each count opens as a list.
    listed = client.get("/customers/?province=浙江").text
    assert "2 customers" in listed

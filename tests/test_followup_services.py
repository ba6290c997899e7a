"""Follow-up tasks in the database (SPEC §5): opening, completing, moving them, and the queue's reads."""

from datetime import datetime, timedelta

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.exc import IntegrityError

from app import shop_calendar
from app.access import visible_follow_ups
from app.blacklist import services as blacklist
from app.customers import services as customers
from app.extensions import db
from app.followups import cycles, services
from app.followups.cycles import Bucket, Kind, Outcome
from app.models import (
    PAID_STATUSES,
    AuditEntry,
    Customer,
    FollowUp,
    FollowUpState,
    FollowUpStatus,
    Order,
    OrderStatus,
    Role,
    SmsReply,
    User,
    utcnow,
)

NOW = datetime(2026, 11, 23, 2, 0)  # 10:00 in Shanghai


def open_tasks(customer_id: int) -> list[FollowUp]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            select(FollowUp).where(FollowUp.customer_id == customer_id, FollowUp.status == FollowUpStatus.OPEN)
        )
    )


def reload(customer: Customer) -> Customer:
    db.session.expire_all()
    return db.session.get(Customer, customer.id)


@pytest.fixture
def sales(make_user):
    return make_user(Role.SALES)


@pytest.fixture
def followed(sales, make_customer):
    """A customer of `sales` with their first task open (cycle 1, due a week after NOW)."""

    def make(**values) -> tuple[Customer, FollowUp]:
        customer = make_customer(owner=sales, **values)
        task = services.start(customer, now=NOW)
        db.session.commit()
        return customer, task

    return make


def record(task: FollowUp, outcome: Outcome, actor: User, now: datetime = NOW, channel: str = "phone"):
    recorded = services.record_outcome(task, outcome, channel, "打过电话", actor, now=now)
    db.session.commit()
    return recorded


def test_registering_a_customer_for_a_sales_person_opens_a_first_contact_within_seven_days(sales):
    customer = customers.register({"name": "新询盘", "source": "inquiry"}, None, sales)
    db.session.commit()
    [task] = open_tasks(customer.id)
    assert (task.assignee_id, task.cycle, task.kind) == (sales.id, 1, Kind.FIRST_CONTACT)
    assert abs(task.due_at - (utcnow() + timedelta(days=7))) < timedelta(minutes=1)
    assert reload(customer).cycle == 1


def test_ordered_opens_a_revisit_in_thirty_days_and_resets_the_streak(sales, followed):
    customer, task = followed(unconverted_streak=3)
    recorded = record(task, Outcome.ORDERED, sales)
    [next_task] = open_tasks(customer.id)
    assert next_task.id == recorded.next_task.id
    assert (next_task.cycle, next_task.kind, next_task.due_at) == (2, Kind.REVISIT, NOW + timedelta(days=30))
    customer = reload(customer)
    assert (customer.unconverted_streak, customer.cycle, customer.last_contact_at) == (0, 2, NOW)
    done = db.session.get(FollowUp, task.id)
    assert (done.status, done.outcome, done.channel, done.note, done.completed_by_id, done.days_late) == (
        "done",
        "ordered",
        "phone",
        "打过电话",
        sales.id,
        0,
    )


@pytest.mark.parametrize("outcome", [Outcome.INTERESTED, Outcome.NO_ANSWER, Outcome.NOT_INTERESTED])
def test_an_unconverted_contact_opens_the_next_cycle_in_fifteen_days(sales, followed, outcome):
    customer, task = followed()
    record(task, outcome, sales)
    [next_task] = open_tasks(customer.id)
    assert (next_task.cycle, next_task.kind, next_task.due_at) == (2, Kind.REVISIT, NOW + timedelta(days=15))
    assert reload(customer).unconverted_streak == 1


def test_do_not_contact_ends_the_cycles(sales, followed):
    customer, task = followed()
    recorded = record(task, Outcome.DO_NOT_CONTACT, sales)
    assert recorded.decision.offer_blacklist and recorded.next_task is None
    assert open_tasks(customer.id) == []
    assert reload(customer).follow_up_state == FollowUpState.STOPPED
    states = db.session.scalars(select(AuditEntry.after).where(AuditEntry.action == "follow_up.state_changed"))
    assert list(states) == [{"follow_up_state": "stopped"}]


def test_the_fifth_unconverted_cycle_in_a_row_makes_the_customer_lost(sales, followed):
    customer, task = followed()
    now = NOW
    for cycle in range(1, 5):
        now += timedelta(days=8)
        record(task, Outcome.NO_ANSWER, sales, now=now)
        [task] = open_tasks(customer.id)
        assert task.cycle == cycle + 1
    now += timedelta(days=16)
    recorded = record(task, Outcome.NOT_INTERESTED, sales, now=now)
    assert recorded.decision.lost and recorded.next_task is None
    assert open_tasks(customer.id) == []
    customer = reload(customer)
    assert (customer.follow_up_state, customer.unconverted_streak, customer.cycle) == (FollowUpState.LOST, 5, 5)
    # Out of the queue: nothing overdue, today or this week, at any time.
    assert set(services.queue_counts(sales.id, now + timedelta(days=20)).values()) == {0}


def test_the_durations_are_settings(app, monkeypatch, sales, followed):
    monkeypatch.setitem(app.config, "FOLLOWUP_RETRY_DAYS", 10)
    monkeypatch.setitem(app.config, "FOLLOWUP_FIRST_CONTACT_DAYS", 3)
    customer, task = followed()
    assert task.due_at == NOW + timedelta(days=3)
    record(task, Outcome.INTERESTED, sales)
    [next_task] = open_tasks(customer.id)
    assert next_task.due_at == NOW + timedelta(days=10)


def test_reassigning_moves_the_open_task_and_unassigning_cancels_it(make_user, followed):
    boss = make_user(Role.SUPERVISOR)
    other = make_user(Role.SALES)
    customer, task = followed()
    services.assign([customer.id], other, boss)
    db.session.commit()
    [moved] = open_tasks(customer.id)
    assert (moved.id, moved.assignee_id, moved.cycle) == (task.id, other.id, 1)

    services.assign([customer.id], None, boss)
    db.session.commit()
    assert open_tasks(customer.id) == []
    assert db.session.get(FollowUp, task.id).status == FollowUpStatus.CANCELLED
    actions = db.session.scalars(
        select(AuditEntry.action).where(AuditEntry.customer_id == customer.id).order_by(AuditEntry.id)
    )
    assert list(actions) == [
        "follow_up.opened",
        "customer.owner_changed",
        "customer.owner_changed",
        "follow_up.cancelled",
    ]


def test_bringing_back_a_lost_customer_opens_a_win_back_task(make_user, followed):
    boss = make_user(Role.SUPERVISOR)
    customer, task = followed()
    customer.follow_up_state = FollowUpState.LOST
    customer.unconverted_streak = 5
    task.status = FollowUpStatus.CANCELLED
    db.session.commit()
    back = services.bring_back(customer, boss, now=NOW)
    db.session.commit()
    [task] = open_tasks(customer.id)
    assert (task.id, task.kind, task.cycle, task.due_at) == (back.id, Kind.WIN_BACK, 2, NOW + timedelta(days=7))
    customer = reload(customer)
    assert (customer.follow_up_state, customer.unconverted_streak) == (FollowUpState.ACTIVE, 0)


def test_the_database_refuses_a_second_open_task_for_a_customer(sales, followed):
    customer, task = followed()
    db.session.add(
        FollowUp(
            customer_id=customer.id,
            assignee_id=sales.id,
            cycle=2,
            kind=Kind.REVISIT,
            due_at=NOW,
            due_on=NOW.date(),
            status=FollowUpStatus.OPEN,
        )
    )
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()
    # A closed one is no obstacle.
    db.session.add(
        FollowUp(
            customer_id=customer.id,
            assignee_id=sales.id,
            cycle=0,
            kind=Kind.REVISIT,
            due_at=NOW,
            due_on=NOW.date(),
            status=FollowUpStatus.DONE,
        )
    )
    db.session.commit()
    assert len(open_tasks(customer.id)) == 1


def test_open_first_tasks_after_an_import(sales, make_customer, followed):
    prospect = make_customer(owner=sales)
    buyer = make_customer(owner=sales, last_paid_at=NOW - timedelta(days=10))
    unowned = make_customer()
    already, _ = followed()
    assert services.open_first_tasks(now=NOW) == 2
    db.session.commit()
    [first] = open_tasks(prospect.id)
    assert (first.kind, first.cycle, first.due_at, first.assignee_id) == (
        Kind.FIRST_CONTACT,
        1,
        NOW + timedelta(days=7),
        sales.id,
    )
    assert first.due_on.isoformat() == "2026-11-30"
    [revisit] = open_tasks(buyer.id)
    assert (revisit.kind, revisit.due_at) == (Kind.REVISIT, NOW + timedelta(days=20))
    assert open_tasks(unowned.id) == [] and len(open_tasks(already.id)) == 1
    assert (reload(prospect).cycle, reload(buyer).cycle) == (1, 1)
    assert services.open_first_tasks(now=NOW) == 0  # once only


def _task_due(customer: Customer, due_at: datetime) -> FollowUp:
    task = FollowUp(
        customer_id=customer.id,
        assignee_id=customer.owner_id,
        cycle=1,
        kind=Kind.FIRST_CONTACT,
        due_at=due_at,
        due_on=shop_calendar.due_on(due_at),
        status=FollowUpStatus.OPEN,
    )
    db.session.add(task)
    db.session.commit()
    return task


def test_due_today_is_judged_by_the_shops_calendar(sales, make_customer):
    now = datetime(2026, 3, 10, 2, 0)  # 10:00 on the 10th in Shanghai
    late_tonight = _task_due(make_customer(owner=sales), datetime(2026, 3, 10, 15, 30))  # 23:30 on the 10th
    after_midnight = _task_due(make_customer(owner=sales), datetime(2026, 3, 10, 16, 30))  # 00:30 on the 11th
    yesterday = _task_due(make_customer(owner=sales), datetime(2026, 3, 9, 15, 30))  # 23:30 on the 9th
    next_week = _task_due(make_customer(owner=sales), datetime(2026, 3, 16, 16, 30))  # 00:30 on the 17th
    assert services.queue_counts(sales.id, now) == {Bucket.OVERDUE: 1, Bucket.TODAY: 1, Bucket.THIS_WEEK: 1}

    def section(bucket):
        return [task.id for task in db.session.scalars(services.queue_section(sales.id, bucket, now))]

    assert section(Bucket.OVERDUE) == [yesterday.id]
    assert section(Bucket.TODAY) == [late_tonight.id]
    assert section(Bucket.THIS_WEEK) == [after_midnight.id]
    assert next_week.id not in section(Bucket.THIS_WEEK)


def test_two_people_recording_the_same_task_at_once_make_one_next_task(app, sales, make_user, followed):
    boss = make_user(Role.SUPERVISOR)
    customer, task = followed()
    mine = db.session.get(FollowUp, task.id)  # the sales person's session reads the open task
    assert mine.status == FollowUpStatus.OPEN
    with app.app_context():  # the supervisor's request: another app context, another session
        theirs = db.session.get(FollowUp, task.id)
        assert theirs.status == FollowUpStatus.OPEN
        services.record_outcome(theirs, Outcome.ORDERED, "wechat", None, db.session.get(User, boss.id), now=NOW)
        db.session.commit()
    with pytest.raises(services.AlreadyRecorded) as taken:
        services.record_outcome(mine, Outcome.NO_ANSWER, "phone", None, sales, now=NOW)
    assert (taken.value.task.outcome, taken.value.task.completed_by_id) == ("ordered", boss.id)
    db.session.rollback()
    [next_task] = open_tasks(customer.id)
    assert next_task.due_at == NOW + timedelta(days=30)  # the supervisor's "ordered"
    assert reload(customer).unconverted_streak == 0


# --- the queue's cards ------------------------------------------------------------------------


def test_a_card_shows_the_last_contact_and_the_last_three_orders(sales, followed, make_order):
    customer, task = followed()
    orders = [make_order(customer, days_ago=days, amount=str(days)) for days in (40, 30, 20, 10)]
    record(task, Outcome.INTERESTED, sales, now=utcnow() - timedelta(days=15), channel="wechat")
    [task] = open_tasks(customer.id)
    [card] = services.cards_of([task.id], utcnow())
    assert (card.last.outcome, card.last.channel, card.last.completed_by) == (
        "interested",
        "wechat",
        sales.display_name,
    )
    assert [o.amount for o in card.orders] == [orders[3].amount, orders[2].amount, orders[1].amount]
    assert card.new_order  # paid ten days ago, contacted fifteen days ago


def test_no_new_order_badge_for_an_unpaid_order_or_before_any_contact(sales, followed, make_order):
    customer, task = followed()
    make_order(customer, days_ago=1, status=OrderStatus.UNPAID)
    [card] = services.cards_of([task.id], NOW)
    assert card.last is None and not card.new_order
    record(task, Outcome.INTERESTED, sales, now=utcnow() - timedelta(days=3))
    [task] = open_tasks(customer.id)
    [card] = services.cards_of([task.id], NOW)
    assert not card.new_order


def test_cards_take_the_same_few_queries_however_many_there_are(app, sales, make_customer, make_order):
    sales_id = sales.id

    def queries_for_cards(count: int) -> tuple[int, int]:
        for _ in range(count):
            customer = make_customer(owner=sales)
            make_order(customer)
            services.start(customer, now=NOW - timedelta(days=8))
        db.session.commit()
        db.session.expire_all()
        statements = []
        listener = lambda *args: statements.append(args[2])  # noqa: E731
        event.listen(db.engine, "before_cursor_execute", listener)
        try:
            cards, _more = services.queue_cards(sales_id, Bucket.OVERDUE, NOW)
            for card in cards:  # what a card shows
                _shown = (card.task.name, card.orders, card.last, card.replies)  # noqa: F841
        finally:
            event.remove(db.engine, "before_cursor_execute", listener)
        return len(cards), len(statements)

    few, few_queries = queries_for_cards(2)
    many, many_queries = queries_for_cards(7)
    assert (few, many) == (2, 9)
    # The tasks with their customers, the last contacts, the orders, the SMS replies.
    assert few_queries == many_queries == 4


def _card_as_plainly_computed(task: FollowUp, now: datetime) -> tuple:
    """What a card shows, computed the straightforward way: model objects, sorted in Python."""
    customer = task.customer
    done = db.session.scalars(
        select(FollowUp).where(FollowUp.customer_id == customer.id, FollowUp.status == FollowUpStatus.DONE)
    ).all()
    last = max(done, key=lambda t: (t.completed_at, t.id), default=None)
    orders = db.session.scalars(select(Order).where(Order.customer_id == customer.id)).all()
    orders = sorted(orders, key=lambda o: (o.created_at, o.id), reverse=True)[:3]
    replies = db.session.scalars(
        select(SmsReply).where(SmsReply.customer_id == customer.id, SmsReply.opted_out.is_(False))
    ).all()
    replies = sorted(replies, key=lambda r: (r.received_at, r.id), reverse=True)[: services.REPLIES_ON_A_CARD]
    since = customer.last_contact_at
    paid = [o.paid_at for o in orders if o.paid_at is not None and o.status in PAID_STATUSES]
    paid += [customer.last_paid_at] if customer.last_paid_at else []
    return (
        (task.id, task.customer_id, task.cycle, task.kind, task.due_at, task.due_on),
        (customer.name, customer.phone, customer.nickname),
        last
        and (
            last.outcome,
            last.channel,
            last.note,
            last.completed_at,
            last.completed_by and last.completed_by.display_name,
        ),
        [(o.created_at, o.amount, o.status, o.paid_at) for o in orders],
        cycles.days_late(task.due_at, now, shop_calendar.shop_zone()),
        bool(paid) and since is not None and max(paid) > since,
        [(r.body, r.received_at) for r in replies if since is None or r.received_at > since],
    )


def _card_as_shown(card: services.Card) -> tuple:
    t, last = card.task, card.last
    return (
        (t.id, t.customer_id, t.cycle, t.kind, t.due_at, t.due_on),
        (t.name, t.phone, t.nickname),
        last and (last.outcome, last.channel, last.note, last.completed_at, last.completed_by),
        [(o.created_at, o.amount, o.status, o.paid_at) for o in card.orders],
        card.days_overdue,
        card.new_order,
        [(r.body, r.received_at) for r in card.replies],
    )


def test_the_cards_read_as_rows_are_what_the_plain_computation_gives(sales, make_user, make_customer, make_order):
    """The queue's cards come from a few set-based statements of plain rows; each card must
    say what the plain per-task computation with model objects says."""
    now = utcnow()
    start = services.day_starts(now)[Bucket.OVERDUE]
    other = make_user(Role.SALES)
    dues = [start - timedelta(days=d) for d in (9, 3, 3, 1)] + [start + timedelta(hours=h) for h in (2, 20)]
    dues += [start + timedelta(days=d) for d in (2, 3, 6)] + [start + timedelta(days=9)]  # the last: next week
    for n, due in enumerate(dues):
        customer = make_customer(
            owner=sales,
            nickname=f"昵称{n}" if n % 2 else None,
            phone=None if n == 4 else f"+86139{n:08d}",
            last_contact_at=now - timedelta(days=4) if n % 3 else None,
            last_paid_at=now - timedelta(days=20) if n % 4 == 1 else None,
        )
        for k in range(n % 4):  # done tasks, two of them completed at the same moment
            completed = now - timedelta(days=30 - 10 * min(k, 1))
            db.session.add(
                FollowUp(
                    customer_id=customer.id,
                    assignee_id=sales.id,
                    cycle=k + 1,
                    kind=Kind.FIRST_CONTACT,
                    due_at=completed,
                    due_on=shop_calendar.due_on(completed),
                    status=FollowUpStatus.DONE,
                    outcome=[Outcome.INTERESTED, Outcome.NO_ANSWER, Outcome.ORDERED][k],
                    channel="wechat",
                    note=f"第{k}次" if k else None,
                    completed_by_id=sales.id if k != 2 else None,
                    completed_at=completed,
                    days_late=0,
                )
            )
        statuses = [OrderStatus.COMPLETED, OrderStatus.UNPAID, OrderStatus.PAID, OrderStatus.REFUNDED, OrderStatus.PAID]
        for k in range(n % 6):
            make_order(customer, days_ago=[12, 2, 2, 30, 1][k], amount=str(10 + k), status=statuses[k])
        for k in range(n % 5):
            db.session.add(
                SmsReply(
                    provider="log",
                    phone="+8613900000000",
                    customer_id=customer.id,
                    body=f"回复{k}",
                    opted_out=k == 1,
                    received_at=now - timedelta(days=[1, 2, 6, 3][k]),
                )
            )
        db.session.add(
            FollowUp(
                customer_id=customer.id,
                assignee_id=sales.id,
                cycle=n % 4 + 1,
                kind=Kind.REVISIT,
                due_at=due,
                due_on=shop_calendar.due_on(due),
                status=FollowUpStatus.OPEN,
            )
        )
        db.session.commit()
    _task_due(make_customer(owner=other), start - timedelta(days=2))  # someone else's
    db.session.expire_all()

    sections = (Bucket.OVERDUE, Bucket.TODAY, Bucket.THIS_WEEK)
    pages = services.queue_pages(sales.id, sections, now, size=2)
    sizes = []
    for section in sections:
        tasks = list(db.session.scalars(services.queue_section(sales.id, section, now)))
        sizes.append(len(tasks))
        cards, more = pages[section]
        assert [_card_as_shown(c) for c in cards] == [_card_as_plainly_computed(t, now) for t in tasks[:2]]
        assert more == (len(tasks) > 2)
        rest, _more = services.queue_cards(sales.id, section, now, after_id=cards[-1].task.id, size=10)
        assert [_card_as_shown(c) for c in rest] == [_card_as_plainly_computed(t, now) for t in tasks[2:]]
    assert sizes == [4, 2, 3]
    # One task alone (the card put back in place after a failed outcome form) reads the same.
    task = tasks[-1]
    assert [_card_as_shown(c) for c in services.cards_of([task.id], now)] == [_card_as_plainly_computed(task, now)]


def test_show_more_pages_by_position_so_recorded_cards_shift_nothing(sales, make_customer):
    tasks = [_task_due(make_customer(owner=sales), NOW - timedelta(days=3, hours=n)) for n in range(5)]
    ordered = [t.id for t in sorted(tasks, key=lambda t: t.due_at)]
    first, more = services.queue_cards(sales.id, Bucket.OVERDUE, NOW, size=2)
    assert [c.task.id for c in first] == ordered[:2] and more
    record(db.session.get(FollowUp, first[0].task.id), Outcome.NO_ANSWER, sales)  # leaves the section
    rest, more = services.queue_cards(sales.id, Bucket.OVERDUE, NOW, after_id=first[-1].task.id, size=2)
    assert [c.task.id for c in rest] == ordered[2:4] and more
    last, more = services.queue_cards(sales.id, Bucket.OVERDUE, NOW, after_id=rest[-1].task.id, size=2)
    assert [c.task.id for c in last] == ordered[4:] and not more


def test_visible_tasks_are_ones_own_for_sales_and_everyones_for_supervisors(sales, make_user, make_customer, followed):
    other = make_user(Role.SALES)
    boss = make_user(Role.SUPERVISOR)
    _, mine = followed()
    theirs = services.start(make_customer(owner=other), now=NOW)
    db.session.commit()
    assert list(db.session.scalars(visible_follow_ups(sales))) == [mine]
    assert {t.id for t in db.session.scalars(visible_follow_ups(boss))} == {mine.id, theirs.id}


def test_blacklisting_the_phone_of_a_do_not_contact_customer(sales, followed):
    customer, task = followed(phone="+8613811112222")
    record(task, Outcome.DO_NOT_CONTACT, sales)
    entry = blacklist.add_for_follow_up(task, sales)
    db.session.commit()
    assert (entry.phone, entry.reason, entry.source, entry.customer_id, entry.note, entry.added_by_id) == (
        "+8613811112222",
        "manual",
        f"follow_up:{task.id}",
        customer.id,
        None,  # the source says why, in the reader's language on the timeline
        sales.id,
    )
    assert blacklist.add_for_follow_up(task, sales).id == entry.id  # once only
    count = db.session.scalar(
        select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "blacklist.added")
    )
    assert count == 1

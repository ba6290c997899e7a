"""The follow-up audit's daily figures (follow_up_days) stay equal to the tasks they count,
whatever the services do to the tasks, and the audit reads from them exactly the figures it
computed from the tasks themselves."""

from collections import defaultdict
from datetime import date, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import case, func, select, update

from app import shop_calendar
from app.assignment import services as assignment
from app.customers import services as customers
from app.extensions import db
from app.followup_audit import services as audit
from app.followup_audit.services import Period, Tally
from app.followups import daily_figures
from app.followups import services as followups
from app.models import (
    Customer,
    FollowUp,
    FollowUpDay,
    FollowUpState,
    FollowUpStatus,
    Outcome,
    Role,
    User,
    utcnow,
)
from app.shop_calendar import week_of

# --- the references: counted from the tasks ---------------------------------------------------


def stored() -> set[tuple]:
    """The table's rows that count something (a day can drop to all zeros)."""
    rows = db.session.execute(
        select(
            FollowUpDay.due_on,
            FollowUpDay.assignee_id,
            FollowUpDay.week,
            FollowUpDay.due,
            FollowUpDay.done,
            FollowUpDay.on_time,
            FollowUpDay.ordered,
            FollowUpDay.days_late,
        )
    )
    return {tuple(row) for row in rows if any(row[3:])}


def recounted() -> set[tuple]:
    """The same, counted from the tasks as they are now."""
    rows = db.session.execute(daily_figures.from_tasks())
    return {(day, person, week_of(day), *figures) for day, person, *figures in rows}


def live(period: Period, today: date) -> tuple[dict[int, Tally], dict[int, list[float | None]]]:
    """Each person's figures and weekly on-time rates of the period, from the tasks themselves:
    how the audit computed them before it had the daily figures."""
    rows = db.session.execute(
        select(
            FollowUp.assignee_id,
            FollowUp.due_on,
            FollowUp.status,
            func.count(),
            func.count(case((FollowUp.days_late == 0, 1))),
            func.count(case((FollowUp.outcome == Outcome.ORDERED, 1))),
            func.coalesce(func.sum(FollowUp.days_late), 0),
        )
        .where(audit.in_period(period))
        .group_by(FollowUp.due_on, FollowUp.assignee_id, FollowUp.status)
    )
    people: dict[int, Tally] = defaultdict(Tally)
    weekly: dict[int, dict[date, Tally]] = defaultdict(lambda: defaultdict(Tally))
    for person, day, status, count, on_time, ordered, days_late in rows:
        if status == FollowUpStatus.DONE:
            tally = Tally(
                due=count, done=count, on_time=on_time, late=count - on_time, ordered=ordered, days_late=days_late
            )
        else:
            tally = Tally(due=count, overdue=count if day < today else 0)
        people[person] += tally
        weekly[person][week_of(day)] += tally
    weeks = audit.weeks_of(period)
    rates = {person: [weekly[person][week].on_time_rate for week in weeks] for person in people}
    return dict(people), rates


def assert_the_audit_reads_what_the_tasks_say(today: date) -> None:
    assert stored() == recounted()
    for person in [None, *db.session.scalars(select(User.id))]:  # the audit's customers: the pager's total
        tasks = select(func.count()).where(FollowUp.status == FollowUpStatus.OPEN)
        if person is not None:
            tasks = tasks.where(FollowUp.assignee_id == person)
        assert audit.open_tasks(person) == db.session.scalar(tasks)
    first, last = db.session.execute(select(func.min(FollowUp.due_on), func.max(FollowUp.due_on))).one()
    if first is None:
        return
    periods = [
        Period(first, last),
        Period(today - timedelta(days=27), today),
        Period(first + timedelta(days=3), today + timedelta(days=9)),  # from mid-week, into the future
        Period(today, today),
    ]
    for period in periods:
        s = audit.summary(period, today)
        people, rates = live(period, today)
        assert {row.person.id: row.tally for row in s.rows} == people
        assert {row.person.id: row.weekly for row in s.rows} == rates
        assert s.total == sum(people.values(), Tally())
        for which in audit.WHICH:  # the drill-down's total is the figure, and lists that many tasks
            for person in [None, *people]:
                query = audit.task_query(period, today, which, person)
                listed = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
                assert query.get_execution_options()["known_total"] == listed


# --- a working month through the services -----------------------------------------------------


def shop_moment(day: date, hour: int) -> datetime:
    return shop_calendar.day_start(day) + timedelta(hours=hour)


def open_task(customer_id: int) -> FollowUp | None:
    db.session.expire_all()
    return followups.open_task_of(customer_id)


@pytest.fixture
def staff(make_user):
    return {
        "boss": make_user(Role.SUPERVISOR, display_name="Boss"),
        "ann": make_user(Role.SALES, display_name="Ann"),
        "ben": make_user(Role.SALES, display_name="Ben"),
        "cat": make_user(Role.SALES, display_name="Cat"),
    }


def test_a_month_of_work_keeps_the_figures_equal_to_the_tasks(app, staff, make_customer):
    boss, ann, ben, cat = staff["boss"], staff["ann"], staff["ben"], staff["cat"]
    today = shop_calendar.today()
    start = today - timedelta(days=40)
    people = [make_customer() for _ in range(24)]
    ids = [c.id for c in people]

    # Assigned 40 days ago: first tasks a week later.
    followups.assign(ids[:12], ann, boss, now=shop_moment(start, 10))
    followups.assign(ids[12:20], ben, boss, now=shop_moment(start, 11))
    db.session.commit()
    assert_the_audit_reads_what_the_tasks_say(today)

    # Ann works her tasks: on the day, late, early; some end in an order, one in "do not contact".
    outcomes = [Outcome.ORDERED, Outcome.NO_ANSWER, Outcome.INTERESTED, Outcome.NOT_INTERESTED, Outcome.DO_NOT_CONTACT]
    for n, customer_id in enumerate(ids[:10]):
        task = open_task(customer_id)
        done_on = task.due_on + timedelta(days=(0, 3, -1, 1, 0)[n % 5])
        followups.record_outcome(task, outcomes[n % 5], "phone", None, ann, now=shop_moment(done_on, 15))
        db.session.commit()
    # Ben does one, two weeks late; a next task follows it.
    task = open_task(ids[12])
    followups.record_outcome(
        task, Outcome.NO_ANSWER, "wechat", "没接", ben, now=shop_moment(task.due_on + timedelta(14), 9)
    )
    db.session.commit()
    assert_the_audit_reads_what_the_tasks_say(today)

    # Customers change hands (their open tasks with them), some are left to nobody (cancelled).
    followups.assign(ids[2:6], ben, boss)
    followups.assign(ids[6:8], None, boss)
    followups.assign(ids[20:22], cat, boss)  # first tasks for Cat
    db.session.commit()
    assert_the_audit_reads_what_the_tasks_say(today)

    # Two records of one person merged: of two open tasks one is cancelled; a kept record without
    # an open task (stopped: do not contact) takes the other's, for its own owner.
    customers.merge(db.session.get(Customer, ids[13]), db.session.get(Customer, ids[14]), boss)
    stopped = db.session.get(Customer, ids[4])
    assert stopped.follow_up_state == FollowUpState.STOPPED
    customers.merge(stopped, db.session.get(Customer, ids[20]), boss)  # Cat's task, now Ben's
    db.session.commit()
    assert_the_audit_reads_what_the_tasks_say(today)

    # A stopped customer brought back; new customers from an import get their first tasks.
    followups.bring_back(db.session.get(Customer, ids[9]), boss)
    for _ in range(3):
        make_customer(owner=cat)
    followups.open_first_tasks()
    db.session.commit()
    assert_the_audit_reads_what_the_tasks_say(today)

    # Ben leaves: his customers go to the others; Ann's to Cat.
    assignment.hand_over(ben, assignment.Handover.SPREAD, None, boss)
    assignment.hand_over(ann, assignment.Handover.PERSON, cat, boss)
    db.session.commit()
    assert_the_audit_reads_what_the_tasks_say(today)
    assert db.session.scalar(select(func.sum(FollowUpDay.due)).where(FollowUpDay.assignee_id == ben.id)) == 1


def test_a_task_left_with_someone_who_leaves_is_cancelled_or_goes_to_its_owner(app, staff, make_customer):
    """A kept record without an owner takes the other's open task, still its old owner's
    (who cannot take customers any more); their hand-over cancels it."""
    boss, ann = staff["boss"], staff["ann"]
    kept, other = make_customer(), make_customer()
    followups.assign([other.id], ann, boss)
    db.session.commit()
    ann.active = False
    customers.merge(kept, other, boss)
    db.session.commit()
    assert open_task(kept.id).assignee_id == ann.id
    assignment.hand_over(ann, assignment.Handover.UNASSIGN, None, boss)
    db.session.commit()
    assert open_task(kept.id) is None
    assert_the_audit_reads_what_the_tasks_say(shop_calendar.today())


def test_the_rebuild_counts_tasks_written_behind_the_services_back(app, staff, make_customer):
    boss, ann = staff["boss"], staff["ann"]
    followups.assign([make_customer().id for _ in range(3)], ann, boss, now=utcnow() - timedelta(days=20))
    db.session.execute(update(FollowUp).values(assignee_id=staff["cat"].id))  # as a bulk load would
    db.session.commit()
    assert stored() != recounted()
    assert daily_figures.rebuild() == len(recounted())
    db.session.commit()
    assert_the_audit_reads_what_the_tasks_say(shop_calendar.today())


def test_the_command_counts_the_figures_again(app, staff, make_customer):
    followups.assign([make_customer().id], staff["ann"], staff["boss"])
    db.session.execute(FollowUpDay.__table__.delete())
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["rebuild-follow-up-figures"])
    assert result.exit_code == 0, result.output
    assert "1 days of follow-up figures counted again." in result.output
    assert stored() == recounted() != set()


# --- random sequences of the same operations --------------------------------------------------

operations = st.lists(
    st.tuples(
        st.sampled_from(["assign", "unassign", "record", "merge", "hand_over", "bring_back", "import"]),
        st.integers(0, 10_000),
        st.integers(-3, 12),
    ),
    min_size=1,
    max_size=14,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(operations)
def test_any_sequence_of_operations_keeps_the_figures_equal_to_the_tasks(app, staff, make_customer, steps):
    boss, sales = staff["boss"], [staff["ann"], staff["ben"], staff["cat"]]
    today = shop_calendar.today()
    now = shop_moment(today - timedelta(days=30), 10)
    pool = [make_customer().id for _ in range(8)]
    for kind, pick, days in steps:
        now += timedelta(days=abs(days) % 4, hours=3)
        customer_id = pool[pick % len(pool)]
        person = sales[pick % 3]
        if kind == "assign":
            followups.assign(pool[pick % 5 : pick % 5 + 3], person, boss, now=now)
        elif kind == "unassign":
            followups.assign([customer_id], None, boss, now=now)
        elif kind == "record" and (task := open_task(customer_id)) is not None:
            outcome = list(Outcome)[pick % len(Outcome)]
            done_at = max(shop_moment(task.due_on + timedelta(days=days), 12), task.created_at)
            followups.record_outcome(task, outcome, "phone", None, person, now=done_at)
        elif kind == "merge" and len(pool) > 2:
            other_id = pool[(pick + 1) % len(pool)]
            if other_id != customer_id:
                customers.merge(
                    db.session.get(Customer, customer_id), db.session.get(Customer, other_id), boss, now=now
                )
                pool.remove(other_id)
        elif kind == "hand_over":
            how = list(assignment.Handover)[pick % 3]
            to = sales[(pick + 1) % 3] if how == assignment.Handover.PERSON else None
            assignment.hand_over(person, how, to, boss, now=now)
        elif kind == "bring_back":
            followups.bring_back(db.session.get(Customer, customer_id), boss, now=now)
        elif kind == "import":
            pool.append(make_customer(owner=person).id)
            followups.open_first_tasks(now=now)
        db.session.commit()
    assert_the_audit_reads_what_the_tasks_say(today)


def test_people_without_a_counted_task_are_not_listed(app, staff, make_customer):
    """A day whose tasks all moved away stays in the table with zeros, and counts for nobody."""
    boss, ann, ben = staff["boss"], staff["ann"], staff["ben"]
    customer = make_customer()
    followups.assign([customer.id], ann, boss)
    followups.assign([customer.id], ben, boss)
    db.session.commit()
    task = open_task(customer.id)
    zero = db.session.get(FollowUpDay, (week_of(task.due_on), ann.id, task.due_on))
    assert (zero.due, zero.done) == (0, 0)
    s = audit.summary(Period(task.due_on, task.due_on), shop_calendar.today())
    assert [row.person for row in s.rows] == [db.session.get(User, ben.id)]

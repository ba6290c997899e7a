"""Follow-up tasks in the database: opening, moving, completing them (SPEC §5), and the
ownership rule (a customer's open task goes with them when their owner changes).

The rules themselves are in app.followups.cycles; this module applies its decisions to
customers and tasks, and writes each change to the audit log. Nothing here commits: the
caller commits the whole change at once, or rolls it back.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import Row, and_, bindparam, case, func, insert, or_, select, tuple_, update

from .. import audit_log
from ..extensions import db
from ..models import (
    PAID_STATUSES,
    AuditAction,
    AuditEntry,
    Customer,
    FollowUp,
    FollowUpState,
    FollowUpStatus,
    Order,
    Role,
    SmsReply,
    User,
    utcnow,
)
from ..shop_calendar import day_start, due_on, shop_zone, today
from . import cycles, daily_figures
from .cycles import Bucket, CycleSettings, Decision, Outcome, Plan

CHUNK = 500  # customers per statement: well under SQLite's limit on bound parameters


class AlreadyRecorded(Exception):
    """Someone recorded this task's outcome first (or it was moved or cancelled meanwhile)."""

    def __init__(self, task: FollowUp):
        super().__init__(task.id)
        self.task = task


class AssignmentError(Exception):
    """Why customers cannot be assigned; nothing is written."""


class UnknownCustomers(AssignmentError):
    def __init__(self, ids: list[int]):
        super().__init__(ids)
        self.ids = ids


class NotASalesPerson(AssignmentError):
    """Customers go to active sales staff only."""


def settings() -> CycleSettings:
    return CycleSettings.from_config(current_app.config)


def task_values(plan: Plan) -> dict:
    # due_on: the day the timeline shows, in the shop's calendar.
    return {
        "cycle": plan.cycle,
        "kind": str(plan.kind),
        "due_at": plan.due_at.isoformat(timespec="seconds"),
        "due_on": due_on(plan.due_at).isoformat(),
    }


def open_task(customer: Customer, plan: Plan, actor: User | None = None, now: datetime | None = None) -> FollowUp:
    """Open the customer's next task, for their owner."""
    task = FollowUp(
        customer_id=customer.id,
        assignee_id=customer.owner_id,
        cycle=plan.cycle,
        kind=plan.kind,
        due_at=plan.due_at,
        due_on=due_on(plan.due_at),
        status=FollowUpStatus.OPEN,
        created_at=now or utcnow(),
    )
    db.session.add(task)
    daily_figures.update(added=[daily_figures.of(task)])
    customer.cycle = plan.cycle
    audit_log.record(
        AuditAction.FOLLOW_UP_OPENED,
        customer_id=customer.id,
        after=task_values(plan) | {"assignee_id": customer.owner_id},
        actor=actor,
        at=now,
    )
    return task


def open_task_of(customer_id: int, lock: bool = False) -> FollowUp | None:
    """The customer's open task; `lock`: locked until the transaction ends, to be changed."""
    query = select(FollowUp).where(FollowUp.customer_id == customer_id, FollowUp.status == FollowUpStatus.OPEN)
    if lock:  # and read as it is now, should this session hold an older copy
        query = query.with_for_update().execution_options(populate_existing=True)
    return db.session.scalar(query)


def start(customer: Customer, actor: User | None = None, now: datetime | None = None) -> FollowUp | None:
    """Open the customer's task if they are owned, followed up, and have none open."""
    if customer.owner_id is None or customer.follow_up_state != FollowUpState.ACTIVE:
        return None
    if open_task_of(customer.id) is not None:
        return None
    plan = cycles.first_task(
        now or utcnow(), customer.last_paid_at, lost=False, s=settings(), last_cycle=customer.cycle
    )
    return open_task(customer, plan, actor, now)


@dataclass
class MovedFollowUps:
    moved: int  # tasks of every status now the kept customer's
    cancelled: int | None  # the id of the open task cancelled: both customers had one
    took_open: bool  # the kept customer had no open task and took the other's


def move_follow_ups(from_id: int, to_id: int, actor: User | None) -> MovedFollowUps:
    """The follow-ups of a customer merged into another move to it, their history with them.
    Of two open tasks, the kept customer's stays and the other's is cancelled; a kept customer
    without one takes the other's, for the kept customer's owner (if they have one)."""
    kept_open, other_open = open_task_of(to_id, lock=True), open_task_of(from_id, lock=True)
    cancelled = None
    if kept_open is not None and other_open is not None:
        daily_figures.update(removed=[daily_figures.of(other_open)])
        other_open.status = FollowUpStatus.CANCELLED
        audit_log.record(
            AuditAction.FOLLOW_UP_CANCELLED, customer_id=to_id, after={"cycle": other_open.cycle}, actor=actor
        )
        cancelled = other_open.id
        db.session.flush()  # before the move: one open task per customer
    moved = db.session.execute(
        update(FollowUp)
        .where(FollowUp.customer_id == from_id)
        .values(customer_id=to_id)
        .execution_options(synchronize_session=False)
    ).rowcount
    took_open = kept_open is None and other_open is not None
    owner_id = db.session.scalar(select(Customer.owner_id).where(Customer.id == to_id))
    if took_open and owner_id is not None and other_open.assignee_id != owner_id:
        daily_figures.update(
            added=[daily_figures.Counted(owner_id, other_open.due_on)],
            removed=[daily_figures.Counted(other_open.assignee_id, other_open.due_on)],
        )
        db.session.execute(
            update(FollowUp)
            .where(FollowUp.id == other_open.id)
            .values(assignee_id=owner_id)
            .execution_options(synchronize_session=False)
        )
    return MovedFollowUps(moved, cancelled, took_open)


# --- the ownership rule ------------------------------------------------------------------------


@dataclass
class Assigned:
    changed: int
    unchanged: int  # already the owner's


def _open_cycle():
    return (
        select(FollowUp.cycle)
        .where(FollowUp.customer_id == Customer.id, FollowUp.status == FollowUpStatus.OPEN)
        .scalar_subquery()
    )


def owner_rows(ids: list[int]) -> list:
    """What assignment needs to know of each customer, locked until the transaction ends."""
    rows = []
    for start_at in range(0, len(ids), CHUNK):
        rows += db.session.execute(
            select(
                Customer.id,
                Customer.owner_id,
                Customer.follow_up_state,
                Customer.last_paid_at,
                Customer.cycle,
                _open_cycle().label("open_cycle"),
            )
            .where(Customer.id.in_(ids[start_at : start_at + CHUNK]))
            .with_for_update(of=Customer)
        ).all()
    return rows


def brings_task(row) -> bool:
    """Whether the customer (an owner_rows row) will have an open follow-up once someone owns them."""
    return row.open_cycle is not None or row.follow_up_state == FollowUpState.ACTIVE


def assign(customer_ids, owner: User | None, actor: User | None, now: datetime | None = None) -> Assigned:
    """Give the customers to `owner` (None: to nobody): every change of owner comes here,
    for one customer or thousands (set-based, a few statements per chunk of customers).

    Each open follow-up moves with its customer, or is cancelled when nobody owns them; a
    followed-up customer without one gets their first. Raises UnknownCustomers, before
    writing anything, if an id is not a customer's, and NotASalesPerson if `owner` cannot
    take customers (unless they own them all already).
    """
    ids = sorted(set(customer_ids))
    rows = owner_rows(ids)
    missing = set(ids) - {row.id for row in rows}
    if missing:
        raise UnknownCustomers(sorted(missing))
    owner_id, now = (owner.id if owner else None), now or utcnow()
    changing = [row for row in rows if row.owner_id != owner_id]
    if changing and owner is not None and not (owner.role == Role.SALES and owner.active):
        raise NotASalesPerson(owner.id)
    for start_at in range(0, len(changing), CHUNK):
        _write_owner(changing[start_at : start_at + CHUNK], owner_id, actor, now)
    return Assigned(changed=len(changing), unchanged=len(rows) - len(changing))


def _write_owner(rows: list, owner_id: int | None, actor: User | None, now: datetime) -> None:
    ids = [row.id for row in rows]
    entry = {"at": now, "actor_id": actor.id if actor else None}
    entries = [
        entry
        | {
            "action": AuditAction.OWNER_CHANGED,
            "customer_id": row.id,
            "before": {"owner_id": row.owner_id},
            "after": {"owner_id": owner_id},
        }
        for row in rows
    ]
    starting = (
        []
        if owner_id is None
        else [row for row in rows if row.open_cycle is None and row.follow_up_state == FollowUpState.ACTIVE]
    )
    values = {"owner_id": owner_id}
    if starting:
        # first_task continues the count: the new task's cycle is the customer's last one plus one.
        values["cycle"] = case(
            (Customer.id.in_([row.id for row in starting]), Customer.cycle + 1), else_=Customer.cycle
        )
    db.session.execute(
        update(Customer).where(Customer.id.in_(ids)).values(values).execution_options(synchronize_session=False)
    )
    is_open = (FollowUp.customer_id.in_(ids), FollowUp.status == FollowUpStatus.OPEN)
    # Locked: the figures take off exactly the tasks the update below moves or cancels.
    leaving = [
        daily_figures.Counted(*row)
        for row in db.session.execute(select(FollowUp.assignee_id, FollowUp.due_on).where(*is_open).with_for_update())
    ]
    open_tasks = update(FollowUp).where(*is_open)
    if owner_id is None:
        db.session.execute(
            open_tasks.values(status=FollowUpStatus.CANCELLED).execution_options(synchronize_session=False)
        )
        daily_figures.update(removed=leaving)
        entries += [
            entry
            | {"action": AuditAction.FOLLOW_UP_CANCELLED, "customer_id": row.id, "after": {"cycle": row.open_cycle}}
            for row in rows
            if row.open_cycle is not None
        ]
    else:
        db.session.execute(open_tasks.values(assignee_id=owner_id).execution_options(synchronize_session=False))
        daily_figures.update(added=[task._replace(assignee_id=owner_id) for task in leaving], removed=leaving)
        if starting:
            entries += insert_first_tasks(
                [(row.id, owner_id, row.last_paid_at, row.cycle) for row in starting], now, entry
            )
    db.session.execute(insert(AuditEntry), entries)


# --- outcomes ----------------------------------------------------------------------------------


@dataclass
class Recorded:
    task: FollowUp
    decision: Decision
    next_task: FollowUp | None


def record_outcome(
    task: FollowUp, outcome: Outcome, channel: str, note: str | None, actor: User, now: datetime | None = None
) -> Recorded:
    """Complete an open task with its outcome and open the next one, as the cycle rules say.

    The task is closed by a conditional UPDATE (... WHERE status = 'open'): of two people
    recording at once, one closes it and the other gets AlreadyRecorded, never a second
    next task (the one-open-task index would refuse it anyway).
    """
    now = now or utcnow()
    late = cycles.days_late(task.due_at, now, shop_zone())
    closed = db.session.execute(
        update(FollowUp)
        .where(FollowUp.id == task.id, FollowUp.status == FollowUpStatus.OPEN)
        .values(
            status=FollowUpStatus.DONE,
            outcome=outcome,
            channel=channel,
            note=note or None,
            completed_by_id=actor.id,
            completed_at=now,
            days_late=late,
        )
        .execution_options(synchronize_session=False)
    )
    if closed.rowcount != 1:
        db.session.refresh(task)  # as the other person left it, to say who and what
        raise AlreadyRecorded(task)
    db.session.refresh(task)
    # The task as it was: open, the same person's, due the same day (the update held its row).
    daily_figures.update(added=[daily_figures.of(task)], removed=[daily_figures.Counted(task.assignee_id, task.due_on)])
    customer = task.customer
    decision = cycles.after_outcome(outcome, task.cycle, customer.unconverted_streak, now, settings())
    audit_log.record(
        AuditAction.FOLLOW_UP_RECORDED,
        customer_id=customer.id,
        actor=actor,
        at=now,
        before={"cycle": task.cycle, "kind": task.kind},
        after={"outcome": str(outcome), "channel": channel, "note": note or None, "days_late": late},
    )
    customer.unconverted_streak = decision.unconverted_streak
    customer.last_contact_at = now
    if decision.lost:
        _set_state(customer, FollowUpState.LOST, actor, now)
    elif outcome == Outcome.DO_NOT_CONTACT:
        _set_state(customer, FollowUpState.STOPPED, actor, now)
    next_task = None
    if decision.next_task and customer.owner_id is not None:
        next_task = open_task(customer, decision.next_task, actor, now)
    db.session.flush()
    return Recorded(task, decision, next_task)


def _set_state(customer: Customer, state: FollowUpState, actor: User | None, now: datetime | None = None) -> None:
    audit_log.record(
        AuditAction.FOLLOW_UP_STATE_CHANGED,
        customer_id=customer.id,
        before={"follow_up_state": customer.follow_up_state},
        after={"follow_up_state": str(state)},
        actor=actor,
        at=now,
    )
    customer.follow_up_state = state


def bring_back(customer: Customer, actor: User, now: datetime | None = None) -> FollowUp | None:
    """A supervisor brings a lost (or stopped) customer back into the cycles with a win-back task."""
    if customer.follow_up_state == FollowUpState.ACTIVE:
        return None
    _set_state(customer, FollowUpState.ACTIVE, actor)
    customer.unconverted_streak = 0
    if customer.owner_id is None:
        return None  # a task opens when someone is assigned
    plan = cycles.first_task(now or utcnow(), customer.last_paid_at, lost=True, s=settings(), last_cycle=customer.cycle)
    return open_task(customer, plan, actor)


def open_first_tasks(now: datetime | None = None, batch: int = 5000) -> int:
    """Open the first task of every owned customer never followed up (imported ones, say).

    Set-based, for tens of thousands of customers at once; run after the segments are
    recomputed, since a buyer's first revisit depends on their last paid order.
    """
    now = now or utcnow()
    has_task = select(FollowUp.id).where(FollowUp.customer_id == Customer.id).exists()
    query = (
        select(Customer.id, Customer.owner_id, Customer.last_paid_at)
        .where(
            Customer.owner_id.is_not(None),
            Customer.cycle == 0,
            Customer.follow_up_state == FollowUpState.ACTIVE,
            ~has_task,
        )
        .order_by(Customer.id)
    )
    rows = db.session.execute(query).all()
    for start_at in range(0, len(rows), batch):
        chunk = rows[start_at : start_at + batch]
        entries = insert_first_tasks(
            [(cid, owner_id, last_paid_at, 0) for cid, owner_id, last_paid_at in chunk], now, {"at": now}
        )
        db.session.execute(
            update(Customer)
            .where(Customer.id.in_([row[0] for row in chunk]))
            .values(cycle=1)
            .execution_options(synchronize_session=False)
        )
        db.session.execute(insert(AuditEntry), entries)
    return len(rows)


def insert_first_tasks(
    customers: list[tuple[int, int, datetime | None, int]], now: datetime, entry: dict
) -> list[dict]:
    """Insert the first task of each (customer id, owner id, last paid at, last cycle), as
    `start` opens one; returns their audit entries (`entry` holds what they share), to insert
    with the caller's other entries. The caller moves the customers' cycle on."""
    s = settings()
    tasks, entries = [], []
    for customer_id, owner_id, last_paid_at, last_cycle in customers:
        plan = cycles.first_task(now, last_paid_at, lost=False, s=s, last_cycle=last_cycle)
        tasks.append(
            {
                "customer_id": customer_id,
                "assignee_id": owner_id,
                "cycle": plan.cycle,
                "kind": str(plan.kind),
                "due_at": plan.due_at,
                "due_on": due_on(plan.due_at),
                "status": FollowUpStatus.OPEN,
                "created_at": now,
            }
        )
        entries.append(
            entry
            | {
                "action": AuditAction.FOLLOW_UP_OPENED,
                "customer_id": customer_id,
                "after": task_values(plan) | {"assignee_id": owner_id},
            }
        )
    db.session.execute(insert(FollowUp), tasks)
    daily_figures.update(added=[daily_figures.Counted(t["assignee_id"], t["due_on"]) for t in tasks])
    return entries


# --- the queue -------------------------------------------------------------------------------


def day_starts(now: datetime) -> dict[Bucket, datetime]:
    """The UTC moments where each queue section ends: overdue before today's start, and so on."""
    day = today(now)
    return {
        Bucket.OVERDUE: day_start(day),
        Bucket.TODAY: day_start(day + timedelta(days=1)),
        Bucket.THIS_WEEK: day_start(day + timedelta(days=7)),
    }


def _counts_statement():
    due, today, tomorrow = FollowUp.due_at, bindparam("today"), bindparam("tomorrow")
    return select(
        func.count(case((due < today, 1))),
        func.count(case((and_(due >= today, due < tomorrow), 1))),
        func.count(case((due >= tomorrow, 1))),
    ).where(
        FollowUp.assignee_id == bindparam("assignee_id"),
        FollowUp.status == FollowUpStatus.OPEN,
        FollowUp.due_at < bindparam("next_week"),
    )


_COUNTS = _counts_statement()  # built once: the counters are asked for again after each outcome


def queue_counts(assignee_id: int, now: datetime) -> dict[Bucket, int]:
    """How many open tasks of the person are overdue, due today, due later this week."""
    ends = day_starts(now)
    params = {
        "assignee_id": assignee_id,
        "today": ends[Bucket.OVERDUE],
        "tomorrow": ends[Bucket.TODAY],
        "next_week": ends[Bucket.THIS_WEEK],
    }
    row = db.session.execute(_COUNTS, params).one()
    return dict(zip((Bucket.OVERDUE, Bucket.TODAY, Bucket.THIS_WEEK), row))


def queue_section(assignee_id: int, section: Bucket, now: datetime):
    """The open tasks of one queue section, oldest due first (a query to page through)."""
    ends = day_starts(now)
    bounds = {
        Bucket.OVERDUE: (None, ends[Bucket.OVERDUE]),
        Bucket.TODAY: (ends[Bucket.OVERDUE], ends[Bucket.TODAY]),
        Bucket.THIS_WEEK: (ends[Bucket.TODAY], ends[Bucket.THIS_WEEK]),
    }[section]
    query = select(FollowUp).where(
        FollowUp.assignee_id == assignee_id, FollowUp.status == FollowUpStatus.OPEN, FollowUp.due_at < bounds[1]
    )
    if bounds[0] is not None:
        query = query.where(FollowUp.due_at >= bounds[0])
    return query.order_by(FollowUp.due_at, FollowUp.id)


def queue_people() -> list[User]:
    """Whose queue a supervisor may open: the active sales staff, and anyone else with open tasks."""
    has_open = select(FollowUp.id).where(FollowUp.assignee_id == User.id, FollowUp.status == FollowUpStatus.OPEN)
    return list(
        db.session.scalars(
            select(User)
            .where(or_(and_(User.role == Role.SALES, User.active), has_open.exists()))
            .order_by(User.display_name)
        )
    )


@dataclass
class Card:
    """One task of the queue with what the sales person needs at hand to make the call."""

    # The open task and its customer, as one row: id, customer_id, cycle, kind, due_at,
    # due_on, name, phone, nickname (the customer's), last_paid_at, last_contact_at.
    task: Row
    last: Row | None  # the customer's last completed task: outcome, channel, note, completed_at, completed_by (a name)
    orders: list[Row]  # the customer's last three orders, newest first: created_at, amount, status, paid_at
    days_overdue: int
    new_order: bool  # a paid order came after the last contact
    # SMS the customer sent back since the last contact (opt-outs left out: the number is
    # blacklisted and the timeline says so), newest first: body, received_at.
    replies: list[Row] = field(default_factory=list)


# Cards per section and per "Show more": a day's work starts at the top, and each card costs
# about 0.3 ms to build and draw (bench/README.md).
CARDS_AT_ONCE = 10
REPLIES_ON_A_CARD = 3  # the newest replies since the last contact; the timeline has them all

# A card's task and customer, read as plain rows: building a model object for each, and a
# new statement for each read, cost more than the queries themselves (bench/README.md).
_CARD_TASKS = select(
    FollowUp.id,
    FollowUp.customer_id,
    FollowUp.cycle,
    FollowUp.kind,
    FollowUp.due_at,
    FollowUp.due_on,
    Customer.name,
    Customer.phone,
    Customer.nickname,
    Customer.last_paid_at,
    Customer.last_contact_at,
).join(Customer, Customer.id == FollowUp.customer_id)


def _section_statement(section: Bucket, after: bool):
    """The statement of a page of a section's cards, built once for each (section, after)."""
    query = _CARD_TASKS.where(
        FollowUp.assignee_id == bindparam("assignee_id"),
        FollowUp.status == FollowUpStatus.OPEN,
        FollowUp.due_at < bindparam("end"),
    )
    if section != Bucket.OVERDUE:
        query = query.where(FollowUp.due_at >= bindparam("start"))
    if after:
        query = query.where(
            tuple_(FollowUp.due_at, FollowUp.id)
            > tuple_(bindparam("after_due", type_=FollowUp.due_at.type), bindparam("after_id"))
        )
    return query.order_by(FollowUp.due_at, FollowUp.id).limit(bindparam("size"))


_SECTION_STATEMENTS = {
    (section, after): _section_statement(section, after)
    for section in (Bucket.OVERDUE, Bucket.TODAY, Bucket.THIS_WEEK)
    for after in (False, True)
}


def queue_cards(
    assignee_id: int, section: Bucket, now: datetime, after_id: int | None = None, size: int = CARDS_AT_ONCE
) -> tuple[list[Card], bool]:
    """The next `size` cards of a queue section after the task `after_id`, and whether more follow.

    Paged by position (due time, id) rather than by page number: recorded cards leave the
    section, which would shift a numbered page past cards not yet seen.
    """
    return queue_pages(assignee_id, [section], now, {section: after_id} if after_id else None, size)[section]


def queue_pages(
    assignee_id: int, sections, now: datetime, after: dict | None = None, size: int = CARDS_AT_ONCE
) -> dict[Bucket, tuple[list[Card], bool]]:
    """queue_cards of several sections at once: the cards' customers' histories are read
    together, in three statements for the whole page."""
    ends = day_starts(now)
    starts = {Bucket.TODAY: ends[Bucket.OVERDUE], Bucket.THIS_WEEK: ends[Bucket.TODAY]}
    pages = {}
    for section in sections:
        params = {"assignee_id": assignee_id, "end": ends[section], "start": starts.get(section), "size": size + 1}
        after_id = (after or {}).get(section)
        after_due = None
        if after_id is not None:
            after_due = db.session.execute(_AFTER_DUE, {"after_id": after_id}).scalar()
        if after_due is not None:
            params |= {"after_due": after_due, "after_id": after_id}
        rows = db.session.execute(_SECTION_STATEMENTS[section, after_due is not None], params).all()
        pages[section] = rows
    cards = _cards([row for rows in pages.values() for row in rows[:size]], now)
    return {section: ([cards[row.id] for row in rows[:size]], len(rows) > size) for section, rows in pages.items()}


_AFTER_DUE = select(FollowUp.due_at).where(FollowUp.id == bindparam("after_id"))
_TASKS_BY_ID = _CARD_TASKS.where(FollowUp.id.in_(bindparam("ids", expanding=True)))


def cards_of(task_ids: list[int], now: datetime) -> list[Card]:
    """Cards for the tasks `task_ids` (in that order), in four queries whatever their number."""
    rows = {row.id: row for row in db.session.execute(_TASKS_BY_ID, {"ids": list(task_ids)})}
    cards = _cards(list(rows.values()), now)
    return [cards[task_id] for task_id in task_ids if task_id in cards]


def _ranked(model, columns: tuple, order_by: tuple, *conditions):
    """Each customer's rows of `model` numbered newest first (`columns` and rank): ROW_NUMBER,
    one query for all. The columns are read here rather than by joining the numbered ids back
    to the table: that read each row twice, and most were not in SQLite's page cache."""
    rank = func.row_number().over(partition_by=model.customer_id, order_by=order_by).label("rank")
    ids = bindparam("customer_ids", expanding=True)
    return select(*columns, rank).where(model.customer_id.in_(ids), *conditions).subquery()


def _last_done_statement():
    ranked = _ranked(
        FollowUp,
        (
            FollowUp.customer_id,
            FollowUp.outcome,
            FollowUp.channel,
            FollowUp.note,
            FollowUp.completed_at,
            FollowUp.completed_by_id,
        ),
        (FollowUp.completed_at.desc(), FollowUp.id.desc()),
        FollowUp.status == FollowUpStatus.DONE,
    )
    return (
        select(
            ranked.c.customer_id,
            ranked.c.outcome,
            ranked.c.channel,
            ranked.c.note,
            ranked.c.completed_at,
            User.display_name.label("completed_by"),
        )
        .outerjoin(User, User.id == ranked.c.completed_by_id)
        .where(ranked.c.rank == 1)
    )


def _orders_statement():
    columns = (Order.customer_id, Order.created_at, Order.amount, Order.status, Order.paid_at)
    ranked = _ranked(Order, columns, (Order.created_at.desc(), Order.id.desc()))
    return (
        select(*(ranked.c[column.key] for column in columns))
        .where(ranked.c.rank <= 3)
        .order_by(ranked.c.customer_id, ranked.c.rank)
    )


def _replies_statement():
    columns = (SmsReply.customer_id, SmsReply.body, SmsReply.received_at)
    ranked = _ranked(
        SmsReply, columns, (SmsReply.received_at.desc(), SmsReply.id.desc()), SmsReply.opted_out.is_(False)
    )
    return (
        select(*(ranked.c[column.key] for column in columns))
        .where(ranked.c.rank <= REPLIES_ON_A_CARD)
        .order_by(ranked.c.customer_id, ranked.c.rank)
    )


_LAST_DONE, _ORDERS, _REPLIES = _last_done_statement(), _orders_statement(), _replies_statement()


def _cards(tasks: list[Row], now: datetime) -> dict[int, Card]:
    """The cards of `tasks` (rows of _CARD_TASKS) by task id: each customer's last contact,
    last orders and replies read for all of them at once, as plain rows."""
    customer_ids = list({task.customer_id for task in tasks})
    last_done, orders, replies = {}, {}, {}
    if customer_ids:
        params = {"customer_ids": customer_ids}
        last_done = {row.customer_id: row for row in db.session.execute(_LAST_DONE, params)}
        for row in db.session.execute(_ORDERS, params):
            orders.setdefault(row.customer_id, []).append(row)
        for row in db.session.execute(_REPLIES, params):
            replies.setdefault(row.customer_id, []).append(row)
    zone = shop_zone()
    cards = {}
    for task in tasks:
        recent = orders.get(task.customer_id, [])
        # The recent orders may be newer than the figures the nightly recompute keeps.
        paid = [o.paid_at for o in recent if o.paid_at is not None and o.status in PAID_STATUSES]
        if task.last_paid_at:
            paid.append(task.last_paid_at)
        since = task.last_contact_at
        new_order = bool(paid) and since is not None and max(paid) > since
        cards[task.id] = Card(
            task=task,
            last=last_done.get(task.customer_id),
            orders=recent,
            days_overdue=cycles.days_late(task.due_at, now, zone),
            new_order=new_order,
            replies=[r for r in replies.get(task.customer_id, []) if since is None or r.received_at > since],
        )
    return cards

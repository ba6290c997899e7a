"""Assignment: giving customers to sales staff in bulk, balanced by load, and handovers (SPEC §5).

Selections may hold thousands of customers, so the writes are set-based: a few statements per
chunk of customers, not a few per customer. They do what app.followups.services.assign does
for one customer, with the same audit entries. Nothing here commits: the caller commits the
whole change at once, or rolls it all back.
"""

import heapq
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Select, case, func, insert, select, update
from sqlalchemy.orm import selectinload

from .. import audit
from ..customers.services import Filters, filtered
from ..extensions import db
from ..followups import services as followups
from ..models import AuditEntry, Customer, FollowUp, FollowUpState, FollowUpStatus, Role, User, utcnow

CHUNK = 500  # customers per statement: well under SQLite's limit on bound parameters


class AssignmentError(Exception):
    """Why customers cannot be assigned; nothing is written."""


class UnknownCustomers(AssignmentError):
    def __init__(self, ids: list[int]):
        super().__init__(ids)
        self.ids = ids


class NotASalesPerson(AssignmentError):
    """Customers go to active sales staff only."""


class NoSalesStaff(AssignmentError):
    """There is nobody to balance the customers over."""


@dataclass(frozen=True)
class Load:
    """A person's customers and open follow-ups."""

    user_id: int
    name: str
    customers: int = 0
    open_tasks: int = 0


def loads_of(users: list[User]) -> list[Load]:
    ids = [user.id for user in users]
    owned = dict(
        db.session.execute(
            select(Customer.owner_id, func.count()).where(Customer.owner_id.in_(ids)).group_by(Customer.owner_id)
        ).all()
    )
    tasks = dict(
        db.session.execute(
            select(FollowUp.assignee_id, func.count())
            .where(FollowUp.assignee_id.in_(ids), FollowUp.status == FollowUpStatus.OPEN)
            .group_by(FollowUp.assignee_id)
        ).all()
    )
    return [Load(user.id, user.display_name, owned.get(user.id, 0), tasks.get(user.id, 0)) for user in users]


def sales_staff(excluding: User | None = None) -> list[User]:
    """The active sales staff: who customers may be given to."""
    query = select(User).where(User.role == Role.SALES, User.active).order_by(User.display_name, User.id)
    if excluding is not None:
        query = query.where(User.id != excluding.id)
    return list(db.session.scalars(query))


def sales_loads(excluding: User | None = None) -> list[Load]:
    return loads_of(sales_staff(excluding))


def balance(loads: list[Load], customers: list[tuple[int, bool]]) -> dict[int, list[int]]:
    """Who gets each customer: whoever has the fewest open follow-ups at that moment, then the
    fewest customers, then the name that sorts first.

    `customers` are (customer id, whether they bring an open follow-up), so the tasks this
    assignment opens or moves count as it goes. Returns the customer ids given to each user id.
    """
    if not loads:
        raise NoSalesStaff()
    heap = [(load.open_tasks, load.customers, load.name, load.user_id) for load in loads]
    heapq.heapify(heap)
    given: dict[int, list[int]] = {load.user_id: [] for load in loads}
    for customer_id, brings_task in customers:
        tasks, owned, name, user_id = heapq.heappop(heap)
        given[user_id].append(customer_id)
        heapq.heappush(heap, (tasks + brings_task, owned + 1, name, user_id))
    return given


# --- choosing customers ------------------------------------------------------------------------


def candidates(user: User, filters: Filters) -> Select:
    """The registry's filtered list, with each customer's open follow-up (its due date is shown)."""
    return filtered(user, filters).options(selectinload(Customer.open_follow_up))


def matching_ids(user: User, filters: Filters) -> list[int]:
    """Every customer the filters match, not only a page of them."""
    matching = filtered(user, filters).order_by(None).subquery()
    return list(db.session.scalars(select(matching.c.id)))


# --- assigning ---------------------------------------------------------------------------------


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


def _rows(ids: list[int]) -> list:
    """What assignment needs to know of each customer, locked until the transaction ends."""
    rows = []
    for start in range(0, len(ids), CHUNK):
        rows += db.session.execute(
            select(
                Customer.id,
                Customer.owner_id,
                Customer.follow_up_state,
                Customer.last_paid_at,
                Customer.cycle,
                _open_cycle().label("open_cycle"),
            )
            .where(Customer.id.in_(ids[start : start + CHUNK]))
            .with_for_update(of=Customer)
        ).all()
    return rows


def _brings_task(row) -> bool:
    """Whether the customer will have an open follow-up once someone owns them."""
    return row.open_cycle is not None or row.follow_up_state == FollowUpState.ACTIVE


def assign_many(customer_ids, owner: User | None, actor: User, now: datetime | None = None) -> Assigned:
    """Give the customers to `owner` (None: to nobody), as followups.assign does for one.

    Each open follow-up moves with its customer, or is cancelled when nobody owns them; a
    followed-up customer without one gets their first. Raises UnknownCustomers, before
    writing anything, if an id is not a customer's.
    """
    if owner is not None and not (owner.role == Role.SALES and owner.active):
        raise NotASalesPerson(owner.id)
    ids = sorted(set(customer_ids))
    rows = _rows(ids)
    missing = set(ids) - {row.id for row in rows}
    if missing:
        raise UnknownCustomers(sorted(missing))
    owner_id, now = (owner.id if owner else None), now or utcnow()
    changing = [row for row in rows if row.owner_id != owner_id]
    for start in range(0, len(changing), CHUNK):
        _write(changing[start : start + CHUNK], owner_id, actor, now)
    return Assigned(changed=len(changing), unchanged=len(rows) - len(changing))


def _write(rows: list, owner_id: int | None, actor: User, now: datetime) -> None:
    ids = [row.id for row in rows]
    entry = {"at": now, "actor_id": actor.id}
    entries = [
        entry
        | {
            "action": "customer.owner_changed",
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
    open_tasks = update(FollowUp).where(FollowUp.customer_id.in_(ids), FollowUp.status == FollowUpStatus.OPEN)
    if owner_id is None:
        db.session.execute(
            open_tasks.values(status=FollowUpStatus.CANCELLED).execution_options(synchronize_session=False)
        )
        entries += [
            entry | {"action": "follow_up.cancelled", "customer_id": row.id, "after": {"cycle": row.open_cycle}}
            for row in rows
            if row.open_cycle is not None
        ]
    else:
        db.session.execute(open_tasks.values(assignee_id=owner_id).execution_options(synchronize_session=False))
        if starting:
            entries += followups.insert_first_tasks(
                [(row.id, owner_id, row.last_paid_at, row.cycle) for row in starting], now, entry
            )
    db.session.execute(insert(AuditEntry), entries)


def _spread(rows: list, loads: list[Load], actor: User, now: datetime | None) -> list[tuple[Load, int]]:
    """Balance the customers over `loads`; returns how many each person got (those who got any)."""
    given = balance(loads, [(row.id, _brings_task(row)) for row in rows])
    result = []
    for load in loads:
        if given[load.user_id]:
            assign_many(given[load.user_id], db.session.get(User, load.user_id), actor, now)
            result.append((load, len(given[load.user_id])))
    return result


def auto_assign(actor: User, now: datetime | None = None) -> list[tuple[Load, int]]:
    """Give every unowned customer to the active sales staff, balanced by their open load."""
    ids = list(
        db.session.scalars(
            select(Customer.id).where(Customer.owner_id.is_(None)).order_by(Customer.id).with_for_update()
        )
    )
    if not ids:
        return []
    return _spread(_rows(ids), sales_loads(), actor, now)


# --- handing over a person's customers ------------------------------------------------------


class Handover(StrEnum):
    PERSON = "person"  # all to one sales person
    SPREAD = "spread"  # over the other sales staff, balanced by load
    UNASSIGN = "unassign"


def hand_over(
    user: User, how: Handover, to: User | None, actor: User, now: datetime | None = None
) -> list[tuple[Load | None, int]]:
    """Move all of `user`'s customers (their open follow-ups with them) before they leave.

    Returns how many customers each person got, if any; None stands for "nobody" (left unassigned).
    """
    ids = list(
        db.session.scalars(
            select(Customer.id).where(Customer.owner_id == user.id).order_by(Customer.id).with_for_update()
        )
    )
    if how == Handover.PERSON:
        if to is None or to.id == user.id:
            raise NotASalesPerson(to.id if to else None)
        assign_many(ids, to, actor, now)
        result = [(Load(to.id, to.display_name), len(ids))]
    elif how == Handover.SPREAD:
        result = _spread(_rows(ids), sales_loads(excluding=user), actor, now) if ids else []
    else:
        assign_many(ids, None, actor, now)
        result = [(None, len(ids))]
    _release_tasks(user, actor)
    audit.record(
        "user.handed_over",
        subject=f"user:{user.id}",
        actor=actor,
        after={
            "how": str(how),
            "customers": len(ids),
            "to": {str(load.user_id) if load else "none": count for load, count in result if count},
        },
    )
    return [(load, count) for load, count in result if count]


def _release_tasks(user: User, actor: User) -> None:
    """An open follow-up left with the user, on a customer they do not own, goes to its owner.

    Tasks follow their customer's owner, so this finds none unless the data say otherwise.
    """
    tasks = db.session.scalars(
        select(FollowUp).where(FollowUp.assignee_id == user.id, FollowUp.status == FollowUpStatus.OPEN)
    )
    for task in tasks:
        if task.customer.owner_id is not None:
            task.assignee_id = task.customer.owner_id
        else:
            task.status = FollowUpStatus.CANCELLED
            audit.record("follow_up.cancelled", customer_id=task.customer_id, after={"cycle": task.cycle}, actor=actor)

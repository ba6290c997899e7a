"""Assignment: the supervisor's tool for giving customers to sales staff in bulk, balanced by
load, and handing a leaving person's customers over (SPEC §5).

Every change of owner goes through app.followups.services.assign (the ownership rule: the open
follow-up moves with its customer). Nothing here commits: the caller commits the whole change
at once, or rolls it all back.
"""

import heapq
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Select, select
from sqlalchemy.orm import selectinload

from .. import audit_log
from ..accounts.services import Load, loads_of, sales_loads, sales_staff
from ..customers.services import Filters, filtered
from ..extensions import db
from ..followups import daily_figures
from ..followups import services as followups
from ..kept import kept
from ..models import AuditAction, Customer, FollowUp, FollowUpStatus, User
from ..redis import get_redis


class NoSalesStaff(followups.AssignmentError):
    """There is nobody to balance the customers over."""


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


# How long the page shows one count of the sales staff's loads (each reads every customer).
LOADS_SECONDS = 60
SHOWN_LOADS = "assignment:loads"  # their Redis key


def shown_loads(fresh: bool = False) -> tuple[list[Load], datetime]:
    """The active sales staff's loads as the page shows them, and when they were counted (naive
    UTC): at most LOADS_SECONDS ago, or now with `fresh` (after an assignment made on the page).
    Balancing never reads these: it counts (sales_loads)."""
    staff = sales_staff()

    def count() -> dict[str, list[int]]:
        return {str(load.user_id): [load.customers, load.open_tasks] for load in loads_of(staff)}

    counts, counted_at = kept(SHOWN_LOADS, LOADS_SECONDS, count, fresh)
    if any(str(user.id) not in counts for user in staff):  # someone joined the sales staff since
        counts, counted_at = kept(SHOWN_LOADS, LOADS_SECONDS, count, fresh=True)
    return [Load(user.id, user.display_name, *counts[str(user.id)]) for user in staff], counted_at


def forget_shown_loads() -> None:
    """The next page counts the loads again (after a handover, which changes them)."""
    get_redis().delete(SHOWN_LOADS)


# --- choosing customers ------------------------------------------------------------------------


def candidates(user: User, filters: Filters) -> Select:
    """The registry's filtered list, with each customer's open follow-up (its due date is shown)."""
    return filtered(user, filters).options(selectinload(Customer.open_follow_up))


def matching_ids(user: User, filters: Filters) -> list[int]:
    """Every customer the filters match, not only a page of them."""
    matching = filtered(user, filters).order_by(None).subquery()
    return list(db.session.scalars(select(matching.c.id)))


# --- balancing and handing over ------------------------------------------------------------


def _spread(rows: list, loads: list[Load], actor: User, now: datetime | None) -> list[tuple[Load, int]]:
    """Balance the customers over `loads`; returns how many each person got (those who got any)."""
    given = balance(loads, [(row.id, followups.brings_task(row)) for row in rows])
    result = []
    for load in loads:
        if given[load.user_id]:
            followups.assign(given[load.user_id], db.session.get(User, load.user_id), actor, now)
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
    return _spread(followups.owner_rows(ids), sales_loads(), actor, now)


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
            raise followups.NotASalesPerson(to.id if to else None)
        followups.assign(ids, to, actor, now)
        result = [(Load(to.id, to.display_name), len(ids))]
    elif how == Handover.SPREAD:
        result = _spread(followups.owner_rows(ids), sales_loads(excluding=user), actor, now) if ids else []
    else:
        followups.assign(ids, None, actor, now)
        result = [(None, len(ids))]
    _release_tasks(user, actor)
    audit_log.record(
        AuditAction.USER_HANDED_OVER,
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
        select(FollowUp)
        .where(FollowUp.assignee_id == user.id, FollowUp.status == FollowUpStatus.OPEN)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).all()
    before = [daily_figures.of(task) for task in tasks]
    for task in tasks:
        if task.customer.owner_id is not None:
            task.assignee_id = task.customer.owner_id
        else:
            task.status = FollowUpStatus.CANCELLED
            audit_log.record(
                AuditAction.FOLLOW_UP_CANCELLED, customer_id=task.customer_id, after={"cycle": task.cycle}, actor=actor
            )
    daily_figures.update(added=[daily_figures.of(task) for task in tasks], removed=before)

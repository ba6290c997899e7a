"""Each person's follow-up tasks counted per due day (FollowUpDay): what the follow-up audit
(核查) adds up, kept in the same transaction as the tasks it counts.

Whatever opens, completes, moves or cancels tasks says which tasks it stops counting (as they
were) and which it counts (as they are now) through `update`; that adds the difference to
the days concerned, in one statement. Adding rather than counting again keeps two
transactions that change one person's day at once both counted: each adds its own
difference under the row's lock, where a recount would see only what the other had
committed. The tasks a write changes are read locked (FOR UPDATE), or changed by a
conditional UPDATE, so that the difference is that of the rows it changed. `rebuild` counts
everything again from the tasks (`flask rebuild-follow-up-figures`; bench/generate.py after
its bulk inserts): whatever writes tasks other than through the services must call it.
"""

from collections import defaultdict
from collections.abc import Iterable
from datetime import date
from typing import NamedTuple

from sqlalchemy import Select, case, delete, func, insert, select
from sqlalchemy.dialects import postgresql, sqlite

from ..extensions import db
from ..models import FollowUp, FollowUpDay, FollowUpStatus, Outcome
from ..shop_calendar import week_of

COUNTS = ("due", "done", "on_time", "ordered", "days_late")


class Counted(NamedTuple):
    """What the figures need of one task: a FollowUp, a row of these columns, or values."""

    assignee_id: int
    due_on: date
    status: str = FollowUpStatus.OPEN
    days_late: int | None = None
    outcome: str | None = None


def of(task) -> Counted:
    return Counted(task.assignee_id, task.due_on, task.status, task.days_late, task.outcome)


def counts(task: Counted) -> tuple[int, ...]:
    """What one task adds to its person's day, in the order of COUNTS."""
    if task.status == FollowUpStatus.CANCELLED:
        return (0,) * len(COUNTS)
    if task.status == FollowUpStatus.DONE:
        on_time = task.days_late == 0
        return 1, 1, int(on_time), int(task.outcome == Outcome.ORDERED), task.days_late or 0
    return 1, 0, 0, 0, 0


def update(added: Iterable[Counted] = (), removed: Iterable[Counted] = ()) -> None:
    """Count the tasks `added` and stop counting the tasks `removed`, in one statement."""
    change: dict[tuple[date, int, date], list[int]] = defaultdict(lambda: [0] * len(COUNTS))
    for tasks, sign in ((added, 1), (removed, -1)):
        for task in tasks:
            figures = change[week_of(task.due_on), task.assignee_id, task.due_on]
            for n, value in enumerate(counts(task)):
                figures[n] += sign * value
    # In key order: two transactions then lock the rows they share in the same order.
    rows = [_row(day, person, figures) for (_, person, day), figures in sorted(change.items()) if any(figures)]
    if not rows:
        return
    dialect = db.session.get_bind().dialect.name
    upsert = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}[dialect](FollowUpDay)
    db.session.execute(
        upsert.on_conflict_do_update(
            index_elements=[FollowUpDay.week, FollowUpDay.assignee_id, FollowUpDay.due_on],
            set_={name: getattr(FollowUpDay, name) + getattr(upsert.excluded, name) for name in COUNTS},
        ),
        rows,
    )


def _row(day: date, person: int, figures) -> dict:
    return {"due_on": day, "assignee_id": person, "week": week_of(day), **dict(zip(COUNTS, figures))}


def from_tasks() -> Select:
    """The figures counted from the tasks themselves: due day, person, COUNTS."""
    done = FollowUp.status == FollowUpStatus.DONE
    return (
        select(
            FollowUp.due_on,
            FollowUp.assignee_id,
            func.count(),
            func.count(case((done, 1))),
            func.count(case((done & (FollowUp.days_late == 0), 1))),
            func.count(case((done & (FollowUp.outcome == Outcome.ORDERED), 1))),
            func.coalesce(func.sum(case((done, FollowUp.days_late))), 0),
        )
        .where(FollowUp.status != FollowUpStatus.CANCELLED)
        .group_by(FollowUp.due_on, FollowUp.assignee_id)
    )


def rebuild() -> int:
    """Count every task again (after writing tasks some other way than through the services)."""
    db.session.execute(delete(FollowUpDay))
    rows = [_row(day, person, figures) for day, person, *figures in db.session.execute(from_tasks())]
    if rows:
        db.session.execute(insert(FollowUpDay), rows)
    return len(rows)

"""The follow-up cycle rules (SPEC §5), as plain functions over plain values.

Nothing here touches the database or the request: app.followups.services applies the
decisions. All times are naive UTC; "today" is judged in the shop's time zone.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from ..models import Kind, Outcome  # stored values, defined with the tables
from ..shop_calendar import shop_date

CONVERTED = {Outcome.ORDERED}


class Bucket(StrEnum):
    OVERDUE = "overdue"
    TODAY = "today"
    THIS_WEEK = "this_week"
    LATER = "later"


@dataclass(frozen=True)
class CycleSettings:
    first_contact_days: int = 7  # a new prospect is contacted within this many days
    revisit_days: int = 30  # after an order, the next revisit
    retry_days: int = 15  # after an unconverted contact, the next cycle
    max_unconverted: int = 5  # consecutive unconverted cycles before the customer is lost

    @classmethod
    def from_config(cls, config) -> "CycleSettings":
        return cls(
            first_contact_days=config["FOLLOWUP_FIRST_CONTACT_DAYS"],
            revisit_days=config["FOLLOWUP_REVISIT_DAYS"],
            retry_days=config["FOLLOWUP_RETRY_DAYS"],
            max_unconverted=config["FOLLOWUP_MAX_UNCONVERTED"],
        )


@dataclass(frozen=True)
class Plan:
    """The task to open next."""

    cycle: int
    kind: Kind
    due_at: datetime


@dataclass(frozen=True)
class Decision:
    """What an outcome leads to."""

    next_task: Plan | None
    unconverted_streak: int
    lost: bool = False  # five unconverted cycles in a row: leaves the queue
    offer_blacklist: bool = False  # "do not contact": offer to blacklist the phone


def first_task(now: datetime, last_paid_at: datetime | None, lost: bool, s: CycleSettings, last_cycle: int = 0) -> Plan:
    """The task opened when a customer is assigned, or brought back by a supervisor (`lost`).

    `last_cycle` is the cycle the customer reached before (0 for a customer never followed up):
    the count goes on rather than starting again.
    """
    soon = now + timedelta(days=s.first_contact_days)
    if lost:
        kind = Kind.WIN_BACK
    elif last_paid_at is None and last_cycle == 0:
        kind = Kind.FIRST_CONTACT
    else:
        kind = Kind.REVISIT
    if last_paid_at is None or lost:
        return Plan(cycle=last_cycle + 1, kind=kind, due_at=soon)
    revisit = last_paid_at + timedelta(days=s.revisit_days)
    return Plan(cycle=last_cycle + 1, kind=kind, due_at=revisit if revisit > now else soon)


def after_outcome(outcome: Outcome, cycle: int, unconverted_streak: int, now: datetime, s: CycleSettings) -> Decision:
    """The next step after recording `outcome` on the task of cycle `cycle`."""
    if outcome == Outcome.DO_NOT_CONTACT:
        return Decision(next_task=None, unconverted_streak=unconverted_streak, offer_blacklist=True)
    if outcome in CONVERTED:
        return Decision(Plan(cycle + 1, Kind.REVISIT, now + timedelta(days=s.revisit_days)), unconverted_streak=0)
    streak = unconverted_streak + 1
    if streak >= s.max_unconverted:
        return Decision(next_task=None, unconverted_streak=streak, lost=True)
    return Decision(Plan(cycle + 1, Kind.REVISIT, now + timedelta(days=s.retry_days)), unconverted_streak=streak)


def bucket(due_at: datetime, now: datetime, zone: ZoneInfo) -> Bucket:
    """Where a task stands in the queue, judged by the shop's calendar."""
    due, today = shop_date(due_at, zone), shop_date(now, zone)
    if due < today:
        return Bucket.OVERDUE
    if due == today:
        return Bucket.TODAY
    if due <= today + timedelta(days=6):
        return Bucket.THIS_WEEK
    return Bucket.LATER


def days_late(due_at: datetime, done_at: datetime, zone: ZoneInfo) -> int:
    """Whole shop-calendar days between the due day and the day it was done (0 if on time)."""
    return max(0, (shop_date(done_at, zone) - shop_date(due_at, zone)).days)

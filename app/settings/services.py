"""What the settings pages show: the shop's windows beside what each kind of message gets."""

from dataclasses import dataclass
from datetime import datetime

from flask import current_app

from ..sending import settings as sending_settings
from ..sending import windows
from ..sending.providers import provider
from ..sending.windows import Curfew, Cut, NoSendWindow, Window


def active_provider() -> str:
    return current_app.config["SMS_PROVIDER"]


def active_curfew(name: str | None = None) -> Curfew:
    """The hours in which provider `name` (the active one by default) forbids marketing SMS."""
    return provider(name).marketing_curfew


@dataclass(frozen=True)
class Day:
    """One weekday of the page's table: the windows of each kind of message, and the cuts."""

    weekday: int
    service: tuple[Window, ...]
    marketing: tuple[Window, ...]
    cuts: tuple[Cut, ...]


def days(saved: sending_settings.Settings, curfew: Curfew) -> list[Day]:
    marketing = windows.effective(saved.windows, curfew)
    cuts = windows.cuts(saved.windows, marketing)
    return [
        Day(day, saved.windows.get(day, ()), marketing[day], tuple(cut for cut in cuts if cut.weekday == day))
        for day in windows.WEEKDAYS
    ]


def leaves_at(kind: str, queued: datetime, curfew: Curfew) -> datetime | None:
    """When a message of `kind` queued at the naive-UTC `queued` leaves (naive UTC); None: never."""
    try:
        return sending_settings.leaves_at(kind, queued, curfew)
    except NoSendWindow:
        return None

"""The shop's calendar: its time zone, its days, and what "today" is there.

Times are stored as naive UTC and shown in the shop's zone (SPEC §9). A follow-up is due on a
shop day, "today" and "overdue" are judged by the shop's calendar, and a nightly job runs at a
shop time: every such question is answered here. The functions that take a `zone` are pure;
the others read the zone from the app's settings.
"""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import current_app

from .models import utcnow


def shop_zone() -> ZoneInfo:
    return ZoneInfo(current_app.config["SHOP_TIMEZONE"])


def to_shop_time(value: datetime) -> datetime:
    """A stored naive-UTC time as an aware time in the shop's zone."""
    return value.replace(tzinfo=UTC).astimezone(shop_zone())


def shop_time_to_utc(value: datetime) -> datetime:
    """A naive time read in the shop's zone (an imported report, a chosen day) as naive UTC."""
    return value.replace(tzinfo=shop_zone()).astimezone(UTC).replace(tzinfo=None)


def shop_date(moment: datetime, zone: ZoneInfo) -> date:
    """The shop day a naive-UTC moment falls on."""
    return moment.replace(tzinfo=UTC).astimezone(zone).date()


def due_on(moment: datetime) -> date:
    """The shop day of a naive-UTC moment: the day a task due then is due on."""
    return shop_date(moment, shop_zone())


def today(now: datetime | None = None) -> date:
    return due_on(now or utcnow())


def week_of(day: date) -> date:
    """The Monday that starts the shop week holding `day`."""
    return day - timedelta(days=day.weekday())


def day_start(day: date) -> datetime:
    """The naive-UTC moment the shop day `day` begins."""
    return shop_time_to_utc(datetime.combine(day, time()))


def next_time_of_day(now: datetime, at: str) -> datetime:
    """The next occurrence of `at` (HH:MM, shop time) after the naive-UTC `now`, as naive UTC."""
    local_now = to_shop_time(now)
    hour, minute = map(int, at.split(":"))
    run = datetime.combine(local_now.date(), time(hour, minute))
    if run <= local_now.replace(tzinfo=None):
        run += timedelta(days=1)
    return shop_time_to_utc(run)

"""Display helpers: shop-time-zone times, local phone form, money."""

from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from flask import current_app

from . import phones


def shop_zone() -> ZoneInfo:
    return ZoneInfo(current_app.config["SHOP_TIMEZONE"])


def to_shop_time(value: datetime) -> datetime:
    """A stored naive-UTC time as an aware time in the shop's zone."""
    return value.replace(tzinfo=UTC).astimezone(shop_zone())


def shop_time_to_utc(value: datetime) -> datetime:
    """A naive time read in the shop's zone (an imported report) as naive UTC."""
    return value.replace(tzinfo=shop_zone()).astimezone(UTC).replace(tzinfo=None)


def localtime(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return to_shop_time(value).strftime(fmt) if value else ""


def localdate(value: datetime | date | None) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return localtime(value, "%Y-%m-%d")
    return value.isoformat()


def display_phone(e164: str | None) -> str:
    return phones.display(e164, current_app.config["PHONE_REGION"]) if e164 else ""


def money(value: Decimal | None) -> str:
    return "" if value is None else f"¥{value:,.2f}"

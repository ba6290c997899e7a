"""What templates have at hand besides their context: filters and globals, registered in one place."""

from datetime import date, datetime
from decimal import Decimal
from urllib.parse import urlencode

from flask import Flask, current_app, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _

from . import phones
from .access import nav_items, sms_tabs
from .labels import PROVIDER_LABELS, blacklist_source_label, follow_up_state_label
from .shop_calendar import to_shop_time


def localtime(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A stored (naive UTC) time as the shop's clock shows it."""
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


def words(items) -> str:
    """Items listed as the reader's language lists them (、 in Chinese, a comma in English)."""
    # NOTE: a list separator: "、" in Chinese.
    return _(", ").join(str(item) for item in items)


def account(platform_nickname: str, platforms: dict) -> str:
    """A platform account as stored in the change log ("taobao:小猫") as people read it."""
    platform, _sep, nickname = platform_nickname.partition(":")
    return f"{platforms.get(platform, platform)} {nickname}"


def translated(labels: dict) -> dict:
    """A dict of lazy labels with each one translated (a lazy one translates each time it is shown)."""
    return {key: str(label) for key, label in labels.items()}


def url_with_query(endpoint: str, **values) -> str:
    """url_for(endpoint, **values), keeping the rest of this page's query string.

    A value of None drops that name. The query's names are never url_for's own arguments:
    anyone can send ?endpoint= or ?_external=, and url_for would fail on them.
    """
    query = request.args.copy()
    for name in values:
        query.poplist(name)
    url = url_for(endpoint, **{name: value for name, value in values.items() if value is not None})
    rest = urlencode(list(query.items(multi=True)))
    return f"{url}{'&' if '?' in url else '?'}{rest}" if rest else url


def register(app: Flask) -> None:
    app.jinja_env.filters.update(
        localtime=localtime, localdate=localdate, phone=display_phone, money=money, words=words, account=account
    )
    app.jinja_env.globals.update(
        follow_up_state=follow_up_state_label,
        blacklist_source=blacklist_source_label,
        provider_label=lambda name: PROVIDER_LABELS.get(name, name),
        url_with_query=url_with_query,
        translated=translated,
    )
    app.context_processor(lambda: {"nav_items": nav_items, "sms_tabs": sms_tabs, "get_locale": get_locale})

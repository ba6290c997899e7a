"""Reading the providers' webhook requests: the adapters' shared checks.

A webhook is authenticated before its body is read. A body that is not what the provider
sends (not JSON, not an array of objects, a field of the wrong type, text PostgreSQL cannot
store) is refused whole with 400, so nothing of it is recorded; a well-formed item that names
nothing of ours (an unknown message, a phone that is no mobile number) is left for the service
to ignore, so one odd item never makes the provider push the whole batch again.
"""

import hmac
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from werkzeug import Request

from ...params import FIRST_DAY, LAST_DAY, is_id
from ...phones import InvalidPhone, normalize
from . import WebhookRefused

REF_LENGTH = 64  # messages.provider_ref, sms_replies.provider_ref
ERROR_LENGTH = 300  # messages.error


def check_path_secret(request: Request, configured: str | None, provider: str) -> None:
    """The secret in the webhook's path (`<secret>` of the route) is the configured one.

    No secret configured: the provider's webhooks do not exist (404). The secret is never
    written into a log or an answer.
    """
    if not configured:
        raise WebhookRefused(404, f"{provider} webhooks are not configured")
    given = (getattr(request, "view_args", None) or {}).get("secret") or ""
    # Bytes: compare_digest refuses str holding anything but ASCII.
    if not hmac.compare_digest(given.encode("utf-8", "replace"), configured.encode("utf-8")):
        raise WebhookRefused(403, "wrong secret")


def json_objects(request: Request) -> list[Mapping]:
    """The body as a JSON array of objects."""
    try:
        body = json.loads(request.get_data(cache=False))
    except (ValueError, RecursionError) as error:  # not UTF-8, not JSON, nested too deep
        raise WebhookRefused(400, "the body is not JSON") from error
    if not isinstance(body, list) or not all(isinstance(item, dict) for item in body):
        raise WebhookRefused(400, "the body is not a JSON array of objects")
    return body


def text(value, field: str, *, required: bool = True, max_length: int | None = None) -> str | None:
    """A string field: one the database can store (no NUL, no lone surrogate)."""
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise WebhookRefused(400, f"{field} is not text")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as error:
        raise WebhookRefused(400, f"{field} is not text") from error
    if "\x00" in value:
        raise WebhookRefused(400, f"{field} is not text")
    return value[:max_length] if max_length else value


def ref(value, field: str, *, required: bool = False) -> str | None:
    """A provider's id of something: text or a number, at most REF_LENGTH characters; empty is none."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    value = text(value, field, required=required)
    if value is not None and len(value) > REF_LENGTH:
        raise WebhookRefused(400, f"{field} is too long")
    return value or None


def flag(value, field: str) -> bool:
    if not isinstance(value, bool):
        raise WebhookRefused(400, f"{field} is not true or false")
    return value


def message_id(value) -> int | None:
    """Our id of a message as a provider echoes it (a number, or digits); None when it can be
    no id of ours."""
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 12:
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and is_id(value):
        return value
    return None


def error_text(*parts) -> str | None:
    """The provider's words for a failure, as messages.error holds them."""
    words = " ".join(str(part) for part in parts if part not in (None, ""))
    return words[:ERROR_LENGTH] or None


def phone(raw: str | None, region: str) -> str | None:
    """E.164 of a number a provider reports; None when it is no mobile number."""
    if not raw:
        return None
    for candidate in (raw, f"+{raw}" if raw.isdigit() else None):
        if candidate:
            try:
                return normalize(candidate, region)
            except InvalidPhone:
                pass
    return None


def local_time(value, zone: str) -> datetime | None:
    """A "YYYY-MM-DD HH:MM:SS" time in `zone` as naive UTC; None when it is not one or lies
    outside the days the portal handles (years 1 and 9999 overflow in UTC)."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.strptime(value.strip(), "%Y-%m-%d %H:%M:%S")
    except ValueError:
        return None
    if not FIRST_DAY <= moment.date() <= LAST_DAY:
        return None
    return moment.replace(tzinfo=ZoneInfo(zone)).astimezone(UTC).replace(tzinfo=None)
